/**
 * One file's transfer as both engines see it: the options and result of {@linkcode downloadBlob}
 * (defined here so that the engines need not import their entry point), and {@linkcode TransferJob},
 * the state the sequential and the ranged engine share: progress counting (`onStart`, `onBytes`,
 * `onRewind`), one GET with retries that remembers the CDN URL a redirect led to, and the decision
 * whether a failed body read is retried (with backoff, a bounded number of times without progress).
 *
 * @module
 */
import { GpuxError, IntegrityError, InterruptedError, NetworkError } from "../errors.ts";
import type { ExpectedContent } from "./content_hash.ts";
import { backoffDelay, errorFromResponse, fetchWithRetry, type RetryInfo, safeOrigin } from "./http.ts";
import { sleep } from "../sleep.ts";
import { type PartialPaths, partialPaths } from "./partial_files.ts";
import { Semaphore } from "./semaphore.ts";
import { StallError } from "./stall_watch.ts";

/** Default size of one byte range of a large file (see docs/performance.md for the measurements). */
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;
/** Files at least this large are fetched as parallel byte ranges (when the server supports `Range`). */
export const DEFAULT_RANGE_THRESHOLD = 32 * 1024 * 1024;
/** Default stall timeout: no byte for this long aborts the connection and retries, ms. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

/** Above this rate one connection is enough (no parallel ranges), bytes/s. */
export const DEFAULT_FAST_STREAM = 100_000_000;
/** A failed attempt that moved at least this much resets the retry budget (see `madeProgress`). */
const MIN_PROGRESS_BYTES = 1024 * 1024;

/** Options of {@linkcode downloadBlob}. */
export interface BlobDownloadOptions {
  /** The file's URL (`{endpoint}/{repo}/resolve/{commit}/{path}`); redirects are followed. */
  url: string;
  /** Request headers (authorization, user agent). `Authorization` is never sent to another origin. */
  headers?: Record<string, string>;
  /** Final path, `blobs/{etag}`; partial files live beside it. */
  destination: string;
  /** Size and hash the content must have. */
  expected: ExpectedContent;
  /** Name used in messages (the path in the repository). */
  label?: string;
  /** The `fetch` to use (default the global one). */
  fetch?: typeof fetch;
  /** Cancels the transfer; partial files stay for resume. */
  signal?: AbortSignal;
  /** Timeout until response headers arrive, ms (default 30 000). */
  timeoutMs?: number;
  /** No byte for this long aborts the connection and retries from where it got, ms (default 30 000). */
  stallTimeoutMs?: number;
  /** Retries without progress before giving up (default 5). */
  maxRetries?: number;
  /** First backoff delay, ms (default 500). */
  baseDelayMs?: number;
  /** Longest backoff delay, ms (default 30 000). */
  maxDelayMs?: number;
  /** Connection budget shared with other transfers (default: a pool of `maxConnections`). */
  connections?: Semaphore;
  /** Most parallel ranges for this file (default 8). */
  maxConnections?: number;
  /** Size of one byte range (default {@linkcode DEFAULT_CHUNK_SIZE}). */
  chunkSize?: number;
  /**
   * When the first range arrives at least this fast (bytes/s), no further connections are opened
   * (default {@linkcode DEFAULT_FAST_STREAM}); `Infinity` always uses `maxConnections`.
   */
  fastStreamBytesPerSecond?: number;
  /** Smallest file fetched as ranges (default {@linkcode DEFAULT_RANGE_THRESHOLD}); `Infinity` disables ranges. */
  rangeThreshold?: number;
  /** Called once, before the first byte, with the bytes already on disk from an earlier run. */
  onStart?: (resumedFrom: number) => void;
  /** New bytes arrived. */
  onBytes?: (n: number) => void;
  /** Bytes counted earlier were discarded (the server ignored `Range`, so the file restarts). */
  onRewind?: (n: number) => void;
  /** A retry is about to happen. */
  onRetry?: (info: RetryInfo) => void;
}

/** What {@linkcode downloadBlob} did. */
export interface BlobDownloadResult {
  /** Bytes that came over the network. */
  bytesTransferred: number;
  /** Bytes already on disk from an earlier run. */
  resumedFrom: number;
  /** Fetched as parallel byte ranges. */
  ranged: boolean;
}

/** The shared state of one file's transfer. */
export class TransferJob {
  readonly size: number;
  readonly label: string;
  readonly chunkSize: number;
  readonly connections: Semaphore;
  readonly paths: PartialPaths;
  /** Bytes currently counted towards progress. */
  counted = 0;
  /** Bytes that came over the network and reached the file. */
  transferred = 0;
  /** Bytes already on disk when the transfer first started. */
  resumedFrom = 0;
  /** Whether `onStart` was called. */
  started = false;
  /** URL after redirects (the CDN), reused for later requests of this file. */
  finalUrl?: string;

  constructor(readonly o: BlobDownloadOptions) {
    this.size = o.expected.size;
    this.label = o.label ?? o.destination;
    this.chunkSize = Math.max(1, Math.floor(o.chunkSize ?? DEFAULT_CHUNK_SIZE));
    this.connections = o.connections ?? new Semaphore(o.maxConnections ?? 8);
    this.paths = partialPaths(o.destination);
  }

