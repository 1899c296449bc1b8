/**
 * Encoder-decoder generation pipelines — `translation` (Marian/OPUS-MT), `summarization` and
 * `text2text-generation` (T5, BART), `image-to-text` (VisionEncoderDecoder) — with the decoder pipeline's
 * `generate()`/`run()` shape. A model folder in optimum's layout is found by file name
 * (`onnx/encoder_model{_variant}.onnx` with `decoder_model_merged{_variant}.onnx`, or `decoder_model` +
 * `decoder_with_past_model`), its graphs checked once ({@linkcode readSeq2SeqDecoderContract}), and the
 * generation defaults read from generation_config.json and config.json (`decoder_start_token_id`,
 * `forced_decoder_ids`, `forced_bos_token_id`, `forced_eos_token_id`, `bad_words_ids`, `num_beams`,
 * `length_penalty`, `early_stopping`, …). {@linkcode Seq2SeqPipeline.decodeFeeds} takes encoder feeds built
 * elsewhere (Whisper's log-mel features) with a decoder prompt and extra logits processors.
 *
 * @module
 */
import { InputError, ModelNotFoundError, NotFoundError } from "../errors.ts";
import type { GpuxSession } from "../runtime/session.ts";
import { loadModel, type LoadModelOptions } from "../runtime/load_model.ts";
import { denoEnv, hubCacheDir } from "../environment.ts";
import { findCachedSnapshot } from "../vocabulary/cache_layout.ts";
import { parseModelId } from "../vocabulary/model_id.ts";
import type { TensorData, TensorMap } from "../runtime/tensors.ts";
import { ModelFiles } from "../processing/model_files.ts";
import { type DetectedTask, detectTask, type TaskSource } from "../processing/task_detection.ts";
import { loadTokenizer, type TextTokenizer } from "../processing/tokenizer.ts";
import { decodeImage, type RgbImage } from "../processing/image_decode.ts";
import { imageSpecFromProcessorConfig, imagesToTensor, resizeAndCrop } from "../processing/image_preprocess.ts";
import { type GenerationSettings, resolveGenerationSettings } from "./generation_config.ts";
import { intTensor } from "./decoder_contract.ts";
import { seededRandom } from "./seeded_random.ts";
import { configProcessors, type LogitsProcessor } from "./logits_processors.ts";
import type { EarlyStopping } from "./beam_search.ts";
import { readEncoderContract, readSeq2SeqDecoderContract } from "./seq2seq_contract.ts";
import { decodeSeq2Seq, type Seq2SeqSequence, type Seq2SeqSessions, type StepInfo } from "./seq2seq_loop.ts";
import type { FinishReason, GenerateOptions, GenerationTimings, GenerationUsage } from "./text_generation.ts";
import { DEFAULT_MAX_NEW_TOKENS } from "./text_generation.ts";
import { PushQueue } from "../push_queue.ts";

export type { EarlyStopping, LogitsProcessor, StepInfo };

/** The tasks an encoder-decoder pipeline answers. */
export const SEQ2SEQ_TASKS = ["translation", "summarization", "text2text-generation", "image-to-text"] as const;
/** One of {@linkcode SEQ2SEQ_TASKS}. */
export type Seq2SeqTask = typeof SEQ2SEQ_TASKS[number];

/** True for a task name {@linkcode loadSeq2Seq} answers (`translation_en_to_de` counts as translation). */
export function isSeq2SeqTask(task: string | undefined): boolean {
  return !!task && (SEQ2SEQ_TASKS.includes(task as Seq2SeqTask) || /^translation_/.test(task));
}

/** Options of one encoder-decoder generation (the decoder pipeline's, plus beam search). */
export interface Seq2SeqOptions extends Omit<GenerateOptions, "truncate" | "system" | "templateVariables" | "tools"> {
  /** Beams (1: greedy or sampling; default generation_config's `num_beams`). */
  numBeams?: number;
  /** Beam search: a finished hypothesis' summed log-probability is divided by length^lengthPenalty. */
  lengthPenalty?: number;
  /** Beam search: `true`, `false` or `"never"` (see beam_search.ts). */
  earlyStopping?: EarlyStopping;
  /** Beam search: answers per input (≤ numBeams; default 1). */
  numReturnSequences?: number;
  /** No EOS before this many new tokens. */
  minNewTokens?: number;
  /** Decoder prompt after the start token (forced ids), the same for every input. */
  decoderPromptIds?: number[];
  /** Extra logits processors, applied after the model's own. */
  processors?: LogitsProcessor[];
  /** Every row's processed scores each step. */
  onStep?: (step: StepInfo) => void;
}

