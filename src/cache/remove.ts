/**
 * `gpux rm`: removes one revision of a cached model, or the whole model, with the blobs no
 * remaining revision uses. A plan comes first (what goes, what it frees), then its execution.
 *
 * Order of deletion, so that an interrupted removal never leaves a broken cache behind: the refs
 * pointing at a removed revision first (a ref never names a missing snapshot), then the snapshot's
 * links, then its `.no_exist` markers, and the blobs last (no link ever dangles). Only paths inside
 * the model's folder are touched; links are removed as links, never followed.
 *
 * @module
 */
import { resolve } from "node:path";
import { denoEnv, type EnvReader, hubCacheDir } from "../environment.ts";
import { InputError, ModelNotFoundError, RevisionNotFoundError } from "../errors.ts";
import { type ModelRef, parseModelId } from "../vocabulary/model_id.ts";
import { blobUsage, type CachedModel, type CachedRevision, scanCachedModel } from "./scan.ts";
import { bytesFreedBy, filesBelow, ModelFolderDeleter } from "./safe_delete.ts";
import { RepoCachePaths } from "../vocabulary/cache_layout.ts";
import { acquireRepoLock, type LockInfo } from "./lock.ts";
import { manifestPath } from "./snapshot_writer.ts";

/** A revision a removal deletes or keeps. */
export interface PlannedRevision {
  /** Commit sha (the snapshot folder's name). */
  commit: string;
  /** Refs pointing at it. */
  refs: string[];
  /** Files in the snapshot. */
  fileCount: number;
  /** Sum of its files' sizes. */
  size: number;
}

/** A blob a removal deletes. */
export interface PlannedBlob {
  /** Blob name: sha256 or git blob sha1. */
  etag: string;
  /** Absolute path. */
  path: string;
  /** Bytes. */
  size: number;
}

/** What {@linkcode planRemoval} decided; {@linkcode executeRemoval} carries it out. */
export interface RemovalPlan {
  /** The cache directory. */
  cacheDir: string;
  /** Repository id. */
  model: string;
  /** The model's folder, `models--org--name`. */
  modelPath: string;
  /** The revision asked for (`main`, a sha, a sha prefix), if one was. */
  revision?: string;
  /** True when nothing of the model is left afterwards: the whole folder goes. */
  wholeModel: boolean;
  /** Revisions removed. */
  revisions: PlannedRevision[];
  /** Revisions left in place. */
  keptRevisions: PlannedRevision[];
  /** Refs removed (those pointing at a removed revision). */
  refs: string[];
  /** Blobs removed (no remaining revision uses them). */
  blobs: PlannedBlob[];
  /** Bytes freed on disk (each inode once; a hard link frees bytes only with its last link). */
  freedBytes: number;
}

/** What {@linkcode executeRemoval} did. */
export interface RemovalResult extends RemovalPlan {
  /** False for a dry run. */
  removed: boolean;
}

/** Options of {@linkcode planRemoval} and {@linkcode removeFromCache}. */
export interface RemovalOptions {
  /** The cache directory; default from the environment. */
  cacheDir?: string;
  /** Environment reader for the cache location. */
  env?: EnvReader;
  /** Plan only; delete nothing. */
  dryRun?: boolean;
  /** Stops between deletions (the cache stays consistent). */
  signal?: AbortSignal;
  /** Called once when another process (a pull) holds the model's lock and the removal waits for it. */
  onLockWait?: (holder: LockInfo | undefined) => void;
}

/**
 * Plans the removal of `target` (`org/name` for the whole model, `org/name@rev` for one revision,
 * where `rev` is a ref name, a commit sha or a unique prefix of one).
 *
 * @throws {ModelNotFoundError} when the model is not cached.
 * @throws {RevisionNotFoundError} when no cached revision matches.
 * @throws {InputError} for an ambiguous sha prefix or an invalid id.
 * @example
 * ```ts
 * const plan = await planRemoval("acme/tiny-bert@v1.0");
 * console.log(plan.revisions.map((r) => r.commit), plan.freedBytes);
 * ```
 */
