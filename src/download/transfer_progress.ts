/**
 * Turns byte counts from the transfer engine into {@linkcode PullProgressEvent}s: per file and
 * overall bytes, files done, a rate over a sliding window and the time left. Progress events are
 * throttled (one per file per `intervalMs`, plus the last one of each file).
 *
 * @module
 */
import type { PullProgressEvent } from "../vocabulary/progress_events.ts";

/** A file the progress covers. */
export interface PlannedFile {
  path: string;
  size: number;
  /** Already complete in the cache (counted as done, never transferred). */
  cached: boolean;
}

/** Options of {@linkcode TransferProgress}. */
export interface TransferProgressOptions {
  /** Minimum time between two `progress` events of one file, ms (default 100). */
  intervalMs?: number;
  /** Window over which the rate is measured, ms (default 5000). */
  windowMs?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

/** Aggregates transfer progress for one pull. */
export class TransferProgress {
  readonly bytesTotal: number;
  readonly filesTotal: number;
  readonly bytesCached: number;
  /** Bytes complete: cached + resumed from disk + transferred. */
  bytesDone = 0;
  /** Bytes that came over the network during this pull. */
  bytesTransferred = 0;
  filesDone = 0;
  readonly #emit: (event: PullProgressEvent) => void;
  readonly #files = new Map<string, { size: number; done: number; lastEmit: number }>();
  readonly #samples: { t: number; bytes: number }[] = [];
  readonly #interval: number;
  readonly #window: number;
  readonly #now: () => number;

  constructor(files: PlannedFile[], emit: (event: PullProgressEvent) => void, options: TransferProgressOptions = {}) {
    this.#emit = emit;
    this.#interval = options.intervalMs ?? 100;
    this.#window = options.windowMs ?? 5000;
    this.#now = options.now ?? (() => performance.now());
    this.bytesTotal = files.reduce((sum, f) => sum + f.size, 0);
    this.filesTotal = files.length;
    this.bytesCached = files.filter((f) => f.cached).reduce((sum, f) => sum + f.size, 0);
    for (const file of files) this.#files.set(file.path, { size: file.size, done: 0, lastEmit: -Infinity });
    this.#samples.push({ t: this.#now(), bytes: 0 });
  }

  /** A file starts transferring; `resumedFrom` bytes were already on disk and count as done. */
  start(path: string, resumedFrom: number): void {
    const file = this.#file(path);
    this.#emit({ type: "file-start", path, size: file.size, resumedFrom });
    if (resumedFrom > 0) this.#advance(path, resumedFrom, false);
  }

  /** `n` new bytes of `path` arrived over the network. */
  add(path: string, n: number): void {
    this.bytesTransferred += n;
    this.#advance(path, n, true);
  }

  /** Bytes of `path` counted as done were discarded (a server ignored `Range`; a corrupt partial). */
  rewind(path: string, n: number): void {
    this.#advance(path, -n, false);
  }

  /** `path` is complete (and verified); `cached` when nothing was transferred. */
  done(path: string, cached: boolean): void {
    const file = this.#file(path);
    if (file.done < file.size) this.#advance(path, file.size - file.done, false);
    this.filesDone++;
    this.#emitProgress(path, true);
    this.#emit({ type: "file-done", path, size: file.size, cached });
  }

  /** Bytes per second over the sliding window. */
  rate(): number {
    const now = this.#now();
    this.#trim(now);
    const first = this.#samples[0];
    const elapsed = (now - first.t) / 1000;
    const bytes = this.bytesTransferred - first.bytes;
    return elapsed > 0.2 ? bytes / elapsed : 0;
  }

  #file(path: string) {
    const file = this.#files.get(path);
    if (!file) throw new Error(`progress for an unplanned file: ${path}`);
    return file;
  }

  #advance(path: string, n: number, sample: boolean): void {
    const file = this.#file(path);
    file.done += n;
    this.bytesDone += n;
    if (sample) {
      const now = this.#now();
      const last = this.#samples[this.#samples.length - 1];
      if (now - last.t >= 50) this.#samples.push({ t: now, bytes: this.bytesTransferred });
    }
    this.#emitProgress(path, false);
  }

  #trim(now: number): void {
    while (this.#samples.length > 1 && now - this.#samples[1].t >= this.#window) this.#samples.shift();
  }

  #emitProgress(path: string, force: boolean): void {
    const file = this.#file(path);
    const now = this.#now();
    if (!force && now - file.lastEmit < this.#interval) return;
    file.lastEmit = now;
    const rate = this.rate();
    const left = this.bytesTotal - this.bytesDone;
    this.#emit({
      type: "progress",
      path,
      fileBytes: file.done,
      fileTotal: file.size,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      rate,
      eta: rate > 0 ? Math.max(0, left) / rate : undefined,
    });
  }
}
