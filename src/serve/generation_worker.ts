/**
 * The Worker that hosts one text-generation model for `gpux serve`: the decode loop's `session.run` blocks the
 * thread it runs on, so generation happens here and the HTTP event loop stays free. Loaded with `batchRows` > 1 it
 * decodes up to that many requests together in one {@linkcode ContinuousBatch} (when {@linkcode batchingCheck}
 * proves padding harmless on the graph; else one at a time, and `loaded.batching` says why; on an accelerator, requests
 * arriving together are prefilled in one padded run where {@linkcode prefillTogetherCheck} allows it). It streams each
 * text delta back as it is decoded, and a `cancel` message aborts the generation within one step (the loop checks its
 * signal between steps, and each step yields to this Worker's message queue). An encoder-decoder model
 * (translation, summarization, text2text, captioning, Whisper) is hosted the same way: one request at a time,
 * answered with its task's document (seq2seq_answer.ts), cancelled the same way. Speaks
 * {@linkcode ToGenerationWorker} / {@linkcode FromGenerationWorker}; never prints.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { GpuxError, InputError } from "../errors.ts";
import { setOrtLogLevel } from "../runtime/session.ts";
import { loadTextGeneration } from "../generation/load_pipeline.ts";
import { DEFAULT_MAX_NEW_TOKENS, type TextGenerationPipeline } from "../generation/text_generation.ts";
import { batchingCheck, ContinuousBatch, prefillTogetherCheck } from "../generation/continuous_batch.ts";
import type {
  FromGenerationWorker,
  GenerationLoaded,
  GenerationParams,
  GenerationPrompt,
  Seq2SeqJobInput,
  Seq2SeqJobParams,
  ToGenerationWorker,
} from "./generation_protocol.ts";
import {
  answerEncoderDecoder,
  encoderDecoderAccepts,
  type EncoderDecoderPipeline,
  loadEncoderDecoder,
} from "./seq2seq_answer.ts";
import type { WorkerErrorData } from "./worker_protocol.ts";

let pipeline: TextGenerationPipeline | undefined;
/** The continuous batch, when the worker decodes `--parallel` sequences together. */
let batch: ContinuousBatch | undefined;
/** An encoder-decoder pipeline, when the worker hosts one instead of a text generator. */
let encoderDecoder: EncoderDecoderPipeline | undefined;
let maxAudioSeconds: number | undefined;
const running = new Map<number, AbortController>();

