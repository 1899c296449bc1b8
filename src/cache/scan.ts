/**
 * Reads the Hub cache shared with Python's huggingface_hub: every cached model, its revisions
 * (commit, the refs pointing at it, its files), its size on disk and what is wrong with it.
 *
 * It reads caches written by Python (relative symlinks into `blobs/`), by `@huggingface/hub`'s
 * JavaScript helpers (symlinks, or plain copies where symlinks are not allowed), and by gpux
 * (symlinks, hard links or copies). Only `models--*` folders are read; datasets and spaces are
 * listed in {@linkcode CacheScan.skipped} and otherwise left alone.
 *
 * Size on disk counts every file of a model's folder once per inode: a blob hard-linked into
 * two snapshots counts once, a copy counts as the extra bytes it really takes, a symlink counts
 * nothing (its target is the blob).
 *
 * @module
 */
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { denoEnv, type EnvReader, hubCacheDir } from "../environment.ts";
import { CacheError } from "../errors.ts";
import { detectFormats } from "../vocabulary/formats.ts";
import type { ModelFormat } from "../vocabulary/formats.ts";
import { parseRepoFolderName, RepoCachePaths, repoFolderName } from "../vocabulary/cache_layout.ts";
import { isInside } from "./safe_delete.ts";
import { sharedStoreTarget } from "./shared_store.ts";

/** Sum of the sizes of the distinct contents (blobs, or copies) of `files`. */
function revisionSize(files: CachedFile[]): number {
  const sizes = new Map<string, number>();
  for (const f of files) sizes.set(f.contentPath, f.size);
  return [...sizes.values()].reduce((sum, size) => sum + size, 0);
}

/** How a snapshot entry holds its content. */
export type SnapshotEntryKind = "symlink" | "hardlink" | "copy";

/** One file of a cached snapshot. */
export interface CachedFile {
  /** Path inside the repository, `/`-separated: `onnx/model.onnx`. */
  path: string;
  /** Absolute path of the entry in `snapshots/{commit}/`. */
  snapshotPath: string;
  /** A symlink into `blobs/` (Python, gpux), a hard link of a blob (gpux), or a copy (`@huggingface/hub` without symlinks). */
  kind: SnapshotEntryKind;
  /** Name of the blob (its etag: sha256 or git blob sha1) for symlinks and hard links into `blobs/`. */
  etag?: string;
  /** Where the content lies: the symlink's resolved target, the blob of a hard link, or the copy itself. */
  contentPath: string;
  /** Content size in bytes; 0 for a dangling link. */
  size: number;
  /** A symlink whose target does not exist (its blob is missing). */
  dangling: boolean;
  /** A symlink pointing outside the model's folder (never followed by `rm` or `prune`). */
  external: boolean;
  /** Last modification of the content; `undefined` when dangling. */
  lastModified?: Date;
  /** Last access of the content; `undefined` when dangling. */
  lastAccessed?: Date;
}

/** One cached revision: `snapshots/{commit}/`. */
export interface CachedRevision {
  /** The snapshot folder's name: the commit sha. */
  commit: string;
  /** Refs pointing at it: `main`, `v1.0`, `refs/pr/1`. */
  refs: string[];
  /** Absolute path of the snapshot folder. */
  path: string;
  /** Its files, sorted by path. */
  files: CachedFile[];
  /**
   * What the revision weighs on its own: the sizes of its distinct blobs (two paths with the same content count
   * once, as Python's `scan_cache_dir` counts them; blobs it shares with other revisions included).
   */
  size: number;
  /** No ref points at it. */
  detached: boolean;
  /** Weight formats among its files. */
  formats: ModelFormat[];
  /** Latest modification among its files (the folder's own when it is empty). */
  lastModified: Date;
}

/** A file in `blobs/`. */
export interface CachedBlob {
  /** The blob's name: sha256 (LFS) or git blob sha1. */
  etag: string;
  /** Absolute path. */
  path: string;
  /** Bytes. */
  size: number;
  /** Last modification. */
  lastModified: Date;
  /** Last access. */
  lastAccessed: Date;
  /** Some snapshot entry links to it (or is a copy of the same size, which may be it). */
  referenced: boolean;
}

