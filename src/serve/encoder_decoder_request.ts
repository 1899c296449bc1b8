/**
 * An encoder-decoder request on the server (translation, summarization, text2text, image-to-text, Whisper): the
 * `/predict` body read and checked once where it enters (`{"text": …}`, `{"image": "<base64>"}`,
 * `{"audio": "<base64>"}` with generation options), bounded by the request limits (items, characters, pixels,
 * seconds of audio from the WAV header, `--max-tokens-limit`), and run on the model's {@linkcode GenerationPool}:
 * queued behind its bounded queue, cancelled when the client goes away or the timeout passes, held by the drain.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { fallbacksJson, modelJson } from "../runtime/run_result.ts";
import type { GenerationAnswer, GenerationPool, Seq2SeqJobInput, Seq2SeqJobParams } from "./generation_pool.ts";
import { bodyCost, rawCost } from "./memory_budget.ts";
import { decodeBase64, rejectUnknownKeys } from "./raw_input.ts";
import { checkRawCounts, checkRawMedia } from "./request_limits.ts";
import type { Fields } from "./request_fields.ts";
import type { Handled, RouteContext } from "./route_table.ts";
import { deferredAnswer, type LiveGeneration } from "./live_generation.ts";
import { errorBody } from "./error_shapes.ts";
import { httpStatusOf } from "./serve_errors.ts";
import type { ServedModel, ServerState } from "./server_state.ts";

const OPTION_KEYS = [
  "max_new_tokens",
  "num_beams",
  "num_return_sequences",
  "length_penalty",
  "early_stopping",
  "temperature",
  "top_k",
  "top_p",
  "seed",
  "language",
  "task",
  "timestamps",
];

/** The encoder-decoder pool of a served model, or undefined. */
export function encoderDecoderOf(m: ServedModel): GenerationPool | undefined {
  return m.pool.kind === "generation" && m.pool.encoderDecoder ? m.pool : undefined;
}

function integer(body: Fields, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new InputError(`"${key}" must be a whole number from ${min} to ${max}`);
  }
  return v;
}

function fraction(body: Fields, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw new InputError(`"${key}" must be a number from ${min} to ${max}`);
  }
  return v;
}

/** Whisper's options: `language` (a code, or `auto`), `task` (`transcribe`/`translate`), `timestamps`. */
export function whisperParams(body: Fields): Pick<Seq2SeqJobParams, "language" | "task" | "timestamps"> {
  const params: Pick<Seq2SeqJobParams, "language" | "task" | "timestamps"> = {};
  const { language, task, timestamps } = body;
  if (language !== undefined && language !== null && language !== "") {
    if (typeof language !== "string" || language.length > 32) {
      throw new InputError('"language" must be a language code');
    }
    if (language !== "auto") params.language = language;
  }
  if (task !== undefined && task !== null) {
    if (task !== "transcribe" && task !== "translate") throw new InputError('"task" must be transcribe or translate');
    params.task = task;
  }
  if (timestamps !== undefined && timestamps !== null) {
    if (typeof timestamps !== "boolean") throw new InputError('"timestamps" must be true or false');
    params.timestamps = timestamps;
  }
  return params;
}

/** `max_new_tokens`, bounded by the server's `--max-tokens-limit`. */
export function maxNewTokensOf(state: ServerState, body: Fields, key = "max_new_tokens"): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new InputError(`"${key}" must be a positive integer`);
  }
  if (v > state.maxTokensLimit) {
    throw new InputError(`"${key}" ${v} is over the server's limit of ${state.maxTokensLimit} tokens`, {
      hint: "ask for fewer tokens, or start the server with a larger --max-tokens-limit",
    });
  }
  return v;
}

/**
 * The input and options of a `/predict` body for an encoder-decoder model.
 *
 * @throws {InputError} a wrong type, an unknown key, several input kinds, or a kind the model does not take (400).
 * @throws {PayloadTooLargeError} more items, characters, pixels or seconds than the limits allow (413).
 */
