/**
 * `pullModel`: a pull is four named stages, read top-down in this file.
 *
 * 1. {@linkcode resolveCommit}: the revision becomes a commit and the repository's file list (from
 *    the cache when it can, else from the Hub).
 * 2. {@linkcode planFiles}: which files this run needs (the chosen ONNX variant with its external data
 *    and the small configuration/tokenizer files, or what `include`/`exclude` select) and which of them
 *    the cache already holds.
 * 3. {@linkcode fetchAndVerify}: the missing blobs, downloaded in parallel through the transfer engine
 *    and checked against their hashes, under the repository lock and Python's per-blob locks.
 * 4. {@linkcode publishSnapshot}: the snapshot links, `.no_exist` markers, Python's tree listing,
 *    gpux's manifest and `refs/{revision}`, written only once every file is verified.
 *
 * Two variants: when everything is cached already, {@linkcode publishFromCache} links what the
 * snapshot lacks and nothing is downloaded; with `localDir`, each verified file is published into
 * that folder as it lands ({@linkcode publishLocalFiles}) and there is no snapshot.
 *
 * The Hub is reached only through the {@linkcode PullSource} (the Hub client): this file builds no
 * URL and reads no token. Requests made: a pinned commit sha whose snapshot is complete makes none; a
 * branch or tag makes one (the revision check) when its commit is already complete in the cache;
 * otherwise the file list, then the missing files. Offline mode makes none and reports what is missing.
 *
 * @module
 */
import { CacheError, DiskFullError, InputError, InterruptedError, OfflineError } from "../errors.ts";
import { findCachedSnapshot, readRef, RepoCachePaths } from "../vocabulary/cache_layout.ts";
import { acquireBlobLock, acquireFileLock, acquireRepoLock, type BlobLock } from "../cache/lock.ts";
import {
  checkLocalDir,
  ensureLocalDirCache,
  localDirPaths,
  readLocalDirMetadata,
  writeLocalDirMetadata,
} from "../cache/local_dir.ts";
import { manifestPath, readManifest, SnapshotWriter } from "../cache/snapshot_writer.ts";
import { insideOrThrow } from "../cache/contained_path.ts";
import { sharedStoreTarget } from "../cache/shared_store.ts";
import { downloadBlob } from "../download/blob_download.ts";
import { hashKindOfEtag } from "../download/content_hash.ts";
import { Semaphore } from "../download/semaphore.ts";
import { describeBytes, writeFailure } from "../write_failure.ts";
import { TransferProgress } from "../download/transfer_progress.ts";
import { filterPaths } from "./file_filter.ts";
import { checkListing } from "./listing_check.ts";
import { conversionHint, detectFormats, isOnnxFile, onnxVariants, selectVariantFiles } from "../vocabulary/formats.ts";
import type { ModelFile, PullOptions, PullProgressEvent, PullResult, PullSource } from "./manager.ts";
import { cacheWriteError } from "../file_errors.ts";
import { isCommitSha, parseModelId, validateRevision } from "../vocabulary/model_id.ts";

/**
 * Default connection budget of a pull: files and byte ranges in flight together. A CDN caps each
 * connection (tens of MB/s), so the budget, not the link, bounds a pull of many files: 32 fetched
 * 50 files of 4 MB 1.45x faster than 8 on the shaped local hub (docs/performance.md).
 */
export const DEFAULT_CONCURRENCY = 32;

/** Small files a run may need; when absent from the repository they are marked in `.no_exist/`. */
const RUN_FILES = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "preprocessor_config.json",
];

/** What every stage of one pull reads: the request, where it goes, and how it reports. Never changes. */
interface PullContext {
  /** The Hub client. */
  readonly source: PullSource;
  /** Repository id (`org/name`). */
  readonly id: string;
  /** The revision asked for (default `main`). */
  readonly revision: string;
  /** The Hub cache folders of this repository. */
  readonly paths: RepoCachePaths;
  /** `options.localDir` without trailing slashes: plain files go there instead of a snapshot. */
  readonly localDir?: string;
  /** No network at all. */
  readonly offline: boolean;
  /** The connection budget: files and byte ranges in flight together. */
  readonly concurrency: number;
  /** The caller's options (force, include/exclude, variant, signal, transfer tuning …). */
  readonly options: PullOptions;
  /** Writes the snapshot: links, markers, manifest, ref. */
  readonly writer: SnapshotWriter;
  /** Reports progress to `options.onProgress`. */
  readonly emit: (event: PullProgressEvent) => void;
  /** `performance.now()` when the pull started. */
  readonly started: number;
}

