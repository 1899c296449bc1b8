/**
 * `gpux cache prune`: frees what no cached revision needs.
 *
 * - **detached revisions**: snapshots no ref points at, in a model that still has a revision a
 *   ref points at (an old `main` left behind when `main` moved). A model none of whose revisions
 *   has a ref (downloaded by commit sha, or by `@huggingface/hub`'s helpers, which write no refs)
 *   is kept whole: those snapshots are pinned downloads, not leftovers; `gpux rm` removes them.
 *   `keepDetached` keeps every detached revision.
 * - **unreferenced blobs**: blobs no remaining snapshot links to (including those only the removed
 *   detached revisions used). A blob with the size of a copied snapshot file is kept: it may be
 *   what the copy was made from.
 * - **partial downloads** (`blobs/*.incomplete`) last written more than `olderThanMs` ago
 *   (default one day), so a download in progress is never disturbed.
 * - **empty folders** in `snapshots/` and `.no_exist/`, and model folders left without any file,
 *   also only when older than `olderThanMs`.
 *
 * Datasets and spaces are left alone. Deletion follows the order of `gpux rm`: snapshot links
 * before blobs, and never a path outside a model's folder. Each model is pruned under its lock,
 * planned again once the lock is held; a model whose lock a pull holds is skipped (listed in
 * `inUse`), not waited for.
 *
 * @module
 */
import { resolve } from "node:path";
import { denoEnv, type EnvReader, hubCacheDir } from "../environment.ts";
import { blobUsage, type CachedModel, scanCache, scanCachedModel } from "./scan.ts";
import { bytesFreedBy, filesBelow, ModelFolderDeleter } from "./safe_delete.ts";
import { RepoCachePaths } from "../vocabulary/cache_layout.ts";
import { acquireRepoLock, type LockInfo, type RepoLock } from "./lock.ts";
import { manifestPath } from "./snapshot_writer.ts";

/** One day: the default age past which partial downloads and empty folders are pruned. */
export const DEFAULT_PRUNE_AGE_MS = 24 * 3600 * 1000;

/** What a prune item is. */
export type PruneItemKind = "detached_revision" | "unreferenced_blob" | "incomplete" | "empty_dir" | "stale_manifest";

/** One thing {@linkcode pruneCache} deletes. */
export interface PruneItem {
  /** Repository id. */
  model: string;
  /** What it is. */
  kind: PruneItemKind;
  /** Absolute path (a snapshot folder for a revision). */
  path: string;
  /** Bytes this item alone frees. */
  size: number;
  /** For a revision. */
  commit?: string;
  /** For a blob or a partial download. */
  etag?: string;
  /** Why it goes, in words. */
  reason: string;
}

/** A detached revision that was kept, and why. */
export interface KeptRevision {
  /** Repository id. */
  model: string;
  /** Commit sha. */
  commit: string;
  /** Why it was kept. */
  reason: string;
}

/** What {@linkcode pruneCache} deleted (or, with `dryRun`, would delete). */
export interface PruneResult {
  /** The cache directory. */
  cacheDir: string;
  /** True when nothing was deleted. */
  dryRun: boolean;
  /** Minimum age of partial downloads and empty folders. */
  olderThanMs: number;
  /** Detached revisions were kept. */
  keepDetached: boolean;
  /** What was (or would be) deleted. */
  items: PruneItem[];
  /** Bytes freed on disk (each inode once). */
  freedBytes: number;
  /** Detached revisions left in place. */
  keptDetached: KeptRevision[];
  /** Models skipped because a pull holds their lock (nothing of them was deleted). */
  inUse: { model: string; reason: string }[];
}

