/**
 * A "local dir" download, as Python's `hf download --local-dir DIR` / `hf_hub_download(…, local_dir=DIR)` keeps
 * it (huggingface_hub's `_local_folder.py`): the repository's files as plain files under `DIR/{path}`, and for each
 * one `DIR/.cache/huggingface/download/{path}.metadata` holding three lines — the commit sha, the etag, and the
 * time the file was written (seconds since the epoch, a float). A file whose modification time is no later than
 * that time (+1 s) is the one the metadata describes; Python then reads it offline and does not fetch it again.
 * `.cache/huggingface/` also holds a `.gitignore` (`*`) and a `CACHEDIR.TAG`, as Python writes them. The lock
 * Python takes around a file is `DIR/.cache/huggingface/download/{path}.lock`.
 *
 * @module
 */
import { CacheError, InputError } from "../errors.ts";
import { insideOrThrow } from "./contained_path.ts";
import { dirname, parse, resolve, sep } from "node:path";

/** A folder a local dir must never be, with what it is (`your home folder`). */
export interface ProtectedDir {
  /** The folder. */
  path: string;
  /** What it is, for the message. */
  what: string;
}

/** Folders of the system that hold no files of their own: a download into them cannot work. */
const SYSTEM_DIRS = ["/dev", "/proc", "/sys"];

/**
 * Checks a local dir before anything is written (`pull --local-dir DIR`), so a dangerous or impossible one is refused
 * instead of silently ignored: empty, a control character in it, the filesystem root, a system folder (`/dev`, `/proc`,
 * `/sys`), any of `protect` itself (the CLI passes `$HOME` and `GPUX_HOME`), the Hugging Face cache folder or a folder
 * inside it or holding it, an existing file or other non-folder, or a path under a file. Symlinks are followed (a link
 * to `$HOME` is `$HOME`).
 *
 * @returns the folder as an absolute path without trailing separators.
 * @throws {InputError} naming the folder and why (exit 2).
 * @example
 * ```ts
 * const dir = await checkLocalDir("./models/bert", { cacheDir: "/home/me/.cache/huggingface/hub" });
 * ```
 */
export async function checkLocalDir(
  dir: string,
  guard: { cacheDir: string; protect?: readonly ProtectedDir[] },
): Promise<string> {
  const refuse = (
    why: string,
    hint = "give --local-dir a folder of its own, e.g. --local-dir ./models/NAME",
  ): never => {
    throw new InputError(`--local-dir ${JSON.stringify(dir)}: ${why}`, { hint });
  };
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(dir)) refuse("the path contains a control character");
  if (dir.trim() === "") refuse("the path is empty");
  const full = resolve(dir);
  const real = await Deno.realPath(full).catch(() => full);
  const is = (a: string, b: string) => a === b || (real !== full && real === b);
  const inside = (a: string, parent: string) => a.startsWith(parent.endsWith(sep) ? parent : parent + sep);
  for (const path of new Set([full, real])) {
    if (path === parse(path).root) refuse("it is the filesystem root");
    const system = SYSTEM_DIRS.find((d) => path === d || inside(path, d));
    if (system) refuse(`${system} holds no files of its own`);
  }
  for (const p of guard.protect ?? []) {
    if (is(full, resolve(p.path)) || is(real, resolve(p.path))) refuse(`it is ${p.what} (${p.path})`);
  }
  const cache = resolve(guard.cacheDir);
  for (const path of new Set([full, real])) {
    if (path === cache || inside(path, cache)) {
      refuse(
        `it is the Hugging Face cache folder ${cache} or inside it`,
        "drop --local-dir to pull into the cache, or give a folder outside the cache",
      );
    }
    if (inside(cache, path)) {
      refuse(
        `the Hugging Face cache folder ${cache} is inside it`,
        "give --local-dir a folder of its own, outside the cache's parents (e.g. ./models/NAME)",
      );
    }
  }
  // the folder itself, else its nearest existing parent, must be a folder
  for (let path = full, depth = 0; depth < 4096; path = dirname(path), depth++) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotADirectory) {
        refuse(
          "a part of the path is a file, so no folder can be made there",
          "give --local-dir a folder, not a path under a file",
        );
      }
      if (error instanceof Deno.errors.NotFound && path !== dirname(path)) continue;
      break; // not readable here (the sandbox grants only the folder itself): writing it will say so
    }
    if (!info.isDirectory) {
      refuse(
        path === full ? "it exists and is not a folder" : `${path} is a file, so no folder can be made under it`,
        "give --local-dir a folder (existing or new), not a file",
      );
    }
    break;
  }
  return full; // resolve() leaves no trailing separator
}

