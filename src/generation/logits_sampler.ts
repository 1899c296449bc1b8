/**
 * From one position's logits to the next token, in transformers' order: the processors that apply in
 * greedy decoding too (repetition penalty, OpenAI's presence and frequency penalties, no-repeat n-grams),
 * then, when sampling, the warpers (temperature, top-k, top-p, min-p) and a draw from a seeded
 * {@linkcode RandomSource}. A {@linkcode TokenMask} (JSON mode) is asked about the best candidates first:
 * greedy takes the best allowed one, sampling draws among the allowed ones of its top-k window, and only
 * when none of those is allowed is the whole vocabulary masked.
 *
 * Sampling looks only at the tokens that can matter: those within `e^-40` of the most likely one (or the
 * top-k), so that a 150,000-token vocabulary is not sorted every step.
 *
 * @module
 */
import type { SamplingSettings } from "./generation_config.ts";
import type { RandomSource } from "./seeded_random.ts";

/** Copies a row of logits into a fresh Float32Array (float16 bit patterns converted). */
export function logitsToFloat32(data: Float32Array | Uint16Array, offset: number, vocab: number): Float32Array {
  if (data instanceof Float32Array) return data.slice(offset, offset + vocab);
  const out = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) out[i] = halfToFloat(data[offset + i]);
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Repetition penalty (in place): a seen token's logit is divided by `penalty` when positive, multiplied when negative. */
export function applyRepetitionPenalty(logits: Float32Array, sequence: readonly number[], penalty: number): void {
  if (penalty === 1) return;
  const seen = new Set(sequence);
  for (const id of seen) {
    if (id < 0 || id >= logits.length) continue;
    const v = logits[id];
    logits[id] = v < 0 ? v * penalty : v / penalty;
  }
}

/**
 * OpenAI's presence and frequency penalties (in place): each token already generated loses
 * `presence` once and `frequency` times its count — `logit -= presence·[count > 0] + frequency·count`.
 * Only generated tokens count, not the prompt's (as the OpenAI API and vLLM do).
 */
export function applyPresenceFrequencyPenalty(
  logits: Float32Array,
  generated: readonly number[],
  presence: number,
  frequency: number,
): void {
  if ((presence === 0 && frequency === 0) || generated.length === 0) return;
  const counts = new Map<number, number>();
  for (const id of generated) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, count] of counts) {
    if (id < 0 || id >= logits.length) continue;
    logits[id] -= presence + frequency * count;
  }
}

/** Which tokens may come next (the JSON constraint); the sampler asks about its best candidates first. */
export interface TokenMask {
  /** True when token `id` may come next. */
  allows(id: number): boolean;
  /** Sets every token that may not come next to −∞ (the fallback when no good candidate is allowed). */
  maskAll(logits: Float32Array): void;
}

/** What {@linkcode nextToken} needs beyond the whole sequence. */
export interface NextTokenContext {
  /** The ids generated so far (presence and frequency penalties count these only). */
  generated?: readonly number[];
  /** Tokens that may not come next are never chosen. */
  mask?: TokenMask;
}

/** No-repeat n-grams (in place): a token that would complete an n-gram already in `sequence` gets −∞. */
export function banRepeatedNgrams(logits: Float32Array, sequence: readonly number[], n: number): void {
  if (n <= 0 || sequence.length + 1 < n) return;
  const start = sequence.length - n + 1; // the n−1 tokens the next one would extend
  for (let i = 0; i + n <= sequence.length; i++) {
    let match = true;
    for (let j = 0; j < n - 1; j++) {
      if (sequence[i + j] !== sequence[start + j]) {
        match = false;
        break;
      }
    }
    if (match) {
      const banned = sequence[i + n - 1];
      if (banned >= 0 && banned < logits.length) logits[banned] = -Infinity;
    }
  }
}

