/**
 * How a model wants to generate, from `generation_config.json` and `config.json` (as transformers reads
 * them: the first wins, the second fills gaps), overridden by the caller's options: the stop ids, the
 * sampling settings, how many new tokens, and the context length the prompt and the answer must fit in.
 *
 * The files are untrusted: a field of the wrong type is ignored, a value out of range is an
 * {@linkcode InputError} naming the field.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** Decoding settings (transformers' `GenerationConfig` names, camelCased). */
export interface SamplingSettings {
  /** Sample from the distribution instead of taking the most likely token. */
  doSample: boolean;
  /** Divide logits by this before sampling (0 means greedy). */
  temperature: number;
  /** Keep the `topK` most likely tokens (0: all). */
  topK: number;
  /** Keep the smallest set of tokens whose probability adds up to `topP` (1: all). */
  topP: number;
  /** Drop tokens less likely than `minP` × the most likely one's probability (0: none). */
  minP: number;
  /** Penalise tokens already in the sequence (1: none). */
  repetitionPenalty: number;
  /** Never repeat an n-gram of this size (0: off). */
  noRepeatNgramSize: number;
  /** OpenAI's presence penalty in [-2, 2]: subtracted once from each already generated token's logit (0: off). */
  presencePenalty?: number;
  /** OpenAI's frequency penalty in [-2, 2]: subtracted per occurrence from each generated token's logit (0: off). */
  frequencyPenalty?: number;
}

/** Everything the decode loop needs to know before it starts. */
export interface GenerationSettings extends SamplingSettings {
  /** Token ids that end a sequence. */
  eosTokenIds: number[];
  /** Beginning-of-sequence id, when the model has one. */
  bosTokenId?: number;
  /** Padding id for batches (else the first EOS id, else 0). */
  padTokenId: number;
  /** New tokens at most (undefined: until the context is full or `maxLength`). */
  maxNewTokens?: number;
  /** Prompt + new tokens at most (generation_config.json `max_length`, when no `maxNewTokens`). */
  maxLength?: number;
  /** The model's context length (`max_position_embeddings`, `n_positions`, or onnxruntime-genai's `context_length`). */
  contextLength?: number;
}

/** Options that override the files (undefined leaves the file's value). */
export interface GenerationOverrides extends Partial<SamplingSettings> {
  /** New tokens at most. */
  maxNewTokens?: number;
  /** Ids that end a sequence (one or a list), replacing the model's. */
  eosTokenId?: number | number[];
}

type Json = Record<string, unknown>;

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function ids(v: unknown): number[] | undefined {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return [v];
  if (Array.isArray(v)) {
    const list = v.filter((x): x is number => typeof x === "number" && Number.isInteger(x) && x >= 0);
    return list.length ? list : undefined;
  }
  return undefined;
}

function check(name: string, value: number, ok: boolean, expected: string): number {
  if (!ok) throw new InputError(`${name} ${value}: expected ${expected}`, { hint: `pass a valid ${name}` });
  return value;
}

/** The model's defaults when generation_config.json says nothing (transformers' own defaults). */
const DEFAULTS: SamplingSettings = {
  doSample: false,
  temperature: 1,
  topK: 50,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  noRepeatNgramSize: 0,
};

/**
 * Merges generation_config.json, config.json and the caller's overrides into the settings of one
 * generation. Passing a `temperature`, `topK`, `topP` or `minP` without `doSample` turns sampling on
 * (as `ollama run` and the OpenAI API do) unless the temperature is 0; `temperature: 0` means greedy.
 *
 * @throws {InputError} an override is out of range (temperature < 0, topP outside (0, 1], …).
 */
