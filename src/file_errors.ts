/**
 * Filesystem failures in words. Deno reports a directory given as a file, a refused write or a name that
 * is too long as error classes or bare OS error codes; gpux turns each into a typed error (an
 * `InputError` for a file the user named, a `CacheError` for the cache) whose message says which path
 * and why, using these.
 *
 * @module
 */
import { CacheError, GpuxError } from "./errors.ts";

/**
 * Why a filesystem call failed, in words, from Deno's error classes and the OS error code: `no such file
 * or directory`, `is a directory`, `permission denied`, `not permitted by gpux's sandbox`, `file name
 * too long`, `no space left on the device`, … (the error's own first line otherwise).
 */
export function fileErrorReason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or directory";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (error instanceof Deno.errors.NotADirectory) return "a part of the path is not a directory";
  if (error instanceof Deno.errors.NotCapable) return "not permitted by gpux's sandbox";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.AlreadyExists) return "it already exists";
  const text = error instanceof Error ? error.message : String(error);
  const os = /\(os error (\d+)\)/.exec(text)?.[1];
  const known: Record<string, string> = {
    "13": "permission denied",
    "21": "it is a directory",
    "28": "no space left on the device",
    "30": "the file system is read-only",
    "36": "file name too long",
    "40": "too many levels of symbolic links",
    "122": "disk quota exceeded",
  };
  return (os && known[os]) || text.split("\n")[0];
}

/** True when `error` is the sandbox (Deno's permissions) or the OS refusing access. */
export function isAccessDenied(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied ||
    /\(os error (13|30)\)/.test(error instanceof Error ? error.message : "");
}

/** The hint for a write the sandbox refused (`deno task gpux` gives each command its own `--allow-write`). */
export const SANDBOX_WRITE_HINT =
  "each command may write only its own folders (README: Permissions): the cache in use (--cache-dir, else " +
  "HF_HUB_CACHE or HF_HOME), --output's folder, GPUX_HOME: name the path on the command line or set those variables";

/** True when `error` is a write the file system refused: access, read-only, no space, quota. */
function isWriteFailure(error: unknown): boolean {
  const text = error instanceof Error ? error.message : "";
  // the sandbox refusing the network (a redirect to another host) is not a cache problem
  if (error instanceof Deno.errors.NotCapable) return /(read|write) access/i.test(text);
  return isAccessDenied(error) || /\(os error (28|30|122)\)/.test(text);
}

/**
 * The {@linkcode CacheError} (exit 6) for a filesystem failure inside the cache that nothing classified
 * yet — another user's cache, a read-only mount, a full disk — naming the folder; `undefined` for
 * anything else (typed gpux errors pass through unchanged).
 */
export function cacheWriteError(error: unknown, cacheDir: string): CacheError | undefined {
  if (error instanceof GpuxError || !isWriteFailure(error)) return undefined;
  const text = error instanceof Error ? error.message : String(error);
  const path = /'([^']+)'|"([^"]+)"/.exec(text);
  const where = path ? (path[1] ?? path[2]) : cacheDir;
  const folder = where.slice(0, Math.max(1, where.lastIndexOf("/")));
  const reason = fileErrorReason(error);
  const full = /\(os error (28|122)\)/.test(text);
  return new CacheError(`cannot write to the cache folder ${folder}: ${reason}`, {
    cause: error,
    hint: full
      ? `free some space on the disk of ${cacheDir}, or set HF_HUB_CACHE to a folder on another disk`
      : error instanceof Deno.errors.NotCapable
      ? SANDBOX_WRITE_HINT
      : `the cache ${cacheDir} is read-only or belongs to another user: fix its permissions, or set ` +
        "HF_HUB_CACHE (or --cache-dir) to a folder you can write",
  });
}
