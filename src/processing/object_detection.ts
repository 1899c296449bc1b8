/**
 * The `object-detection` task: images → boxes in the original image's pixels, labels and scores, as
 * transformers' `ObjectDetectionPipeline` answers for DETR, YOLOS and RT-DETR style models (outputs `logits`
 * `[batch, queries, classes]` and `pred_boxes` `[batch, queries, 4]`, centre x/y, width, height relative to the
 * image).
 *
 * Pre-processing follows DETR's image processor: `size: {shortest_edge, longest_edge}` is DETR's aspect-kept
 * resize (`get_size_with_aspect_ratio`), and images of a batch are padded bottom-right to the largest, with a
 * `pixel_mask` where the model takes one. Post-processing: DETR and YOLOS take a softmax over the classes, drop
 * the last ("no object") and keep each query's best class; RT-DETR, D-FINE, Deformable and Conditional DETR
 * (sigmoid "focal" scores) take the top scores over all queries × classes. Boxes scoring above `threshold`
 * (default 0.5) are kept, in the models' order, as floats (transformers' pipeline truncates them to integers).
 *
 * @example
 * ```ts ignore
 * const detector = await loadPipeline("facebook/detr-resnet-50");
 * const bytes = await Deno.readFile("street.jpg");
 * const result = await detector.run({ kind: "image", images: [{ name: "street.jpg", bytes }] }, { threshold: 0.9 });
 * if (result.kind === "detection") console.log(result.objects[0][0]);
 * // { label: "car", score: 0.9983, box: { xmin: 12.4, ymin: 40.2, xmax: 220.9, ymax: 161.7 } }
 * ```
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorData } from "../runtime/tensors.ts";
import { labelNames, softmax, tensorNumbers } from "./classification.ts";
import { decodeImage, type RgbImage } from "./image_decode.ts";
import { imagesToTensor, resizeAndCrop } from "./image_preprocess.ts";
import { resizeImage } from "./image_resize.ts";
import { type ImageTaskState, setupImageTask } from "./image_classification.ts";
import type { DetectedObject, ImageInput, PipelineContext, TaskHandler } from "./task_types.ts";

/** Model types whose class scores are independent sigmoids, ranked top-k over queries × classes. */
const FOCAL_MODELS = new Set(["rt_detr", "rt_detr_v2", "d_fine", "deformable_detr", "conditional_detr", "dab_detr"]);

/** What `preprocess` hands `postprocess`: each input's original size. */
export interface ImageSizes {
  /** Width and height of each decoded input image. */
  sizes: { width: number; height: number }[];
}

/** DETR's `get_size_with_aspect_ratio`: the shortest edge to `size` unless the longest would pass `maxSize`. */
export function detrResizeSize(
  width: number,
  height: number,
  size: number,
  maxSize?: number,
): { width: number; height: number } {
  let rawSize: number | undefined;
  if (maxSize !== undefined) {
    const min = Math.min(width, height), max = Math.max(width, height);
    if (max / min * size > maxSize) {
      rawSize = maxSize * min / max;
      size = roundHalfEven(rawSize);
    }
  }
  if ((height <= width && height === size) || (width <= height && width === size)) return { width, height };
  if (width < height) {
    return { width: size, height: Math.trunc((rawSize ?? size) * height / width) };
  }
  return { height: size, width: Math.trunc((rawSize ?? size) * width / height) };
}

/** Python's `round`: halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Decodes and resizes the images of `input` as `state.spec` says (DETR's rule for `{shortest_edge, longest_edge}`)
 * and pads a batch of unequal sizes bottom-right with zeros. Returns the feeds (with `pixel_mask` where the model
 * takes one) and each image's original size. Shared by the vision tasks that answer in input pixels.
 */
export async function detectionFeeds(
  input: ImageInput,
  state: ImageTaskState,
  ctx: PipelineContext,
  sizeFor?: (width: number, height: number) => { width: number; height: number },
): Promise<{ feeds: Record<string, TensorData>; sizes: { width: number; height: number }[] }> {
  if (input.images.length === 0) throw new InputError("no image given", { hint: "pass --image PATH (or - for stdin)" });
  const sizes: { width: number; height: number }[] = [];
  const images: RgbImage[] = [];
  for (const file of input.images) {
    const decoded = await decodeImage(file.bytes, file.name, state.decode);
    sizes.push({ width: decoded.width, height: decoded.height });
    const resize = state.spec.resize;
    if (resize && sizeFor) {
      const to = sizeFor(decoded.width, decoded.height);
      const resized = resizeImage(decoded, to.width, to.height, state.spec.resample);
      images.push(state.spec.crop ? resizeAndCrop(resized, { ...state.spec, resize: undefined }) : resized);
    } else if (resize && "shortestEdge" in resize && resize.longestEdge !== undefined) {
      const to = detrResizeSize(decoded.width, decoded.height, resize.shortestEdge, resize.longestEdge);
      const resized = resizeImage(decoded, to.width, to.height, state.spec.resample);
      images.push(state.spec.crop ? resizeAndCrop(resized, { ...state.spec, resize: undefined }) : resized);
    } else {
      images.push(resizeAndCrop(decoded, state.spec));
    }
  }
  const width = Math.max(...images.map((i) => i.width));
  const height = Math.max(...images.map((i) => i.height));
  const padded = images.map((image) => pad(image, width, height));
  const tensor = imagesToTensor(padded.map((p) => p.image), state.spec, state.layout);
  // padding is zeros after normalization, as transformers pads the normalized array
  const plane = width * height;
  padded.forEach((p, n) => {
    if (p.image === images[n]) return;
    const data = tensor.data as Float32Array;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          if (x < images[n].width && y < images[n].height) continue;
          const i = state.layout === "nchw"
            ? (n * 3 + c) * plane + y * width + x
            : ((n * height + y) * width + x) * 3 + c;
          data[i] = 0;
        }
      }
    }
  });
  const feeds: Record<string, TensorData> = { [state.input.name]: tensor };
  if (ctx.session.inputs.some((i) => i.name === "pixel_mask")) {
    const mask = new BigInt64Array(images.length * plane);
    images.forEach((image, n) => {
      for (let y = 0; y < image.height; y++) mask.fill(1n, n * plane + y * width, n * plane + y * width + image.width);
    });
    feeds.pixel_mask = { dtype: "int64", shape: [images.length, height, width], data: mask };
  }
  return { feeds, sizes };
}