/** An entry of `blobs/` that is not a regular file. */
export interface ForeignBlob {
  /** Its name (what the etag would be). */
  etag: string;
  /** Absolute path. */
  path: string;
  /**
   * A link into huggingface_hub 2.x's cache-wide store of Xet files (`shared`: `{cache}/blobs/{2 hex}/{64 hex}`, a
   * regular file, in a cache whose `blobs/.huggingface-shared-blobs` marks the store; Python writes such links for
   * the files it downloads through Xet), another symlink (with the `target` it names), or something else (a folder,
   * a device).
   */
  kind: "shared" | "symlink" | "other";
  /** What the symlink points at, as written in the link. */
  target?: string;
  /** For a `shared` link: the store file's real path. */
  storePath?: string;
  /** For a `shared` link: the store file's size. */
  size?: number;
}

/** A partial download: `blobs/{etag}.incomplete`. */
export interface IncompleteFile {
  /** The etag the download is for. */
  etag: string;
  /** Absolute path of the partial file. */
  path: string;
  /** Bytes downloaded so far. */
  size: number;
  /** Last write. */
  lastModified: Date;
}

/** A ref whose commit has no snapshot in the cache. */
export interface DanglingRef {
  /** Ref name (`main`, `refs/pr/1`). */
  ref: string;
  /** The commit it names. */
  commit: string;
}

/** Everything known about one cached model. */
export interface CachedModel {
  /** Repository id, `org/name`. */
  id: string;
  /** Absolute path of `models--org--name`. */
  path: string;
  /** Revisions, most recently modified first. */
  revisions: CachedRevision[];
  /** Every ref and the commit it points at (`refs/pr/1` included). */
  refs: Record<string, string>;
  /** Bytes the model's folder takes: blobs, copies and partial downloads, each inode once. */
  sizeOnDisk: number;
  /** Distinct files across revisions (a blob shared by two revisions counts once). */
  fileCount: number;
  /** Weight formats across revisions. */
  formats: ModelFormat[];
  /** Latest modification of any of its files (the folder's own when it has none). */
  lastModified: Date;
  /** Latest access of any of its files (the folder's own when it has none). */
  lastAccessed: Date;
  /** Every blob in `blobs/`. */
  blobs: CachedBlob[];
  /** Blobs no snapshot entry refers to. */
  unreferencedBlobs: CachedBlob[];
  /**
   * Entries of `blobs/` that are not regular files: symlinks (to anywhere, outside the cache
   * included) and folders. A blob must be a file; these are never hashed as if they were one.
   */
  foreignBlobs: ForeignBlob[];
  /** Partial downloads (`blobs/*.incomplete`). */
  incomplete: IncompleteFile[];
  /** Snapshot symlinks whose blob is missing. */
  danglingLinks: CachedFile[];
  /** Commits of the revisions no ref points at. */
  detachedRevisions: string[];
  /** Refs naming a commit that has no snapshot. */
  danglingRefs: DanglingRef[];
  /** Known-missing files recorded by Python (`.no_exist/{commit}/{path}`). */
  noExistCount: number;
  /** Oddities found while reading (an unreadable entry, a malformed ref, …). */
  warnings: string[];
}

/** A folder of the cache directory that is not a model. */
export interface SkippedEntry {
  /** Folder name in the cache directory. */
  name: string;
  /** Why it was skipped. */
  reason: string;
}

/** The result of {@linkcode scanCache}. */
export interface CacheScan {
  /** The cache directory that was read. */
  cacheDir: string;
  /** False when the directory does not exist (then `models` is empty). */
  exists: boolean;
  /** Cached models, sorted by id. */
  models: CachedModel[];
  /** Sum of the models' sizes on disk. */
  sizeOnDisk: number;
  /** Datasets, spaces and foreign folders left alone. */
  skipped: SkippedEntry[];
}

