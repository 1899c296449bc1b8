/**
 * Whisper's special token ids and decoder prompt, read from generation_config.json as openai/whisper-* and
 * onnx-community ship it (`decoder_start_token_id`, `lang_to_id`, `task_to_id`, `no_timestamps_token_id`,
 * `suppress_tokens`, `begin_suppress_tokens`, `max_initial_timestamp_index`), so that the prompt
 * `<|startoftranscript|><|lang|><|task|>` (+ `<|notimestamps|>`), the logits rules and the timestamp arithmetic work
 * for every checkpoint size without a table of ids. Timestamp tokens follow `<|notimestamps|>`: `<|t|>` is
 * `timestampBegin + t / 0.02`.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { whisperLanguageCode } from "../vocabulary/whisper_languages.ts";

/** The ids Whisper decoding needs. */
export interface WhisperTokens {
  /** `<|startoftranscript|>` (decoder_start_token_id). */
  startOfTranscript: number;
  /** `<|endoftext|>` (eos_token_id). */
  endOfText: number;
  /** `<|notimestamps|>`. */
  noTimestamps: number;
  /** `<|0.00|>`: the first timestamp token (`<|notimestamps|>` + 1). */
  timestampBegin: number;
  /** Language code (`en`) → id of `<|en|>`, in token order. */
  languages: Map<string, number>;
  /** Task (`transcribe`, `translate`) → id. */
  tasks: Map<string, number>;
  /** Ids never generated (generation_config `suppress_tokens`). */
  suppress: number[];
  /** Ids not generated as the first token (`begin_suppress_tokens`). */
  beginSuppress: number[];
  /** The latest first timestamp, in timestamp steps (`max_initial_timestamp_index`), or undefined. */
  maxInitialTimestampIndex?: number;
  /** Seconds per timestamp step (0.02). */
  timePrecision: number;
}

/** A task Whisper knows. */
export type WhisperTask = "transcribe" | "translate";

function intField(config: Record<string, unknown>, key: string): number {
  const value = config[key];
  const id = Array.isArray(value) ? value[0] : value;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
    throw new InputError(`generation_config.json: ${key} is missing or not a token id; is this a Whisper model?`, {
      hint: "Whisper checkpoints ship generation_config.json with lang_to_id, task_to_id and no_timestamps_token_id",
    });
  }
  return id;
}

function idList(config: Record<string, unknown>, key: string): number[] {
  const value = config[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "number" && Number.isInteger(v))) {
    throw new InputError(`generation_config.json: ${key} must be a list of token ids`);
  }
  return value as number[];
}

function idMap(config: Record<string, unknown>, key: string, strip: boolean): Map<string, number> {
  const value = config[key];
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new InputError(`generation_config.json: ${key} is missing; is this a multilingual Whisper model?`, {
      hint: "Whisper checkpoints ship generation_config.json with lang_to_id and task_to_id",
    });
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, id]) =>
    typeof id === "number" && Number.isInteger(id)
  ) as [string, number][];
  entries.sort((a, b) => a[1] - b[1]);
  return new Map(entries.map(([k, id]) => [strip ? k.replace(/^<\|(.*)\|>$/, "$1") : k, id]));
}

/**
 * The ids of a Whisper checkpoint from its generation_config.json.
 *
 * @throws {InputError} a field Whisper decoding needs is missing or malformed (exit 2).
 * @example
 * ```ts
 * const tokens = readWhisperTokens({
 *   decoder_start_token_id: 50258, eos_token_id: 50257, no_timestamps_token_id: 50363,
 *   lang_to_id: { "<|en|>": 50259 }, task_to_id: { transcribe: 50359, translate: 50358 },
 * });
 * tokens.timestampBegin; // 50364
 * ```
 */
export function readWhisperTokens(config: Record<string, unknown>): WhisperTokens {
  const noTimestamps = intField(config, "no_timestamps_token_id");
  const max = config.max_initial_timestamp_index;
  return {
    startOfTranscript: intField(config, "decoder_start_token_id"),
    endOfText: intField(config, "eos_token_id"),
    noTimestamps,
    timestampBegin: noTimestamps + 1,
    languages: idMap(config, "lang_to_id", true),
    tasks: idMap(config, "task_to_id", false),
    suppress: idList(config, "suppress_tokens"),
    beginSuppress: idList(config, "begin_suppress_tokens"),
    maxInitialTimestampIndex: typeof max === "number" && Number.isInteger(max) ? max : undefined,
    timePrecision: 0.02,
  };
}

/**
 * The language code for a user's `--language` (`en`, `EN`, `<|en|>`, or a name as openai-whisper takes it: `English`,
 * `Mandarin`), or undefined for `auto`/none (detect it).
 *
 * @throws {InputError} a language the checkpoint has no token for, listing some it has (exit 2).
 */
export function whisperLanguage(tokens: WhisperTokens, language: string | undefined): string | undefined {
  if (language === undefined || language === "" || language.toLowerCase() === "auto") return undefined;
  const given = language.trim().toLowerCase().replace(/^<\|(.*)\|>$/, "$1");
  const code = tokens.languages.has(given) ? given : whisperLanguageCode(given) ?? given;
  if (!tokens.languages.has(code)) {
    const known = [...tokens.languages.keys()];
    throw new InputError(`unknown Whisper language ${JSON.stringify(language)}`, {
      hint: `use a language code this model knows (${known.slice(0, 12).join(", ")}, … ${known.length} in all) or auto`,
    });
  }
  return code;
}

/** The id of `task`. @throws {InputError} a task the checkpoint has no token for (exit 2). */
export function whisperTaskId(tokens: WhisperTokens, task: string): number {
  const id = tokens.tasks.get(task);
  if (id === undefined) {
    throw new InputError(`unknown Whisper task ${JSON.stringify(task)}`, {
      hint: `use one of: ${[...tokens.tasks.keys()].join(", ")}`,
    });
  }
  return id;
}

/**
 * The decoder prompt: `<|startoftranscript|><|lang|><|task|>`, then `<|notimestamps|>` unless timestamps are asked.
 * The language must be known here: detect it first ({@linkcode import("./whisper_logits.ts").detectLanguage}).
 *
 * @example
 * ```ts
 * const tokens = readWhisperTokens({
 *   decoder_start_token_id: 50258, eos_token_id: 50257, no_timestamps_token_id: 50363,
 *   lang_to_id: { "<|en|>": 50259 }, task_to_id: { transcribe: 50359, translate: 50358 },
 * });
 * whisperPrompt(tokens, { language: "en", task: "transcribe", timestamps: false }); // [50258, 50259, 50359, 50363]
 * ```
 */
export function whisperPrompt(
  tokens: WhisperTokens,
  options: { language: string; task: string; timestamps: boolean },
): number[] {
  const code = whisperLanguage(tokens, options.language);
  if (code === undefined) throw new InputError("the Whisper prompt needs a language: detect it first");
  const prompt = [tokens.startOfTranscript, tokens.languages.get(code)!, whisperTaskId(tokens, options.task)];
  if (!options.timestamps) prompt.push(tokens.noTimestamps);
  return prompt;
}
