/**
 * Where the Hub's file list becomes trusted: every path and hash a Hub (or a mirror set with
 * `HF_ENDPOINT`) sends is checked here, once, as it enters, before any of it names a file on disk.
 *
 * A repository path is relative, made of non-empty segments other than `.` and `..`, and holds no
 * backslash, NUL or other control character; a git oid is 40 lowercase hex digits, an LFS sha256 64;
 * a size is a whole number of bytes. A listing that breaks any of these is refused whole, naming the
 * entry: such a server is broken or hostile, and a path like `../../token` would write outside the cache.
 *
 * @module
 */
import { IntegrityError } from "../errors.ts";
import type { ModelFile } from "./manager.ts";

/** Why `path` is not a safe repository path, or `undefined` when it is. */
export function unsafeRepoPathReason(path: unknown): string | undefined {
  if (typeof path !== "string") return "it is not a string";
  if (path === "") return "it is empty";
  if (path.startsWith("/")) return "it is absolute";
  if (path.includes("\\")) return "it contains a backslash";
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return "it contains a NUL or control character";
  for (const segment of path.split("/")) {
    if (segment === "") return "it has an empty segment";
    if (segment === "." || segment === "..") return `it has a '${segment}' segment`;
  }
  if (/^[a-zA-Z]:\//.test(path)) return "it starts with a drive letter";
  return undefined;
}

/** True for a 40-hex git object id (what the Hub sends as `oid` and as a commit sha). */
export function isGitOid(value: unknown): value is string {
  return typeof value === "string" && /^[0-9a-f]{40}$/.test(value);
}

/** True for a 64-hex sha256 (an LFS file's `lfs.oid`, its blob name). */
export function isSha256(value: unknown): value is string {
  return typeof value === "string" && /^[0-9a-f]{64}$/.test(value);
}

function describe(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  // shown escaped: a hostile name must not move the terminal's cursor
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

function refuse(origin: string, what: string, hint?: string): IntegrityError {
  return new IntegrityError(`${origin} sent an unsafe file list: ${what}; nothing was written`, {
    hint: hint ??
      "this server is broken or hostile: check HF_ENDPOINT (unset it to use https://huggingface.co) and report it to whoever runs it",
  });
}

/**
 * Checks one entry of a file list (`origin` names the server in the message).
 *
 * @throws {IntegrityError} an unsafe path, a malformed oid or sha256, or an impossible size.
 */
export function checkListedFile(file: ModelFile, origin: string): ModelFile {
  const pathProblem = unsafeRepoPathReason(file.path);
  if (pathProblem) throw refuse(origin, `the path ${describe(file.path)} is refused (${pathProblem})`);
  const name = describe(file.path);
  if (!Number.isSafeInteger(file.size) || file.size < 0) {
    throw refuse(origin, `${name} has an impossible size ${describe(file.size)}`);
  }
  if (file.oid !== undefined && !isGitOid(file.oid)) {
    throw refuse(origin, `${name} has a malformed git oid ${describe(file.oid)} (expected 40 hex digits)`);
  }
  if (file.lfs !== undefined) {
    if (!isSha256(file.lfs.sha256)) {
      throw refuse(origin, `${name} has a malformed LFS sha256 ${describe(file.lfs.sha256)} (expected 64 hex digits)`);
    }
    if (file.lfs.size !== file.size) {
      throw refuse(origin, `${name} has two different sizes (${file.size} and LFS ${describe(file.lfs.size)})`);
    }
  }
  return file;
}

/** Most files a listing may have (the Hub's largest repositories hold far fewer). */
export const MAX_LISTED_FILES = 1_000_000;

/**
 * Checks a file list as its pages arrive, so that a server paging in a loop (the same entries again
 * and again) or without end is refused at once instead of filling memory forever.
 */
export class ListingGuard {
  readonly #seen = new Set<string>();
  readonly #sizeOfHash = new Map<string, number>();
  constructor(readonly origin: string) {}

  /**
   * Checks one more entry.
   *
   * @throws {IntegrityError} an unsafe entry, a path listed twice, or more than {@linkcode MAX_LISTED_FILES}.
   */
  add(file: ModelFile): ModelFile {
    checkListedFile(file, this.origin);
    if (this.#seen.has(file.path)) {
      throw refuse(this.origin, `the path ${describe(file.path)} is listed twice (a paging loop?)`);
    }
    if (this.#seen.size >= MAX_LISTED_FILES) throw refuse(this.origin, `it lists more than ${MAX_LISTED_FILES} files`);
    // one content, one size: two files with the same hash share one blob
    const hash = file.lfs?.sha256 ?? file.oid;
    if (hash !== undefined) {
      const size = this.#sizeOfHash.get(hash);
      if (size !== undefined && size !== file.size) {
        throw refuse(this.origin, `${describe(file.path)} has the hash of another file but a different size`);
      }
      this.#sizeOfHash.set(hash, file.size);
    }
    this.#seen.add(file.path);
    return file;
  }
}

/**
 * Checks a whole file list: every entry (see {@linkcode checkListedFile}), and no path listed twice or
 * both as a file and as a folder (`a` and `a/b`), which cannot both exist on disk.
 *
 * @throws {IntegrityError} naming the first offending entry.
 */
export function checkListing(files: readonly ModelFile[], origin: string): ModelFile[] {
  const guard = new ListingGuard(origin);
  const seen = new Set<string>();
  for (const file of files) {
    guard.add(file);
    seen.add(file.path);
  }
  for (const path of seen) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join("/");
      if (seen.has(folder)) {
        throw refuse(origin, `${describe(folder)} is listed both as a file and as the folder of ${describe(path)}`);
      }
    }
  }
  return [...files];
}
