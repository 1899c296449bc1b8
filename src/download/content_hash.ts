/**
 * The hash a downloaded file is checked against: sha256 of the content for LFS files (their ETag
 * and blob name), git blob sha1 (`sha1("blob {size}\0" + content)`) for files stored in git, sha512 for
 * packages whose registry publishes only that (npm's and NuGet's integrity).
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";

/** Which hash names a blob. */
export type ContentHashKind = "sha256" | "sha512" | "git-sha1";

/** What a downloaded file must match. */
export interface ExpectedContent {
  /** Size in bytes. */
  size: number;
  /** Expected hex digest (lowercase). */
  hash: string;
  /** How `hash` is computed. */
  kind: ContentHashKind;
}

/** An incremental hasher of one file's content. */
export interface ContentHasher {
  update(bytes: Uint8Array): void;
  /** Lowercase hex digest; call once. */
  digest(): string;
}

/** A fresh hasher of `kind` for a file of `size` bytes (git blob sha1 needs the size up front). */
export function createContentHasher(kind: ContentHashKind, size: number): ContentHasher {
  let hash: Hash;
  if (kind === "sha256" || kind === "sha512") {
    hash = createHash(kind);
  } else {
    hash = createHash("sha1");
    hash.update(`blob ${size}\0`);
  }
  return {
    update: (bytes) => void hash.update(bytes),
    digest: () => hash.digest("hex"),
  };
}

/** Chooses the hash kind from an ETag: 64 hex digits is sha256, 40 is a git blob sha1. */
export function hashKindOfEtag(etag: string): ContentHashKind | undefined {
  if (/^[0-9a-f]{64}$/.test(etag)) return "sha256";
  if (/^[0-9a-f]{40}$/.test(etag)) return "git-sha1";
  return undefined;
}

/**
 * Feeds bytes `[start, end)` of an open file into `hasher`, reading `buffer.length` bytes at a time
 * (memory stays flat whatever the size). Seeks before every read: safe while other handles write.
 * Reads are synchronous (the data is normally in the page cache: ~1.3 s per GB here against ~1.65 s
 * with async reads, which hand each read to a thread pool).
 */
// deno-lint-ignore require-await
export async function hashFileRange(
  file: Deno.FsFile,
  hasher: ContentHasher,
  start: number,
  end: number,
  buffer: Uint8Array,
): Promise<void> {
  let offset = start;
  while (offset < end) {
    file.seekSync(offset, Deno.SeekMode.Start);
    const want = Math.min(buffer.length, end - offset);
    const n = file.readSync(buffer.subarray(0, want));
    if (n === null || n === 0) throw new Error(`unexpected end of file at byte ${offset} (expected ${end})`);
    hasher.update(buffer.subarray(0, n));
    offset += n;
  }
}
