/**
 * gpux serve's real model worker with one fault injected: a `run` whose first input's first element is
 * -999 makes the worker throw an uncaught error (as a native crash or a bug would), instead of running.
 * Everything else goes to the real worker's handler. Used to prove that a crashed worker is replaced and
 * takes neither the server nor its other requests down.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import "../../src/serve/model_worker.ts";
import type { ToWorker } from "../../src/serve/worker_protocol.ts";

const real = self.onmessage as unknown as (event: MessageEvent<ToWorker>) => void;
self.onmessage = (event: MessageEvent<ToWorker>) => {
  const m = event.data;
  if (m.type === "run") {
    const first = Object.values(m.feeds)[0];
    if (first && first.data[0] === -999) {
      setTimeout(() => {
        throw new Error("injected crash");
      });
      return;
    }
  }
  real(event);
};