/** Options of {@linkcode pruneCache}. */
export interface PruneOptions {
  /** The cache directory; default from the environment. */
  cacheDir?: string;
  /** Environment reader for the cache location. */
  env?: EnvReader;
  /** List what would go; delete nothing. */
  dryRun?: boolean;
  /** Age past which partial downloads and empty folders go (default {@linkcode DEFAULT_PRUNE_AGE_MS}). */
  olderThanMs?: number;
  /** Keep every detached revision. */
  keepDetached?: boolean;
  /** Only these repository ids. */
  models?: string[];
  /** The current time (for ages). */
  now?: Date;
  /** Stops between deletions (the cache stays consistent). */
  signal?: AbortSignal;
}

/**
 * Deletes unreferenced blobs, stale partial downloads, detached revisions and empty folders,
 * and returns what it freed.
 *
 * @example
 * ```ts
 * const preview = await pruneCache({ dryRun: true });
 * for (const item of preview.items) console.log(item.kind, item.path, item.size);
 * const done = await pruneCache({ olderThanMs: 7 * 24 * 3600 * 1000 });
 * console.log(`freed ${done.freedBytes} bytes`);
 * ```
 */
export async function pruneCache(options: PruneOptions = {}): Promise<PruneResult> {
  const cacheDir = resolve(hubCacheDir(options.env ?? denoEnv, options.cacheDir));
  const olderThanMs = options.olderThanMs ?? DEFAULT_PRUNE_AGE_MS;
  const keepDetached = options.keepDetached ?? false;
  const cutoff = (options.now ?? new Date()).getTime() - olderThanMs;
  const scan = await scanCache({ cacheDir, models: options.models });
  const result: PruneResult = {
    cacheDir,
    dryRun: options.dryRun ?? false,
    olderThanMs,
    keepDetached,
    items: [],
    freedBytes: 0,
    keptDetached: [],
    inUse: [],
  };
  for (const model of scan.models) {
    const kept: KeptRevision[] = [];
    const plan = await planModel(cacheDir, model, cutoff, keepDetached, kept);
    if (result.dryRun || plan.items.length === 0) {
      result.items.push(...plan.items);
      result.keptDetached.push(...kept);
      result.freedBytes += await bytesFreedBy(plan.files);
      continue;
    }
    // a model a pull is writing is skipped, not waited for; under the lock the plan is made again
    const lock = await tryRepoLock(cacheDir, model.id, options.signal);
    if ("holder" in lock) {
      const who = lock.holder ? ` (pid ${lock.holder.pid} on ${lock.holder.host})` : "";
      result.inUse.push({ model: model.id, reason: `another gpux process${who} is using it` });
      continue;
    }
    try {
      const current = await scanCachedModel(cacheDir, model.id);
      if (!current) continue;
      const keptNow: KeptRevision[] = [];
      const fresh = await planModel(cacheDir, current, cutoff, keepDetached, keptNow);
      result.freedBytes += await bytesFreedBy(fresh.files);
      await executeModel(cacheDir, current, fresh.items, options.signal);
      result.items.push(...fresh.items);
      result.keptDetached.push(...keptNow);
    } finally {
      await lock.lock.release();
    }
  }
  return result;
}

/** Takes the model's lock if nobody holds it; otherwise says who does. */
async function tryRepoLock(
  cacheDir: string,
  repoId: string,
  signal?: AbortSignal,
): Promise<{ lock: RepoLock } | { holder: LockInfo | undefined }> {
  const busy = new AbortController();
  let holder: LockInfo | undefined;
  try {
    const lock = await acquireRepoLock(cacheDir, repoId, {
      signal: signal ? AbortSignal.any([signal, busy.signal]) : busy.signal,
      onWait: (info) => {
        holder = info;
        busy.abort();
      },
    });
    return { lock };
  } catch (e) {
    if (busy.signal.aborted && !signal?.aborted) return { holder };
    throw e;
  }
}

interface ModelPrunePlan {
  items: PruneItem[];
  /** Every file the items delete, for the freed-bytes count. */
  files: string[];
}

