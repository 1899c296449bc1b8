/**
 * Defence in depth for every write into the cache: a path built from outside data (a repository path,
 * an etag, a commit sha, a ref name) is proven to stay inside its folder before anything is written,
 * even though those values were checked where they entered.
 *
 * @module
 */
import { CacheError } from "../errors.ts";

/** `path` with `.` and `..` segments and repeated slashes resolved lexically (no file system access). */
export function normalizePath(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else out.push(segment);
  }
  return (absolute ? "/" : "") + out.join("/");
}

/** Whether `path` lies strictly inside `folder` (lexically, after resolving `.` and `..`). */
export function isInside(folder: string, path: string): boolean {
  // deno-lint-ignore no-control-regex
  if (path.includes("\0") || path.includes("\\") || /[\u0000-\u001f]/.test(path)) return false;
  const root = normalizePath(folder);
  const full = normalizePath(path);
  return full.startsWith(root === "/" ? "/" : `${root}/`) && full.length > root.length + 1;
}

/**
 * Returns `path` when it lies inside `folder`.
 *
 * @throws {CacheError} naming both, when it would not (nothing is written).
 */
export function insideOrThrow(folder: string, path: string, what = "a path"): string {
  if (isInside(folder, path)) return path;
  throw new CacheError(`refusing to write ${what} outside ${folder}: ${JSON.stringify(path)}`, {
    hint: "the name came from the Hub, a ref or the command line and would escape the cache; nothing was written",
  });
}