/** Options of {@linkcode scanCache}. */
export interface ScanCacheOptions {
  /** The cache directory; default from the environment (see {@linkcode hubCacheDir}). */
  cacheDir?: string;
  /** Environment reader for `HF_HUB_CACHE` / `HF_HOME` / `HOME`. */
  env?: EnvReader;
  /** Only these repository ids (missing ones are simply absent from the result). */
  models?: string[];
}

/**
 * Scans the Hub cache: every model folder, with revisions, refs, files, sizes and problems.
 *
 * @example
 * ```ts
 * const scan = await scanCache();
 * for (const model of scan.models) console.log(model.id, model.sizeOnDisk, model.revisions.length);
 * ```
 */
export async function scanCache(options: ScanCacheOptions = {}): Promise<CacheScan> {
  const cacheDir = resolve(hubCacheDir(options.env ?? denoEnv, options.cacheDir));
  const result: CacheScan = { cacheDir, exists: false, models: [], sizeOnDisk: 0, skipped: [] };
  let entries: Deno.DirEntry[];
  try {
    entries = await readDirSorted(cacheDir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return result;
    if (e instanceof Deno.errors.NotADirectory) {
      throw new CacheError(`the cache directory ${cacheDir} is a file, not a directory`, {
        hint: "pass --cache-dir or set HF_HUB_CACHE to a directory",
      });
    }
    throw cacheReadError(cacheDir, e);
  }
  result.exists = true;
  const wanted = options.models ? new Set(options.models.map((id) => repoFolderName(id))) : undefined;
  for (const entry of entries) {
    if (entry.name.startsWith(".") || !(entry.isDirectory || entry.isSymlink)) continue;
    if (wanted && !wanted.has(entry.name)) continue;
    const parsed = parseRepoFolderName(entry.name);
    if (!parsed) {
      result.skipped.push({ name: entry.name, reason: "not a Hub cache folder" });
      continue;
    }
    if (parsed.repoType !== "model") {
      result.skipped.push({ name: entry.name, reason: `a ${parsed.repoType}; gpux manages models only` });
      continue;
    }
    const model = await scanModelFolder(join(cacheDir, entry.name), parsed.id);
    if (model) result.models.push(model);
  }
  result.models.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  result.sizeOnDisk = result.models.reduce((sum, m) => sum + m.sizeOnDisk, 0);
  return result;
}

/**
 * Scans one model of the cache; `undefined` when it is not cached.
 *
 * @example
 * ```ts
 * const model = await scanCachedModel("/home/me/.cache/huggingface/hub", "acme/tiny-bert");
 * ```
 */
export async function scanCachedModel(cacheDir: string, repoId: string): Promise<CachedModel | undefined> {
  return await scanModelFolder(new RepoCachePaths(cacheDir, repoId).root, repoId);
}

/** What reading one model folder accumulates. */
interface ModelFolder {
  root: string;
  blobsDir: string;
  realRoot?: string;
  realBlobsDir?: string;
  /** `dev:ino` of each blob -> its name, to recognise hard links. */
  blobByInode: Map<string, string>;
  /** Every inode inside the folder, counted once for the size on disk. */
  inodes: Map<string, InodeInfo>;
  warnings: string[];
}

interface InodeInfo {
  size: number;
  mtime: Date;
  atime: Date;
}

/** Scans `models--org--name`; `undefined` when it does not exist or is not a directory. */
async function scanModelFolder(root: string, id: string): Promise<CachedModel | undefined> {
  let rootStat: Deno.FileInfo;
  try {
    rootStat = await Deno.stat(root);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw cacheReadError(root, e);
  }
  if (!rootStat.isDirectory) return undefined;

  const warnings: string[] = [];
  const blobsDir = join(root, "blobs");
  const realBlobsDir = await realPathOrUndefined(blobsDir);
  // every inode inside the model's folder, counted once for the size on disk
  const inodes = new Map<string, InodeInfo>();

  // blobs/ and partial downloads
  const blobs: CachedBlob[] = [];
  const foreignBlobs: ForeignBlob[] = [];
  const incomplete: IncompleteFile[] = [];
  const blobByInode = new Map<string, string>();
  const folder: ModelFolder = {
    root,
    blobsDir,
    realRoot: await realPathOrUndefined(root),
    realBlobsDir,
    blobByInode,
    inodes,
    warnings,
  };
  for (const entry of await readDirOrEmpty(blobsDir, warnings)) {
    const path = join(blobsDir, entry.name);
    const info = await statOrWarn(path, warnings, false);
    if (!info) continue;
    if (entry.name.endsWith(".incomplete") && (info.isFile || info.isSymlink)) {
      // a partial download, or a writer's temporary file or link left by a crash
      if (info.isFile) inodes.set(inodeKey(info, path), inodeInfo(info));
      incomplete.push({
        // `{etag}.incomplete`, `{etag}.ranges[.json].incomplete`, Python's `{etag}.{8 hex}.incomplete`
        etag: /^([0-9a-f]{64}|[0-9a-f]{40})\./.exec(entry.name)?.[1] ?? entry.name.slice(0, -".incomplete".length),
        path,
        size: info.isFile ? info.size : 0,
        lastModified: info.mtime ?? new Date(0),
      });
      continue;
    }
    if (!info.isFile) {
      const target = info.isSymlink ? await Deno.readLink(path).catch(() => undefined) : undefined;
      const shared = info.isSymlink ? await sharedStoreTarget(dirname(root), path) : undefined;
      foreignBlobs.push({
        etag: entry.name,
        path,
        kind: shared ? "shared" : info.isSymlink ? "symlink" : "other",
        ...(target !== undefined ? { target } : {}),
        ...shared,
      });
      continue;
    }
    const key = inodeKey(info, path);
    inodes.set(key, inodeInfo(info));
    blobByInode.set(key, entry.name);
    blobs.push({
      etag: entry.name,
      path,
      size: info.size,
      lastModified: info.mtime ?? new Date(0),
      lastAccessed: info.atime ?? info.mtime ?? new Date(0),
      referenced: false,
    });
  }

  // refs/ (refs/refs/pr/1 is the ref `refs/pr/1`)
  const refs: Record<string, string> = {};
  const refsDir = join(root, "refs");
  for (const name of await listFilesRecursive(refsDir, warnings)) {
    let content: string;
    try {
      content = (await Deno.readTextFile(join(refsDir, name))).trim();
    } catch (e) {
      warnings.push(`cannot read ref ${name}: ${describe(e)}`);
      continue;
    }
    if (!/^[0-9a-f]{40}$/.test(content)) {
      warnings.push(`ref ${name} does not hold a commit sha`);
      continue;
    }
    refs[name] = content;
  }
  const refsByCommit = new Map<string, string[]>();
  for (const [ref, commit] of Object.entries(refs)) {
    refsByCommit.set(commit, [...(refsByCommit.get(commit) ?? []), ref]);
  }

  // snapshots/{commit}/…
  const revisions: CachedRevision[] = [];
  const snapshotsDir = join(root, "snapshots");
  for (const entry of await readDirOrEmpty(snapshotsDir, warnings)) {
    const path = join(snapshotsDir, entry.name);
    if (!entry.isDirectory) {
      warnings.push(`snapshots/${entry.name} is not a directory`);
      continue;
    }
    const files: CachedFile[] = [];
    for (const rel of await listFilesRecursive(path, warnings)) {
      const file = await readSnapshotEntry(folder, path, rel);
      if (file) files.push(file);
    }
    files.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    const folderInfo = await statOrWarn(path, warnings, false);
    const times = files.flatMap((f) => f.lastModified ? [f.lastModified.getTime()] : []);
    const commitRefs = (refsByCommit.get(entry.name) ?? []).sort(compareRefs);
    revisions.push({
      commit: entry.name,
      refs: commitRefs,
      path,
      files,
      size: revisionSize(files),
      detached: commitRefs.length === 0,
      formats: detectFormats(files),
      lastModified: new Date(times.length ? Math.max(...times) : folderInfo?.mtime?.getTime() ?? 0),
    });
  }
  revisions.sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime() || (a.commit < b.commit ? -1 : 1));

  const usage = blobUsage(revisions);
  for (const blob of blobs) blob.referenced = usage.uses(blob);
  blobs.sort((a, b) => a.etag < b.etag ? -1 : 1);

  // distinct contents: blobs by name, copies by inode
  const contents = new Set<string>();
  for (const revision of revisions) {
    for (const file of revision.files) if (!file.dangling) contents.add(file.etag ?? `copy:${file.contentPath}`);
  }

  const snapshotCommits = new Set(revisions.map((r) => r.commit));
  const danglingRefs = Object.entries(refs)
    .filter(([, commit]) => !snapshotCommits.has(commit))
    .map(([ref, commit]) => ({ ref, commit }));

  const noExistCount = (await listFilesRecursive(join(root, ".no_exist"), warnings)).length;
  const allTimes = [...inodes.values()];
  return {
    id,
    path: root,
    revisions,
    refs,
    sizeOnDisk: allTimes.reduce((sum, i) => sum + i.size, 0),
    fileCount: contents.size,
    formats: detectFormats(revisions.flatMap((r) => r.files)),
    lastModified: allTimes.length ? maxDate(allTimes.map((i) => i.mtime)) : rootStat.mtime ?? new Date(0),
    lastAccessed: allTimes.length ? maxDate(allTimes.map((i) => i.atime)) : rootStat.atime ?? new Date(0),
    blobs,
    unreferencedBlobs: blobs.filter((b) => !b.referenced),
    foreignBlobs: foreignBlobs.sort((a, b) => a.path < b.path ? -1 : 1),
    incomplete: incomplete.sort((a, b) => a.path < b.path ? -1 : 1),
    danglingLinks: revisions.flatMap((r) => r.files.filter((f) => f.dangling)),
    detachedRevisions: revisions.filter((r) => r.detached).map((r) => r.commit),
    danglingRefs,
    noExistCount,
    warnings,
  };
}

