/**
 * `serve()`: the whole of `gpux serve` as one call — resolve the model arguments, load and warm up their Workers,
 * merge every setting from options over gpux.yml `serving:` over the defaults, bind the address and answer the gpux,
 * KServe v2, OpenAI and Ollama APIs — returning a handle that stops it. It exists so that a program can serve models
 * in-process exactly as the CLI does (the CLI is a thin layer of flags and printing over this function), and so that
 * a test can start a real server without a subprocess. Nothing is printed: loading, the access log and state changes
 * arrive through `onEvent`.
 *
 * @module
 */
import type { EnvReader } from "../environment.ts";
import { InputError } from "../errors.ts";
import type { GpuxConfig } from "../config/gpux_config.ts";
import type { ProviderFailure } from "../runtime/providers.ts";
import type { SessionOptions } from "../runtime/session.ts";
import { parseCorsOrigins } from "./cors_policy.ts";
import { checkHostSyntax, listenError, probeListen } from "./listen_address.ts";
import { loadServedModels, type LoadServedModelsOptions, planServedModels } from "./load_models.ts";
import { defaultMemoryBudgetMb } from "./memory_budget.ts";
import { ServerMetrics } from "./metrics.ts";
import type { PoolEvent } from "./model_pool.ts";
import {
  type AccessLogEntry,
  type ModelCatalog,
  type ModelPuller,
  type ServedModel,
  type ServerEvent,
  startServer,
} from "./server.ts";

export type { AccessLogEntry, ModelPuller, PoolEvent, ServerEvent };

/** gpux.yml `serving:`, as parsed. */
type ServingYml = NonNullable<GpuxConfig["serving"]>;

/**
 * Models served on first use, by name (`gpux serve` with no model argument serves the Hub cache this way): the names
 * a request may use, and the model argument each one loads. serve never scans a cache itself; the caller says what
 * there is.
 */
export interface ModelDirectory {
  /** Every model that may be loaded: its served name and what the user would pull (`org/name`). */
  list(): Promise<{ name: string; spec: string }[]>;
  /** The model argument (`NAME=MODEL`, or a path) to load for a request's model name; undefined when unknown. */
  find(name: string): Promise<string | undefined>;
}

/** One event of {@linkcode serve}: a model starting to load, a request answered, or a change of state. */
export type ServeEvent = { type: "loading"; name: string; spec: string } | ServerEvent;

/**
 * Options of {@linkcode serve}. Every limit left out comes from the first model's gpux.yml `serving:` that sets it,
 * else gpux's default — as `gpux serve`'s flags do.
 */
export interface ServeOptions {
  /**
   * The models, as `gpux serve` takes them: a cached Hub id `org/name[@rev]`, an `.onnx` file, a folder or a
   * gpux.yml, each optionally named `NAME=MODEL`. Loaded (and warmed up) before `serve` resolves.
   */
  models?: readonly string[];
  /** Models loaded on the first request that names them, and unloaded after `keepAliveMs` idle. */
  directory?: ModelDirectory;
  /** Address to bind (default: gpux.yml `serving.host`, else 127.0.0.1). */
  host?: string;
  /** Port; 0 picks a free one, which the handle reports (default: gpux.yml `serving.port`, else 8080). */
  port?: number;
  /** Require `Authorization: Bearer <apiKey>` on every endpoint but health (none when undefined). */
  apiKey?: string;
  /** Origins CORS allows: `*`, one origin, or several (off when undefined; default gpux.yml `serving.cors`). */
  cors?: string | readonly string[];
  /** Session settings of every model: provider, device, graph optimisation, threads. */
  session?: Omit<SessionOptions, "model">;
  /** ONNX variant of Hub models and folders (fp32, fp16, quantized, …). */
  variant?: string;
  /** Hub cache folder (default HF_HUB_CACHE, else $HF_HOME/hub, read through `env`). */
  cacheDir?: string;
  /** Where HF_HUB_CACHE and friends are read (default: the process environment). */
  env?: EnvReader;
  /** Cancels resolving and loading the models. */
  signal?: AbortSignal;
  /** Workers per model (default: 1 on a GPU, half the cores on cpu). */
  workers?: number;
  /** Most requests stacked into one run, for models with a dynamic batch dimension; 1 = off. */
  maxBatch?: number;
  /** How long a partial batch waits for more requests, ms. */
  batchDelayMs?: number;
  /** Most requests waiting per model; more get 503. */
  maxQueue?: number;
  /** Per-request limit, ms; later answers are 504 (0 = none). */
  timeoutMs?: number;
  /** Text-generation models: sequences generated at once, one Worker each (default 1). */
  parallel?: number;
  /** Text-generation models: most new tokens a request may ask for (default 4096). */
  maxTokensLimit?: number;
  /** Largest request body, MiB (default 16); larger ones get 413. */
  maxBodyMb?: number;
  /** Memory budget of the server, MiB (default: half the machine's memory). */
  maxMemoryMb?: number;
  /** Most texts, images, audio clips or zero-shot rows in one request. */
  maxBatchItems?: number;
  /** Most characters of text in one request. */
  maxTextChars?: number;
  /** Largest image (width × height, from its header). */
  maxImagePixels?: number;
  /** Longest audio clip, seconds, from its header. */
  maxAudioSeconds?: number;
  /** Most elements of one input tensor. */
  maxTensorElements?: number;
  /** With a `directory`: how long an idle model stays loaded, ms (default 5 minutes; -1: forever). */
  keepAliveMs?: number;
  /** Pulls for `POST /api/pull` (the endpoint answers 403 without one). */
  pull?: ModelPuller;
  /** Whether `GET /` answers the playground page (default gpux.yml `serving.ui`, else true; `--no-ui` is false). */
  ui?: boolean;
  /** Loading, the access log and state changes (nothing is printed). */
  onEvent?: (event: ServeEvent) => void;
}

