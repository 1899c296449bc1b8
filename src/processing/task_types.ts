/**
 * The types a task handler and the pipeline both speak: the raw inputs, the task results, the context a
 * handler gets and the {@linkcode TaskHandler} shape itself (see pipeline.ts, "Adding a task").
 *
 * Handlers import their types from here, never from pipeline.ts: pipeline.ts imports the registry
 * (task_registry.ts), which imports every handler, so a handler importing pipeline.ts would close a cycle.
 * This file imports no handler, no registry and no pipeline.
 *
 * @module
 */
import type { PreprocessingConfig } from "../config/gpux_config.ts";
import type { ResolvedModel } from "../runtime/model_source.ts";
import type { GpuxSession } from "../runtime/session.ts";
import type { TensorMap } from "../runtime/tensors.ts";
import type { ModelFiles } from "./model_files.ts";
import type { TaskSource } from "./task_detection.ts";

/** The kinds of raw input a task can take. */
export type InputKind = "text" | "image" | "audio";

/** An image or audio file's bytes, with a name for messages (the path, or `-` for stdin). */
export interface MediaFile {
  /** Path or label shown in messages. */
  name: string;
  /** The file's bytes. */
  bytes: Uint8Array;
}

/** Text input: one text or a batch; `pairs` for cross-encoders; `candidateLabels` for zero-shot. */
export interface TextInput {
  /** Input kind. */
  kind: "text";
  /** The texts (a batch). */
  texts: string[];
  /** Second sequences, one per text (cross-encoders, NLI). */
  pairs?: string[];
  /** Zero-shot classification: the labels to score. */
  candidateLabels?: string[];
  /** Zero-shot classification: hypothesis template with `{}` (default `This example is {}.`). */
  hypothesisTemplate?: string;
}

/** Image input: one or more encoded images (PNG, JPEG, WebP). */
export interface ImageInput {
  /** Input kind. */
  kind: "image";
  /** Encoded image files. */
  images: MediaFile[];
  /** Zero-shot image classification / object detection: the labels to score or look for. */
  candidateLabels?: string[];
  /** Zero-shot image classification: hypothesis template with `{}` (default `This is a photo of {}.`). */
  hypothesisTemplate?: string;
}

/** Audio input: one or more encoded clips (WAV). */
export interface AudioInput {
  /** Input kind. */
  kind: "audio";
  /** Encoded audio files. */
  clips: MediaFile[];
}

/** What `Pipeline.run` (pipeline.ts) takes: a text, a batch of texts, or a typed input. */
export type PipelineInput = string | string[] | TextInput | ImageInput | AudioInput;

/** Options of one {@linkcode Pipeline.run}. */
export interface PipelineRunOptions {
  /** Classification: how many labels per input (default 1; all with `Infinity`). */
  topK?: number;
  /** Token classification: `none`, `simple` (default) or `first`. */
  aggregation?: "none" | "simple" | "first";
  /** Zero-shot classification: score labels independently (sigmoid of entailment vs contradiction). */
  multiLabel?: boolean;
  /** Fill-mask: score only these words (each a vocabulary token, else its first token). */
  targets?: string[];
  /** Question answering: longest answer in tokens (default 15). */
  maxAnswerLength?: number;
  /** Question answering: longest window, question included (default the model's maximum, at most 384). */
  maxSeqLength?: number;
  /** Question answering: context tokens two windows of a long context share (default min(128, half a window)). */
  docStride?: number;
  /** Object detection: keep boxes scoring above this (default 0.5; 0.1 for zero-shot object detection). */
  threshold?: number;
  /**
   * Image segmentation: `panoptic`, `instance` or `semantic` post-processing (default: panoptic where the model
   * answers per-query masks, else semantic), as transformers' pipeline `subtask`.
   */
  subtask?: "panoptic" | "instance" | "semantic";
}

