/**
 * The `depth-estimation` task: DPT, Depth Anything, GLPN and other models answering `predicted_depth`
 * `[batch, h, w]` (or `[batch, 1, h, w]`) → the depth resized bicubically to the input image's size (PyTorch's
 * `bicubic`, `align_corners=False`, as transformers' `post_process_depth_estimation`) → the raw map plus a grey
 * picture of it normalised to 0..255 (`(d - min) / (max - min) * 255`, truncated, as transformers'
 * `DepthEstimationPipeline` draws it).
 *
 * @example
 * ```ts ignore
 * const estimator = await loadPipeline("LiheYoung/depth-anything-small-hf");
 * const bytes = await Deno.readFile("room.jpg");
 * const result = await estimator.run({ kind: "image", images: [{ name: "room.jpg", bytes }] });
 * if (result.kind === "depth") console.log(result.depths[0]);
 * // { width: 640, height: 480, predictedDepth: Float32Array(307200), picture: Uint8Array(307200) }
 * ```
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { tensorNumbers } from "./classification.ts";
import { type ImageTaskState, setupImageTask } from "./image_classification.ts";
import { resizeBicubic } from "./image_interpolate.ts";
import { detectionFeeds, type ImageSizes, roundHalfEven } from "./image_task_feeds.ts";
import type { DepthMap, TaskHandler } from "./task_types.ts";

/** A depth map normalised to 0..255 as transformers' pipeline does it (float32 arithmetic, truncated). */
export function depthToGrey(depth: Float32Array): Uint8Array {
  let min = Infinity, max = -Infinity;
  for (const v of depth) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = Math.fround(max - min);
  const grey = new Uint8Array(depth.length);
  for (let i = 0; i < depth.length; i++) {
    const normalized = range > 0 ? Math.fround(Math.fround(depth[i] - min) / range) : 0;
    grey[i] = Math.trunc(Math.fround(normalized * 255));
  }
  return grey;
}

/**
 * DPT's resize (DPT, Depth Anything): to `height × width`, or with `keep_aspect_ratio` scaled as little as possible
 * along the edge nearer its target, each edge rounded to a multiple of `ensure_multiple_of` (Python's `round`).
 */
export function dptResizeSize(
  width: number,
  height: number,
  target: { width: number; height: number },
  keepAspectRatio: boolean,
  multiple: number,
): { width: number; height: number } {
  let scaleH = target.height / height;
  let scaleW = target.width / width;
  if (keepAspectRatio) {
    if (Math.abs(1 - scaleW) < Math.abs(1 - scaleH)) scaleH = scaleW;
    else scaleW = scaleH;
  }
  const constrain = (v: number) => {
    const x = roundHalfEven(v / multiple) * multiple;
    return x < 0 ? Math.ceil(v / multiple) * multiple : x;
  };
  return { width: constrain(scaleW * width), height: constrain(scaleH * height) };
}

/** What depth estimation keeps: the image steps, and DPT's resize where the processor config asks for it. */
interface DepthState extends ImageTaskState {
  sizeFor?: (width: number, height: number) => { width: number; height: number };
}

/** The depth-estimation handler. */
export const depthEstimation: TaskHandler<DepthState> = {
  task: "depth-estimation",
  accepts: ["image"],
  async setup(ctx) {
    const state: DepthState = await setupImageTask(ctx);
    const config = await ctx.files.readJsonIfPresent("preprocessor_config.json") as Record<string, unknown> | undefined;
    const resize = state.spec.resize;
    const multiple = typeof config?.ensure_multiple_of === "number" && config.ensure_multiple_of > 0
      ? config.ensure_multiple_of
      : 1;
    if (resize && "width" in resize && (config?.keep_aspect_ratio === true || multiple !== 1)) {
      const keep = config?.keep_aspect_ratio === true;
      state.sizeFor = (width, height) => dptResizeSize(width, height, resize, keep, multiple);
    }
    return state;
  },
  async preprocess(input, ctx, state) {
    if (input.kind !== "image") throw new InputError(`depth-estimation takes images, not ${input.kind}`);
    const { feeds, sizes } = await detectionFeeds(input, state, ctx, state.sizeFor);
    return { feeds, meta: { sizes } satisfies ImageSizes };
  },
  postprocess(outputs, pre, ctx) {
    const { sizes } = pre.meta as ImageSizes;
    const t = outputs.predicted_depth ?? outputs[ctx.session.outputs[0].name];
    const shape = t.shape as number[];
    if (!(shape.length === 3 || (shape.length === 4 && shape[1] === 1))) {
      throw new InputError(
        `depth-estimation: expected predicted_depth [batch, height, width], got [${shape.join(", ")}]`,
      );
    }
    const [h, w] = shape.slice(-2);
    const values = tensorNumbers(t);
    const depths: DepthMap[] = [];
    for (let n = 0; n < shape[0]; n++) {
      const { width, height } = sizes[n];
      const predictedDepth = resizeBicubic(values, n * h * w, h, w, height, width);
      depths.push({
        width,
        height,
        predictedDepth,
        picture: depthToGrey(predictedDepth),
      });
    }
    return { kind: "depth", task: ctx.task, depths };
  },
};
