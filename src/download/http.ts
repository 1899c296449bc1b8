/**
 * HTTP to the Hub: one request with a timeout, retried with exponential backoff and jitter on
 * connection errors, timeouts, 5xx and 429 (honouring `Retry-After`), and Hub error responses turned
 * into typed errors by HTTP status and the `X-Error-Code` header (never by message text).
 *
 * The registry and the transfer engine both go through here.
 *
 * @module
 */
import {
  AuthenticationError,
  EntryNotFoundError,
  GatedModelError,
  GpuxError,
  InputError,
  InterruptedError,
  ModelNotFoundError,
  NetPermissionError,
  NetworkError,
  NotFoundError,
  RateLimitError,
  RevisionNotFoundError,
} from "../errors.ts";
import { sleep } from "../sleep.ts";

/** What a request is about, so that errors can name it. */
export interface RequestContext {
  /** Repository id, e.g. `org/name`. */
  repoId?: string;
  /** Revision asked for. */
  revision?: string;
  /** File path inside the repository. */
  path?: string;
}

/** A retry about to happen. */
export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  /** Milliseconds until the retry. */
  delayMs: number;
  /** Why, in a few words (`HTTP 503`, `connection refused`, `timed out after 30s`). */
  reason: string;
  /** The URL being fetched. */
  url: string;
}

/** Options of {@linkcode fetchWithRetry}. */
export interface HttpOptions {
  /** The `fetch` to use (default the global one). */
  fetch?: typeof fetch;
  /**
   * Stall timeout of one attempt, ms (default 30 000): until the response headers arrive, and then
   * between two chunks of every body read here (error bodies always, success bodies with `bufferBody`).
   */
  timeoutMs?: number;
  /**
   * Read the whole body of a successful response inside the retry loop, under the stall timeout, and
   * return it buffered: a server that sends its headers and then stops is retried like one that never
   * answers. For API answers and small files; large downloads watch their own bodies.
   */
  bufferBody?: boolean;
  /** Retries after the first attempt (default 5). */
  maxRetries?: number;
  /** First backoff delay in ms (default 500); doubles each retry, with full jitter. */
  baseDelayMs?: number;
  /** Longest backoff or `Retry-After` wait honoured, ms (default 30 000). */
  maxDelayMs?: number;
  /** Cancels the request and any wait between retries. */
  signal?: AbortSignal;
  /** Called before each retry. */
  onRetry?: (info: RetryInfo) => void;
}

/** Default timeout of one attempt, ms. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default retries after the first attempt. */
export const DEFAULT_MAX_RETRIES = 5;

/**
 * `fetch` with a per-attempt timeout and bounded retries. Returns the first response that is not
 * retryable (any status: check `response.ok` or use {@linkcode errorFromResponse}); after the last
 * retry, a 429 becomes {@linkcode RateLimitError}, a 5xx or connection failure {@linkcode NetworkError}.
 * An abort of `options.signal` rejects with {@linkcode InterruptedError}.
 */