/** A served model, as it runs: what the CLI's ready line and warnings say. */
export interface ServedModelInfo {
  /** Its name in URLs (`/v2/models/{name}`, the OpenAI `model` field). */
  name: string;
  /** What it was loaded from. */
  spec: string;
  /** The execution provider its sessions run on. */
  provider: string;
  /** The ONNX variant loaded, when there was a choice. */
  variant?: string;
  /** Its Workers. */
  workers: number;
  /** Whether requests are stacked into batched runs. */
  batching: boolean;
  /** Why batching is off, when it is. */
  batchingReason?: string;
  /** Its task, when it has a pipeline. */
  task?: string;
  /** Providers tried before `provider`, and why each failed. */
  fallbacks: ProviderFailure[];
  /** Why its pre-processing did not load (it then takes tensors only). */
  pipelineError?: string;
  /** Why its warm-up on synthesised inputs failed (it then starts cold). */
  warmupError?: string;
}

/** A running server, from {@linkcode serve}. `await using` shuts it down at the end of the scope. */
export interface GpuxServer extends AsyncDisposable {
  /** `http://host:port`, the address bound. */
  url: string;
  /** The bound address. */
  host: string;
  /** The bound port (the one picked for port 0). */
  port: number;
  /** The models loaded at start. */
  models: ServedModelInfo[];
  /**
   * Stops accepting, lets requests in flight finish (at most `graceMs`; default the longest model timeout, at least
   * 1 s), then releases every session and Worker. Safe to call twice.
   */
  shutdown(graceMs?: number): Promise<void>;
  /** Resolves once the server has stopped. */
  finished: Promise<void>;
}

/**
 * Starts a server on the given models and resolves once it listens (the models loaded and warmed up by then).
 *
 * @example
 * ```ts
 * import { serve } from "jsr:@gpux/gpux/serve";
 * await using server = await serve({ models: ["sentiment=./models/sentiment"], port: 0 });
 * console.log(server.models[0].name, server.models[0].task); // prints: sentiment text-classification
 * const answer = await fetch(`${server.url}/models/sentiment/predict`, {
 *   method: "POST",
 *   body: JSON.stringify({ text: "I love this" }),
 * });
 * console.log(await answer.json()); // prints: { model: "sentiment", task: "text-classification", predictions: … }
 * ```
 *
 * @throws {InputError} a malformed `NAME=MODEL`, two models with one name, an empty `apiKey`, a bad host or CORS
 * origin (exit 2).
 * @throws {NotFoundError} a model that is not there (exit 3).
 * @throws {GpuxError} the address is taken or not allowed (`listenError`'s errors).
 */
