/**
 * Whether a path exists (following links), for the test support's build-once caches, which check a marker file
 * before rebuilding. Unlike `exists` in hf_cache.ts (which sees a dangling link as present), any error is "absent".
 *
 * @module
 */

/** True when `path` exists (a link counts when its target does). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
