/**
 * The `image-segmentation` task, as transformers' `ImageSegmentationPipeline` answers it:
 * - panoptic, for models answering per-query classes and masks (DETR-panoptic's `logits` + `pred_masks`,
 *   MaskFormer's `class_queries_logits` + `masks_queries_logits`): {@linkcode panopticSegments}, queries above
 *   `threshold` (default 0.9), each segment a label, a score and a 0/255 mask;
 * - semantic, for models answering per-class logits `[batch, classes, h, w]` (SegFormer, MobileViT, BEiT,
 *   DPT-segmentation, UperNet): the logits resized bilinearly to the input image's size (PyTorch's
 *   `align_corners=False`, as transformers' `post_process_semantic_segmentation`) → the best class of each pixel →
 *   one segment per class present, in class order, with a 0/255 mask and `score: null`.
 *
 * @example
 * ```ts ignore
 * const segmenter = await loadPipeline("nvidia/segformer-b0-finetuned-ade-512-512");
 * const bytes = await Deno.readFile("room.png");
 * const result = await segmenter.run({ kind: "image", images: [{ name: "room.png", bytes }] });
 * if (result.kind === "segmentation") console.log(result.segments[0].map((s) => s.label));
 * // [ "wall", "floor", "ceiling", "bed" ]
 * ```
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorData } from "../runtime/tensors.ts";
import { labelNames, softmax, tensorNumbers } from "./classification.ts";
import { type ImageTaskState, setupImageTask } from "./image_classification.ts";
import { linearTaps } from "./image_interpolate.ts";
import { detectionFeeds, type ImageSizes } from "./image_task_feeds.ts";
import type { Segment, TaskHandler } from "./task_types.ts";

/** Per pixel of a `width × height` image: the class whose bilinearly resized logit is largest. */
export function semanticMap(
  logits: Float64Array,
  offset: number,
  classes: number,
  h: number,
  w: number,
  width: number,
  height: number,
): Int32Array {
  const ys = linearTaps(h, height);
  const xs = linearTaps(w, width);
  const map = new Int32Array(width * height);
  const best = new Float32Array(width * height).fill(-Infinity);
  const across = new Float32Array(h * width);
  const plane = h * w;
  // class by class, separably (each logit row along x once, then pairs of rows along y), in PyTorch's float32
  // order; the running best keeps the first class of a tie, as argmax does
  for (let c = 0; c < classes; c++) {
    const base = offset + c * plane;
    for (let r = 0; r < h; r++) {
      for (let x = 0; x < width; x++) {
        across[r * width + x] = Math.fround(
          xs.w0[x] * logits[base + r * w + xs.i0[x]] + xs.w1[x] * logits[base + r * w + xs.i1[x]],
        );
      }
    }
    for (let y = 0; y < height; y++) {
      const r0 = ys.i0[y] * width, r1 = ys.i1[y] * width, h0 = ys.w0[y], h1 = ys.w1[y];
      for (let x = 0, i = y * width; x < width; x++, i++) {
        const v = Math.fround(Math.fround(h0 * across[r0 + x]) + Math.fround(h1 * across[r1 + x]));
        if (v > best[i]) {
          best[i] = v;
          map[i] = c;
        }
      }
    }
  }
  return map;
}

/** One segment per class present in `map`, ascending by class, with 0/255 masks. */
export function segmentsOf(map: Int32Array, names: string[]): Segment[] {
  const present = [...new Set(map)].sort((a, b) => a - b);
  const segments: Segment[] = [];
  for (const c of present) {
    const mask = new Uint8Array(map.length);
    for (let i = 0; i < map.length; i++) if (map[i] === c) mask[i] = 255;
    segments.push({ label: names[c] ?? `LABEL_${c}`, score: null, mask });
  }
  return segments;
}

/** Python's `round(x, 6)` for a score. */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Options of {@linkcode panopticSegments}, as transformers' pipeline passes them. */
export interface PanopticOptions {
  /** Keep queries whose best class (not "no object") scores above this (pipeline default 0.9). */
  threshold: number;
  /** A pixel belongs to a query's own area where its score-weighted mask probability reaches this (0.5). */
  maskThreshold: number;
  /** Drop a segment that won no more than this share of its own area (0.5). */
  overlapMaskAreaThreshold: number;
}

/**
 * Panoptic segments of one image from DETR-style (`logits`, `pred_masks`) or MaskFormer-style
 * (`class_queries_logits`, `masks_queries_logits`) outputs, as transformers' `post_process_panoptic_segmentation`:
 * queries whose best class is not "no object" and scores above the threshold; their mask probabilities resized
 * bilinearly to the image and weighted by the score; each pixel to the query with the highest; a query a segment
 * when it won more than `overlapMaskAreaThreshold` of the pixels its own mask covers. Nothing is fused.
 */
