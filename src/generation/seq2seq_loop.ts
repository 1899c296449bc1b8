/**
 * The decode loop of an encoder-decoder model: the encoder runs once per batch; the first decoder step feeds the
 * decoder prompt (start token, forced ids) with the encoder's hidden states and keeps the cross-attention keys and
 * values it returns (`present.N.encoder.*`) for every later step, while the decoder's own cache
 * (`present.N.decoder.*` → `past_key_values.N.decoder.*`) grows by one token per step. A decoder without a
 * cross-attention cache (GPT-2 under a VisionEncoderDecoder) gets `encoder_hidden_states` at every step instead. Greedy decoding and
 * sampling reuse the decoder-only pieces ({@linkcode nextToken}'s sampler, {@linkcode IncrementalDecoder},
 * {@linkcode StopStringMatcher}); `numBeams > 1` runs {@linkcode BeamSearch} over `batch × numBeams` rows, the
 * cache reordered by the beams' sources each step.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { GpuxSession } from "../runtime/session.ts";
import type { TensorData, TensorMap } from "../runtime/tensors.ts";
import type { TextTokenizer } from "../processing/tokenizer.ts";
import { intTensor } from "./decoder_contract.ts";
import type { SamplingSettings } from "./generation_config.ts";
import { applyRepetitionPenalty, argmax, banRepeatedNgrams, logitsToFloat32, nextToken } from "./logits_sampler.ts";
import type { RandomSource } from "./seeded_random.ts";
import { IncrementalDecoder } from "./incremental_decoder.ts";
import { StopStringMatcher } from "./stop_strings.ts";
import type { FinishReason } from "./decode_loop.ts";
import type { LogitsContext, LogitsProcessor } from "./logits_processors.ts";
import { BeamSearch, beamsFinished, type EarlyStopping } from "./beam_search.ts";
import type { Seq2SeqDecoderContract } from "./seq2seq_contract.ts";

/** The sessions of an encoder-decoder model. */
export interface Seq2SeqSessions {
  /** `encoder_model.onnx`. */
  encoder: GpuxSession;
  /** The encoder's hidden-states output name. */
  encoderOutput: string;
  /** `decoder_model_merged.onnx`, or `decoder_model.onnx` (the first step) in the split layout. */
  decoder: GpuxSession;
  /** `decoder_with_past_model.onnx` (split layout only). */
  decoderWithPast?: GpuxSession;
  /** The decoder graphs' names by role. */
  contract: Seq2SeqDecoderContract;
}

/** One step's view of a row, for {@linkcode Seq2SeqRequest.onStep}. */
export interface StepInfo {
  /** Row index: the input's index (greedy and sampling), or `input × numBeams + beam` (beam search). */
  row: number;
  /** Tokens generated before this step. */
  generated: number;
  /** The processed scores the token was chosen from (logits; log-probabilities in beam search). */
  scores: Float32Array;
  /** The token chosen (greedy and sampling; −1 in beam search, where beams choose together). */
  token: number;
}