/** An input: a text, or an image (encoded bytes, or a decoded RGB image). */
export type Seq2SeqInput = string | { image: Uint8Array | RgbImage; name?: string };

/** One answer. */
export interface Seq2SeqSequenceResult extends Seq2SeqSequence {}

/** What a generation returns: the first answer's fields, and every answer in `sequences`. */
export interface Seq2SeqResult {
  /** Result kind. */
  kind: "generation";
  /** The first answer's text. */
  text: string;
  /** The first answer's ids. */
  generatedIds: number[];
  /** The first answer's decoder prompt. */
  promptIds: number[];
  /** Why the first answer ended. */
  finishReason: FinishReason;
  /** Every answer, in input order (`numReturnSequences` per input). */
  sequences: Seq2SeqSequenceResult[];
  /** Token counts (prompt = encoder input tokens; 0 for images). */
  usage: GenerationUsage;
  /** Timings (`prefillMs` covers the encoder and the first decoder step). */
  timings: GenerationTimings;
}

/** A streamed generation: iterate for the first answer's text deltas; `result` resolves once it has ended. */
export interface Seq2SeqStream extends AsyncIterable<string> {
  /** The whole result. */
  readonly result: Promise<Seq2SeqResult>;
}

/** A loaded encoder-decoder model. Dispose it when done. */
export interface Seq2SeqPipeline {
  /** The task. */
  readonly task: Seq2SeqTask;
  /** Where the task name came from. */
  readonly taskSource: TaskSource;
  /** The encoder session (for its provider and inputs). */
  readonly session: GpuxSession;
  /** Every session and the decoder contract. */
  readonly sessions: Seq2SeqSessions;
  /** The tokenizer. */
  readonly tokenizer: TextTokenizer;
  /** generation_config.json's and config.json's defaults. */
  readonly defaults: Seq2SeqDefaults;
  /** Generates for one input, streaming text deltas (greedy and sampling; beams give the text at the end). */
  generate(input: Seq2SeqInput, options?: Seq2SeqOptions): Seq2SeqStream;
  /** Generates for one input or a batch. */
  run(inputs: Seq2SeqInput | Seq2SeqInput[], options?: Seq2SeqOptions): Promise<Seq2SeqResult>;
  /** Lower level: encoder feeds built by the caller (`batch` rows), optional per-row decoder prompts. */
  decodeFeeds(
    feeds: TensorMap,
    options: Seq2SeqOptions & { batch: number; encoderMask?: number[][]; decoderPrompts?: number[][] },
  ): Promise<Seq2SeqResult>;
  /** Releases the sessions. */
  dispose(): Promise<void>;
  /** `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The model's generation defaults for encoder-decoder decoding. */
export interface Seq2SeqDefaults extends GenerationSettings {
  /** The decoder's first token. */
  decoderStartTokenId: number;
  /** Forced ids after the start token (`forced_decoder_ids` at positions 1, 2, …). */
  forcedPromptIds: number[];
  /** Beams. */
  numBeams: number;
  /** Length penalty. */
  lengthPenalty: number;
  /** Early stopping. */
  earlyStopping: EarlyStopping;
}

type Json = Record<string, unknown>;

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Reads the encoder-decoder defaults (generation_config.json first, then config.json and its `decoder`). */
export function seq2seqDefaults(generationConfig: Json | undefined, config: Json): Seq2SeqDefaults {
  const g = generationConfig ?? {};
  const decoderCfg = (config.decoder && typeof config.decoder === "object" ? config.decoder : {}) as Json;
  const pick = (key: string) => g[key] ?? config[key] ?? decoderCfg[key];
  const base = resolveGenerationSettings(g, { ...decoderCfg, ...config });
  const start = num(pick("decoder_start_token_id")) ?? num(pick("bos_token_id"));
  if (start === undefined) {
    throw new InputError("the model names no decoder_start_token_id (generation_config.json or config.json)", {
      hint: "add decoder_start_token_id to generation_config.json",
    });
  }
  const forced: number[] = [];
  const fdi = pick("forced_decoder_ids");
  if (Array.isArray(fdi)) {
    const pairs = fdi.filter((p): p is [number, number] =>
      Array.isArray(p) && typeof p[0] === "number" && typeof p[1] === "number"
    ).sort((a, b) => a[0] - b[0]);
    for (const [i, [at, id]] of pairs.entries()) {
      if (at !== i + 1) break; // only a contiguous run after the start token is a prompt
      forced.push(id);
    }
  }
  const es = pick("early_stopping");
  return {
    ...base,
    decoderStartTokenId: start,
    forcedPromptIds: forced,
    numBeams: num(pick("num_beams")) ?? 1,
    lengthPenalty: num(pick("length_penalty")) ?? 1,
    earlyStopping: es === true || es === "never" ? es : false,
  };
}

/** The ONNX files of one variant: `""` for fp32, else `_quantized`, `_fp16`, `_q4`, `_int8`, … */
async function findGraphs(root: string, variant: string | undefined) {
  const names = new Set<string>();
  for (const sub of ["onnx/", ""]) {
    try {
      for await (const e of Deno.readDir(`${root}/${sub}`)) if (e.name.endsWith(".onnx")) names.add(`${sub}${e.name}`);
    } catch { /* absent */ }
  }
  const suffixes = variant ? [variant === "fp32" ? "" : `_${variant}`] : ["", "_quantized", "_q4", "_int8", "_fp16"];
  for (const suffix of suffixes) {
    for (const dir of ["onnx/", ""]) {
      const encoder = `${dir}encoder_model${suffix}.onnx`;
      if (!names.has(encoder)) continue;
      const merged = `${dir}decoder_model_merged${suffix}.onnx`;
      if (names.has(merged)) return { encoder, decoder: merged };
      const first = `${dir}decoder_model${suffix}.onnx`;
      const withPast = `${dir}decoder_with_past_model${suffix}.onnx`;
      if (names.has(first) && names.has(withPast)) return { encoder, decoder: first, withPast };
    }
  }
  throw new NotFoundError(
    `${root} has no encoder-decoder graphs${variant ? ` for variant ${variant}` : ""} (looked for onnx/encoder_model${
      variant && variant !== "fp32" ? `_${variant}` : ""
    }.onnx with decoder_model_merged or decoder_model + decoder_with_past_model; found: ${
      [...names].join(", ") || "no .onnx file"
    })`,
    { hint: "pass a folder in optimum's layout (or a Hub id of an onnx-community / Xenova encoder-decoder export)" },
  );
}

/** The model's folder: a directory as given, or a cached Hub snapshot (pulled first when `options.pull` is set). */
export async function modelRoot(model: string, options: LoadModelOptions): Promise<string> {
  try {
    if ((await Deno.stat(model)).isDirectory) return model.replace(/\/+$/, "");
  } catch { /* a Hub id */ }
  const ref = parseModelId(model);
  const cacheDir = hubCacheDir(options.env ?? denoEnv, options.cacheDir);
  const revision = ref.revision ?? "main";
  let snapshot = await findCachedSnapshot(cacheDir, ref.id, revision);
  if (!snapshot && options.pull) {
    await options.pull(ref.id, { revision: ref.revision, variant: options.variant, signal: options.signal });
    snapshot = await findCachedSnapshot(cacheDir, ref.id, revision);
  }
  if (!snapshot) {
    throw new ModelNotFoundError(`model ${model} is not a local folder and is not in the cache`, {
      hint: `download it first with \`gpux pull ${model}\` (or add --pull)`,
    });
  }
  return snapshot.path;
}

/**
 * True when `model` (a folder, or a cached Hub id) holds an encoder-decoder export in optimum's layout
 * (`encoder_model*.onnx` with a merged decoder or the decoder pair), for any variant. Never throws.
 */
export async function isSeq2SeqModel(model: string, options: LoadModelOptions = {}): Promise<boolean> {
  try {
    await findGraphs(await modelRoot(model, options), options.variant);
    return true;
  } catch {
    return false;
  }
}

/** The task of an encoder-decoder export: the model card's `pipeline_tag`, else config.json's `architectures` (else text2text-generation). */
export async function seq2seqTask(model: string, options: LoadModelOptions = {}): Promise<DetectedTask> {
  const root = await modelRoot(model, options);
  const files = await ModelFiles.forModel(
    { path: `${root}/onnx/encoder_model.onnx`, kind: "directory" },
    `${root}/onnx/encoder_model.onnx`,
  );
  const config = (await files.readJsonIfPresent("config.json") ?? {}) as Json;
  return await detectTask({ files, config }) ?? { task: "text2text-generation", source: "none" };
}

/** The parts {@linkcode createSeq2Seq} needs. */
export interface Seq2SeqParts {
  /** Sessions and contract. */
  sessions: Seq2SeqSessions;
  /** The repository's files. */
  files: ModelFiles;
  /** config.json. */
  config: Record<string, unknown>;
  /** generation_config.json, when present. */
  generationConfig?: Record<string, unknown>;
}

/**
 * Loads an encoder-decoder export's sessions and files (no task logic): what Whisper and the pipelines here
 * build on. `options.variant` picks `_quantized`, `_fp16`, `_q4`, … files (default fp32, else the first present).
 *
 * @throws {NotFoundError} no encoder/decoder graphs in the folder (exit 3).
 * @throws {InputError} a graph does not fit the contract — the message names what is missing (exit 2).
 */
export async function loadSeq2SeqParts(model: string, options: LoadModelOptions = {}): Promise<Seq2SeqParts> {
  const root = await modelRoot(model, options);
  const graphs = await findGraphs(root, options.variant);
  const sessionOptions = { ...options, variant: undefined };
  const opened: GpuxSession[] = [];
  try {
    const encoder = await loadModel(`${root}/${graphs.encoder}`, sessionOptions);
    opened.push(encoder);
    const decoder = await loadModel(`${root}/${graphs.decoder}`, sessionOptions);
    opened.push(decoder);
    const withPast = graphs.withPast ? await loadModel(`${root}/${graphs.withPast}`, sessionOptions) : undefined;
    if (withPast) opened.push(withPast);
    const files = await ModelFiles.forModel({ path: `${root}/${graphs.encoder}`, kind: "directory" }, encoder.path);
    const config = (await files.readJsonIfPresent("config.json") ?? {}) as Json;
    const generationConfig = await files.readJsonIfPresent("generation_config.json") as Json | undefined;
    const contract = readSeq2SeqDecoderContract(decoder, withPast, config);
    const encoderOutput = readEncoderContract(encoder.inputs, encoder.outputs);
    return {
      sessions: { encoder, encoderOutput, decoder, ...(withPast ? { decoderWithPast: withPast } : {}), contract },
      files,
      config,
      ...(generationConfig ? { generationConfig } : {}),
    };
  } catch (error) {
    for (const s of opened) await s.dispose();
    throw error;
  }
}

/**
 * Loads an encoder-decoder model as a pipeline for `task`.
 *
 * @throws {NotFoundError} graphs or tokenizer.json missing (exit 3).
 * @throws {InputError} a graph does not fit (exit 2).
 */
export async function loadSeq2Seq(
  model: string,
  options: LoadModelOptions & { task?: string; taskSource?: TaskSource } = {},
): Promise<Seq2SeqPipeline> {
  const parts = await loadSeq2SeqParts(model, options);
  try {
    return await createSeq2Seq(parts, options.task ?? "text2text-generation", options.taskSource ?? "option");
  } catch (error) {
    await disposeSessions(parts.sessions);
    throw error;
  }
}

async function disposeSessions(s: Seq2SeqSessions): Promise<void> {
  await s.encoder.dispose();
  await s.decoder.dispose();
  await s.decoderWithPast?.dispose();
}

/** Builds the pipeline around loaded parts (the sessions are owned by it from now on). */
export async function createSeq2Seq(
  parts: Seq2SeqParts,
  task: string,
  taskSource: TaskSource,
): Promise<Seq2SeqPipeline> {
  const canonical = (/^translation_/.test(task) ? "translation" : task) as Seq2SeqTask;
  if (!SEQ2SEQ_TASKS.includes(canonical)) {
    throw new InputError(`task ${task} is not an encoder-decoder generation task (${SEQ2SEQ_TASKS.join(", ")})`);
  }
  const tokenizer = await loadTokenizer(parts.files);
  const defaults = seq2seqDefaults(parts.generationConfig, parts.config);
  const preprocessor = canonical === "image-to-text"
    ? await parts.files.readJson("preprocessor_config.json", "to preprocess images for image-to-text") as Json
    : undefined;
  return new Seq2SeqGenerator(parts, canonical, taskSource, tokenizer, defaults, preprocessor);
}

class Seq2SeqGenerator implements Seq2SeqPipeline {
  readonly task: Seq2SeqTask;
  readonly taskSource: TaskSource;
  readonly sessions: Seq2SeqSessions;
  readonly tokenizer: TextTokenizer;
  readonly defaults: Seq2SeqDefaults;
  #parts: Seq2SeqParts;
  #preprocessor?: Json;
  #busy: Promise<unknown> = Promise.resolve();
  #disposed = false;

