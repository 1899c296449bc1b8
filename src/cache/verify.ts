/**
 * `gpux cache verify`: re-hashes cached files and reports what does not match.
 *
 * - A blob named by 64 hex digits must have that sha256 (LFS files); one named by 40 hex digits
 *   must have that git blob sha1 (`sha1("blob <size>\0" + content)`). Both hashes cover the size,
 *   so a truncated or overgrown file is reported as corrupt, with its size.
 * - A snapshot link whose blob is missing is reported as missing.
 * - A hard link shares its blob's inode and is checked with it.
 * - Where `gpux pull` left a manifest of the revision (`.gpux/manifests/{commit}.json`: each file's
 *   etag and size as the Hub served them; else Python's tree listing `trees/{commit}.json`), a blob
 *   or copy of the wrong size is reported as a size mismatch without being hashed, a link to another
 *   blob than the Hub's as corrupt, and a copy is hashed against its own etag.
 * - Otherwise a copied snapshot file (written where symlinks were not allowed) is fine when its sha256 or
 *   git sha1 names a blob of the model; it is corrupt when it matches none although a blob of
 *   the same size exists (the one it was copied from); otherwise it cannot be checked and is
 *   listed as unverified.
 *
 * @module
 */
import { resolve } from "node:path";
import { denoEnv, type EnvReader, hubCacheDir } from "../environment.ts";
import { ModelNotFoundError } from "../errors.ts";
import { etagAlgorithm, gitBlobSha1File, sha256File } from "./file_hash.ts";
import { RepoCachePaths } from "../vocabulary/cache_layout.ts";
import { type CachedModel, scanCache } from "./scan.ts";
import { readManifest } from "./snapshot_writer.ts";

/**
 * What is wrong with a cached file: its content does not hash to its name (`corrupt`), its blob
 * is gone (`missing`), or its size is not the one the Hub gave (`size_mismatch`, known from the
 * manifest `gpux pull` writes; found without hashing).
 */
export type VerifyIssueKind = "corrupt" | "missing" | "size_mismatch";

/** One problem {@linkcode verifyCache} found. */
export interface VerifyIssue {
  /** Repository id. */
  model: string;
  /** Corrupt content, or a missing blob. */
  kind: VerifyIssueKind;
  /** The file on disk: a blob, a copied snapshot file, or a dangling link. */
  path: string;
  /** Paths inside the repository that show this content (`onnx/model.onnx`), with their revisions. */
  files: { revision: string; path: string }[];
  /** The expected hash (the blob's name), when known. */
  expected?: string;
  /** The hash found. */
  actual?: string;
  /** Size on disk in bytes (for corrupt files). */
  size?: number;
  /** The size the Hub gave the file, when known (for a size mismatch). */
  expectedSize?: number;
  /** True when some revision uses it (an unused corrupt blob only needs `gpux cache prune`). */
  referenced: boolean;
  /** What happened, in words. */
  message: string;
}

/** A file that could not be checked, and why. */
export interface UnverifiedFile {
  /** Repository id. */
  model: string;
  /** Absolute path. */
  path: string;
  /** Why it could not be checked. */
  reason: string;
}

/** Per-model summary. */
export interface ModelVerification {
  /** Repository id. */
  id: string;
  /** Files hashed. */
  filesChecked: number;
  /** Bytes hashed. */
  bytesChecked: number;
  /** Corrupt or missing files. */
  issues: number;
}

/** The result of {@linkcode verifyCache}. */
export interface VerifyResult {
  /** The cache directory. */
  cacheDir: string;
  /** True when nothing is corrupt or missing. */
  ok: boolean;
  /** Per-model summaries. */
  models: ModelVerification[];
  /** Files hashed. */
  filesChecked: number;
  /** Bytes hashed. */
  bytesChecked: number;
  /** Corrupt or missing files. */
  issues: VerifyIssue[];
  /** Files that could not be checked. */
  unverified: UnverifiedFile[];
}

/** Progress of {@linkcode verifyCache}. */
export interface VerifyProgressEvent {
  /** Repository id. */
  model: string;
  /** The file being hashed. */
  path: string;
  /** Bytes of this file hashed so far. */
  bytesDone: number;
  /** This file's size. */
  bytesTotal: number;
  /** Files finished. */
  filesDone: number;
  /** Files to hash in all. */
  filesTotal: number;
}

/** Options of {@linkcode verifyCache}. */
export interface VerifyOptions {
  /** The cache directory; default from the environment. */
  cacheDir?: string;
  /** Environment reader for the cache location. */
  env?: EnvReader;
  /** Only these repository ids; a missing one is a {@linkcode ModelNotFoundError}. */
  models?: string[];
  /** Called as files are hashed. */
  onProgress?: (event: VerifyProgressEvent) => void;
  /** Stops between chunks. */
  signal?: AbortSignal;
}