async function planModel(
  cacheDir: string,
  model: CachedModel,
  cutoff: number,
  keepDetached: boolean,
  kept: KeptRevision[],
): Promise<ModelPrunePlan> {
  const items: PruneItem[] = [];
  const files: string[] = [];
  const hasRefdRevision = model.revisions.some((r) => !r.detached);
  const removedCommits = new Set<string>();
  for (const revision of model.revisions.filter((r) => r.detached)) {
    if (keepDetached) {
      kept.push({ model: model.id, commit: revision.commit, reason: "--keep-detached" });
      continue;
    }
    if (!hasRefdRevision) {
      kept.push({
        model: model.id,
        commit: revision.commit,
        reason: "no ref points at any revision of this model (a download pinned to a commit); `gpux rm` removes it",
      });
      continue;
    }
    removedCommits.add(revision.commit);
    const snapshotFiles = revision.files.map((f) => f.snapshotPath);
    const noExist = await filesBelow(`${model.path}/.no_exist/${revision.commit}`);
    files.push(
      ...snapshotFiles,
      ...noExist,
      manifestPath(new RepoCachePaths(cacheDir, model.id), revision.commit),
    );
    items.push({
      model: model.id,
      kind: "detached_revision",
      path: revision.path,
      size: await bytesFreedBy(snapshotFiles),
      commit: revision.commit,
      reason: `no ref points at it (refs: ${Object.keys(model.refs).sort().join(", ") || "none"})`,
    });
  }

  // blobs no remaining revision uses
  const remaining = model.revisions.filter((r) => !removedCommits.has(r.commit));
  const usage = blobUsage(remaining);
  const usedByRemoved = new Set(
    model.revisions.filter((r) => removedCommits.has(r.commit)).flatMap((r) => r.files.flatMap((f) => f.etag ?? [])),
  );
  for (const blob of model.blobs) {
    if (usage.uses(blob)) continue;
    files.push(blob.path);
    items.push({
      model: model.id,
      kind: "unreferenced_blob",
      path: blob.path,
      size: await bytesFreedBy([blob.path]),
      etag: blob.etag,
      reason: usedByRemoved.has(blob.etag) ? "used only by detached revisions" : "no snapshot links to it",
    });
  }

  // entries of blobs/ that are links (or not files) no remaining revision names: the link goes, never its target
  // (a link into Python's shared store of Xet files stays: Python's `hf cache prune` keeps that store's reference lists)
  const namedByRemaining = new Set(remaining.flatMap((r) => r.files.flatMap((f) => f.etag ?? [])));
  for (const foreign of model.foreignBlobs) {
    if (foreign.kind !== "symlink" || namedByRemaining.has(foreign.etag)) continue;
    files.push(foreign.path);
    items.push({
      model: model.id,
      kind: "unreferenced_blob",
      path: foreign.path,
      size: 0,
      etag: foreign.etag,
      reason: `a symlink to ${foreign.target ?? "?"}, not a blob (the link is removed, not what it points at)`,
    });
  }

  // gpux's record of a commit whose snapshot is gone (Python's `hf cache rm` / delete_revisions removed it)
  const snapshots = new Set(model.revisions.map((r) => r.commit));
  for (const manifest of await staleManifests(model.path, snapshots)) {
    files.push(manifest.path);
    items.push({
      model: model.id,
      kind: "stale_manifest",
      path: manifest.path,
      size: manifest.size,
      commit: manifest.commit,
      reason: "gpux's file list of a revision that is no longer cached",
    });
  }

  for (const partial of model.incomplete) {
    if (partial.lastModified.getTime() > cutoff) continue;
    files.push(partial.path);
    items.push({
      model: model.id,
      kind: "incomplete",
      path: partial.path,
      size: partial.size,
      etag: partial.etag,
      reason: `partial download last written ${partial.lastModified.toISOString()}`,
    });
  }

  // empty folders (not those inside a revision being removed)
  const removedPaths = new Set([...removedCommits].flatMap((c) => [`snapshots/${c}`, `.no_exist/${c}`]));
  for (const top of ["snapshots", ".no_exist"]) {
    for (const dir of await emptyDirs(model.path, top, cutoff)) {
      const rel = dir.slice(model.path.length + 1);
      if ([...removedPaths].some((p) => rel === p || rel.startsWith(`${p}/`))) continue;
      items.push({ model: model.id, kind: "empty_dir", path: dir, size: 0, reason: "empty folder" });
    }
  }

  // the model's folder itself, when nothing would be left in it
  const allFiles = await filesBelow(model.path);
  const deleted = new Set(files);
  const rootInfo = await Deno.lstat(model.path);
  if (allFiles.every((f) => deleted.has(f)) && (rootInfo.mtime?.getTime() ?? 0) <= cutoff) {
    items.push({
      model: model.id,
      kind: "empty_dir",
      path: model.path,
      size: 0,
      reason: "nothing of the model is left",
    });
  }
  return { items, files };
}

