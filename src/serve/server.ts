/**
 * The HTTP side of `gpux serve`, on `Deno.serve` with no framework: the API key, CORS, the drain and the access
 * log around a {@linkcode RouteTable} of named handlers grouped by API — gpux's own (routes_gpux.ts), KServe v2
 * (routes_kserve.ts), OpenAI's `/v1` (routes_openai.ts) and Ollama's `/api` (routes_ollama.ts) — over one
 * {@linkcode ServerState}. Inference and generation happen in each model's pool of Workers, so the event loop
 * only parses, routes and formats. Nothing is printed: every request and state change is reported
 * through `onEvent`, which the CLI renders.
 *
 * @module
 */
import { allowedOrigin, parseCorsOrigins } from "./cors_policy.ts";
import type { RequestLimits } from "./request_limits.ts";
import type { ServerMetrics } from "./metrics.ts";
import { errorBody } from "./error_shapes.ts";
import { type Handled, type RouteState, RouteTable } from "./route_table.ts";
import { GPUX_ROUTES, JSON_HEADERS } from "./routes_gpux.ts";
import { KSERVE_ROUTES } from "./routes_kserve.ts";
import { OPENAI_ROUTES } from "./routes_openai.ts";
import { OPENAI_AUDIO_ROUTES } from "./routes_openai_audio.ts";
import { OLLAMA_ROUTES } from "./routes_ollama.ts";
import { PLAYGROUND_PATHS, playgroundRoutes } from "./routes_playground.ts";
import {
  type AccessLogEntry,
  type ModelCatalog,
  type ModelPuller,
  type ServedModel,
  type ServerEvent,
  ServerState,
} from "./server_state.ts";
import { HttpError, httpStatusOf, ShuttingDownError, UnauthorizedError } from "./serve_errors.ts";

export type { AccessLogEntry, ModelCatalog, ModelPuller, ServedModel, ServerEvent };

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
  /** Largest `max_tokens` (`num_predict`) a generation request may ask for (default 4096, `--max-tokens-limit`). */
  maxTokensLimit?: number;
  /** Models loaded on first use (`gpux serve` with no model argument serves the cache). */
  catalog?: ModelCatalog;
  /** Pulls for `POST /api/pull` (`--allow-pull`; the endpoint answers 403 without it). */
  pull?: ModelPuller;
  /** How long an idle model loaded on demand stays loaded, ms (default 5 minutes, `--keep-alive`; -1: forever). */
  keepAliveMs?: number;
  /** Whether `GET /` answers the playground page (routes_playground.ts; default true, `--no-ui` turns it off). */
  ui?: boolean;
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

/**
 * Starts the server; resolves once it listens.
 *
 * @throws {Deno.errors.AddrInUse} the port is taken; `NotCapable` when the sandbox forbids the address.
 * @throws {InputError} `cors` is not `*` or a list of origins.
 */
export function startServer(options: ServerOptions): Promise<RunningServer> {
  const state = new ServerState(options);
  const { metrics, models } = state;
  const emit = state.emit;
  const corsOrigins = options.cors === undefined
    ? undefined
    : parseCorsOrigins(typeof options.cors === "string" ? options.cors : options.cors.join(","));
  const ui = options.ui ?? true;
  const table = new RouteTable().add(
    ...GPUX_ROUTES,
    ...KSERVE_ROUTES,
    ...OPENAI_ROUTES,
    ...OPENAI_AUDIO_ROUTES,
    ...OLLAMA_ROUTES,
  );
  if (ui) table.add(...playgroundRoutes({ apiKey: options.apiKey !== undefined }));
  const requireModel = (name: string) => void state.model(name);

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
    const release = state.hold();
    try {
      return await answer(request);
    } finally {
      release();
    }
  }

  async function answer(request: Request): Promise<Response> {
    const started = performance.now();
    const url = new URL(request.url);
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : url.pathname;
    const endpoint: RouteState = { name: "unknown", api: path.startsWith("/v1/") ? "openai" : "gpux" };
    let handled: Handled;
    let status: number;
    let errorMessage: string | undefined;
    const modelFromPath = path.match(/^\/(?:v2\/)?models\/([^/]+)/)?.[1];
    try {
      if (request.method === "OPTIONS" && corsOrigins) {
        handled = { status: 204, body: undefined, headers: { "access-control-max-age": "600" } };
      } else {
        if (state.draining && !HEALTH_PATHS.has(path) && path !== "/metrics" && !READY_PATH.test(path)) {
          // the drain answers, instead of closing kept-alive connections under a request that already arrived
          throw new ShuttingDownError("the server is shutting down", {
            hint: "retry on another replica, or once the server is back",
          });
        }
        if (
          options.apiKey && !HEALTH_PATHS.has(path) && !READY_PATH.test(path) &&
          !(ui && request.method !== "POST" && PLAYGROUND_PATHS.has(path))
        ) {
          // the playground's own files hold no secret: the page loads without the key, then asks for it
          const header = request.headers.get("authorization") ?? "";
          const token = header.startsWith("Bearer ") ? header.slice(7) : "";
          if (!token || !(await constantTimeEqual(token, options.apiKey))) {
            endpoint.name = "auth";
            throw new UnauthorizedError(
              header ? "the API key is wrong" : "this endpoint needs an API key: Authorization: Bearer <key>",
            );
          }
        }
        const { route, params } = table.find(request.method, path, endpoint, requireModel);
        endpoint.name = route.name;
        endpoint.api = route.api;
        handled = await route.handler({ request, path, params, state, endpoint });
      }
      status = handled.status ?? 200;
    } catch (error) {
      status = httpStatusOf(error);
      errorMessage = error instanceof Error ? error.message : String(error);
      handled = {
        body: errorBody(endpoint.api, error, status),
        headers: error instanceof HttpError ? error.headers : {},
      };
    } finally {
      endpoint.reservation?.release();
    }
    const ms = performance.now() - started;
    let model = handled.model ?? endpoint.model;
    if (!model && modelFromPath) {
      try {
        model = decodeURIComponent(modelFromPath);
      } catch { /* reported as a bad path */ }
      if (model !== undefined && !models.has(model)) model = undefined; // unknown names stay out of the labels
    }
    if (!model && endpoint.name === "predict" && path === "/predict" && models.size === 1) {
      model = state.list[0].name;
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
      ...(state.draining ? { connection: "close" } : {}),
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
        state.draining = true;
        state.stopSweeping();
        const pending = state.list.reduce((n, m) => n + m.pool.pending, 0);
        emit({ type: "draining", pending });
        let timer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise<void>((r) => timer = setTimeout(r, graceMs));
        // the listener stays open while requests are in flight: whatever arrives meanwhile (on a kept-alive
        // connection or a new one) is answered 503 with `Connection: close`, not dropped
        let closing: Promise<void> | undefined;
        await Promise.race([
          (async () => {
            await Promise.all([state.idle(), ...state.list.map((m) => m.pool.drained())]);
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
        await Promise.all(state.list.map((m) => m.pool.close()));
        state.codec.close();
        emit({ type: "stopped" });
      })();
      return stopping;
    },
  });
}
