/**
 * Paths of the cache shared with Python's huggingface_hub:
 *
 * ```
 * {cacheDir}/models--{org}--{name}/
 *   blobs/{etag}                       file contents, named by sha256 (LFS) or git blob sha1
 *   snapshots/{commit}/{path}          relative symlink -> ../../blobs/{etag} (or hard link / copy)
 *   refs/{branch-or-tag}               the commit sha a ref points at
 *   .no_exist/{commit}/{path}          empty marker: known missing at that commit
 * ```
 *
 * @module
 */

/** The kinds of repository the Hub hosts. gpux works with models. */
export type RepoType = "model" | "dataset" | "space";

/** `models--org--name` for `org/name`. */
export function repoFolderName(repoId: string, repoType: RepoType = "model"): string {
  return [`${repoType}s`, ...repoId.split("/")].join("--");
}

/** Inverse of {@linkcode repoFolderName}: `{ type, id }`, or `undefined` for a foreign folder. */
export function parseRepoFolderName(folder: string): { repoType: RepoType; id: string } | undefined {
  const m = /^(models|datasets|spaces)--(.+)$/.exec(folder);
  if (!m) return undefined;
  return { repoType: m[1].slice(0, -1) as RepoType, id: m[2].split("--").join("/") };
}

/** Paths inside one repository's cache folder. */
export class RepoCachePaths {
  /** `{cacheDir}/models--org--name`. */
  readonly root: string;

  constructor(readonly cacheDir: string, readonly repoId: string, readonly repoType: RepoType = "model") {
    this.root = `${cacheDir.replace(/\/+$/, "")}/${repoFolderName(repoId, repoType)}`;
  }

  get blobsDir(): string {
    return `${this.root}/blobs`;
  }
  get snapshotsDir(): string {
    return `${this.root}/snapshots`;
  }
  get refsDir(): string {
    return `${this.root}/refs`;
  }
  get noExistDir(): string {
    return `${this.root}/.no_exist`;
  }
  /** `blobs/{etag}`. */
  blob(etag: string): string {
    return `${this.blobsDir}/${etag}`;
  }
  /** `snapshots/{commit}`, or a file inside it. */
  snapshot(commit: string, path?: string): string {
    return path ? `${this.snapshotsDir}/${commit}/${path}` : `${this.snapshotsDir}/${commit}`;
  }
  /** `refs/{ref}` (`refs/pr/1` becomes `refs/refs/pr/1`, as Python does). */
  ref(ref: string): string {
    return `${this.refsDir}/${ref}`;
  }
  /** `.no_exist/{commit}/{path}`. */
  noExist(commit: string, path: string): string {
    return `${this.noExistDir}/${commit}/${path}`;
  }
  /**
   * Relative symlink target from `snapshots/{commit}/{path}` to `blobs/{etag}`, exactly as
   * Python writes it: one `..` per directory level of `path`, plus two.
   */
  blobLinkTarget(path: string, etag: string): string {
    const depth = path.split("/").length - 1;
    return `${"../".repeat(depth + 2)}blobs/${etag}`;
  }
}

/** Reads `refs/{ref}`; `undefined` when the ref is not cached. */
export async function readRef(paths: RepoCachePaths, ref: string): Promise<string | undefined> {
  try {
    const sha = (await Deno.readTextFile(paths.ref(ref))).trim();
    return /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return undefined;
    throw e;
  }
}

/**
 * The cached snapshot for `revision` (a ref name or a commit sha), or `undefined`.
 * Does not check that the snapshot is complete.
 */
export async function findCachedSnapshot(
  cacheDir: string,
  repoId: string,
  revision = "main",
): Promise<{ sha: string; path: string } | undefined> {
  const paths = new RepoCachePaths(cacheDir, repoId);
  const sha = /^[0-9a-f]{40}$/.test(revision) ? revision : await readRef(paths, revision);
  if (!sha) return undefined;
  try {
    const stat = await Deno.stat(paths.snapshot(sha));
    return stat.isDirectory ? { sha, path: paths.snapshot(sha) } : undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}