/** Classifies one snapshot entry (symlink, hard link of a blob, or copy) and records its inode. */
async function readSnapshotEntry(
  folder: ModelFolder,
  snapshotPath: string,
  rel: string,
): Promise<CachedFile | undefined> {
  const { root, blobsDir, realRoot, realBlobsDir, blobByInode, inodes, warnings } = folder;
  const entryPath = join(snapshotPath, rel);
  let lst: Deno.FileInfo;
  try {
    lst = await Deno.lstat(entryPath);
  } catch (e) {
    warnings.push(`cannot read ${entryPath}: ${describe(e)}`);
    return undefined;
  }
  if (lst.isSymlink) {
    let target: string;
    try {
      target = await Deno.readLink(entryPath);
    } catch (e) {
      warnings.push(`cannot read the link ${entryPath}: ${describe(e)}`);
      return undefined;
    }
    const resolved = isAbsolute(target) ? resolve(target) : resolve(dirname(entryPath), target);
    const inBlobs = dirname(resolved) === resolve(blobsDir) ||
      (realBlobsDir !== undefined && dirname(resolved) === realBlobsDir);
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.stat(entryPath);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) {
        warnings.push(`cannot follow the link ${entryPath}: ${describe(e)}`);
      }
    }
    if (info && !info.isFile) {
      warnings.push(`${entryPath} links to something that is not a file`);
      return undefined;
    }
    const realTarget = info ? await realPathOrUndefined(entryPath) : undefined;
    const external = !inBlobs &&
      !(isInside(resolve(root), resolved) || (realRoot !== undefined && realTarget !== undefined &&
        isInside(realRoot, realTarget)));
    if (info && !external) inodes.set(inodeKey(info, realTarget ?? resolved), inodeInfo(info));
    return {
      path: rel,
      snapshotPath: entryPath,
      kind: "symlink",
      ...(inBlobs ? { etag: basename(resolved) } : {}),
      contentPath: resolved,
      size: info?.size ?? 0,
      dangling: info === undefined,
      external,
      ...(info
        ? { lastModified: info.mtime ?? new Date(0), lastAccessed: info.atime ?? info.mtime ?? new Date(0) }
        : {}),
    };
  }
  if (!lst.isFile) return undefined;
  const key = inodeKey(lst, entryPath);
  inodes.set(key, inodeInfo(lst));
  const etag = blobByInode.get(key);
  return {
    path: rel,
    snapshotPath: entryPath,
    kind: etag ? "hardlink" : "copy",
    ...(etag ? { etag } : {}),
    contentPath: etag ? join(blobsDir, etag) : entryPath,
    size: lst.size,
    dangling: false,
    external: false,
    lastModified: lst.mtime ?? new Date(0),
    lastAccessed: lst.atime ?? lst.mtime ?? new Date(0),
  };
}

