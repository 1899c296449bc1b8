/**
 * The one way gpux reads a whole file a user named (an image, a WAV, a JSON or `.npy` input, a model's
 * tokenizer or processor file): a regular file or stdin only, at most a stated number of bytes, and stopped at
 * once by an abort signal (Ctrl-C, SIGTERM).
 *
 * Why it exists: `Deno.readFile("/dev/zero")` never ends (it read 19 GB in one probe) and cannot be cancelled,
 * and a FIFO fed slowly keeps a command alive past SIGTERM. A device, a FIFO or a socket is refused before a
 * byte is read; a regular file larger than the cap is refused from its size; stdin is read in chunks up to the
 * cap. It sits on the floor so `processing/`, `runtime/`, `runtime_install/` and `cli/` share it.
 *
 * @module
 */
import { InputError, InterruptedError } from "./errors.ts";
import { fileErrorReason } from "./file_errors.ts";

/** Options of {@linkcode readBounded}. */
export interface BoundedReadOptions {
  /** Most bytes accepted; a larger file is an {@linkcode InputError} naming the cap. */
  maxBytes: number;
  /** Names the file in messages (`--image photo.jpg`, `tokenizer.json`); the path when absent. */
  label?: string;
  /** Stops the read at once (the CLI's Ctrl-C / SIGTERM). */
  signal?: AbortSignal;
  /** Reads stdin when `path` is `-` (for flags that document `-`). */
  allowStdin?: boolean;
  /** The hint for a file over the cap (a flag that raises it). */
  tooBigHint?: string;
}

/** A size limit in words for messages: `256 MiB`, `1.5 MiB`, `64 KiB`. */
export function formatMiB(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  if (mib < 1) return `${Math.round(bytes / 1024)} KiB`;
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB`;
}

/**
 * Reads `path` whole, within `options.maxBytes`.
 *
 * @throws {InputError} no such file, a directory, a device/FIFO/socket, a file over the cap, unreadable (exit 2).
 * @throws {InterruptedError} `options.signal` was aborted (exit 130).
 * @example
 * ```ts
 * const bytes = await readBounded("photo.jpg", { maxBytes: 64 * 1024 * 1024, label: "--image photo.jpg" });
 * ```
 */
export async function readBounded(path: string, options: BoundedReadOptions): Promise<Uint8Array> {
  const { maxBytes, signal } = options;
  const stdin = path === "-" && options.allowStdin === true;
  const label = options.label ?? path;
  const tooBig = () =>
    new InputError(`${label}: larger than the limit of ${formatMiB(maxBytes)}`, {
      hint: options.tooBigHint ?? "give a smaller file",
    });
  if (signal?.aborted) throw interrupted(signal);
  let file: Deno.FsFile | undefined;
  try {
    if (!stdin) {
      // stat first: opening a FIFO blocks until a writer comes, and a device is never a file to read whole
      const info = await Deno.stat(path);
      if (info.isDirectory) throw new InputError(`${label}: is a directory, not a file`, { hint: "name a file" });
      if (!info.isFile) {
        throw new InputError(`${label}: not a regular file (a device, a pipe or a socket)`, {
          hint: options.allowStdin
            ? "name a regular file, or give - and pipe the data to stdin"
            : "name a regular file; copy the data into one first",
        });
      }
      if (info.size > maxBytes) throw tooBig();
      file = await Deno.open(path);
    }
    const reader = (stdin ? Deno.stdin.readable : file!.readable).getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    const onAbort = () => void reader.cancel().catch(() => {});
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const { value, done } = await raceAbort(reader.read(), signal);
        if (done) break;
        size += value.length;
        if (size > maxBytes) throw tooBig(); // a file that grew, or stdin
        chunks.push(value);
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      reader.releaseLock();
    }
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  } catch (error) {
    if (error instanceof InputError || error instanceof InterruptedError) throw error;
    if (signal?.aborted) throw interrupted(signal);
    const why = error instanceof Deno.errors.NotFound ? "no such file" : `cannot be read: ${fileErrorReason(error)}`;
    throw new InputError(`${label}: ${why}`, { cause: error, hint: "check the path" });
  } finally {
    try {
      file?.close();
    } catch { /* its stream closed it */ }
  }
}

function interrupted(signal: AbortSignal): InterruptedError {
  return signal.reason instanceof InterruptedError ? signal.reason : new InterruptedError("interrupted");
}

/** `promise`, or an {@linkcode InterruptedError} as soon as `signal` aborts (a blocked read is left behind). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(interrupted(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(interrupted(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
