/**
 * A Worker that loads a model, runs posted feeds and posts the outputs back: proves a GpuxSession
 * lives inside a Worker and that its inputs and outputs cross threads as plain data.
 *
 * Protocol: post `{ path, feeds }`; receive `{ provider, inputs, outputs }` or `{ error }`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { loadModel } from "../../src/runtime/load_model.ts";
import type { TensorMap } from "../../src/runtime/tensors.ts";

self.onmessage = async (event: MessageEvent<{ path: string; feeds: TensorMap }>) => {
  try {
    const session = await loadModel(event.data.path, { provider: "cpu" });
    try {
      const outputs = await session.run(event.data.feeds);
      self.postMessage({ provider: session.provider, inputs: session.inputs, outputs });
    } finally {
      await session.dispose();
    }
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