  /** The transfer starts with `resumedFrom` bytes on disk (`onStart` once; later starts only re-count). */
  start(resumedFrom: number): void {
    if (this.started) {
      this.setCounted(resumedFrom);
      return;
    }
    this.started = true;
    this.resumedFrom = resumedFrom;
    this.counted = resumedFrom;
    this.o.onStart?.(resumedFrom);
  }

  /** Progress now stands at `n` bytes (rewinds or advances without counting a transfer). */
  setCounted(n: number): void {
    if (n < this.counted) this.o.onRewind?.(this.counted - n);
    else if (n > this.counted) this.o.onBytes?.(n - this.counted);
    this.counted = n;
  }

  /** `n` new bytes came over the network and reached the file. */
  bytes(n: number): void {
    this.counted += n;
    this.transferred += n;
    this.o.onBytes?.(n);
  }

  /** What the transfer did, for {@linkcode downloadBlob}'s caller. */
  result(ranged: boolean): BlobDownloadResult {
    return { bytesTransferred: this.transferred, resumedFrom: this.resumedFrom, ranged };
  }

  /** One GET with retries on status and connection errors; `range` as `[start, end]` (inclusive) or `[start]`. */
  async request(range: [number, number?] | undefined, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { ...this.o.headers };
    if (range) headers["range"] = `bytes=${range[0]}-${range[1] ?? ""}`;
    const url = this.finalUrl ?? this.o.url;
    if (this.finalUrl && safeOrigin(this.finalUrl) !== safeOrigin(this.o.url)) {
      for (const key of Object.keys(headers)) if (key.toLowerCase() === "authorization") delete headers[key];
    }
    let response: Response;
    try {
      response = await fetchWithRetry(url, { headers, signal }, {
        fetch: this.o.fetch,
        signal: this.o.signal,
        timeoutMs: this.o.timeoutMs,
        maxRetries: this.o.maxRetries,
        baseDelayMs: this.o.baseDelayMs,
        maxDelayMs: this.o.maxDelayMs,
        onRetry: this.o.onRetry,
      });
    } catch (error) {
      throw this.named(error);
    }
    if (!response.ok && this.finalUrl && response.status >= 400 && response.status < 500 && response.status !== 416) {
      // an expired signed CDN URL: resolve again through the Hub
      await response.body?.cancel().catch(() => {});
      this.finalUrl = undefined;
      return this.request(range, signal);
    }
    if (response.ok && !this.finalUrl && response.redirected && response.url) this.finalUrl = response.url;
    return response;
  }

  /** Adds the file's name to network errors from the HTTP layer. */
  named(error: unknown): unknown {
    if (error instanceof NetworkError && !error.message.includes(this.label)) {
      return new (error.constructor as typeof NetworkError)(`downloading '${this.label}': ${error.message}`, {
        cause: error.cause,
        hint: error.hint,
      });
    }
    return error;
  }

  /** Throws the typed error of a failed response (a 404 is an `EntryNotFoundError`). */
  async fail(response: Response): Promise<never> {
    throw await errorFromResponse(response, { path: this.label });
  }

  /** The error for content that does not match (the caller deletes the partial file). */
  corrupt(what: string): IntegrityError {
    return new IntegrityError(`downloaded '${this.label}' is corrupt: ${what}; the partial file was deleted`, {
      hint: "run the same command again; if it keeps failing, the server or a proxy is altering the file",
    });
  }

  /** Throws {@linkcode InterruptedError} once the caller's signal aborted. */
  throwIfAborted(): void {
    if (this.o.signal?.aborted) throw new InterruptedError("interrupted");
  }

  /** Handles a failed body read: waits and returns when it should be retried, throws otherwise. */
  async retryAfterBodyError(error: unknown, failures: number, reason?: string): Promise<void> {
    this.throwIfAborted();
    if (error instanceof GpuxError) throw error;
    const maxRetries = this.o.maxRetries ?? 5;
    const why = reason ?? describeBodyError(error);
    if (failures > maxRetries) {
      throw new NetworkError(
        `downloading '${this.label}' failed: ${why} (${failures} attempts without progress)`,
        {
          cause: error,
          hint: "check your connection and run the same command again: the bytes already downloaded are kept",
        },
      );
    }
    const delayMs = backoffDelay(failures - 1, this.o);
    this.o.onRetry?.({ attempt: failures, delayMs, reason: why, url: this.o.url });
    await sleep(delayMs, this.o.signal);
  }
}

/**
 * Whether an attempt that failed still moved the transfer on enough to reset its retry budget: at
 * least {@linkcode MIN_PROGRESS_BYTES}, or the rest of the file. A server that sends a trickle and
 * then stalls on every connection would otherwise be retried for ever, a few bytes at a time.
 */
export function madeProgress(before: number, after: number, total: number): boolean {
  return after - before >= Math.min(MIN_PROGRESS_BYTES, total - before) && after > before;
}

/** The reason shown for a failed body read (`onRetry`, the final {@linkcode NetworkError}). */
export function describeBodyError(error: unknown): string {
  if (error instanceof StallError) return error.message;
  if (error instanceof DOMException && error.name === "AbortError" && error.message) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `connection lost mid-file (${message.split("\n")[0]})`;
}

/** The first byte of a 206 response's `Content-Range`, `undefined` when it has none or a malformed one. */
export function contentRangeStart(response: Response): number | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
  return m ? Number(m[1]) : undefined;
}
