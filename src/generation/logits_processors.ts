/**
 * Logits processors of encoder-decoder generation, as transformers applies them: each sees one row's scores
 * (raw logits in greedy decoding and sampling, log-probabilities in beam search — the same masks either way)
 * and the row's decoder ids so far, and edits the scores in place. The built-in ones come from
 * generation_config.json: `bad_words_ids` (Marian bans its pad token), `min_length`/`min_new_tokens`,
 * `forced_bos_token_id`, `forced_eos_token_id`, `suppress_tokens`, `begin_suppress_tokens`. Callers add their
 * own (Whisper's timestamp rules) with the same {@linkcode LogitsProcessor} shape.
 *
 * @module
 */

/** What a processor knows about the row it edits. */
export interface LogitsContext {
  /** Decoder ids so far: the decoder prompt (start token, forced ids) then the generated ids. */
  ids: readonly number[];
  /** Length of the decoder prompt. */
  promptLength: number;
  /** Tokens generated so far (`ids.length - promptLength`). */
  generated: number;
  /** Decoder length at most (`promptLength + maxNewTokens`). */
  maxLength: number;
  /** The row's input index in the batch (for beams: the input it belongs to). */
  batchIndex: number;
}

/** Edits one row's scores in place (−∞ bans a token). */
export type LogitsProcessor = (scores: Float32Array, context: LogitsContext) => void;

/** Bans `ids` everywhere. */
export function suppressTokens(ids: readonly number[]): LogitsProcessor {
  return (scores) => {
    for (const id of ids) if (id >= 0 && id < scores.length) scores[id] = -Infinity;
  };
}

/** Bans `ids` at the first generated position only (`begin_suppress_tokens`). */
export function suppressAtBegin(ids: readonly number[]): LogitsProcessor {
  return (scores, context) => {
    if (context.generated !== 0) return;
    for (const id of ids) if (id >= 0 && id < scores.length) scores[id] = -Infinity;
  };
}

/** Only `id` at the first generated position (`forced_bos_token_id`: all else −∞, it 0). */
export function forceAtBegin(id: number): LogitsProcessor {
  return (scores, context) => {
    if (context.ids.length !== 1) return; // transformers: cur_len == 1
    forceToken(scores, id);
  };
}

/** Only `ids` at the last position the budget allows (`forced_eos_token_id`). */
export function forceAtEnd(ids: readonly number[]): LogitsProcessor {
  return (scores, context) => {
    if (context.ids.length !== context.maxLength - 1) return;
    scores.fill(-Infinity);
    for (const id of ids) if (id >= 0 && id < scores.length) scores[id] = 0;
  };
}

/** No EOS before the decoder holds `minLength` ids (`min_length`, prompt included, as transformers counts). */
export function minLength(minLength: number, eos: readonly number[]): LogitsProcessor {
  return (scores, context) => {
    if (context.ids.length >= minLength) return;
    for (const id of eos) if (id >= 0 && id < scores.length) scores[id] = -Infinity;
  };
}

/** No EOS before `minNew` tokens were generated (`min_new_tokens`). */
export function minNewTokens(minNew: number, eos: readonly number[]): LogitsProcessor {
  return (scores, context) => {
    if (context.generated >= minNew) return;
    for (const id of eos) if (id >= 0 && id < scores.length) scores[id] = -Infinity;
  };
}

/** `bad_words_ids`: a one-token entry is always banned, a longer one bans its last token after its prefix. */
export function badWords(sequences: readonly (readonly number[])[]): LogitsProcessor {
  return (scores, context) => {
    const ids = context.ids;
    for (const seq of sequences) {
      if (seq.length === 0) continue;
      const last = seq[seq.length - 1];
      if (last < 0 || last >= scores.length) continue;
      const prefix = seq.length - 1;
      if (prefix > ids.length) continue;
      let match = true;
      for (let j = 0; j < prefix; j++) {
        if (ids[ids.length - prefix + j] !== seq[j]) {
          match = false;
          break;
        }
      }
      if (match) scores[last] = -Infinity;
    }
  };
}

function forceToken(scores: Float32Array, id: number): void {
  scores.fill(-Infinity);
  if (id >= 0 && id < scores.length) scores[id] = 0;
}

type Json = Record<string, unknown>;

function idList(v: unknown): number[] {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === "number" && Number.isInteger(x) && x >= 0);
  return [];
}

/**
 * The processors generation_config.json (then config.json) asks for, in transformers' order.
 * `eos` is the EOS list in force; `skipForcedEos` leaves `forced_eos_token_id` out.
 */
export function configProcessors(
  generationConfig: Json | undefined,
  config: Json | undefined,
  eos: readonly number[],
  options: { minNewTokens?: number } = {},
): LogitsProcessor[] {
  const g = generationConfig ?? {};
  const c = config ?? {};
  const pick = (key: string) => g[key] ?? c[key];
  const out: LogitsProcessor[] = [];
  const bad = pick("bad_words_ids");
  if (Array.isArray(bad)) {
    const lists = bad.filter(Array.isArray).map((l) => idList(l)).filter((l) => l.length > 0);
    if (lists.length) out.push(badWords(lists));
  }
  const minLen = pick("min_length");
  if (typeof minLen === "number" && minLen > 0 && eos.length) out.push(minLength(minLen, eos));
  const minNew = options.minNewTokens ?? pick("min_new_tokens");
  if (typeof minNew === "number" && minNew > 0 && eos.length) out.push(minNewTokens(minNew, eos));
  const bos = idList(pick("forced_bos_token_id"));
  if (bos.length) out.push(forceAtBegin(bos[0]));
  const forcedEos = idList(pick("forced_eos_token_id"));
  if (forcedEos.length) out.push(forceAtEnd(forcedEos));
  const suppress = idList(pick("suppress_tokens"));
  if (suppress.length) out.push(suppressTokens(suppress));
  const begin = idList(pick("begin_suppress_tokens"));
  if (begin.length) out.push(suppressAtBegin(begin));
  return out;
}
