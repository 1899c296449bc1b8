/**
 * Downloads one file into the cache's `blobs/` folder, verified and resumable:
 *
 * - Small files (and servers without `Range`) stream into `blobs/{etag}.incomplete`, hashed as the
 *   bytes arrive. That file is always a prefix of the content, exactly as Python's huggingface_hub
 *   leaves it, so either tool resumes the other's partial file with a `Range: bytes=N-` request
 *   (the prefix on disk is re-hashed first).
 * - Large files are fetched as parallel byte ranges into a preallocated `blobs/{etag}.ranges.incomplete`
 *   (a different name on purpose: it is not a prefix, and Python must never mistake it for one).
 *   `blobs/{etag}.ranges.json.incomplete` records how many bytes of each range are on disk, so an
 *   interrupted transfer continues where each range stopped. A hasher follows the contiguous
 *   prefix from disk while ranges arrive, so little hashing is left when the last range lands.
 * - Only a file whose size and hash match is renamed to `blobs/{etag}`; a mismatch deletes the
 *   partial file and raises {@linkcode IntegrityError}.
 * - Dropped connections and stalls (no byte for `stallTimeoutMs`) are retried from the bytes already
 *   written, with backoff, a bounded number of times without progress (an attempt that moved less than
 *   1 MiB, short of finishing, counts as none: a trickle is no progress); then {@linkcode NetworkError}
 *   naming the file. 5xx and 429 are retried by {@linkcode fetchWithRetry}.
 *
 * @module
 */
import {
  CacheError,
  EntryNotFoundError,
  GpuxError,
  IntegrityError,
  InterruptedError,
  NetworkError,
} from "../errors.ts";
import { createContentHasher, type ExpectedContent, hashFileRange } from "./content_hash.ts";
import { backoffDelay, errorFromResponse, fetchWithRetry, type RetryInfo, safeOrigin, sleep } from "./http.ts";
import { Semaphore } from "./semaphore.ts";
import { isDiskFull, type WriteContext, writeFailure } from "./write_failure.ts";

/** Default size of one byte range of a large file (see docs/performance.md for the measurements). */
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;
/** Files at least this large are fetched as parallel byte ranges (when the server supports `Range`). */
export const DEFAULT_RANGE_THRESHOLD = 32 * 1024 * 1024;
/** Default stall timeout: no byte for this long aborts the connection and retries, ms. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

/** Above this rate one connection is enough (no parallel ranges), bytes/s. */
export const DEFAULT_FAST_STREAM = 100_000_000;
const PROBE_BYTES = 4 * 1024 * 1024;
const PROBE_MS = 1000;
const WRITE_BUFFER = 256 * 1024;
const DIRECT_WRITE = 16 * 1024;
const HASH_READ = 1024 * 1024;
const STATE_SAVE_INTERVAL_MS = 1000;
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

/** Partial-file paths of a blob. */
export function partialPaths(destination: string): { sequential: string; ranged: string; rangedState: string } {
  return {
    sequential: `${destination}.incomplete`,
    ranged: `${destination}.ranges.incomplete`,
    rangedState: `${destination}.ranges.json.incomplete`,
  };
}

/**
 * Downloads `options.url` to `options.destination`, verified (see the module doc).
 *
 * @throws {IntegrityError} the content does not match the expected size or hash (nothing is left behind).
 * @throws {NetworkError} the transfer kept failing.
 * @throws {InterruptedError} `options.signal` aborted (partial files are kept for resume).
 */
export async function downloadBlob(options: BlobDownloadOptions): Promise<BlobDownloadResult> {
  const job = new Job(options);
  // partial files are opened for writing: one that is a symlink would write wherever it points
  for (const path of Object.values(job.paths)) await removeIfNotFile(path);
  const size = options.expected.size;
  const threshold = options.rangeThreshold ?? DEFAULT_RANGE_THRESHOLD;
  if (size >= threshold && size > job.chunkSize) {
    const outcome = await downloadRanged(job);
    if (outcome === "done") return job.result(true);
    // the server ignored Range: continue with its full 200 response, sequentially
    return await downloadSequential(job, outcome).then(() => job.result(false));
  }
  await downloadSequential(job);
  return job.result(false);
}

/** The shared state of one file's transfer. */
class Job {
  readonly size: number;
  readonly label: string;
  readonly chunkSize: number;
  readonly connections: Semaphore;
  readonly paths: ReturnType<typeof partialPaths>;
  /** Bytes currently counted towards progress. */
  counted = 0;
  transferred = 0;
  resumedFrom = 0;
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

