/**
 * The decode loop of a decoder-only model with a KV cache: a prefill step over the (left-padded) prompts,
 * then one token per step, each step feeding the previous step's `present.N.*` back as `past_key_values.N.*`
 * and reading only the last position's logits. Rows of a batch stop on their own (an EOS id, a stop
 * string, their token budget); finished rows are fed the pad token until the last row ends, as
 * transformers' `generate` does. An `AbortSignal` is checked after every step: the loop then ends with
 * finish reason `cancelled` and drops its cache.
 *
 * Text is produced as tokens arrive ({@linkcode IncrementalDecoder}), stop strings are checked on it
 * ({@linkcode StopStringMatcher}), and `onText` gets every delta with its row.
 *
 * @module
 */
import type { GpuxSession } from "../runtime/session.ts";
import type { TensorData, TensorMap } from "../runtime/tensors.ts";
import type { TextTokenizer } from "../processing/tokenizer.ts";
import { type DecoderContract, emptyCacheTensor, intTensor } from "./decoder_contract.ts";
import type { SamplingSettings } from "./generation_config.ts";
import { logitsToFloat32, nextToken, type TokenMask } from "./logits_sampler.ts";
import { type TokenLogprobs, tokenLogprobs } from "./token_logprobs.ts";
import type { RandomSource } from "./seeded_random.ts";
import { IncrementalDecoder } from "./incremental_decoder.ts";
import { StopStringMatcher } from "./stop_strings.ts";

/**
 * A per-row rule on which tokens may come next (JSON mode): asked by the sampler, told each chosen token,
 * and able to end the row once its output is complete.
 */
export interface SequenceConstraint extends TokenMask {
  /** Before each step: how many tokens the row may still generate, this one included. */
  prepare(remaining: number): void;
  /** Advances past the chosen token. */
  accept(id: number): void;
  /** True once the output is complete: the row ends with finish reason `stop`. */
  readonly complete: boolean;
}

/** What one step added to one row: its token (with log-probabilities when asked) and the text it let out. */
export interface StepDelta {
  /** The text this step let out (may be "" while text is held back; the end of a row may add text without a token). */
  text: string;
  /** The token chosen at this step (absent for text flushed at the end). */
  tokenId?: number;
  /** Its log-probabilities (when asked for). */
  logprobs?: TokenLogprobs;
}

/** Why a sequence ended. */
export type FinishReason = "stop" | "length" | "cancelled";

/** A single sequence's KV cache after a generation, for the next turn of a chat. */
export interface KvCache {
  /** The ids the cache holds keys and values for (every id fed to the model). */
  ids: number[];
  /** `past_key_values.N.*` tensors for those ids. */
  tensors: TensorMap;
}

/** One decode run. */
export interface DecodeRequest {
  /** Prompt ids per row. */
  prompts: number[][];
  /** New tokens at most, per row. */
  maxNewTokens: number[];
  /** Decoding settings. */
  sampling: SamplingSettings;
  /** Ids that end a row. */
  eosTokenIds: readonly number[];
  /** Id fed for padding and for finished rows. */
  padTokenId: number;
  /** Stop strings (checked on the decoded text; never emitted). */
  stop: readonly string[];
  /** Random numbers for sampling. */
  random: RandomSource;
  /** Leave special tokens out of the text (default true). */
  skipSpecialTokens?: boolean;
  /** Cancels within one step. */
  signal?: AbortSignal;
  /** A single row's cache from an earlier run: reused when the prompt extends its ids. */
  cache?: KvCache;
  /** Gets every text delta as it is decoded. */
  onText?: (index: number, text: string) => void;
  /** Gets every step's token, its log-probabilities and the text it let out, per row. */
  onStep?: (index: number, delta: StepDelta) => void;
  /** Log-probabilities of each generated token with this many alternatives (undefined: none computed). */
  logprobs?: number;
  /** A fresh constraint for each row (JSON mode), given the vocabulary size (the logits' width). */
  constraint?: (vocab: number) => SequenceConstraint;
}

