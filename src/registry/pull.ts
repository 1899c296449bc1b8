/**
 * `pullModel`: resolves a revision to a commit, picks the files a run needs (the chosen ONNX variant
 * with its external data and the small configuration/tokenizer files, or what `include`/`exclude`
 * select), downloads only what the cache lacks through the transfer engine, and then links the
 * snapshot, writes `refs/{revision}` and gpux's manifest, all under a per-repository lock.
 *
 * Requests made: a pinned commit sha whose snapshot is complete makes none; a branch or tag makes
 * one (the revision check) when its commit is already complete in the cache; otherwise the file
 * list, then the missing files. Offline mode makes none and reports what is missing.
 *
 * @module
 */
import { denoEnv, hubCacheDir } from "../environment.ts";
import { CacheError, DiskFullError, InputError, InterruptedError, NetworkError, OfflineError } from "../errors.ts";
import { findCachedSnapshot, readRef, RepoCachePaths } from "../vocabulary/cache_layout.ts";
import { acquireBlobLock, acquireFileLock, acquireRepoLock, type BlobLock } from "../cache/lock.ts";
import { ensureLocalDirCache, localDirPaths, readLocalDirMetadata, writeLocalDirMetadata } from "../cache/local_dir.ts";
import { manifestPath, readManifest, SnapshotWriter } from "../cache/snapshot_writer.ts";
import { insideOrThrow } from "../cache/contained_path.ts";
import { downloadBlob } from "../download/blob_download.ts";
import { hashKindOfEtag } from "../download/content_hash.ts";
import { Semaphore } from "../download/semaphore.ts";
import { describeBytes, writeFailure } from "../download/write_failure.ts";
import { TransferProgress } from "../download/transfer_progress.ts";
import { VERSION } from "../version.ts";
import { filterPaths } from "./file_filter.ts";
import { checkListing } from "./listing_check.ts";
import { conversionHint, detectFormats, isOnnxFile, onnxVariants, selectVariantFiles } from "../vocabulary/formats.ts";
import type { HuggingFaceManager } from "./huggingface.ts";
import type { ModelFile, PullOptions, PullProgressEvent, PullResult, RegistryConfig } from "./manager.ts";
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

