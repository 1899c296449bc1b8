/**
 * The HTTP side of `gpux serve`, on `Deno.serve` with no framework: routing, the API key, body limits,
 * the gpux endpoints (`/health`, `/info`, `/predict`, `/models/{name}/predict`), the KServe v2 endpoints
 * (`/v2/…`) and `/metrics`. Inference happens in each model's {@linkcode ModelPool} (Workers), so the event
 * loop only parses, routes and formats. Nothing is printed: every request and state change is reported
 * through `onEvent`, which the CLI renders.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { fallbacksJson, type LoadedModelFacts, modelJson } from "../runtime/run_result.ts";
import { type CodecCall, type DecodedPredict, type InferAnswer, type PredictAnswer, runCodec } from "./codec_calls.ts";
import { JsonCodec } from "./json_codec.ts";
import { allowedOrigin, parseCorsOrigins } from "./cors_policy.ts";
import { REQUEST_LIMIT_DEFAULTS, type RequestLimits } from "./request_limits.ts";
import { bodyCost, feedsCost, MemoryBudget, rawCost, type Reservation } from "./memory_budget.ts";
import type { TensorMap } from "../runtime/tensors.ts";
import { VERSION } from "../version.ts";
import { tensorMetadata, type V2Request } from "./kserve.ts";
import { Gauge, ServerMetrics } from "./metrics.ts";
import type { ModelPool, PoolEvent } from "./model_pool.ts";
import {
  BadRequestError,
  HttpError,
  httpStatusOf,
  MethodNotAllowedError,
  PayloadTooLargeError,
  RouteNotFoundError,
  ShuttingDownError,
  UnauthorizedError,
} from "./serve_errors.ts";

/** One model as the server serves it. */
export interface ServedModel {
  /** Served name (in URLs). */
  name: string;
  /** What the user typed (`acme/model`, `./model.onnx`). */
  spec: string;
  /** Its workers. */
  pool: ModelPool;
  /** Milliseconds a request may take (0 = no limit). */
  timeoutMs: number;
}

/** One request, as the access log shows it. */
export interface AccessLogEntry {
  method: string;
  path: string;
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

/** Options of {@linkcode startServer}. */
export interface ServerOptions {
  /** The models, loaded. */
  models: ServedModel[];
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** Bearer token every non-health endpoint requires. */
  apiKey?: string;
  /**
   * Origins allowed by CORS (off when undefined): `*`, one origin, or several (comma-separated, or a list),
   * checked by {@linkcode parseCorsOrigins}; with several, a request's `Origin` is echoed when it is one of them.
   */
  cors?: string | readonly string[];
  /** Largest accepted body in bytes (default 16 MiB). */
  maxBodyBytes?: number;
  /** Bounds of the work one request may ask for (defaults: {@linkcode REQUEST_LIMIT_DEFAULTS}). */
  limits?: Partial<RequestLimits>;
  /**
   * Memory budget of the whole server in bytes (no budget when undefined): requests reserve their estimated cost
   * and get 413 when they could never fit, 503 when they do not fit beside those in flight ({@linkcode MemoryBudget}).
   */
  maxMemoryBytes?: number;
  /** Metrics (one is created when not given). */
  metrics?: ServerMetrics;
  /** Access log and state changes. */
  onEvent?: (event: ServerEvent) => void;
}

/** A running server. */
export interface RunningServer {
  /** The bound address. */
  host: string;
  /** The bound port (the one picked for port 0). */
  port: number;
  /** `http://host:port`. */
  url: string;
  /** Its metrics. */
  metrics: ServerMetrics;
  /**
   * Stops accepting, lets in-flight requests finish (at most `graceMs`), then releases every session and
   * worker. Safe to call twice.
   */
  shutdown(graceMs?: number): Promise<void>;
  /** Resolves once the server has stopped. */
  finished: Promise<void>;
}

const JSON_HEADERS = { "content-type": "application/json" };
/**
 * Bodies from this size, and answers from this many values, go to the codec Worker when the server is busy
 * (measured: an MLP answering 1024 floats at 64 connections, /health p50 12 ms → 1 ms, and 15% more req/s,
 * once answers of 1024 values were printed in the codec rather than on the HTTP thread).
 */
const OFFLOAD_BYTES = 4 * 1024;
const OFFLOAD_VALUES = 512;
/**
 * Bodies from this size are parsed in the codec Worker even on an idle server (16 MiB of JSON holds a thread for
 * a few hundred ms), and answers from this many values are always streamed from it (answer_stream.ts): printed a
 * chunk at a time off the HTTP thread, never whole in memory (tens of millions of floats printed inline held
 * /health for seconds and left gigabytes behind).
 */
const ALWAYS_OFFLOAD_BYTES = 1024 * 1024;
const STREAM_VALUES = 64 * 1024;

function valueCount(tensors: TensorMap): number {
  let n = 0;
  for (const name in tensors) n += tensors[name].data.length;
  return n;
}

function factsOf(m: ServedModel): LoadedModelFacts {
  return {
    path: m.pool.path,
    ...(m.pool.model ? { model: m.pool.model } : {}),
    provider: m.pool.provider,
    fallbacks: m.pool.fallbacks,
  };
}
const HEALTH_PATHS = new Set(["/health", "/v2/health/live", "/v2/health/ready"]);
const READY_PATH = /^\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/ready$/;

/** Compares two strings in time that depends only on their lengths' hashes, not their contents. */
async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest("SHA-256", enc.encode(a)),
    crypto.subtle.digest("SHA-256", enc.encode(b)),
  ]);
  const x = new Uint8Array(ha), y = new Uint8Array(hb);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/** Reads the body as text, refusing more than `limit` bytes (413) without reading it all. */