/** Stage 1's answer: the commit and the repository's whole file list there. */
interface ResolvedCommit {
  /** The commit (40 hex). */
  sha: string;
  /** Every file of the repository at `sha` (checked where it entered). */
  repoFiles: ModelFile[];
  /** The Hub's pipeline tag, when known (for the conversion hint). */
  pipelineTag?: string;
}

/** One file of the plan. `cached` turns true when another process completes it while this one waits. */
interface PlannedFile {
  file: ModelFile;
  etag: string;
  cached: boolean;
}

/** Stage 2's answer: the files this pull takes and what the cache holds of them. */
interface PullPlan extends ResolvedCommit {
  /** The files selected (variant, include/exclude). */
  selected: ModelFile[];
  /** The ONNX variant chosen, when any. */
  variant?: string;
  /** One entry per selected file; re-checked once the repository lock is held. */
  files: PlannedFile[];
}

/**
 * Downloads `modelId` (`org/name[@revision]`) into `source`'s Hub cache (or `options.localDir`) and
 * returns where it is. The cache folder, endpoint, token, timeouts and offline mode come from the
 * source's configuration; `options` may turn offline mode on for this pull.
 *
 * @throws {InputError} bad id, revision, glob, variant or concurrency.
 * @throws {OfflineError} offline and the cache lacks something (the message lists it).
 * @throws {IntegrityError} a file did not match its hash (nothing unverified is kept).
 * @throws {NetworkError} a transfer kept failing (the bytes already on disk are kept for resume).
 * @throws {InterruptedError} `options.signal` aborted (partial files stay for resume).
 * @throws {CacheError} the cache folder is not a folder, or cannot be written.
 * @example
 * ```ts
 * import { HuggingFaceManager, pullModel } from "jsr:@gpux/gpux";
 * const manager = new HuggingFaceManager({ cacheDir: "/tmp/hf-cache" });
 * const result = await pullModel(manager, "onnx-community/bert-base", { variant: "q4" });
 * console.log(result.snapshotPath, result.bytesDownloaded);
 * ```
 */
export async function pullModel(source: PullSource, modelId: string, options: PullOptions = {}): Promise<PullResult> {
  await checkCacheFolder(source.cacheDir);
  if (options.localDir !== undefined) {
    // never silently ignored: a dangerous or impossible folder is refused before anything is asked or written
    options = {
      ...options,
      localDir: await checkLocalDir(options.localDir, {
        cacheDir: source.cacheDir,
        ...(options.protectedDirs ? { protect: options.protectedDirs } : {}),
      }),
    };
  }
  try {
    const ctx = pullContext(source, modelId, options);
    const resolved = await resolveCommit(ctx);
    const plan = await planFiles(ctx, resolved);
    if (options.dryRun) return pullResult(ctx, plan, 0, true);
    if (!options.force && plan.files.every((p) => p.cached)) {
      await publishFromCache(ctx, plan);
      return pullResult(ctx, plan, 0, false);
    }
    const lock = await lockRepository(ctx);
    try {
      const bytesDownloaded = await fetchAndVerify(ctx, plan);
      if (!ctx.localDir) await publishSnapshot(ctx, plan);
      return pullResult(ctx, plan, bytesDownloaded, false);
    } finally {
      await lock.release();
    }
  } catch (error) {
    // a cache another user owns, a read-only mount: a CacheError naming the folder, not an unexpected failure
    throw cacheWriteError(error, source.cacheDir) ?? error;
  }
}

