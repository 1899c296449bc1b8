/**
 * Whisper's logits rules, applied to each step's logits before the next token is chosen, in transformers' order:
 * `begin_suppress_tokens` at the first generated position, `suppress_tokens` always, then (with timestamps) the
 * timestamp rules of WhisperTimeStampLogitsProcessor — `<|notimestamps|>` never; timestamps in pairs (after a lone
 * timestamp only a timestamp or a non-text token, after a pair no timestamp); timestamps never decrease; the first
 * token is a timestamp no later than `max_initial_timestamp_index`; and when the probabilities of all timestamps
 * together beat the most likely text token, a timestamp. Also language detection: the most probable language
 * token after `<|startoftranscript|>`.
 *
 * @module
 */
import type { WhisperTokens } from "./whisper_tokens.ts";

/** Options of {@linkcode WhisperLogitsRules}. */
export interface WhisperRulesOptions {
  /** Timestamp rules on (no `<|notimestamps|>` in the prompt). */
  timestamps: boolean;
}

/** The logits rules of one decoding (stateless between steps: each call sees the ids generated so far). */
export class WhisperLogitsRules {
  readonly #tokens: WhisperTokens;
  readonly #timestamps: boolean;

  /** Rules for `tokens`' checkpoint. */
  constructor(tokens: WhisperTokens, options: WhisperRulesOptions) {
    this.#tokens = tokens;
    this.#timestamps = options.timestamps;
  }

  /**
   * Masks (sets to -Infinity) the ids the rules forbid at this step, in place. `generated` holds the ids generated
   * after the prompt so far (none at the first step).
   */
  apply(logits: Float32Array, generated: readonly number[]): void {
    const t = this.#tokens;
    const vocab = logits.length;
    const ban = (from: number, to: number) => {
      for (let i = Math.max(0, from); i < Math.min(to, vocab); i++) logits[i] = -Infinity;
    };
    if (generated.length === 0) { for (const id of t.beginSuppress) if (id < vocab) logits[id] = -Infinity; }
    for (const id of t.suppress) if (id < vocab) logits[id] = -Infinity;
    if (!this.#timestamps) return;

    const begin = t.timestampBegin;
    if (t.noTimestamps < vocab) logits[t.noTimestamps] = -Infinity;
    const n = generated.length;
    const lastWasTimestamp = n >= 1 && generated[n - 1] >= begin;
    const penultimateWasTimestamp = n < 2 || generated[n - 2] >= begin;
    if (lastWasTimestamp) {
      if (penultimateWasTimestamp) ban(begin, vocab); // a pair just closed: text next
      else ban(0, t.endOfText); // a lone timestamp: its pair (or the end) next, no text
    }
    let lastTimestamp = -1;
    for (let i = n - 1; i >= 0; i--) {
      if (generated[i] >= begin) {
        lastTimestamp = generated[i];
        break;
      }
    }
    if (lastTimestamp >= 0) {
      // never decreasing; after a closed pair not even equal
      ban(begin, lastWasTimestamp && !penultimateWasTimestamp ? lastTimestamp : lastTimestamp + 1);
    }
    if (n === 0) {
      ban(0, begin);
      if (t.maxInitialTimestampIndex !== undefined) ban(begin + t.maxInitialTimestampIndex + 1, vocab);
    }
    // all timestamps together more likely than the best text token: a timestamp
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) if (logits[i] > max) max = logits[i];
    if (max === -Infinity) return;
    let sumAll = 0;
    let sumTimestamps = 0;
    let maxText = -Infinity;
    for (let i = 0; i < vocab; i++) {
      const x = logits[i];
      if (x === -Infinity) continue;
      const e = Math.exp(x - max);
      sumAll += e;
      if (i >= begin) sumTimestamps += e;
      else if (x > maxText) maxText = x;
    }
    const logZ = Math.log(sumAll) + max;
    const timestampLogProb = sumTimestamps > 0 ? Math.log(sumTimestamps) + max - logZ : -Infinity;
    const maxTextLogProb = maxText - logZ;
    if (timestampLogProb > maxTextLogProb) ban(0, begin);
  }
}

/** The language Whisper hears, from the logits after `<|startoftranscript|>`. */
export interface DetectedLanguage {
  /** The language code (`en`). */
  language: string;
  /** Its token id. */
  id: number;
  /** Its probability among the language tokens. */
  probability: number;
}

/**
 * The most probable language token in `logits` (the step after `<|startoftranscript|>`), as transformers'
 * `detect_language` picks it (argmax over the language tokens only).
 *
 * @example
 * ```ts
 * // the language tokens of a tiny vocabulary: <|en|> is id 4, <|de|> id 5 (readWhisperTokens reads them from
 * // generation_config.json)
 * const languages = new Map([["<|en|>", 4], ["<|de|>", 5]]);
 * const tokens = {
 *   startOfTranscript: 3, endOfText: 0, noTimestamps: 6, timestampBegin: 7, languages, tasks: new Map([["transcribe", 1]]),
 *   suppress: [], beginSuppress: [], timePrecision: 0.02,
 * };
 * detectLanguage(Float32Array.of(9, 0, 0, 0, 1, 2, 0), tokens).language; // "de"
 * ```
 */
export function detectLanguage(logits: Float32Array, tokens: WhisperTokens): DetectedLanguage {
  let best: [string, number] | undefined;
  let max = -Infinity;
  for (const [code, id] of tokens.languages) {
    if (id < logits.length && (best === undefined || logits[id] > max)) {
      best = [code, id];
      max = logits[id];
    }
  }
  if (!best) throw new Error("no language token is within the logits");
  let sum = 0;
  for (const id of tokens.languages.values()) if (id < logits.length) sum += Math.exp(logits[id] - max);
  return { language: best[0], id: best[1], probability: 1 / sum };
}