/** One row's outcome. */
export interface SequenceOutcome {
  /** The prompt ids. */
  promptIds: number[];
  /** The generated ids (an EOS id that ended the row included). */
  generatedIds: number[];
  /** The generated text (the stop string and what follows left out). */
  text: string;
  /** Why it ended. */
  finishReason: FinishReason;
  /** Per generated token, when asked for. */
  logprobs?: TokenLogprobs[];
}

/** The outcome of a run. */
export interface DecodeOutcome {
  /** One per prompt. */
  sequences: SequenceOutcome[];
  /** The cache (a single row only; absent after a cancellation or for a graph without a cache). */
  cache?: KvCache;
  /** Prompt tokens whose keys and values came from the reused cache. */
  cachedTokens: number;
  /** Milliseconds of the prefill step (prompt through the model and the first token chosen). */
  prefillMs: number;
  /** Milliseconds of all later steps. */
  decodeMs: number;
  /** Steps after the prefill. */
  decodeSteps: number;
}

interface Row {
  prompt: number[];
  generated: number[];
  maxNew: number;
  done: boolean;
  reason: FinishReason;
  decoder: IncrementalDecoder;
  stopper: StopStringMatcher;
  text: string;
  logprobs?: TokenLogprobs[];
  constraint?: SequenceConstraint;
}

