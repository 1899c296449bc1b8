/**
 * huggingface_hub 2.x's cache-wide store of the files it downloads through Xet: the content lives in
 * `{cache}/blobs/{2 hex}/{64 hex}` (the store marked by `{cache}/blobs/.huggingface-shared-blobs`), and a
 * model's `blobs/{etag}` is a relative symlink to it. Such a link is a blob like any other for reading,
 * verifying and pulling; it is Python's to create and remove.
 *
 * @module
 */
import { join } from "node:path";

/** huggingface_hub 2.x's marker of the cache-wide shared blob store, in `{cache}/blobs/`. */
export const SHARED_STORE_MARKER = ".huggingface-shared-blobs";

/** The store file a model's `blobs/{etag}` link leads to. */
export interface SharedStoreFile {
  /** The store file's real path. */
  storePath: string;
  /** Its size. */
  size: number;
}

/**
 * The store file `link` (a model's `blobs/{etag}` in `cacheDir`) leads to, when it is a link into
 * huggingface_hub 2.x's shared store (`{cache}/blobs/{2 hex}/{64 hex}`, a regular file, the store marked);
 * else `undefined` (also for a regular file, a missing one, or a link anywhere else).
 */
export async function sharedStoreTarget(cacheDir: string, link: string): Promise<SharedStoreFile | undefined> {
  try {
    if (!(await Deno.lstat(link)).isSymlink) return undefined;
    const realCache = await Deno.realPath(cacheDir);
    const store = join(realCache, "blobs");
    if (!(await Deno.lstat(join(store, SHARED_STORE_MARKER))).isFile) return undefined;
    const real = await Deno.realPath(link);
    const m = /^([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(real.startsWith(`${store}/`) ? real.slice(store.length + 1) : "");
    if (!m || !m[2].startsWith(m[1])) return undefined;
    const info = await Deno.lstat(real);
    return info.isFile ? { storePath: real, size: info.size } : undefined;
  } catch {
    return undefined;
  }
}