/** What `{path}.metadata` says. */
export interface LocalDirMetadata {
  commit: string;
  etag: string;
  /** Seconds since the epoch. */
  timestamp: number;
}

/** Paths of one repository file in a local dir, each proven to stay inside it. */
export interface LocalDirPaths {
  /** `DIR/{path}`. */
  file: string;
  /** `DIR/.cache/huggingface/download/{path}.metadata`. */
  metadata: string;
  /** `DIR/.cache/huggingface/download/{path}.lock` (Python's lock of that file). */
  lock: string;
  /** Where gpux downloads the file before renaming it to `file` (partials beside it). */
  staging: (etag: string) => string;
}

const CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n" +
  "# This file is a cache directory tag created by huggingface_hub.\n" +
  "# For information about cache directory tags, see:\n" +
  "#\thttps://bford.info/cachedir/\n";

function huggingfaceDir(dir: string): string {
  return `${dir.replace(/\/+$/, "")}/.cache/huggingface`;
}

/**
 * The paths of `path` in the local dir `dir`.
 *
 * @throws {CacheError} when `path` would leave `dir` or write into `dir/.cache` (nothing is written).
 */
export function localDirPaths(dir: string, path: string): LocalDirPaths {
  const root = dir.replace(/\/+$/, "");
  const file = insideOrThrow(root, `${root}/${path}`, `the file '${path}'`);
  if (path === ".cache" || path.startsWith(".cache/")) {
    throw new CacheError(`refusing to write '${path}' into ${root}/.cache, where the download metadata lives`);
  }
  const download = `${huggingfaceDir(root)}/download`;
  const metadata = insideOrThrow(download, `${download}/${path}.metadata`, `the metadata of '${path}'`);
  return {
    file,
    metadata,
    lock: `${download}/${path}.lock`,
    staging: (etag) => insideOrThrow(download, `${download}/${path}.${etag}`, `the download of '${path}'`),
  };
}

/**
 * The metadata of `path`, when it exists, parses, and still describes the file on disk (same rule as Python:
 * the file's modification time is at most one second after the recorded time); `undefined` otherwise.
 */
export async function readLocalDirMetadata(dir: string, path: string): Promise<LocalDirMetadata | undefined> {
  const paths = localDirPaths(dir, path);
  let text: string;
  try {
    text = await Deno.readTextFile(paths.metadata);
  } catch {
    return undefined;
  }
  const [commit, etag, time] = text.split("\n").map((line) => line.trim());
  const timestamp = Number(time);
  if (!commit || !etag || !Number.isFinite(timestamp)) return undefined;
  try {
    const stat = await Deno.lstat(paths.file);
    if (!stat.isFile) return undefined;
    const mtime = (stat.mtime?.getTime() ?? Infinity) / 1000;
    return mtime - 1 <= timestamp ? { commit, etag, timestamp } : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `{path}.metadata` (commit, etag, now) — after the file itself is in place, as Python does. */
export async function writeLocalDirMetadata(dir: string, path: string, commit: string, etag: string): Promise<void> {
  const paths = localDirPaths(dir, path);
  await ensureLocalDirCache(dir);
  await Deno.mkdir(paths.metadata.slice(0, paths.metadata.lastIndexOf("/")), { recursive: true });
  const tmp = `${paths.metadata}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeTextFile(tmp, `${commit}\n${etag}\n${Date.now() / 1000}\n`);
  await Deno.rename(tmp, paths.metadata);
}

/** `DIR/.cache/huggingface/` with its `.gitignore` and `CACHEDIR.TAG`, as Python creates them. */
export async function ensureLocalDirCache(dir: string): Promise<void> {
  const folder = huggingfaceDir(dir);
  await Deno.mkdir(`${folder}/download`, { recursive: true });
  for (const [name, content] of [[".gitignore", "*"], ["CACHEDIR.TAG", CACHEDIR_TAG]]) {
    try {
      await Deno.writeTextFile(`${folder}/${name}`, content, { createNew: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
}