/** One encoder-decoder run. */
export interface Seq2SeqRequest {
  /** Encoder feeds for the whole batch (`input_ids` + `attention_mask`, `pixel_values`, `input_features`). */
  encoderFeeds: TensorMap;
  /** The encoder's attention mask per row, for `encoder_attention_mask` (all ones when absent). */
  encoderMask?: number[][];
  /**
   * The encoder's hidden states of these feeds from an earlier run ({@linkcode Seq2SeqOutcome.encoderHidden}): the
   * encoder is then not run again (Whisper's language detection and its transcription share one encoder pass).
   */
  encoderHidden?: TensorData;
  /** Rows in the batch. */
  batch: number;
  /** Decoder prompt per row (all the same length): the start token, then forced ids (Whisper's task tokens). */
  decoderPrompts: number[][];
  /** New tokens at most. */
  maxNewTokens: number;
  /** Decoding settings (sampling with one beam only). */
  sampling: SamplingSettings;
  /** Beams (1: greedy or sampling). */
  numBeams: number;
  /** Beam search: length^lengthPenalty divides a finished hypothesis' score. */
  lengthPenalty: number;
  /** Beam search: when an input is done. */
  earlyStopping: EarlyStopping;
  /** Beam search: hypotheses returned per input (≤ numBeams). */
  numReturnSequences: number;
  /** Ids that end a row. */
  eosTokenIds: readonly number[];
  /** Fed to finished rows. */
  padTokenId: number;
  /** Processors applied after the repetition penalty and n-gram ban, before sampling. */
  processors: readonly LogitsProcessor[];
  /** Stop strings (greedy and sampling). */
  stop: readonly string[];
  /** Random numbers for sampling. */
  random: RandomSource;
  /** Leave special tokens out of the text (default true). */
  skipSpecialTokens?: boolean;
  /** Cancels within one step. */
  signal?: AbortSignal;
  /** Text deltas as decoded (greedy and sampling; beam search gives each answer's text at the end). */
  onText?: (index: number, text: string) => void;
  /** Every row's processed scores each step (for language detection, timestamps, confidence). */
  onStep?: (step: StepInfo) => void;
  /**
   * Fill {@linkcode Seq2SeqSequence.logprobs} (default true). A caller that never reads them (Whisper) turns them off:
   * each costs a softmax over the vocabulary, 0.35 ms a step over Whisper's 51,865 ids on this machine's core.
   */
  logprobs?: boolean;
}

/** One answer. */
export interface Seq2SeqSequence {
  /** The input it answers. */
  input: number;
  /** The decoder prompt. */
  promptIds: number[];
  /** Generated ids (an EOS that ended it included). */
  generatedIds: number[];
  /** Log-probability of each generated id under the processed scores (greedy/sampling; empty when not asked). */
  logprobs: number[];
  /** Beam search: the hypothesis' length-normalised score. */
  score?: number;
  /** Decoded text. */
  text: string;
  /** Why it ended. */
  finishReason: FinishReason;
}

/** The outcome of a run. */
export interface Seq2SeqOutcome {
  /** Answers: one per input (greedy), `numReturnSequences` per input (beams), in input order. */
  sequences: Seq2SeqSequence[];
  /** Milliseconds of the encoder (0 when its hidden states were given). */
  encodeMs: number;
  /** The encoder's hidden states (one row per input), to hand to a later run over the same feeds. */
  encoderHidden: TensorData;
  /** Milliseconds of the first decoder step. */
  prefillMs: number;
  /** Milliseconds of the later steps. */
  decodeMs: number;
  /** Steps after the first. */
  decodeSteps: number;
}

/** Rows of `tensor` (dim 0) taken in `rows` order. */
export function gatherRows(tensor: TensorData, rows: readonly number[]): TensorData {
  const size = tensor.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = tensor.data as Float32Array | Uint16Array | BigInt64Array | Int32Array;
  // deno-lint-ignore no-explicit-any
  const out = new (data.constructor as any)(rows.length * size);
  for (let i = 0; i < rows.length; i++) out.set(data.subarray(rows[i] * size, rows[i] * size + size), i * size);
  return { dtype: tensor.dtype, shape: [rows.length, ...tensor.shape.slice(1)], data: out };
}

function emptyCache(dtype: "float32" | "float16", batch: number, heads: number, dim: number): TensorData {
  const shape = [batch, heads, 0, dim];
  return dtype === "float16"
    ? { dtype, shape, data: new Uint16Array(0) }
    : { dtype: "float32", shape, data: new Float32Array(0) };
}

/** log_softmax in place (float32 results, as PyTorch). */
function logSoftmax(x: Float32Array): void {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] - max);
  const log = Math.log(sum);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] - max - log);
}

/** The log-softmax of `scores` at `token`. */
export function logprobOf(scores: Float32Array, token: number): number {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > max) max = scores[i];
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += Math.exp(scores[i] - max);
  return scores[token] - max - Math.log(sum);
}

