/**
 * The ranged engine: a large file is fetched as parallel byte ranges into the preallocated
 * `blobs/{etag}.ranges.incomplete` (a different name from the sequential partial on purpose: it is
 * not a prefix, and Python must never mistake it for one).
 *
 * A transfer ({@linkcode RangedTransfer}) runs in named phases:
 *
 * 1. {@linkcode RangedTransfer.open}: load the {@linkcode RangePlan} (resumed from the sidecar, or
 *    fresh), preallocate the file, and save the sidecar before the first byte, so that a transfer cut
 *    short (a full disk, kill -9) stays resumable.
 * 2. {@linkcode RangedTransfer.run}: fetch the first pending range alone (it tells whether the server
 *    honours `Range` at all; a 200 answer is handed back for the sequential engine to continue), then,
 *    unless one connection is already fast enough, start more workers, each fetching pending ranges
 *    one after the other. Meanwhile the in-order hasher follows the contiguous prefix, and the sidecar
 *    is saved every second while bytes arrive.
 * 3. Finish: sync the file to disk, compare the hash, rename it to `blobs/{etag}`, delete the sidecar.
 *
 * A range whose connection drops or stalls is retried from the bytes it already wrote; a write error
 * (a full disk) stops every worker and is never retried.
 *
 * @module
 */
import { InterruptedError } from "../errors.ts";
import { syncToDisk } from "./file_sink.ts";
import { receiveBody } from "./receive_body.ts";
import { sleep } from "../sleep.ts";
import { InOrderHasher } from "./in_order_hasher.ts";
import { removeIfExists } from "./partial_files.ts";
import type { RangePlan } from "./range_plan.ts";
import { loadRangePlan, saveRangePlan } from "./range_sidecar.ts";
import { StallError } from "./stall_watch.ts";
import { contentRangeStart, DEFAULT_FAST_STREAM, madeProgress, type TransferJob } from "./transfer_job.ts";
import { writeFailure } from "../write_failure.ts";

/** The first range is watched for up to this many bytes to measure one connection's speed. */
const PROBE_BYTES = 4 * 1024 * 1024;
/** … or for this long, ms. */
const PROBE_MS = 1000;
/** The sidecar is saved at most this often while bytes arrive, ms. */
const STATE_SAVE_INTERVAL_MS = 1000;

/**
 * Parallel byte ranges into `{etag}.ranges.incomplete`; returns a 200 response when the server ignores
 * `Range` (the caller continues it sequentially), `"done"` once the file is verified and published.
 */
export async function downloadRanged(job: TransferJob): Promise<"done" | Response> {
  const transfer = await RangedTransfer.open(job);
  return await transfer.run();
}

/** Thrown by the first range when the server answered it with the whole file (200). */
class RangeIgnored extends Error {
  constructor() {
    super("the server ignored Range");
  }
}

/** A promise that resolves on the next {@linkcode Pulse.notify}: how waiting code learns that bytes moved. */
class Pulse {
  #wake: () => void = () => {};
  #next = new Promise<void>((r) => this.#wake = r);
  /** Resolves at the next notification. */
  get next(): Promise<void> {
    return this.#next;
  }
  /** Wakes everyone waiting on {@linkcode next}. */
  notify(): void {
    const wake = this.#wake;
    this.#next = new Promise<void>((r) => this.#wake = r);
    wake();
  }
}

/** One ranged transfer of one file: its plan, its workers, its hasher (see the module doc for the phases). */
export class RangedTransfer {
  readonly #job: TransferJob;
  readonly #plan: RangePlan;
  readonly #hasher: InOrderHasher;
  /** Parts no worker has taken yet, in file order. */
  readonly #pending: number[];
  /** Aborts every worker once one failed. */
  readonly #internal = new AbortController();
  /** The caller's signal and {@linkcode #internal} together. */
  readonly #signal: AbortSignal;
  /** Bytes moved or a worker ended. */
  readonly #progress = new Pulse();
  /** The first error of any worker; the others stop at their next part. */
  #failure: unknown;
  /** The plan changed since the sidecar was last saved. */
  #dirty = false;
  /** The server's 200 answer to the first range, kept open for the sequential engine. */
  #ignored?: Response;
  /** A 206 answer proved that the server honours ranges. */
  #rangesWork = false;
  #onRangesWork: () => void = () => {};
  /** Resolves once the first range was answered with 206, or its worker ended. */
  readonly #rangesWorkKnown = new Promise<void>((r) => this.#onRangesWork = r);

