/**
 * What every route handler of `gpux serve` shares, in one object instead of closure variables: the served
 * models, the metrics, the request limits, the memory budget, the JSON codec Worker, the drain flag and the
 * streams still being written. Handlers get it through their {@linkcode RouteContext}.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { PullProgressEvent } from "../vocabulary/progress_events.ts";
import { type CodecCall, runCodec } from "./codec_calls.ts";
import { JsonCodec } from "./json_codec.ts";
import { REQUEST_LIMIT_DEFAULTS, type RequestLimits } from "./request_limits.ts";
import { bodyCost, MemoryBudget, type Reservation } from "./memory_budget.ts";
import { Gauge, ServerMetrics } from "./metrics.ts";
import type { ModelPool, PoolEvent } from "./model_pool.ts";
import type { GenerationPool } from "./generation_pool.ts";
import { readBody, readBodyBytes } from "./request_body.ts";
import { RouteNotFoundError, ShuttingDownError } from "./serve_errors.ts";

/** One model as the server serves it. */
export interface ServedModel {
  /** Served name (in URLs). */
  name: string;
  /** What the user typed (`acme/model`, `./model.onnx`). */
  spec: string;
  /** Its workers: sessions (tensors and task pipelines) or text generators. */
  pool: ModelPool | GenerationPool;
  /** Milliseconds a request may take (0 = no limit). */
  timeoutMs: number;
}

/** One request, as the access log shows it. */
export interface AccessLogEntry {
  /** HTTP method. */
  method: string;
  /** The path asked for (trailing slashes removed). */
  path: string;
  /** HTTP status answered. */
  status: number;
  /** Milliseconds from arrival to response. */
  ms: number;
  /** Served model, when the route names one. */
  model?: string;
  /** Requests in the model run that answered it. */
  batch?: number;
  /** The error message for a 4xx/5xx. */
  error?: string;
}

/** What the server reports. */
export type ServerEvent =
  | { type: "request"; entry: AccessLogEntry }
  | { type: "draining"; pending: number }
  | { type: "stopped" }
  | PoolEvent;

/**
 * Models loaded on first use (`gpux serve` with no model argument serves the whole cache): the names a request may
 * use, and how to load one. The CLI builds it over the Hub cache; serve never reads the cache itself.
 */
export interface ModelCatalog {
  /** Every model that can be loaded, by served name, with what the user would pull. */
  list(): Promise<{ name: string; spec: string }[]>;
  /** Loads the model called `name`; undefined when no cached model has that name. */
  load(name: string): Promise<ServedModel | undefined>;
}

/**
 * Pulls a model into the cache for `POST /api/pull` (`--allow-pull`), reporting the pull's progress events. The CLI
 * builds it over the registry; serve never downloads by itself.
 */
export type ModelPuller = (
  model: string,
  onProgress: (event: PullProgressEvent) => void,
  signal: AbortSignal,
) => Promise<void>;

/** How long a model loaded on demand stays loaded after its last request, by default (Ollama's 5 minutes). */
export const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;

/** What {@linkcode ServerState} is built from (the server's options that handlers need). */
export interface ServerStateOptions {
  models: ServedModel[];
  maxBodyBytes?: number;
  limits?: Partial<RequestLimits>;
  maxMemoryBytes?: number;
  metrics?: ServerMetrics;
  onEvent?: (event: ServerEvent) => void;
  /** Largest `max_tokens` a generation request may ask for (default 4096). */
  maxTokensLimit?: number;
  /** Models loaded on first use, when the server was started without a model list. */
  catalog?: ModelCatalog;
  /** How long an idle model loaded on demand stays loaded (default {@linkcode DEFAULT_KEEP_ALIVE_MS}; -1: forever). */
  keepAliveMs?: number;
  /** Pulls for `POST /api/pull` (off when undefined). */
  pull?: ModelPuller;
}

/** Default of {@linkcode ServerStateOptions.maxTokensLimit}. */
export const DEFAULT_MAX_TOKENS_LIMIT = 4096;

/**
 * Bodies from this size, and answers from this many values, go to the codec Worker when the server is busy
 * (measured: an MLP answering 1024 floats at 64 connections, /health p50 12 ms → 1 ms, and 15% more req/s,
 * once answers of 1024 values were printed in the codec rather than on the HTTP thread).
 */
export const OFFLOAD_BYTES = 4 * 1024;
/** Answers from this many values are printed in the codec Worker on a busy server. */
export const OFFLOAD_VALUES = 512;
/**
 * Bodies from this size are parsed in the codec Worker even on an idle server (16 MiB of JSON holds a thread for
 * a few hundred ms), and answers from this many values are always streamed from it (answer_stream.ts): printed a
 * chunk at a time off the HTTP thread, never whole in memory (tens of millions of floats printed inline held
 * /health for seconds and left gigabytes behind).
 */
export const ALWAYS_OFFLOAD_BYTES = 1024 * 1024;
/** Answers from this many values are streamed from the codec Worker. */
export const STREAM_VALUES = 64 * 1024;