/** A cache folder that exists must be a folder (one that does not yet is created as files land). */
async function checkCacheFolder(cacheDir: string): Promise<void> {
  const info = await Deno.stat(cacheDir).catch(() => undefined);
  if (info && !info.isDirectory) {
    throw new CacheError(`the cache directory ${cacheDir} is not a directory`, {
      hint: "pass --cache-dir or set HF_HUB_CACHE to a directory",
    });
  }
}

/** The context of one pull, after checking the id, revision and options. Reads nothing, requests nothing. */
function pullContext(source: PullSource, modelId: string, options: PullOptions): PullContext {
  const started = performance.now();
  const ref = parseModelId(modelId);
  const revision = options.revision ?? ref.revision ?? "main";
  validateRevision(revision);
  const offline = options.offline ?? source.offline;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InputError(`invalid concurrency ${concurrency}: it must be a whole number of at least 1`, {
      hint: "leave it out for the default (32), or give a whole number from 1 to 64",
    });
  }
  if (offline && options.force) {
    throw new InputError("--force downloads again, which offline mode forbids", {
      hint: "drop --force, or go online (unset HF_HUB_OFFLINE / drop --offline)",
    });
  }
  const emit = (event: PullProgressEvent) => options.onProgress?.(event);
  const paths = new RepoCachePaths(source.cacheDir, ref.id);
  const writer = new SnapshotWriter(paths, {
    onWarning: (message) => emit({ type: "warning", message }),
    onNotice: (message) => emit({ type: "notice", message }),
  });
  const localDir = options.localDir?.replace(/\/+$/, "");
  return { source, id: ref.id, revision, paths, localDir, offline, concurrency, options, writer, emit, started };
}

/**
 * Stage 1, resolve the revision: which commit, and the repository's file list there.
 *
 * Reads: `refs/{revision}`, gpux's manifest of the commit (trusted only when its file list passes the
 * Hub listing's checks), and offline, a snapshot folder Python wrote.
 * Requests: none for a pinned sha with a manifest, or offline; one (`source.revisionCommit`) when a
 * branch or tag was pulled before and its manifest is here; otherwise `source.resolveRevision` (the
 * model record, then the paged file tree).
 * Writes: nothing.
 *
 * @throws {OfflineError} offline and the cache knows neither the ref nor the commit's files.
 */
async function resolveCommit(ctx: PullContext): Promise<ResolvedCommit> {
  const { source, id, revision, paths, offline, options } = ctx;
  let sha: string | undefined = isCommitSha(revision) ? revision : undefined;
  if (offline && !sha) sha = await readRef(paths, revision);
  if (offline && !sha) {
    throw new OfflineError(`${id}@${revision} is not in the cache (${paths.cacheDir}) and offline mode is on`, {
      hint: `pull it once while online (gpux pull ${id}${revision === "main" ? "" : `@${revision}`})`,
    });
  }
  if (sha && !options.force) {
    const manifest = await trustedManifest(paths, sha);
    if (manifest) return { sha, repoFiles: manifest.files, pipelineTag: manifest.pipelineTag };
  }
  if (offline) {
    const repoFiles = await snapshotListing(paths, sha!);
    if (!repoFiles) {
      throw new OfflineError(
        `${id}@${revision} (${sha}) is not in the cache (${paths.cacheDir}) and offline mode is on`,
        {
          hint: `pull it once while online (gpux pull ${id}@${sha})`,
        },
      );
    }
    return { sha: sha!, repoFiles };
  }
  // online. When gpux has pulled this ref before, one request tells whether it still points at a commit gpux
  // has the file list of; otherwise the commit and its file list (two requests + paging).
  const known = sha || options.force ? undefined : await readRef(paths, revision);
  const knownManifest = known ? await trustedManifest(paths, known) : undefined;
  if (knownManifest) {
    const current = await source.revisionCommit(id, revision, options.signal);
    const manifest = current === known ? knownManifest : await trustedManifest(paths, current);
    if (manifest) return { sha: current, repoFiles: manifest.files, pipelineTag: manifest.pipelineTag };
    sha = current;
  }
  const listing = await source.resolveRevision(id, sha ?? revision, { signal: options.signal });
  return { sha: listing.sha, repoFiles: listing.files, pipelineTag: listing.info.pipelineTag };
}