/** Runs prefill and decode steps until every row has finished. */
export async function decode(
  session: GpuxSession,
  contract: DecoderContract,
  tokenizer: TextTokenizer,
  request: DecodeRequest,
): Promise<DecodeOutcome> {
  const batch = request.prompts.length;
  const skipSpecial = request.skipSpecialTokens ?? true;
  const eos = new Set(request.eosTokenIds);
  const rows: Row[] = request.prompts.map((prompt, i) => ({
    prompt,
    generated: [],
    maxNew: request.maxNewTokens[i],
    done: false,
    reason: "length",
    decoder: new IncrementalDecoder(tokenizer, { skipSpecialTokens: skipSpecial }),
    stopper: new StopStringMatcher(request.stop),
    text: "",
    ...(request.logprobs !== undefined ? { logprobs: [] } : {}),
  }));
  let stepText = "";
  const emit = (i: number, text: string) => {
    if (!text) return;
    rows[i].text += text;
    stepText += text;
    request.onText?.(i, text);
  };
  const hasCache = contract.layers.length > 0;
  let past: TensorMap = {};
  let pastLength = 0;
  let cachedTokens = 0;
  // per row: the attention mask over everything fed so far, and the next position id
  const masks: number[][] = [];
  const nextPosition: number[] = [];
  let input: number[][]; // ids fed in this step, per row
  let positions: number[][];
  const reusable = request.cache && batch === 1 && hasCache &&
    request.cache.ids.length < request.prompts[0].length &&
    request.cache.ids.every((id, i) => id === request.prompts[0][i]);
  if (reusable) {
    const cache = request.cache!;
    past = cache.tensors;
    pastLength = cache.ids.length;
    cachedTokens = pastLength;
    input = [request.prompts[0].slice(pastLength)];
    masks.push(new Array(request.prompts[0].length).fill(1));
    positions = [input[0].map((_, j) => pastLength + j)];
    nextPosition.push(request.prompts[0].length);
  } else {
    const width = Math.max(...request.prompts.map((p) => p.length));
    input = [];
    positions = [];
    for (const prompt of request.prompts) {
      const pad = width - prompt.length;
      input.push([...new Array(pad).fill(request.padTokenId), ...prompt]);
      masks.push([...new Array(pad).fill(0), ...new Array(prompt.length).fill(1)]);
      // transformers: cumsum(mask) - 1, padding positions set to 1
      positions.push([...new Array(pad).fill(1), ...prompt.map((_, j) => j)]);
      nextPosition.push(prompt.length);
    }
    if (hasCache) {
      for (const layer of contract.layers) {
        past[layer.pastKey] = emptyCacheTensor(contract, batch);
        past[layer.pastValue] = emptyCacheTensor(contract, batch);
      }
    }
  }
  // a graph without a cache re-reads the whole sequence every step
  const fullInput = hasCache ? undefined : input.map((r) => [...r]);
  const fullPositions = hasCache ? undefined : positions.map((r) => [...r]);
  let prefillMs = 0;
  let decodeMs = 0;
  let steps = 0;
  let first = true;
  const choices: SequenceChoice[] = rows.map((row) => ({
    prompt: row.prompt,
    sampling: request.sampling,
    random: request.random,
    maxNew: row.maxNew,
    isEos: (token) => eos.has(token),
    constraint: request.constraint,
    topLogprobs: request.logprobs,
  }));
  const emitters = rows.map((_, b) => (text: string) => emit(b, text));
  let cancelled = false;
  for (let rowsDone = 0; rowsDone < batch;) {
    if (request.signal?.aborted) {
      cancelled = true;
      break;
    }
    const started = performance.now();
    const feedIds = fullInput ?? input;
    const feedPositions = fullPositions ?? positions;
    const n = feedIds[0].length;
    const feeds: TensorMap = {
      [contract.inputIds.name]: intTensor(contract.inputIds.dtype, [batch, n], feedIds.flat()),
    };
    if (contract.attentionMask) {
      feeds[contract.attentionMask.name] = intTensor(
        contract.attentionMask.dtype,
        [batch, masks[0].length],
        masks.flat(),
      );
    }
    if (contract.positionIds) {
      feeds[contract.positionIds.name] = intTensor(contract.positionIds.dtype, [batch, n], feedPositions.flat());
    }
    if (contract.logitsToKeep) {
      feeds[contract.logitsToKeep.name] = intTensor(contract.logitsToKeep.dtype, contract.logitsToKeep.shape, [1]);
    }
    if (contract.useCacheBranch) {
      feeds[contract.useCacheBranch] = { dtype: "bool", shape: [1], data: Uint8Array.of(pastLength > 0 ? 1 : 0) };
    }
    Object.assign(feeds, past);
    const outputs = await session.run(feeds);
    const logits = outputs[contract.logits] as TensorData;
    if (hasCache) {
      const next: TensorMap = {};
      for (const layer of contract.layers) {
        next[layer.pastKey] = outputs[layer.presentKey];
        next[layer.pastValue] = outputs[layer.presentValue];
      }
      past = next;
      pastLength += n;
    }
    const vocab = logits.shape[logits.shape.length - 1];
    const seqOut = logits.shape.length === 3 ? logits.shape[1] : 1;
    const step: number[] = [];
    for (let b = 0; b < batch; b++) {
      const row = rows[b];
      if (row.done) {
        step.push(request.padTokenId);
        continue;
      }
      const offset = (b * seqOut + seqOut - 1) * vocab;
      const scores = logitsToFloat32(logits.data as Float32Array | Uint16Array, offset, vocab);
      stepText = "";
      const { token, logprobs } = advanceSequence(row, scores, choices[b], tokenizer, emitters[b]);
      step.push(token);
      request.onStep?.(b, { text: stepText, tokenId: token, ...(logprobs ? { logprobs } : {}) });
      if (row.done) rowsDone++;
    }
    const elapsed = performance.now() - started;
    if (first) {
      prefillMs = elapsed;
      first = false;
    } else {
      decodeMs += elapsed;
      steps++;
    }
    for (let b = 0; b < batch; b++) {
      masks[b].push(1);
      if (fullInput) {
        fullInput[b].push(step[b]);
        fullPositions![b].push(nextPosition[b]);
      }
      input[b] = [step[b]];
      positions[b] = [nextPosition[b]];
      nextPosition[b]++;
    }
  }
  if (cancelled) {
    past = {};
    for (let b = 0; b < batch; b++) {
      const row = rows[b];
      if (!row.done) {
        row.done = true;
        row.reason = "cancelled";
        stepText = "";
        emit(b, row.decoder.flush());
        emit(b, row.stopper.flush());
        if (stepText) request.onStep?.(b, { text: stepText });
      }
    }
  }
  const cache = !cancelled && batch === 1 && hasCache
    ? { ids: [...rows[0].prompt, ...rows[0].generated.slice(0, -1)], tensors: past }
    : undefined;
  return {
    sequences: rows.map((r) => ({
      promptIds: r.prompt,
      generatedIds: r.generated,
      text: r.text,
      finishReason: r.reason,
      ...(r.logprobs ? { logprobs: r.logprobs } : {}),
    })),
    ...(cache ? { cache } : {}),
    cachedTokens,
    prefillMs,
    decodeMs,
    decodeSteps: steps,
  };
}

