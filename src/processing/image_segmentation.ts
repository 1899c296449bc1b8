/**
 * The `image-segmentation` task, as transformers' `ImageSegmentationPipeline` answers it, its `subtask`
 * (`--subtask`) picking the post-processing where the model's outputs allow several:
 * - panoptic (the default), for models answering per-query classes and masks (DETR-panoptic's `logits` +
 *   `pred_masks`, MaskFormer's and Mask2Former's `class_queries_logits` + `masks_queries_logits`):
 *   {@linkcode panopticSegments}, queries above `threshold` (default 0.9), each segment a label, a score and a
 *   0/255 mask;
 * - instance (MaskFormer, Mask2Former): per instance a label, a score and its own mask (query_segmentation.ts);
 * - semantic from queries (MaskFormer, Mask2Former): class × mask probabilities summed over the queries;
 * - semantic, for models answering per-class logits `[batch, classes, h, w]` (SegFormer, MobileViT, BEiT,
 *   DPT-segmentation, UperNet): the logits resized bilinearly to the input image's size (PyTorch's
 *   `align_corners=False`, as transformers' `post_process_semantic_segmentation`) → the best class of each pixel →
 *   one segment per class present, in class order, with a 0/255 mask and `score: null`.
 *
 * MaskFormer and Mask2Former are resized as their image processors do (DETR's aspect-kept rule, then each edge up
 * to a multiple of `size_divisor`, 32), and Mask2Former's mask logits go through 384 × 384 first, as transformers'.
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
import { detectionFeeds, detrResizeSize, type ImageSizes } from "./image_task_feeds.ts";
import { instanceSegments, MASK2FORMER_MASK_SIZE, querySemanticScores, resizePlane } from "./query_segmentation.ts";
import type { PipelineContext, Segment, TaskHandler } from "./task_types.ts";

/** Per pixel of a `width × height` image: the class whose bilinearly resized logit is largest. */
export function semanticMap(
  logits: Float64Array | Float32Array,
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
  /** Mask2Former: resize the mask logits to this square first (384), as its image processor does. */
  maskSize?: number;
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
  const mh = options.maskSize ?? h, mw = options.maskSize ?? w;
  const ys = linearTaps(mh, height);
  const xs = linearTaps(mw, width);
  const owner = new Int32Array(width * height);
  const best = new Float32Array(width * height).fill(-Infinity);
  const ownArea = new Int32Array(kept.length);
  const across = new Float32Array(mh * width);
  kept.forEach(({ q, score }, k) => {
    const sig = resizePlane(maskLogits, (n * queries + q) * h * w, h, w, mh, mw);
    for (let i = 0; i < sig.length; i++) sig[i] = Math.fround(1 / (1 + Math.exp(-sig[i])));
    for (let r = 0; r < mh; r++) {
      for (let x = 0; x < width; x++) {
        across[r * width + x] = Math.fround(xs.w0[x] * sig[r * mw + xs.i0[x]] + xs.w1[x] * sig[r * mw + xs.i1[x]]);
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

/** What the handler keeps from setup. */
interface SegmentationState extends ImageTaskState {
  /** MaskFormer / Mask2Former: their resize (DETR's rule, then each edge up to a multiple of `sizeDivisor`). */
  universal?: { sizeDivisor: number; longestEdge: number; mask2former: boolean };
}

/** The subtasks of transformers' image-segmentation pipeline. */
export const SEGMENTATION_SUBTASKS = ["panoptic", "instance", "semantic"] as const;

/** One of {@linkcode SEGMENTATION_SUBTASKS}. */
export type SegmentationSubtask = typeof SEGMENTATION_SUBTASKS[number];

async function setupSegmentation(ctx: PipelineContext): Promise<SegmentationState> {
  const image = await setupImageTask(ctx);
  const type = ctx.config.model_type;
  if (type !== "mask2former" && type !== "maskformer") return image;
  const config = (await ctx.files.readJsonIfPresent("preprocessor_config.json") ?? {}) as Record<string, unknown>;
  const size = config.size as Record<string, unknown> | undefined;
  const divisor = config.size_divisor ?? config.size_divisibility;
  const longest = size?.longest_edge ?? config.max_size;
  return {
    ...image,
    universal: {
      sizeDivisor: typeof divisor === "number" && Number.isInteger(divisor) && divisor >= 0 ? divisor : 32,
      // transformers' default for an int size (get_size_dict(size, max_size=1333))
      longestEdge: typeof longest === "number" && longest > 0 ? longest : 1333,
      mask2former: type === "mask2former",
    },
  };
}

function unsupported(subtask: string, what: string): InputError {
  return new InputError(`image-segmentation: subtask ${subtask} is not supported for ${what}`, {
    hint:
      "leave --subtask out, or pick one the model's outputs support (panoptic, instance: MaskFormer/Mask2Former; semantic: all)",
  });
}

/** The image-segmentation handler. */
export const imageSegmentation: TaskHandler<SegmentationState> = {
  task: "image-segmentation",
  accepts: ["image"],
  setup: setupSegmentation,
  async preprocess(input, ctx, state) {
    if (input.kind !== "image") throw new InputError(`image-segmentation takes images, not ${input.kind}`);
    const universal = state.universal;
    const resize = state.spec.resize;
    const sizeFor = universal && resize
      ? (width: number, height: number) => {
        const to = "shortestEdge" in resize
          ? detrResizeSize(width, height, resize.shortestEdge, resize.longestEdge ?? universal.longestEdge)
          : { width: resize.width, height: resize.height };
        const d = universal.sizeDivisor;
        return d > 0 ? { width: Math.ceil(to.width / d) * d, height: Math.ceil(to.height / d) * d } : to;
      }
      : undefined;
    const { feeds, sizes } = await detectionFeeds(input, state, ctx, sizeFor);
    return { feeds, meta: { sizes } satisfies ImageSizes };
  },
  postprocess(outputs, pre, ctx, state, options) {
    const { sizes } = pre.meta as ImageSizes;
    const subtask = options.subtask;
    const classOut = outputs.class_queries_logits ?? (outputs.pred_masks ? outputs.logits : undefined);
    const maskOut = outputs.masks_queries_logits ?? outputs.pred_masks;
    if (classOut && maskOut) {
      const [batch, queries, classes] = classOut.shape as number[];
      const [h, w] = (maskOut.shape as number[]).slice(-2);
      const classLogits = tensorNumbers(classOut), maskLogits = tensorNumbers(maskOut);
      const names = labelNames(ctx, classes - 1);
      const shape = { queries, classes, h, w };
      const maskSize = state.universal?.mask2former ? MASK2FORMER_MASK_SIZE : undefined;
      const queryStyle = outputs.class_queries_logits !== undefined && outputs.masks_queries_logits !== undefined;
      if ((subtask === "instance" || subtask === "semantic") && !queryStyle) {
        throw unsupported(subtask, "DETR-style outputs (logits + pred_masks)");
      }
      const segments: Segment[][] = [];
      for (let n = 0; n < batch; n++) {
        if (subtask === "instance") {
          segments.push(instanceSegments(classLogits, maskLogits, n, shape, sizes[n], names, {
            threshold: options.threshold ?? 0.9,
            maskSize,
          }));
        } else if (subtask === "semantic") {
          const { scores, h: sh, w: sw } = querySemanticScores(classLogits, maskLogits, n, shape, maskSize);
          const { width, height } = sizes[n];
          segments.push(segmentsOf(semanticMap(scores, 0, classes - 1, sh, sw, width, height), names));
        } else {
          segments.push(panopticSegments(classLogits, maskLogits, n, shape, sizes[n], names, {
            threshold: options.threshold ?? 0.9,
            maskThreshold: 0.5,
            overlapMaskAreaThreshold: 0.5,
            maskSize,
          }));
        }
      }
      return { kind: "segmentation", task: ctx.task, sizes, segments };
    }
    if (subtask === "panoptic" || subtask === "instance") {
      throw unsupported(subtask, "a model answering per-class logits (semantic segmentation only)");
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
