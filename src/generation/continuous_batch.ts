/**
 * Continuous batching: several independent sequences decoded together, one batched `session.run` per step, each
 * sequence with its own sampling settings, seed, stop strings, JSON constraint, log-probabilities, budget and
 * cancellation. A sequence joins at the next step (its prompt is prefilled, alone or in one padded run with the
 * others joining at that step, then its KV rows are merged into the batch) and leaves as soon as it ends, without
 * stalling the others.
 *
 * Rows have different past lengths, so the batch's past is left-padded to the longest: row `r` holds its `len`
 * cached positions at the end of the `length` columns, the columns before them are zeros and are masked out by
 * `attention_mask`, and each row gets its own `position_ids` (a graph without that input derives positions itself,
 * e.g. onnxruntime-genai's GroupQueryAttention from the mask). This only keeps a row's logits equal to its run alone
 * where the graph honours the mask and the positions; {@linkcode batchingCheck} proves it on
 * the loaded graph (two rows of different lengths stepped together against their runs alone), and a graph that
 * fails is decoded one sequence at a time instead.
 *
 * @module
 */
import { RuntimeError } from "../errors.ts";
import type { GpuxSession } from "../runtime/session.ts";
import type { TensorData, TensorMap } from "../runtime/tensors.ts";
import type { TextTokenizer } from "../processing/tokenizer.ts";
import { type DecoderContract, emptyCacheTensor, intTensor } from "./decoder_contract.ts";
import type { SamplingSettings } from "./generation_config.ts";
import { logitsToFloat32 } from "./logits_sampler.ts";
import type { TokenLogprobs } from "./token_logprobs.ts";
import { seededRandom } from "./seeded_random.ts";
import { IncrementalDecoder } from "./incremental_decoder.ts";
import { StopStringMatcher } from "./stop_strings.ts";
import {
  advanceSequence,
  type FinishReason,
  type SequenceChoice,
  type SequenceConstraint,
  type SequenceOutcome,
  type StepDelta,
} from "./decode_loop.ts";

/** One sequence as the batch decodes it: everything a generation alone would be given, per sequence. */
export interface BatchSequence {
  /** Prompt ids. */
  promptIds: number[];
  /** New tokens at most. */
  maxNewTokens: number;
  /** Decoding settings of this sequence. */
  sampling: SamplingSettings;
  /** Ids that end it. */
  eosTokenIds: readonly number[];
  /** Stop strings (never emitted). */
  stop: readonly string[];
  /** Seed of its sampling random numbers (the same seed picks the same tokens as a run alone). */
  seed: number;
  /** Leave special tokens out of the text (default true). */
  skipSpecialTokens?: boolean;
  /** Log-probabilities of each generated token with this many alternatives (undefined: none). */
  logprobs?: number;
  /** Its JSON constraint, given the vocabulary size. */
  constraint?: (vocab: number) => SequenceConstraint;
  /** Cancels it within one step (finish reason `cancelled`). */
  signal?: AbortSignal;
  /** Gets every step's token, log-probabilities and the text it let out. */
  onStep?: (delta: StepDelta) => void;
}

/** What one sequence of the batch ends with. */
export interface BatchOutcome extends SequenceOutcome {
  /** Milliseconds of its prefill (its prompt through the model, alone or with those joining with it, and its first token chosen). */
  prefillMs: number;
  /** Milliseconds of the batched steps it took part in. */
  decodeMs: number;
  /** Batched steps it took part in. */
  decodeSteps: number;
}

/** Options of a {@linkcode ContinuousBatch}. */
export interface ContinuousBatchOptions {
  /** Sequences decoded together at most; more wait for a row to free (default 8). */
  maxRows?: number;
  /** Told the number of rows of every batched step (for metrics). */
  onBatchStep?: (rows: number) => void;
  /**
   * Prefill the sequences that join at the same step together, in padded runs of up to
   * {@linkcode PREFILL_TOGETHER_TOKENS} tokens, instead of one run each (default false: prove the graph first with
   * {@linkcode prefillTogetherCheck}).
   */
  prefillTogether?: boolean;
  /** Told the number of prompts of every prefill run (for metrics and tests). */
  onPrefill?: (prompts: number) => void;
}