  constructor(
    parts: Seq2SeqParts,
    task: Seq2SeqTask,
    taskSource: TaskSource,
    tokenizer: TextTokenizer,
    defaults: Seq2SeqDefaults,
    preprocessor?: Json,
  ) {
    this.#parts = parts;
    this.sessions = parts.sessions;
    this.task = task;
    this.taskSource = taskSource;
    this.tokenizer = tokenizer;
    this.defaults = defaults;
    this.#preprocessor = preprocessor;
  }

  get session(): GpuxSession {
    return this.sessions.encoder;
  }

  generate(input: Seq2SeqInput, options: Seq2SeqOptions = {}): Seq2SeqStream {
    return this.#stream(() => this.#encodeInputs([input]), options);
  }

  run(inputs: Seq2SeqInput | Seq2SeqInput[], options: Seq2SeqOptions = {}): Promise<Seq2SeqResult> {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length === 0) throw new InputError("no input given: pass a text, a list of texts, or images");
    return this.#stream(() => this.#encodeInputs(list), options, true).result;
  }

  decodeFeeds(
    feeds: TensorMap,
    options: Seq2SeqOptions & { batch: number; encoderMask?: number[][]; decoderPrompts?: number[][] },
  ): Promise<Seq2SeqResult> {
    return this.#stream(
      () =>
        Promise.resolve({
          feeds,
          batch: options.batch,
          promptTokens: 0,
          ...(options.encoderMask ? { mask: options.encoderMask } : {}),
          ...(options.decoderPrompts ? { prompts: options.decoderPrompts } : {}),
        }),
      options,
      true,
    ).result;
  }

  async #encodeInputs(inputs: Seq2SeqInput[]): Promise<Encoded> {
    const encoder = this.sessions.encoder;
    const names = new Set(encoder.inputs.map((i) => i.name));
    if (names.has("pixel_values")) {
      if (!this.#preprocessor) {
        throw new InputError("this model takes images: load it with --task image-to-text");
      }
      const spec = imageSpecFromProcessorConfig(this.#preprocessor);
      const images: RgbImage[] = [];
      for (const [i, input] of inputs.entries()) {
        if (typeof input === "string") {
          throw new InputError("this model describes images: give an image (--image FILE), not text");
        }
        const image = input.image instanceof Uint8Array
          ? await decodeImage(input.image, input.name ?? `image ${i}`)
          : input.image;
        images.push(resizeAndCrop(image, spec));
      }
      const pixels = imagesToTensor(images, spec, "nchw");
      return { feeds: { pixel_values: pixels }, batch: images.length, promptTokens: 0 };
    }
    if (!names.has("input_ids")) {
      throw new InputError(
        `the encoder takes ${[...names].join(", ")}: gpux builds input_ids (text) and pixel_values (images) itself`,
        { hint: "build the encoder feeds yourself and call decodeFeeds" },
      );
    }
    const texts = inputs.map((input) => {
      if (typeof input !== "string") throw new InputError("this model takes text: give --text, not an image");
      return this.#prefix() + input;
    });
    const encoded = this.tokenizer.encodeBatch(texts, { padding: "longest", paddingSide: "right" });
    const pad = this.defaults.padTokenId;
    const ids = encoded.inputIds.map((row, i) => row.map((id, j) => encoded.attentionMask[i][j] ? id : pad));
    const width = ids[0].length;
    if (width === 0) throw new InputError("the input is empty (no tokens)", { hint: "give some text" });
    const dtypeOf = (name: string) =>
      encoder.inputs.find((i) => i.name === name)?.dtype === "int32" ? "int32" : "int64";
    const feeds: TensorMap = { input_ids: intTensor(dtypeOf("input_ids"), [ids.length, width], ids.flat()) };
    if (names.has("attention_mask")) {
      feeds.attention_mask = intTensor(dtypeOf("attention_mask"), [ids.length, width], encoded.attentionMask.flat());
    }
    const limit = this.#positions("encoder");
    if (limit !== undefined && width > limit) {
      throw new InputError(
        `an input has ${width} tokens; the encoder takes at most ${limit} (config.json max_position_embeddings)`,
        { hint: "shorten the text, or split it and run the parts one by one" },
      );
    }
    const promptTokens = encoded.attentionMask.reduce((n, m) => n + m.reduce((a, b) => a + b, 0), 0);
    return { feeds, batch: ids.length, mask: encoded.attentionMask, promptTokens };
  }

  /** The length of a learned position table (undefined for relative positions: T5). */
  #positions(side: "encoder" | "decoder"): number | undefined {
    const c = this.#parts.config;
    const part = (c[side] && typeof c[side] === "object" ? c[side] : c) as Json;
    if (part.relative_attention_num_buckets !== undefined) return undefined;
    return num(part.max_position_embeddings) ?? num(part.n_positions) ?? num(c.max_position_embeddings);
  }

  /** T5's task prefix (`summarize: `) from config.json `task_specific_params`, as transformers' pipelines add it. */
  #prefix(): string {
    const params = this.#parts.config.task_specific_params as Record<string, Json> | undefined;
    const prefix = params?.[this.task]?.prefix;
    return typeof prefix === "string" ? prefix : "";
  }

  #stream(
    encode: () => Promise<Encoded>,
    options: Seq2SeqOptions,
    batch = false,
  ): Seq2SeqStream {
    const queue = new PushQueue<string>();
    const onText = (index: number, text: string) => {
      options.onText?.(index, text);
      if (!batch && index === 0) queue.push(text);
    };
    const result = this.#busy.then(() => this.#generate(encode, options, onText));
    this.#busy = result.catch(() => undefined);
    result.finally(() => queue.end()).catch(() => undefined);
    return {
      result,
      async *[Symbol.asyncIterator]() {
        yield* queue.drain();
        await result;
      },
    };
  }

  async #generate(
    encode: () => Promise<Encoded>,
    options: Seq2SeqOptions,
    onText: (index: number, text: string) => void,
  ): Promise<Seq2SeqResult> {
    if (this.#disposed) throw new InputError(`the ${this.task} pipeline was disposed`);
    const started = performance.now();
    const settings = resolveGenerationSettings(this.#parts.generationConfig ?? {}, this.#parts.config, options);
    const d = this.defaults;
    const numBeams = options.numBeams ?? (options.doSample || options.temperature !== undefined ? 1 : d.numBeams);
    check("num_beams", numBeams, Number.isInteger(numBeams) && numBeams >= 1 && numBeams <= 64, "an integer in 1..64");
    const numReturn = options.numReturnSequences ?? 1;
    check(
      "num_return_sequences",
      numReturn,
      Number.isInteger(numReturn) && numReturn >= 1 && numReturn <= numBeams,
      `an integer in 1..num_beams (${numBeams})`,
    );
    const lengthPenalty = options.lengthPenalty ?? d.lengthPenalty;
    check("length_penalty", lengthPenalty, Number.isFinite(lengthPenalty), "a number");
    const encoded = await encode();
    const tokenizeMs = performance.now() - started;
    const prompt = [d.decoderStartTokenId, ...(options.decoderPromptIds ?? d.forcedPromptIds)];
    const prompts = encoded.prompts ?? Array.from({ length: encoded.batch }, () => [...prompt]);
    const promptLength = prompts[0]?.length ?? 1;
    let maxNew = settings.maxNewTokens ??
      (settings.maxLength !== undefined ? Math.max(1, settings.maxLength - promptLength) : DEFAULT_MAX_NEW_TOKENS);
    // learned position tables (Marian, BART, GPT-2) end: the decoder cannot go past them
    const positions = this.#positions("decoder");
    if (positions !== undefined && promptLength + maxNew > positions) {
      if (options.maxNewTokens !== undefined || promptLength >= positions) {
        throw new InputError(
          `max_new_tokens ${maxNew} with a decoder prompt of ${promptLength} is more than the decoder's ${positions} positions`,
          { hint: `ask for at most ${Math.max(1, positions - promptLength)} new tokens (--max-new-tokens)` },
        );
      }
      maxNew = positions - promptLength;
    }
    const processors = [
      ...configProcessors(this.#parts.generationConfig, this.#parts.config, settings.eosTokenIds, {
        minNewTokens: options.minNewTokens,
      }),
      ...(options.processors ?? []),
    ];
    const outcome = await decodeSeq2Seq(this.sessions, this.tokenizer, {
      encoderFeeds: encoded.feeds,
      ...(encoded.mask ? { encoderMask: encoded.mask } : {}),
      batch: encoded.batch,
      decoderPrompts: prompts,
      maxNewTokens: maxNew,
      sampling: settings,
      numBeams,
      lengthPenalty,
      earlyStopping: options.earlyStopping ?? d.earlyStopping,
      numReturnSequences: numReturn,
      eosTokenIds: settings.eosTokenIds,
      padTokenId: settings.padTokenId,
      processors,
      stop: options.stop ?? [],
      random: seededRandom(options.seed ?? Math.floor(Math.random() * 0x100000000)),
      skipSpecialTokens: !options.keepSpecialTokens,
      ...(options.signal ? { signal: options.signal } : {}),
      onText,
      ...(options.onStep ? { onStep: options.onStep } : {}),
    });
    const totalMs = performance.now() - started;
    const generatedTokens = outcome.sequences.reduce((n, s) => n + s.generatedIds.length, 0);
    const firstMs = outcome.encodeMs + outcome.prefillMs;
    return {
      kind: "generation",
      text: outcome.sequences[0]?.text ?? "",
      generatedIds: outcome.sequences[0]?.generatedIds ?? [],
      promptIds: outcome.sequences[0]?.promptIds ?? prompt,
      finishReason: outcome.sequences[0]?.finishReason ?? "length",
      sequences: outcome.sequences,
      usage: {
        promptTokens: encoded.promptTokens,
        generatedTokens,
        cachedTokens: 0,
        totalTokens: encoded.promptTokens + generatedTokens,
      },
      timings: {
        tokenizeMs: round(tokenizeMs),
        prefillMs: round(firstMs),
        timeToFirstTokenMs: round(tokenizeMs + firstMs),
        decodeMs: round(outcome.decodeMs),
        totalMs: round(totalMs),
        promptTokensPerSecond: firstMs > 0 ? Math.round(encoded.promptTokens / (firstMs / 1000) * 100) / 100 : 0,
        generatedTokensPerSecond: outcome.decodeMs > 0
          ? Math.round(outcome.decodeSteps * (numBeams > 1 ? 1 : encoded.batch) / (outcome.decodeMs / 1000) * 100) / 100
          : 0,
      },
    };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#busy;
    await disposeSessions(this.sessions);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

interface Encoded {
  feeds: TensorMap;
  batch: number;
  mask?: number[][];
  prompts?: number[][];
  promptTokens: number;
}

function check(name: string, value: number, ok: boolean, expected: string): void {
  if (!ok) throw new InputError(`${name} ${value}: expected ${expected}`, { hint: `pass a valid ${name}` });
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** For tests and callers that build pixel tensors themselves. */
export type { TensorData };
