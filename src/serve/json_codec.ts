/**
 * A {@linkcode JsonCodec} that runs the server's codec operations (request bodies to tensors, results to
 * JSON text: the plain functions of codec_calls.ts) in a Worker (codec_worker.ts) when the server is busy.
 *
 * Parsing a large body (an image tensor as JSON is ~250 kB, 3 ms) or printing a large output holds the
 * thread that does it; on the HTTP thread that delays every other request, `/health` included. Under load
 * the codec moves that work to its own Worker; an idle server decodes inline (a hop to a Worker costs more
 * than it saves for one request).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { CodecCall } from "./codec_calls.ts";
import { BadRequestError, PayloadTooLargeError } from "./serve_errors.ts";
import type { WorkerErrorData } from "./worker_protocol.ts";

function toError(data: WorkerErrorData): Error {
  const options = data.hint ? { hint: data.hint } : {};
  if (data.name === "BadRequestError") return new BadRequestError(data.message, options);
  if (data.name === "PayloadTooLargeError") return new PayloadTooLargeError(data.message, options);
  if (data.name === "InputError") return new InputError(data.message, options);
  return new Error(data.message);
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

  /** Runs `call` in the codec Worker. */
  run<T>(call: CodecCall): Promise<T> {
    const worker = this.#worker ?? this.#start();
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, call });
    });
  }

  /** Requests waiting for the codec Worker. */
  get pending(): number {
    return this.#pending.size;
  }

  #start(): Worker {
    const worker = new Worker(CODEC_WORKER_URL, { type: "module" });
    worker.onmessage = (event: MessageEvent<{ id: number; value?: unknown; error?: WorkerErrorData }>) => {
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
      for (const p of this.#pending.values()) p.reject(new Error(`the JSON codec worker failed: ${event.message}`));
      this.#pending.clear();
    };
    this.#worker = worker;
    return worker;
  }

  /** Stops the Worker. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(new Error("the server is shutting down"));
    this.#pending.clear();
  }
}