  private constructor(job: TransferJob, plan: RangePlan) {
    this.#job = job;
    this.#plan = plan;
    this.#hasher = new InOrderHasher(job.o.expected.kind, job.size);
    this.#pending = plan.pending();
    this.#signal = job.o.signal ? AbortSignal.any([job.o.signal, this.#internal.signal]) : this.#internal.signal;
  }

  /**
   * Phase 1: loads the plan, preallocates the file to its full size and saves the sidecar before the
   * first byte; the job starts counting from the bytes already on disk.
   */
  static async open(job: TransferJob): Promise<RangedTransfer> {
    const { size, paths } = job;
    const plan = await loadRangePlan(paths, { size, hash: job.o.expected.hash }, job.chunkSize);
    try {
      const file = await Deno.open(paths.ranged, { read: true, write: true, create: true });
      try {
        if ((await file.stat()).size !== size) await file.truncate(size);
      } finally {
        file.close();
      }
    } catch (error) {
      throw writeFailure(error, { path: paths.ranged, label: job.label, bytesNeeded: size });
    }
    // the sidecar exists before the first byte: a transfer cut short (a full disk, kill -9) stays resumable
    await saveRangePlan(paths.rangedState, plan, job.label);
    job.start(plan.bytesDone());
    return new RangedTransfer(job, plan);
  }

  /** Phases 2 and 3: fetches the pending ranges, then verifies and publishes the file. */
  async run(): Promise<"done" | Response> {
    const job = this.#job;
    const saver = setInterval(() => {
      if (this.#dirty) {
        this.#dirty = false;
        this.#saveState().catch(() => {});
      }
    }, STATE_SAVE_INTERVAL_MS);
    const followed = this.#follow();
    try {
      await this.#runWorkers();
      this.#progress.notify();
      await followed;
    } finally {
      clearInterval(saver);
    }
    if (this.#failure instanceof RangeIgnored && this.#ignored) {
      await removeIfExists(job.paths.ranged);
      await removeIfExists(job.paths.rangedState);
      return this.#ignored;
    }
    if (this.#failure !== undefined) {
      await this.#saveState().catch(() => {});
      throw this.#failure;
    }
    await this.#finish();
    return "done";
  }

  #saveState(): Promise<void> {
    return saveRangePlan(this.#job.paths.rangedState, this.#plan, this.#job.label);
  }