/** One file of the plan. */
interface PlannedFile {
  file: ModelFile;
  etag: string;
  cached: boolean;
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
    throw new InputError(`the Hub gave no usable hash for '${file.path}' (oid ${file.oid ?? "missing"})`);
  }
  return etag;
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** Size of `blobs/{etag}` when it is a regular file (a symlink there is no blob: it could point anywhere). */
async function regularBlobSize(path: string): Promise<number | undefined> {
  try {
    const stat = await Deno.lstat(path);
    return stat.isFile ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

async function blobSize(path: string): Promise<number | undefined> {
  try {
    const stat = await Deno.stat(path);
    return stat.isFile ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Downloads `modelId` (`org/name[@revision]`) into the Hub cache and returns where it is.
 *
 * @throws {InputError} bad id, revision, glob or variant.
 * @throws {OfflineError} offline and the cache lacks something (the message lists it).
 * @throws {IntegrityError} a file did not match its hash (nothing unverified is kept).
 * @throws {NetworkError} a transfer kept failing (the bytes already on disk are kept for resume).
 * @throws {InterruptedError} `options.signal` aborted (partial files stay for resume).
 * @example
 * ```ts
 * import { HuggingFaceManager, pullModel } from "jsr:@gpux/gpux";
 * const manager = new HuggingFaceManager();
 * const result = await pullModel({}, manager, "onnx-community/bert-base", { variant: "q4" });
 * console.log(result.snapshotPath, result.bytesDownloaded);
 * ```
 */
export async function pullModel(
  config: RegistryConfig,
  manager: HuggingFaceManager,
  modelId: string,
  options: PullOptions = {},
): Promise<PullResult> {
  const cacheDir = config.cacheDir ?? manager.config.cacheDir ?? hubCacheDir(config.env ?? denoEnv);
  const info = await Deno.stat(cacheDir).catch(() => undefined);
  if (info && !info.isDirectory) {
    throw new CacheError(`the cache directory ${cacheDir} is not a directory`, {
      hint: "pass --cache-dir or set HF_HUB_CACHE to a directory",
    });
  }
  try {
    return await pullModelInto(config, manager, modelId, options);
  } catch (error) {
    // a cache another user owns, a read-only mount: a CacheError naming the folder, not an unexpected failure
    throw cacheWriteError(error, cacheDir) ?? error;
  }
}

async function pullModelInto(
  config: RegistryConfig,
  manager: HuggingFaceManager,
  modelId: string,
  options: PullOptions,
): Promise<PullResult> {
  const started = performance.now();
  const ref = parseModelId(modelId);
  const revision = options.revision ?? ref.revision ?? "main";
  validateRevision(revision);
  const env = config.env ?? denoEnv;
  const cacheDir = config.cacheDir ?? manager.config.cacheDir ?? hubCacheDir(env);
  const paths = new RepoCachePaths(cacheDir, ref.id);
  const offline = options.offline ?? manager.offline;
  const emit = (event: PullProgressEvent) => options.onProgress?.(event);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InputError(`invalid concurrency ${concurrency}: it must be a whole number of at least 1`);
  }
  if (offline && options.force) {
    throw new InputError("--force downloads again, which offline mode forbids", {
      hint: "drop --force, or go online (unset HF_HUB_OFFLINE / drop --offline)",
    });
  }
  const writer = new SnapshotWriter(paths, {
    onWarning: (message) => emit({ type: "warning", message }),
    onNotice: (message) => emit({ type: "notice", message }),
  });

  // 1. what the cache already knows: a pinned commit, or (offline) the ref
  let sha: string | undefined = isCommitSha(revision) ? revision : undefined;
  if (offline && !sha) sha = await readRef(paths, revision);
  if (offline && !sha) {
    throw new OfflineError(`${ref.id}@${revision} is not in the cache (${cacheDir}) and offline mode is on`, {
      hint: `pull it once while online (gpux pull ${ref.id}${revision === "main" ? "" : `@${revision}`})`,
    });
  }
  let repoFiles: ModelFile[] | undefined;
  let pipelineTag: string | undefined;
  if (sha && !options.force) {
    const manifest = await trustedManifest(paths, sha);
    repoFiles = manifest?.files;
    pipelineTag = manifest?.pipelineTag;
  }
  if (!repoFiles && !offline) {
    // 2. online. When gpux has pulled this ref before, one request tells whether it still points at
    // a commit gpux has the file list of; otherwise the commit and its file list (two requests + paging).
    const known = sha || options.force ? undefined : await readRef(paths, revision);
    const knownManifest = known ? await trustedManifest(paths, known) : undefined;
    if (knownManifest) {
      const current = await revisionCommit(manager, ref.id, revision, options.signal);
      if (current === known) {
        sha = known;
        repoFiles = knownManifest.files;
        pipelineTag = knownManifest.pipelineTag;
      } else {
        sha = current;
        repoFiles = (await trustedManifest(paths, current))?.files;
      }
    }
    if (!repoFiles) {
      const record = await manager.resolveRevision(ref.id, sha ?? revision, { signal: options.signal });
      sha = record.sha;
      pipelineTag = record.info.pipelineTag;
      repoFiles = record.files;
    }
  } else if (!repoFiles) {
    repoFiles = await snapshotListing(paths, sha!);
    if (!repoFiles) {
      throw new OfflineError(
        `${ref.id}@${revision} (${sha}) is not in the cache (${cacheDir}) and offline mode is on`,
        {
          hint: `pull it once while online (gpux pull ${ref.id}@${sha})`,
        },
      );
    }
  }
  const commit = sha!;

  const { files: selected, variant } = selectPullFiles(repoFiles, options);
  if (selected.length === 0) {
    throw new InputError(`nothing to pull: no file of ${ref.id}@${revision} matches the given --include/--exclude`, {
      hint: `list the files with \`gpux info ${ref.id} --files\``,
    });
  }

  const localDir = options.localDir?.replace(/\/+$/, "");
  const planOf = async (): Promise<PlannedFile[]> =>
    await Promise.all(selected.map(async (file) => {
      if (localDir) {
        // as `hf download --local-dir`: a file is there when its metadata names its etag and it was not touched since
        const etag = etagOf(file);
        const meta = options.force ? undefined : await readLocalDirMetadata(localDir, file.path);
        const size = await blobSize(localDirPaths(localDir, file.path).file);
        return { file, etag, cached: meta?.etag === etag && size === file.size };
      }
      const etag = file.lfs?.sha256 ?? file.oid ?? "";
      if (options.force) return { file, etag: etagOf(file), cached: false };
      if (!etag) return { file, etag, cached: await blobSize(paths.snapshot(commit, file.path)) !== undefined };
      const cached = await regularBlobSize(paths.blob(etag)) === file.size;
      return { file, etag, cached };
    }));
  let plan = await planOf();
  const base = {
    id: ref.id,
    revision,
    sha: commit,
    snapshotPath: localDir ?? paths.snapshot(commit),
    formats: detectFormats(selected),
    ...(variant ? { variant } : {}),
    ...(!detectFormats(repoFiles).includes("onnx")
      ? { conversion: conversionHint(ref.id, pipelineTag, revision === "main" ? undefined : revision) }
      : {}),
  };
  const result = (bytesDownloaded: number, dryRun: boolean): PullResult => ({
    ...base,
    files: plan.map((p) => ({ path: p.file.path, size: p.file.size, cached: p.cached })),
    bytesDownloaded,
    bytesCached: plan.filter((p) => p.cached).reduce((sum, p) => sum + p.file.size, 0),
    seconds: (performance.now() - started) / 1000,
    dryRun,
  });

  if (offline) {
    const missing: string[] = [];
    for (const p of plan) {
      if (!p.cached && (localDir || !(await blobSize(paths.snapshot(commit, p.file.path))))) missing.push(p.file.path);
    }
    if (missing.length > 0) {
      throw new OfflineError(
        `offline mode is on and ${missing.length} file(s) of ${ref.id}@${revision} are not in the cache: ${
          missing.slice(0, 20).join(", ")
        }${missing.length > 20 ? ", …" : ""}`,
        { hint: "pull the model while online, or choose files that are cached (--variant, --include)" },
      );
    }
  }
  emit({
    type: "plan",
    id: ref.id,
    revision,
    sha: commit,
    files: plan.map((p) => ({ path: p.file.path, size: p.file.size, cached: p.cached })),
    bytesTotal: plan.reduce((sum, p) => sum + p.file.size, 0),
    bytesCached: plan.filter((p) => p.cached).reduce((sum, p) => sum + p.file.size, 0),
  });
  if (options.dryRun) return result(0, true);
  if (!options.force && plan.every((p) => p.cached) && localDir) {
    for (const p of plan) emit({ type: "file-done", path: p.file.path, size: p.file.size, cached: true });
    return result(0, false);
  }
  if (!options.force && plan.every((p) => p.cached)) {
    // every blob is here: link what the snapshot lacks (atomic renames; no lock needed), and turn the hard links an
    // earlier pull made without symlinks into symlinks, done
    for (const p of plan) {
      if (!p.etag) continue;
      const linked = await writer.isLinked(commit, p.file.path, p.etag, p.file.size);
      if (!linked || await writer.isUpgradable(commit, p.file.path, p.etag)) {
        await writer.link(commit, p.file.path, p.etag);
      }
    }
    for (const p of plan) emit({ type: "file-done", path: p.file.path, size: p.file.size, cached: true });
    if (!offline && !isCommitSha(revision)) await writer.writeRef(revision, commit);
    return result(0, false);
  }

  // 3. download what is missing, under the repository lock
  // (a local dir has no repository lock: Python's per-file locks cover it)
  const lock = localDir ? { release: async () => {} } : await acquireRepoLock(cacheDir, ref.id, {
    signal: options.signal,
    onWait: (holder) =>
      emit({
        type: "warning",
        message: `waiting for another process${
          holder ? ` (pid ${holder.pid} on ${holder.host})` : ""
        } that is pulling ${ref.id}`,
      }),
    onStale: (holder, reason) =>
      emit({
        type: "warning",
        message: `took over a stale lock on ${ref.id}${
          holder ? ` left by pid ${holder.pid} on ${holder.host}` : ""
        }: ${reason}`,
      }),
  });
  let bytesDownloaded = 0;
  try {
    // another process may have completed files while we waited
    if (!options.force) plan = await planOf();
    const progress = new TransferProgress(
      plan.map((p) => ({ path: p.file.path, size: p.file.size, cached: p.cached })),
      emit,
    );
    for (const p of plan) if (p.cached) progress.done(p.file.path, true);
    const headers = await authHeaders(manager);
    const http = manager.httpOptions(options.signal);

    // identical blobs are fetched once; every path with that etag is done when it lands
    const byEtag = new Map<string, PlannedFile[]>();
    for (const p of plan) {
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
    const finished = new Set<PlannedFile[]>();
    const connections = new Semaphore(concurrency);
    const slots = new Semaphore(concurrency);
    const internal = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, internal.signal]) : internal.signal;
    let failure: unknown;
    await Promise.all(jobs.map(async (group) => {
      const { file, etag } = group[0];
      try {
        await slots.acquire(signal);
      } catch (error) {
        failure ??= error;
        return;
      }
      let blobLock: BlobLock | undefined;
      const local = localDir ? localDirPaths(localDir, file.path) : undefined;
      try {
        // Python's per-blob lock (per file in a local dir): while Python (or another gpux) fetches it, wait, then
        // use its result
        const onWait = () => emit({ type: "notice", message: `waiting for another download of ${file.path}` });
        blobLock = local
          ? await acquireFileLock(local.lock, { signal, onWait })
          : await acquireBlobLock(cacheDir, ref.id, etag, { signal, onWait });
        const there = localDir
          ? (await readLocalDirMetadata(localDir, file.path))?.etag === etag &&
            await blobSize(local!.file) === file.size
          : await regularBlobSize(paths.blob(etag)) === file.size;
        if (!options.force && there) {
          finished.add(group);
          for (const p of group) {
            p.cached = true;
            progress.done(p.file.path, true);
          }
          return;
        }
        const outcome = await downloadBlob({
          url: `${manager.endpoint}/${ref.id}/resolve/${commit}/${encodePath(file.path)}`,
          headers,
          destination: local
            ? local.staging(etag)
            : insideOrThrow(paths.blobsDir, paths.blob(etag), `the blob of '${file.path}'`),
          expected: { size: file.size, hash: etag, kind: hashKindOfEtag(etag)! },
          label: file.path,
          fetch: http.fetch,
          signal,
          timeoutMs: manager.downloadTimeoutMs,
          stallTimeoutMs: manager.downloadTimeoutMs,
          maxRetries: http.maxRetries,
          baseDelayMs: http.baseDelayMs,
          maxDelayMs: http.maxDelayMs,
          connections,
          maxConnections: concurrency,
          chunkSize: options.transfer?.chunkSize,
          rangeThreshold: options.transfer?.rangeThreshold,
          onStart: (resumedFrom) => progress.start(file.path, resumedFrom),
          onBytes: (n) => progress.add(file.path, n),
          onRewind: (n) => progress.rewind(file.path, n),
          onRetry: (info) =>
            emit({ type: "retry", path: file.path, attempt: info.attempt, delayMs: info.delayMs, reason: info.reason }),
        });
        bytesDownloaded += outcome.bytesTransferred;
        if (local) await publishLocalFiles(localDir!, commit, group, local.staging(etag));
        finished.add(group);
        for (const p of group) progress.done(p.file.path, false);
      } catch (error) {
        if (failure === undefined) {
          failure = error;
          internal.abort(error);
        }
      } finally {
        blobLock?.release();
        slots.release();
      }
    }));
    if (failure !== undefined) {
      if (options.signal?.aborted && !(failure instanceof InterruptedError)) throw new InterruptedError("interrupted");
      if (failure instanceof DiskFullError) throw diskFull(failure, stagingDir, remainingBytes(jobs, finished));
      throw failure;
    }
    if (localDir) return result(bytesDownloaded, false);

    // 4. the snapshot appears only once every file is verified: links, markers, manifest, ref. An entry that
    // already leads to its blob (Python's symlink, say) is left alone.
    for (const p of plan) {
      const current = await writer.pointsAt(commit, p.file.path, p.etag);
      if (!current || await writer.isUpgradable(commit, p.file.path, p.etag)) {
        await writer.link(commit, p.file.path, p.etag);
      }
    }
    const present = new Set(repoFiles.map((f) => f.path));
    for (const name of RUN_FILES) if (!present.has(name)) await writer.markMissing(commit, name);
    // Python's tree listing tells its offline snapshot_download which files the snapshot should hold: written only
    // when this pull took them all, since Python calls a snapshot missing any listed file incomplete
    if (selected.length === repoFiles.length) await writer.writePythonTree(commit, repoFiles);
    if (repoFiles.every((f) => f.lfs?.sha256 || f.oid)) {
      await writer.writeManifest({
        id: ref.id,
        sha: commit,
        files: repoFiles,
        ...(pipelineTag ? { pipelineTag } : {}),
        written: new Date().toISOString(),
      });
    }
    if (!isCommitSha(revision)) await writer.writeRef(revision, commit);
  } finally {
    await lock.release();
  }
  return result(bytesDownloaded, false);
}

/**
 * Puts a verified download into a local dir as `hf download --local-dir` leaves it: the file at its path (renamed
 * from `staged`; a copy for each further path with the same content), then its metadata.
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

/** The commit `revision` points at now: one `GET /api/models/{id}/revision/{rev}`. */
async function revisionCommit(
  manager: HuggingFaceManager,
  id: string,
  revision: string,
  signal?: AbortSignal,
): Promise<string> {
  const url = `${manager.endpoint}/api/models/${id}/revision/${encodeURIComponent(revision)}`;
  const response = await manager.hubFetch({ repoId: id, revision }, signal)(url, {
    headers: await authHeaders(manager),
  });
  const body = await response.json() as { sha?: unknown };
  if (typeof body.sha !== "string" || !isCommitSha(body.sha)) {
    throw new NetworkError(`${manager.endpoint} did not return the commit of ${id}@${revision}`);
  }
  return body.sha;
}

async function authHeaders(manager: HuggingFaceManager): Promise<Record<string, string>> {
  const token = (await manager.resolvedToken())?.token;
  const headers: Record<string, string> = { "user-agent": `gpux/${VERSION}` };
  if (token) headers["authorization"] = `Bearer ${token}`;
  return headers;
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
