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
import type { BatchingVerdict } from "./batching.ts";

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
  /**
   * Host the model's pre-processing pipeline too (raw text, images, audio): the model as the user named it
   * (`org/name`, a folder, a gpux.yml), with the variant and cache folder, for `loadPipeline` to resolve.
   */
  pipeline?: { spec: string; variant?: string; cacheDir?: string; maxAudioSeconds?: number };
  /**
   * Prove that requests may be batched (batching.ts: the graph's symbolic shapes, then warm-up runs of one
   * and two stacked requests compared with their runs alone) and answer the verdict in `loaded.batching`.
   */
  checkBatching?: boolean;
}

/** Run a (possibly batched) set of feeds. */
export interface RunMessage {
  type: "run";
  id: number;
  feeds: TensorMap;
}

/**
 * Raw input for a pipeline-hosting worker: texts, or encoded image/audio files, with the task's options.
 * Shaped like the pipelines' typed input so a worker can hand it over as it is.
 */
export type RawInput =
  | { kind: "text"; texts: string[]; pairs?: string[]; candidateLabels?: string[]; hypothesisTemplate?: string }
  | {
    kind: "image";
    images: { name: string; bytes: Uint8Array }[];
    candidateLabels?: string[];
    hypothesisTemplate?: string;
  }
  | { kind: "audio"; clips: { name: string; bytes: Uint8Array }[] };

/** Options of a raw-input run (as the run command's --top-k, --aggregation, --multi-label). */
export interface RawOptions {
  topK?: number;
  aggregation?: "none" | "simple" | "first";
  multiLabel?: boolean;
  targets?: string[];
  maxAnswerLength?: number;
  maxSeqLength?: number;
  docStride?: number;
  /** Object detection: keep boxes scoring above this. */
  threshold?: number;
  /** Image segmentation: panoptic, instance or semantic. */
  subtask?: "panoptic" | "instance" | "semantic";
}

/** Run raw input through the hosted pipeline. */
export interface ProcessMessage {
  type: "process";
  id: number;
  input: RawInput;
  options?: RawOptions;
}

/** Release the session; the worker answers `closed` and may then be terminated. */
export interface CloseMessage {
  type: "close";
}

/** Main thread → worker. */
export type ToWorker = LoadMessage | RunMessage | ProcessMessage | CloseMessage;

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
  /** The pipeline's task, when the worker hosts one. */
  task?: string;
  /** Raw input kinds the pipeline takes (empty: tensors only). */
  accepts: ("text" | "image" | "audio")[];
  /** Why the pipeline could not be loaded (the model is then served for tensors only). */
  pipelineError?: string;
  /** Why the warm-up run on synthesised inputs failed, naming each input and its values (the model is served cold). */
  warmupError?: string;
  /** Whether requests may share a run, when `checkBatching` asked. */
  batching?: BatchingVerdict;
}

/** Worker → main thread. */
export type FromWorker =
  | LoadedMessage
  | { type: "load_failed"; error: WorkerErrorData }
  | { type: "result"; id: number; outputs: TensorMap; runMs: number }
  | {
    type: "processed";
    id: number;
    resultText: string;
    runMs: number;
    /** Tokens of each text input, where the task counts them (embeddings: for `usage` / `prompt_eval_count`). */
    tokenCounts?: number[];
  }
  | { type: "run_failed"; id: number; error: WorkerErrorData }
  | { type: "closed" };
