/**
 * File content of the local hub: literal (text, bytes) or generated (`{ size, seed }`: deterministic
 * pseudo-random bytes made on the fly, random access, never held in memory, ~2 GB/s), LFS or plain git
 * by name and size, hashed once (sha256, git blob sha1) by streaming and memoized across repos; and the
 * LFS pointer file git stores in place of an LFS file.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Deterministic pseudo-random content of `size` bytes, generated on the fly. */
export interface GeneratedFile {
  size: number;
  seed: number;
  /** Force LFS (true) or a plain git file (false); default: by name and size. */
  lfs?: boolean;
}

/** Literal content with an explicit LFS choice. */
export interface LiteralFile {
  content: string | Uint8Array;
  lfs?: boolean;
}

/** A file in a commit: text (UTF-8), bytes, generated or literal content; `null` deletes the path. */
export type FileSpec = string | Uint8Array | GeneratedFile | LiteralFile | null;

const LFS_EXTENSIONS = [
  ".onnx",
  ".onnx_data",
  ".onnx.data",
  ".bin",
  ".safetensors",
  ".pt",
  ".pth",
  ".h5",
  ".gguf",
  ".tflite",
  ".msgpack",
];
const LFS_SIZE_THRESHOLD = 10 * 1024 * 1024;
const GEN_BLOCK = 1 << 16;
const GEN_WORDS = GEN_BLOCK >>> 2;
const HASH_CHUNK = 4 << 20;

/** The hashes of one content. */
export interface Hashes {
  sha256: string;
  /** sha1("blob N\0" + content); "" for generated LFS content, which never needs it. */
  gitSha1: string;
}

const generatedHashes = new Map<string, Hashes>();
const hashingNow = new Map<string, Promise<Hashes>>();

function mix32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((b + 0x7f4a7c15) | 0, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  h ^= h >>> 16;
  return h | 1;
}

/** Fills one 64 KiB block (xorshift128 seeded by seed and block index). */
function fillBlock(seed: number, block: number, out: Uint32Array, offset: number): void {
  const lo = block >>> 0;
  const hi = Math.floor(block / 2 ** 32);
  let x = mix32(seed, lo);
  let y = mix32(lo ^ 0x1234567, seed + hi);
  let z = mix32(seed + 17, lo + 31);
  let w = mix32(lo ^ 0xabcdef, seed ^ hi);
  for (let i = 0; i < GEN_WORDS; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = (w ^ (w >>> 19)) ^ (t ^ (t >>> 8));
    out[offset + i] = w;
  }
}

/** Bytes [start, end) of generated content with this seed. */
export function generateBytes(seed: number, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  if (end <= start) return out;
  const firstBlock = Math.floor(start / GEN_BLOCK);
  const lastBlock = Math.floor((end - 1) / GEN_BLOCK);
  const aligned = start % GEN_BLOCK === 0 && end % GEN_BLOCK === 0;
  if (aligned) {
    const words = new Uint32Array(out.buffer);
    for (let b = firstBlock; b <= lastBlock; b++) fillBlock(seed, b, words, (b - firstBlock) * GEN_WORDS);
    return out;
  }
  const scratch = new Uint32Array((lastBlock - firstBlock + 1) * GEN_WORDS);
  for (let b = firstBlock; b <= lastBlock; b++) fillBlock(seed, b, scratch, (b - firstBlock) * GEN_WORDS);
  const bytes = new Uint8Array(scratch.buffer);
  const from = start - firstBlock * GEN_BLOCK;
  out.set(bytes.subarray(from, from + out.length));
  return out;
}

/** One file's content: its size, LFS-ness, bytes (any range) and hashes. */
export class Content {
  readonly size: number;
  readonly lfs: boolean;
  /** Stable identity for commit shas and the hash memo. */
  readonly key: string;
  #bytes?: Uint8Array;
  #seed = 0;
  #hashes?: Hashes;