  bytes(n: number): void {
    this.counted += n;
    this.transferred += n;
    this.o.onBytes?.(n);
  }

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

  async fail(response: Response): Promise<never> {
    const error = await errorFromResponse(response, { path: this.label });
    if (error instanceof EntryNotFoundError) throw error;
    throw error;
  }

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
function madeProgress(before: number, after: number, total: number): boolean {
  return after - before >= Math.min(MIN_PROGRESS_BYTES, total - before) && after > before;
}

class StallError extends Error {
  constructor(ms: number) {
    super(`no data for ${Math.round(ms / 1000)}s (stalled)`);
  }
}

function describeBodyError(error: unknown): string {
  if (error instanceof StallError) return error.message;
  if (error instanceof DOMException && error.name === "AbortError" && error.message) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `connection lost mid-file (${message.split("\n")[0]})`;
}

/** Aborts `controller` when no byte has arrived for `ms`. */
class StallWatch {
  #last = Date.now();
  #timer: ReturnType<typeof setInterval>;
  constructor(ms: number, controller: AbortController) {
    this.#timer = setInterval(() => {
      if (Date.now() - this.#last > ms) controller.abort(new StallError(ms));
    }, Math.max(20, Math.min(1000, ms / 4)));
  }
  touch(): void {
    this.#last = Date.now();
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * Coalesces small network chunks into large writes. `onWritten` sees exactly the bytes the kernel
 * accepted, in order (what is hashed and counted is what was written); a failed write throws the
 * typed error of {@linkcode writeFailure} (never retried as a network error).
 */
class FileSink {
  #buffer = new Uint8Array(WRITE_BUFFER);
  #used = 0;
  constructor(
    readonly file: Deno.FsFile,
    readonly context: WriteContext,
    readonly onWritten?: (bytes: Uint8Array) => void,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#used === 0 && chunk.length >= DIRECT_WRITE) {
      // network chunks are usually 16-64 KiB: write them as they are, without a copy
      this.#writeAll(chunk);
      this.onWritten?.(chunk);
      return;
    }
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, this.#buffer.length - this.#used);
      this.#buffer.set(chunk.subarray(offset, offset + n), this.#used);
      this.#used += n;
      offset += n;
      if (this.#used === this.#buffer.length) await this.flush();
    }
  }

  // Synchronous writes: they land in the page cache in microseconds, and measured here an async
  // write op (a hand-off to Deno's blocking thread pool per call) cost 1.5-2x the system time.
  // deno-lint-ignore require-await
  async flush(): Promise<void> {
    const n = this.#used;
    if (n === 0) return;
    this.#used = 0; // a failed flush drops the buffer: its bytes were never counted as written
    const bytes = this.#buffer.subarray(0, n);
    this.#writeAll(bytes);
    this.onWritten?.(bytes);
  }

  #writeAll(bytes: Uint8Array): void {
    let written = 0;
    try {
      while (written < bytes.length) written += this.file.writeSync(written ? bytes.subarray(written) : bytes);
    } catch (error) {
      throw writeFailure(error, this.context);
    }
  }
}

/** Reads `body` into `onChunk`, aborting on stalls. Resolves at the end of the body. */
async function pump(
  body: ReadableStream<Uint8Array>,
  stall: StallWatch,
  onChunk: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      stall.touch();
      await onChunk(value);
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}

function contentRangeStart(response: Response): number | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
  return m ? Number(m[1]) : undefined;
}