interface HashJob {
  model: CachedModel;
  path: string;
  size: number;
  /** The hash to check against: the blob's name, or a copy's etag from gpux's manifest; else unknown. */
  etag?: string;
  /** The size the Hub gave the file (from gpux's manifest), when known. */
  expectedSize?: number;
  files: { revision: string; path: string }[];
  referenced: boolean;
}

/**
 * Re-hashes the blobs (and copied snapshot files) of every cached model, or of `models`.
 *
 * @example
 * ```ts
 * const result = await verifyCache({ models: ["acme/tiny-bert"] });
 * if (!result.ok) for (const issue of result.issues) console.log(issue.kind, issue.path, issue.message);
 * ```
 */
export async function verifyCache(options: VerifyOptions = {}): Promise<VerifyResult> {
  const cacheDir = resolve(hubCacheDir(options.env ?? denoEnv, options.cacheDir));
  const scan = await scanCache({ cacheDir, models: options.models });
  for (const id of options.models ?? []) {
    if (!scan.models.some((m) => m.id === id)) {
      throw new ModelNotFoundError(`${id} is not in the cache (${cacheDir})`, {
        hint: "run `gpux ls` to see the cached models",
      });
    }
  }
  const result: VerifyResult = {
    cacheDir,
    ok: true,
    models: [],
    filesChecked: 0,
    bytesChecked: 0,
    issues: [],
    unverified: [],
  };

  const jobs: HashJob[] = [];
  for (const model of scan.models) {
    const usersOf = new Map<string, { revision: string; path: string }[]>();
    // what gpux pull recorded of each revision: every file's etag and size as the Hub served them
    const paths = new RepoCachePaths(cacheDir, model.id);
    const sizeOfEtag = new Map<string, number>();
    for (const revision of model.revisions) {
      const manifest = await readManifest(paths, revision.commit);
      const expected = new Map<string, { etag?: string; size: number }>();
      for (const f of manifest?.files ?? []) {
        const etag = f.lfs?.sha256 ?? f.oid;
        const size = f.lfs?.size ?? f.size;
        expected.set(f.path, { etag, size });
        if (etag) sizeOfEtag.set(etag, size);
      }
      for (const file of revision.files) {
        const want = expected.get(file.path);
        if (!file.dangling && file.etag && want?.etag && want.etag !== file.etag) {
          result.issues.push({
            model: model.id,
            kind: "corrupt",
            path: file.snapshotPath,
            files: [{ revision: revision.commit, path: file.path }],
            expected: want.etag,
            actual: file.etag,
            size: file.size,
            referenced: true,
            message: `${file.path} (revision ${revision.commit.slice(0, 12)}) points at blob ${file.etag}, ` +
              `but the Hub's file at that commit is ${want.etag}`,
          });
          continue;
        }
        if (file.dangling) {
          result.issues.push({
            model: model.id,
            kind: "missing",
            path: file.snapshotPath,
            files: [{ revision: revision.commit, path: file.path }],
            ...(file.etag ? { expected: file.etag } : {}),
            referenced: true,
            message: `${file.path} (revision ${revision.commit.slice(0, 12)}) links to ${
              file.etag ? `blob ${file.etag}` : file.contentPath
            }, which is missing`,
          });
        } else if (file.etag) {
          usersOf.set(file.etag, [...(usersOf.get(file.etag) ?? []), { revision: revision.commit, path: file.path }]);
        } else if (file.kind === "copy") {
          jobs.push({
            model,
            path: file.snapshotPath,
            size: file.size,
            ...(want?.etag && etagAlgorithm(want.etag) ? { etag: want.etag, expectedSize: want.size } : {}),
            files: [{ revision: revision.commit, path: file.path }],
            referenced: true,
          });
        } else {
          result.unverified.push({
            model: model.id,
            path: file.snapshotPath,
            reason: `links outside the model's blobs (${file.contentPath})`,
          });
        }
      }
    }
    for (const blob of model.foreignBlobs) {
      if (blob.kind === "shared") {
        // Python's link into its shared store of Xet files: the store file inside the cache is the content
        jobs.push({
          model,
          path: blob.storePath!,
          size: blob.size!,
          etag: blob.etag,
          ...(sizeOfEtag.has(blob.etag) ? { expectedSize: sizeOfEtag.get(blob.etag) } : {}),
          files: usersOf.get(blob.etag) ?? [],
          referenced: usersOf.has(blob.etag),
        });
        usersOf.delete(blob.etag);
        continue;
      }
      // a blob must be a file of the cache: a link is never followed (it could lead anywhere and match)
      const files = usersOf.get(blob.etag) ?? [];
      const used = files.length ? ` (used by ${files.map((f) => f.path).join(", ")})` : "";
      result.issues.push({
        model: model.id,
        kind: "corrupt",
        path: blob.path,
        files,
        ...(etagAlgorithm(blob.etag) ? { expected: blob.etag } : {}),
        // `gpux pull --force` replaces it (a pull never takes a link in blobs/ for a blob)
        referenced: true,
        message: blob.kind === "symlink"
          ? `blob ${blob.etag}${used} is a symlink to ${
            blob.target ?? "?"
          }, not a file: a blob must be a file in the cache`
          : `blob ${blob.etag}${used} is not a file`,
      });
      usersOf.delete(blob.etag);
    }
    for (const blob of model.blobs) {
      if (!etagAlgorithm(blob.etag)) {
        result.unverified.push({ model: model.id, path: blob.path, reason: "its name is not a sha256 or git sha1" });
        continue;
      }
      jobs.push({
        model,
        path: blob.path,
        size: blob.size,
        etag: blob.etag,
        ...(sizeOfEtag.has(blob.etag) ? { expectedSize: sizeOfEtag.get(blob.etag) } : {}),
        files: usersOf.get(blob.etag) ?? [],
        referenced: blob.referenced,
      });
    }
  }

  const filesTotal = jobs.length;
  let filesDone = 0;
  const perModel = new Map<string, ModelVerification>(
    scan.models.map((m) => [m.id, { id: m.id, filesChecked: 0, bytesChecked: 0, issues: 0 }]),
  );
  for (const job of jobs) {
    options.signal?.throwIfAborted();
    const hashOptions = {
      signal: options.signal,
      onProgress: (bytesDone: number, bytesTotal: number) =>
        options.onProgress?.({ model: job.model.id, path: job.path, bytesDone, bytesTotal, filesDone, filesTotal }),
    };
    const issue = job.etag ? await checkBlob(job, job.etag, hashOptions) : await checkCopy(job, hashOptions, result);
    if (issue) result.issues.push(issue);
    filesDone++;
    const summary = perModel.get(job.model.id)!;
    summary.filesChecked++;
    summary.bytesChecked += job.size;
    result.filesChecked++;
    result.bytesChecked += job.size;
  }
  for (const issue of result.issues) perModel.get(issue.model)!.issues++;
  result.models = [...perModel.values()];
  result.ok = result.issues.length === 0;
  return result;
}