/**
 * One fill-mask candidate: a token for the mask, its probability and the completed text.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * await using fill = await loadPipeline("acme/bert-base-uncased");
 * const result = await fill.run("The capital of France is [MASK].", { topK: 1 });
 * if (result.kind === "fill-mask") console.log(result.masks[0][0][0]);
 * // { score: 0.4316, token: 3000, tokenStr: "paris", sequence: "the capital of france is paris." }
 * ```
 */
export interface FillMaskCandidate {
  /** Probability of the token at the mask (softmax over the vocabulary). */
  score: number;
  /** Token id. */
  token: number;
  /** The token decoded (`paris`). */
  tokenStr: string;
  /** The text with the mask filled (special tokens kept when the text has several masks, as transformers). */
  sequence: string;
}

/**
 * One extractive answer: a span of the context.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * await using qa = await loadPipeline("acme/bert-squad", { task: "question-answering" });
 * const context = "Ada lives in London.";
 * const result = await qa.run({ kind: "text", texts: ["Where does Ada live?"], pairs: [context] });
 * if (result.kind === "answers") console.log(result.answers[0][0]); // { score: 0.9731, start: 13, end: 19, answer: "London" }
 * ```
 */
export interface Answer {
  /** `P(start) × P(end)` within its window. */
  score: number;
  /** Character offset in the context where the answer starts (UTF-16). */
  start: number;
  /** Character offset after its last character: `context.slice(start, end) === answer`. */
  end: number;
  /** The answer's text. */
  answer: string;
}

/** A box in the original image's pixels (corners, floats). */
export interface Box {
  /** Left edge. */
  xmin: number;
  /** Top edge. */
  ymin: number;
  /** Right edge. */
  xmax: number;
  /** Bottom edge. */
  ymax: number;
}

/** An object found in an image: its label, score and box. */
export interface DetectedObject {
  /** Label name. */
  label: string;
  /** Probability. */
  score: number;
  /** Where it is, in the original image's pixels. */
  box: Box;
}

/** One segment of an image: a label, a score (`null` for semantic segmentation) and a mask. */
export interface Segment {
  /** Label name. */
  label: string;
  /** Score, or `null` where the model gives none (semantic segmentation, background removal). */
  score: number | null;
  /** `width * height` bytes, row-major: 255 inside the segment, 0 outside (an alpha matte for background removal). */
  mask: Uint8Array;
}

/** A depth map at the input image's size. */
export interface DepthMap {
  /** Width in pixels (the input image's). */
  width: number;
  /** Height in pixels. */
  height: number;
  /** The model's `predicted_depth`, resized (bicubic) to `width × height`, row-major. */
  predictedDepth: Float32Array;
  /** The depth normalised to 0..255 (`width * height` bytes), the grey picture transformers' pipeline draws. */
  picture: Uint8Array;
}

/** One label and its probability. */
export interface LabelScore {
  /** Label name (`id2label`, gpux.yml labels, or `LABEL_i`). */
  label: string;
  /** Probability (softmax or sigmoid). */
  score: number;
}

/** A token-classification entity. */
export interface Entity {
  /** Label (`PER`, or `B-PER` without aggregation). */
  label: string;
  /** Probability (mean over the tokens of an aggregated entity). */
  score: number;
  /** The entity's text: `text.slice(start, end)`. */
  word: string;
  /** Character offset of the first character in the input text. */
  start: number;
  /** Character offset after the last character. */
  end: number;
}