/**
 * Stage 2, plan the files: select what this pull takes and check what the cache already holds, then
 * report the plan (`plan` event).
 *
 * Reads: the size of each selected file's blob (`blobs/{etag}`, a regular file only), or with
 * `localDir` the file and its `.cache/huggingface/download` metadata; offline, the snapshot entries.
 * Requests: none. Writes: nothing.
 *
 * @throws {InputError} nothing matches `include`/`exclude`, or an unknown variant.
 * @throws {OfflineError} offline and a selected file is missing (the message lists them).
 */
async function planFiles(ctx: PullContext, resolved: ResolvedCommit): Promise<PullPlan> {
  const { id, revision, paths, localDir, options } = ctx;
  const { files: selected, variant } = selectPullFiles(resolved.repoFiles, options);
  if (selected.length === 0) {
    throw new InputError(`nothing to pull: no file of ${id}@${revision} matches the given --include/--exclude`, {
      hint: `list the files with \`gpux info ${id} --files\``,
    });
  }
  const plan: PullPlan = { ...resolved, selected, variant, files: await checkCache(ctx, resolved.sha, selected) };
  if (ctx.offline) {
    const missing: string[] = [];
    for (const p of plan.files) {
      if (!p.cached && (localDir || !(await fileSize(paths.snapshot(plan.sha, p.file.path))))) {
        missing.push(p.file.path);
      }
    }
    if (missing.length > 0) {
      throw new OfflineError(
        `offline mode is on and ${missing.length} file(s) of ${id}@${revision} are not in the cache: ${
          missing.slice(0, 20).join(", ")
        }${missing.length > 20 ? ", …" : ""}`,
        { hint: "pull the model while online, or choose files that are cached (--variant, --include)" },
      );
    }
  }
  ctx.emit({
    type: "plan",
    id,
    revision,
    sha: plan.sha,
    files: plannedEntries(plan),
    bytesTotal: plan.files.reduce((sum, p) => sum + p.file.size, 0),
    bytesCached: cachedBytes(plan),
  });
  return plan;
}

/**
 * Which of `selected` are already in place: in the cache, a blob of the right size (or, for a file
 * without a hash, its snapshot entry); in a local dir, the file with metadata naming its etag and its
 * size unchanged (as `hf download --local-dir` decides). With `force`, none.
 *
 * @throws {InputError} the Hub gave a file no usable hash where one is needed.
 */
async function checkCache(ctx: PullContext, commit: string, selected: ModelFile[]): Promise<PlannedFile[]> {
  const { paths, localDir, options } = ctx;
  return await Promise.all(selected.map(async (file) => {
    if (localDir) {
      const etag = etagOf(file);
      const meta = options.force ? undefined : await readLocalDirMetadata(localDir, file.path);
      const size = await fileSize(localDirPaths(localDir, file.path).file);
      return { file, etag, cached: meta?.etag === etag && size === file.size };
    }
    const etag = file.lfs?.sha256 ?? file.oid ?? "";
    if (options.force) return { file, etag: etagOf(file), cached: false };
    if (!etag) return { file, etag, cached: await fileSize(paths.snapshot(commit, file.path)) !== undefined };
    return { file, etag, cached: await blobSize(ctx, etag) === file.size };
  }));
}

/**
 * The variant of stages 3 and 4 when every selected file is cached: nothing to download and no lock
 * needed. In the cache it links what the snapshot lacks (atomic renames) and turns the hard links an
 * earlier pull made without symlinks into symlinks; a local dir needs nothing.
 *
 * Reads: the snapshot entries. Requests: none.
 * Writes: snapshot links, and online for a branch or tag, `refs/{revision}`.
 */
async function publishFromCache(ctx: PullContext, plan: PullPlan): Promise<void> {
  const { writer, localDir } = ctx;
  if (!localDir) {
    for (const p of plan.files) {
      if (!p.etag) continue;
      const linked = await writer.isLinked(plan.sha, p.file.path, p.etag, p.file.size);
      if (!linked || await writer.isUpgradable(plan.sha, p.file.path, p.etag)) {
        await writer.link(plan.sha, p.file.path, p.etag);
      }
    }
  }
  for (const p of plan.files) ctx.emit({ type: "file-done", path: p.file.path, size: p.file.size, cached: true });
  if (!localDir && !ctx.offline && !isCommitSha(ctx.revision)) await ctx.writer.writeRef(ctx.revision, plan.sha);
}

