/**
 * Instance and semantic segmentation from MaskFormer / Mask2Former outputs (`class_queries_logits`
 * `[batch, queries, classes + 1]`, the last class "no object", and `masks_queries_logits` `[batch, queries, h, w]`),
 * as transformers' image processors post-process them:
 * - Mask2Former first resizes the mask logits bilinearly to 384 × 384 ("the preprocessed image size for all
 *   models", hard-coded in transformers' Mask2FormerImageProcessor), MaskFormer keeps them at the model's size;
 * - instance ({@linkcode instanceSegments}): the best `queries` (query, class) pairs by class probability, each
 *   mask the logits above 0, scored by the class probability times the mean mask probability inside it, resized
 *   to the image (nearest), kept when not empty and scoring at least `threshold`;
 * - semantic ({@linkcode querySemanticScores}): per class, the class probability times the mask probability summed
 *   over the queries, then resized bilinearly to the image and the best class taken per pixel.
 *
 * @module
 */
import { softmax } from "./classification.ts";
import { linearTaps } from "./image_interpolate.ts";
import type { Segment } from "./task_types.ts";

/** Mask2Former's intermediate mask size (transformers interpolates the mask logits to it before anything else). */
export const MASK2FORMER_MASK_SIZE = 384;

/** The shape of the query outputs. */
export interface QueryShape {
  /** Queries per image. */
  queries: number;
  /** Classes, "no object" (the last) included. */
  classes: number;
  /** Mask height and width as the model answers them. */
  h: number;
  w: number;
}

/**
 * One `h × w` plane resized bilinearly to `outH × outW` (PyTorch's `align_corners=False`, in float32 as it
 * computes), or a float32 copy when the sizes are equal.
 */
export function resizePlane(
  data: ArrayLike<number>,
  offset: number,
  h: number,
  w: number,
  outH: number,
  outW: number,
): Float32Array {
  if (h === outH && w === outW) {
    const copy = new Float32Array(h * w);
    for (let i = 0; i < copy.length; i++) copy[i] = data[offset + i];
    return copy;
  }
  const ys = linearTaps(h, outH);
  const xs = linearTaps(w, outW);
  const across = new Float32Array(h * outW);
  for (let r = 0; r < h; r++) {
    for (let x = 0; x < outW; x++) {
      across[r * outW + x] = Math.fround(
        xs.w0[x] * data[offset + r * w + xs.i0[x]] + xs.w1[x] * data[offset + r * w + xs.i1[x]],
      );
    }
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const r0 = ys.i0[y] * outW, r1 = ys.i1[y] * outW, h0 = ys.w0[y], h1 = ys.w1[y];
    for (let x = 0; x < outW; x++) {
      out[y * outW + x] = Math.fround(Math.fround(h0 * across[r0 + x]) + Math.fround(h1 * across[r1 + x]));
    }
  }
  return out;
}

/** Python's `round(x, 6)` for a score. */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Where PyTorch's `interpolate(mode="nearest")` reads each of `outSize` samples from `inSize`. */
function nearestTaps(inSize: number, outSize: number): Int32Array {
  const scale = Math.fround(inSize / outSize);
  return Int32Array.from({ length: outSize }, (_, d) => Math.min(Math.floor(Math.fround(d * scale)), inSize - 1));
}

/**
 * The instances of image `n`, best score first, each mask the instance's own (0/255, at the image's size;
 * instances may overlap). transformers' pipeline paints them into one map in torch's unsorted top-k order, so
 * where two overlap its masks depend on that order; these do not.
 */
export function instanceSegments(
  classLogits: ArrayLike<number>,
  maskLogits: ArrayLike<number>,
  n: number,
  shape: QueryShape,
  size: { width: number; height: number },
  names: string[],
  options: { threshold: number; maskSize?: number },
): Segment[] {
  const { queries, classes, h, w } = shape;
  const labels = classes - 1;
  const candidates: { q: number; c: number; p: number }[] = [];
  for (let q = 0; q < queries; q++) {
    const row = new Float64Array(classes);
    for (let c = 0; c < classes; c++) row[c] = classLogits[(n * queries + q) * classes + c];
    const prob = softmax(row);
    for (let c = 0; c < labels; c++) candidates.push({ q, c, p: Math.fround(prob[c]) });
  }
  // top-k over (query, class) pairs, k = queries; best first, ties by position
  candidates.sort((a, b) => b.p - a.p || (a.q * labels + a.c) - (b.q * labels + b.c));
  const mh = options.maskSize ?? h, mw = options.maskSize ?? w;
  const ys = nearestTaps(mh, size.height);
  const xs = nearestTaps(mw, size.width);
  const perQuery = new Map<number, { score: number; mask: Uint8Array; empty: boolean }>();
  const segments: Segment[] = [];
  for (const { q, c, p } of candidates.slice(0, queries)) {
    let found = perQuery.get(q);
    if (!found) {
      const plane = resizePlane(maskLogits, (n * queries + q) * h * w, h, w, mh, mw);
      let sum = 0, count = 0;
      for (const v of plane) {
        if (v > 0) {
          sum += 1 / (1 + Math.exp(-v));
          count++;
        }
      }
      const mask = new Uint8Array(size.width * size.height);
      let empty = true;
      for (let y = 0; y < size.height; y++) {
        const row = ys[y] * mw;
        for (let x = 0; x < size.width; x++) {
          if (plane[row + xs[x]] > 0) {
            mask[y * size.width + x] = 255;
            empty = false;
          }
        }
      }
      found = { score: Math.fround(sum / (count + 1e-6)), mask, empty };
      perQuery.set(q, found);
    }
    const score = Math.fround(p * found.score);
    if (found.empty || !(score >= options.threshold)) continue;
    segments.push({ label: names[c] ?? `LABEL_${c}`, score: round6(score), mask: found.mask.slice() });
  }
  return segments.sort((a, b) => b.score! - a.score!);
}

/**
 * Semantic class scores `[classes, mh, mw]` of image `n` (the "no object" class left out): the sum over the
 * queries of each class's probability times the query's mask probability, the masks first resized to `maskSize`.
 */
export function querySemanticScores(
  classLogits: ArrayLike<number>,
  maskLogits: ArrayLike<number>,
  n: number,
  shape: QueryShape,
  maskSize?: number,
): { scores: Float32Array; h: number; w: number } {
  const { queries, classes, h, w } = shape;
  const labels = classes - 1;
  const mh = maskSize ?? h, mw = maskSize ?? w;
  const plane = mh * mw;
  const scores = new Float32Array(labels * plane);
  for (let q = 0; q < queries; q++) {
    const row = new Float64Array(classes);
    for (let c = 0; c < classes; c++) row[c] = classLogits[(n * queries + q) * classes + c];
    const prob = softmax(row);
    const masks = resizePlane(maskLogits, (n * queries + q) * h * w, h, w, mh, mw);
    for (let i = 0; i < plane; i++) masks[i] = Math.fround(1 / (1 + Math.exp(-masks[i])));
    for (let c = 0; c < labels; c++) {
      const pc = Math.fround(prob[c]);
      const base = c * plane;
      for (let i = 0; i < plane; i++) scores[base + i] = Math.fround(scores[base + i] + Math.fround(pc * masks[i]));
    }
  }
  return { scores, h: mh, w: mw };
}