/** What a pipeline returns, by kind. Every list has one entry per input of the batch. */
export type TaskResult =
  | {
    /** Classification of text, images or audio. */ kind: "classification";
    /** Task name. */ task: string;
    /** Top-k labels per input, best first. */ predictions: LabelScore[][];
  }
  | {
    /** Sentence embeddings / features. */ kind: "embedding";
    /** Task name. */ task: string;
    /** One vector per input. */ embeddings: Float32Array[];
    /** Vector length. */ dimension: number;
    /** Pooling used (`mean`, `cls`, `max`, or `none` when the model already pools). */ pooling: string;
    /** Whether vectors were L2-normalised. */ normalized: boolean;
    /** Tokens each input ran as (special tokens included, after truncation); absent where unknown (images). */
    tokenCounts?: number[];
  }
  | {
    /** Token classification. */ kind: "entities";
    /** Task name. */ task: string;
    /** Entities per input. */ entities: Entity[][];
  }
  | {
    /** Zero-shot classification. */ kind: "zero-shot";
    /** Task name. */ task: string;
    /** Per input: labels sorted by score. */ predictions: LabelScore[][];
  }
  | {
    /** Fill-mask. */ kind: "fill-mask";
    /** Task name. */ task: string;
    /** Per input, per mask token (in text order): candidates, best first. */ masks: FillMaskCandidate[][][];
  }
  | {
    /** Extractive question answering. */ kind: "answers";
    /** Task name. */ task: string;
    /** Per question: answers, best first. */ answers: Answer[][];
  }
  | {
    /** Sentence similarity: the first text against each other one. */ kind: "similarity";
    /** Task name. */ task: string;
    /** Cosine similarity of each later text's embedding with the first's. */ similarities: number[];
  }
  | {
    /** Transcription (speech recognition). */ kind: "transcription";
    /** Task name. */ task: string;
    /** One text per clip. */ texts: string[];
  }
  | {
    /** Object detection (also zero-shot). */ kind: "detection";
    /** Task name. */ task: string;
    /** Per input: the objects above the threshold. */ objects: DetectedObject[][];
  }
  | {
    /** Image segmentation and background removal. */ kind: "segmentation";
    /** Task name. */ task: string;
    /** Per input: its size. */ sizes: { width: number; height: number }[];
    /** Per input: the segments. */ segments: Segment[][];
  }
  | {
    /** Depth estimation. */ kind: "depth";
    /** Task name. */ task: string;
    /** One depth map per input. */ depths: DepthMap[];
  }
  | {
    /** Any other task: the named tensors. */ kind: "tensors";
    /** Task name. */ task: string;
    /** Outputs by name, in the model's order. */ outputs: TensorMap;
  };

/** What `preprocess` returns: the feeds, and whatever `postprocess` needs to know about them. */
export interface Preprocessed {
  /** Model inputs. */
  feeds: TensorMap;
  /** Handler-specific data (token offsets, batch size, …). */
  meta?: unknown;
}

/** Everything a handler may look at: the session, the repository's files and configs. */
export interface PipelineContext {
  /** The task being run. */
  task: string;
  /** Where the task name came from. */
  taskSource: TaskSource;
  /** The loaded model. */
  session: GpuxSession;
  /** The repository's (or model directory's) files: config.json, tokenizer.json, … */
  files: ModelFiles;
  /** config.json, or `{}` when absent. */
  config: Record<string, unknown>;
  /** gpux.yml `preprocessing:`, when present. */
  preprocessing?: PreprocessingConfig;
  /** How the model was found. */
  model?: ResolvedModel;
  /** Longest audio clip accepted, seconds (the pipeline option `maxAudioSeconds`; default 600). */
  maxAudioSeconds?: number;
}

/** A task: which inputs it takes, how they become feeds, and how outputs become a result. */
export interface TaskHandler<State = unknown> {
  /** Task name (Hub `pipeline_tag` spelling). */
  readonly task: string;
  /** Input kinds accepted. */
  readonly accepts: readonly InputKind[];
  /** Loads what the task needs (tokenizer, processor config) once per pipeline. */
  setup(ctx: PipelineContext): Promise<State>;
  /** Raw input → feeds (`options`: the run's options, for handlers whose feeds depend on them). */
  preprocess(
    input: TextInput | ImageInput | AudioInput,
    ctx: PipelineContext,
    state: State,
    options?: PipelineRunOptions,
  ): Promise<Preprocessed>;
  /** Outputs → task result. */
  postprocess(
    outputs: TensorMap,
    pre: Preprocessed,
    ctx: PipelineContext,
    state: State,
    options: PipelineRunOptions,
  ): TaskResult | Promise<TaskResult>;
  /** Releases what `setup` opened beyond the pipeline's session (a second graph); called once, by `dispose`. */
  dispose?(state: State): Promise<void>;
}
