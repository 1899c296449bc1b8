/**
 * The Worker of `JsonCodec` (json_codec.ts): parses request bodies into tensors and prints answers as JSON, off
 * the HTTP thread. Receives `{id, call}`, answers `{id, value}` (typed arrays transferred) or `{id, error}`.
 * A streamed answer (`{id, call, stream: true}`) is printed a chunk per `{id, next: true}`, answered
 * `{id, chunk}` (its buffer transferred) until `{id, done: true}`; `{id, cancel: true}` drops it.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { GpuxError } from "../errors.ts";
import { answerChunks, type StreamCall } from "./answer_stream.ts";
import { type CodecCall, runCodec, transferables } from "./codec_calls.ts";

/** Streams in progress, with the buffers of the tensors they print. */
const streams = new Map<number, { chunks: Iterator<Uint8Array>; buffers: ArrayBuffer[] }>();

/**
 * Ends a stream and frees its tensors now: detaching a buffer releases its memory at once, where dropping it
 * would wait for a garbage collection that an idle Worker may not run for a long while.
 */
function end(id: number): void {
  const stream = streams.get(id);
  streams.delete(id);
  for (const buffer of stream?.buffers ?? []) {
    if (!buffer.detached) buffer.transfer(0);
  }
}

function errorData(error: unknown) {
  return error instanceof GpuxError
    ? { name: error.name, message: error.message, ...(error.hint ? { hint: error.hint } : {}) }
    : { name: "Error", message: error instanceof Error ? error.message : String(error) };
}

type CodecMessage =
  | { id: number; call: CodecCall; stream?: false }
  | { id: number; call: StreamCall; stream: true }
  | { id: number; next: true }
  | { id: number; cancel: true };

self.onmessage = (event: MessageEvent<CodecMessage>) => {
  const m = event.data;
  const { id } = m;
  try {
    if ("cancel" in m) {
      end(id);
      return;
    }
    if ("next" in m) {
      const stream = streams.get(id);
      const step = stream?.chunks.next();
      if (!step || step.done) {
        end(id);
        self.postMessage({ id, done: true });
        return;
      }
      self.postMessage({ id, chunk: step.value }, [step.value.buffer as ArrayBuffer]);
      return;
    }
    if (m.stream) {
      streams.set(id, { chunks: answerChunks(m.call), buffers: transferables(m.call) });
      return;
    }
    const value = runCodec(m.call);
    self.postMessage({ id, value }, transferables(value));
  } catch (error) {
    end(id);
    self.postMessage({ id, error: errorData(error) });
  }
};
