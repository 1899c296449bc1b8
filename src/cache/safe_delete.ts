/**
 * Deleting inside the cache without ever leaving it: every path is checked against the real
 * path of the model folder it belongs to, symlinks are removed as links (never followed to
 * delete their target), and a model folder that is itself a link out of the cache is refused.
 *
 * @module
 */
import { dirname, isAbsolute, relative } from "node:path";
import { CacheError } from "../errors.ts";

/** True when `path` is `dir` or inside it (both absolute and normalised). */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** Removes files, links and directories inside one model folder, and nothing outside it. */
export class ModelFolderDeleter {
  private constructor(readonly root: string, readonly realRoot: string) {}

  /**
   * A deleter for `modelPath`, refusing (with a {@linkcode CacheError}) when the folder's real
   * path is not inside the cache directory's real path, or when it is the cache directory itself.
   */
  static async open(cacheDir: string, modelPath: string): Promise<ModelFolderDeleter> {
    let realCache: string;
    let realRoot: string;
    try {
      realCache = await Deno.realPath(cacheDir);
      realRoot = await Deno.realPath(modelPath);
    } catch (e) {
      throw new CacheError(`cannot resolve ${modelPath}: ${e instanceof Error ? e.message : e}`, { cause: e });
    }
    if (realRoot === realCache || !isInside(realCache, realRoot)) {
      throw new CacheError(
        `refusing to delete ${modelPath}: it resolves to ${realRoot}, outside the cache ${realCache}`,
        {
          hint: "gpux only deletes inside the cache; remove that folder (or the link to it) yourself",
        },
      );
    }
    return new ModelFolderDeleter(modelPath, realRoot);
  }

  /** Throws unless the directory holding `path` really is inside the model folder. */
  private async checkParent(path: string): Promise<void> {
    if (path === this.root) return; // the folder itself, vetted by open()
    let realParent: string;
    try {
      realParent = await Deno.realPath(dirname(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return; // nothing there to delete
      throw e;
    }
    if (!isInside(this.realRoot, realParent)) {
      throw new CacheError(
        `refusing to delete ${path}: its folder resolves to ${realParent}, outside ${this.realRoot}`,
        {
          hint: "a folder of the cache is a link to somewhere else; remove it yourself",
        },
      );
    }
  }

  /** Throws a {@linkcode CacheError} unless every path's folder really is inside the model folder. */
  async checkAll(paths: Iterable<string>): Promise<void> {
    for (const path of paths) await this.checkParent(path);
  }

  /**
   * Removes one file or symlink (a link is removed, its target is left alone).
   * Returns false when there was nothing to remove.
   */
  async removeEntry(path: string): Promise<boolean> {
    await this.checkParent(path);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
    if (info.isDirectory) return await this.removeTree(path);
    await removeIgnoringMissing(path);
    return true;
  }

  /**
   * Removes a directory and everything below it, depth first, deleting symlinks as links and
   * never descending into a linked directory. Returns false when it did not exist.
   */
  async removeTree(path: string): Promise<boolean> {
    await this.checkParent(path);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
    if (!info.isDirectory) {
      await removeIgnoringMissing(path);
      return true;
    }
    const children: string[] = [];
    for await (const entry of Deno.readDir(path)) children.push(`${path}/${entry.name}`);
    for (const child of children) await this.removeTree(child);
    await removeIgnoringMissing(path);
    return true;
  }

  /** Removes `dir` if it is empty, then its parents up to (not including) `stopAt`. */
  async removeEmptyParents(dir: string, stopAt: string): Promise<void> {
    let current = dir;
    while (current !== stopAt && isInside(stopAt, current)) {
      try {
        await this.checkParent(current);
        await Deno.remove(current);
      } catch {
        return; // not empty, gone, or not ours: stop there
      }
      current = dirname(current);
    }
  }
}

async function removeIgnoringMissing(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new CacheError(`not allowed to delete ${path}`, {
        cause: e,
        hint: e instanceof Deno.errors.NotCapable
          ? "the sandbox refused write access: it grants each command only the cache it names (--cache-dir, else HF_HUB_CACHE, else $HF_HOME/hub): pass this cache with --cache-dir (README: Permissions)"
          : "check the cache's file permissions (the files may belong to another user)",
      });
    }
    throw e;
  }
}

/**
 * Bytes freed by deleting `paths` (files and links, not directories): each inode counts once,
 * and only when every one of its hard links is among `paths`; symlinks free nothing.
 */
export async function bytesFreedBy(paths: Iterable<string>): Promise<number> {
  const byInode = new Map<string, { size: number; nlink: number; count: number }>();
  for (const path of new Set(paths)) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch {
      continue;
    }
    if (!info.isFile) continue;
    const key = info.ino !== null && info.ino !== undefined ? `${info.dev}:${info.ino}` : `path:${path}`;
    const seen = byInode.get(key) ?? { size: info.size, nlink: info.nlink ?? 1, count: 0 };
    seen.count++;
    byInode.set(key, seen);
  }
  let freed = 0;
  for (const { size, nlink, count } of byInode.values()) if (count >= nlink) freed += size;
  return freed;
}

/** Every file and link below `dir` (directories excluded), without following linked directories. */
export async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return;
      throw e;
    }
    for (const entry of entries) {
      const child = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(child);
      else out.push(child);
    }
  };
  await walk(dir);
  return out;
}
