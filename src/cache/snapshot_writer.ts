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
import type { ModelFile } from "../vocabulary/model_file.ts";
import { CacheError } from "../errors.ts";
import type { RepoCachePaths } from "../vocabulary/cache_layout.ts";
import { insideOrThrow, isInside, normalizePath } from "./contained_path.ts";
import { libcSymlink } from "./libc_symlink.ts";
import { sharedStoreTarget } from "./shared_store.ts";
import { isDiskFull, writeFailure } from "../write_failure.ts";

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
  /** Deno.symlink was refused by the sandbox: symlinks go through libc. */
  #viaLibc = false;

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
   * Whether `snapshots/{commit}/{path}` leads to the very file `blobs/{etag}`: a symlink with the relative
   * target Python writes, or a hard link of it (same inode). A copy does not count: after a re-download it
   * may hold old bytes.
   */
  async pointsAt(commit: string, path: string, etag: string): Promise<boolean> {
    const entry = this.paths.snapshot(commit, path);
    try {
      const lstat = await Deno.lstat(entry);
      if (lstat.isSymlink) return await Deno.readLink(entry) === this.paths.blobLinkTarget(path, etag);
      const blob = await Deno.lstat(this.paths.blob(etag));
      return lstat.isFile && blob.isFile && lstat.ino !== null && lstat.ino === blob.ino && lstat.dev === blob.dev;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
      throw e;
    }
  }

  /**
   * Whether `snapshots/{commit}/{path}` is a hard link of `blobs/{etag}` (what gpux wrote where it could not make
   * symlinks) while symlinks are still this writer's mode: relinking it makes the entry Python's symlink.
   */
  async isUpgradable(commit: string, path: string, etag: string): Promise<boolean> {
    if (this.#mode !== "symlink") return false;
    try {
      const [entry, blob] = await Promise.all([
        Deno.lstat(this.paths.snapshot(commit, path)),
        Deno.lstat(this.paths.blob(etag)),
      ]);
      return entry.isFile && blob.isFile && entry.ino !== null && entry.ino === blob.ino && entry.dev === blob.dev;
    } catch {
      return false;
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
    // temporary entries are made in blobs/: it must be this repository's real folder (Deno checks paths, not
    // where symlinks lead, and not at all for a link made through libc)
    await this.#assertRealBlobsDir();
    for (;;) {
      const tmp = tmpName(this.paths);
      try {
        if (this.#mode === "symlink") await this.#symlink(this.paths.blobLinkTarget(path, etag), tmp, entry, blob);
        // a blob that is Python's link into its shared Xet store: the hard link is of the store file (a link
        // of the relative symlink itself would dangle from the snapshot folder)
        else if (this.#mode === "hardlink") {
          await Deno.link((await sharedStoreTarget(this.paths.cacheDir, blob))?.storePath ?? blob, tmp);
        } else await Deno.copyFile(blob, tmp);
      } catch (e) {
        await Deno.remove(tmp).catch(() => {});
        if (e instanceof CacheError) throw e;
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

  /**
   * A relative symlink at `tmp` (later renamed to `entry`): `Deno.symlink`, or, where Deno's permissions
   * refuse it (a path-scoped `--allow-write`), libc's `symlink(2)` after proving `tmp` lies in this
   * repository's `blobs/` (its real folder too) and that `target`, read from `entry`, resolves to `blob`.
   */
  async #symlink(target: string, tmp: string, entry: string, blob: string): Promise<void> {
    if (!this.#viaLibc) {
      try {
        return await Deno.symlink(target, tmp);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotCapable) || Deno.build.os === "windows") throw e;
        this.#viaLibc = true;
      }
    }
    const proven = insideOrThrow(this.paths.blobsDir, tmp, "a temporary link");
    if (parent(proven) !== this.paths.blobsDir) {
      throw new CacheError(`refusing a temporary link outside blobs/: ${tmp}`);
    }
    const resolved = normalizePath(`${parent(entry)}/${target}`);
    if (resolved !== normalizePath(blob) || !isInside(this.paths.blobsDir, resolved)) {
      throw new CacheError(`refusing a snapshot link that does not lead to its blob: ${entry} -> ${target}`);
    }
    const outcome = libcSymlink(target, proven);
    if (outcome === "ok") return;
    if (outcome === "unavailable") {
      throw new Deno.errors.NotCapable("symlinks need unscoped --allow-read/--allow-write, or --allow-ffi");
    }
    if (outcome.errno === 17) throw new Deno.errors.AlreadyExists(`${tmp} exists`);
    throw new Error(`symlink(2) failed with errno ${outcome.errno}`);
  }

  #fallBack(cause: unknown): void {
    const from = this.#mode;
    this.#mode = from === "symlink" ? "hardlink" : "copy";
    if (this.#warned && from === "symlink") return;
    const why = isPermissionError(cause)
      ? "not permitted (Deno needs unscoped --allow-read and --allow-write, or --allow-ffi, for symlinks)"
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

  /**
   * Writes Python's tree listing of `commit`, `trees/{commit}.json` (huggingface_hub 2.x's `_tree_cache.py`, format 1),
   * so that Python's `snapshot_download(revision=<commit>)` works offline on what gpux pulled, as on what it
   * downloaded itself. Nothing is written when a file lacks its git oid (Python requires `blob_id`).
   */
  async writePythonTree(commit: string, files: readonly ModelFile[]): Promise<void> {
    checkCommit(commit);
    const path = pythonTreePath(this.paths.root, commit);
    if (files.some((f) => !f.oid)) return;
    try {
      await Deno.stat(path);
      return; // a commit's listing never changes
    } catch { /* absent: write it */ }
    await this.#atomicWrite(path, pythonTreeText(files));
  }

  /** `snapshots/{commit}/{path}`, proven to stay inside `snapshots/{commit}/`. */
  #snapshotEntry(commit: string, path: string): string {
    checkCommit(commit);
    return insideOrThrow(this.paths.snapshot(commit), this.paths.snapshot(commit, path), `the snapshot file '${path}'`);
  }

  /**
   * `blobs/` really is this repository's folder inside the cache (no symlink on the way leads elsewhere): a
   * link made through libc is not checked by Deno's permissions.
   */
  async #assertRealBlobsDir(): Promise<void> {
    let blobs: string, cache: string;
    try {
      [blobs, cache] = await Promise.all([Deno.realPath(this.paths.blobsDir), Deno.realPath(this.paths.cacheDir)]);
    } catch (e) {
      throw this.#error(`cannot resolve ${this.paths.blobsDir}`, e);
    }
    const expected = `${cache.replace(/\/+$/, "")}/${
      this.paths.root.slice(this.paths.root.lastIndexOf("/") + 1)
    }/blobs`;
    if (blobs !== expected) {
      throw new CacheError(
        `refusing to link through ${this.paths.blobsDir}: it resolves to ${blobs}, outside ${cache}`,
        {
          hint: "a symlink inside the cache leads elsewhere; remove it and pull again",
        },
      );
    }
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

/** Python's tree listing of `commit` under `folder` (a repository's cache folder, or `DIR/.cache/huggingface`). */
export function pythonTreePath(folder: string, commit: string): string {
  return `${folder}/trees/${commit}.json`;
}

/** The JSON of Python's tree listing (`format_version` 1; files sorted by path, as Python writes them). */
export function pythonTreeText(files: readonly ModelFile[]): string {
  const entries = [...files].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0).map((f) => [
    f.path,
    f.lfs
      ? { size: f.size, blob_id: f.oid, lfs_sha256: f.lfs.sha256, lfs_size: f.lfs.size }
      : { size: f.size, blob_id: f.oid },
  ]);
  return JSON.stringify({ format_version: 1, files: Object.fromEntries(entries) }, null, 2);
}

/** `.gpux/manifests/{sha}.json` inside the repository's cache folder. */
export function manifestPath(paths: RepoCachePaths, sha: string): string {
  return `${paths.root}/.gpux/manifests/${sha}.json`;
}

/**
 * The file list of `sha`: the manifest gpux wrote, else Python's tree listing `trees/{sha}.json` (which
 * huggingface_hub 2.x's `snapshot_download` writes, and which lists every file of the repository at that commit just
 * as gpux's manifest does; its `pipelineTag` is then unknown). `undefined` when there is neither (or both are
 * unreadable or malformed).
 *
 * With Python's listing, a cache Python filled tells gpux what a complete snapshot holds, as it tells Python's own
 * offline `snapshot_download`: a file deleted from it (`hf cache rm hf://models/org/name/file`) is known to be missing,
 * not silently absent.
 */
export async function readManifest(paths: RepoCachePaths, sha: string): Promise<SnapshotManifest | undefined> {
  try {
    const manifest = JSON.parse(await Deno.readTextFile(manifestPath(paths, sha))) as SnapshotManifest;
    if (manifest.sha === sha && Array.isArray(manifest.files)) return manifest;
  } catch { /* none, or unreadable: Python's listing, if any */ }
  return await readPythonTree(paths, sha);
}

/** Python's `trees/{sha}.json` (format 1) as a manifest; `undefined` when absent, unreadable or malformed. */
async function readPythonTree(paths: RepoCachePaths, sha: string): Promise<SnapshotManifest | undefined> {
  if (!/^[0-9a-f]{40}$/.test(sha)) return undefined;
  const path = pythonTreePath(paths.root, sha);
  try {
    const [text, info] = await Promise.all([Deno.readTextFile(path), Deno.stat(path)]);
    const tree = JSON.parse(text) as { format_version?: unknown; files?: unknown };
    if (tree.format_version !== 1 || typeof tree.files !== "object" || tree.files === null) return undefined;
    const files: ModelFile[] = [];
    for (const [file, entry] of Object.entries(tree.files as Record<string, unknown>)) {
      if (typeof entry !== "object" || entry === null) return undefined;
      const { size, blob_id: oid, lfs_sha256: sha256, lfs_size: lfsSize } = entry as Record<string, unknown>;
      if (typeof size !== "number" || typeof oid !== "string") return undefined;
      if (sha256 !== undefined && (typeof sha256 !== "string" || typeof lfsSize !== "number")) return undefined;
      files.push({
        path: file,
        size,
        oid,
        ...(typeof sha256 === "string" ? { lfs: { sha256, size: lfsSize as number } } : {}),
      });
    }
    return {
      id: paths.repoId,
      sha,
      files: files.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
      written: (info.mtime ?? new Date(0)).toISOString(),
    };
  } catch {
    return undefined;
  }
}
