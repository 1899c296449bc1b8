/**
 * The bookkeeping of a file fetched as parallel byte ranges, as plain arithmetic (no I/O).
 *
 * A file of `size` bytes is cut into parts of `chunkSize` bytes (the last one shorter when the size is
 * not a multiple). Part `i` covers the bytes from {@linkcode RangePlan.start} (inclusive) to
 * {@linkcode RangePlan.end} (exclusive), and {@linkcode RangePlan.done} of them, counted from its start,
 * are on disk. From that follow: which parts are still to fetch, where the next request of a part
 * begins, and how far the file is complete without a hole from byte 0 (what the in-order hasher may
 * read). The plan is also what the ranges sidecar (`{etag}.ranges.json.incomplete`) stores:
 * {@linkcode RangePlan.text} writes it, {@linkcode RangePlan.parse} reads it back and refuses anything
 * that does not describe this very file.
 *
 * @module
 */

/** What a saved plan must match to be resumed. */
export interface PlannedFile {
  /** The file's size in bytes. */
  size: number;
  /** The file's expected hash (a sidecar of another version of the file is never reused). */
  hash: string;
}

/** The parts of one file and the bytes of each that are on disk. */
export class RangePlan {
  readonly #done: number[];

  private constructor(
    /** The file's size in bytes. */
    readonly size: number,
    /** Bytes per part (all parts but the last have exactly this length). */
    readonly chunkSize: number,
    /** The file's expected hash. */
    readonly hash: string,
    done: number[],
  ) {
    this.#done = done;
  }

  /** A plan with nothing on disk yet; `chunkSize` must be a positive integer. */
  static fresh(file: PlannedFile, chunkSize: number): RangePlan {
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`bad chunk size ${chunkSize}`);
    if (!Number.isSafeInteger(file.size) || file.size < 0) throw new RangeError(`bad file size ${file.size}`);
    return new RangePlan(file.size, chunkSize, file.hash, new Array(Math.ceil(file.size / chunkSize)).fill(0));
  }

  /**
   * A plan saved by {@linkcode RangePlan.text}, when it describes `file` and is consistent (its part
   * count follows from its size and chunk size, every count of bytes done is a whole number within its
   * part); `undefined` for anything else (corrupt, truncated, hostile or another file's sidecar).
   */
  static parse(text: string, file: PlannedFile): RangePlan | undefined {
    let saved: unknown;
    try {
      saved = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof saved !== "object" || saved === null || Array.isArray(saved)) return undefined;
    const { size, chunkSize, hash, done } = saved as Record<string, unknown>;
    if (size !== file.size || hash !== file.hash || !Number.isSafeInteger(size)) return undefined;
    if (typeof chunkSize !== "number" || !Number.isSafeInteger(chunkSize) || chunkSize <= 0) return undefined;
    if (!Array.isArray(done) || done.length !== Math.ceil(file.size / chunkSize)) return undefined;
    const plan = new RangePlan(file.size, chunkSize, file.hash, new Array(done.length).fill(0));
    for (let i = 0; i < done.length; i++) {
      const d = done[i];
      if (typeof d !== "number" || !Number.isInteger(d) || d < 0 || d > plan.length(i)) return undefined;
      plan.#done[i] = d;
    }
    return plan;
  }

  /** Number of parts. */
  get count(): number {
    return this.#done.length;
  }

  /** First byte of part `i`. */
  start(i: number): number {
    return i * this.chunkSize;
  }

  /** The byte after the last one of part `i` (exclusive end). */
  end(i: number): number {
    return Math.min(this.size, (i + 1) * this.chunkSize);
  }

  /** Length of part `i` in bytes. */
  length(i: number): number {
    return this.end(i) - this.start(i);
  }

  /** Bytes of part `i` on disk, counted from its start. */
  done(i: number): number {
    return this.#done[i];
  }

  /** Where the next request for part `i` begins (the first byte not on disk). */
  nextByte(i: number): number {
    return this.start(i) + this.#done[i];
  }

  /** Whether part `i` is entirely on disk. */
  isComplete(i: number): boolean {
    return this.#done[i] >= this.length(i);
  }

  /** The parts still to fetch, in file order. */
  pending(): number[] {
    const parts: number[] = [];
    for (let i = 0; i < this.count; i++) if (!this.isComplete(i)) parts.push(i);
    return parts;
  }

  /** Bytes on disk, all parts together. */
  bytesDone(): number {
    let total = 0;
    for (const d of this.#done) total += d;
    return total;
  }

  /** How many bytes from byte 0 are on disk without a hole (the in-order hasher may read up to here). */
  contiguousEnd(): number {
    let end = 0;
    for (let i = 0; i < this.count; i++) {
      end = this.nextByte(i);
      if (end < this.end(i)) break;
    }
    return end;
  }

  /** `n` more bytes of part `i` reached the disk, right after those already counted. */
  record(i: number, n: number): void {
    if (n < 0 || this.#done[i] + n > this.length(i)) {
      throw new RangeError(`part ${i} would hold ${this.#done[i] + n} of ${this.length(i)} bytes`);
    }
    this.#done[i] += n;
  }

  /**
   * The first `bytes` of the file are on disk (a sequential partial file that becomes the start of the
   * ranged one): every part they cover counts them, and no part loses bytes it already had.
   */
  adoptPrefix(bytes: number): void {
    for (let i = 0; i < this.count; i++) {
      const covered = Math.max(0, Math.min(bytes, this.end(i)) - this.start(i));
      this.#done[i] = Math.max(this.#done[i], covered);
    }
  }

  /**
   * The sidecar's text: JSON (`size`, `chunkSize`, `hash`, `done`), padded with spaces to the length it
   * has when every part is complete, so that it never grows: on a full disk it can still be overwritten
   * in place.
   */
  text(): string {
    const json = (done: number[]) =>
      JSON.stringify({ size: this.size, chunkSize: this.chunkSize, hash: this.hash, done });
    const full = json(this.#done.map((_, i) => this.length(i)));
    return json(this.#done).padEnd(full.length, " ");
  }
}
