/**
 * A failed write to the local disk, as a typed error: disk full (ENOSPC) and quota exceeded (EDQUOT)
 * become {@linkcode DiskFullError}, anything else (EACCES, EROFS, EIO, a refused permission) a
 * {@linkcode CacheError}. Both are final: a write error is never retried as if the network had failed,
 * and it never lets a file be published.
 *
 * @module
 */
import { CacheError, DiskFullError, GpuxError } from "./errors.ts";
import { fileErrorReason, isAccessDenied, SANDBOX_WRITE_HINT } from "./file_errors.ts";

/** What was being written when a write failed. */
export interface WriteContext {
  /** The file being written. */
  path: string;
  /** The name in messages (the path in the repository), when it differs from `path`. */
  label?: string;
  /** Bytes still to be written for the operation to finish (for the disk-full message). */
  bytesNeeded?: number;
}

/** Whether `error` is a full disk or an exhausted quota. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === "ENOSPC" || code === "EDQUOT" || error instanceof DiskFullError;
}

/** `1.2 MB`, `850 B`: byte counts in messages (whole numbers, decimal units as the CLI prints them). */
export function describeBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let value = Math.max(0, bytes);
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(value)} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[i]}`;
}

function folderOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i > 0 ? path.slice(0, i) : path;
}

/** The typed error for a failed write (a {@linkcode GpuxError} passes through unchanged). */
export function writeFailure(error: unknown, context: WriteContext): GpuxError {
  if (error instanceof GpuxError) return error;
  const folder = folderOf(context.path);
  const what = context.label && context.label !== context.path ? `'${context.label}' (${context.path})` : context.path;
  if (isDiskFull(error)) {
    const quota = (error as { code?: unknown })?.code === "EDQUOT";
    const needed = context.bytesNeeded;
    return new DiskFullError(
      `${quota ? "disk quota exceeded" : "no space left on the disk"} while writing ${what}` +
        (needed !== undefined ? `: ${describeBytes(needed)} (${needed} bytes) more are needed in ${folder}` : ""),
      {
        cause: error,
        folder,
        bytesNeeded: needed ?? 0,
        hint: `free space on the disk holding ${folder} (or set HF_HUB_CACHE to a disk with room), then run ` +
          "the same command again: the bytes already written are kept and resumed",
      },
    );
  }
  // the same words as every other refused write in the cache (file_errors.ts), with the file named
  return new CacheError(`cannot write ${what}: ${fileErrorReason(error)}`, {
    cause: error,
    hint: error instanceof Deno.errors.NotCapable
      ? SANDBOX_WRITE_HINT
      : isAccessDenied(error)
      ? `${folder} is read-only or belongs to another user: fix its permissions, or set HF_HUB_CACHE ` +
        "(or --cache-dir) to a folder you can write"
      : `check that ${folder} is writable and healthy, then run the same command again`,
  });
}
