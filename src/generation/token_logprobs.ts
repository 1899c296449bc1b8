/**
 * Log-probabilities of generated tokens, as the OpenAI API reports them (`logprobs`, `top_logprobs`): for each
 * generated token its log-probability, its text, its bytes and the most likely alternatives at that step.
 *
 * They are the log-softmax of the model's raw logits at that step — before repetition/presence/frequency
 * penalties, temperature, top-k/top-p and any JSON mask — as vLLM reports by default (`raw_logprobs`): the
 * model's own belief, the same number whether the token was sampled or chosen greedily. A token the sampler
 * picked under a mask or penalty keeps the model's log-probability for it.
 *
 * @module
 */
import type { TextTokenizer } from "../processing/tokenizer.ts";
import { tokenByteTable } from "./token_bytes.ts";

/** Most alternatives per token (OpenAI's `top_logprobs` bound). */
export const MAX_TOP_LOGPROBS = 20;

/** One token with its log-probability. */
export interface TokenLogprob {
  /** The token's text (a token holding part of a UTF-8 character shows U+FFFD; `bytes` has the truth). */
  token: string;
  /** The token id. */
  id: number;
  /** Natural log of its probability. */
  logprob: number;
  /** Its UTF-8 bytes. */
  bytes: number[];
}

/** A generated token's log-probability and the `top` most likely tokens at its step (best first). */
export interface TokenLogprobs extends TokenLogprob {
  /** The most likely tokens at that step, best first (`topLogprobs` of them; empty when 0). */
  top: TokenLogprob[];
}

const decoder = new TextDecoder();

/** Describes token `id` (text and bytes) with its log-probability. */
export function describeToken(tokenizer: TextTokenizer, vocab: number, id: number, logprob: number): TokenLogprob {
  const table = tokenByteTable(tokenizer, vocab);
  let bytes = table.bytes[id];
  if (!bytes) bytes = new TextEncoder().encode(tokenizer.idToToken(id) ?? "");
  return { token: decoder.decode(bytes), id, logprob, bytes: [...bytes] };
}

/**
 * The log-probability of `chosen` and the `top` best tokens from one step's raw logits (not modified).
 * One pass for the maximum, one for the sum, one for the top list.
 */
export function tokenLogprobs(
  tokenizer: TextTokenizer,
  logits: Float32Array,
  chosen: number,
  top: number,
): TokenLogprobs {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const best: number[] = [];
  if (top > 0) {
    for (let i = 0; i < logits.length; i++) {
      const v = logits[i];
      if (best.length === top && v <= logits[best[top - 1]]) continue;
      let at = best.length;
      while (at > 0 && logits[best[at - 1]] < v) at--;
      best.splice(at, 0, i);
      if (best.length > top) best.length = top;
    }
  }
  const vocab = logits.length;
  return {
    ...describeToken(tokenizer, vocab, chosen, logits[chosen] - lse),
    top: best.map((id) => describeToken(tokenizer, vocab, id, logits[id] - lse)),
  };
}
