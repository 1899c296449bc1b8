/**
 * The sequential engine: one connection streams the file into `blobs/{etag}.incomplete`, hashed as the
 * bytes reach the disk. That file is always a prefix of the content, exactly as Python's
 * huggingface_hub leaves it, so either tool resumes the other's partial file with a `Range: bytes=N-`
 * request (the prefix on disk is re-hashed first). A server that ignores `Range` (200), or answers 416
 * to the prefix, restarts the file from byte 0. Used for small files, for servers without `Range`, and
 * to continue the 200 answer the ranged engine got to its first range.
 *
 * @module
 */
import { CacheError, IntegrityError, NetworkError } from "../errors.ts";
import { type ContentHasher, createContentHasher, hashFileRange } from "./content_hash.ts";
import { FileSink, syncToDisk } from "./file_sink.ts";
import { fileSize, removeIfExists } from "./partial_files.ts";
import { pump, StallError, StallWatch } from "./stall_watch.ts";
import { contentRangeStart, DEFAULT_STALL_TIMEOUT_MS, madeProgress, type TransferJob } from "./transfer_job.ts";
import { writeFailure } from "./write_failure.ts";

/** Bytes read per step when the prefix on disk is re-hashed. */
const HASH_READ = 1024 * 1024;

/** Sequential transfer into `{etag}.incomplete`, hashed as written; `initial` is a 200 response to use first. */
export async function downloadSequential(job: TransferJob, initial?: Response): Promise<void> {
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
            if (received + chunk.length > size) throw job.corrupt(`the server sent more than ${size} bytes`);
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
    await publish(job, file, length, hasher);
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

/**
 * The last phase: the bytes must be on disk, all of them, before the file may take its final name;
 * then the size (as counted and as the file system reports it) and the hash must match. Closes `file`.
 */
async function publish(job: TransferJob, file: Deno.FsFile, length: number, hasher: ContentHasher): Promise<void> {
  const { size } = job;
  const path = job.paths.sequential;
  await syncToDisk(file, { path, label: job.label, bytesNeeded: size - length });
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
  const digest = hasher.digest();
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