async function removeIfExists(path: string): Promise<void> {
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/**
 * Flushes a file's data to the disk (`fdatasync`): a delayed write error (a full disk, a quota, an
 * I/O error) shows here rather than after the file was published. A file system that cannot sync
 * (EINVAL, ENOTSUP) is let be: the writes completed and the size is checked next.
 */
async function syncToDisk(file: Deno.FsFile, context: WriteContext): Promise<void> {
  try {
    await file.syncData();
  } catch (error) {
    const code = (error as { code?: unknown })?.code;
    if (code === "EINVAL" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS") return;
    throw writeFailure(error, context);
  }
}

/** Removes `path` when it is a symlink or anything but a regular file (the link itself, never its target). */
async function removeIfNotFile(path: string): Promise<void> {
  try {
    const stat = await Deno.lstat(path);
    if (!stat.isFile) await Deno.remove(path, { recursive: stat.isDirectory });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw writeFailure(e, { path });
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

function integrityError(job: Job, what: string): IntegrityError {
  return new IntegrityError(`downloaded '${job.label}' is corrupt: ${what}; the partial file was deleted`, {
    hint: "run the same command again; if it keeps failing, the server or a proxy is altering the file",
  });
}

/** Sequential transfer into `{etag}.incomplete`, hashed as written; `initial` is a 200 response to use first. */
async function downloadSequential(job: Job, initial?: Response): Promise<void> {
  const { size } = job;
  const path = job.paths.sequential;
  const writeContext = () => ({ path, label: job.label, bytesNeeded: size - length });
  let length = 0;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (error) {
    throw writeFailure(error, writeContext());
  }
  let hasher = createContentHasher(job.o.expected.kind, size);
  /** Truncates the partial file to nothing (the server will send the whole file). */
  const restart = async () => {
    try {
      await file.truncate(0);
      await file.seek(0, Deno.SeekMode.Start);
    } catch (error) {
      throw writeFailure(error, writeContext());
    }
    hasher = createContentHasher(job.o.expected.kind, size);
    length = 0;
  };
  try {
    length = (await file.stat()).size;
    if (initial || length > size) {
      await restart();
    } else if (length > 0) {
      // re-hash the prefix on disk (cheaper than hashing the whole file afterwards: see docs/performance.md)
      await hashFileRange(file, hasher, 0, length, new Uint8Array(HASH_READ));
    }
    job.start(length);
    await file.seek(length, Deno.SeekMode.Start);
    let failures = 0;
    let pending = initial;
    while (length < size || size === 0) {
      job.throwIfAborted();
      const controller = new AbortController();
      const before = length;
      let permit = false;
      try {
        let response = pending;
        pending = undefined;
        if (!response) {
          await job.connections.acquire(job.o.signal);
          permit = true;
          response = await job.request(length > 0 ? [length] : undefined, controller.signal);
        }
        if (response.status === 416 && length > 0) {
          // what is on disk is no prefix the server recognises: start over
          await response.body?.cancel().catch(() => {});
          await restart();
          job.setCounted(0);
          continue;
        }
        if (!response.ok) await job.fail(response);
        if (response.status === 206 && contentRangeStart(response) !== length) {
          await response.body?.cancel().catch(() => {});
          throw new NetworkError(`the server answered '${job.label}' with a different byte range than requested`);
        }
        if (response.status === 200 && length > 0) {
          // the server ignored Range: restart the file cleanly from this response
          await restart();
          job.setCounted(0);
        }
        if (!response.body) break;
        const stall = new StallWatch(job.o.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS, controller);
        const currentHasher = hasher;
        // what is hashed and counted is what reached the file, not what arrived
        const sink = new FileSink(file, writeContext(), (bytes) => {
          currentHasher.update(bytes);
          length += bytes.length;
        });
        let received = length;
        try {
          await pump(response.body, stall, async (chunk) => {
            if (received + chunk.length > size) throw integrityError(job, `the server sent more than ${size} bytes`);
            received += chunk.length;
            await sink.write(chunk);
            job.bytes(chunk.length);
          });
        } finally {
          stall.stop();
          await sink.flush();
        }
        if (size === 0) break;
        if (length < size) throw new Error(`the body ended after ${length} of ${size} bytes`);
      } catch (error) {
        if (error instanceof IntegrityError) throw error;
        failures = madeProgress(before, length, size) ? 1 : failures + 1;
        const reason = controller.signal.reason instanceof StallError ? controller.signal.reason.message : undefined;
        if (permit) job.connections.release();
        permit = false;
        await job.retryAfterBodyError(error, failures, reason);
      } finally {
        if (permit) job.connections.release();
      }
    }
    // the bytes must be on disk, all of them, before the file may take its final name
    await syncToDisk(file, writeContext());
    const onDisk = (await file.stat()).size;
    file.close();
    if (length !== size) {
      await removeIfExists(path);
      throw integrityError(job, `expected ${size} bytes, got ${length}`);
    }
    if (onDisk !== size) {
      await removeIfExists(path);
      throw new CacheError(`'${job.label}' has ${onDisk} bytes on disk after ${size} were written (${path})`, {
        hint: "check the disk holding the cache, then run the same command again",
      });
    }
    const digest = hasher.digest();
    if (digest !== job.o.expected.hash) {
      await removeIfExists(path);
      throw integrityError(job, `its ${job.o.expected.kind} is ${digest}, expected ${job.o.expected.hash}`);
    }
    try {
      await Deno.rename(path, job.o.destination);
    } catch (error) {
      throw writeFailure(error, { path: job.o.destination, label: job.label, bytesNeeded: 0 });
    }
  } catch (error) {
    try {
      file.close();
    } catch { /* already closed */ }
    if (error instanceof IntegrityError) await removeIfExists(path);
    // an empty partial file resumes nothing: leave no trace of it
    else if (length === 0 && (await fileSize(path).catch(() => undefined)) === 0) await removeIfExists(path);
    throw error;
  }
}

/** Progress of the ranges of one large file, as saved in the sidecar. */
interface RangeState {
  size: number;
  chunkSize: number;
  hash: string;
  /** Bytes on disk from the start of each range. */
  done: number[];
}

async function loadRangeState(job: Job): Promise<RangeState> {
  const { size, chunkSize } = job;
  const count = Math.ceil(size / chunkSize);
  const fresh = (): RangeState => ({ size, chunkSize, hash: job.o.expected.hash, done: new Array(count).fill(0) });
  try {
    const saved = JSON.parse(await Deno.readTextFile(job.paths.rangedState)) as RangeState;
    const onDisk = await fileSize(job.paths.ranged);
    if (
      saved.size === size && saved.hash === job.o.expected.hash && onDisk === size && saved.chunkSize > 0 &&
      Array.isArray(saved.done) && saved.done.length === Math.ceil(size / saved.chunkSize) &&
      saved.done.every((d, i) => Number.isInteger(d) && d >= 0 && d <= rangeEnd(saved, i) - i * saved.chunkSize)
    ) {
      return saved;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) && !(e instanceof SyntaxError)) throw e;
  }
  await removeIfExists(job.paths.ranged);
  const state = fresh();
  // a sequential partial (from an earlier run or from Python) becomes the first bytes of the ranged file
  const prefix = await fileSize(job.paths.sequential);
  if (prefix !== undefined && prefix > 0 && prefix <= size) {
    await Deno.rename(job.paths.sequential, job.paths.ranged);
    for (let i = 0; i < count; i++) {
      state.done[i] = Math.max(0, Math.min(prefix, rangeEnd(state, i)) - i * chunkSize);
    }
  } else if (prefix !== undefined) {
    await removeIfExists(job.paths.sequential);
  }
  return state;
}

function rangeEnd(state: { size: number; chunkSize: number }, i: number): number {
  return Math.min(state.size, (i + 1) * state.chunkSize);
}

/**
 * The sidecar's text, padded with spaces to the length it has when every range is complete, so that
 * it never grows: on a full disk it can still be overwritten in place.
 */
function rangeStateText(state: RangeState): string {
  const full = { ...state, done: state.done.map((_, i) => rangeEnd(state, i) - i * state.chunkSize) };
  const text = JSON.stringify(state);
  return text.padEnd(JSON.stringify(full).length, " ");
}

async function saveRangeState(job: Job, state: RangeState): Promise<void> {
  const text = rangeStateText(state);
  const tmp = `${job.paths.rangedState}.${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, job.paths.rangedState);
  } catch (error) {
    // a full disk leaves a half-written temporary file: never leave it behind
    await Deno.remove(tmp).catch(() => {});
    // the sidecar already has its full length: overwriting it in place needs no new disk block
    if (isDiskFull(error) && await overwriteInPlace(job.paths.rangedState, text)) return;
    throw writeFailure(error, { path: job.paths.rangedState, label: job.label });
  }
}

/** Writes `text` over the start of an existing file of at least its length; false when that is not possible. */
async function overwriteInPlace(path: string, text: string): Promise<boolean> {
  const bytes = new TextEncoder().encode(text);
  try {
    if (((await Deno.stat(path)).size) !== bytes.length) return false;
    const file = await Deno.open(path, { write: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
    } finally {
      file.close();
    }
    return true;
  } catch {
    return false;
  }
}

/** Parallel byte ranges into `{etag}.ranges.incomplete`; returns a 200 response when the server ignores `Range`. */
async function downloadRanged(job: Job): Promise<"done" | Response> {
  const state = await loadRangeState(job);
  const { size } = job;
  const count = state.done.length;
  try {
    const file = await Deno.open(job.paths.ranged, { read: true, write: true, create: true });
    try {
      if ((await file.stat()).size !== size) await file.truncate(size);
    } finally {
      file.close();
    }
  } catch (error) {
    throw writeFailure(error, { path: job.paths.ranged, label: job.label, bytesNeeded: size });
  }
  // the sidecar exists before the first byte: a transfer cut short (a full disk, kill -9) stays resumable
  await saveRangeState(job, state);
  const resumed = state.done.reduce((a, b) => a + b, 0);
  job.start(resumed);

  const pending: number[] = [];
  for (let i = 0; i < count; i++) if (state.done[i] < rangeEnd(state, i) - i * state.chunkSize) pending.push(i);
  const internal = new AbortController();
  const signal = job.o.signal ? AbortSignal.any([job.o.signal, internal.signal]) : internal.signal;
  let wake: () => void = () => {};
  let progressed = new Promise<void>((r) => wake = r);
  const notify = () => {
    const w = wake;
    progressed = new Promise<void>((r) => wake = r);
    w();
  };
  let failure: unknown;
  let dirty = false;
  const saver = setInterval(() => {
    if (dirty) {
      dirty = false;
      saveRangeState(job, state).catch(() => {});
    }
  }, STATE_SAVE_INTERVAL_MS);

  // the hasher follows the contiguous prefix on disk
  const hasher = createContentHasher(job.o.expected.kind, size);
  const frontier = () => {
    let end = 0;
    for (let i = 0; i < count; i++) {
      end = i * state.chunkSize + state.done[i];
      if (end < rangeEnd(state, i)) break;
    }
    return end;
  };
  // Bytes are hashed exactly once, in order: the range whose next byte is `hashed` feeds the hasher
  // straight from the network (so one connection never re-reads anything), while ranges that
  // arrived ahead are read back from disk by the follower once the prefix before them is complete.
  let hashed = 0;
  let following = false;
  const hashInline = (position: number, chunk: Uint8Array) => {
    if (following || position !== hashed) return;
    hasher.update(chunk);
    hashed += chunk.length;
  };
  const follow = async () => {
    const reader = await Deno.open(job.paths.ranged, { read: true });
    const buffer = new Uint8Array(HASH_READ);
    try {
      while (hashed < size) {
        const end = frontier();
        if (end > hashed) {
          const next = Math.min(end, hashed + buffer.length);
          following = true;
          try {
            await hashFileRange(reader, hasher, hashed, next, buffer);
          } finally {
            following = false;
          }
          hashed = next;
          continue;
        }
        if (failure !== undefined) return;
        await progressed;
      }
    } finally {
      reader.close();
    }
  };

  let ignored: Response | undefined;
  let rangesWork = false;
  let onRangesWork: () => void = () => {};
  const rangesWorkKnown = new Promise<void>((r) => onRangesWork = r);
  const fetchRange = async (i: number, writer: Deno.FsFile) => {
    let failures = 0;
    const start0 = i * state.chunkSize;
    const end = rangeEnd(state, i);
    while (state.done[i] < end - start0) {
      if (signal.aborted) throw failure ?? new InterruptedError("interrupted");
      const from = start0 + state.done[i];
      const before = state.done[i];
      const controller = new AbortController();
      const both = AbortSignal.any([controller.signal, internal.signal]);
      try {
        const response = await job.request([from, end - 1], both);
        if (response.status === 200) {
          if (!rangesWork && !ignored) {
            ignored = response;
            throw new RangeIgnored();
          }
          await response.body?.cancel().catch(() => {});
          throw new Error("the server answered a range request with the whole file");
        }
        if (!response.ok) await job.fail(response);
        if (contentRangeStart(response) !== from || !response.body) {
          await response.body?.cancel().catch(() => {});
          throw new Error(`the server answered with a different byte range than ${from}-${end - 1}`);
        }
        rangesWork = true;
        onRangesWork();
        await writer.seek(from, Deno.SeekMode.Start);
        const stall = new StallWatch(job.o.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS, controller);
        // what is hashed and counted is what reached the file, not what arrived
        let written = 0;
        const sink = new FileSink(
          writer,
          { path: job.paths.ranged, label: job.label, bytesNeeded: size - frontier() },
          (bytes) => {
            hashInline(from + written, bytes);
            written += bytes.length;
            state.done[i] += bytes.length;
            dirty = true;
            notify();
          },
        );
        let received = 0;
        try {
          await pump(response.body, stall, async (chunk) => {
            if (from + received + chunk.length > end) {
              throw new Error(`the server sent more than the requested range ${from}-${end - 1}`);
            }
            received += chunk.length;
            await sink.write(chunk);
            job.bytes(chunk.length);
          });
        } finally {
          stall.stop();
          await sink.flush();
        }
      } catch (error) {
        if (error instanceof RangeIgnored) throw error;
        if (internal.signal.aborted) throw failure ?? error;
        failures = madeProgress(before, state.done[i], end - start0) ? 1 : failures + 1;
        const reason = controller.signal.reason instanceof StallError ? controller.signal.reason.message : undefined;
        await job.retryAfterBodyError(error, failures, reason);
      }
    }
  };

  const worker = async (first: boolean) => {
    const writer = await Deno.open(job.paths.ranged, { write: true });
    try {
      while (pending.length > 0 && failure === undefined) {
        const i = pending.shift()!;
        if (!first) await job.connections.acquire(signal);
        first = false;
        try {
          await fetchRange(i, writer);
        } finally {
          job.connections.release();
        }
      }
    } catch (error) {
      if (failure === undefined) failure = error;
      // a 200 answer to the first range is handed over to the sequential transfer: keep its body open
      if (!(error instanceof RangeIgnored)) internal.abort(error);
      notify();
    } finally {
      writer.close();
      onRangesWork();
    }
  };

  const followed = follow();
  try {
    // the first range alone: it tells whether the server honours Range at all
    await job.connections.acquire(job.o.signal);
    const workers: Promise<void>[] = [];
    const probe = pending.shift();
    if (probe !== undefined) {
      pending.unshift(probe);
      const firstWorker = worker(true);
      workers.push(firstWorker);
      // start the others once the first response proved that the server honours ranges, and only
      // when one connection is not already fast enough to keep this machine busy (loopback, LAN)
      await rangesWorkKnown;
      const fast = await singleStreamIsFast(job, firstWorker, () => progressed);
      const extra = fast ? 0 : Math.min((job.o.maxConnections ?? 8) - 1, pending.length);
      for (let k = 0; k < extra && failure === undefined; k++) workers.push(worker(false));
    } else {
      job.connections.release();
    }
    await Promise.all(workers);
    notify();
    await followed;
  } finally {
    clearInterval(saver);
  }
  if (failure instanceof RangeIgnored && ignored) {
    await removeIfExists(job.paths.ranged);
    await removeIfExists(job.paths.rangedState);
    return ignored;
  }
  if (failure !== undefined) {
    await saveRangeState(job, state).catch(() => {});
    throw failure;
  }
  // the bytes must be on disk before the file may take its final name
  try {
    const file = await Deno.open(job.paths.ranged, { write: true });
    try {
      await syncToDisk(file, { path: job.paths.ranged, label: job.label, bytesNeeded: 0 });
    } finally {
      file.close();
    }
  } catch (error) {
    throw writeFailure(error, { path: job.paths.ranged, label: job.label, bytesNeeded: 0 });
  }
  const digest = hasher.digest();
  if (digest !== job.o.expected.hash) {
    await removeIfExists(job.paths.ranged);
    await removeIfExists(job.paths.rangedState);
    throw integrityError(job, `its ${job.o.expected.kind} is ${digest}, expected ${job.o.expected.hash}`);
  }
  try {
    await Deno.rename(job.paths.ranged, job.o.destination);
  } catch (error) {
    throw writeFailure(error, { path: job.o.destination, label: job.label, bytesNeeded: 0 });
  }
  await removeIfExists(job.paths.rangedState);
  return "done";
}

/**
 * Watches the first range for up to {@linkcode PROBE_BYTES} / {@linkcode PROBE_MS}: true when one
 * connection already delivers `fastStreamBytesPerSecond` (more connections would only add CPU work).
 */
async function singleStreamIsFast(job: Job, firstWorker: Promise<void>, progressed: () => Promise<void>) {
  const threshold = job.o.fastStreamBytesPerSecond ?? DEFAULT_FAST_STREAM;
  if (!Number.isFinite(threshold)) return false;
  const start = performance.now();
  const startBytes = job.transferred;
  let finished = false;
  firstWorker.finally(() => finished = true);
  while (!finished && job.transferred - startBytes < PROBE_BYTES && performance.now() - start < PROBE_MS) {
    await Promise.race([progressed(), firstWorker.catch(() => {}), sleep(20)]);
  }
  const seconds = (performance.now() - start) / 1000;
  return seconds > 0 && (job.transferred - startBytes) / seconds >= threshold;
}

class RangeIgnored extends Error {
  constructor() {
    super("the server ignored Range");
  }
}
