/**
 * Writes the parts of the cache that point at blobs, exactly as Python's huggingface_hub does, and
 * always atomically (a temporary name in `blobs/`, then a rename), so a reader never sees half an entry:
 *
 * - `snapshots/{commit}/{path}`: a relative symlink to `../../blobs/{etag}` (one more `..` per
 *   folder level of `path`). Where symlinks are not permitted (Deno without unscoped
 *   `--allow-read`/`--allow-write`, a file system without them) it falls back to a hard link, then to
 *   a copy, and reports that once through `onWarning`.
 * - `refs/{ref}`: the commit sha, no newline. Written after the snapshot exists (scanners reject refs
 *   to missing snapshots).
 * - `.no_exist/{commit}/{path}`: an empty marker for a file known not to exist at that commit.
 * - `.gpux/manifests/{commit}.json`: gpux's own record of the repository's file list at that commit,
 *   so that a later pull of a pinned sha (or an offline pull) knows whether the snapshot is complete
 *   without asking the Hub. Python and `@huggingface/hub` ignore this folder.
 *
 * Temporary names end in `.incomplete`, so a crash leaves only what `gpux cache prune` removes.
 *
 * @module
 */
import type { ModelFile } from "../registry/manager.ts";
import { CacheError } from "../errors.ts";
import type { RepoCachePaths } from "./layout.ts";
import { insideOrThrow } from "./contained_path.ts";
import { isDiskFull, writeFailure } from "../download/write_failure.ts";

/** How snapshot entries point at blobs. */
export type LinkMode = "symlink" | "hardlink" | "copy";

/** gpux's record of a repository's files at one commit. */
export interface SnapshotManifest {
  id: string;
  sha: string;
  /** Every file of the repository at that commit (not only the pulled ones). */
  files: ModelFile[];
  /** The repository's pipeline tag (for the conversion hint of a pull that makes no request). */
  pipelineTag?: string;
  /** ISO time the manifest was written. */
  written: string;
}

/** Options of {@linkcode SnapshotWriter}. */
export interface SnapshotWriterOptions {
  /** Start with this mode instead of trying symlinks first. */
  mode?: LinkMode;
  /** Receives the one warning when symlinks (or hard links) are not possible. */
  onWarning?: (message: string) => void;
  /** Receives the one notice that snapshot files are hard links rather than symlinks (no action needed). */
  onNotice?: (message: string) => void;
}

function tmpName(paths: RepoCachePaths): string {
  return `${paths.blobsDir}/.tmp-${crypto.randomUUID()}.incomplete`;
}

