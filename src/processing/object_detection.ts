/**
 * The `object-detection` task: images → boxes in the original image's pixels, labels and scores, as
 * transformers' `ObjectDetectionPipeline` answers for DETR, YOLOS and RT-DETR style models (outputs `logits`
 * `[batch, queries, classes]` and `pred_boxes` `[batch, queries, 4]`, centre x/y, width, height relative to the
 * image).
 *
 * Pre-processing follows DETR's image processor (image_task_feeds.ts). Post-processing: DETR and YOLOS take a softmax over the classes, drop
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
import { type ImageTaskState, setupImageTask } from "./image_classification.ts";
import { detectionFeeds, type ImageSizes } from "./image_task_feeds.ts";
import type { DetectedObject, PipelineContext, TaskHandler } from "./task_types.ts";

/** Model types whose class scores are independent sigmoids, ranked top-k over queries × classes. */
const FOCAL_MODELS = new Set(["rt_detr", "rt_detr_v2", "d_fine", "deformable_detr", "conditional_detr", "dab_detr"]);

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
