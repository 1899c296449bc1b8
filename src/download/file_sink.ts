/**
 * Writing a download to its partial file: {@linkcode FileSink} coalesces small network chunks into
 * large synchronous writes and reports exactly the bytes the kernel accepted; {@linkcode syncToDisk}
 * flushes them to the disk before a file may be published. A failed write becomes the typed error of
 * {@linkcode writeFailure} (never retried as if the network had failed).
 *
 * @module
 */
import { type WriteContext, writeFailure } from "../write_failure.ts";

const WRITE_BUFFER = 256 * 1024;
const DIRECT_WRITE = 16 * 1024;

/**
 * Coalesces small network chunks into large writes. `onWritten` sees exactly the bytes the kernel
 * accepted, in order (what is hashed and counted is what was written); a failed write throws the
 * typed error of {@linkcode writeFailure} (never retried as a network error).
 */
export class FileSink {
  #buffer = new Uint8Array(WRITE_BUFFER);
  #used = 0;
  constructor(
    readonly file: Deno.FsFile,
    readonly context: WriteContext,
    readonly onWritten?: (bytes: Uint8Array) => void,
  ) {}

  /** Writes `chunk` at the file's position, now or at the next {@linkcode flush}. */
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

  /** Writes what is buffered. */
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

/**
 * Flushes a file's data to the disk (`fdatasync`): a delayed write error (a full disk, a quota, an
 * I/O error) shows here rather than after the file was published. A file system that cannot sync
 * (EINVAL, ENOTSUP) is let be: the writes completed and the size is checked next.
 */
export async function syncToDisk(file: Deno.FsFile, context: WriteContext): Promise<void> {
  try {
    await file.syncData();
  } catch (error) {
    const code = (error as { code?: unknown })?.code;
    if (code === "EINVAL" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS") return;
    throw writeFailure(error, context);
  }
}