/** Index of the largest logit (the first one on a tie, as `argmax` does). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > max) {
      max = logits[i];
      best = i;
    }
  }
  return best;
}

/** Chooses the next token from one position's logits (modified in place). */
export function nextToken(
  logits: Float32Array,
  sequence: readonly number[],
  settings: SamplingSettings,
  random: RandomSource,
  context: NextTokenContext = {},
): number {
  applyRepetitionPenalty(logits, sequence, settings.repetitionPenalty);
  applyPresenceFrequencyPenalty(
    logits,
    context.generated ?? [],
    settings.presencePenalty ?? 0,
    settings.frequencyPenalty ?? 0,
  );
  banRepeatedNgrams(logits, sequence, settings.noRepeatNgramSize);
  const mask = context.mask;
  if (!settings.doSample || settings.temperature === 0 || settings.topK === 1) {
    if (!mask) return argmax(logits);
    // walk the best candidates first: usually the first or second is allowed
    for (const id of topKIndices(logits, GREEDY_WINDOW, -Infinity)) if (mask.allows(id)) return id;
    mask.maskAll(logits);
    return argmax(logits);
  }
  return sample(logits, settings, random, mask);
}

/** Candidates greedy decoding checks against a mask before it masks the whole vocabulary. */
const GREEDY_WINDOW = 16;
/** A sampling window larger than this is masked whole rather than checked token by token. */
const SAMPLE_WINDOW = 1024;

function sample(logits: Float32Array, settings: SamplingSettings, random: RandomSource, mask?: TokenMask): number {
  const t = settings.temperature;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) return 0;
  // candidates: within e^-40 of the best after temperature (the rest cannot be drawn in float64 anyway)
  const floor = max - 40 * t;
  let candidates: number[];
  if (settings.topK > 0 && settings.topK <= 256) candidates = topKIndices(logits, settings.topK, floor);
  else {
    candidates = [];
    for (let i = 0; i < logits.length; i++) if (logits[i] >= floor) candidates.push(i);
    candidates.sort((a, b) => logits[b] - logits[a] || a - b);
    if (settings.topK > 0 && candidates.length > settings.topK) {
      // keep ties with the k-th, as transformers' `scores < kth` does
      const kth = logits[candidates[settings.topK - 1]];
      let k = settings.topK;
      while (k < candidates.length && logits[candidates[k]] >= kth) k++;
      candidates = candidates.slice(0, k);
    }
  }
  if (mask) {
    const allowed = candidates.length <= SAMPLE_WINDOW ? candidates.filter((id) => mask.allows(id)) : [];
    if (allowed.length === 0) {
      // nothing in the window may come next: mask the vocabulary and sample from what is left
      mask.maskAll(logits);
      return sample(logits, settings, random);
    }
    candidates = allowed;
  }
  let probs = candidates.map((i) => Math.exp((logits[i] - max) / t));
  let total = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / total);
  let keep = probs.length;
  if (settings.topP < 1) {
    // drop the least likely tokens while what remains still adds up to at least top_p (keep one at least)
    let cumulative = 0;
    let drop = 0;
    for (let i = probs.length - 1; i > 0; i--) {
      cumulative += probs[i];
      if (cumulative <= 1 - settings.topP) drop = probs.length - i;
      else break;
    }
    keep = probs.length - drop;
  }
  if (settings.minP > 0) {
    const threshold = settings.minP * probs[0];
    let k = 1;
    while (k < keep && probs[k] >= threshold) k++;
    keep = k;
  }
  total = 0;
  for (let i = 0; i < keep; i++) total += probs[i];
  let r = random.next() * total;
  for (let i = 0; i < keep; i++) {
    r -= probs[i];
    if (r < 0) return candidates[i];
  }
  return candidates[keep - 1];
}

/** The `k` largest logits' indices (at least `floor`), best first, ties with the k-th kept — one pass, no full sort. */
function topKIndices(logits: Float32Array, k: number, floor: number): number[] {
  const top: number[] = []; // sorted best first
  let worst = floor;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v < worst) continue;
    let at = top.length;
    while (at > 0 && logits[top[at - 1]] < v) at--;
    top.splice(at, 0, i);
    if (top.length > k) {
      // drop the tail below the k-th (keeping ties with it)
      const kth = logits[top[k - 1]];
      let keep = k;
      while (keep < top.length && logits[top[keep]] >= kth) keep++;
      top.length = keep;
    }
    if (top.length >= k) worst = logits[top[k - 1]];
  }
  return top;
}
