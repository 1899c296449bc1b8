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
  type GpuxError,
  InputError,
  InterruptedError,
  ModelNotFoundError,
  NetworkError,
  NotFoundError,
  RateLimitError,
  RevisionNotFoundError,
} from "../errors.ts";

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
  /** Timeout of one attempt until the response headers arrive, ms (default 30 000). */
  timeoutMs?: number;
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
    // The timeout covers the wait for the response headers only: a long body is not cut off
    // (the transfer engine watches bodies for stalls itself).
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new DOMException("timed out", "TimeoutError")), timeoutMs);
    const signals = [
      timeout.signal,
      ...(options.signal ? [options.signal] : []),
      ...(init.signal ? [init.signal] : []),
    ];
    const signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    let failure: { reason: string; retryAfterMs?: number; response?: Response; error?: unknown };
    try {
      const response = await doFetch(url, { ...init, signal }).finally(() => clearTimeout(timer));
      if (response.status !== 429 && response.status < 500) return response;
      failure = {
        reason: `HTTP ${response.status}`,
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
        response,
      };
    } catch (error) {
      throwIfAborted(options.signal);
      // the caller's own per-request signal (not a timeout): no retry
      if (init.signal?.aborted) throw init.signal.reason ?? error;
      const reason = timeout.signal.aborted ? `timed out after ${formatMs(timeoutMs)}` : describeNetworkError(error);
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

/** Waits `ms`, rejecting with {@linkcode InterruptedError} when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError("interrupted"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError("interrupted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
