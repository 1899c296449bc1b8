/**
 * Downloads one file into the cache's `blobs/` folder, verified and resumable. This is the entry point
 * ({@linkcode downloadBlob}); the work is done by two engines:
 *
 * - Small files (and servers without `Range`) go through the sequential engine
 *   (sequential_download.ts): one stream into `blobs/{etag}.incomplete`, hashed as the bytes arrive.
 *   That file is always a prefix of the content, exactly as Python's huggingface_hub leaves it, so
 *   either tool resumes the other's partial file with a `Range: bytes=N-` request (the prefix on disk
 *   is re-hashed first).
 * - Large files go through the ranged engine (ranged_download.ts): parallel byte ranges into a
 *   preallocated `blobs/{etag}.ranges.incomplete` (a different name on purpose: it is not a prefix, and
 *   Python must never mistake it for one). `blobs/{etag}.ranges.json.incomplete` records how many bytes
 *   of each range are on disk (range_plan.ts, range_sidecar.ts), so an interrupted transfer continues
 *   where each range stopped. An in-order hasher (in_order_hasher.ts) follows the contiguous prefix
 *   while ranges arrive, so little hashing is left when the last range lands.
 * - Only a file whose size and hash match is renamed to `blobs/{etag}`; a mismatch deletes the
 *   partial file and raises `IntegrityError`.
 * - Dropped connections and stalls (no byte for `stallTimeoutMs`, stall_watch.ts) are retried from the
 *   bytes already written, with backoff, a bounded number of times without progress (an attempt that
 *   moved less than 1 MiB, short of finishing, counts as none: a trickle is no progress); then
 *   `NetworkError` naming the file (transfer_job.ts). 5xx and 429 are retried by
 *   `fetchWithRetry`. A write error (file_sink.ts: a full disk) is never retried.
 *
 * @module
 */
import { adoptPythonPartial, partialPaths, removeIfNotFile } from "./partial_files.ts";
import { downloadRanged } from "./ranged_download.ts";
import { downloadSequential } from "./sequential_download.ts";
import {
  type BlobDownloadOptions,
  type BlobDownloadResult,
  DEFAULT_RANGE_THRESHOLD,
  TransferJob,
} from "./transfer_job.ts";

export { adoptPythonPartial, partialPaths };
export {
  type BlobDownloadOptions,
  type BlobDownloadResult,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_FAST_STREAM,
  DEFAULT_RANGE_THRESHOLD,
  DEFAULT_STALL_TIMEOUT_MS,
} from "./transfer_job.ts";

/**
 * Downloads `options.url` to `options.destination`, verified (see the module doc).
 *
 * @throws {IntegrityError} the content does not match the expected size or hash (nothing is left behind).
 * @throws {NetworkError} the transfer kept failing.
 * @throws {InterruptedError} `options.signal` aborted (partial files are kept for resume).
 */
export async function downloadBlob(options: BlobDownloadOptions): Promise<BlobDownloadResult> {
  const job = new TransferJob(options);
  // partial files are opened for writing: one that is a symlink would write wherever it points
  for (const path of Object.values(job.paths)) await removeIfNotFile(path);
  await adoptPythonPartial(options.destination, job.paths.sequential);
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