/** `.gpux/manifests/{sha}.json` files of `modelPath` whose commit has no snapshot folder. */
async function staleManifests(
  modelPath: string,
  snapshots: Set<string>,
): Promise<{ path: string; commit: string; size: number }[]> {
  const dir = `${modelPath}/.gpux/manifests`;
  const found: { path: string; commit: string; size: number }[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const m = /^([0-9a-f]{40})\.json$/.exec(entry.name);
      if (!m || !entry.isFile || snapshots.has(m[1])) continue;
      const path = `${dir}/${entry.name}`;
      const stat = await Deno.lstat(path).catch(() => undefined);
      if (stat?.isFile) found.push({ path, commit: m[1], size: stat.size });
    }
  } catch {
    return [];
  }
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The top-most directories below `root/top` that hold no file or link at any depth and were last
 * modified before `cutoff` (with every directory below them).
 */
async function emptyDirs(root: string, top: string, cutoff: number): Promise<string[]> {
  const found: string[] = [];
  // returns true when `dir` is empty (recursively) and old enough
  const visit = async (dir: string): Promise<boolean> => {
    let entries: Deno.DirEntry[];
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(dir);
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return false;
    }
    const emptyChildren: string[] = [];
    let empty = true;
    for (const entry of entries) {
      const child = `${dir}/${entry.name}`;
      if (entry.isDirectory && await visit(child)) emptyChildren.push(child);
      else empty = false;
    }
    const old = (info.mtime?.getTime() ?? 0) <= cutoff;
    if (empty && old) return true;
    found.push(...emptyChildren);
    return false;
  };
  const base = `${root}/${top}`;
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(base));
  } catch {
    return [];
  }
  for (const entry of entries) {
    const child = `${base}/${entry.name}`;
    if (entry.isDirectory && await visit(child)) found.push(child);
  }
  return found.sort();
}

async function executeModel(cacheDir: string, model: CachedModel, items: PruneItem[], signal?: AbortSignal) {
  const deleter = await ModelFolderDeleter.open(cacheDir, model.path);
  const paths = new RepoCachePaths(cacheDir, model.id);
  const ofKind = (kind: PruneItemKind) => items.filter((i) => i.kind === kind);
  await deleter.checkAll(items.map((i) => i.path));
  // snapshot links before blobs, so no link is ever left dangling
  for (const item of ofKind("detached_revision")) {
    signal?.throwIfAborted();
    await deleter.removeTree(item.path);
    await deleter.removeTree(`${model.path}/.no_exist/${item.commit}`);
    await deleter.removeEntry(manifestPath(paths, item.commit!));
  }
  for (const item of [...ofKind("unreferenced_blob"), ...ofKind("incomplete"), ...ofKind("stale_manifest")]) {
    signal?.throwIfAborted();
    await deleter.removeEntry(item.path);
  }
  for (const item of ofKind("empty_dir")) {
    signal?.throwIfAborted();
    await deleter.removeTree(item.path);
  }
}
