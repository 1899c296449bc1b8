/**
 * The `background-removal` task: a matting model (ISNet / BRIA RMBG style: one output, `[batch, 1, h, w]` or
 * `[batch, h, w]`, the foreground's probability) → the matte resized bilinearly to the input image's size →
 * an alpha mask 0..255, one `foreground` segment per image. `gpux run --output out.png` writes the input with
 * that alpha, an RGBA cut-out, as transformers.js's `background-removal` pipeline answers. A matte outside
 * 0..1 is taken for logits and goes through a sigmoid first.
 *
 * @example
 * ```ts ignore
 * const remover = await loadPipeline("briaai/RMBG-1.4", { task: "background-removal" });
 * const bytes = await Deno.readFile("portrait.jpg");
 * const result = await remover.run({ kind: "image", images: [{ name: "portrait.jpg", bytes }] });
 * if (result.kind === "segmentation") console.log(result.segments[0][0].label, result.sizes[0]);
 * // foreground { width: 800, height: 1200 }
 * ```
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { tensorNumbers } from "./classification.ts";
import { type ImageTaskState, setupImageTask } from "./image_classification.ts";
import { resizeGrey } from "./image_resize.ts";
import { detectionFeeds, type ImageSizes } from "./image_task_feeds.ts";
import type { Segment, TaskHandler } from "./task_types.ts";

/**
 * The matte's alpha at the image's size, as transformers.js's background removal makes it: the probability (a
 * sigmoid first when the values are logits) × 255 cut to 8 bits at the model's size, then resized with Pillow's
 * bilinear filter (which smooths a downscale, where an unfiltered resize would alias the matte's edges).
 */
export function matteAlpha(
  values: ArrayLike<number>,
  offset: number,
  h: number,
  w: number,
  width: number,
  height: number,
): Uint8Array {
  let logits = false;
  for (let i = offset; i < offset + h * w; i++) {
    if (values[i] < -1e-5 || values[i] > 1 + 1e-5) {
      logits = true;
      break;
    }
  }
  // one grey channel: Pillow resizes each channel alone, so this is the RGB resize's first channel
  const grey = new Uint8Array(h * w);
  for (let i = 0; i < h * w; i++) {
    const v = values[offset + i];
    const p = logits ? 1 / (1 + Math.exp(-v)) : v;
    grey[i] = Math.trunc(Math.min(1, Math.max(0, p)) * 255);
  }
  return resizeGrey(grey, w, h, width, height, "bilinear");
}

/** The background-removal handler. */
export const backgroundRemoval: TaskHandler<ImageTaskState> = {
  task: "background-removal",
  accepts: ["image"],
  setup: setupImageTask,
  async preprocess(input, ctx, state) {
    if (input.kind !== "image") throw new InputError(`background-removal takes images, not ${input.kind}`);
    const { feeds, sizes } = await detectionFeeds(input, state, ctx);
    return { feeds, meta: { sizes } satisfies ImageSizes };
  },
  postprocess(outputs, pre, ctx) {
    const { sizes } = pre.meta as ImageSizes;
    const t = outputs[ctx.session.outputs[0].name];
    const shape = t.shape as number[];
    if (!(shape.length === 3 || (shape.length === 4 && shape[1] === 1))) {
      throw new InputError(
        `background-removal: expected a matte [batch, 1, height, width] as the first output, got [${shape.join(", ")}]`,
      );
    }
    const [h, w] = shape.slice(-2);
    // float32 (the usual matte) is read in place; other types become numbers first
    const values = t.dtype === "float32" ? t.data as Float32Array : tensorNumbers(t);
    const segments: Segment[][] = [];
    for (let n = 0; n < shape[0]; n++) {
      const { width, height } = sizes[n];
      const mask = matteAlpha(values, n * h * w, h, w, width, height);
      segments.push([{ label: "foreground", score: null, mask }]);
    }
    return { kind: "segmentation", task: ctx.task, sizes, segments };
  },
};