/**
 * The repository lock every download and publish of the cache happens under (a process waiting on
 * it is told who holds it; a stale one is taken over). A local dir has none: Python's per-file locks
 * cover it.
 */
async function lockRepository(ctx: PullContext): Promise<{ release(): Promise<void> }> {
  if (ctx.localDir) return { release: async () => {} };
  const { id, emit } = ctx;
  return await acquireRepoLock(ctx.source.cacheDir, id, {
    signal: ctx.options.signal,
    onWait: (holder) =>
      emit({
        type: "warning",
        message: `waiting for another process${
          holder ? ` (pid ${holder.pid} on ${holder.host})` : ""
        } that is pulling ${id}`,
      }),
    onStale: (holder, reason) =>
      emit({
        type: "warning",
        message: `took over a stale lock on ${id}${
          holder ? ` left by pid ${holder.pid} on ${holder.host}` : ""
        }: ${reason}`,
      }),
  });
}

/** What the blob transfers of one {@linkcode fetchAndVerify} share. */
interface Transfers {
  /** The commit the files are fetched at. */
  commit: string;
  /** Byte and file progress, reported as events. */
  progress: TransferProgress;
  /** The connection budget all transfers draw from. */
  connections: Semaphore;
  /** Aborts on the caller's signal or on the first failure. */
  signal: AbortSignal;
}

/**
 * Stage 3, fetch and verify: downloads every missing blob once (paths sharing an etag share the
 * download), largest first, `concurrency` at a time, each checked against its hash before it is kept.
 * The first failure stops the rest; bytes on disk stay for resume.
 *
 * Reads: the plan again (another process may have completed files while this one waited for the lock),
 * then per blob whether it appeared meanwhile.
 * Requests: per missing blob, the file at its commit as `source.fileDownload` describes it (whole, or as
 * byte ranges), with retries.
 * Writes: `blobs/{etag}` (through a `.incomplete` file), under Python's per-blob lock; with `localDir`,
 * the files and their metadata (the local-dir publish). Marks files another process completed as cached.
 * Returns the bytes transferred.
 *
 * @throws {DiskFullError} restated for the whole pull: how much it still needs, and where.
 */
async function fetchAndVerify(ctx: PullContext, plan: PullPlan): Promise<number> {
  const { paths, localDir, options } = ctx;
  if (!options.force) plan.files = await checkCache(ctx, plan.sha, plan.selected);
  const progress = new TransferProgress(plannedEntries(plan), ctx.emit);
  for (const p of plan.files) if (p.cached) progress.done(p.file.path, true);

  // identical blobs are fetched once; every path with that etag is done when it lands
  const byEtag = new Map<string, PlannedFile[]>();
  for (const p of plan.files) {
    if (p.cached) continue;
    const list = byEtag.get(p.etag) ?? [];
    list.push(p);
    byEtag.set(p.etag, list);
  }
  const jobs = [...byEtag.values()].sort((a, b) => b[0].file.size - a[0].file.size);
  const stagingDir = localDir ? `${localDir}/.cache/huggingface/download` : paths.blobsDir;
  try {
    if (localDir) await ensureLocalDirCache(localDir);
    else await Deno.mkdir(paths.blobsDir, { recursive: true });
  } catch (error) {
    throw writeFailure(error, { path: `${stagingDir}/`, bytesNeeded: remainingBytes(jobs, new Set()) });
  }

  const internal = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, internal.signal]) : internal.signal;
  const transfers: Transfers = { commit: plan.sha, progress, connections: new Semaphore(ctx.concurrency), signal };
  const slots = new Semaphore(ctx.concurrency);
  const finished = new Set<PlannedFile[]>();
  let bytesDownloaded = 0;
  let failure: unknown;
  await Promise.all(jobs.map(async (group) => {
    try {
      await slots.acquire(signal);
    } catch (error) {
      failure ??= error;
      return;
    }
    try {
      const transferred = await fetchBlob(ctx, transfers, group); // (`x += await …` would read x before the wait)
      bytesDownloaded += transferred;
      finished.add(group);
    } catch (error) {
      if (failure === undefined) {
        failure = error;
        internal.abort(error);
      }
    } finally {
      slots.release();
    }
  }));
  if (failure !== undefined) {
    if (options.signal?.aborted && !(failure instanceof InterruptedError)) throw new InterruptedError("interrupted");
    if (failure instanceof DiskFullError) throw diskFull(failure, stagingDir, remainingBytes(jobs, finished));
    throw failure;
  }
  return bytesDownloaded;
}