/** `main` first, then branches and tags, then `refs/pr/N`, each alphabetically. */
function compareRefs(a: string, b: string): number {
  const rank = (r: string) => r === "main" ? 0 : r.startsWith("refs/") ? 2 : 1;
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** `dev:ino`, or the path where the platform has no inode numbers. */
function inodeKey(info: Deno.FileInfo, path: string): string {
  return info.ino !== null && info.ino !== undefined ? `${info.dev}:${info.ino}` : `path:${path}`;
}

function inodeInfo(info: Deno.FileInfo): InodeInfo {
  const mtime = info.mtime ?? new Date(0);
  return { size: info.size, mtime, atime: info.atime ?? mtime };
}

function maxDate(dates: Date[]): Date {
  return new Date(Math.max(...dates.map((d) => d.getTime())));
}

async function realPathOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await Deno.realPath(path);
  } catch {
    return undefined;
  }
}

async function readDirSorted(dir: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  return entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

async function readDirOrEmpty(dir: string, warnings: string[]): Promise<Deno.DirEntry[]> {
  try {
    return await readDirSorted(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    warnings.push(`cannot read ${dir}: ${describe(e)}`);
    return [];
  }
}

/**
 * Relative paths (`/`-separated) of every file and symlink below `dir`, without following
 * symlinked directories.
 */
async function listFilesRecursive(dir: string, warnings: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string) => {
    for (const entry of await readDirOrEmpty(sub ? join(dir, sub) : dir, warnings)) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(rel);
      else if (entry.isFile || entry.isSymlink) out.push(rel);
    }
  };
  await walk("");
  return out;
}

