/**
 * What a generation Worker does with an encoder-decoder model (translation, summarization, text2text-generation,
 * image-to-text, Whisper speech recognition): loads it through `loadPipeline` (which recognises the optimum layout
 * and Whisper), and answers one request with the document `gpux run --json` prints for that task (less the model
 * facts, which the server adds), so that the server's answer and the CLI's are the same shape. Runs inside the
 * Worker: `session.run` blocks the thread it is on.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { isSeq2Seq, isWhisper, loadPipeline } from "../generation/load_pipeline.ts";
import type { Seq2SeqInput, Seq2SeqOptions, Seq2SeqPipeline } from "../generation/seq2seq_generation.ts";
import type { WhisperPipeline } from "../generation/whisper_transcription.ts";
import type { LoadModelOptions } from "../runtime/load_model.ts";
import type { GenerationDone, Seq2SeqJobInput, Seq2SeqJobParams } from "./generation_protocol.ts";

/** An encoder-decoder pipeline as a generation Worker hosts it. */
export type EncoderDecoderPipeline = Seq2SeqPipeline | WhisperPipeline;

/**
 * Loads `spec` as an encoder-decoder pipeline.
 *
 * @throws {InputError} the model is not an encoder-decoder export (exit 2).
 */
export async function loadEncoderDecoder(spec: string, options: LoadModelOptions): Promise<EncoderDecoderPipeline> {
  const pipeline = await loadPipeline(spec, options);
  if (isSeq2Seq(pipeline) || isWhisper(pipeline)) return pipeline;
  await pipeline.dispose();
  throw new InputError(`${spec} is not an encoder-decoder model (its task is ${pipeline.task})`);
}

/** The raw input kinds a pipeline takes. */
export function encoderDecoderAccepts(pipeline: EncoderDecoderPipeline): ("text" | "image" | "audio")[] {
  if (isWhisper(pipeline)) return ["audio"];
  return pipeline.task === "image-to-text" ? ["image"] : ["text"];
}

/** The end of one encoder-decoder request, as the generation pool reports it. */
export type EncoderDecoderDone = Omit<GenerationDone, "type" | "id">;

/**
 * Answers one request; `onStarted` is called once the input was read and decoding began. `result` holds the task's document: for text and images `{task, taskSource, results, usage,
 * timings}` (as `gpux run --json` prints them), for Whisper `{task, language, detected_language?, text, segments,
 * seconds, timings}`.
 *
 * @throws {InputError} an input the model does not take, or options it cannot honour (exit 2).
 */
export async function answerEncoderDecoder(
  pipeline: EncoderDecoderPipeline,
  input: Seq2SeqJobInput,
  params: Seq2SeqJobParams,
  options: { signal: AbortSignal; maxAudioSeconds?: number; onStarted?: () => void },
): Promise<EncoderDecoderDone> {
  const started = performance.now();
  let begun = false;
  // the input was read and decoding began: from here on a failure is the model's, not the request's
  const begin = () => {
    if (!begun) options.onStarted?.();
    begun = true;
  };
  if (isWhisper(pipeline)) {
    if (input.kind !== "audio") {
      throw new InputError(`this model transcribes speech: give "audio" (a WAV file), not ${input.kind}`);
    }
    const r = await pipeline.transcribeWav(input.clip.bytes, input.clip.name, {
      ...(params.language !== undefined ? { language: params.language } : {}),
      ...(params.task ? { task: params.task } : {}),
      ...(params.timestamps ? { timestamps: true } : {}),
      ...(params.stats ? { stats: true } : {}),
      ...(params.maxNewTokens !== undefined ? { maxNewTokens: params.maxNewTokens } : {}),
      ...(options.maxAudioSeconds !== undefined ? { maxSeconds: options.maxAudioSeconds } : {}),
      signal: options.signal,
      onWindow: begin,
    });
    const totalMs = performance.now() - started;
    const generatedIds = r.windows.flatMap((w) => w.generatedIds);
    return {
      text: r.text,
      finishReason: r.cancelled ? "cancelled" : "stop",
      promptTokens: 0,
      generatedTokens: generatedIds.length,
      generatedIds,
      tokenizeMs: 0,
      prefillMs: 0,
      decodeMs: totalMs,
      totalMs,
      result: {
        task: "automatic-speech-recognition",
        language: r.language,
        ...(r.detected ? { detected_language: r.detected } : {}),
        text: r.text,
        segments: r.segments,
        seconds: r.seconds,
        ...(params.stats
          ? { windows: r.windows.map((w) => ({ start: w.start, stride: w.stride, stats: w.stats })) }
          : {}),
        timings: { totalMs: Math.round(totalMs * 1000) / 1000 },
      },
    };
  }
  const inputs: Seq2SeqInput[] = input.kind === "text"
    ? input.texts
    : input.kind === "image"
    ? input.images.map((f) => ({ image: f.bytes, name: f.name }))
    : [];
  if (inputs.length === 0) {
    throw new InputError(`this model (${pipeline.task}) takes ${encoderDecoderAccepts(pipeline)[0]}, not audio`);
  }
  const generation: Seq2SeqOptions = {
    ...(params.maxNewTokens !== undefined ? { maxNewTokens: params.maxNewTokens } : {}),
    ...(params.numBeams !== undefined ? { numBeams: params.numBeams } : {}),
    ...(params.numReturnSequences !== undefined ? { numReturnSequences: params.numReturnSequences } : {}),
    ...(params.lengthPenalty !== undefined ? { lengthPenalty: params.lengthPenalty } : {}),
    ...(params.earlyStopping !== undefined ? { earlyStopping: params.earlyStopping } : {}),
    ...(params.temperature !== undefined ? { temperature: params.temperature, doSample: params.temperature > 0 } : {}),
    ...(params.topK !== undefined ? { topK: params.topK } : {}),
    ...(params.topP !== undefined ? { topP: params.topP } : {}),
    ...(params.seed !== undefined ? { seed: params.seed } : {}),
    signal: options.signal,
    onStep: begin,
  };
  const r = await pipeline.run(inputs, generation);
  const cancelled = r.sequences.some((s) => s.finishReason === "cancelled");
  return {
    text: r.text,
    finishReason: cancelled ? "cancelled" : r.finishReason === "length" ? "length" : "stop",
    promptTokens: r.usage.promptTokens,
    generatedTokens: r.usage.generatedTokens,
    generatedIds: r.generatedIds,
    tokenizeMs: r.timings.tokenizeMs,
    prefillMs: r.timings.prefillMs,
    decodeMs: r.timings.decodeMs,
    totalMs: r.timings.totalMs,
    result: {
      task: pipeline.task,
      taskSource: pipeline.taskSource,
      results: r.sequences.map((s) => ({
        input: s.input,
        text: s.text,
        generatedIds: s.generatedIds,
        finishReason: s.finishReason,
        ...(s.score !== undefined ? { score: s.score } : {}),
      })),
      usage: r.usage,
      timings: r.timings,
    },
  };
}
