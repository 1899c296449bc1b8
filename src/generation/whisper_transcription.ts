/**
 * Whisper speech recognition (`WhisperForConditionalGeneration` exported in optimum's encoder + decoder layout) on
 * the encoder-decoder loop: WAV → mono 16 kHz → 30-second windows (a longer recording: windows of 30 s that overlap
 * 5 s on each side, as transformers' pipeline with `chunk_length_s=30` cuts them) → log-mel features → the decoder
 * prompt `<|startoftranscript|><|lang|><|task|>` (+ `<|notimestamps|>`) with Whisper's logits rules → text, and
 * with timestamps the segments; windows are merged without dropping or repeating words at the seams. Each window is
 * decoded as Whisper's own `generate()` decodes it: a pass that ends inside a segment (after a closed timestamp pair)
 * is cut at that pair and the window decoded again from it, so that the ids are transformers' pipeline's. Without a
 * language the most probable language token after `<|startoftranscript|>` (first window) is used and reported.
 *
 * @module
 */
// @deno-types="npm:@types/pako@2.0.4"
import pako from "pako";
import { InputError } from "../errors.ts";
import { hubCacheDir } from "../environment.ts";
import { findCachedSnapshot } from "../vocabulary/cache_layout.ts";
import { parseModelId } from "../vocabulary/model_id.ts";
import type { LoadModelOptions } from "../runtime/load_model.ts";
import type { TensorData } from "../runtime/tensors.ts";
import type { GpuxSession } from "../runtime/session.ts";
import { decodeWav, DEFAULT_MAX_AUDIO_SECONDS, mixToMono } from "../processing/audio_wav.ts";
import { resample } from "../processing/audio_resample.ts";
import { type LogMelSpec, logMelSpecFromConfig, logMelSpectrogram } from "../processing/audio_log_mel.ts";
import { loadTokenizer, type TextTokenizer } from "../processing/tokenizer.ts";
import { decodeSeq2Seq, logprobOf } from "./seq2seq_loop.ts";
import { loadSeq2SeqParts, modelRoot, type Seq2SeqParts } from "./seq2seq_generation.ts";
import { seededRandom } from "./seeded_random.ts";
import { type DetectedLanguage, detectLanguage, WhisperLogitsRules } from "./whisper_logits.ts";
import { mergeWindows, type WhisperSegment, windowPass } from "./whisper_segments.ts";
import { readWhisperTokens, whisperLanguage, whisperPrompt, type WhisperTokens } from "./whisper_tokens.ts";

/** Options of one transcription. */
export interface WhisperOptions {
  /** Language code (`en`), or undefined/`auto` to detect it. */
  language?: string;
  /** `transcribe` (default) or `translate` (to English). */
  task?: "transcribe" | "translate";
  /** Segment timestamps (default false). */
  timestamps?: boolean;
  /** New tokens per decoder pass over a 30-second window at most (default 448 minus the prompt, the decoder's length). */
  maxNewTokens?: number;
  /** Seconds of overlap on each side of a window of a long recording (default 5, transformers' 30 / 6). */
  strideSeconds?: number;
  /** Cancels within one decoder step (the result then says `cancelled`). */
  signal?: AbortSignal;
  /** Called before each 30-second window is decoded (the audio was read): progress, or a sign that work began. */
  onWindow?: (index: number, count: number) => void;
  /**
   * Windows of a long recording decoded together as one batch (default {@linkcode defaultWhisperBatch}: as many as
   * keep their cross-attention keys and values within 512 MB, at most 8; 1 decodes one window at a time). Each
   * window's encoder still runs on its own; the decoder steps of the batch share one run, which reads the decoder's
   * weights once for all of them: on one core the tiny shape's step costs 2–3 ms a window at 4–8 windows instead
   * of 6–7 ms. The ids are the same as one window at a time.
   */
  batchSize?: number;
  /**
   * Each window's decoding figures as OpenAI's `verbose_json` reports them ({@linkcode WindowStats}), and each
   * segment's text token ids (default false: they cost a softmax a decoder step, and a one-token decoder run a window
   * when the language is given).
   */
  stats?: boolean;
}