export function encoderDecoderBody(
  state: ServerState,
  body: unknown,
  accepts: readonly string[],
): { input: Seq2SeqJobInput; params: Seq2SeqJobParams } {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new InputError(`the body must be a JSON object with ${accepts.map((k) => `"${k}"`).join(" or ")}`);
  }
  const obj = body as Fields;
  const kinds = ["text", "image", "audio"].filter((k) => k in obj);
  if (kinds.length !== 1) {
    throw new InputError(
      kinds.length
        ? `give one of ${kinds.map((k) => `"${k}"`).join(", ")}, not several`
        : `give ${accepts.map((k) => `"${k}"`).join(" or ")}`,
    );
  }
  const kind = kinds[0];
  if (!accepts.includes(kind)) throw new InputError(`this model takes ${accepts.join(" or ")}, not ${kind}`);
  rejectUnknownKeys(obj, kind, OPTION_KEYS);
  checkRawCounts(obj, kind, state.limits);
  const list = Array.isArray(obj[kind]) ? obj[kind] as unknown[] : [obj[kind]];
  if (list.length === 0 || !list.every((v) => typeof v === "string")) {
    throw new InputError(`"${kind}" must be a string or a non-empty list of strings`);
  }
  const strings = list as string[];
  const maxNewTokens = maxNewTokensOf(state, obj);
  const params: Seq2SeqJobParams = {
    ...(maxNewTokens !== undefined ? { maxNewTokens } : {}),
    ...whisperParams(obj),
  };
  const numBeams = integer(obj, "num_beams", 1, 64);
  const numReturn = integer(obj, "num_return_sequences", 1, 64);
  const temperature = fraction(obj, "temperature", 0, 100);
  const topK = integer(obj, "top_k", 0, 1_000_000);
  const topP = fraction(obj, "top_p", 0, 1);
  const seed = integer(obj, "seed", 0, 2 ** 32 - 1);
  const lengthPenalty = fraction(obj, "length_penalty", -100, 100);
  if (lengthPenalty !== undefined) params.lengthPenalty = lengthPenalty;
  const early = obj.early_stopping;
  if (early !== undefined && early !== null) {
    if (early !== true && early !== false && early !== "never") {
      throw new InputError('"early_stopping" must be true, false or "never"');
    }
    params.earlyStopping = early;
  }
  if (numBeams !== undefined) params.numBeams = numBeams;
  if (numReturn !== undefined) params.numReturnSequences = numReturn;
  if (temperature !== undefined) params.temperature = temperature;
  if (topK !== undefined) params.topK = topK;
  if (topP !== undefined) params.topP = topP;
  if (seed !== undefined) params.seed = seed;
  if (kind === "text") return { input: { kind: "text", texts: strings }, params };
  const files = strings.map((b64, i) => ({
    name: `${kind}[${i}]`,
    bytes: decodeBase64(b64, `"${kind}"${Array.isArray(obj[kind]) ? `[${i}]` : ""}`),
  }));
  if (kind === "image") {
    checkRawMedia({ kind: "image", images: files }, state.limits);
    return { input: { kind: "image", images: files }, params };
  }
  if (files.length !== 1) throw new InputError(`give one audio clip per request, not ${files.length}`);
  checkRawMedia({ kind: "audio", clips: files }, state.limits);
  return { input: { kind: "audio", clip: files[0] }, params };
}

/** The memory an input holds while it is answered (for the budget). */
export function encoderDecoderCost(input: Seq2SeqJobInput): number {
  if (input.kind === "text") return rawCost({ kind: "text", texts: input.texts });
  if (input.kind === "image") return rawCost({ kind: "image", images: input.images });
  return rawCost({ kind: "audio", clips: [input.clip] });
}

/**
 * Runs one encoder-decoder request on the model's pool and answers it once it ends: refused once the drain has
 * begun, held by the drain while it runs, cancelled after the model's timeout or when the client goes away. The
 * status goes out when the worker has read the input (a bad input still answers with its own 4xx), the document
 * (`end`) when it is done; a client that hangs up meanwhile cancels it (Deno cancels the body stream), and a failure
 * after that point is written as the API's error document (`fail`).
 */
export async function deferredEncoderDecoder(
  state: ServerState,
  m: ServedModel,
  pool: GenerationPool,
  job: { input: Seq2SeqJobInput; params: Seq2SeqJobParams },
  end: (answer: GenerationAnswer) => string,
  fail: (error: unknown) => string,
): Promise<ReadableStream<Uint8Array>> {
  state.checkOpen();
  const release = state.hold();
  const controller = new AbortController();
  let markStarted = () => {};
  const started = new Promise<void>((resolve) => markStarted = resolve);
  const startedAt = performance.now();
  const result = pool.answer(job.input, job.params, {
    signal: controller.signal,
    timeoutMs: m.timeoutMs,
    onDelta: () => markStarted(),
  });
  result.finally(release).catch(() => undefined);
  const live: LiveGeneration = {
    started: Promise.race([started, result.then(() => undefined)]),
    result,
    startedAt,
    cancel: () => controller.abort(),
    async *[Symbol.asyncIterator]() {},
  };
  await live.started;
  return deferredAnswer(live, end, fail);
}

/** `POST /predict` for an encoder-decoder model: `{name, model, provider, ...the task's document}`. */
export async function encoderDecoderPredict(
  { request, state, endpoint }: RouteContext,
  m: ServedModel,
  pool: GenerationPool,
): Promise<Handled> {
  const started = performance.now();
  const text = await state.body(request, endpoint);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new InputError(`the body is not valid JSON: ${(error as Error).message}`);
  }
  const job = encoderDecoderBody(state, body, pool.loaded.accepts);
  endpoint.reservation?.resize(bodyCost(text.length) + encoderDecoderCost(job.input));
  const end = (answer: GenerationAnswer) => {
    const result = answer.result ?? {};
    const timings = (result.timings ?? {}) as Record<string, number>;
    return JSON.stringify({
      name: m.name,
      model: modelJson(m.spec, pool),
      provider: pool.provider,
      ...(pool.fallbacks.length ? { fallbacks: fallbacksJson(pool) } : {}),
      ...result,
      timings: {
        ...timings,
        queueMs: Math.round(answer.queueMs * 1000) / 1000,
        requestMs: Math.round((performance.now() - started) * 1000) / 1000,
      },
    });
  };
  const fail = (error: unknown) => JSON.stringify(errorBody("gpux", error, httpStatusOf(error)));
  const stream = await deferredEncoderDecoder(state, m, pool, job, end, fail);
  return { model: m.name, batch: 1, body: undefined, stream, headers: { "content-type": "application/json" } };
}