export function panopticSegments(
  classLogits: Float64Array,
  maskLogits: Float64Array,
  n: number,
  shape: { queries: number; classes: number; h: number; w: number },
  size: { width: number; height: number },
  names: string[],
  options: PanopticOptions,
): Segment[] {
  const { queries, classes, h, w } = shape;
  const { width, height } = size;
  const kept: { q: number; label: number; score: number }[] = [];
  for (let q = 0; q < queries; q++) {
    const prob = softmax(classLogits.subarray((n * queries + q) * classes, (n * queries + q + 1) * classes));
    let best = 0;
    for (let c = 1; c < classes; c++) if (prob[c] > prob[best]) best = c;
    const score = Math.fround(prob[best]);
    if (best !== classes - 1 && score > options.threshold) kept.push({ q, label: best, score });
  }
  if (kept.length === 0) return [];
  const ys = linearTaps(h, height);
  const xs = linearTaps(w, width);
  const owner = new Int32Array(width * height);
  const best = new Float32Array(width * height).fill(-Infinity);
  const ownArea = new Int32Array(kept.length);
  const across = new Float32Array(h * width);
  const sig = new Float32Array(h * w);
  kept.forEach(({ q, score }, k) => {
    const base = (n * queries + q) * h * w;
    for (let i = 0; i < h * w; i++) sig[i] = Math.fround(1 / (1 + Math.exp(-maskLogits[base + i])));
    for (let r = 0; r < h; r++) {
      for (let x = 0; x < width; x++) {
        across[r * width + x] = Math.fround(xs.w0[x] * sig[r * w + xs.i0[x]] + xs.w1[x] * sig[r * w + xs.i1[x]]);
      }
    }
    for (let y = 0; y < height; y++) {
      const r0 = ys.i0[y] * width, r1 = ys.i1[y] * width, h0 = ys.w0[y], h1 = ys.w1[y];
      for (let x = 0, i = y * width; x < width; x++, i++) {
        const p = Math.fround(Math.fround(h0 * across[r0 + x]) + Math.fround(h1 * across[r1 + x]));
        const v = Math.fround(p * score);
        if (v >= options.maskThreshold) ownArea[k]++;
        if (v > best[i]) {
          best[i] = v;
          owner[i] = k;
        }
      }
    }
  });
  const won = new Int32Array(kept.length);
  for (const k of owner) won[k]++;
  const segments: Segment[] = [];
  kept.forEach(({ label, score }, k) => {
    if (!(won[k] > 0 && ownArea[k] > 0 && won[k] / ownArea[k] > options.overlapMaskAreaThreshold)) return;
    const mask = new Uint8Array(width * height);
    for (let i = 0; i < owner.length; i++) if (owner[i] === k) mask[i] = 255;
    segments.push({ label: names[label] ?? `LABEL_${label}`, score: round6(score), mask });
  });
  return segments;
}

function logitsOutput(outputs: Record<string, TensorData>): TensorData {
  const t = outputs.logits ?? Object.values(outputs).find((o) => o.shape.length === 4);
  if (!t || t.shape.length !== 4) {
    throw new InputError("image-segmentation: expected logits [batch, classes, height, width] from the model", {
      hint: "semantic segmentation models (SegFormer, MobileViT, BEiT, UperNet) answer such logits",
    });
  }
  return t;
}

/** The image-segmentation handler. */
export const imageSegmentation: TaskHandler<ImageTaskState> = {
  task: "image-segmentation",
  accepts: ["image"],
  setup: setupImageTask,
  async preprocess(input, ctx, state) {
    if (input.kind !== "image") throw new InputError(`image-segmentation takes images, not ${input.kind}`);
    const { feeds, sizes } = await detectionFeeds(input, state, ctx);
    return { feeds, meta: { sizes } satisfies ImageSizes };
  },
  postprocess(outputs, pre, ctx, _state, options) {
    const { sizes } = pre.meta as ImageSizes;
    const classOut = outputs.class_queries_logits ?? (outputs.pred_masks ? outputs.logits : undefined);
    const maskOut = outputs.masks_queries_logits ?? outputs.pred_masks;
    if (classOut && maskOut) {
      const [batch, queries, classes] = classOut.shape as number[];
      const [h, w] = (maskOut.shape as number[]).slice(-2);
      const classLogits = tensorNumbers(classOut), maskLogits = tensorNumbers(maskOut);
      const names = labelNames(ctx, classes - 1);
      const segments: Segment[][] = [];
      for (let n = 0; n < batch; n++) {
        segments.push(panopticSegments(classLogits, maskLogits, n, { queries, classes, h, w }, sizes[n], names, {
          threshold: options.threshold ?? 0.9,
          maskThreshold: 0.5,
          overlapMaskAreaThreshold: 0.5,
        }));
      }
      return { kind: "segmentation", task: ctx.task, sizes, segments };
    }
    const logits = logitsOutput(outputs);
    const [batch, classes, h, w] = logits.shape as number[];
    const values = tensorNumbers(logits);
    const names = labelNames(ctx, classes);
    const segments: Segment[][] = [];
    for (let n = 0; n < batch; n++) {
      const { width, height } = sizes[n];
      const map = semanticMap(values, n * classes * h * w, classes, h, w, width, height);
      segments.push(segmentsOf(map, names));
    }
    return { kind: "segmentation", task: ctx.task, sizes, segments };
  },
};