async function readBody(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    throw new PayloadTooLargeError(`the request body is ${declared} bytes; the limit is ${limit}`, {
      hint: "send less, or start the server with a larger --max-body-mb",
    });
  }
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new PayloadTooLargeError(`the request body is over the limit of ${limit} bytes`, {
          hint: "send less, or start the server with a larger --max-body-mb",
        });
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new BadRequestError(`the request body could not be read: ${(error as Error).message ?? error}`);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** What routing learns about a request: its endpoint's name, and its share of the memory budget. */
interface RouteState {
  name: string;
  reservation?: Reservation;
}

interface Handled {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
  text?: string;
  /** A large answer, streamed (instead of `text`). */
  stream?: ReadableStream<Uint8Array>;
  model?: string;
  batch?: number;
}

/**
 * Starts the server; resolves once it listens.
 *
 * @throws {Deno.errors.AddrInUse} the port is taken; `NotCapable` when the sandbox forbids the address.
 * @throws {InputError} `cors` is not `*` or a list of origins.
 */
export function startServer(options: ServerOptions): Promise<RunningServer> {
  const metrics = options.metrics ?? new ServerMetrics();
  const models = new Map(options.models.map((m) => [m.name, m]));
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const emit = options.onEvent ?? (() => {});
  const limits: RequestLimits = { ...REQUEST_LIMIT_DEFAULTS, ...options.limits };
  const budget = options.maxMemoryBytes === undefined
    ? undefined
    : new MemoryBudget(options.maxMemoryBytes, Deno.memoryUsage().rss);
  if (budget && budget.capacity < maxBody) {
    const mb = (n: number) => `${Math.ceil(n / 1024 / 1024)} MB`;
    throw new InputError(
      `the memory budget of ${mb(budget.limitBytes)} leaves ${
        mb(budget.capacity)
      } for requests once the models are loaded (${mb(budget.baselineBytes)}), less than one request body`,
      { hint: "start the server with a larger --max-memory-mb (or leave it out: half the machine's memory)" },
    );
  }
  const corsOrigins = options.cors === undefined
    ? undefined
    : parseCorsOrigins(typeof options.cors === "string" ? options.cors : options.cors.join(","));
  let draining = false;
  // requests being handled, so that the drain waits for their answers before the connections close
  let active = 0;
  const idleWaiters: (() => void)[] = [];
  const handlersIdle = () => active === 0 ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r));
  const codec = new JsonCodec();
  // an idle server decodes inline (lowest latency); a busy one sends big bodies and answers to the codec
  // Worker, so that no request holds the HTTP thread for milliseconds
  const busy = () => options.models.some((m) => m.pool.pending > 0) || codec.pending > 0;
  const codecRun = async <T>(call: CodecCall, heavy: boolean, huge = false): Promise<T> => {
    if (huge || (heavy && busy())) return await codec.run<T>(call);
    return runCodec(call) as T;
  };
  if (budget) {
    metrics.addGauge(
      new Gauge("gpux_memory_budget_bytes", "The server's memory budget (--max-memory-mb).", (g) => {
        g.set({}, budget.limitBytes);
      }),
    );
    metrics.addGauge(
      new Gauge("gpux_memory_reserved_bytes", "Memory reserved by requests in flight against the budget.", (g) => {
        g.set({}, budget.reserved);
      }),
    );
  }
  for (const m of options.models) {
    metrics.addModel({
      name: m.name,
      provider: m.pool.provider,
      variant: m.pool.model?.variant ?? "",
      queued: () => m.pool.queued,
      workers: () => m.pool.workers,
      inFlight: () => m.pool.pending,
    });
  }

  const model = (name: string): ServedModel => {
    const m = models.get(name);
    if (!m) {
      throw new RouteNotFoundError(
        `no model ${JSON.stringify(name)} is served; the models are ${
          [...models.keys()].map((n) => JSON.stringify(n)).join(", ")
        }`,
      );
    }
    return m;
  };

  const allow = (method: string, allowed: string[]) => {
    if (!allowed.includes(method)) {
      throw new MethodNotAllowedError(`${method} is not allowed here; use ${allowed.join(" or ")}`, allowed);
    }
  };

  // request.signal is not used: in Deno 2.9 touching it prints a warning about its legacy abort-on-success
  // behaviour. A client that leaves while its request waits costs one wasted run, bounded by the timeout.
  const infer = async (m: ServedModel, feeds: TensorMap) => {
    if (draining) throw new ShuttingDownError("the server is shutting down");
    return await m.pool.infer(feeds, { timeoutMs: m.timeoutMs, validated: true });
  };

  const describe = (m: ServedModel) => ({
    name: m.name,
    spec: m.spec,
    provider: m.pool.provider,
    ...(m.pool.fallbacks.length
      ? { fallbacks: m.pool.fallbacks.map((f) => ({ provider: f.provider, reason: f.reason })) }
      : {}),
    variant: m.pool.model?.variant ?? null,
    repoId: m.pool.model?.repoId ?? null,
    sha: m.pool.model?.sha ?? null,
    task: m.pool.loaded.task ?? null,
    accepts: m.pool.loaded.accepts,
    inputs: m.pool.inputs,
    outputs: m.pool.outputs,
    workers: m.pool.workers,
    batching: m.pool.batching,
    ...(m.pool.batchingOff ? { batchingReason: m.pool.batchingOff } : {}),
  });

  /** Reserves the body's share of the memory budget before it is read (413/503 when it does not fit). */
  const admitBody = (request: Request, endpoint: RouteState) => {
    if (!budget) return;
    const declared = Number(request.headers.get("content-length") ?? NaN);
    if (Number.isFinite(declared) && declared > maxBody) return; // readBody answers 413 for the body limit
    const bytes = Number.isFinite(declared) && declared >= 0 ? declared : maxBody;
    endpoint.reservation = budget.reserve(bodyCost(bytes), "this request");
  };

  async function route(request: Request, path: string, endpoint: RouteState): Promise<Handled> {
    const method = request.method;
    const parts = path.split("/").slice(1).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        throw new BadRequestError(`malformed path ${JSON.stringify(path)}`);
      }
    });
    const get = (name: string) => {
      endpoint.name = name;
      allow(method, ["GET", "HEAD"]);
    };
    const post = (name: string) => {
      endpoint.name = name;
      allow(method, ["POST"]);
    };
    const predict = async (m: ServedModel): Promise<Handled> => {
      const started = performance.now();
      admitBody(request, endpoint);
      const text = await readBody(request, maxBody);
      const decoded = await codecRun<DecodedPredict>(
        { op: "decodePredict", text, inputs: m.pool.inputs, limits },
        text.length >= OFFLOAD_BYTES,
        text.length >= ALWAYS_OFFLOAD_BYTES,
      );
      endpoint.reservation?.resize(
        bodyCost(text.length) +
          (decoded.kind === "raw" ? rawCost(decoded.input) : feedsCost(decoded.feeds, m.pool.inputs, m.pool.outputs)),
      );
      if (decoded.kind === "raw") {
        const accepts = m.pool.loaded.accepts;
        if (!accepts.includes(decoded.input.kind)) {
          throw new InputError(
            `model ${JSON.stringify(m.name)} takes ${
              accepts.length ? accepts.join(" or ") : "tensors"
            }, not ${decoded.input.kind}; its inputs are ${
              m.pool.inputs.map((i) => JSON.stringify(i.name)).join(", ")
            }`,
          );
        }
        if (draining) throw new ShuttingDownError("the server is shutting down");
        const result = await m.pool.process(decoded.input, decoded.options, { timeoutMs: m.timeoutMs });
        // the result comes printed by the model's Worker: spliced into the document, not parsed and printed again
        const marker = `\u0000${crypto.randomUUID()}`;
        const text = JSON.stringify({
          name: m.name,
          model: modelJson(m.spec, m.pool),
          provider: m.pool.provider,
          ...(m.pool.fallbacks.length ? { fallbacks: fallbacksJson(m.pool) } : {}),
          task: m.pool.loaded.task,
          result: marker,
          timings: {
            queueMs: round(result.queueMs),
            runMs: round(result.runMs),
            totalMs: round(performance.now() - started),
            batch: 1,
          },
        }).replace(JSON.stringify(marker), () => result.resultText ?? "null");
        return { model: m.name, batch: 1, body: undefined, text, headers: JSON_HEADERS };
      }
      const result = await infer(m, decoded.feeds);
      const answer: PredictAnswer = {
        name: m.name,
        spec: m.spec,
        facts: factsOf(m),
        outputs: result.outputs,
        order: m.pool.outputs.map((o) => o.name),
        timings: {
          queueMs: round(result.queueMs),
          runMs: round(result.runMs),
          totalMs: round(performance.now() - started),
          batch: result.batch,
        },
      };
      const values = valueCount(result.outputs);
      if (values >= STREAM_VALUES) {
        const stream = codec.stream({ op: "encodePredict", answer });
        return { body: undefined, stream, headers: JSON_HEADERS, model: m.name, batch: result.batch };
      }
      const body = await codecRun<string>({ op: "encodePredict", answer }, values >= OFFLOAD_VALUES);
      return { body: undefined, text: body, headers: JSON_HEADERS, model: m.name, batch: result.batch };
    };

    if (path === "/health") {
      get("health");
      return {
        status: draining ? 503 : 200,
        body: { status: draining ? "draining" : "ok", models: [...models.keys()] },
      };
    }
    if (path === "/metrics") {
      get("metrics");
      return { body: undefined, text: metrics.render(), headers: { "content-type": "text/plain; version=0.0.4" } };
    }
    if (path === "/info") {
      get("info");
      return {
        body: {
          version: VERSION,
          limits: { ...limits, maxBodyBytes: maxBody },
          memory: budget
            ? { budgetBytes: budget.limitBytes, baselineBytes: budget.baselineBytes, reservedBytes: budget.reserved }
            : null,
          models: options.models.map(describe),
        },
      };
    }
    if (path === "/predict") {
      post("predict");
      if (models.size !== 1) {
        throw new RouteNotFoundError(
          `${models.size} models are served: POST /models/{name}/predict with name one of ${
            [...models.keys()].map((n) => JSON.stringify(n)).join(", ")
          }`,
        );
      }
      return await predict(options.models[0]);
    }
    if (parts[0] === "models" && parts.length === 3 && parts[2] === "predict") {
      endpoint.name = "predict";
      const m = model(parts[1]);
      post("predict");
      return await predict(m);
    }
    if (parts[0] === "v2") {
      if (parts.length === 1) {
        get("v2_server");
        return { body: { name: "gpux", version: VERSION, extensions: [] } };
      }
      if (parts[1] === "health" && parts.length === 3 && (parts[2] === "live" || parts[2] === "ready")) {
        get(`v2_health_${parts[2]}`);
        if (parts[2] === "live") return { body: { live: true } };
        return { status: draining ? 503 : 200, body: { ready: !draining } };
      }
      if (parts[1] === "models" && parts.length >= 3) {
        // /v2/models/{name}[/versions/{v}][/ready|/infer]
        let rest = parts.slice(3);
        if (rest[0] === "versions" && rest.length >= 2) rest = rest.slice(2);
        const m = model(parts[2]);
        if (rest.length === 0) {
          get("v2_model");
          return {
            model: m.name,
            body: {
              name: m.name,
              versions: m.pool.model?.sha ? [m.pool.model.sha] : [],
              platform: "onnxruntime_onnx",
              inputs: m.pool.inputs.map(tensorMetadata),
              outputs: m.pool.outputs.map(tensorMetadata),
            },
          };
        }
        if (rest.length === 1 && rest[0] === "ready") {
          get("v2_model_ready");
          return { model: m.name, status: draining ? 503 : 200, body: { name: m.name, ready: !draining } };
        }
        if (rest.length === 1 && rest[0] === "infer") {
          post("v2_infer");
          admitBody(request, endpoint);
          const text = await readBody(request, maxBody);
          const parsed = await codecRun<V2Request>(
            { op: "decodeInfer", text, inputs: m.pool.inputs, outputs: m.pool.outputs, limits },
            text.length >= OFFLOAD_BYTES,
            text.length >= ALWAYS_OFFLOAD_BYTES,
          );
          endpoint.reservation?.resize(bodyCost(text.length) + feedsCost(parsed.feeds, m.pool.inputs, m.pool.outputs));
          const result = await infer(m, parsed.feeds);
          const answer: InferAnswer = {
            name: m.name,
            outputs: result.outputs,
            order: m.pool.outputs.map((o) => o.name),
            request: {
              ...(parsed.id !== undefined ? { id: parsed.id } : {}),
              ...(parsed.outputs ? { outputs: parsed.outputs } : {}),
            },
            ...(m.pool.model?.sha ? { version: m.pool.model.sha } : {}),
          };
          const values = valueCount(result.outputs);
          if (values >= STREAM_VALUES) {
            const stream = codec.stream({ op: "encodeInfer", answer });
            return { model: m.name, batch: result.batch, body: undefined, stream, headers: JSON_HEADERS };
          }
          const body = await codecRun<string>({ op: "encodeInfer", answer }, values >= OFFLOAD_VALUES);
          return { model: m.name, batch: result.batch, body: undefined, text: body, headers: JSON_HEADERS };
        }
      }
    }
    endpoint.name = "unknown";
    throw new RouteNotFoundError(`no route ${method} ${path}`, {
      hint: "see GET /info; endpoints: /health, /info, /predict, /models/{name}/predict, /metrics, /v2/…",
    });
  }

  const corsFor = (origin: string | null): Record<string, string> => {
    if (!corsOrigins) return {};
    const allowed = allowedOrigin(corsOrigins, origin);
    return {
      ...(allowed ? { "access-control-allow-origin": allowed } : {}),
      "access-control-allow-headers": "authorization, content-type",
      "access-control-allow-methods": "GET, POST, OPTIONS",
      ...(corsOrigins !== "*" ? { vary: "Origin" } : {}),
    };
  };

  async function handler(request: Request): Promise<Response> {
    active++;
    try {
      return await answer(request);
    } finally {
      active--;
      if (active === 0) { for (const w of idleWaiters.splice(0)) w(); }
    }
  }

  async function answer(request: Request): Promise<Response> {
    const started = performance.now();
    const url = new URL(request.url);
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : url.pathname;
    const endpoint: RouteState = { name: "unknown" };
    let handled: Handled;
    let status: number;
    let errorMessage: string | undefined;
    const modelFromPath = path.match(/^\/(?:v2\/)?models\/([^/]+)/)?.[1];
    try {
      if (request.method === "OPTIONS" && corsOrigins) {
        handled = { status: 204, body: undefined, headers: { "access-control-max-age": "600" } };
      } else {
        if (draining && !HEALTH_PATHS.has(path) && path !== "/metrics" && !READY_PATH.test(path)) {
          // the drain answers, instead of closing kept-alive connections under a request that already arrived
          throw new ShuttingDownError("the server is shutting down", {
            hint: "retry on another replica, or once the server is back",
          });
        }
        if (
          options.apiKey && !HEALTH_PATHS.has(path) && !READY_PATH.test(path)
        ) {
          const header = request.headers.get("authorization") ?? "";
          const token = header.startsWith("Bearer ") ? header.slice(7) : "";
          if (!token || !(await constantTimeEqual(token, options.apiKey))) {
            endpoint.name = "auth";
            throw new UnauthorizedError(
              header ? "the API key is wrong" : "this endpoint needs an API key: Authorization: Bearer <key>",
            );
          }
        }
        handled = await route(request, path, endpoint);
      }
      status = handled.status ?? 200;
    } catch (error) {
      status = httpStatusOf(error);
      errorMessage = error instanceof Error ? error.message : String(error);
      const hint = error instanceof InputError || error instanceof HttpError ? error.hint : undefined;
      handled = {
        body: { error: errorMessage, ...(hint ? { hint } : {}) },
        headers: error instanceof HttpError ? error.headers : {},
      };
    } finally {
      endpoint.reservation?.release();
    }
    const ms = performance.now() - started;
    let model = handled.model;
    if (!model && modelFromPath) {
      try {
        model = decodeURIComponent(modelFromPath);
      } catch { /* reported as a bad path */ }
      if (model !== undefined && !models.has(model)) model = undefined; // unknown names stay out of the labels
    }
    if (!model && endpoint.name === "predict" && path === "/predict" && models.size === 1) {
      model = options.models[0].name;
    }
    const labelModel = model ?? "";
    metrics.requests.inc({ model: labelModel, endpoint: endpoint.name, status: String(status) });
    metrics.requestSeconds.observe({ model: labelModel, endpoint: endpoint.name }, ms / 1000);
    emit({
      type: "request",
      entry: {
        method: request.method,
        path,
        status,
        ms,
        ...(model ? { model } : {}),
        ...(handled.batch ? { batch: handled.batch } : {}),
        ...(errorMessage ? { error: errorMessage } : {}),
      },
    });
    const headers: Record<string, string> = {
      ...corsFor(request.headers.get("origin")),
      ...(handled.text === undefined ? JSON_HEADERS : {}),
      ...handled.headers,
      ...(draining ? { connection: "close" } : {}),
    };
    if (status === 204) return new Response(null, { status, headers });
    const body = handled.stream ?? handled.text ?? JSON.stringify(handled.body);
    return new Response(request.method === "HEAD" ? null : body, { status, headers });
  }

  const server = Deno.serve({
    hostname: options.host ?? "127.0.0.1",
    port: options.port ?? 8080,
    onListen: () => {}, // the CLI prints the ready line
    onError: (error) => {
      emit({ type: "request", entry: { method: "?", path: "?", status: 500, ms: 0, error: String(error) } });
      return new Response(JSON.stringify({ error: "internal error" }), { status: 500, headers: JSON_HEADERS });
    },
  }, handler);
  const addr = server.addr;
  const host = addr.hostname;
  const shown = host.includes(":") ? `[${host}]` : host;
  let stopping: Promise<void> | undefined;
  return Promise.resolve({
    host,
    port: addr.port,
    url: `http://${shown}:${addr.port}`,
    metrics,
    finished: server.finished,
    shutdown(graceMs = 30000) {
      stopping ??= (async () => {
        draining = true;
        const pending = options.models.reduce((n, m) => n + m.pool.pending, 0);
        emit({ type: "draining", pending });
        let timer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise<void>((r) => timer = setTimeout(r, graceMs));
        // the listener stays open while requests are in flight: whatever arrives meanwhile (on a kept-alive
        // connection or a new one) is answered 503 with `Connection: close`, not dropped
        let closing: Promise<void> | undefined;
        await Promise.race([
          (async () => {
            await Promise.all([handlersIdle(), ...options.models.map((m) => m.pool.drained())]);
            await (closing = server.shutdown());
          })(),
          grace,
        ]);
        clearTimeout(timer);
        if (!closing) {
          // the grace ran out: stop listening, and give the answers being written a moment
          closing = server.shutdown();
          await Promise.race([closing, new Promise<void>((r) => timer = setTimeout(r, 1000))]);
          clearTimeout(timer);
        }
        await Promise.all(options.models.map((m) => m.pool.close()));
        codec.close();
        emit({ type: "stopped" });
      })();
      return stopping;
    },
  });
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