function parent(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

function isPermissionError(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
}

/** Writes snapshot entries, refs, `.no_exist` markers and manifests of one repository. */
export class SnapshotWriter {
  #mode: LinkMode;
  #warned = false;

  constructor(readonly paths: RepoCachePaths, readonly options: SnapshotWriterOptions = {}) {
    this.#mode = options.mode ?? "symlink";
  }

  /** How entries are linked now (after any fallback). */
  get mode(): LinkMode {
    return this.#mode;
  }

  /** Whether `snapshots/{commit}/{path}` exists and resolves to `blobs/{etag}` (or is an equal-size file). */
  async isLinked(commit: string, path: string, etag: string, size: number): Promise<boolean> {
    const entry = this.paths.snapshot(commit, path);
    try {
      const lstat = await Deno.lstat(entry);
      if (lstat.isSymlink) {
        const target = await Deno.readLink(entry);
        if (target !== this.paths.blobLinkTarget(path, etag)) return false;
        const stat = await Deno.stat(entry);
        return stat.isFile && stat.size === size;
      }
      return lstat.isFile && lstat.size === size;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
      throw e;
    }
  }

  /**
   * Points `snapshots/{commit}/{path}` at `blobs/{etag}` (replacing what was there).
   *
   * @throws {CacheError} when the entry would leave its snapshot folder or the blob `blobs/` (nothing is written).
   */
  async link(commit: string, path: string, etag: string): Promise<void> {
    const entry = this.#snapshotEntry(commit, path);
    const blob = insideOrThrow(this.paths.blobsDir, this.paths.blob(etag), `the blob of '${path}'`);
    if (etag.includes("/")) throw new CacheError(`refusing a blob name with a slash: ${JSON.stringify(etag)}`);
    await this.#mkdir(parent(entry));
    await this.#assertRealParentInside(entry, this.paths.snapshot(commit));
    for (;;) {
      const tmp = tmpName(this.paths);
      try {
        if (this.#mode === "symlink") await Deno.symlink(this.paths.blobLinkTarget(path, etag), tmp);
        else if (this.#mode === "hardlink") await Deno.link(blob, tmp);
        else await Deno.copyFile(blob, tmp);
      } catch (e) {
        await Deno.remove(tmp).catch(() => {});
        if (this.#mode === "copy") throw this.#error(`cannot write ${entry}`, e);
        this.#fallBack(e);
        continue;
      }
      try {
        await Deno.rename(tmp, entry);
      } catch (e) {
        await Deno.remove(tmp).catch(() => {});
        throw this.#error(`cannot write ${entry}`, e);
      }
      // rename() onto another hard link of the same file does nothing and leaves `tmp` in place (POSIX);
      // after a real rename `tmp` is gone and this is a no-op
      if (this.#mode === "hardlink") await Deno.remove(tmp).catch(() => {});
      return;
    }
  }

  #fallBack(cause: unknown): void {
    const from = this.#mode;
    this.#mode = from === "symlink" ? "hardlink" : "copy";
    if (this.#warned && from === "symlink") return;
    const why = isPermissionError(cause)
      ? "not permitted (Deno needs unscoped --allow-read and --allow-write for symlinks)"
      : `not possible here (${(cause as Error)?.message ?? cause})`;
    const what = from === "symlink" ? "symlinks are" : "hard links are";
    const instead = this.#mode === "hardlink"
      ? "snapshot files are hard links to the blobs instead (same disk space; tools still find them)"
      : "snapshot files are copies of the blobs instead (uses twice the disk space)";
    this.#warned = true;
    // hard links cost nothing and every tool reads them: a notice; copies double the disk use: a warning
    const report = this.#mode === "hardlink" ? this.options.onNotice : this.options.onWarning;
    report?.(`${what} ${why}: ${instead}`);
  }

  /**
   * Writes `refs/{ref}` = `sha` (no newline, as Python writes it).
   *
   * @throws {CacheError} when `sha` is no 40-hex commit or the ref would leave `refs/` (nothing is written).
   */
  async writeRef(ref: string, sha: string): Promise<void> {
    checkCommit(sha);
    const path = insideOrThrow(this.paths.refsDir, this.paths.ref(ref), `the ref '${ref}'`);
    try {
      if ((await Deno.readTextFile(path)).trim() === sha) return;
    } catch { /* absent: write it */ }
    await this.#atomicWrite(path, sha);
  }

  /** Marks `path` as known missing at `commit`. */
  async markMissing(commit: string, path: string): Promise<void> {
    checkCommit(commit);
    const folder = `${this.paths.noExistDir}/${commit}`;
    const marker = insideOrThrow(folder, this.paths.noExist(commit, path), `the marker of '${path}'`);
    try {
      await Deno.stat(marker);
      return;
    } catch { /* absent */ }
    await this.#atomicWrite(marker, "");
  }

  /** Records the file list of `sha`. */
  async writeManifest(manifest: SnapshotManifest): Promise<void> {
    checkCommit(manifest.sha);
    await this.#atomicWrite(manifestPath(this.paths, manifest.sha), JSON.stringify(manifest));
  }

  /** `snapshots/{commit}/{path}`, proven to stay inside `snapshots/{commit}/`. */
  #snapshotEntry(commit: string, path: string): string {
    checkCommit(commit);
    return insideOrThrow(this.paths.snapshot(commit), this.paths.snapshot(commit, path), `the snapshot file '${path}'`);
  }

  /** The folder `path` is written into, resolved through any symlink, is still inside `folder` (resolved too). */
  async #assertRealParentInside(path: string, folder: string): Promise<void> {
    let real: string, root: string;
    try {
      [real, root] = await Promise.all([Deno.realPath(parent(path)), Deno.realPath(folder)]);
    } catch (e) {
      throw this.#error(`cannot resolve ${parent(path)}`, e);
    }
    if (real !== root) insideOrThrow(root, real, `the folder of ${path} (a symlink leads out of the cache)`);
  }

  async #atomicWrite(path: string, content: string): Promise<void> {
    insideOrThrow(this.paths.root, path, "a cache entry");
    await this.#mkdir(parent(path));
    await this.#mkdir(this.paths.blobsDir);
    const tmp = tmpName(this.paths);
    try {
      await Deno.writeTextFile(tmp, content);
      await Deno.rename(tmp, path);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw this.#error(`cannot write ${path}`, e);
    }
  }

  async #mkdir(dir: string): Promise<void> {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw this.#error(`cannot create ${dir}`, e);
    }
  }

  #error(what: string, cause: unknown): CacheError {
    if (isDiskFull(cause)) return writeFailure(cause, { path: what.replace(/^cannot (write|create) /, "") });
    return new CacheError(`${what}: ${(cause as Error)?.message ?? cause}`, {
      cause,
      hint: isPermissionError(cause)
        ? "the sandbox grants each command only the cache it names (--cache-dir, else HF_HUB_CACHE, else $HF_HOME/hub): pass this cache with --cache-dir (README: Permissions)"
        : "check that the cache directory is writable and has free space",
    });
  }
}

/** A commit sha names a folder: it must be 40 hex digits, whatever sent it. */
function checkCommit(sha: string): void {
  if (!/^[0-9a-f]{40}$/.test(sha)) {
    throw new CacheError(`refusing to name a cache folder after ${JSON.stringify(sha)}: not a 40-hex commit sha`, {
      hint: "the commit came from the Hub or a file on disk and is malformed; nothing was written",
    });
  }
}

/** `.gpux/manifests/{sha}.json` inside the repository's cache folder. */
export function manifestPath(paths: RepoCachePaths, sha: string): string {
  return `${paths.root}/.gpux/manifests/${sha}.json`;
}

/** Reads the manifest gpux wrote for `sha`; `undefined` when there is none (or it is unreadable). */
export async function readManifest(paths: RepoCachePaths, sha: string): Promise<SnapshotManifest | undefined> {
  try {
    const manifest = JSON.parse(await Deno.readTextFile(manifestPath(paths, sha))) as SnapshotManifest;
    return manifest.sha === sha && Array.isArray(manifest.files) ? manifest : undefined;
  } catch {
    return undefined;
  }
}