/** A sequence's decoding state: what {@linkcode advanceSequence} reads and updates. */
export interface SequenceState {
  /** Ids chosen so far. */
  generated: number[];
  /** Whether it has ended. */
  done: boolean;
  /** Why it ended. */
  reason: FinishReason;
  /** Turns its ids into text. */
  decoder: IncrementalDecoder;
  /** Holds back text that may begin a stop string. */
  stopper: StopStringMatcher;
  /** Each chosen id's logprobs, when asked for. */
  logprobs?: TokenLogprobs[];
  /** Its JSON constraint, made at its first step. */
  constraint?: SequenceConstraint;
}

/** How a sequence chooses its ids: the settings {@linkcode advanceSequence} reads. */
export interface SequenceChoice {
  /** The prompt's ids (the history the penalties look at begins with them). */
  prompt: readonly number[];
  /** Temperature, top-k/p, penalties. */
  sampling: SamplingSettings;
  /** Random numbers for sampling. */
  random: RandomSource;
  /** Most new ids. */
  maxNew: number;
  /** Whether an id ends the sequence. */
  isEos(token: number): boolean;
  /** Its JSON constraint, given the vocabulary size. */
  constraint?: (vocab: number) => SequenceConstraint;
  /** Alternatives reported with each id's logprob (undefined: no logprobs). */
  topLogprobs?: number;
}

/**
 * One step of one sequence, the same in the decode loop and in the continuous batch (continuous_batch.ts): chooses
 * the next id from `scores` (penalties over the history, the JSON constraint, sampling), records it and its logprobs,
 * decodes it and ends the sequence on a stop string, an EOS id, a complete constraint or its budget. Text goes to
 * `emit` as it is let out.
 */
export function advanceSequence(
  state: SequenceState,
  scores: Float32Array,
  choice: SequenceChoice,
  tokenizer: TextTokenizer,
  emit: (text: string) => void,
): { token: number; logprobs?: TokenLogprobs } {
  const { sampling } = choice;
  const needsHistory = sampling.repetitionPenalty !== 1 || sampling.noRepeatNgramSize > 0;
  const history = needsHistory ? [...choice.prompt, ...state.generated] : [];
  const raw = choice.topLogprobs !== undefined ? scores.slice() : undefined;
  if (choice.constraint && !state.constraint) state.constraint = choice.constraint(scores.length);
  state.constraint?.prepare(choice.maxNew - state.generated.length);
  const token = nextToken(scores, history, sampling, choice.random, {
    generated: state.generated,
    mask: state.constraint,
  });
  state.generated.push(token);
  state.constraint?.accept(token);
  const logprobs = raw ? tokenLogprobs(tokenizer, raw, token, choice.topLogprobs!) : undefined;
  if (logprobs) state.logprobs!.push(logprobs);
  // an EOS id is decoded too: a special one decodes to nothing, an ordinary token in the EOS list to its text
  const check = state.stopper.push(state.decoder.push(token));
  emit(check.text);
  if (check.stopped) {
    state.done = true;
    state.reason = "stop";
  } else if (choice.isEos(token) || state.constraint?.complete) finishSequence(state, "stop", emit);
  else if (state.generated.length >= choice.maxNew) finishSequence(state, "length", emit);
  return logprobs ? { token, logprobs } : { token };
}

function finishSequence(state: SequenceState, reason: FinishReason, emit: (text: string) => void): void {
  state.done = true;
  state.reason = reason;
  const tail = state.stopper.push(state.decoder.flush());
  emit(tail.text);
  if (!tail.stopped) emit(state.stopper.flush());
}