/** The encoder's hidden states (with their mask) repeated `times` per row, for beams. */
function repeatRows(tensor: TensorData, times: number): TensorData {
  if (times === 1) return tensor;
  const rows: number[] = [];
  for (let b = 0; b < tensor.shape[0]; b++) for (let k = 0; k < times; k++) rows.push(b);
  return gatherRows(tensor, rows);
}

/** Runs the encoder, then decoder steps until every row (or beam search) has finished. */
export async function decodeSeq2Seq(
  sessions: Seq2SeqSessions,
  tokenizer: TextTokenizer,
  request: Seq2SeqRequest,
): Promise<Seq2SeqOutcome> {
  const { contract } = sessions;
  const beams = request.numBeams;
  if (beams > 1 && request.sampling.doSample) {
    throw new InputError("beam search with sampling is not supported", {
      hint: "use --num-beams 1 to sample, or drop the sampling options for beam search",
    });
  }
  if (beams > 1 && request.stop.length) {
    throw new InputError("stop strings are not supported with beam search", { hint: "use --num-beams 1" });
  }
  const promptLength = request.decoderPrompts[0]?.length ?? 0;
  if (!promptLength || request.decoderPrompts.some((p) => p.length !== promptLength)) {
    throw new InputError("every row needs a decoder prompt of the same, non-zero length");
  }
  const started = performance.now();
  const hiddenOne = request.encoderHidden ??
    (await sessions.encoder.run(request.encoderFeeds))[sessions.encoderOutput] as TensorData;
  if (!hiddenOne || hiddenOne.shape[0] !== request.batch) {
    throw new InputError(
      `the encoder gave ${sessions.encoderOutput} for ${hiddenOne?.shape[0]} rows, not ${request.batch}`,
    );
  }
  const encodeMs = performance.now() - started;
  const encLength = hiddenOne.shape[1];
  const maskRows = request.encoderMask ?? Array.from({ length: request.batch }, () => new Array(encLength).fill(1));
  const rows = request.batch * beams;
  const hidden = repeatRows(hiddenOne, beams);
  const maskFlat: number[] = [];
  for (const m of maskRows) for (let k = 0; k < beams; k++) maskFlat.push(...m);
  const masks = new Map<string, TensorData>(); // built once per dtype, fed every step
  const maskTensor = (dtype: "int64" | "int32") => {
    let t = masks.get(dtype);
    if (!t) masks.set(dtype, t = intTensor(dtype, [rows, encLength], maskFlat));
    return t;
  };

  let decoderPast: TensorMap = {};
  const encoderPast: TensorMap = {};
  const step = async (ids: number[][], first: boolean): Promise<TensorData> => {
    const session = first || !sessions.decoderWithPast ? sessions.decoder : sessions.decoderWithPast;
    const feeds: TensorMap = { input_ids: intTensor(contract.idsDtype, [ids.length, ids[0].length], ids.flat()) };
    const maskDtype = first || contract.merged ? contract.encoderMask : contract.encoderMaskWithPast;
    if (maskDtype) feeds.encoder_attention_mask = maskTensor(maskDtype);
    if (first || contract.hiddenWithPast) feeds.encoder_hidden_states = hidden;
    if (contract.merged) {
      feeds.use_cache_branch = { dtype: "bool", shape: [1], data: Uint8Array.of(first ? 0 : 1) };
    }
    if (contract.merged || !first) {
      for (const layer of contract.layers) {
        for (const name of layer.decoderPast) {
          feeds[name] = decoderPast[name] ??
            emptyCache(contract.cacheDtype, rows, contract.heads, contract.headDim);
        }
        for (const name of layer.encoderPast ?? []) {
          feeds[name] = encoderPast[name] ??
            emptyCache(contract.cacheDtype, rows, contract.encoderHeads, contract.encoderHeadDim);
        }
      }
    }
    const outputs = await session.run(feeds);
    const next: TensorMap = {};
    for (const layer of contract.layers) {
      next[layer.decoderPast[0]] = outputs[layer.decoderPresent[0]];
      next[layer.decoderPast[1]] = outputs[layer.decoderPresent[1]];
      if (first && layer.encoderPast && layer.encoderPresent) {
        encoderPast[layer.encoderPast[0]] = outputs[layer.encoderPresent[0]];
        encoderPast[layer.encoderPast[1]] = outputs[layer.encoderPresent[1]];
      }
    }
    decoderPast = next;
    return outputs.logits as TensorData;
  };
  const reorder = (sources: number[]) => {
    const next: TensorMap = {};
    for (const [name, t] of Object.entries(decoderPast)) next[name] = gatherRows(t, sources);
    decoderPast = next;
  };
  const scoresOf = (logits: TensorData, row: number): Float32Array => {
    const vocab = logits.shape[logits.shape.length - 1];
    const seq = logits.shape.length === 3 ? logits.shape[1] : 1;
    return logitsToFloat32(logits.data as Float32Array | Uint16Array, (row * seq + seq - 1) * vocab, vocab);
  };
  const maxLength = promptLength + request.maxNewTokens;
  const needsHistory = request.sampling.repetitionPenalty !== 1 || request.sampling.noRepeatNgramSize > 0;
  const process = (scores: Float32Array, context: LogitsContext) => {
    if (needsHistory) {
      applyRepetitionPenalty(scores, context.ids, request.sampling.repetitionPenalty);
      banRepeatedNgrams(scores, context.ids, request.sampling.noRepeatNgramSize);
    }
    for (const p of request.processors) p(scores, context);
  };
  const timing = { prefillMs: 0, decodeMs: 0, steps: 0 };
  const timed = async <T>(first: boolean, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const r = await fn();
    if (first) timing.prefillMs += performance.now() - t;
    else {
      timing.decodeMs += performance.now() - t;
      timing.steps++;
    }
    return r;
  };
  const skipSpecial = request.skipSpecialTokens ?? true;
  let sequences: Seq2SeqSequence[];
  if (beams === 1) {
    sequences = await greedy();
  } else {
    sequences = await beamSearch();
  }
  return {
    sequences,
    encodeMs,
    encoderHidden: hiddenOne,
    prefillMs: timing.prefillMs,
    decodeMs: timing.decodeMs,
    decodeSteps: timing.steps,
  };

  async function greedy(): Promise<Seq2SeqSequence[]> {
    const eos = new Set(request.eosTokenIds);
    const wantLogprobs = request.logprobs ?? true;
    const state = request.decoderPrompts.map((prompt, i) => ({
      input: i,
      prompt,
      ids: [...prompt],
      generated: [] as number[],
      logprobs: [] as number[],
      done: false,
      reason: "length" as FinishReason,
      decoder: new IncrementalDecoder(tokenizer, { skipSpecialTokens: skipSpecial }),
      stopper: new StopStringMatcher(request.stop),
      text: "",
    }));
    const emit = (i: number, text: string) => {
      if (!text) return;
      state[i].text += text;
      request.onText?.(i, text);
    };
    let feed = request.decoderPrompts.map((p) => [...p]);
    let open = state.length;
    for (let n = 0; open > 0 && n < request.maxNewTokens; n++) {
      if (request.signal?.aborted) {
        for (const [i, r] of state.entries()) {
          if (r.done) continue;
          r.done = true;
          r.reason = "cancelled";
          emit(i, r.decoder.flush());
          emit(i, r.stopper.flush());
        }
        break;
      }
      const first = n === 0;
      const next = await timed(first, async () => {
        const logits = await step(feed, first);
        const chosen: number[] = [];
        for (const [i, r] of state.entries()) {
          if (r.done) {
            chosen.push(request.padTokenId);
            continue;
          }
          const scores = scoresOf(logits, i);
          process(scores, {
            ids: r.ids,
            promptLength,
            generated: r.generated.length,
            maxLength,
            batchIndex: i,
          });
          const token = request.sampling.doSample
            ? nextToken(scores, [], { ...request.sampling, repetitionPenalty: 1, noRepeatNgramSize: 0 }, request.random)
            : argmax(scores);
          request.onStep?.({ row: i, generated: r.generated.length, scores, token });
          if (wantLogprobs) r.logprobs.push(logprobOf(scores, token));
          chosen.push(token);
        }
        return chosen;
      });
      for (const [i, r] of state.entries()) {
        if (r.done) continue;
        const token = next[i];
        r.generated.push(token);
        r.ids.push(token);
        const check = r.stopper.push(r.decoder.push(token));
        emit(i, check.text);
        if (check.stopped) {
          r.done = true;
          r.reason = "stop";
        } else if (eos.has(token) || r.generated.length >= request.maxNewTokens) {
          r.done = true;
          r.reason = eos.has(token) ? "stop" : "length";
          const tail = r.stopper.push(r.decoder.flush());
          emit(i, tail.text);
          if (!tail.stopped) emit(i, r.stopper.flush());
        }
        if (r.done) open--;
      }
      feed = next.map((t) => [t]);
    }
    return state.map((r) => ({
      input: r.input,
      promptIds: r.prompt,
      generatedIds: r.generated,
      logprobs: r.logprobs,
      text: r.text,
      finishReason: r.reason,
    }));
  }

  async function beamSearch(): Promise<Seq2SeqSequence[]> {
    const searches = request.decoderPrompts.map(() =>
      new BeamSearch({
        numBeams: beams,
        lengthPenalty: request.lengthPenalty,
        earlyStopping: request.earlyStopping,
        eos: request.eosTokenIds,
        promptLength,
        maxLength,
      })
    );
    let feed: number[][] = [];
    for (const p of request.decoderPrompts) for (let k = 0; k < beams; k++) feed.push([...p]);
    let cancelled = false;
    for (let n = 0; n < request.maxNewTokens; n++) {
      if (request.signal?.aborted) {
        cancelled = true;
        break;
      }
      const first = n === 0;
      const result = await timed(first, async () => {
        const logits = await step(feed, first);
        const sources: number[] = [];
        const tokens: number[] = [];
        let allEnded = true;
        for (const [b, search] of searches.entries()) {
          const rowsScores: Float32Array[] = [];
          for (let k = 0; k < beams; k++) {
            const row = b * beams + k;
            const scores = scoresOf(logits, row);
            logSoftmax(scores);
            process(scores, {
              ids: [...request.decoderPrompts[b], ...search.running[k].ids],
              promptLength,
              generated: search.running[k].ids.length,
              maxLength,
              batchIndex: b,
            });
            request.onStep?.({ row, generated: search.running[k].ids.length, scores, token: -1 });
            rowsScores.push(scores);
          }
          const r = search.step(rowsScores);
          allEnded &&= r.allEnded;
          for (let k = 0; k < beams; k++) {
            sources.push(b * beams + r.sources[k]);
            tokens.push(r.tokens[k]);
          }
        }
        return { sources, tokens, allEnded };
      });
      if (beamsFinished(searches, request.earlyStopping, result.allEnded)) break;
      reorder(result.sources);
      feed = result.tokens.map((t) => [t]);
    }
    const out: Seq2SeqSequence[] = [];
    for (const [b, search] of searches.entries()) {
      // cancelled: the best running beams stand in for missing finished ones
      const hyps = search.best(request.numReturnSequences);
      const extra = cancelled
        ? search.running.slice(0, request.numReturnSequences - hyps.length).map((r) => ({
          ids: r.ids,
          score: r.score,
        }))
        : [];
      for (const h of [...hyps, ...extra]) {
        const text = tokenizer.decode(h.ids, { skipSpecialTokens: skipSpecial });
        request.onText?.(out.length, text);
        const ended = request.eosTokenIds.includes(h.ids[h.ids.length - 1]);
        out.push({
          input: b,
          promptIds: request.decoderPrompts[b],
          generatedIds: h.ids,
          logprobs: [],
          score: h.score,
          text,
          finishReason: cancelled && !ended ? "cancelled" : ended ? "stop" : "length",
        });
      }
    }
    return out;
  }
}