function pad(image: RgbImage, width: number, height: number): { image: RgbImage } {
  if (image.width === width && image.height === height) return { image };
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < image.height; y++) {
    data.set(image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3), y * width * 3);
  }
  return { image: { width, height, data } };
}

/** An output by name, else the first output whose last dimension is `last`. */
function outputOf(outputs: Record<string, TensorData>, name: string, last?: number): TensorData {
  const found = outputs[name] ??
    Object.values(outputs).find((t) => t.shape.length === 3 && (last === undefined || t.shape[2] === last));
  if (!found) {
    throw new InputError(`object-detection: the model has no "${name}" output`, {
      hint: "an object-detection model answers logits [batch, queries, classes] and pred_boxes [batch, queries, 4]",
    });
  }
  return found;
}

/** Centre-format relative boxes to pixel corners of a `width × height` image. */
export function cornerBox(b: ArrayLike<number>, at: number, width: number, height: number) {
  const [cx, cy, w, h] = [b[at], b[at + 1], b[at + 2], b[at + 3]];
  return {
    xmin: Math.fround(Math.fround(cx - 0.5 * w) * width),
    ymin: Math.fround(Math.fround(cy - 0.5 * h) * height),
    xmax: Math.fround(Math.fround(cx + 0.5 * w) * width),
    ymax: Math.fround(Math.fround(cy + 0.5 * h) * height),
  };
}

/** Boxes above `threshold` from DETR-style outputs, per image (see the module doc for the two scorings). */
export function detectObjects(
  logits: TensorData,
  boxes: TensorData,
  sizes: { width: number; height: number }[],
  ctx: Pick<PipelineContext, "config" | "preprocessing" | "model">,
  threshold: number,
): DetectedObject[][] {
  const [batch, queries, classes] = logits.shape as number[];
  const scores = tensorNumbers(logits);
  const box = tensorNumbers(boxes);
  const focal = FOCAL_MODELS.has(String(ctx.config.model_type ?? ""));
  const names = labelNames(ctx, focal ? classes : classes - 1);
  const result: DetectedObject[][] = [];
  for (let n = 0; n < batch; n++) {
    const { width, height } = sizes[n];
    const found: DetectedObject[] = [];
    if (focal) {
      const all = Array.from({ length: queries * classes }, (_, i) => i);
      const row = scores.subarray(n * queries * classes, (n + 1) * queries * classes);
      const prob = row.map((v) => 1 / (1 + Math.exp(-v)));
      all.sort((a, b) => prob[b] - prob[a] || a - b);
      const top = Math.min(
        queries,
        ctx.config.model_type === "rt_detr" || ctx.config.model_type === "rt_detr_v2" ||
          ctx.config.model_type === "d_fine"
          ? queries
          : 100,
        all.length,
      );
      for (const i of all.slice(0, top)) {
        if (!(prob[i] > threshold)) break;
        const q = Math.trunc(i / classes);
        found.push({
          label: names[i % classes],
          score: prob[i],
          box: cornerBox(box, (n * queries + q) * 4, width, height),
        });
      }
    } else {
      for (let q = 0; q < queries; q++) {
        const prob = softmax(scores.subarray((n * queries + q) * classes, (n * queries + q + 1) * classes));
        let best = 0;
        for (let c = 1; c < classes - 1; c++) if (prob[c] > prob[best]) best = c;
        if (!(prob[best] > threshold)) continue;
        found.push({
          label: names[best],
          score: prob[best],
          box: cornerBox(box, (n * queries + q) * 4, width, height),
        });
      }
    }
    result.push(found);
  }
  return result;
}

/** The object-detection handler. */
export const objectDetection: TaskHandler<ImageTaskState> = {
  task: "object-detection",
  accepts: ["image"],
  setup: setupImageTask,
  async preprocess(input, ctx, state) {
    if (input.kind !== "image") throw new InputError(`object-detection takes images, not ${input.kind}`);
    const { feeds, sizes } = await detectionFeeds(input, state, ctx);
    return { feeds, meta: { sizes } satisfies ImageSizes };
  },
  postprocess(outputs, pre, ctx, _state, options) {
    const { sizes } = pre.meta as ImageSizes;
    const logits = outputOf(outputs, "logits");
    const boxes = outputOf(outputs, "pred_boxes", 4);
    return {
      kind: "detection",
      task: ctx.task,
      objects: detectObjects(logits, boxes, sizes, ctx, options.threshold ?? 0.5),
    };
  },
};
