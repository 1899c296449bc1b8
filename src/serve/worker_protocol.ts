/**
 * The messages between the server's main thread and a model worker. Everything is plain, cloneable
 * data: tensors as {@linkcode TensorMap}, errors as {@linkcode WorkerErrorData}.
 *
 * A worker hosts one model: today a bare ONNX session (`kind: "session"`); a raw-input pipeline (text,
 * image, audio → task result) is meant to be hosted the same way, answering `process` messages.
 *
 * @module
 */
import type { ResolvedModel } from "../runtime/model_source.ts";
import type { SessionOptions } from "../runtime/session.ts";
import type { TensorInfo, TensorMap } from "../runtime/tensors.ts";
import type { ProviderFailure } from "../runtime/providers.ts";

/** Load the model at `path` (resolved by the main thread) with `options`. */
export interface LoadMessage {
  type: "load";
  /** What the worker hosts. */
  kind: "session";
  /** The `.onnx` file. */
  path: string;
  /** How it was resolved (gpux.yml, Hub id, variant). */
  model?: ResolvedModel;
  /** Provider, threads, graph optimisation. */
  options: Omit<SessionOptions, "model">;
  /** Run once on synthesized inputs before answering `loaded`. */
  warmup: boolean;
}

/** Run a (possibly batched) set of feeds. */
export interface RunMessage {
  type: "run";
  id: number;
  feeds: TensorMap;
}

/** Release the session; the worker answers `closed` and may then be terminated. */
export interface CloseMessage {
  type: "close";
}

/** Main thread → worker. */
export type ToWorker = LoadMessage | RunMessage | CloseMessage;

/** An error as data: the class name (for the HTTP status), message and hint. */
export interface WorkerErrorData {
  name: string;
  code?: string;
  message: string;
  hint?: string;
}

/** What a loaded worker reports about its model. */
export interface LoadedMessage {
  type: "loaded";
  provider: string;
  fallbacks: ProviderFailure[];
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  createMs: number;
  warmupMs?: number;
}

/** Worker → main thread. */
export type FromWorker =
  | LoadedMessage
  | { type: "load_failed"; error: WorkerErrorData }
  | { type: "result"; id: number; outputs: TensorMap; runMs: number }
  | { type: "run_failed"; id: number; error: WorkerErrorData }
  | { type: "closed" };
