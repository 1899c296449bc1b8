/**
 * Whether a path exists, for the probes that ask only that (provider libraries in a folder, GPU device nodes,
 * CUDA runtimes, a denort binary): one definition instead of a copy in each probe. Anything that stops `stat`
 * — missing, refused by the sandbox, a dangling link — counts as absent.
 *
 * @module
 */

/** `true` when `stat(path)` succeeds (links followed). */
export function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
