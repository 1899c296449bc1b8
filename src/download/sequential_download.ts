/**
 * The sequential engine: one connection streams the file into `blobs/{etag}.incomplete`, hashed as the
 * bytes reach the disk. That file is always a prefix of the content, exactly as Python's
 * huggingface_hub leaves it, so either tool resumes the other's partial file with a `Range: bytes=N-`
 * request (the prefix on disk is re-hashed first). A server that ignores `Range` (200), or answers 416
 * to the prefix, restarts the file from byte 0. Used for small files, for servers without `Range`, and
 * to continue the 200 answer the ranged engine got to its first range.
 *
 * A transfer ({@linkcode SequentialTransfer}) runs in named phases: resume (the prefix on disk is
 * re-hashed, or the file restarts), fetch (requests until every byte is on disk, each retried from the
 * bytes written after a drop or a stall), publish (sync, size, hash, rename).
 *
 * @module
 */
import { CacheError, IntegrityError, NetworkError } from "../errors.ts";
import { type ContentHasher, createContentHasher, hashFileRange } from "./content_hash.ts";
import { syncToDisk } from "./file_sink.ts";
import { receiveBody } from "./receive_body.ts";
import { fileSize, removeIfExists } from "./partial_files.ts";
import { StallError } from "./stall_watch.ts";
import { contentRangeStart, madeProgress, type TransferJob } from "./transfer_job.ts";
import { type WriteContext, writeFailure } from "../write_failure.ts";

/** Bytes read per step when the prefix on disk is re-hashed. */
const HASH_READ = 1024 * 1024;

/** Sequential transfer into `{etag}.incomplete`, hashed as written; `initial` is a 200 response to use first. */
export async function downloadSequential(job: TransferJob, initial?: Response): Promise<void> {
  await new SequentialTransfer(job).run(initial);
}

/** One sequential transfer of one file into its prefix partial `{etag}.incomplete`. */
export class SequentialTransfer {
  readonly #job: TransferJob;
  readonly #path: string;
  #file?: Deno.FsFile;
  #hasher: ContentHasher;
  /** Bytes in the partial file, all of them hashed. */
  #length = 0;

  constructor(job: TransferJob) {
    this.#job = job;
    this.#path = job.paths.sequential;
    this.#hasher = createContentHasher(job.o.expected.kind, job.size);
  }

