/**
 * A wait that a Ctrl-C (an `AbortSignal`) cuts short: the pause between HTTP retries in the transfer engine
 * and between tries for a cache lock. It sits on the floor of src/ because both `download/` and `cache/`
 * wait this way, and neither room may import the other.
 *
 * @module
 */
import { InterruptedError } from "./errors.ts";

/** Waits `ms`, rejecting with {@linkcode InterruptedError} when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError("interrupted"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError("interrupted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