/** How a window decoded, as openai-whisper measures it (what OpenAI's `verbose_json` segments carry). */
export interface WindowStats {
  /**
   * The chosen tokens' log-probabilities under the processed scores, summed over every pass (`<|endoftext|>`
   * included) and divided by the text tokens + 1 a pass: openai-whisper's `avg_logprob`.
   */
  avgLogprob: number;
  /** The probability of `<|nospeech|>` (`<|nocaptions|>`) right after `<|startoftranscript|>`: `no_speech_prob`. */
  noSpeechProb: number;
  /** The window's text in UTF-8 bytes over its zlib-compressed length: `compression_ratio` (high: repetitive). */
  compressionRatio: number;
}

/** Cross-attention keys and values a batch of windows may hold by default, bytes. */
const BATCH_CACHE_BUDGET = 512 * 1024 * 1024;
/** Windows decoded together at most by default. */
const MAX_DEFAULT_BATCH = 8;

/**
 * The default number of windows decoded together: as many as keep the encoder's cross-attention keys and values
 * (`layers × 2 × heads × positions × head size` per window) within 512 MB, 1 to 8 — whisper-tiny and base get 8,
 * small 4, medium and large 1.
 */
export function defaultWhisperBatch(
  contract: { layers: readonly unknown[]; encoderHeads: number; encoderHeadDim: number; cacheDtype: string },
  encoderPositions: number,
): number {
  const perWindow = contract.layers.length * 2 * contract.encoderHeads * encoderPositions * contract.encoderHeadDim *
    (contract.cacheDtype === "float16" ? 2 : 4);
  return Math.max(1, Math.min(MAX_DEFAULT_BATCH, Math.floor(BATCH_CACHE_BUDGET / Math.max(1, perWindow))));
}

/** Options of {@linkcode WhisperPipeline.run}. */
export interface WhisperRunOptions extends WhisperOptions {
  /** The file's name, for error messages (WAV bytes). */
  name?: string;
  /** Longest recording accepted, seconds (default 600). */
  maxSeconds?: number;
}

/** One decoded window. */
export interface WhisperWindow {
  /** The language it was decoded in (asked for, or detected on this window). */
  language: string;
  /** The decoder prompt. */
  promptIds: number[];
  /**
   * The generated ids (the EOS included when it stopped on it). A window decoded in several passes holds every
   * pass's ids as Whisper's `generate()` joins them (each pass up to its last closed timestamp pair).
   */
  generatedIds: number[];
  /** Decoder passes over the window: 1, or more when a pass ended inside a segment and it was decoded again. */
  passes: number;
  /** `[length, left stride, right stride]` in seconds. */
  stride: [number, number, number];
  /** Where the window starts in the recording, seconds. */
  start: number;
  /** With `stats`: how it decoded. */
  stats?: WindowStats;
}

/** A transcription. */
export interface WhisperResult {
  /** Tells it apart from the other pipelines' results. */
  kind: "whisper";
  /** The text (no special or timestamp tokens). */
  text: string;
  /** The language used: asked for, or detected (on the first window; each window detects its own). */
  language: string;
  /** The detection, when no language was given. */
  detected?: DetectedLanguage;
  /**
   * With timestamps: segments, seconds from the recording's start (`end` null: the model did not close it); with
   * `stats`, each with its text's token ids.
   */
  segments: (WhisperSegment & { tokens?: number[] })[];
  /** Each window's ids. */
  windows: WhisperWindow[];
  /** The recording's length in seconds. */
  seconds: number;
  /** True when `signal` aborted it (the text is what was decoded so far). */
  cancelled?: boolean;
}