/** The state every handler shares. */
export class ServerState {
  /** Served models by name. */
  readonly models: Map<string, ServedModel>;
  /** The models in the order given. */
  readonly list: ServedModel[];
  /** Metrics. */
  readonly metrics: ServerMetrics;
  /** Request bounds. */
  readonly limits: RequestLimits;
  /** Largest body in bytes. */
  readonly maxBody: number;
  /** Largest `max_tokens` of a generation. */
  readonly maxTokensLimit: number;
  /** The memory budget, when there is one. */
  readonly budget?: MemoryBudget;
  /** The JSON codec Worker. */
  readonly codec = new JsonCodec();
  /** Reports events. */
  readonly emit: (event: ServerEvent) => void;
  /** When the server started (for uptime and Ollama's timings). */
  readonly started = Date.now();
  /** True once the drain has begun: new work answers 503. */
  draining = false;
  /** The catalog of models loaded on demand, if any. */
  readonly catalog?: ModelCatalog;
  /** Pulls for `POST /api/pull`, when `--allow-pull` allows them. */
  readonly pull?: ModelPuller;
  /** Default keep-alive of models loaded on demand. */
  readonly keepAliveMs: number;
  /** When each model loaded on demand unloads (ms since the epoch; Infinity: never). */
  readonly expiry = new Map<string, number>();
  #loading = new Map<string, Promise<ServedModel>>();
  #onDemand = new Set<ServedModel>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #active = 0;
  #idleWaiters: (() => void)[] = [];

  /** @throws {InputError} the memory budget leaves less than one body once the models are loaded. */
  constructor(options: ServerStateOptions) {
    this.metrics = options.metrics ?? new ServerMetrics();
    this.list = options.models;
    this.models = new Map(options.models.map((m) => [m.name, m]));
    this.maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
    this.maxTokensLimit = options.maxTokensLimit ?? DEFAULT_MAX_TOKENS_LIMIT;
    this.emit = options.onEvent ?? (() => {});
    this.limits = { ...REQUEST_LIMIT_DEFAULTS, ...options.limits };
    if (options.maxMemoryBytes !== undefined) {
      this.budget = new MemoryBudget(options.maxMemoryBytes, Deno.memoryUsage().rss);
    }
    const budget = this.budget;
    if (budget && budget.capacity < this.maxBody) {
      const mb = (n: number) => `${Math.ceil(n / 1024 / 1024)} MB`;
      throw new InputError(
        `the memory budget of ${mb(budget.limitBytes)} leaves ${
          mb(budget.capacity)
        } for requests once the models are loaded (${mb(budget.baselineBytes)}), less than one request body`,
        { hint: "start the server with a larger --max-memory-mb (or leave it out: half the machine's memory)" },
      );
    }
    if (budget) {
      this.metrics.addGauge(
        new Gauge("gpux_memory_budget_bytes", "The server's memory budget (--max-memory-mb).", (g) => {
          g.set({}, budget.limitBytes);
        }),
      );
      this.metrics.addGauge(
        new Gauge("gpux_memory_reserved_bytes", "Memory reserved by requests in flight against the budget.", (g) => {
          g.set({}, budget.reserved);
        }),
      );
    }
    this.catalog = options.catalog;
    this.pull = options.pull;
    this.keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
    if (this.catalog) {
      const sweeper = setInterval(() => void this.#sweep(), 1000);
      Deno.unrefTimer(sweeper);
      this.#sweeper = sweeper;
    }
    for (const m of options.models) this.#watch(m);
  }

  #watch(m: ServedModel): void {
    this.metrics.addModel({
      name: m.name,
      provider: m.pool.provider,
      variant: m.pool.model?.variant ?? "",
      queued: () => m.pool.queued,
      workers: () => m.pool.workers,
      inFlight: () => m.pool.pending,
    });
  }

  /**
   * The model called `name`, loading it from the catalog on first use; `keepAliveMs` (the request's `keep_alive`)
   * sets how long it stays loaded once idle.
   *
   * @throws {RouteNotFoundError} no such model is served or cached (404 with the `gpux pull` to run).
   */
  async acquire(name: string, keepAliveMs?: number): Promise<ServedModel> {
    let m = this.models.get(name);
    if (!m && this.catalog) {
      let loading = this.#loading.get(name);
      if (!loading) {
        const catalog = this.catalog;
        loading = catalog.load(name).then(async (loaded) => {
          // with --allow-pull, a model that is not cached is pulled first (the request waits for it)
          if (!loaded && this.pull && name.includes("/")) {
            await this.pull(name, () => {}, new AbortController().signal);
            loaded = await catalog.load(name);
          }
          if (!loaded) {
            throw new RouteNotFoundError(`model ${JSON.stringify(name)} is not in the cache`, {
              hint: this.pull
                ? `name it as org/name to have it pulled (this server was started with --allow-pull)`
                : `pull it first: gpux pull ${name} (or start the server with --allow-pull)`,
            });
          }
          this.models.set(loaded.name, loaded);
          if (loaded.name !== name) this.models.set(name, loaded);
          this.list.push(loaded);
          this.#onDemand.add(loaded);
          this.#watch(loaded);
          return loaded;
        }).finally(() => this.#loading.delete(name));
        this.#loading.set(name, loading);
      }
      m = await loading;
    }
    if (!m) return this.model(name);
    if (this.#onDemand.has(m)) {
      const ms = keepAliveMs ?? this.keepAliveMs;
      this.expiry.set(m.name, ms < 0 ? Infinity : Date.now() + ms);
    }
    return m;
  }

  /** Unloads the idle models whose keep-alive has passed. */
  async #sweep(): Promise<void> {
    const now = Date.now();
    for (const [name, at] of this.expiry) {
      const m = this.models.get(name);
      if (!m || at > now || m.pool.pending > 0) continue;
      await this.unload(m);
    }
  }