  constructor(path: string, spec: Exclude<FileSpec, null>) {
    let lfs: boolean | undefined;
    if (typeof spec === "string" || spec instanceof Uint8Array) {
      this.#bytes = typeof spec === "string" ? new TextEncoder().encode(spec) : spec.slice();
    } else if ("content" in spec) {
      const c = spec.content;
      this.#bytes = typeof c === "string" ? new TextEncoder().encode(c) : c.slice();
      lfs = spec.lfs;
    } else {
      if (!Number.isSafeInteger(spec.size) || spec.size < 0) throw new TypeError(`bad size for ${path}: ${spec.size}`);
      this.#seed = spec.seed | 0;
      this.size = spec.size;
      lfs = spec.lfs;
    }
    this.size ??= this.#bytes!.length;
    const lower = path.toLowerCase();
    this.lfs = lfs ?? (LFS_EXTENSIONS.some((ext) => lower.endsWith(ext)) || this.size > LFS_SIZE_THRESHOLD);
    if (this.#bytes) {
      this.#hashes = hashBytes(this.#bytes);
      this.key = `git:${this.#hashes.gitSha1}`;
    } else {
      // LFS content needs only sha256 (the git oid is the pointer's): its memo entry skips the sha1.
      this.key = `gen:${this.size}:${this.#seed}:${this.lfs ? "lfs" : "git"}`;
      this.#hashes = generatedHashes.get(this.key);
    }
  }

  read(start: number, end: number): Uint8Array {
    if (this.#bytes) return this.#bytes.slice(start, end);
    return generateBytes(this.#seed, start, end);
  }

  get hashed(): Hashes | undefined {
    return this.#hashes ?? generatedHashes.get(this.key);
  }

  /** Hashes, computed synchronously (blocking) if not known yet. */
  hashesSync(): Hashes {
    const known = this.hashed;
    if (known) return (this.#hashes = known);
    const sha256 = createHash("sha256");
    const sha1 = this.lfs ? undefined : createHash("sha1").update(`blob ${this.size}\0`);
    for (let at = 0; at < this.size; at += HASH_CHUNK) {
      const chunk = this.read(at, Math.min(this.size, at + HASH_CHUNK));
      sha256.update(chunk);
      sha1?.update(chunk);
    }
    return this.#remember({ sha256: sha256.digest("hex"), gitSha1: sha1?.digest("hex") ?? "" });
  }

  /** Hashes, computed in chunks that let the event loop breathe; stops early when `signal` aborts. */
  hashes(signal: AbortSignal): Promise<Hashes> {
    const known = this.hashed;
    if (known) return Promise.resolve(this.#hashes = known);
    let hashing = hashingNow.get(this.key);
    if (hashing) return hashing;
    hashing = (async () => {
      const sha256 = createHash("sha256");
      const sha1 = this.lfs ? undefined : createHash("sha1").update(`blob ${this.size}\0`);
      for (let at = 0; at < this.size; at += HASH_CHUNK) {
        if (signal.aborted) throw new Error("hub server closed");
        const chunk = this.read(at, Math.min(this.size, at + HASH_CHUNK));
        sha256.update(chunk);
        sha1?.update(chunk);
        if (at % (HASH_CHUNK * 4) === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      }
      return this.#remember({ sha256: sha256.digest("hex"), gitSha1: sha1?.digest("hex") ?? "" });
    })().finally(() => hashingNow.delete(this.key));
    hashingNow.set(this.key, hashing);
    return hashing;
  }

  #remember(hashes: Hashes): Hashes {
    this.#hashes = hashes;
    if (!this.#bytes) generatedHashes.set(this.key, hashes);
    return hashes;
  }
}

function hashBytes(bytes: Uint8Array): Hashes {
  return {
    sha256: createHash("sha256").update(bytes).digest("hex"),
    gitSha1: gitBlobSha1(bytes),
  };
}

/** The git blob sha1 of `bytes` (the tree's `oid` of a plain file). */
export function gitBlobSha1(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/** sha1 of a UTF-8 text, hex. */
export function sha1Hex(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/** The LFS pointer file that git stores in place of an LFS file. */
export function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

/** The LFS pointer of `sha256`/`size` as bytes. */
export function lfsPointerBytes(sha256: string, size: number): Uint8Array {
  return new TextEncoder().encode(lfsPointer(sha256, size));
}