export async function planRemoval(target: string | ModelRef, options: RemovalOptions = {}): Promise<RemovalPlan> {
  const ref = typeof target === "string" ? parseModelId(target) : target;
  const cacheDir = resolve(hubCacheDir(options.env ?? denoEnv, options.cacheDir));
  const model = await scanCachedModel(cacheDir, ref.id);
  if (!model) {
    throw new ModelNotFoundError(`${ref.id} is not in the cache (${cacheDir})`, {
      hint: "run `gpux ls` to see the cached models",
    });
  }
  // refuses a model folder that is a link out of the cache before anything is planned
  await ModelFolderDeleter.open(cacheDir, model.path);
  if (ref.revision === undefined) return await planWholeModel(cacheDir, model);

  const { commits, refs } = resolveCachedRevision(model, ref.revision);
  return await planCommits(cacheDir, model, commits, refs, ref.revision);
}

/**
 * The removal of `commits` (and of the refs named in `refs`, and every ref pointing at one of the
 * commits) from `model` as it is now; the whole model when no other revision remains.
 */
async function planCommits(
  cacheDir: string,
  model: CachedModel,
  commits: string[],
  refs: string[],
  revision: string,
): Promise<RemovalPlan> {
  const removed = model.revisions.filter((r) => commits.includes(r.commit));
  const kept = model.revisions.filter((r) => !commits.includes(r.commit));
  if (kept.length === 0) {
    const whole = await planWholeModel(cacheDir, model);
    return { ...whole, revision };
  }
  const refsRemoved = Object.entries(model.refs)
    .filter(([name, commit]) => refs.includes(name) || commits.includes(commit))
    .map(([name]) => name);

  // blobs used by a kept revision stay; a copy may be a copy of any blob of its size
  const keptUsage = blobUsage(kept);
  const removedUsage = blobUsage(removed);
  const blobs = model.blobs
    .filter((b) => removedUsage.uses(b) && !keptUsage.uses(b))
    .map((b) => ({ etag: b.etag, path: b.path, size: b.size }));

  // what Python's delete_revisions counts as freed: blobs and snapshot files (a copy frees its bytes), not gpux's
  // own manifests (removed with the revision all the same)
  const content = [...blobs.map((b) => b.path), ...removed.flatMap((r) => r.files.map((f) => f.snapshotPath))];
  return {
    cacheDir,
    model: model.id,
    modelPath: model.path,
    revision,
    wholeModel: false,
    revisions: removed.map(planned),
    keptRevisions: kept.map(planned),
    refs: refsRemoved,
    blobs,
    freedBytes: await bytesFreedBy(content),
  };
}

/**
 * Carries out a plan from {@linkcode planRemoval} under the model's lock (waiting while a pull
 * holds it): the plan is made again for the cache as it is then, for the very revisions planned,
 * and carried out in order: refs, snapshots, `.no_exist` markers and gpux manifests, then blobs (or
 * the whole folder). Safe to run again after an interruption.
 *
 * @example
 * ```ts
 * const plan = await planRemoval("acme/tiny-bert");
 * if (confirm(`free ${plan.freedBytes} bytes?`)) await executeRemoval(plan);
 * ```
 */
export async function executeRemoval(plan: RemovalPlan, options: ExecuteRemovalOptions = {}): Promise<RemovalResult> {
  const lock = await acquireRepoLock(plan.cacheDir, plan.model, {
    signal: options.signal,
    onWait: options.onLockWait,
  });
  try {
    // a pull may have changed the model since the plan was made: plan again, under the lock, for
    // the very revisions that were planned (a ref that moved meanwhile does not redirect the removal)
    const current = await replan(plan);
    if (current) await carryOut(current, options.signal);
    return { ...(current ?? plan), removed: true };
  } finally {
    await lock.release();
  }
}

/** Options of {@linkcode executeRemoval}. */
export interface ExecuteRemovalOptions {
  /** Stops between deletions (the cache stays consistent). */
  signal?: AbortSignal;
  /** Called once when another process (a pull) holds the model's lock and the removal waits for it. */
  onLockWait?: (holder: LockInfo | undefined) => void;
}

/** `plan` for the cache as it is now; `undefined` when there is nothing left to remove. */
async function replan(plan: RemovalPlan): Promise<RemovalPlan | undefined> {
  const model = await scanCachedModel(plan.cacheDir, plan.model);
  if (!model) return undefined;
  if (plan.revision === undefined) return await planWholeModel(plan.cacheDir, model);
  const commits = plan.revisions.map((r) => r.commit).filter((c) => model.revisions.some((r) => r.commit === c));
  const refs = plan.refs.filter((ref) =>
    model.refs[ref] !== undefined && !model.revisions.some((r) => r.commit === model.refs[ref])
  );
  if (commits.length === 0 && refs.length === 0) return undefined;
  return await planCommits(plan.cacheDir, model, commits, refs, plan.revision);
}

