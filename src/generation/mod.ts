/**
 * Decoding loops over runtime sessions: text generation (KV cache, sampling, chat templates, streaming, constrained
 * JSON), encoder-decoder models (translation, summarization, image-to-text, with beam search) and Whisper
 * transcription with its writers. The root module has `loadPipeline` and the text-generation types most programs
 * need; this is the rest.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * import { isSeq2Seq } from "jsr:@gpux/gpux/generation";
 * await using mt = await loadPipeline("Xenova/opus-mt-en-de", { task: "translation" });
 * if (isSeq2Seq(mt)) console.log((await mt.run("Hello", { numBeams: 4 })).sequences[0].text); // prints: Hallo
 * ```
 *
 * @module
 */
/**
 * Language models that generate: `loadPipeline` returns a text-generation pipeline for a decoder-only ONNX
 * model (config.json `architectures` ending in `ForCausalLM`/`LMHeadModel`, `pipeline_tag: text-generation`,
 * or `past_key_values.*` inputs) — optimum, transformers.js/onnx-community and onnxruntime-genai exports alike.
 * `generate` streams text deltas (never half a character) and its `result` holds the ids, finish reason, usage
 * and timings; `run` returns the whole result, for one prompt or a batch; `chat` keeps a conversation and its
 * KV cache between turns. Greedy by default; `temperature`, `topK`, `topP`, `minP`, `repetitionPenalty` and a
 * `seed` sample reproducibly. Chat templates are rendered with `@huggingface/jinja`.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * await using llm = await loadPipeline("onnx-community/Qwen3-0.6B-ONNX", { task: "text-generation" });
 * const stream = llm.generate([{ role: "user", content: "Name three rivers." }], {
 *   maxNewTokens: 64,
 *   templateVariables: { enable_thinking: false },
 * });
 * for await (const text of stream) console.log(text);
 * const { finishReason, usage, timings } = await stream.result;
 * console.log(finishReason, usage.generatedTokens, timings.generatedTokensPerSecond);
 *
 * const batch = await llm.run(["Once upon a time", "The capital of France is"], { maxNewTokens: 16, seed: 7 });
 * for (const answer of batch.sequences) console.log(answer.text, answer.finishReason);
 *
 * const chat = llm.chat({ system: "You are terse." });
 * console.log((await chat.send("Hello!").result).text);
 * console.log((await chat.send("And again?").result).usage.cachedTokens); // the first turn's tokens, reused
 * ```
 */
export {
  type ChatSession,
  DEFAULT_MAX_NEW_TOKENS,
  type FinishReason,
  type GenerationDelta,
  type GenerationStream,
  type GenerationTimings,
  type GenerationUsage,
  type PreparedSequence,
  type Prompt,
  type PromptIds,
  type ResponseFormat,
  type SequenceResult,
  type TokenLogprob,
  type TokenLogprobs,
} from "./text_generation.ts";
export {
  type AnyPipeline,
  isSeq2Seq,
  isTextGeneration,
  isWhisper,
  loadTextGeneration,
  type PipelineFor,
  type TextGenerationOptions,
} from "./load_pipeline.ts";
export { type ChatTemplate, type ChatTemplateOptions } from "./chat_template.ts";
export {
  loadWhisper,
  type WhisperOptions,
  type WhisperPipeline,
  type WhisperResult,
  type WhisperRunOptions,
  type WhisperWindow,
  type WindowStats,
} from "./whisper_transcription.ts";
export type { WhisperSegment } from "./whisper_segments.ts";
export type { DetectedLanguage } from "./whisper_logits.ts";
export {
  formatTimestamp,
  TRANSCRIPT_FORMATS,
  type TranscriptFormat,
  type TranscriptSegment,
  writeTranscript,
} from "./whisper_writers.ts";
export type { CacheLayer, DecoderContract } from "./decoder_contract.ts";
export type { SequenceConstraint, SequenceOutcome, StepDelta } from "./decode_loop.ts";
export type { TokenMask } from "./logits_sampler.ts";
export {
  type BatchingCheck,
  batchingCheck,
  type BatchOutcome,
  type BatchSequence,
  ContinuousBatch,
  type ContinuousBatchOptions,
} from "./continuous_batch.ts";
export type { GenerationOverrides, GenerationSettings, SamplingSettings } from "./generation_config.ts";
/**
 * Encoder-decoder generation: `loadPipeline` returns a {@linkcode Seq2SeqPipeline} for translation (Marian/OPUS-MT),
 * summarization and text2text-generation (T5, BART) and image-to-text (VisionEncoderDecoder) exports in optimum's
 * layout, with the text-generation pipeline's `generate()`/`run()` shape plus beam search (`numBeams`,
 * `lengthPenalty`, `earlyStopping`, `numReturnSequences`) and `decodeFeeds` for encoder inputs built elsewhere.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * await using mt = await loadPipeline("Xenova/opus-mt-en-de", { task: "translation" });
 * const { sequences } = await mt.run(["Hello", "How are you?"], { numBeams: 4 });
 * for (const s of sequences) console.log(s.text);
 * ```
 */
export {
  createSeq2Seq,
  type EarlyStopping,
  isSeq2SeqModel,
  isSeq2SeqTask,
  loadSeq2Seq,
  loadSeq2SeqParts,
  type LogitsProcessor,
  SEQ2SEQ_TASKS,
  type Seq2SeqDefaults,
  type Seq2SeqInput,
  type Seq2SeqOptions,
  type Seq2SeqParts,
  type Seq2SeqPipeline,
  type Seq2SeqResult,
  type Seq2SeqSequenceResult,
  type Seq2SeqStream,
  type Seq2SeqTask,
  type StepInfo,
} from "./seq2seq_generation.ts";
export type { Seq2SeqSequence, Seq2SeqSessions } from "./seq2seq_loop.ts";
export type { Seq2SeqCacheLayer, Seq2SeqDecoderContract } from "./seq2seq_contract.ts";
export type { LogitsContext } from "./logits_processors.ts";