export function resolveGenerationSettings(
  generationConfig: Json | undefined,
  config: Json | undefined,
  overrides: GenerationOverrides = {},
  genaiConfig?: Json,
): GenerationSettings {
  const search = (genaiConfig?.search ?? {}) as Json;
  const g = generationConfig ?? search;
  const c = config ?? {};
  const text = (c.text_config && typeof c.text_config === "object" ? c.text_config : {}) as Json;
  const pick = (key: string) => g[key] ?? c[key] ?? text[key];
  const genaiModel = (genaiConfig?.model ?? {}) as Json;
  const eos = ids(overrides.eosTokenId) ?? ids(pick("eos_token_id")) ?? ids(genaiModel.eos_token_id) ?? [];
  const pad = ids(pick("pad_token_id"))?.[0] ?? ids(genaiModel.pad_token_id)?.[0] ?? eos[0] ?? 0;
  const contextLength = num(c.max_position_embeddings) ?? num(text.max_position_embeddings) ?? num(c.n_positions) ??
    num(c.n_ctx) ?? num(genaiModel.context_length);
  const sampling: SamplingSettings = {
    doSample: typeof g.do_sample === "boolean" ? g.do_sample : DEFAULTS.doSample,
    temperature: num(g.temperature) ?? DEFAULTS.temperature,
    topK: num(g.top_k) ?? DEFAULTS.topK,
    topP: num(g.top_p) ?? DEFAULTS.topP,
    minP: num(g.min_p) ?? DEFAULTS.minP,
    repetitionPenalty: num(g.repetition_penalty) ?? DEFAULTS.repetitionPenalty,
    noRepeatNgramSize: num(g.no_repeat_ngram_size) ?? DEFAULTS.noRepeatNgramSize,
  };
  const o = overrides;
  if (o.temperature !== undefined) {
    check("temperature", o.temperature, Number.isFinite(o.temperature) && o.temperature >= 0, "a number ≥ 0");
  }
  if (o.topK !== undefined) check("top_k", o.topK, Number.isInteger(o.topK) && o.topK >= 0, "an integer ≥ 0");
  if (o.topP !== undefined) check("top_p", o.topP, o.topP > 0 && o.topP <= 1, "a number in (0, 1]");
  if (o.minP !== undefined) check("min_p", o.minP, o.minP >= 0 && o.minP <= 1, "a number in [0, 1]");
  if (o.repetitionPenalty !== undefined) {
    check("repetition_penalty", o.repetitionPenalty, o.repetitionPenalty > 0, "a number > 0");
  }
  if (o.noRepeatNgramSize !== undefined) {
    check(
      "no_repeat_ngram_size",
      o.noRepeatNgramSize,
      Number.isInteger(o.noRepeatNgramSize) && o.noRepeatNgramSize >= 0,
      "an integer ≥ 0",
    );
  }
  for (
    const [name, v] of [["presence_penalty", o.presencePenalty], ["frequency_penalty", o.frequencyPenalty]] as const
  ) {
    if (v !== undefined) check(name, v, Number.isFinite(v) && v >= -2 && v <= 2, "a number in [-2, 2]");
  }
  if (o.maxNewTokens !== undefined) {
    check("max_new_tokens", o.maxNewTokens, Number.isInteger(o.maxNewTokens) && o.maxNewTokens >= 1, "an integer ≥ 1");
  }
  const asksToSample = o.temperature !== undefined || o.topK !== undefined || o.topP !== undefined ||
    o.minP !== undefined;
  const merged: SamplingSettings = {
    doSample: o.doSample ?? (asksToSample ? true : sampling.doSample),
    temperature: o.temperature ?? sampling.temperature,
    topK: o.topK ?? sampling.topK,
    topP: o.topP ?? sampling.topP,
    minP: o.minP ?? sampling.minP,
    repetitionPenalty: o.repetitionPenalty ?? sampling.repetitionPenalty,
    noRepeatNgramSize: o.noRepeatNgramSize ?? sampling.noRepeatNgramSize,
    presencePenalty: o.presencePenalty ?? 0,
    frequencyPenalty: o.frequencyPenalty ?? 0,
  };
  if (merged.temperature === 0 || merged.topK === 1) merged.doSample = false;
  const fileMaxNew = num(g.max_new_tokens);
  const fileMaxLength = num(g.max_length);
  const bos = ids(pick("bos_token_id"))?.[0];
  return {
    ...merged,
    eosTokenIds: eos,
    ...(bos !== undefined ? { bosTokenId: bos } : {}),
    padTokenId: pad,
    ...(o.maxNewTokens ?? fileMaxNew) !== undefined ? { maxNewTokens: o.maxNewTokens ?? fileMaxNew } : {},
    ...(o.maxNewTokens === undefined && fileMaxNew === undefined && fileMaxLength !== undefined
      ? { maxLength: fileMaxLength }
      : {}),
    ...(contextLength !== undefined ? { contextLength } : {}),
  };
}