type HashOpts = { signal?: AbortSignal; onProgress: (done: number, total: number) => void };

async function checkBlob(job: HashJob, etag: string, hashOptions: HashOpts): Promise<VerifyIssue | undefined> {
  if (job.expectedSize !== undefined && job.expectedSize !== job.size) {
    const used = job.files.length ? ` (${job.files.map((f) => f.path).join(", ")})` : "";
    return {
      model: job.model.id,
      kind: "size_mismatch",
      path: job.path,
      files: job.files,
      expected: etag,
      size: job.size,
      expectedSize: job.expectedSize,
      referenced: job.referenced,
      message: `${
        job.path.slice(job.path.lastIndexOf("/") + 1)
      }${used} is ${job.size} bytes; the Hub's file is ${job.expectedSize}`,
    };
  }
  const algorithm = etagAlgorithm(etag)!;
  const actual = algorithm === "sha256"
    ? await sha256File(job.path, hashOptions)
    : await gitBlobSha1File(job.path, hashOptions);
  if (actual === etag) return undefined;
  const isBlob = job.path.endsWith(`/blobs/${etag}`);
  const used = job.files.length ? ` (used by ${job.files.map((f) => f.path).join(", ")})` : " (no revision uses it)";
  const what = isBlob
    ? `blob ${etag}${used}`
    : `${job.files[0].path} (revision ${job.files[0].revision.slice(0, 12)}, a copy)`;
  return {
    model: job.model.id,
    kind: "corrupt",
    path: job.path,
    files: job.files,
    expected: etag,
    actual,
    size: job.size,
    referenced: job.referenced,
    message:
      `${what} has ${algorithm} ${actual} (${job.size} bytes), not ${etag}: its content is not what the Hub served`,
  };
}

async function checkCopy(job: HashJob, hashOptions: HashOpts, result: VerifyResult): Promise<VerifyIssue | undefined> {
  const names = new Set(job.model.blobs.map((b) => b.etag));
  const sha256 = await sha256File(job.path, hashOptions);
  if (names.has(sha256)) return undefined;
  const sha1 = await gitBlobSha1File(job.path, hashOptions);
  if (names.has(sha1)) return undefined;
  const sameSize = job.model.blobs.filter((b) => b.size === job.size && etagAlgorithm(b.etag));
  if (sameSize.length === 0) {
    result.unverified.push({
      model: job.model.id,
      path: job.path,
      reason: "a copied file whose blob is not in the cache, so there is nothing to check it against",
    });
    return undefined;
  }
  const file = job.files[0];
  return {
    model: job.model.id,
    kind: "corrupt",
    path: job.path,
    files: job.files,
    actual: sha256,
    size: job.size,
    referenced: true,
    message: `${file.path} (revision ${file.revision.slice(0, 12)}) is a copy that matches none of the model's blobs`,
  };
}
