/**
 * The messages between the server's main thread and a generation Worker (generation_worker.ts): load a
 * text-generation pipeline, generate prompts (one at a time, or several together in a continuous batch) while
 * streaming their text deltas back, cancel one, close; or load an encoder-decoder pipeline (translation,
 * summarization, text2text, image-to-text, Whisper speech recognition) and answer one input at a time with its
 * task's document. Everything is plain, cloneable data.
 *
 * @module
 */
import type { ResolvedModel } from "../runtime/model_source.ts";
import type { SessionOptions } from "../runtime/session.ts";
import type { TensorInfo } from "../runtime/tensors.ts";
import type { ProviderFailure } from "../runtime/providers.ts";
import type { ChatMessage } from "../generation/chat_template.ts";
import type { WorkerErrorData } from "./worker_protocol.ts";
import type { TokenLogprobs } from "../generation/token_logprobs.ts";
import type { ResponseFormat } from "../generation/text_generation.ts";

export type { TokenLogprobs };

/** What one generation asks for (the server's view of the engine's options, all cloneable). */
export interface GenerationParams {
  /** New tokens at most, as asked (undefined: the model's default, shrunk to what fits the context). */
  maxNewTokens?: number;
  /** The server's cap on new tokens (`--max-tokens-limit`): the model's default is cut to it. */
  maxNewTokensLimit?: number;
  /** A context smaller than the model's to check the prompt against (Ollama's `num_ctx`). */
  contextLength?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  seed?: number;
  /** Stop strings (never part of the text). */
  stop?: string[];
  /** Chat template variables (`enable_thinking`). */
  templateVariables?: Record<string, unknown>;
  /** OpenAI's presence and frequency penalties, [-2, 2]. */
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Report each token's log-probability, with this many alternatives (0–20). */
  logprobs?: boolean;
  topLogprobs?: number;
  /** Tool definitions rendered through the chat template (OpenAI's `tools`). */
  tools?: unknown[];
  /** JSON mode: the output held to valid JSON (to the schema when given) by masking tokens while decoding. */
  responseFormat?: ResponseFormat;
}

/** A prompt: plain text (completion, the tokenizer's special tokens added) or a conversation (chat template). */
export type GenerationPrompt = string | ChatMessage[];

/** What a generation worker hosts: a decoder-only text generator, or an encoder-decoder pipeline (Whisper included). */
export type GeneratorKind = "text" | "encoder-decoder";

/** One encoder-decoder input: texts (translation, summarization, text2text), images (captioning), or one clip. */
export type Seq2SeqJobInput =
  | { kind: "text"; texts: string[] }
  | { kind: "image"; images: { name: string; bytes: Uint8Array }[] }
  | { kind: "audio"; clip: { name: string; bytes: Uint8Array } };

/** What one encoder-decoder request asks for (all optional: the model's generation_config.json decides). */
export interface Seq2SeqJobParams {
  maxNewTokens?: number;
  numBeams?: number;
  numReturnSequences?: number;
  /** Beam search: length^lengthPenalty divides a finished hypothesis' score. */
  lengthPenalty?: number;
  /** Beam search: `true`, `false` or `"never"`. */
  earlyStopping?: boolean | "never";
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Whisper: language code (undefined: detected). */
  language?: string;
  /** Whisper: `transcribe` or `translate` (to English). */
  task?: "transcribe" | "translate";
  /** Whisper: segment timestamps. */
  timestamps?: boolean;
  /** Whisper: each window's decoding figures and each segment's token ids (OpenAI's `verbose_json`). */
  stats?: boolean;
}

/** Main thread → generation worker. */
export type ToGenerationWorker =
  | {
    type: "load";
    /** The model as the user named it, for `loadTextGeneration` (or the encoder-decoder loaders). */
    spec: string;
    /** What to load (default `text`). */
    generator?: GeneratorKind;
    variant?: string;
    cacheDir?: string;
    /** Longest clip a Whisper model transcribes, seconds (`--max-audio-seconds`). */
    maxAudioSeconds?: number;
    options: Omit<SessionOptions, "model">;
    /** Decode up to this many requests together in one batched step (continuous batching), when the graph allows it. */
    batchRows?: number;
  }
  | { type: "generate"; id: number; prompt: GenerationPrompt; params: GenerationParams }
  | { type: "seq2seq"; id: number; input: Seq2SeqJobInput; params: Seq2SeqJobParams }
  | { type: "cancel"; id: number }
  | { type: "close" };

/** What a loaded generation worker reports. */
export interface GenerationLoaded {
  type: "loaded";
  provider: string;
  fallbacks: ProviderFailure[];
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  model?: ResolvedModel;
  path: string;
  /** The model's context length, when its config gives one. */
  contextLength?: number;
  /** Whether it has a chat template (it can take messages). */
  chatTemplate: boolean;
  /** The chat template's source (Ollama's `template`). */
  template?: string;
  /** The task (`text-generation`, `translation`, …, `automatic-speech-recognition`). */
  task?: string;
  /** The raw input kinds an encoder-decoder model takes. */
  accepts?: ("text" | "image" | "audio")[];
  /** Milliseconds the load took. */
  createMs: number;
  /** With `batchRows`: whether the worker decodes requests together, or why it cannot (then one at a time). */
  batching?: { ok: true } | { ok: false; reason: string };
}

/** The end of one generation. */
export interface GenerationDone {
  type: "done";
  id: number;
  text: string;
  finishReason: "stop" | "length" | "cancelled";
  promptTokens: number;
  generatedTokens: number;
  generatedIds: number[];
  /** Per generated token, when `logprobs` was asked. */
  logprobs?: TokenLogprobs[];
  /** An encoder-decoder answer: the task's document (what `gpux run --json` prints for it, less the model facts). */
  result?: Record<string, unknown>;
  /** Milliseconds: tokenizing, prefill (prompt evaluation), decode steps, whole. */
  tokenizeMs: number;
  prefillMs: number;
  decodeMs: number;
  totalMs: number;
}

/** Generation worker → main thread. */
export type FromGenerationWorker =
  | GenerationLoaded
  | { type: "load_failed"; error: WorkerErrorData }
  | { type: "delta"; id: number; text: string; logprobs?: TokenLogprobs }
  | GenerationDone
  | { type: "failed"; id: number; error: WorkerErrorData }
  /** A batched step ran over this many requests (metrics). */
  | { type: "batch_step"; rows: number }
  | { type: "closed" };