export async function fetchWithRetry(
  url: string,
  init: RequestInit = {},
  options: HttpOptions = {},
): Promise<Response> {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  const baseDelay = options.baseDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 30_000;
  for (let attempt = 0;; attempt++) {
    throwIfAborted(options.signal);
    // One stall timer per attempt: until the headers arrive, then re-armed by every chunk of a body
    // read here (a long body that keeps flowing is never cut off; one that stops is).
    const timeout = new AbortController();
    let phase: "headers" | "body" = "headers";
    const expire = () => timeout.abort(new DOMException("timed out", "TimeoutError"));
    let timer = setTimeout(expire, timeoutMs);
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(expire, timeoutMs);
    };
    const signals = [
      timeout.signal,
      ...(options.signal ? [options.signal] : []),
      ...(init.signal ? [init.signal] : []),
    ];
    const signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    let failure: { reason: string; retryAfterMs?: number; response?: Response; error?: unknown };
    try {
      const response = await doFetch(url, { ...init, signal });
      if (response.status !== 429 && response.status < 500) {
        if (response.ok && !options.bufferBody) {
          clearTimeout(timer);
          return response;
        }
        phase = "body";
        let body: Uint8Array | null;
        if (response.ok) {
          body = await readBody(response, rearm, MAX_BUFFERED_BODY + 1);
          if (body && body.length > MAX_BUFFERED_BODY) {
            throw new NetworkError(
              `${safeOrigin(url)}${pathOf(url)} sent more than ${MAX_BUFFERED_BODY / (1 << 20)} MiB for an API answer`,
              { hint: `the server at ${safeOrigin(url)} does not behave like a Hugging Face Hub: check HF_ENDPOINT` },
            );
          }
        } else {
          // the status says what happened: an error body that breaks off or stalls only loses the Hub's wording
          body = await readBody(response, rearm, MAX_ERROR_BODY).catch(() => null);
          throwIfAborted(options.signal);
        }
        clearTimeout(timer);
        return buffered(response, body);
      }
      clearTimeout(timer);
      failure = {
        reason: `HTTP ${response.status}`,
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
        response,
      };
    } catch (error) {
      clearTimeout(timer);
      throwIfAborted(options.signal);
      // the caller's own per-request signal (not a timeout): no retry
      if (init.signal?.aborted) throw init.signal.reason ?? error;
      if (error instanceof GpuxError) throw error;
      // what no retry can change: the sandbox refusing a host, a redirect loop, a redirect to ftp://
      if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
        throw netPermissionError(url, error);
      }
      const permanent = permanentFailure(error);
      if (permanent) {
        throw new NetworkError(`cannot fetch ${safeOrigin(url)}${pathOf(url)}: ${permanent} (not retried)`, {
          cause: error,
          hint: `the server at ${safeOrigin(url)} is misconfigured: check HF_ENDPOINT, or report it to whoever runs it`,
        });
      }
      const reason = !timeout.signal.aborted
        ? describeNetworkError(error)
        : phase === "headers"
        ? `timed out after ${formatMs(timeoutMs)}`
        : `the response stalled: no data for ${formatMs(timeoutMs)}`;
      failure = { reason, error };
    }
    if (attempt >= maxRetries) {
      await failure.response?.body?.cancel().catch(() => {});
      throw exhausted(url, failure, attempt + 1);
    }
    const delayMs = backoffDelay(attempt, { baseDelayMs: baseDelay, maxDelayMs: maxDelay }, failure.retryAfterMs);
    await failure.response?.body?.cancel().catch(() => {});
    options.onRetry?.({ attempt: attempt + 1, delayMs, reason: failure.reason, url });
    await sleep(delayMs, options.signal);
  }
}

/** The sandbox (`--allow-net`) refused a connection: one clear error, never retried. */
function netPermissionError(url: string, error: Error): NetPermissionError {
  const host = /"([^"]+)"/.exec(error.message)?.[1];
  const where = host ? `'${host}'` : "that host";
  const redirected = host !== undefined && !safeOrigin(url).endsWith(`//${host}`) &&
    !safeOrigin(url).endsWith(`//${host.replace(/:(80|443)$/, "")}`);
  return new NetPermissionError(
    `not permitted to connect to ${where}${
      redirected ? ` (${safeOrigin(url)} redirected there)` : ""
    }: Deno's --allow-net does not include it`,
    {
      cause: error,
      hint: "`deno task gpux` may connect only to HF_ENDPOINT's host, huggingface.co, hf.co, their CDN subdomains " +
        "and localhost; use a mirror whose downloads stay on those hosts, or run cli.ts with --allow-net=" +
        (host ?? "<host>") + " added",
    },
  );
}