export async function serve(options: ServeOptions = {}): Promise<GpuxServer> {
  if (options.apiKey !== undefined && options.apiKey === "") {
    throw new InputError("the API key is empty", { hint: "give a non-empty key, or none to serve without one" });
  }
  const specs = options.models ?? [];
  const planOptions = {
    ...(options.variant ? { variant: options.variant } : {}),
    ...(options.session?.provider ? { provider: options.session.provider } : {}),
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const planned = await planServedModels(specs, planOptions);
  const yml = planned.map((p) => p.resolved.config?.serving ?? {});
  // a setting from the options, else from the first gpux.yml that sets it
  const fromYml = <K extends keyof ServingYml>(key: K): ServingYml[K] | undefined =>
    yml.find((s) => s[key] !== undefined && s[key] !== "")?.[key];
  const host = options.host ?? fromYml("host") ?? "127.0.0.1";
  const port = options.port ?? fromYml("port") ?? 8080;
  const maxBodyMb = options.maxBodyMb ?? fromYml("maxBodyMb") ?? 16;
  const maxMemoryMb = options.maxMemoryMb ?? fromYml("maxMemoryMb") ?? defaultMemoryBudgetMb();
  const maxAudioSeconds = options.maxAudioSeconds ?? fromYml("maxAudioSeconds");
  const maxBatchItems = options.maxBatchItems ?? fromYml("maxBatchItems");
  const maxTextChars = options.maxTextChars ?? fromYml("maxTextChars");
  const maxImagePixels = options.maxImagePixels ?? fromYml("maxImagePixels");
  const maxTensorElements = options.maxTensorElements ?? fromYml("maxTensorElements");
  const cors = options.cors ?? fromYml("cors");
  const ui = options.ui ?? fromYml("ui") ?? true;
  checkHostSyntax(host);
  // a bad origin, a taken port or a wrong address is reported before minutes of model loading
  if (cors !== undefined) parseCorsOrigins(typeof cors === "string" ? cors : cors.join(","));
  probeListen(host, port);
  const emit = (event: ServeEvent) => options.onEvent?.(event);
  const metrics = new ServerMetrics();
  const loadOptions: LoadServedModelsOptions = {
    ...(options.session ? { session: options.session } : {}),
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.maxBatch !== undefined ? { maxBatch: options.maxBatch } : {}),
    ...(options.batchDelayMs !== undefined ? { batchDelayMs: options.batchDelayMs } : {}),
    ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(maxAudioSeconds !== undefined ? { maxAudioSeconds } : {}),
    ...(options.parallel !== undefined ? { parallel: options.parallel } : {}),
    metrics,
    onEvent: emit,
    onLoading: (name, spec) => emit({ type: "loading", name, spec }),
    ...(options.variant ? { variant: options.variant } : {}),
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
  };
  const models = await loadServedModels(planned, loadOptions);
  const directory = options.directory;
  const catalog: ModelCatalog | undefined = directory
    ? {
      list: () => directory.list(),
      async load(name) {
        const arg = await directory.find(name);
        if (arg === undefined) return undefined;
        const [model] = await loadServedModels(await planServedModels([arg], planOptions), loadOptions);
        return model;
      },
    }
    : undefined;
  let server;
  try {
    server = await startServer({
      models,
      host,
      port,
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
      ...(cors !== undefined ? { cors } : {}),
      maxBodyBytes: Math.round(maxBodyMb * 1024 * 1024),
      limits: {
        ...(maxBatchItems !== undefined ? { maxBatchItems } : {}),
        ...(maxTextChars !== undefined ? { maxTextChars } : {}),
        ...(maxImagePixels !== undefined ? { maxImagePixels } : {}),
        ...(maxAudioSeconds !== undefined ? { maxAudioSeconds } : {}),
        ...(maxTensorElements !== undefined ? { maxTensorElements } : {}),
      },
      ...(maxMemoryMb !== undefined ? { maxMemoryBytes: maxMemoryMb * 1024 * 1024 } : {}),
      ...(options.maxTokensLimit !== undefined ? { maxTokensLimit: options.maxTokensLimit } : {}),
      ...(catalog ? { catalog } : {}),
      ...(options.pull ? { pull: options.pull } : {}),
      ...(options.keepAliveMs !== undefined ? { keepAliveMs: options.keepAliveMs } : {}),
      ui,
      metrics,
      onEvent: emit,
    });
  } catch (error) {
    await Promise.all(models.map((m) => m.pool.close()));
    throw listenError(error, host, port);
  }
  const running = server;
  const defaultGrace = Math.max(1000, ...models.map((m) => m.timeoutMs || 30000));
  const shutdown = (graceMs: number = defaultGrace) => running.shutdown(graceMs);
  return {
    url: running.url,
    host: running.host,
    port: running.port,
    models: models.map(describe),
    finished: running.finished,
    shutdown,
    [Symbol.asyncDispose]: () => shutdown(),
  };
}

/** What a loaded model is, for the handle. */
function describe(m: ServedModel): ServedModelInfo {
  const pool = m.pool;
  const loaded = pool.loaded as { task?: string; pipelineError?: string; warmupError?: string };
  return {
    name: m.name,
    spec: m.spec,
    provider: pool.provider,
    ...(pool.model?.variant ? { variant: pool.model.variant } : {}),
    workers: pool.workers,
    batching: pool.batching,
    ...(pool.batchingOff ? { batchingReason: pool.batchingOff } : {}),
    ...(loaded.task ? { task: loaded.task } : {}),
    fallbacks: pool.fallbacks,
    ...(loaded.pipelineError ? { pipelineError: loaded.pipelineError } : {}),
    ...(loaded.warmupError ? { warmupError: loaded.warmupError } : {}),
  };
}
