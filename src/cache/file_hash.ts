/**
 * Streaming file hashes as the Hub names its files: sha256 for LFS files (the etag of an LFS
 * blob) and the git blob sha1 for everything else. Files are read in chunks; nothing but one
 * chunk is ever held in memory, whatever the file's size.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { CacheError } from "../errors.ts";

/** Options of {@linkcode sha256File} and {@linkcode gitBlobSha1File}. */
export interface HashFileOptions {
  /** Called after each chunk with the bytes hashed so far and the file's size. */
  onProgress?: (bytesDone: number, totalBytes: number) => void;
  /** Stops hashing between chunks; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Read size in bytes (default 1 MiB). */
  chunkSize?: number;
}

const DEFAULT_CHUNK = 1 << 20;

/**
 * The sha256 of a file's content, as lowercase hex (what an LFS blob's etag is).
 *
 * @example
 * ```ts
 * const digest = await sha256File("model.onnx");
 * ```
 */
export function sha256File(path: string | URL, options: HashFileOptions = {}): Promise<string> {
  return hashFile(path, "sha256", undefined, options);
}

/**
 * The git blob sha1 of a file: sha1 of `"blob <size>\0"` followed by the content, as lowercase
 * hex (what the Hub's etag of a non-LFS file is, and `git hash-object` prints).
 *
 * @example
 * ```ts
 * const oid = await gitBlobSha1File("config.json");
 * ```
 */
export function gitBlobSha1File(path: string | URL, options: HashFileOptions = {}): Promise<string> {
  return hashFile(path, "sha1", (size) => `blob ${size}\0`, options);
}

async function hashFile(
  path: string | URL,
  algorithm: "sha256" | "sha1",
  header: ((size: number) => string) | undefined,
  options: HashFileOptions,
): Promise<string> {
  options.signal?.throwIfAborted();
  using file = await Deno.open(path, { read: true });
  const { size } = await file.stat();
  const hash: Hash = createHash(algorithm);
  if (header) hash.update(header(size));
  const buffer = new Uint8Array(options.chunkSize ?? DEFAULT_CHUNK);
  let done = 0;
  while (true) {
    options.signal?.throwIfAborted();
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
    done += n;
    options.onProgress?.(done, size);
  }
  if (header && done !== size) {
    // the file changed while being read: the header's size is wrong, so is the digest
    throw new CacheError(`${path} changed size while it was being hashed (${size} -> ${done} bytes)`, {
      hint: "another process is writing it; run the command again once it has finished",
    });
  }
  return hash.digest("hex");
}

/** How a blob named by `etag` is hashed: `sha256` for 64 hex digits, `git-sha1` for 40, else `undefined`. */
export function etagAlgorithm(etag: string): "sha256" | "git-sha1" | undefined {
  if (/^[0-9a-f]{64}$/.test(etag)) return "sha256";
  if (/^[0-9a-f]{40}$/.test(etag)) return "git-sha1";
  return undefined;
}