  /**
   * The first pending range alone, on one connection: it tells whether the server honours `Range`. The
   * others start once its 206 answer came, and only when one connection is not already fast enough to
   * keep this machine busy (loopback, LAN).
   */
  async #runWorkers(): Promise<void> {
    const job = this.#job;
    await job.connections.acquire(job.o.signal);
    if (this.#pending.length === 0) {
      job.connections.release();
      return;
    }
    const workers: Promise<void>[] = [];
    const firstWorker = this.#worker(true);
    workers.push(firstWorker);
    await this.#rangesWorkKnown;
    const fast = await this.#singleStreamIsFast(firstWorker);
    const extra = fast ? 0 : Math.min((job.o.maxConnections ?? 8) - 1, this.#pending.length);
    for (let k = 0; k < extra && this.#failure === undefined; k++) workers.push(this.#worker(false));
    await Promise.all(workers);
  }

  /**
   * Watches the first range for up to {@linkcode PROBE_BYTES} / {@linkcode PROBE_MS}: true when one
   * connection already delivers `fastStreamBytesPerSecond` (more connections would only add CPU work).
   */
  async #singleStreamIsFast(firstWorker: Promise<void>): Promise<boolean> {
    const job = this.#job;
    const threshold = job.o.fastStreamBytesPerSecond ?? DEFAULT_FAST_STREAM;
    if (!Number.isFinite(threshold)) return false;
    const start = performance.now();
    const startBytes = job.transferred;
    let finished = false;
    firstWorker.finally(() => finished = true);
    while (!finished && job.transferred - startBytes < PROBE_BYTES && performance.now() - start < PROBE_MS) {
      await Promise.race([this.#progress.next, firstWorker.catch(() => {}), sleep(20)]);
    }
    const seconds = (performance.now() - start) / 1000;
    return seconds > 0 && (job.transferred - startBytes) / seconds >= threshold;
  }

  /**
   * One worker: takes pending parts one after the other, each under a connection permit (the first
   * worker's first part uses the permit {@linkcode #runWorkers} took). Its error stops all workers.
   */
  async #worker(first: boolean): Promise<void> {
    const job = this.#job;
    const writer = await Deno.open(job.paths.ranged, { write: true });
    try {
      while (this.#pending.length > 0 && this.#failure === undefined) {
        const i = this.#pending.shift()!;
        if (!first) await job.connections.acquire(this.#signal);
        first = false;
        try {
          await this.#fetchPart(i, writer);
        } finally {
          job.connections.release();
        }
      }
    } catch (error) {
      if (this.#failure === undefined) this.#failure = error;
      // a 200 answer to the first range is handed over to the sequential transfer: keep its body open
      if (!(error instanceof RangeIgnored)) this.#internal.abort(error);
      this.#progress.notify();
    } finally {
      writer.close();
      this.#onRangesWork();
    }
  }

  /** Fetches part `i` until it is complete, resuming from its bytes on disk after a dropped or stalled connection. */
  async #fetchPart(i: number, writer: Deno.FsFile): Promise<void> {
    const job = this.#job;
    const plan = this.#plan;
    let failures = 0;
    while (!plan.isComplete(i)) {
      if (this.#signal.aborted) throw this.#failure ?? new InterruptedError("interrupted");
      const from = plan.nextByte(i);
      const before = plan.done(i);
      const controller = new AbortController();
      try {
        await this.#fetchOnce(i, from, writer, controller);
      } catch (error) {
        if (error instanceof RangeIgnored) throw error;
        if (this.#internal.signal.aborted) throw this.#failure ?? error;
        failures = madeProgress(before, plan.done(i), plan.length(i)) ? 1 : failures + 1;
        const reason = controller.signal.reason instanceof StallError ? controller.signal.reason.message : undefined;
        await job.retryAfterBodyError(error, failures, reason);
      }
    }
  }

  /**
   * One request for bytes `from` to the end of part `i`, written at their place in the file through the
   * shared receive loop ({@linkcode receiveBody}). What is hashed and counted is what reached the file, not
   * what arrived.
   */
  async #fetchOnce(i: number, from: number, writer: Deno.FsFile, controller: AbortController): Promise<void> {
    const job = this.#job;
    const plan = this.#plan;
    const end = plan.end(i);
    const response = await job.request([from, end - 1], AbortSignal.any([controller.signal, this.#internal.signal]));
    if (response.status === 200) {
      if (!this.#rangesWork && !this.#ignored) {
        this.#ignored = response;
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
    this.#rangesWork = true;
    this.#onRangesWork();
    await writer.seek(from, Deno.SeekMode.Start);
    let written = 0;
    await receiveBody(job, response.body, {
      file: writer,
      context: { path: job.paths.ranged, label: job.label, bytesNeeded: job.size - plan.contiguousEnd() },
      controller,
      limit: end - from,
      overflow: () => new Error(`the server sent more than the requested range ${from}-${end - 1}`),
      onWritten: (bytes) => {
        this.#hasher.offer(from + written, bytes);
        written += bytes.length;
        plan.record(i, bytes.length);
        this.#dirty = true;
        this.#progress.notify();
      },
    });
  }

  /**
   * The hash follower: bytes are hashed exactly once, in order. The range whose next byte is the
   * hasher's position feeds it straight from the network (see {@linkcode #fetchOnce}); ranges that
   * arrived ahead are read back from disk here once the prefix before them is complete. Returns when
   * everything is hashed, or when a worker failed and nothing more can be hashed.
   */
  async #follow(): Promise<void> {
    const reader = await Deno.open(this.#job.paths.ranged, { read: true });
    try {
      while (this.#hasher.hashed < this.#job.size) {
        const end = this.#plan.contiguousEnd();
        if (end > this.#hasher.hashed) {
          await this.#hasher.catchUp(reader, end);
          continue;
        }
        if (this.#failure !== undefined) return;
        await this.#progress.next;
      }
    } finally {
      reader.close();
    }
  }

  /** Phase 3: the bytes must be on disk before the file may take its final name, and its hash must match. */
  async #finish(): Promise<void> {
    const job = this.#job;
    const { paths } = job;
    try {
      const file = await Deno.open(paths.ranged, { write: true });
      try {
        await syncToDisk(file, { path: paths.ranged, label: job.label, bytesNeeded: 0 });
      } finally {
        file.close();
      }
    } catch (error) {
      throw writeFailure(error, { path: paths.ranged, label: job.label, bytesNeeded: 0 });
    }
    const digest = this.#hasher.digest();
    if (digest !== job.o.expected.hash) {
      await removeIfExists(paths.ranged);
      await removeIfExists(paths.rangedState);
      throw job.corrupt(`its ${job.o.expected.kind} is ${digest}, expected ${job.o.expected.hash}`);
    }
    try {
      await Deno.rename(paths.ranged, job.o.destination);
    } catch (error) {
      throw writeFailure(error, { path: job.o.destination, label: job.label, bytesNeeded: 0 });
    }
    await removeIfExists(paths.rangedState);
  }
}
