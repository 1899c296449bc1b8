/**
 * A {@linkcode JsonCodec} that runs the server's codec operations (request bodies to tensors, results to
 * JSON text: the plain functions of codec_calls.ts) in a Worker (codec_worker.ts) when the server is busy, and
 * streams large answers from it (answer_stream.ts) always.
 *
 * Parsing a large body (an image tensor as JSON is ~250 kB, 3 ms) or printing a large output holds the
 * thread that does it; on the HTTP thread that delays every other request, `/health` included. Under load
 * the codec moves that work to its own Worker; an idle server decodes inline (a hop to a Worker costs more
 * than it saves for one request).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { StreamCall } from "./answer_stream.ts";
import { type CodecCall, transferables } from "./codec_calls.ts";
import { BadRequestError, PayloadTooLargeError } from "./serve_errors.ts";
import type { WorkerErrorData } from "./worker_protocol.ts";

function toError(data: WorkerErrorData): Error {
  const options = data.hint ? { hint: data.hint } : {};
  if (data.name === "BadRequestError") return new BadRequestError(data.message, options);
  if (data.name === "PayloadTooLargeError") return new PayloadTooLargeError(data.message, options);
  if (data.name === "InputError") return new InputError(data.message, options);
  return new Error(data.message);
}

/** What the codec Worker answers: a value, an error, or a streamed answer's next chunk or end. */
interface CodecReply {
  id: number;
  value?: unknown;
  error?: WorkerErrorData;
  chunk?: Uint8Array;
  done?: boolean;
}

const CODEC_WORKER_URL = new URL("./codec_worker.ts", import.meta.url);

/**
 * Runs codec operations in one Worker (started on first use, restarted if it dies). `run` is for callers
 * that decided the work is worth the hop; `runCodec` (codec_calls.ts) does the same inline.
 */
export class JsonCodec {
  #worker: Worker | undefined;
  #next = 1;
  #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  #streams = new Map<number, { chunk(message: CodecReply): void; fail(error: Error): void }>();

  /** Runs `call` in the codec Worker. */
  run<T>(call: CodecCall): Promise<T> {
    const worker = this.#worker ?? this.#start();
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, call });
    });
  }

  /**
   * The answer of `call` as a byte stream printed by the codec Worker a chunk (about 1 MiB) at a time, as the
   * reader pulls: the HTTP thread never holds more than a chunk or two, nor prints any of it. The answer's typed
   * arrays move to the Worker (the caller must not use them); cancelling the stream drops them there.
   */
  stream(call: StreamCall): ReadableStream<Uint8Array> {
    const worker = this.#worker ?? this.#start();
    const id = this.#next++;
    let waiting: { resolve(): void; controller: ReadableStreamDefaultController<Uint8Array> } | undefined;
    const finish = () => this.#streams.delete(id);
    this.#streams.set(id, {
      chunk: (m) => {
        const w = waiting;
        waiting = undefined;
        if (!w) return;
        if (m.error) {
          finish();
          w.controller.error(toError(m.error));
        } else if (m.done) {
          finish();
          w.controller.close();
        } else if (m.chunk) w.controller.enqueue(m.chunk);
        w.resolve();
      },
      fail: (error) => {
        const w = waiting;
        waiting = undefined;
        finish();
        w?.controller.error(error);
        w?.resolve();
      },
    });
    worker.postMessage({ id, call, stream: true }, transferables(call));
    return new ReadableStream<Uint8Array>({
      pull: (controller) =>
        new Promise<void>((resolve) => {
          if (!this.#streams.has(id)) {
            controller.error(new Error("the JSON codec worker stopped"));
            return resolve();
          }
          waiting = { resolve, controller };
          this.#worker?.postMessage({ id, next: true });
        }),
      cancel: () => {
        if (this.#streams.has(id)) this.#worker?.postMessage({ id, cancel: true });
        finish();
      },
    }, { highWaterMark: 1 });
  }

  /** Requests waiting for the codec Worker, answers it is streaming included. */
  get pending(): number {
    return this.#pending.size + this.#streams.size;
  }

  #start(): Worker {
    const worker = new Worker(CODEC_WORKER_URL, { type: "module" });
    worker.onmessage = (event: MessageEvent<CodecReply>) => {
      const stream = this.#streams.get(event.data.id);
      if (stream) return stream.chunk(event.data);
      const p = this.#pending.get(event.data.id);
      if (!p) return;
      this.#pending.delete(event.data.id);
      if (event.data.error) p.reject(toError(event.data.error));
      else p.resolve(event.data.value);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#worker = undefined;
      worker.terminate();
      const failure = new Error(`the JSON codec worker failed: ${event.message}`);
      for (const p of this.#pending.values()) p.reject(failure);
      this.#pending.clear();
      for (const s of [...this.#streams.values()]) s.fail(failure);
    };
    this.#worker = worker;
    return worker;
  }

  /** Stops the Worker. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    const stopped = new Error("the server is shutting down");
    for (const p of this.#pending.values()) p.reject(stopped);
    this.#pending.clear();
    for (const s of [...this.#streams.values()]) s.fail(stopped);
  }
}
