/**
 * The end of a model Worker's life, shared by the session pool and the generation pool: ask the Worker to release
 * what it holds (onnxruntime sessions leak ~4.4 MB each when a Worker is terminated with one still open), wait for
 * its `closed` answer, bounded, then terminate it.
 *
 * @module
 */

/**
 * Posts `{type: "close"}` to `worker`, waits at most `waitMs` for `{type: "closed"}` (or an error), then terminates it.
 *
 * @example
 * ```ts
 * const worker = new Worker(new URL("./model_worker.ts", import.meta.url), { type: "module" });
 * await releaseWorker(worker, 5000);
 * ```
 */
export function releaseWorker(worker: Worker, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      worker.terminate();
      resolve();
    };
    const timer = setTimeout(finish, waitMs);
    worker.onmessage = (event: MessageEvent<{ type: string }>) => {
      if (event.data.type === "closed") finish();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      finish();
    };
    worker.postMessage({ type: "close" });
  });
}