/**
 * One blob of stage 3, for every planned path that shares its etag: under Python's per-blob lock (per
 * file in a local dir), uses what another process completed meanwhile, else downloads and verifies it,
 * and in a local dir publishes it at once. Returns the bytes transferred.
 */
async function fetchBlob(ctx: PullContext, transfers: Transfers, group: PlannedFile[]): Promise<number> {
  const { source, id, paths, localDir, options } = ctx;
  const { commit, progress, signal } = transfers;
  const { file, etag } = group[0];
  const local = localDir ? localDirPaths(localDir, file.path) : undefined;
  let blobLock: BlobLock | undefined;
  try {
    // while Python (or another gpux) fetches it, wait, then use its result
    const onWait = () => ctx.emit({ type: "notice", message: `waiting for another download of ${file.path}` });
    blobLock = local
      ? await acquireFileLock(local.lock, { signal, onWait })
      : await acquireBlobLock(source.cacheDir, id, etag, { signal, onWait });
    const there = localDir
      ? (await readLocalDirMetadata(localDir, file.path))?.etag === etag && await fileSize(local!.file) === file.size
      : await blobSize(ctx, etag) === file.size;
    if (!options.force && there) {
      for (const p of group) {
        p.cached = true;
        progress.done(p.file.path, true);
      }
      return 0;
    }
    const destination = local
      ? local.staging(etag)
      : insideOrThrow(paths.blobsDir, paths.blob(etag), `the blob of '${file.path}'`);
    const outcome = await downloadBlob({
      ...await source.fileDownload(id, commit, file.path),
      destination,
      expected: { size: file.size, hash: etag, kind: hashKindOfEtag(etag)! },
      label: file.path,
      signal,
      connections: transfers.connections,
      maxConnections: ctx.concurrency,
      chunkSize: options.transfer?.chunkSize,
      rangeThreshold: options.transfer?.rangeThreshold,
      onStart: (resumedFrom) => progress.start(file.path, resumedFrom),
      onBytes: (n) => progress.add(file.path, n),
      onRewind: (n) => progress.rewind(file.path, n),
      onRetry: (info) =>
        ctx.emit({ type: "retry", path: file.path, attempt: info.attempt, delayMs: info.delayMs, reason: info.reason }),
    });
    if (localDir) await publishLocalFiles(localDir, commit, group, destination);
    for (const p of group) progress.done(p.file.path, false);
    return outcome.bytesTransferred;
  } finally {
    blobLock?.release();
  }
}

/**
 * The local-dir variant of stage 4, run per blob inside stage 3: puts a verified download into a local
 * dir as `hf download --local-dir` leaves it: the file at its path (renamed from `staged`; a copy for
 * each further path with the same content), then its metadata. A symlink in the way is removed (never
 * what it points at); a folder in the way is an error.
 *
 * Reads: what is at each target path. Requests: none.
 * Writes: the files and `.cache/huggingface/download/{path}.metadata`.
 */
