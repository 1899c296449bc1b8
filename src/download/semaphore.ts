/**
 * A counting semaphore: the connection budget shared by every transfer of one pull
 * (files and the byte ranges of large files draw from the same pool).
 *
 * @module
 */
import { InterruptedError } from "../errors.ts";

/** Limits how many holders run at once. */
export class Semaphore {
  #free: number;
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  /** A semaphore with `size` permits. */
  constructor(
    /** Number of permits. */
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`semaphore size must be >= 1, got ${size}`);
    this.#free = size;
  }

  /** Permits free right now. */
  get free(): number {
    return this.#free;
  }

  /** Waits for a permit; rejects with {@linkcode InterruptedError} when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new InterruptedError("interrupted"));
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new InterruptedError("interrupted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Takes a permit only if one is free now. */
  tryAcquire(): boolean {
    if (this.#free === 0) return false;
    this.#free--;
    return true;
  }

  /** Returns a permit. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next.resolve();
    else this.#free++;
  }

  /** Runs `task` holding a permit. */
  async with<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await task();
    } finally {
      this.release();
    }
  }
}
