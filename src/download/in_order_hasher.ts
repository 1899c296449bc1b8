/**
 * Hashes one file's bytes exactly once and in order while its parts arrive out of order.
 *
 * A hash can only take bytes in file order, but parallel ranges land anywhere. The in-order hasher
 * keeps the position up to which it has hashed, {@linkcode InOrderHasher.hashed}. Bytes written right
 * there are hashed straight from memory as they reach the file ({@linkcode InOrderHasher.offer}: the
 * common case of one connection never reads anything back); bytes that landed ahead are read back from
 * disk once everything before them is on disk ({@linkcode InOrderHasher.catchUp}). While it reads,
 * offers are ignored: those bytes are on disk and the read reaches them.
 *
 * @module
 */
import { type ContentHasher, type ContentHashKind, createContentHasher, hashFileRange } from "./content_hash.ts";

/** Bytes read from disk per step of {@linkcode InOrderHasher.catchUp}. */
const HASH_READ = 1024 * 1024;

/** The hash of a file fed in order from memory or from disk. */
export class InOrderHasher {
  readonly #hasher: ContentHasher;
  #hashed = 0;
  #reading = false;
  #buffer?: Uint8Array;

  /** A hasher of `kind` for a file of `size` bytes. */
  constructor(kind: ContentHashKind, readonly size: number) {
    this.#hasher = createContentHasher(kind, size);
  }

  /** Bytes hashed so far, from byte 0. */
  get hashed(): number {
    return this.#hashed;
  }

  /**
   * `bytes` reached the file at `position`: hashed now when they are the next bytes in order and no
   * read from disk is under way; ignored otherwise (a later {@linkcode catchUp} reads them).
   */
  offer(position: number, bytes: Uint8Array): void {
    if (this.#reading || position !== this.#hashed) return;
    this.#hasher.update(bytes);
    this.#hashed += bytes.length;
  }

  /** Reads from `file` and hashes every byte before `end` not hashed yet; they must all be on disk. */
  async catchUp(file: Deno.FsFile, end: number): Promise<void> {
    this.#buffer ??= new Uint8Array(HASH_READ);
    while (this.#hashed < end) {
      const next = Math.min(end, this.#hashed + this.#buffer.length);
      this.#reading = true;
      try {
        await hashFileRange(file, this.#hasher, this.#hashed, next, this.#buffer);
      } finally {
        this.#reading = false;
      }
      this.#hashed = next;
    }
  }

  /** Lowercase hex digest of the bytes hashed; call once, after the last byte. */
  digest(): string {
    return this.#hasher.digest();
  }
}
