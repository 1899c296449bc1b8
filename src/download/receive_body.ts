/**
 * The receive loop both transfer engines share: a response body is read chunk by chunk under a stall watch,
 * refused past the bytes it may carry, written through a {@linkcode FileSink} at the file's position, and
 * counted for progress. What the caller hashes and records is what reached the file (`onWritten`), not what
 * arrived. The sequential engine receives the rest of a file at the end of its prefix, the ranged engine one
 * byte range at its place in the file; both are this loop with a different limit and bookkeeping.
 *
 * @module
 */
import type { WriteContext } from "../write_failure.ts";
import { FileSink } from "./file_sink.ts";
import { pump, StallWatch } from "./stall_watch.ts";
import { DEFAULT_STALL_TIMEOUT_MS, type TransferJob } from "./transfer_job.ts";

/** Where a body goes and how much of it may come. */
export interface ReceiveTarget {
  /** The partial file, positioned where the first byte belongs. */
  file: Deno.FsFile;
  /** What is being written, for a write error's message. */
  context: WriteContext;
  /** Aborted with a `StallError` when no byte arrives for the job's stall timeout. */
  controller: AbortController;
  /** Bytes this body may carry; one more is refused with `overflow()` before it is written. */
  limit: number;
  /** The error for a body longer than `limit`. */
  overflow: () => Error;
  /** Sees exactly the bytes written to the file, in order. */
  onWritten: (bytes: Uint8Array) => void;
}

/**
 * Receives `body` into `target.file` until the body ends: stalls abort `target.controller`, every byte
 * written is reported to `target.onWritten` and counted by `job.bytes`, and what is buffered is flushed
 * even when the body fails (so the bytes that arrived stay on disk for a retry to resume from).
 */
export async function receiveBody(
  job: TransferJob,
  body: ReadableStream<Uint8Array>,
  target: ReceiveTarget,
): Promise<void> {
  const stall = new StallWatch(job.o.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS, target.controller);
  const sink = new FileSink(target.file, target.context, target.onWritten);
  let received = 0;
  try {
    await pump(body, stall, async (chunk) => {
      if (received + chunk.length > target.limit) throw target.overflow();
      received += chunk.length;
      await sink.write(chunk);
      job.bytes(chunk.length);
    });
  } finally {
    stall.stop();
    await sink.flush();
  }
}