  /** Unloads a model loaded on demand (its workers are released; the next request loads it again). */
  async unload(m: ServedModel): Promise<void> {
    this.expiry.delete(m.name);
    this.#onDemand.delete(m);
    for (const [key, value] of this.models) if (value === m) this.models.delete(key);
    const i = this.list.indexOf(m);
    if (i >= 0) this.list.splice(i, 1);
    this.metrics.removeModel(m.name);
    await m.pool.close();
  }

  /** Stops unloading (at shutdown). */
  stopSweeping(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
  }

  /** The served model called `name`. @throws {RouteNotFoundError} naming the served models (404). */
  model(name: string): ServedModel {
    const m = this.models.get(name);
    if (!m) {
      throw new RouteNotFoundError(
        `no model ${JSON.stringify(name)} is served; the models are ${
          [...this.models.keys()].map((n) => JSON.stringify(n)).join(", ")
        }`,
      );
    }
    return m;
  }

  /**
   * The session pool of a model (tensors and task pipelines).
   *
   * @throws {InputError} the model is a text generator, naming the endpoints that take it.
   */
  sessions(m: ServedModel): ModelPool {
    if (m.pool.kind === "session") return m.pool;
    if (m.pool.encoderDecoder) {
      throw new InputError(
        `model ${JSON.stringify(m.name)} is an encoder-decoder model (${m.pool.loaded.task}): use POST /models/${
          encodeURIComponent(m.name)
        }/predict with its text, image or audio`,
      );
    }
    throw new InputError(
      `model ${
        JSON.stringify(m.name)
      } generates text: use POST /v1/chat/completions, /v1/completions, /api/chat or /api/generate`,
    );
  }

  /** Whether a model or the codec has work (big bodies then go to the codec Worker). */
  busy(): boolean {
    return this.list.some((m) => m.pool.pending > 0) || this.codec.pending > 0;
  }

  /** Runs a codec call inline on an idle server, in the codec Worker when it is heavy and the server busy, or huge. */
  async codecRun<T>(call: CodecCall, heavy: boolean, huge = false): Promise<T> {
    if (huge || (heavy && this.busy())) return await this.codec.run<T>(call);
    return runCodec(call) as T;
  }

  /** Reserves the body's share of the memory budget before it is read (413/503 when it does not fit). */
  admitBody(request: Request, endpoint: { reservation?: Reservation }): void {
    if (!this.budget) return;
    const declared = Number(request.headers.get("content-length") ?? NaN);
    if (Number.isFinite(declared) && declared > this.maxBody) return; // readBody answers 413 for the body limit
    const bytes = Number.isFinite(declared) && declared >= 0 ? declared : this.maxBody;
    endpoint.reservation = this.budget.reserve(bodyCost(bytes), "this request");
  }

  /** Reads the body under the body limit, after reserving it against the memory budget. */
  async body(request: Request, endpoint: { reservation?: Reservation }): Promise<string> {
    this.admitBody(request, endpoint);
    return await readBody(request, this.maxBody);
  }

  /** Reads the body's bytes (a multipart upload) under the body limit, after reserving it against the budget. */
  async bodyBytes(request: Request, endpoint: { reservation?: Reservation }): Promise<Uint8Array<ArrayBuffer>> {
    this.admitBody(request, endpoint);
    return await readBodyBytes(request, this.maxBody);
  }

  /** @throws {ShuttingDownError} once the drain has begun. */
  checkOpen(): void {
    if (this.draining) throw new ShuttingDownError("the server is shutting down");
  }

  /** Counts a request (or a stream still being written) the drain must wait for; returns its release. */
  hold(): () => void {
    this.#active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      if (this.#active === 0) { for (const w of this.#idleWaiters.splice(0)) w(); }
    };
  }

  /** Resolves once no request is being handled and no stream is being written. */
  idle(): Promise<void> {
    return this.#active === 0 ? Promise.resolve() : new Promise<void>((r) => this.#idleWaiters.push(r));
  }
}