/** Deletes what `plan` lists, in the order that keeps the cache consistent. */
async function carryOut(plan: RemovalPlan, signal?: AbortSignal): Promise<void> {
  const deleter = await ModelFolderDeleter.open(plan.cacheDir, plan.modelPath);
  const root = plan.modelPath;
  const step = () => signal?.throwIfAborted();
  if (plan.wholeModel) {
    // refs first, then snapshots, then everything else: a reader never sees a ref without its snapshot
    step();
    await deleter.removeTree(`${root}/refs`);
    step();
    await deleter.removeTree(`${root}/snapshots`);
    step();
    await deleter.removeTree(`${root}/.no_exist`);
    step();
    await deleter.removeTree(root);
    return;
  }
  const paths = new RepoCachePaths(plan.cacheDir, plan.model);
  // every path is checked before anything is deleted, so a refusal leaves the cache as it was
  await deleter.checkAll([
    ...plan.refs.map((ref) => `${root}/refs/${ref}`),
    ...plan.revisions.map((r) => `${root}/snapshots/${r.commit}`),
    ...plan.blobs.map((b) => b.path),
  ]);
  for (const ref of plan.refs) {
    step();
    await deleter.removeEntry(`${root}/refs/${ref}`);
    await deleter.removeEmptyParents(parentOf(`${root}/refs/${ref}`), `${root}/refs`);
  }
  for (const revision of plan.revisions) {
    step();
    await deleter.removeTree(`${root}/snapshots/${revision.commit}`);
    step();
    await deleter.removeTree(`${root}/.no_exist/${revision.commit}`);
    await deleter.removeEntry(manifestPath(paths, revision.commit));
  }
  for (const blob of plan.blobs) {
    step();
    await deleter.removeEntry(blob.path);
  }
}

/**
 * Plans and (unless `dryRun`) removes `target` from the cache.
 *
 * @example
 * ```ts
 * const result = await removeFromCache("acme/tiny-bert@3f2a9c1", { dryRun: true });
 * console.log(`would free ${result.freedBytes} bytes`);
 * ```
 */
export async function removeFromCache(target: string | ModelRef, options: RemovalOptions = {}): Promise<RemovalResult> {
  const plan = await planRemoval(target, options);
  if (options.dryRun) return { ...plan, removed: false };
  return await executeRemoval(plan, options);
}

/**
 * The cached revision(s) `revision` names in `model`: a ref (all of the refs' commits), a full
 * commit sha, or a unique prefix of at least 4 hex digits.
 */
export function resolveCachedRevision(model: CachedModel, revision: string): { commits: string[]; refs: string[] } {
  const snapshotCommits = model.revisions.map((r) => r.commit);
  const refCommit = model.refs[revision];
  if (refCommit !== undefined) {
    return { commits: snapshotCommits.includes(refCommit) ? [refCommit] : [], refs: [revision] };
  }
  if (snapshotCommits.includes(revision)) return { commits: [revision], refs: [] };
  if (/^[0-9a-f]{4,39}$/.test(revision)) {
    const matches = snapshotCommits.filter((c) => c.startsWith(revision));
    if (matches.length === 1) return { commits: matches, refs: [] };
    if (matches.length > 1) {
      throw new InputError(`'${revision}' matches ${matches.length} cached revisions of ${model.id}`, {
        hint: `use more digits: ${matches.join(", ")}`,
      });
    }
  }
  const known = model.revisions.map((r) =>
    r.refs.length ? `${r.commit.slice(0, 12)} (${r.refs.join(", ")})` : r.commit.slice(0, 12)
  );
  throw new RevisionNotFoundError(`no cached revision of ${model.id} matches '${revision}'`, {
    hint: known.length ? `cached revisions: ${known.join("; ")}` : "the model has no cached revision",
  });
}

async function planWholeModel(cacheDir: string, model: CachedModel): Promise<RemovalPlan> {
  return {
    cacheDir,
    model: model.id,
    modelPath: model.path,
    wholeModel: true,
    revisions: model.revisions.map(planned),
    keptRevisions: [],
    refs: Object.keys(model.refs).sort(),
    blobs: model.blobs.map((b) => ({ etag: b.etag, path: b.path, size: b.size })),
    freedBytes: await bytesFreedBy(await filesBelow(model.path)),
  };
}

function planned(revision: CachedRevision): PlannedRevision {
  return { commit: revision.commit, refs: revision.refs, fileCount: revision.files.length, size: revision.size };
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}