async function publishLocalFiles(dir: string, commit: string, group: PlannedFile[], staged: string): Promise<void> {
  const targets = group.map((p) => ({ p, paths: localDirPaths(dir, p.file.path) }));
  for (const [i, { p, paths }] of targets.entries()) {
    const parentDir = paths.file.slice(0, paths.file.lastIndexOf("/"));
    try {
      await Deno.mkdir(parentDir, { recursive: true });
      const stat = await Deno.lstat(paths.file).catch(() => undefined);
      if (stat?.isDirectory) {
        throw new CacheError(`cannot write ${paths.file}: a folder of that name is in the way`, {
          hint: `move it away, or pull into another --local-dir`,
        });
      }
      if (stat?.isSymlink) await Deno.remove(paths.file); // the link goes, never what it points at
      if (i === targets.length - 1) await Deno.rename(staged, paths.file);
      else await Deno.copyFile(staged, paths.file);
      await writeLocalDirMetadata(dir, p.file.path, commit, p.etag);
    } catch (error) {
      throw writeFailure(error, { path: paths.file, bytesNeeded: p.file.size });
    }
  }
}

/**
 * Stage 4, publish the snapshot: it appears only once every file is verified. An entry that already
 * leads to its blob (Python's symlink, say) is left alone.
 *
 * Reads: the snapshot entries. Requests: none.
 * Writes: `snapshots/{sha}/{path}` links; `.no_exist/{sha}/{name}` for each run file the repository
 * lacks; Python's tree listing when this pull took every file (Python calls a snapshot missing a listed
 * file incomplete); gpux's manifest when every file has a hash; `refs/{revision}` for a branch or tag.
 */
async function publishSnapshot(ctx: PullContext, plan: PullPlan): Promise<void> {
  const { writer, revision } = ctx;
  const { sha, repoFiles, pipelineTag } = plan;
  for (const p of plan.files) {
    const current = await writer.pointsAt(sha, p.file.path, p.etag);
    if (!current || await writer.isUpgradable(sha, p.file.path, p.etag)) {
      await writer.link(sha, p.file.path, p.etag);
    }
  }
  const present = new Set(repoFiles.map((f) => f.path));
  for (const name of RUN_FILES) if (!present.has(name)) await writer.markMissing(sha, name);
  if (plan.selected.length === repoFiles.length) await writer.writePythonTree(sha, repoFiles);
  if (repoFiles.every((f) => f.lfs?.sha256 || f.oid)) {
    await writer.writeManifest({
      id: ctx.id,
      sha,
      files: repoFiles,
      ...(pipelineTag ? { pipelineTag } : {}),
      written: new Date().toISOString(),
    });
  }
  if (!isCommitSha(revision)) await writer.writeRef(revision, sha);
}

/** What the pull returns, from its plan as it stands. */
function pullResult(ctx: PullContext, plan: PullPlan, bytesDownloaded: number, dryRun: boolean): PullResult {
  const { id, revision, localDir, paths } = ctx;
  return {
    id,
    revision,
    sha: plan.sha,
    snapshotPath: localDir ?? paths.snapshot(plan.sha),
    formats: detectFormats(plan.selected),
    ...(plan.variant ? { variant: plan.variant } : {}),
    ...(!detectFormats(plan.repoFiles).includes("onnx")
      ? { conversion: conversionHint(id, plan.pipelineTag, revision === "main" ? undefined : revision) }
      : {}),
    files: plannedEntries(plan),
    bytesDownloaded,
    bytesCached: cachedBytes(plan),
    seconds: (performance.now() - ctx.started) / 1000,
    dryRun,
  };
}

function plannedEntries(plan: PullPlan): { path: string; size: number; cached: boolean }[] {
  return plan.files.map((p) => ({ path: p.file.path, size: p.file.size, cached: p.cached }));
}

function cachedBytes(plan: PullPlan): number {
  return plan.files.filter((p) => p.cached).reduce((sum, p) => sum + p.file.size, 0);
}

/**
 * Which files of `files` a pull takes: with `variant` (or, for an ONNX repository without
 * `include`, its default variant) that variant's ONNX files and external data plus every file that
 * is no weight file (configs, tokenizer, README …); otherwise all files; then `include`/`exclude`.
 *
 * @throws {InputError} for an unknown variant (the message lists the variants there are).
 */
