/**
 * Stall detection for a response body: {@linkcode StallWatch} aborts a connection when no byte has
 * arrived for a while, and {@linkcode pump} reads a body chunk by chunk, re-arming the watch on every
 * chunk (a slow but moving transfer never counts as stalled).
 *
 * @module
 */

/** The reason a stalled connection was aborted with. */
export class StallError extends Error {
  constructor(ms: number) {
    super(`no data for ${Math.round(ms / 1000)}s (stalled)`);
  }
}

/** Aborts `controller` with a {@linkcode StallError} when no byte has arrived for `ms`. */
export class StallWatch {
  #last = Date.now();
  #timer: ReturnType<typeof setInterval>;
  constructor(ms: number, controller: AbortController) {
    this.#timer = setInterval(() => {
      if (Date.now() - this.#last > ms) controller.abort(new StallError(ms));
    }, Math.max(20, Math.min(1000, ms / 4)));
  }
  /** A byte arrived: the stall timer starts over. */
  touch(): void {
    this.#last = Date.now();
  }
  /** Stops watching (always call it, or the timer keeps the process alive). */
  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Reads `body` into `onChunk`, re-arming `stall` on every chunk. Resolves at the end of the body. */
export async function pump(
  body: ReadableStream<Uint8Array>,
  stall: StallWatch,
  onChunk: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      stall.touch();
      await onChunk(value);
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}