interface Row {
  spec: BatchSequence;
  generated: number[];
  /** Positions in the cache (prompt + fed tokens). */
  len: number;
  done: boolean;
  reason: FinishReason;
  decoder: IncrementalDecoder;
  stopper: StopStringMatcher;
  text: string;
  /** How it chooses its ids. */
  choice: SequenceChoice;
  logprobs?: TokenLogprobs[];
  constraint?: SequenceConstraint;
  prefillMs: number;
  decodeMs: number;
  steps: number;
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

interface Waiting {
  spec: BatchSequence;
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

/** Why a decoder cannot batch rows of different lengths, from its contract alone (undefined: it may; prove it with {@linkcode batchingCheck}). */
export function batchingObstacle(contract: DecoderContract): string | undefined {
  if (contract.layers.length === 0) return "the graph has no KV cache";
  if (!contract.attentionMask) return "the graph has no attention_mask input to mask the padding of shorter rows";
  return undefined;
}

/** The logits of the last position of each row of a `[batch, seq, vocab]` (or `[batch, vocab]`) output. */
function lastLogits(logits: TensorData, row: number): Float32Array {
  const vocab = logits.shape[logits.shape.length - 1];
  const seqOut = logits.shape.length === 3 ? logits.shape[1] : 1;
  return logitsToFloat32(logits.data as Float32Array | Uint16Array, (row * seqOut + seqOut - 1) * vocab, vocab);
}

function presents(contract: DecoderContract, outputs: TensorMap): TensorMap {
  const next: TensorMap = {};
  for (const layer of contract.layers) {
    next[layer.pastKey] = outputs[layer.presentKey];
    next[layer.pastValue] = outputs[layer.presentValue];
  }
  return next;
}

/** One prompt alone through the model (as the decode loop's prefill of a single row): its last logits and cache. */
export async function prefillAlone(
  session: GpuxSession,
  contract: DecoderContract,
  ids: readonly number[],
): Promise<{ logits: Float32Array; past: TensorMap }> {
  const n = ids.length;
  const feeds: TensorMap = { [contract.inputIds.name]: intTensor(contract.inputIds.dtype, [1, n], ids) };
  if (contract.attentionMask) {
    feeds[contract.attentionMask.name] = intTensor(contract.attentionMask.dtype, [1, n], new Array(n).fill(1));
  }
  if (contract.positionIds) {
    feeds[contract.positionIds.name] = intTensor(contract.positionIds.dtype, [1, n], ids.map((_, j) => j));
  }
  if (contract.logitsToKeep) {
    feeds[contract.logitsToKeep.name] = intTensor(contract.logitsToKeep.dtype, contract.logitsToKeep.shape, [1]);
  }
  if (contract.useCacheBranch) {
    feeds[contract.useCacheBranch] = { dtype: "bool", shape: [1], data: Uint8Array.of(0) };
  }
  for (const layer of contract.layers) {
    feeds[layer.pastKey] = emptyCacheTensor(contract, 1);
    feeds[layer.pastValue] = emptyCacheTensor(contract, 1);
  }
  const outputs = await session.run(feeds);
  return { logits: lastLogits(outputs[contract.logits], 0), past: presents(contract, outputs) };
}

/**
 * Several prompts through the model in one run, left-padded to the longest (padding masked out of `attention_mask`,
 * each row its own `position_ids` from 0): each row's last logits, and a cache whose row `r` holds its own
 * `prompts[r].length` positions in its last columns (the layout {@linkcode regroupPast} reads). Where the graph
 * honours the mask (prove it with {@linkcode prefillTogetherCheck}) each row gets what {@linkcode prefillAlone} gives
 * it, for one run instead of one per prompt.
 */
export async function prefillTogether(
  session: GpuxSession,
  contract: DecoderContract,
  prompts: readonly (readonly number[])[],
): Promise<{ logits: Float32Array[]; past: TensorMap }> {
  const batch = prompts.length;
  const width = Math.max(...prompts.map((p) => p.length));
  const ids: number[] = [], mask: number[] = [], positions: number[] = [];
  for (const prompt of prompts) {
    const pad = width - prompt.length;
    for (let j = 0; j < width; j++) {
      ids.push(j < pad ? 0 : prompt[j - pad]);
      mask.push(j < pad ? 0 : 1);
      positions.push(j < pad ? 0 : j - pad);
    }
  }
  const feeds: TensorMap = { [contract.inputIds.name]: intTensor(contract.inputIds.dtype, [batch, width], ids) };
  if (contract.attentionMask) {
    feeds[contract.attentionMask.name] = intTensor(contract.attentionMask.dtype, [batch, width], mask);
  }
  if (contract.positionIds) {
    feeds[contract.positionIds.name] = intTensor(contract.positionIds.dtype, [batch, width], positions);
  }
  if (contract.logitsToKeep) {
    feeds[contract.logitsToKeep.name] = intTensor(contract.logitsToKeep.dtype, contract.logitsToKeep.shape, [1]);
  }
  if (contract.useCacheBranch) {
    feeds[contract.useCacheBranch] = { dtype: "bool", shape: [1], data: Uint8Array.of(0) };
  }
  for (const layer of contract.layers) {
    feeds[layer.pastKey] = emptyCacheTensor(contract, batch);
    feeds[layer.pastValue] = emptyCacheTensor(contract, batch);
  }
  const outputs = await session.run(feeds);
  const past = presents(contract, outputs);
  const got = past[contract.layers[0].pastKey].shape;
  if (got[0] !== batch || got[2] !== width) {
    throw new RuntimeError(
      `the decoder's present cache came back as [${got.join(", ")}], expected [${batch}, heads, ${width}, size]`,
    );
  }
  return { logits: prompts.map((_, r) => lastLogits(outputs[contract.logits], r)), past };
}

/**
 * One batched step: row `b` feeds token `tokens[b]` at position `lens[b]` over a past of `length` columns whose
 * last `lens[b]` are its own. Returns each row's logits and the new past (`length + 1` columns).
 */
export async function batchedStep(
  session: GpuxSession,
  contract: DecoderContract,
  past: TensorMap,
  length: number,
  tokens: readonly number[],
  lens: readonly number[],
): Promise<{ logits: Float32Array[]; past: TensorMap }> {
  const batch = tokens.length;
  const feeds: TensorMap = { [contract.inputIds.name]: intTensor(contract.inputIds.dtype, [batch, 1], tokens) };
  if (contract.attentionMask) {
    const mask = new Array<number>(batch * (length + 1)).fill(1);
    for (let b = 0; b < batch; b++) mask.fill(0, b * (length + 1), b * (length + 1) + length - lens[b]);
    feeds[contract.attentionMask.name] = intTensor(contract.attentionMask.dtype, [batch, length + 1], mask);
  }
  if (contract.positionIds) {
    feeds[contract.positionIds.name] = intTensor(contract.positionIds.dtype, [batch, 1], lens);
  }
  if (contract.logitsToKeep) {
    feeds[contract.logitsToKeep.name] = intTensor(contract.logitsToKeep.dtype, contract.logitsToKeep.shape, [1]);
  }
  if (contract.useCacheBranch) {
    feeds[contract.useCacheBranch] = { dtype: "bool", shape: [1], data: Uint8Array.of(1) };
  }
  Object.assign(feeds, past);
  const outputs = await session.run(feeds);
  const next = presents(contract, outputs);
  const got = next[contract.layers[0].pastKey].shape;
  if (got[0] !== batch || got[2] !== length + 1) {
    throw new RuntimeError(
      `the decoder's present cache came back as [${got.join(", ")}], expected [${batch}, heads, ${length + 1}, size]`,
    );
  }
  const logits = outputs[contract.logits];
  return { logits: tokens.map((_, b) => lastLogits(logits, b)), past: next };
}

/** Where one row of a regrouped past comes from: row `row` of `past`, whose last `len` columns are its own. */
export interface PastSource {
  past: TensorMap;
  row: number;
  len: number;
}

/** A new past of `length` columns with one row per source, each right-aligned (its padding zeros on the left). */
export function regroupPast(contract: DecoderContract, sources: readonly PastSource[], length: number): TensorMap {
  const out: TensorMap = {};
  const heads = contract.kvHeads;
  const size = contract.headDim;
  for (const layer of contract.layers) {
    for (const name of [layer.pastKey, layer.pastValue]) {
      const first = sources[0].past[name];
      const Typed = first.data.constructor as Float32ArrayConstructor | Uint16ArrayConstructor;
      const data = new Typed(sources.length * heads * length * size);
      for (const [r, s] of sources.entries()) {
        const t = s.past[name];
        const from = t.shape[2];
        const src = t.data as Float32Array | Uint16Array;
        for (let h = 0; h < heads; h++) {
          const at = ((s.row * heads + h) * from + from - s.len) * size;
          const to = ((r * heads + h) * length + length - s.len) * size;
          data.set(src.subarray(at, at + s.len * size), to);
        }
      }
      out[name] = { dtype: first.dtype, shape: [sources.length, heads, length, size], data };
    }
  }
  return out;
}

/** The verdict of {@linkcode batchingCheck}: batching is safe, or why not (a sentence for `/info` and the ready line). */
export type BatchingCheck = { ok: true; maxDifference: number } | { ok: false; reason: string };

/**
 * Proves on the loaded graph that padding keeps rows apart: two prompts of different lengths (ids 1… and 5…) are
 * stepped three times alone and together (the shorter one left-padded; the longer one then leaves and the
 * shorter one's padding is trimmed), and every step's logits must agree within float noise.
 */
export async function batchingCheck(session: GpuxSession, contract: DecoderContract): Promise<BatchingCheck> {
  const obstacle = batchingObstacle(contract);
  if (obstacle) return { ok: false, reason: obstacle };
  const prompts = [[1, 2, 3], [5, 6, 7, 8, 9, 10, 11, 12]];
  const feed = [[4, 9, 2], [13, 3, 6]];
  const steps = feed[0].length;
  try {
    const alone: Float32Array[][] = [];
    for (const [i, prompt] of prompts.entries()) {
      let { past } = await prefillAlone(session, contract, prompt);
      const rows: Float32Array[] = [];
      for (let s = 0; s < steps; s++) {
        const len = prompt.length + s;
        const r = await batchedStep(session, contract, past, len, [feed[i][s]], [len]);
        past = r.past;
        rows.push(r.logits[0]);
      }
      alone.push(rows);
    }
    const firsts = await Promise.all(prompts.map((p) => prefillAlone(session, contract, p)));
    let lens = prompts.map((p) => p.length);
    let length = Math.max(...lens);
    let past = regroupPast(contract, firsts.map((f, i) => ({ past: f.past, row: 0, len: lens[i] })), length);
    let worst = 0;
    const scale = Math.max(1, ...alone.flat().map((l) => l.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
    const compare = (a: Float32Array, b: Float32Array) => {
      for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]));
    };
    for (let s = 0; s < 2; s++) {
      const r = await batchedStep(session, contract, past, length, [feed[0][s], feed[1][s]], lens);
      compare(r.logits[0], alone[0][s]);
      compare(r.logits[1], alone[1][s]);
      past = r.past;
      lens = lens.map((l) => l + 1);
      length++;
    }
    // the long row leaves: the short one is trimmed to its own length
    past = regroupPast(contract, [{ past, row: 0, len: lens[0] }], lens[0]);
    length = lens[0];
    const last = await batchedStep(session, contract, past, length, [feed[0][2]], [lens[0]]);
    compare(last.logits[0], alone[0][2]);
    const tolerance = (contract.cacheDtype === "float16" ? 1e-2 : 1e-3) * scale;
    if (!(worst <= tolerance)) {
      return {
        ok: false,
        reason: `padding a shorter row changed this graph's logits (by up to ${worst.toPrecision(3)})`,
      };
    }
    return { ok: true, maxDifference: worst };
  } catch (error) {
    return {
      ok: false,
      reason: `a padded batch failed on this graph: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/**
 * Proves on the loaded graph that prompts prefilled together, left-padded ({@linkcode prefillTogether}), get what
 * each gets alone: two prompts of different lengths (ids 1… and 5…) prefilled together and alone, then stepped once
 * from the regrouped cache; the last logits and the step's logits must agree within float noise. A graph that fails
 * still batches its decode steps, and prefills each joining prompt alone.
 */
export async function prefillTogetherCheck(session: GpuxSession, contract: DecoderContract): Promise<BatchingCheck> {
  const obstacle = batchingObstacle(contract);
  if (obstacle) return { ok: false, reason: obstacle };
  const prompts = [[1, 2, 3], [5, 6, 7, 8, 9, 10, 11, 12]];
  const feed = [4, 13];
  try {
    const alone = await Promise.all(prompts.map((p) => prefillAlone(session, contract, p)));
    const soloSteps = [];
    for (const [i, a] of alone.entries()) {
      const len = prompts[i].length;
      soloSteps.push((await batchedStep(session, contract, a.past, len, [feed[i]], [len])).logits[0]);
    }
    const together = await prefillTogether(session, contract, prompts);
    const lens = prompts.map((p) => p.length);
    const length = Math.max(...lens);
    const past = regroupPast(contract, lens.map((len, row) => ({ past: together.past, row, len })), length);
    const step = await batchedStep(session, contract, past, length, feed, lens);
    const pairs: [Float32Array, Float32Array][] = [
      [together.logits[0], alone[0].logits],
      [together.logits[1], alone[1].logits],
      [step.logits[0], soloSteps[0]],
      [step.logits[1], soloSteps[1]],
    ];
    let worst = 0, scale = 1;
    for (const [a, b] of pairs) {
      for (let k = 0; k < a.length; k++) {
        worst = Math.max(worst, Math.abs(a[k] - b[k]));
        scale = Math.max(scale, Math.abs(b[k]));
      }
    }
    const tolerance = (contract.cacheDtype === "float16" ? 1e-2 : 1e-3) * scale;
    if (!(worst <= tolerance)) {
      return {
        ok: false,
        reason: `prefilling a left-padded prompt changed this graph's logits (by up to ${worst.toPrecision(3)})`,
      };
    }
    return { ok: true, maxDifference: worst };
  } catch (error) {
    return {
      ok: false,
      reason: `a padded prefill failed on this graph: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/**
 * Most padded prompt tokens (rows × the longest prompt) {@linkcode ContinuousBatch} prefills in one run: a run with
 * no `logits_to_keep` input returns logits for every position, so this bounds that output (2,048 × the vocabulary),
 * as one prompt of the model's usual context would.
 */
export const PREFILL_TOGETHER_TOKENS = 2048;

/**
 * The running batch of one model: {@linkcode ContinuousBatch.add} a sequence and await its outcome; the batch runs
 * its steps while it has rows, admitting waiting sequences at each step and dropping ended ones. Only one batch may
 * use a session. Check the graph first with {@linkcode batchingCheck}.
 *
 * @example
 * ```ts ignore
 * const p = await loadTextGeneration("HuggingFaceTB/SmolLM2-135M-Instruct");
 * const batch = new ContinuousBatch(p.session, p.contract, p.tokenizer, { maxRows: 8 });
 * const [a, b] = await Promise.all([
 *   batch.add(p.prepareSequence("Hello", { maxNewTokens: 16, temperature: 0 })),
 *   batch.add(p.prepareSequence("Once upon a time", { maxNewTokens: 32, temperature: 0.8, seed: 1 })),
 * ]);
 * ```
 */
export class ContinuousBatch {
  #session: GpuxSession;
  #contract: DecoderContract;
  #tokenizer: TextTokenizer;
  #maxRows: number;
  #onBatchStep?: (rows: number) => void;
  #prefillTogether: boolean;
  #onPrefill?: (prompts: number) => void;
  #waiting: Waiting[] = [];
  #rows: Row[] = [];
  #past: TensorMap = {};
  #length = 0;
  #running = false;

  /** A batch over a text-generation pipeline's session, contract and tokenizer (`pipeline.session`, …). */
  constructor(
    session: GpuxSession,
    contract: DecoderContract,
    tokenizer: TextTokenizer,
    options: ContinuousBatchOptions = {},
  ) {
    this.#session = session;
    this.#contract = contract;
    this.#tokenizer = tokenizer;
    this.#maxRows = Math.max(1, options.maxRows ?? 8);
    this.#onBatchStep = options.onBatchStep;
    this.#prefillTogether = options.prefillTogether ?? false;
    this.#onPrefill = options.onPrefill;
  }

  /** Sequences being decoded now. */
  get rows(): number {
    return this.#rows.length;
  }

  /** Sequences waiting for a row. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Adds a sequence: it joins at the next step; resolves when it ends. */
  add(spec: BatchSequence): Promise<BatchOutcome> {
    return new Promise<BatchOutcome>((resolve, reject) => {
      this.#waiting.push({ spec, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        this.#loop().finally(() => this.#running = false);
      }
    });
  }

  async #loop(): Promise<void> {
    while (this.#waiting.length || this.#rows.length) {
      try {
        await this.#admit();
        this.#cancelAborted();
        if (this.#rows.length) await this.#step();
      } catch (error) {
        // a failed run fails every sequence in it; the batch starts afresh
        for (const row of this.#rows.splice(0)) row.reject(error);
        this.#past = {};
        this.#length = 0;
      }
      // let the worker's messages in (cancellations, new sequences) between steps
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  async #admit(): Promise<void> {
    const joined: { row: Row; past: TensorMap; index: number }[] = [];
    const admitted: Row[] = [];
    while (this.#waiting.length && this.#rows.length + admitted.length < this.#maxRows) {
      const row = newRow(this.#waiting.shift()!, this.#tokenizer);
      if (row.spec.signal?.aborted) this.#end(row, "cancelled");
      else admitted.push(row);
    }
    // prompts that join together are prefilled in padded runs of a bounded size (or one run each)
    let group: Row[] = [];
    const groups: Row[][] = [];
    for (const row of admitted) {
      const width = Math.max(row.spec.promptIds.length, ...group.map((r) => r.spec.promptIds.length));
      if (group.length && (!this.#prefillTogether || (group.length + 1) * width > PREFILL_TOGETHER_TOKENS)) {
        groups.push(group);
        group = [];
      }
      group.push(row);
    }
    if (group.length) groups.push(group);
    for (const rows of groups) {
      const started = performance.now();
      this.#onPrefill?.(rows.length);
      const prompts = rows.map((r) => r.spec.promptIds);
      let run: { logits: Float32Array[]; past: TensorMap };
      try {
        run = rows.length === 1
          ? await prefillAlone(this.#session, this.#contract, prompts[0]).then((r) => ({
            logits: [r.logits],
            past: r.past,
          }))
          : await prefillTogether(this.#session, this.#contract, prompts);
      } catch (error) {
        // a failed run fails the prompts in it
        for (const row of rows) row.reject(error);
        continue;
      }
      const elapsed = performance.now() - started;
      for (const [index, row] of rows.entries()) {
        try {
          row.len = row.spec.promptIds.length;
          this.#choose(row, run.logits[index]);
          row.prefillMs = elapsed;
          if (row.done) row.resolve(outcome(row));
          else joined.push({ row, past: run.past, index });
        } catch (error) {
          row.reject(error);
        }
      }
    }
    if (!joined.length) return;
    const sources: PastSource[] = this.#rows.map((r, b) => ({ past: this.#past, row: b, len: r.len }));
    for (const j of joined) sources.push({ past: j.past, row: j.index, len: j.row.len });
    const length = Math.max(...sources.map((s) => s.len));
    this.#past = regroupPast(this.#contract, sources, length);
    this.#length = length;
    this.#rows.push(...joined.map((j) => j.row));
  }

  #cancelAborted(): void {
    if (!this.#rows.some((r) => r.spec.signal?.aborted)) return;
    this.#keep(this.#rows.filter((row) => {
      if (!row.spec.signal?.aborted) return true;
      this.#end(row, "cancelled");
      return false;
    }));
  }

  /** Keeps these rows (in order) of the batch, trimming the padding no row needs. */
  #keep(rows: Row[]): void {
    if (rows.length === 0) {
      this.#rows = [];
      this.#past = {};
      this.#length = 0;
      return;
    }
    const index = new Map(this.#rows.map((r, b) => [r, b]));
    const length = Math.max(...rows.map((r) => r.len));
    this.#past = regroupPast(
      this.#contract,
      rows.map((r) => ({ past: this.#past, row: index.get(r)!, len: r.len })),
      length,
    );
    this.#length = length;
    this.#rows = rows;
  }

  async #step(): Promise<void> {
    const rows = this.#rows;
    const started = performance.now();
    this.#onBatchStep?.(rows.length);
    const tokens = rows.map((r) => r.generated[r.generated.length - 1]);
    const { logits, past } = await batchedStep(
      this.#session,
      this.#contract,
      this.#past,
      this.#length,
      tokens,
      rows.map((r) => r.len),
    );
    this.#past = past;
    this.#length++;
    for (const [b, row] of rows.entries()) {
      row.len++;
      this.#choose(row, logits[b]);
    }
    const elapsed = performance.now() - started;
    for (const row of rows) {
      row.decodeMs += elapsed;
      row.steps++;
    }
    const ended = rows.filter((r) => r.done);
    if (ended.length) {
      this.#keep(rows.filter((r) => !r.done));
      for (const row of ended) row.resolve(outcome(row));
    }
  }

  /** Chooses a row's next token from its logits, as the decode loop does for a row of its own. */
  #choose(row: Row, scores: Float32Array): void {
    let text = "";
    const { token, logprobs } = advanceSequence(row, scores, row.choice, this.#tokenizer, (t) => {
      row.text += t;
      text += t;
    });
    row.spec.onStep?.({ text, tokenId: token, ...(logprobs ? { logprobs } : {}) });
  }

  /** Ends a row that was cancelled: its held-back text is let out. */
  #end(row: Row, reason: FinishReason): void {
    row.done = true;
    row.reason = reason;
    let text = "";
    for (const t of [row.decoder.flush(), row.stopper.flush()]) {
      row.text += t;
      text += t;
    }
    if (text) row.spec.onStep?.({ text });
    row.resolve(outcome(row));
  }
}

function newRow(w: Waiting, tokenizer: TextTokenizer): Row {
  const spec = w.spec;
  return {
    spec,
    generated: [],
    len: 0,
    done: false,
    reason: "length",
    decoder: new IncrementalDecoder(tokenizer, { skipSpecialTokens: spec.skipSpecialTokens ?? true }),
    stopper: new StopStringMatcher(spec.stop),
    text: "",
    choice: {
      prompt: spec.promptIds,
      sampling: spec.sampling,
      random: seededRandom(spec.seed),
      maxNew: spec.maxNewTokens,
      isEos: (token) => spec.eosTokenIds.includes(token),
      constraint: spec.constraint,
      topLogprobs: spec.logprobs,
    },
    ...(spec.logprobs !== undefined ? { logprobs: [] } : {}),
    prefillMs: 0,
    decodeMs: 0,
    steps: 0,
    resolve: w.resolve,
    reject: w.reject,
  };
}

function outcome(row: Row): BatchOutcome {
  return {
    promptIds: row.spec.promptIds,
    generatedIds: row.generated,
    text: row.text,
    finishReason: row.reason,
    ...(row.logprobs ? { logprobs: row.logprobs } : {}),
    prefillMs: row.prefillMs,
    decodeMs: row.decodeMs,
    decodeSteps: row.steps,
  };
}
