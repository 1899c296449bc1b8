/**
 * The partial files of a blob beside its final path `blobs/{etag}`, and the small file operations the
 * engines share:
 *
 * - `{etag}.incomplete`: the sequential partial, always a prefix of the content (Python's format);
 * - `{etag}.ranges.incomplete`: the preallocated file parallel ranges are written into (not a prefix);
 * - `{etag}.ranges.json.incomplete`: the ranges sidecar (see range_plan.ts);
 * - `{etag}.{8 hex}.incomplete`: Python huggingface_hub's own partials, adopted by
 *   {@linkcode adoptPythonPartial}.
 *
 * @module
 */
import { writeFailure } from "../write_failure.ts";

/** The three partial files of a blob. */
export interface PartialPaths {
  /** `{destination}.incomplete`: a prefix of the content. */
  sequential: string;
  /** `{destination}.ranges.incomplete`: the preallocated file of a ranged transfer. */
  ranged: string;
  /** `{destination}.ranges.json.incomplete`: the ranges sidecar. */
  rangedState: string;
}

/** Partial-file paths of a blob. */
export function partialPaths(destination: string): PartialPaths {
  return {
    sequential: `${destination}.incomplete`,
    ranged: `${destination}.ranges.incomplete`,
    rangedState: `${destination}.ranges.json.incomplete`,
  };
}

/** Python huggingface_hub 1.x/2.x's partial of `blobs/{etag}`: `{etag}.{8 hex}.incomplete` (one per process). */
const PYTHON_PARTIAL = /^(.+)\.[0-9a-f]{8}\.incomplete$/;

/**
 * Python's partials of `destination` (`{etag}.{8 hex}.incomplete`; Python never resumes them) become
 * gpux's sequential partial `sequential` when larger than it: the longest is renamed onto it (so it is used
 * up, and verified like any resumed file), the others are deleted. The caller holds the blob's lock, so no
 * Python process is writing them.
 */
export async function adoptPythonPartial(destination: string, sequential: string): Promise<void> {
  const slash = destination.lastIndexOf("/");
  const dir = destination.slice(0, slash);
  const name = destination.slice(slash + 1);
  const partials: { path: string; size: number }[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (PYTHON_PARTIAL.exec(entry.name)?.[1] !== name) continue;
      const path = `${dir}/${entry.name}`;
      const stat = await Deno.lstat(path).catch(() => undefined);
      if (!stat?.isFile) {
        if (stat) await Deno.remove(path, { recursive: stat.isDirectory }).catch(() => {});
        continue;
      }
      partials.push({ path, size: stat.size });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (partials.length === 0) return;
  partials.sort((a, b) => b.size - a.size);
  const ours = (await fileSize(sequential)) ?? 0;
  const [longest, ...rest] = partials;
  try {
    if (longest.size > ours) await Deno.rename(longest.path, sequential);
    else rest.unshift(longest);
    for (const p of rest) await Deno.remove(p.path).catch(() => {});
  } catch (e) {
    throw writeFailure(e, { path: sequential });
  }
}

/** Removes `path` when it is a symlink or anything but a regular file (the link itself, never its target). */
export async function removeIfNotFile(path: string): Promise<void> {
  try {
    const stat = await Deno.lstat(path);
    if (!stat.isFile) await Deno.remove(path, { recursive: stat.isDirectory });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw writeFailure(e, { path });
  }
}

/** Removes `path`; a missing file is fine. */
export async function removeIfExists(path: string): Promise<void> {
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** The size of the file at `path`, `undefined` when there is none. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}