  /** Resumes, fetches and publishes the file; `initial` is a 200 response to continue first. */
  async run(initial?: Response): Promise<void> {
    try {
      this.#file = await Deno.open(this.#path, { read: true, write: true, create: true });
    } catch (error) {
      throw writeFailure(error, this.#writeContext());
    }
    const file = this.#file;
    try {
      await this.#resume(file, initial !== undefined);
      await this.#fetch(initial);
      await this.#publish(file);
    } catch (error) {
      try {
        file.close();
      } catch { /* already closed */ }
      if (error instanceof IntegrityError) await removeIfExists(this.#path);
      // an empty partial file resumes nothing: leave no trace of it
      else if (this.#length === 0 && (await fileSize(this.#path).catch(() => undefined)) === 0) {
        await removeIfExists(this.#path);
      }
      throw error;
    }
  }

  #writeContext(): WriteContext {
    return { path: this.#path, label: this.#job.label, bytesNeeded: this.#job.size - this.#length };
  }

  /**
   * Continues the bytes on disk (re-hashing them is cheaper than hashing the whole file afterwards: see
   * docs/performance.md), or starts over when the server will send the whole file or the partial is
   * longer than the file.
   */
  async #resume(file: Deno.FsFile, restart: boolean): Promise<void> {
    const { size } = this.#job;
    this.#length = (await file.stat()).size;
    if (restart || this.#length > size) {
      await this.#restart();
    } else if (this.#length > 0) {
      await hashFileRange(file, this.#hasher, 0, this.#length, new Uint8Array(HASH_READ));
    }
    this.#job.start(this.#length);
    await file.seek(this.#length, Deno.SeekMode.Start);
  }

  /** Truncates the partial file to nothing (the server will send the whole file). */
  async #restart(): Promise<void> {
    const file = this.#file!;
    try {
      await file.truncate(0);
      await file.seek(0, Deno.SeekMode.Start);
    } catch (error) {
      throw writeFailure(error, this.#writeContext());
    }
    this.#hasher = createContentHasher(this.#job.o.expected.kind, this.#job.size);
    this.#length = 0;
  }

  /**
   * Requests the rest of the file (`Range: bytes={length}-`) until every byte is on disk; a dropped or
   * stalled connection is retried from the bytes written, a wrong answer or a write error is not.
   */
  async #fetch(initial?: Response): Promise<void> {
    const job = this.#job;
    const { size } = job;
    let failures = 0;
    let pending = initial;
    while (this.#length < size || size === 0) {
      job.throwIfAborted();
      const controller = new AbortController();
      const before = this.#length;
      let permit = false;
      try {
        let response = pending;
        pending = undefined;
        if (!response) {
          await job.connections.acquire(job.o.signal);
          permit = true;
          response = await job.request(this.#length > 0 ? [this.#length] : undefined, controller.signal);
        }
        if (response.status === 416 && this.#length > 0) {
          // what is on disk is no prefix the server recognises: start over
          await response.body?.cancel().catch(() => {});
          await this.#restart();
          job.setCounted(0);
          continue;
        }
        if (!response.ok) await job.fail(response);
        if (response.status === 206 && contentRangeStart(response) !== this.#length) {
          await response.body?.cancel().catch(() => {});
          throw new NetworkError(`the server answered '${job.label}' with a different byte range than requested`);
        }
        if (response.status === 200 && this.#length > 0) {
          // the server ignored Range: restart the file cleanly from this response
          await this.#restart();
          job.setCounted(0);
        }
        if (!response.body) break;
        await this.#receive(response.body, controller);
        if (size === 0) break;
        if (this.#length < size) throw new Error(`the body ended after ${this.#length} of ${size} bytes`);
      } catch (error) {
        if (error instanceof IntegrityError) throw error;
        failures = madeProgress(before, this.#length, size) ? 1 : failures + 1;
        const reason = controller.signal.reason instanceof StallError ? controller.signal.reason.message : undefined;
        if (permit) job.connections.release();
        permit = false;
        await job.retryAfterBodyError(error, failures, reason);
      } finally {
        if (permit) job.connections.release();
      }
    }
  }

  /**
   * Appends `body` to the file through the shared receive loop ({@linkcode receiveBody}), aborting `controller`
   * on a stall. What is hashed and counted is what reached the file, not what arrived; a body longer than the
   * file is an {@linkcode IntegrityError}.
   */
  async #receive(body: ReadableStream<Uint8Array>, controller: AbortController): Promise<void> {
    const { size } = this.#job;
    const hasher = this.#hasher;
    await receiveBody(this.#job, body, {
      file: this.#file!,
      context: this.#writeContext(),
      controller,
      limit: size - this.#length,
      overflow: () => this.#job.corrupt(`the server sent more than ${size} bytes`),
      onWritten: (bytes) => {
        hasher.update(bytes);
        this.#length += bytes.length;
      },
    });
  }

  /**
   * The last phase: the bytes must be on disk, all of them, before the file may take its final name;
   * then the size (as counted and as the file system reports it) and the hash must match. Closes `file`.
   */
  async #publish(file: Deno.FsFile): Promise<void> {
    const job = this.#job;
    const { size } = job;
    const path = this.#path;
    const length = this.#length;
    await syncToDisk(file, this.#writeContext());
    const onDisk = (await file.stat()).size;
    file.close();
    if (length !== size) {
      await removeIfExists(path);
      throw job.corrupt(`expected ${size} bytes, got ${length}`);
    }
    if (onDisk !== size) {
      await removeIfExists(path);
      throw new CacheError(`'${job.label}' has ${onDisk} bytes on disk after ${size} were written (${path})`, {
        hint: "check the disk holding the cache, then run the same command again",
      });
    }
    const digest = this.#hasher.digest();
    if (digest !== job.o.expected.hash) {
      await removeIfExists(path);
      throw job.corrupt(`its ${job.o.expected.kind} is ${digest}, expected ${job.o.expected.hash}`);
    }
    try {
      await Deno.rename(path, job.o.destination);
    } catch (error) {
      throw writeFailure(error, { path: job.o.destination, label: job.label, bytesNeeded: 0 });
    }
  }
}
