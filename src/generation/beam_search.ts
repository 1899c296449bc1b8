/**
 * Beam search bookkeeping as transformers' `_beam_search` does it (v4.50+): per input, `numBeams` running
 * hypotheses scored by the sum of their tokens' log-probabilities; each step the best
 * `max(2, 1 + #eos) × numBeams` continuations over all beams are taken; those among the first `numBeams` that
 * end (an EOS, or the length limit) join the finished hypotheses, ranked by score / length^lengthPenalty (the
 * generated length, EOS included); the best continuations that do not end run on. `earlyStopping`: `true`
 * stops an input once it has `numBeams` finished hypotheses; `false` (the default) also stops when the best
 * running beam's score divided by the current length cannot beat the worst finished one; `"never"` uses the
 * longest possible length in that bound (with a positive length penalty), so it stops only when no running
 * beam could ever win.
 *
 * Scores are kept in float32 arithmetic, as PyTorch computes them, so that rankings tie-break alike.
 *
 * @module
 */

/** `early_stopping`: see the module doc. */
export type EarlyStopping = boolean | "never";

/** A finished hypothesis. */
export interface BeamHypothesis {
  /** Generated ids (the decoder prompt not included; the EOS that ended it included). */
  ids: number[];
  /** Sum of log-probabilities / length^lengthPenalty. */
  score: number;
}

/** Settings of one beam search. */
export interface BeamSettings {
  /** Beams per input. */
  numBeams: number;
  /** Exponent of the length normalisation (1: average log-probability; > 1 favours long answers). */
  lengthPenalty: number;
  /** When an input is done (see the module doc). */
  earlyStopping: EarlyStopping;
  /** EOS ids. */
  eos: readonly number[];
  /** Decoder prompt length (the decoder start token and forced ids). */
  promptLength: number;
  /** Decoder length at most (prompt + new tokens). */
  maxLength: number;
}

const f32 = Math.fround;
const NEG = -1e9;

/** One input's beams. */
export class BeamSearch {
  #s: BeamSettings;
  /** Running beams: generated ids and summed log-probability. */
  running: { ids: number[]; score: number }[];
  /** Finished hypotheses, best first (at most numBeams). */
  finished: BeamHypothesis[] = [];
  /** False once no running beam can improve on the finished ones. */
  improvable = true;
  #eos: Set<number>;

  constructor(settings: BeamSettings) {
    this.#s = settings;
    this.#eos = new Set(settings.eos);
    this.running = Array.from({ length: settings.numBeams }, (_, i) => ({ ids: [], score: i === 0 ? 0 : NEG }));
  }

  /** `numBeams` finished hypotheses are in. */
  get full(): boolean {
    return this.finished.length >= this.#s.numBeams;
  }

  /**
   * One step. `logProbs[b]` are beam b's processed log-probabilities (vocab long). Returns, per new running beam,
   * the beam it continues (to reorder the cache) and its next token; and whether every continuation hit the
   * length limit or an EOS (then nothing can run on).
   */
  step(logProbs: readonly Float32Array[]): { sources: number[]; tokens: number[]; allEnded: boolean } {
    const s = this.#s;
    const beams = s.numBeams;
    const keep = Math.max(2, 1 + s.eos.length) * beams;
    const vocab = logProbs[0].length;
    // top `keep` of score + logprob over beams × vocab, ties to the lower flat index (as torch.topk on CPU)
    const topScore: number[] = [];
    const topIndex: number[] = [];
    for (let b = 0; b < beams; b++) {
      const base = this.running[b].score;
      const row = logProbs[b];
      for (let v = 0; v < vocab; v++) {
        const x = f32(row[v] + base);
        const n = topScore.length;
        if (n === keep && !(x > topScore[n - 1])) continue;
        let at = n;
        while (at > 0 && topScore[at - 1] < x) at--;
        topScore.splice(at, 0, x);
        topIndex.splice(at, 0, b * vocab + v);
        if (topScore.length > keep) {
          topScore.length = keep;
          topIndex.length = keep;
        }
      }
    }
    const curLen = s.promptLength + this.running[0].ids.length;
    const atLimit = curLen + 1 >= s.maxLength;
    const candidates = topIndex.map((flat, i) => {
      const beam = Math.floor(flat / vocab);
      const token = flat % vocab;
      return { beam, token, score: topScore[i], ends: atLimit || this.#eos.has(token) };
    });
    // finished: the first numBeams candidates that end, unless this input is done
    const done = (this.full && s.earlyStopping === true) || !this.improvable;
    if (!done) {
      const length = curLen + 1 - s.promptLength;
      for (let i = 0; i < beams && i < candidates.length; i++) {
        const c = candidates[i];
        if (!c.ends) continue;
        const score = f32(c.score / f32(length ** s.lengthPenalty));
        this.#addFinished({ ids: [...this.running[c.beam].ids, c.token], score });
      }
    }
    // running: the best numBeams candidates that do not end (ending ones only when there are too few)
    const order = candidates
      .map((c, i) => ({ c, i, key: c.ends ? f32(c.score + NEG) : c.score }))
      .sort((a, b) => b.key - a.key || a.i - b.i)
      .slice(0, beams);
    const previous = this.running;
    this.running = order.map(({ c, key }) => ({ ids: [...previous[c.beam].ids, c.token], score: key }));
    // the stopping heuristic, with the new length
    if (this.improvable && this.full) {
      const generated = s.earlyStopping === "never" && s.lengthPenalty > 0
        ? s.maxLength - s.promptLength
        : curLen + 1 - s.promptLength;
      const best = f32(this.running[0].score / f32(generated ** s.lengthPenalty));
      const worst = this.finished[this.finished.length - 1].score;
      this.improvable = best > worst;
    }
    return {
      sources: order.map(({ c }) => c.beam),
      tokens: order.map(({ c }) => c.token),
      allEnded: candidates.every((c) => c.ends),
    };
  }

  /** True when this input needs no more steps (for the loop's stopping rule, see {@linkcode beamsFinished}). */
  get settled(): boolean {
    return !this.improvable;
  }

  #addFinished(h: BeamHypothesis): void {
    let at = this.finished.length;
    while (at > 0 && this.finished[at - 1].score < h.score) at--;
    this.finished.splice(at, 0, h);
    if (this.finished.length > this.#s.numBeams) this.finished.length = this.#s.numBeams;
  }

  /** The best `n` finished hypotheses. */
  best(n: number): BeamHypothesis[] {
    return this.finished.slice(0, n);
  }
}

/**
 * transformers' loop condition over a batch: stop when no input can improve, or when every input is full and
 * `earlyStopping` is true, or when every continuation of the last step ended.
 */
export function beamsFinished(
  searches: readonly BeamSearch[],
  earlyStopping: EarlyStopping,
  allEnded: boolean,
): boolean {
  if (allEnded) return true;
  if (!searches.some((s) => s.improvable)) return true;
  return earlyStopping === true && searches.every((s) => s.full);
}