export function selectPullFiles<T extends ModelFile>(
  files: readonly T[],
  options: Pick<PullOptions, "variant" | "include" | "exclude"> = {},
): { files: T[]; variant?: string } {
  let variant = options.variant;
  const info = onnxVariants(files);
  if (!variant && !options.include?.length && info.variants.length > 0) variant = info.defaultVariant;
  let selected: T[] = [...files];
  if (variant) {
    const chosen = new Set(selectVariantFiles(files, variant).map((f) => f.path));
    selected = files.filter((f) => chosen.has(f.path) || (!isOnnxFile(f.path) && !isWeightFile(f.path)));
  }
  selected = filterPaths(selected, options.include, options.exclude);
  return { files: selected, variant };
}

/** Weights of another format (safetensors, PyTorch, TensorFlow, GGUF …): not needed to run ONNX. */
function isWeightFile(path: string): boolean {
  return detectFormats([{ path }]).length > 0;
}

function etagOf(file: ModelFile): string {
  const etag = file.lfs?.sha256 ?? file.oid;
  if (!etag || !hashKindOfEtag(etag)) {
    throw new InputError(`the Hub gave no usable hash for '${file.path}' (oid ${file.oid ?? "missing"})`, {
      hint: "the server is not answering as the Hub does: check HF_ENDPOINT, or leave this file out with --exclude",
    });
  }
  return etag;
}

/**
 * Size of the blob of `etag` in the cache: a regular `blobs/{etag}`, or a link there into huggingface_hub 2.x's
 * shared store of Xet files (Python's; used as it is, never replaced). Any other symlink is no blob: it could
 * point anywhere.
 */
async function blobSize(ctx: PullContext, etag: string): Promise<number | undefined> {
  const path = ctx.paths.blob(etag);
  const info = await Deno.lstat(path).catch(() => undefined);
  if (info?.isFile) return info.size;
  return info?.isSymlink ? (await sharedStoreTarget(ctx.source.cacheDir, path))?.size : undefined;
}

/** Size of the file at `path`, links followed; `undefined` when there is none. */
async function fileSize(path: string): Promise<number | undefined> {
  try {
    const stat = await Deno.stat(path);
    return stat.isFile ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * gpux's manifest of `sha`, when its file list passes the same checks as the Hub's (a manifest on
 * disk is outside data too); `undefined` otherwise, so that the list is asked for again.
 */
async function trustedManifest(paths: RepoCachePaths, sha: string) {
  const manifest = await readManifest(paths, sha);
  if (!manifest) return undefined;
  try {
    checkListing(manifest.files, manifestPath(paths, sha));
    return manifest;
  } catch {
    return undefined;
  }
}

/** The files of a snapshot folder gpux has no manifest for (e.g. one Python downloaded). */
async function snapshotListing(paths: RepoCachePaths, sha: string): Promise<ModelFile[] | undefined> {
  const root = paths.snapshot(sha);
  if (!(await findCachedSnapshot(paths.cacheDir, paths.repoId, sha))) return undefined;
  const files: ModelFile[] = [];
  const walk = async (dir: string, prefix: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      const full = `${dir}/${entry.name}`;
      // a real folder is walked; a link is a file entry (a link to a folder could loop forever)
      if (entry.isDirectory) {
        await walk(full, path);
        continue;
      }
      const stat = await Deno.stat(full).catch(() => undefined);
      if (stat?.isFile) files.push({ path, size: stat.size });
    }
  };
  await walk(root, "");
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** Bytes of the blobs still to download (a partial file on disk counts whole: it may be restarted). */
function remainingBytes(jobs: PlannedFile[][], finished: Set<PlannedFile[]>): number {
  return jobs.filter((group) => !finished.has(group)).reduce((sum, group) => sum + group[0].file.size, 0);
}

/** The disk-full error of one file, restated for the whole pull: how much it still needs and where. */
function diskFull(error: DiskFullError, blobsDir: string, needed: number): DiskFullError {
  return new DiskFullError(
    `${error.message.split(" while writing ")[0]} in ${blobsDir}: this pull needs up to ${
      describeBytes(needed)
    } (${needed} bytes) more free space there`,
    { cause: error.cause ?? error, folder: blobsDir, bytesNeeded: needed, hint: error.hint },
  );
}