async function statOrWarn(path: string, warnings: string[], follow: boolean): Promise<Deno.FileInfo | undefined> {
  try {
    return follow ? await Deno.stat(path) : await Deno.lstat(path);
  } catch (e) {
    warnings.push(`cannot read ${path}: ${describe(e)}`);
    return undefined;
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function cacheReadError(path: string, e: unknown): CacheError {
  if (e instanceof Deno.errors.NotCapable) {
    return new CacheError(`cannot read the cache at ${path}: the sandbox refused read access`, {
      cause: e,
      hint:
        "the sandbox grants each command only the cache it names (--cache-dir, else HF_HUB_CACHE, else $HF_HOME/hub): pass this cache with --cache-dir (README: Permissions)",
    });
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new CacheError(`cannot read the cache at ${path}: permission denied`, {
      cause: e,
      hint: "check the directory's permissions, or pass --cache-dir with a directory you can read",
    });
  }
  return new CacheError(`cannot read the cache at ${path}: ${describe(e)}`, { cause: e });
}

/** Which blobs some revisions use: by etag for links, by size for copies (a copy may be of any blob of its size). */
export interface BlobUsage {
  /** Etags the revisions' links point at. */
  etags: Set<string>;
  /** Sizes of the revisions' copied files. */
  copySizes: Set<number>;
  /** Whether `blob` may be used: its etag is linked, or a copy has its size. */
  uses(blob: { etag: string; size: number }): boolean;
}

/** The blobs `revisions` use (see {@linkcode BlobUsage}). */
export function blobUsage(revisions: Iterable<CachedRevision>): BlobUsage {
  const etags = new Set<string>();
  const copySizes = new Set<number>();
  for (const revision of revisions) {
    for (const file of revision.files) {
      if (file.etag) etags.add(file.etag);
      else if (file.kind === "copy") copySizes.add(file.size);
    }
  }
  return { etags, copySizes, uses: (blob) => etags.has(blob.etag) || copySizes.has(blob.size) };
}
