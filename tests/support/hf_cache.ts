/**
 * Writes Hub caches by hand, byte for byte as Python's huggingface_hub lays them out
 * (`blobs/{etag}`, relative symlinks from `snapshots/{commit}/{path}`, `refs/{ref}` without a
 * trailing newline, `.no_exist/{commit}/{path}` markers), or with hard links / copies as
 * gpux and `@huggingface/hub` write them where symlinks are not allowed.
 *
 * Hashes are computed here with node:crypto directly, independently of gpux's own hashing.
 *
 * @module
 */
import { createHash } from "node:crypto";

const LFS_EXTENSIONS = /\.(onnx|onnx_data|onnx\.data|bin|safetensors|pt|pth|h5|gguf|tflite|msgpack)$/;

/** A file's content; `lfs` forces (or prevents) naming its blob by sha256. */
export type FixtureFile = string | Uint8Array | { content: string | Uint8Array; lfs?: boolean };

/** How snapshot entries hold their content. */
export type LinkMode = "symlink" | "hardlink" | "copy";

export function bytesOf(content: string | Uint8Array): Uint8Array {
  return typeof content === "string" ? new TextEncoder().encode(content) : content;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function gitSha1Hex(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/** The etag the Hub gives a file: sha256 for LFS files, git blob sha1 otherwise. */
export function etagOf(path: string, file: FixtureFile): string {
  const { content, lfs } = typeof file === "object" && !(file instanceof Uint8Array)
    ? file
    : { content: file, lfs: undefined };
  const bytes = bytesOf(content);
  const isLfs = lfs ?? (LFS_EXTENSIONS.test(path) || bytes.length > 10_000_000);
  return isLfs ? sha256Hex(bytes) : gitSha1Hex(bytes);
}

/** A deterministic fake commit sha from a label. */
export function commitSha(label: string): string {
  return createHash("sha1").update(`commit ${label}`).digest("hex");
}

/** Builds one repository's folder in a cache directory. */
export class CacheFixture {
  readonly root: string;

  constructor(readonly cacheDir: string, readonly repoId: string, repoType = "models") {
    this.root = `${cacheDir}/${repoType}--${repoId.split("/").join("--")}`;
  }

  /**
   * Writes `snapshots/{commit}/…` for `files`, storing each content once in `blobs/`.
   * Returns path -> etag.
   */
  async addRevision(
    commit: string,
    files: Record<string, FixtureFile>,
    mode: LinkMode = "symlink",
  ): Promise<Record<string, string>> {
    const etags: Record<string, string> = {};
    await Deno.mkdir(`${this.root}/blobs`, { recursive: true });
    for (const [path, file] of Object.entries(files)) {
      const content = typeof file === "object" && !(file instanceof Uint8Array) ? file.content : file;
      const etag = etagOf(path, file);
      etags[path] = etag;
      const blob = `${this.root}/blobs/${etag}`;
      try {
        await Deno.lstat(blob);
      } catch {
        await Deno.writeFile(blob, bytesOf(content));
      }
      const entry = `${this.root}/snapshots/${commit}/${path}`;
      await Deno.mkdir(entry.slice(0, entry.lastIndexOf("/")), { recursive: true });
      if (mode === "symlink") {
        const depth = path.split("/").length - 1;
        await Deno.symlink(`${"../".repeat(depth + 2)}blobs/${etag}`, entry);
      } else if (mode === "hardlink") {
        await Deno.link(blob, entry);
      } else {
        await Deno.copyFile(blob, entry);
      }
    }
    return etags;
  }

  /** Writes `refs/{ref}` holding `commit` (no newline, as Python writes it). */
  async setRef(ref: string, commit: string): Promise<void> {
    const path = `${this.root}/refs/${ref}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, commit);
  }

  /** Writes the empty `.no_exist/{commit}/{path}` marker. */
  async noExist(commit: string, path: string): Promise<void> {
    const marker = `${this.root}/.no_exist/${commit}/${path}`;
    await Deno.mkdir(marker.slice(0, marker.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(marker, new Uint8Array());
  }

  /** Writes `blobs/{etag}.incomplete` with `bytes`, last modified `ageMs` ago. */
  async incomplete(etag: string, bytes: Uint8Array, ageMs = 0): Promise<string> {
    await Deno.mkdir(`${this.root}/blobs`, { recursive: true });
    const path = `${this.root}/blobs/${etag}.incomplete`;
    await Deno.writeFile(path, bytes);
    if (ageMs) {
      const when = new Date(Date.now() - ageMs);
      await Deno.utime(path, when, when);
    }
    return path;
  }

  /**
   * Writes the manifest `gpux pull` keeps of a revision (`.gpux/manifests/{commit}.json`): every
   * file with its size and, as the Hub lists them, its git oid or LFS sha256.
   */
  async writeManifest(commit: string, files: Record<string, FixtureFile>): Promise<void> {
    const list = Object.entries(files).map(([path, file]) => {
      const content = bytesOf(typeof file === "object" && !(file instanceof Uint8Array) ? file.content : file);
      const etag = etagOf(path, file);
      return etag.length === 64
        ? { path, size: content.length, lfs: { sha256: etag, size: content.length } }
        : { path, size: content.length, oid: etag };
    });
    const dir = `${this.root}/.gpux/manifests`;
    await Deno.mkdir(dir, { recursive: true });
    const manifest = { id: this.repoId, sha: commit, files: list, written: new Date().toISOString() };
    await Deno.writeTextFile(`${dir}/${commit}.json`, JSON.stringify(manifest));
  }

  /** Absolute path of `blobs/{etag}`. */
  blob(etag: string): string {
    return `${this.root}/blobs/${etag}`;
  }

  /** Absolute path of `snapshots/{commit}/{path}`. */
  snapshot(commit: string, path = ""): string {
    return path ? `${this.root}/snapshots/${commit}/${path}` : `${this.root}/snapshots/${commit}`;
  }
}

/** True when something (a file, a link, even a dangling one) exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** What {@linkcode writeSampleCache} wrote. */
export interface SampleCache {
  cacheDir: string;
  bert: CacheFixture;
  broken: CacheFixture;
  commits: { main: string; pr: string; detached: string; brokenMain: string };
  /** path -> etag of each revision. */
  etags: { main: Record<string, string>; pr: Record<string, string>; detached: Record<string, string> };
  /** A blob no snapshot links to. */
  strayEtag: string;
  /** Partial downloads: one two days old, one fresh. */
  oldIncomplete: string;
  freshIncomplete: string;
  /** The blob of acme/broken's config.json, whose bytes do not match its name. */
  corruptEtag: string;
  /** acme/broken's model.onnx links to this blob, which does not exist. */
  missingEtag: string;
}

export const SAMPLE_FILES = {
  config: '{"model_type":"bert","hidden_size":32}',
  configV2: '{"model_type":"bert","hidden_size":64}',
  configOld: '{"model_type":"bert","hidden_size":16}',
  tokenizer: '{"version":"1.0","model":{"type":"WordPiece"}}',
  onnx: new Uint8Array(4096).map((_, i) => (i * 7) & 0xff),
  onnxQuantized: new Uint8Array(1024).map((_, i) => (i * 13) & 0xff),
  safetensors: new Uint8Array(2048).map((_, i) => (i * 3) & 0xff),
};

/**
 * A cache as Python's huggingface_hub leaves it after some use:
 *
 * - `acme/tiny-bert`: `main` -> a revision with files in a sub-folder; `refs/pr/1` and tag `v1.0` ->
 *   a second revision sharing two blobs with main; a detached revision (no ref) with its own blobs;
 *   a `.no_exist` marker; an unreferenced blob; a stale and a fresh `.incomplete`.
 * - `acme/broken`: a corrupt blob and a dangling link.
 * - a dataset, a space and a foreign folder, to be skipped.
 */
export async function writeSampleCache(cacheDir: string): Promise<SampleCache> {
  const f = SAMPLE_FILES;
  const bert = new CacheFixture(cacheDir, "acme/tiny-bert");
  const commits = {
    main: commitSha("main"),
    pr: commitSha("pr1"),
    detached: commitSha("old"),
    brokenMain: commitSha("broken"),
  };
  const main = await bert.addRevision(commits.main, {
    "config.json": f.config,
    "tokenizer.json": f.tokenizer,
    "onnx/model.onnx": f.onnx,
    "onnx/model_quantized.onnx": f.onnxQuantized,
  });
  const pr = await bert.addRevision(commits.pr, {
    "config.json": f.configV2,
    "tokenizer.json": f.tokenizer,
    "onnx/model.onnx": f.onnx,
  });
  const detached = await bert.addRevision(commits.detached, {
    "config.json": f.configOld,
    "model.safetensors": f.safetensors,
  });
  await bert.setRef("main", commits.main);
  await bert.setRef("v1.0", commits.pr);
  await bert.setRef("refs/pr/1", commits.pr);
  await bert.noExist(commits.main, "preprocessor_config.json");
  const stray = bytesOf("stray blob from an interrupted cleanup");
  const strayEtag = gitSha1Hex(stray);
  await Deno.writeFile(bert.blob(strayEtag), stray);
  const day = 24 * 3600 * 1000;
  const oldIncomplete = await bert.incomplete(sha256Hex(bytesOf("old partial")), new Uint8Array(300), 2 * day);
  const freshIncomplete = await bert.incomplete(sha256Hex(bytesOf("fresh partial")), new Uint8Array(200));

  const broken = new CacheFixture(cacheDir, "acme/broken");
  const brokenEtags = await broken.addRevision(commits.brokenMain, {
    "config.json": f.config,
    "model.onnx": f.onnxQuantized,
  });
  await broken.setRef("main", commits.brokenMain);
  const corruptEtag = brokenEtags["config.json"];
  await Deno.writeTextFile(broken.blob(corruptEtag), '{"model_type":"bert","hidden_size":33}');
  const missingEtag = brokenEtags["model.onnx"];
  await Deno.remove(broken.blob(missingEtag));

  const dataset = new CacheFixture(cacheDir, "acme/data", "datasets");
  await dataset.addRevision(commitSha("data"), { "train.csv": "a,b\n1,2\n" });
  await dataset.setRef("main", commitSha("data"));
  const space = new CacheFixture(cacheDir, "acme/demo", "spaces");
  await space.addRevision(commitSha("space"), { "app.py": "print('hi')\n" });
  await Deno.mkdir(`${cacheDir}/not-a-repo`, { recursive: true });
  await Deno.mkdir(`${cacheDir}/.locks/models--acme--tiny-bert`, { recursive: true });

  return {
    cacheDir,
    bert,
    broken,
    commits,
    etags: { main, pr, detached },
    strayEtag,
    oldIncomplete,
    freshIncomplete,
    corruptEtag,
    missingEtag,
  };
}
