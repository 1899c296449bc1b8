/**
 * The `image-segmentation` task (semantic): a model that answers per-class logits `[batch, classes, h, w]`
 * (SegFormer, MobileViT, BEiT, DPT-segmentation, UperNet) → the logits resized bilinearly to the input image's
 * size (PyTorch's `align_corners=False`, as transformers' `post_process_semantic_segmentation`) → the best class
 * of each pixel → one segment per class present, in class order, with a 0/255 mask and `score: null`, as
 * transformers' `ImageSegmentationPipeline` answers.
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
import { labelNames, tensorNumbers } from "./classification.ts";
import { type ImageTaskState, setupImageTask } from "./image_classification.ts";
import { linearTaps } from "./image_interpolate.ts";
import { detectionFeeds, type ImageSizes } from "./object_detection.ts";
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
  postprocess(outputs, pre, ctx) {
    const { sizes } = pre.meta as ImageSizes;
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