function errorData(error: unknown): WorkerErrorData {
  if (error instanceof GpuxError) {
    return { name: error.name, code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  }
  return { name: "Error", message: error instanceof Error ? error.message : String(error) };
}

function post(message: FromGenerationWorker): void {
  self.postMessage(message);
}

/** The prompt's ids, refusing (with the code `context_length_exceeded`) a prompt that does not fit the context. */
function promptIds(p: TextGenerationPipeline, prompt: GenerationPrompt, params: GenerationParams): number[] {
  const ids = p.encodePrompt(prompt, {
    ...(params.templateVariables ? { templateVariables: params.templateVariables } : {}),
    ...(params.tools?.length ? { tools: params.tools } : {}),
  });
  const context = params.contextLength !== undefined && p.contextLength !== undefined
    ? Math.min(params.contextLength, p.contextLength)
    : params.contextLength ?? p.contextLength;
  if (context === undefined) return ids;
  const asked = params.maxNewTokens;
  const fits = asked === undefined ? ids.length < context : ids.length + asked <= context;
  if (!fits) {
    const data: WorkerErrorData = {
      name: "InputError",
      code: "context_length_exceeded",
      message: asked === undefined
        ? `the prompt has ${ids.length} tokens: the model's context is ${context} tokens`
        : `the prompt has ${ids.length} tokens and max_tokens asks for ${asked} more: ${
          ids.length + asked
        } is more than the model's context of ${context} tokens`,
      hint: "shorten the prompt or ask for fewer tokens; gpux never truncates a prompt silently",
    };
    throw data;
  }
  return ids;
}

/** Without `max_tokens`: the model's default, cut to the server's limit and to what fits the context. */
function defaultBudget(p: TextGenerationPipeline, promptLength: number, params: GenerationParams): number | undefined {
  const context = params.contextLength !== undefined && p.contextLength !== undefined
    ? Math.min(params.contextLength, p.contextLength)
    : params.contextLength ?? p.contextLength;
  const model = p.defaults.maxNewTokens ??
    (p.defaults.maxLength !== undefined ? Math.max(1, p.defaults.maxLength - promptLength) : DEFAULT_MAX_NEW_TOKENS);
  const room = context !== undefined ? context - promptLength : Infinity;
  return Math.max(1, Math.min(model, params.maxNewTokensLimit ?? Infinity, room));
}

/** The engine's options of one request (the same for a run alone and for a row of the batch). */
function generateOptions(params: GenerationParams, maxNewTokens: number | undefined, signal: AbortSignal) {
  return {
    ...(maxNewTokens !== undefined ? { maxNewTokens } : {}),
    ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
    ...(params.temperature !== undefined ? { doSample: params.temperature > 0 } : {}),
    ...(params.topK !== undefined ? { topK: params.topK } : {}),
    ...(params.topP !== undefined ? { topP: params.topP } : {}),
    ...(params.minP !== undefined ? { minP: params.minP } : {}),
    ...(params.repetitionPenalty !== undefined ? { repetitionPenalty: params.repetitionPenalty } : {}),
    ...(params.seed !== undefined ? { seed: params.seed } : {}),
    ...(params.stop?.length ? { stop: params.stop } : {}),
    ...(params.presencePenalty ? { presencePenalty: params.presencePenalty } : {}),
    ...(params.frequencyPenalty ? { frequencyPenalty: params.frequencyPenalty } : {}),
    ...(params.logprobs ? { logprobs: true, topLogprobs: params.topLogprobs ?? 0 } : {}),
    ...(params.responseFormat ? { responseFormat: params.responseFormat } : {}),
    signal,
  };
}

async function generate(id: number, prompt: GenerationPrompt, params: GenerationParams): Promise<void> {
  const p = pipeline;
  const controller = new AbortController();
  running.set(id, controller);
  try {
    if (!p) {
      throw new InputError(
        `this model is an encoder-decoder (${encoderDecoder?.task ?? "not loaded"}): POST /models/{name}/predict`,
      );
    }
    const started = performance.now();
    const ids = promptIds(p, prompt, params);
    const maxNewTokens = params.maxNewTokens ?? defaultBudget(p, ids.length, params);
    const options = generateOptions(params, maxNewTokens, controller.signal);
    if (batch) {
      const spec = p.prepareSequence({ ids }, options);
      const tokenizeMs = performance.now() - started;
      const r = await batch.add({
        ...spec,
        signal: controller.signal,
        onStep: (d) => {
          if (d.text || d.logprobs) {
            post({ type: "delta", id, text: d.text, ...(d.logprobs ? { logprobs: d.logprobs } : {}) });
          }
        },
      });
      post({
        type: "done",
        id,
        text: r.text,
        finishReason: r.finishReason,
        promptTokens: r.promptIds.length,
        generatedTokens: r.generatedIds.length,
        generatedIds: r.generatedIds,
        ...(r.logprobs ? { logprobs: r.logprobs } : {}),
        tokenizeMs,
        prefillMs: r.prefillMs,
        decodeMs: r.decodeMs,
        totalMs: performance.now() - started,
      });
      return;
    }
    const stream = p.generate({ ids }, options);
    for await (const d of stream.deltas()) {
      if (d.text || d.logprobs) {
        post({ type: "delta", id, text: d.text, ...(d.logprobs ? { logprobs: d.logprobs } : {}) });
      }
    }
    const r = await stream.result;
    post({
      type: "done",
      id,
      text: r.text,
      finishReason: r.finishReason,
      promptTokens: r.usage.promptTokens,
      generatedTokens: r.usage.generatedTokens,
      generatedIds: r.generatedIds,
      ...(r.logprobs ? { logprobs: r.logprobs } : {}),
      tokenizeMs: r.timings.tokenizeMs,
      prefillMs: r.timings.prefillMs,
      decodeMs: r.timings.decodeMs,
      totalMs: r.timings.totalMs,
    });
  } catch (error) {
    const data = error && typeof error === "object" && "code" in error && !(error instanceof Error)
      ? error as WorkerErrorData
      : errorData(error);
    post({ type: "failed", id, error: data });
  } finally {
    running.delete(id);
  }
}

async function answer(id: number, input: Seq2SeqJobInput, params: Seq2SeqJobParams): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    if (!encoderDecoder) throw new InputError("this model generates text: use the chat or completion endpoints");
    const done = await answerEncoderDecoder(encoderDecoder, input, params, {
      signal: controller.signal,
      ...(maxAudioSeconds !== undefined ? { maxAudioSeconds } : {}),
      // an empty delta tells the server that the input was accepted (it then sends its status line)
      onStarted: () => post({ type: "delta", id, text: "" }),
    });
    post({ type: "done", id, ...done });
  } catch (error) {
    post({ type: "failed", id, error: errorData(error) });
  } finally {
    running.delete(id);
  }
}