/** A failure of `fetch` that the same request would meet again: a redirect loop, a redirect to another scheme. */
function permanentFailure(error: unknown): string | undefined {
  const text = collectMessages(error);
  if (/maximum number of redirects|too many redirects|redirect loop/i.test(text)) {
    return "too many redirects (a redirect loop)";
  }
  if (/non HTTP\(s\) url|scheme '?[a-z0-9+.-]*'? not supported/i.test(text)) {
    return "a redirect to a URL that is not http(s)";
  }
  if (/requests to port \d+ are blocked/i.test(text)) return "that port is blocked for fetch (a 'bad port')";
  return undefined;
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return "";
  }
}

/** Largest body read whole with `bufferBody` (API answers are kilobytes; small files up to a few MB). */
const MAX_BUFFERED_BODY = 64 << 20;

/** Error bodies are read up to this size (the Hub's message is in the first few hundred bytes). */
const MAX_ERROR_BODY = 1 << 20;

/** Reads `response`'s body (up to `limit` bytes), calling `onChunk` as bytes arrive. */
async function readBody(response: Response, onChunk: () => void, limit: number): Promise<Uint8Array | null> {
  if (!response.body) return null;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onChunk();
      chunks.push(value);
      total += value.length;
      if (total >= limit) {
        await reader.cancel().catch(() => {});
        break;
      }
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** `response` with its body already read: same status, headers, URL and redirect flag. */
function buffered(response: Response, body: Uint8Array | null): Response {
  const nullBody = [101, 103, 204, 205, 304].includes(response.status);
  const copy = new Response(nullBody ? null : body as BodyInit | null, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperty(copy, "url", { value: response.url });
  Object.defineProperty(copy, "redirected", { value: response.redirected });
  return copy;
}

/**
 * Delay before retry number `attempt + 1` (attempt 0 = the first retry): exponential backoff from
 * `baseDelayMs` with jitter, at least `retryAfterMs` when the server asked, at most `maxDelayMs`.
 * Shared by {@linkcode fetchWithRetry} and the transfer engine's body retries.
 */
export function backoffDelay(
  attempt: number,
  options: Pick<HttpOptions, "baseDelayMs" | "maxDelayMs"> = {},
  retryAfterMs?: number,
): number {
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const backoff = Math.min(max, base * 2 ** attempt) * (0.5 + Math.random() * 0.5);
  return Math.round(Math.min(max, Math.max(retryAfterMs ?? 0, backoff)));
}

function exhausted(
  url: string,
  failure: { reason: string; retryAfterMs?: number; response?: Response; error?: unknown },
  attempts: number,
): GpuxError {
  const host = safeOrigin(url);
  const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
  if (failure.response?.status === 429) {
    return new RateLimitError(`${host} is rate limiting requests (HTTP 429 after ${tries})`, {
      retryAfter: failure.retryAfterMs !== undefined ? Math.ceil(failure.retryAfterMs / 1000) : undefined,
      hint: "wait a few minutes and try again; logging in (gpux login) raises the Hub's limits",
    });
  }
  return new NetworkError(`cannot reach ${host}: ${failure.reason} (${tries})`, {
    cause: failure.error,
    hint: `check your connection and HF_ENDPOINT (now ${host}), or set HF_HUB_OFFLINE=1 to use only the local cache`,
  });
}

/** Seconds or an HTTP date in `Retry-After`, as milliseconds; `undefined` if absent or unreadable. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * One short phrase naming the cause of a failed `fetch`: DNS failure, connection refused, reset,
 * TLS error. Deno reports these only as text, so this is the one place that reads error text.
 */
export function describeNetworkError(error: unknown): string {
  const text = collectMessages(error);
  if (
    /dns error|failed to lookup address|name or service not known|no address associated|nodename nor servname/i.test(
      text,
    )
  ) {
    return "DNS lookup failed (unknown host)";
  }
  if (/connection refused|ECONNREFUSED|os error 111/i.test(text)) return "connection refused";
  // rustls says "received corrupt message of type InvalidContentType" when the server does not speak TLS
  if (/certificate|tls|ssl|handshake|received corrupt message|InvalidContentType|UnknownIssuer/i.test(text)) {
    return "TLS error (certificate or handshake failed)";
  }
  if (/connection reset|ECONNRESET|os error 104|broken pipe/i.test(text)) return "connection reset by the server";
  if (/connection closed|incomplete message|unexpected eof|end of file/i.test(text)) {
    return "connection closed by the server before the response was complete";
  }
  return `network error (${firstLine(text)})`;
}

/**
 * Turns a Hub error response into a typed error, by status and the `X-Error-Code` header.
 * Consumes the body (to read the Hub's own message, shown after ours).
 */
export async function errorFromResponse(response: Response, context: RequestContext = {}): Promise<GpuxError> {
  const code = response.headers.get("x-error-code") ?? "";
  const hubMessage = await readHubMessage(response);
  const origin = safeOrigin(response.url || "");
  const repo = context.repoId ? `'${context.repoId}'` : "the repository";
  const rev = context.revision ?? "main";
  const suffix = hubMessage ? ` (hub says: ${hubMessage})` : "";
  const loginHint = "check the spelling, or, if it is private or gated, log in with `gpux login` or set HF_TOKEN";
  switch (code) {
    case "RepoNotFound":
      return new ModelNotFoundError(`model ${repo} not found on ${origin}`, { hint: loginHint });
    case "RevisionNotFound":
      return new RevisionNotFoundError(`revision '${rev}' not found in ${repo}`, {
        hint: "use a branch, a tag, a full 40-character commit sha or refs/pr/N that exists in the repository",
      });
    case "EntryNotFound":
      return new EntryNotFoundError(`file '${context.path ?? "?"}' not found in ${repo} at revision '${rev}'`, {
        hint: "list the repository's files with `gpux info <model> --files`",
      });
    case "GatedRepo":
      return new GatedModelError(`${repo} is gated: you must accept its conditions before downloading`, {
        hint: `accept them on ${origin}/${context.repoId ?? ""} while logged in, then use a token of that account`,
      });
  }
  switch (response.status) {
    case 401:
      return new AuthenticationError(`${origin} refused the request: missing or invalid token (HTTP 401)${suffix}`, {
        hint: "log in with `gpux login`, or set HF_TOKEN to a valid token",
      });
    case 403:
      return new AuthenticationError(`access to ${repo} is forbidden with this token (HTTP 403)${suffix}`, {
        hint: "use a token of an account that has access (a fine-grained token needs read access to this repo)",
      });
    case 404:
      return context.path
        ? new EntryNotFoundError(`file '${context.path}' not found in ${repo} at revision '${rev}'${suffix}`)
        : context.repoId
        ? new ModelNotFoundError(`model ${repo} not found on ${origin}${suffix}`, { hint: loginHint })
        : new NotFoundError(`not found: ${response.url}${suffix}`);
    case 400:
    case 422:
      return new InputError(`${origin} rejected the request (HTTP ${response.status})${suffix}`);
    case 429:
      return new RateLimitError(`${origin} is rate limiting requests (HTTP 429)${suffix}`, {
        retryAfter: Math.ceil((parseRetryAfter(response.headers.get("retry-after")) ?? 0) / 1000) || undefined,
      });
  }
  return new NetworkError(`${origin} answered HTTP ${response.status} ${response.statusText}${suffix}`.trim());
}

async function readHubMessage(response: Response): Promise<string | undefined> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    return undefined;
  }
  if (!text) return undefined;
  try {
    const body = JSON.parse(text);
    const message = typeof body?.error === "string"
      ? body.error
      : typeof body?.message === "string"
      ? body.message
      : undefined;
    return message ? firstLine(message).slice(0, 200) : undefined;
  } catch {
    return undefined; // an HTML error page says nothing useful
  }
}

/** `https://host:port` of a URL, or the input when it does not parse. Never includes credentials or query. */
export function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function collectMessages(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let i = 0; current && i < 5; i++) {
    if (current instanceof Error) {
      parts.push(current.message);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(": ");
}

function firstLine(text: string): string {
  return text.split("\n")[0].trim();
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) {
    throw signal.reason instanceof InterruptedError ? signal.reason : new InterruptedError("interrupted");
  }
}
