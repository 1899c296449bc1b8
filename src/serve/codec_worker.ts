/**
 * The Worker of `JsonCodec` (json_codec.ts): parses request bodies into tensors and prints answers as JSON, off
 * the HTTP thread. Receives `{id, call}`, answers `{id, value}` (typed arrays transferred) or `{id, error}`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { GpuxError } from "../errors.ts";
import { type CodecCall, runCodec, transferables } from "./codec_calls.ts";

self.onmessage = (event: MessageEvent<{ id: number; call: CodecCall }>) => {
  const { id, call } = event.data;
  try {
    const value = runCodec(call);
    self.postMessage({ id, value }, transferables(value));
  } catch (error) {
    const data = error instanceof GpuxError
      ? { name: error.name, message: error.message, ...(error.hint ? { hint: error.hint } : {}) }
      : { name: "Error", message: error instanceof Error ? error.message : String(error) };
    self.postMessage({ id, error: data });
  }
};