async function loadEncoderDecoderModel(message: ToGenerationWorker & { type: "load" }): Promise<void> {
  const started = performance.now();
  maxAudioSeconds = message.maxAudioSeconds;
  const p = encoderDecoder = await loadEncoderDecoder(message.spec, {
    ...message.options,
    ...(message.variant ? { variant: message.variant } : {}),
    ...(message.cacheDir ? { cacheDir: message.cacheDir } : {}),
  });
  const session = p.session;
  post({
    type: "loaded",
    provider: session.provider,
    fallbacks: [...session.fallbacks],
    inputs: [...session.inputs],
    outputs: [...session.outputs],
    // no `model`: the encoder graph's own resolution knows no repository; the server's plan of the folder does
    path: session.path,
    chatTemplate: false,
    task: p.task,
    accepts: encoderDecoderAccepts(p),
    createMs: performance.now() - started,
  });
}

self.onmessage = async (event: MessageEvent<ToGenerationWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "load":
      try {
        await setOrtLogLevel("fatal");
        if (message.generator === "encoder-decoder") return await loadEncoderDecoderModel(message);
        const started = performance.now();
        pipeline = await loadTextGeneration(message.spec, {
          ...message.options,
          ...(message.variant ? { variant: message.variant } : {}),
          ...(message.cacheDir ? { cacheDir: message.cacheDir } : {}),
        });
        const session = pipeline.session;
        let batching: GenerationLoaded["batching"];
        if (message.batchRows !== undefined && message.batchRows > 1) {
          const verdict = await batchingCheck(session, pipeline.contract);
          batching = verdict.ok ? { ok: true } : verdict;
          if (verdict.ok) {
            // requests arriving together are prefilled in one padded run where the graph gives each its own
            // logits, on an accelerator: on a CPU one prompt already keeps the cores busy, and measured there
            // (docs/serve_batching.md) a padded run of four prompts took as long as or longer than four runs alone
            const together = session.provider !== "cpu" &&
              (await prefillTogetherCheck(session, pipeline.contract)).ok;
            batch = new ContinuousBatch(session, pipeline.contract, pipeline.tokenizer, {
              maxRows: message.batchRows,
              prefillTogether: together,
              onBatchStep: (rows) => post({ type: "batch_step", rows }),
            });
          }
        }
        post({
          ...(batching ? { batching } : {}),
          type: "loaded",
          provider: session.provider,
          fallbacks: [...session.fallbacks],
          inputs: [...session.inputs],
          outputs: [...session.outputs],
          ...(session.model ? { model: session.model } : {}),
          path: session.path,
          ...(pipeline.contextLength !== undefined ? { contextLength: pipeline.contextLength } : {}),
          chatTemplate: pipeline.chatTemplate !== undefined,
          ...(pipeline.chatTemplate ? { template: pipeline.chatTemplate.source } : {}),
          task: "text-generation",
          accepts: ["text"],
          createMs: performance.now() - started,
        });
      } catch (error) {
        post({ type: "load_failed", error: errorData(error) });
      }
      return;
    case "seq2seq":
      await answer(message.id, message.input, message.params);
      return;
    case "generate":
      await generate(message.id, message.prompt, message.params);
      return;
    case "cancel":
      running.get(message.id)?.abort();
      return;
    case "close":
      try {
        await pipeline?.dispose();
        await encoderDecoder?.dispose();
      } finally {
        pipeline = undefined;
        encoderDecoder = undefined;
        batch = undefined;
        post({ type: "closed" });
      }
      return;
  }
};