/** A loaded Whisper model. */
export interface WhisperPipeline {
  /** The task it serves. */
  readonly task: "automatic-speech-recognition";
  /** Marks the encoder-decoder speech pipeline (the CTC one has none). */
  readonly whisper: true;
  /** The encoder session (its provider, fallbacks and inputs, for reports). */
  readonly session: GpuxSession;
  /**
   * Transcribes a WAV file's bytes, 16 kHz mono samples, or a pipeline audio input with one clip (`{kind: "audio",
   * clips: [{bytes, name}]}`). Typed `unknown` so that it joins the other pipelines' `run` in a union.
   *
   * @throws {InputError} anything else, or several clips (exit 2).
   */
  run(audio: unknown, options?: WhisperRunOptions): Promise<WhisperResult>;
  /** The same as {@linkcode WhisperPipeline.run}: the generation pipelines' shape. */
  generate(audio: unknown, options?: WhisperRunOptions): Promise<WhisperResult>;
  /** Transcribes 16 kHz mono samples. */
  transcribe(samples: Float32Array, options?: WhisperOptions): Promise<WhisperResult>;
  /** Transcribes a WAV file's bytes (any rate and channel count the WAV reader accepts). */
  transcribeWav(bytes: Uint8Array, name: string, options?: WhisperOptions & { maxSeconds?: number }): Promise<
    WhisperResult
  >;
  /** Releases the sessions. */
  dispose(): Promise<void>;
  /** `await using` support: {@linkcode WhisperPipeline.dispose}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Whether config.json describes a Whisper checkpoint. */
export function isWhisperConfig(config: Record<string, unknown>): boolean {
  const architectures = config.architectures;
  return config.model_type === "whisper" ||
    (Array.isArray(architectures) && architectures.includes("WhisperForConditionalGeneration"));
}

/**
 * The folder of an encoder-decoder export: a directory as given, else the cached Hub snapshot (the single-graph
 * resolver refuses a snapshot with several graphs without naming its folder, so the cache is asked directly).
 */
async function whisperRoot(model: string, options: LoadModelOptions): Promise<string> {
  try {
    return await modelRoot(model, options);
  } catch (error) {
    let ref: { id: string; revision?: string };
    try {
      ref = parseModelId(model);
    } catch {
      throw error;
    }
    const snapshot = await findCachedSnapshot(hubCacheDir(options.env, options.cacheDir), ref.id, ref.revision);
    if (!snapshot) throw error;
    return snapshot.path;
  }
}

/**
 * Whether `model` (a folder or a cached Hub id) is a Whisper export: config.json says Whisper and the folder holds
 * an encoder graph. False when it cannot be found (the caller's loader then reports that).
 */
export async function isWhisperModel(model: string, options: LoadModelOptions = {}): Promise<boolean> {
  let root: string;
  try {
    root = await whisperRoot(model, options);
  } catch {
    return false;
  }
  try {
    const config = JSON.parse(await Deno.readTextFile(`${root}/config.json`));
    if (!config || typeof config !== "object" || !isWhisperConfig(config)) return false;
    for await (const entry of Deno.readDir(`${root}/onnx`)) {
      if (/^encoder_model.*\.onnx$/.test(entry.name)) return true;
    }
  } catch {
    return false;
  }
  return false;
}

/** One tensor of the rows of `parts` (each `[1, …]`, the same shape), in order: the batch's encoder states. */
function stackRows(parts: readonly TensorData[]): TensorData {
  if (parts.length === 1) return parts[0];
  const size = parts[0].data.length;
  const first = parts[0].data as Float32Array | Uint16Array;
  // deno-lint-ignore no-explicit-any
  const data = new (first.constructor as any)(size * parts.length);
  for (const [i, p] of parts.entries()) data.set(p.data as Float32Array | Uint16Array, i * size);
  return { dtype: parts[0].dtype, shape: [parts.length, ...parts[0].shape.slice(1)], data };
}

/** One window of a long recording while it is decoded in passes. */
interface PassState {
  /** The window's log-mel features, `[1, mel bins, frames]`. */
  input: { dtype: "float32"; shape: number[]; data: Float32Array };
  /** Its frames (3000 for 30 s). */
  frames: number;
  /** The frame the next pass starts at (`frames`: done). */
  seek: number;
  /** The ids kept so far (every pass's, EOS removed). */
  kept: number[];
  /** Whether the last pass stopped on `<|endoftext|>`. */
  stoppedOnEos: boolean;
  /** The language decoded in. */
  language: string;
  /** The decoder prompt (set on the first pass). */
  prompt?: number[];
  /** Decoder passes so far. */
  passes: number;
  /** With stats: the chosen tokens' log-probabilities summed, the text tokens + 1 a pass, P(no speech). */
  logprobSum: number;
  logprobCount: number;
  noSpeechProb?: number;
}

/**
 * UTF-8 bytes of `text` over their zlib-compressed length at zlib's default level (openai-whisper's
 * `compression_ratio`; 0 for no text). pako 2 is a port of zlib itself: its output is byte for byte Python's
 * `zlib.compress` (45, 81 and 53 bytes on the test texts), where Deno's node:zlib gave 47, 87 and 60 and
 * `CompressionStream` more still; pako 3 no longer matches.
 */
function compressionRatio(text: string): number {
  const bytes = new TextEncoder().encode(text);
  return bytes.length === 0 ? 0 : bytes.length / pako.deflate(bytes, { level: 6 }).length;
}

/**
 * The features of a later pass over a window: its frames from `seek` on, then zeros up to the window's length (as
 * Whisper's `generate()` pads the slice of the log-mel features, not the audio).
 */
function seekFeatures(input: PassState["input"], seek: number): PassState["input"] {
  const [, bins, frames] = input.shape;
  const data = new Float32Array(bins * frames);
  for (let m = 0; m < bins; m++) {
    data.set(input.data.subarray(m * frames + seek, (m + 1) * frames), m * frames);
  }
  return { dtype: "float32", shape: input.shape, data };
}

/** Cuts a recording as transformers' pipeline does: `[start, end, left, right]` in samples. */
export function whisperWindows(length: number, windowSamples: number, strideSamples: number): number[][] {
  const step = windowSamples - 2 * strideSamples;
  if (step <= 0) throw new InputError("the window stride leaves no step: use a stride below a third of the window");
  const out: number[][] = [];
  for (let start = 0; start < length; start += step) {
    const end = Math.min(start + windowSamples, length);
    const isLast = start + windowSamples >= length;
    const left = start === 0 ? 0 : strideSamples;
    if (end - start > left) out.push([start, end, left, isLast ? 0 : strideSamples]);
    if (isLast) break;
  }
  return out;
}

/** Builds the pipeline from loaded parts. */
export async function createWhisper(parts: Seq2SeqParts, tokenizer?: TextTokenizer): Promise<WhisperPipeline> {
  const generationConfig = (parts.generationConfig ?? {}) as Record<string, unknown>;
  const tokens: WhisperTokens = readWhisperTokens(generationConfig);
  const preprocessor = (await parts.files.readJsonIfPresent("preprocessor_config.json") ?? {}) as Record<
    string,
    unknown
  >;
  const spec: LogMelSpec = logMelSpecFromConfig(preprocessor);
  const tok = tokenizer ?? await loadTokenizer(parts.files);
  const maxTarget = typeof parts.config.max_target_positions === "number" ? parts.config.max_target_positions : 448;
  const decode = (ids: number[]) => tok.decode(ids.filter((id) => id < tokens.timestampBegin));
  /** A window's text, as generate() + decode(skip_special_tokens) give it. */
  const textOf = (ids: number[]) =>
    tok.decode(ids.filter((id) => id < tokens.timestampBegin), { skipSpecialTokens: true });
  /** One greedy sequence a row, ending on `<|endoftext|>`: how both decoder runs (detection, transcription) decode. */
  const greedy = () => ({
    sampling: {
      doSample: false,
      temperature: 1,
      topK: 0,
      topP: 1,
      minP: 0,
      repetitionPenalty: 1,
      noRepeatNgramSize: 0,
    },
    numBeams: 1,
    lengthPenalty: 1,
    earlyStopping: false,
    numReturnSequences: 1,
    eosTokenIds: [tokens.endOfText],
    padTokenId: tokens.endOfText,
    stop: [],
    random: seededRandom(0),
  });

  const features = (window: Float32Array) => {
    const data = logMelSpectrogram(window, spec);
    return { dtype: "float32" as const, shape: [1, spec.featureSize, data.length / spec.featureSize], data };
  };

  const noSpeechId = tok.tokenToId("<|nospeech|>") ?? tok.tokenToId("<|nocaptions|>");

  /**
   * The language, the probability of no speech (both from the step after `<|startoftranscript|>`), and the encoder's
   * hidden states for the transcription to reuse (one encoder pass a window).
   */
  async function detect(
    input: ReturnType<typeof features>,
  ): Promise<{ language: DetectedLanguage; noSpeechProb?: number; encoderHidden: TensorData }> {
    let found: DetectedLanguage | undefined;
    let noSpeechProb: number | undefined;
    const outcome = await decodeSeq2Seq(parts.sessions, tok, {
      encoderFeeds: { input_features: input },
      batch: 1,
      decoderPrompts: [[tokens.startOfTranscript]],
      maxNewTokens: 1,
      ...greedy(),
      processors: [],
      logprobs: false,
      onStep: ({ scores }) => {
        found ??= detectLanguage(scores, tokens);
        if (noSpeechId !== undefined && noSpeechId < scores.length) {
          noSpeechProb ??= Math.exp(logprobOf(scores, noSpeechId));
        }
      },
    });
    return {
      language: found!,
      ...(noSpeechProb !== undefined ? { noSpeechProb } : {}),
      encoderHidden: outcome.encoderHidden,
    };
  }

  async function transcribe(samples: Float32Array, options: WhisperOptions = {}): Promise<WhisperResult> {
    const task = options.task ?? "transcribe";
    const timestamps = options.timestamps ?? false;
    const asked = whisperLanguage(tokens, options.language);
    const windowSamples = spec.nSamples;
    const stride = Math.round((options.strideSeconds ?? spec.nSamples / spec.samplingRate / 6) * spec.samplingRate);
    const cuts = samples.length <= windowSamples
      ? [[0, samples.length, 0, 0]]
      : whisperWindows(samples.length, windowSamples, stride);
    const batchSize = options.batchSize ??
      defaultWhisperBatch(parts.sessions.contract, Math.floor(spec.nSamples / spec.hopLength / 2));
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new InputError(`batchSize must be a whole number of windows ≥ 1, got ${batchSize}`);
    }
    let detected: DetectedLanguage | undefined;
    const windows: WhisperWindow[] = [];
    const rate = spec.samplingRate;
    // mel frames per timestamp step (0.02 s = 2 frames of 10 ms): where a re-decode of a window starts
    const framesPerStep = Math.round(tokens.timePrecision * rate / spec.hopLength);
    for (let from = 0; from < cuts.length; from += batchSize) {
      if (options.signal?.aborted) break;
      const group = cuts.slice(from, from + batchSize);
      // each window's log-mel features once; its decoder prompt (language asked for, or detected on its first pass)
      const states: PassState[] = [];
      for (const [offset, [start, end]] of group.entries()) {
        if (options.signal?.aborted) break;
        options.onWindow?.(from + offset, cuts.length);
        const input = features(samples.subarray(start, end));
        states.push({
          input,
          frames: input.shape[2],
          seek: 0,
          kept: [],
          stoppedOnEos: false,
          language: asked ?? "",
          passes: 0,
          logprobSum: 0,
          logprobCount: 0,
        });
      }
      if (states.length < group.length) break; // cancelled while reading
      // Whisper's generate() decodes a window in passes: after a pass that ended inside a segment, again from the
      // last closed timestamp (windowPass). The windows that still have frames left are decoded together each round.
      for (let round = 0; !options.signal?.aborted; round++) {
        const active = states.filter((w) => w.seek < w.frames);
        if (active.length === 0) break;
        // each pass's encoder run on its own (the encoder's peak memory stays one window's); the decoder batched
        const hiddens: TensorData[] = [];
        for (const w of active) {
          if (options.signal?.aborted) break;
          const input = w.seek === 0 ? w.input : seekFeatures(w.input, w.seek);
          if (round === 0 && (asked === undefined || options.stats)) {
            // as transformers' pipeline: each window detects its own language (on its first 30 seconds); the same
            // step after <|startoftranscript|> gives openai-whisper's no-speech probability
            const found = await detect(input);
            if (asked === undefined) {
              detected ??= found.language;
              w.language = found.language.language;
            }
            w.noSpeechProb = found.noSpeechProb;
            hiddens.push(found.encoderHidden);
          } else {
            hiddens.push(
              (await parts.sessions.encoder.run({ input_features: input }))[parts.sessions.encoderOutput] as TensorData,
            );
          }
          w.prompt ??= whisperPrompt(tokens, { language: w.language, task, timestamps });
        }
        if (hiddens.length < active.length) break; // cancelled while encoding
        const prompts = active.map((w) => w.prompt!);
        const promptLength = prompts[0].length;
        const maxNewTokens = Math.min(options.maxNewTokens ?? maxTarget, maxTarget - promptLength);
        const rules = new WhisperLogitsRules(tokens, { timestamps });
        const out = await decodeSeq2Seq(parts.sessions, tok, {
          encoderFeeds: {},
          encoderHidden: stackRows(hiddens),
          batch: hiddens.length,
          decoderPrompts: prompts,
          maxNewTokens,
          ...greedy(),
          processors: [(scores, ctx) => rules.apply(scores, ctx.ids.slice(ctx.promptLength))],
          logprobs: options.stats === true,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        for (const [i, w] of active.entries()) {
          const ids = out.sequences[i].generatedIds;
          w.passes++;
          if (options.stats) {
            // openai-whisper: the pass's log-probabilities (EOS included) over its text tokens + 1
            w.logprobSum += out.sequences[i].logprobs.reduce((a, b) => a + b, 0);
            w.logprobCount += ids.filter((id) => id !== tokens.endOfText).length + 1;
          }
          w.stoppedOnEos = ids[ids.length - 1] === tokens.endOfText;
          const pass = windowPass(w.stoppedOnEos ? ids.slice(0, -1) : ids, tokens.timestampBegin);
          w.kept.push(...pass.kept);
          const next = pass.seekSteps === undefined ? w.frames : w.seek + pass.seekSteps * framesPerStep;
          // a pass that would start again where it started (a pair at <|0.00|>) would give the same ids forever:
          // transformers loops there; the window ends instead
          w.seek = next > w.seek ? next : w.frames;
        }
      }
      for (const [offset, [start, end, left, right]] of group.entries()) {
        const w = states[offset];
        if (w.prompt === undefined) break;
        windows.push({
          language: w.language,
          promptIds: w.prompt,
          generatedIds: w.stoppedOnEos ? [...w.kept, tokens.endOfText] : w.kept,
          passes: w.passes,
          stride: [(end - start) / rate, left / rate, right / rate],
          start: start / rate,
          ...(options.stats
            ? {
              stats: {
                avgLogprob: w.logprobCount > 0 ? w.logprobSum / w.logprobCount : 0,
                noSpeechProb: w.noSpeechProb ?? 0,
                compressionRatio: compressionRatio(textOf(w.kept)),
              },
            }
            : {}),
        });
      }
    }
    const seconds = samples.length / spec.samplingRate;
    const cancelled = options.signal?.aborted === true;
    const language = asked ?? detected?.language ?? "";
    // segments (and a long recording's text) as transformers' pipeline joins windows; an unclosed last segment ends
    // null. The text of one window is its ids decoded, as generate() + decode(skip_special_tokens) give it.
    const merged = mergeWindows(
      windows.map((w) => ({ ids: w.generatedIds.filter((id) => id !== tokens.endOfText), stride: w.stride })),
      tokens,
      decode,
      { timestamps },
    );
    let previousEnd = 0;
    const segments = merged.chunks.map((c) => {
      // an unopened chunk (text after the last closed pair) starts where the previous one ended
      const segment = {
        text: c.text,
        timestamp: [c.timestamp[0] ?? previousEnd, c.timestamp[1]] as [number, number | null],
      };
      previousEnd = c.timestamp[1] ?? segment.timestamp[0];
      if (!options.stats) return segment;
      return { ...segment, tokens: tok.encode(c.text, { addSpecialTokens: false }).inputIds };
    });
    const text = windows.length === 0 ? "" : windows.length === 1 ? textOf(windows[0].generatedIds) : merged.text;
    return {
      kind: "whisper",
      text,
      language,
      ...(detected ? { detected } : {}),
      segments,
      windows,
      seconds,
      ...(cancelled ? { cancelled } : {}),
    };
  }

  function transcribeWav(bytes: Uint8Array, name: string, options: WhisperOptions & { maxSeconds?: number } = {}) {
    const clip = decodeWav(bytes, name, { maxSeconds: options.maxSeconds ?? DEFAULT_MAX_AUDIO_SECONDS });
    const mono = resample(mixToMono(clip), clip.sampleRate, spec.samplingRate);
    if (mono.length === 0) throw new InputError(`${name}: the WAV holds no samples`);
    return transcribe(mono, options);
  }
  async function dispose() {
    await parts.sessions.encoder.dispose();
    await parts.sessions.decoder.dispose();
    await parts.sessions.decoderWithPast?.dispose();
  }
  const run = async (audio: unknown, options: WhisperRunOptions = {}): Promise<WhisperResult> => {
    if (audio instanceof Float32Array) return await transcribe(audio, options);
    if (audio instanceof Uint8Array) return await transcribeWav(audio, options.name ?? "audio", options);
    const input = audio as { kind?: unknown; clips?: { bytes: Uint8Array; name: string }[] };
    if (input && input.kind === "audio" && Array.isArray(input.clips)) {
      if (input.clips.length !== 1) {
        throw new InputError(`Whisper transcribes one clip per call, got ${input.clips.length}`, {
          hint: "call run once per file",
        });
      }
      return await transcribeWav(input.clips[0].bytes, input.clips[0].name, options);
    }
    throw new InputError("Whisper takes audio: WAV bytes, 16 kHz samples or one audio clip");
  };

  return {
    task: "automatic-speech-recognition",
    whisper: true,
    session: parts.sessions.encoder,
    run,
    generate: run,
    transcribe,
    transcribeWav,
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}

/**
 * Loads a Whisper model (a folder or a cached Hub snapshot in optimum's layout) as a speech-recognition pipeline.
 *
 * @throws {NotFoundError} graphs or tokenizer.json missing (exit 3).
 * @throws {InputError} not a Whisper generation_config.json, or a graph that does not fit (exit 2).
 */
export async function loadWhisper(model: string, options: LoadModelOptions = {}): Promise<WhisperPipeline> {
  const parts = await loadSeq2SeqParts(await whisperRoot(model, options), options);
  try {
    return await createWhisper(parts);
  } catch (error) {
    await parts.sessions.encoder.dispose();
    await parts.sessions.decoder.dispose();
    await parts.sessions.decoderWithPast?.dispose();
    throw error;
  }
}
