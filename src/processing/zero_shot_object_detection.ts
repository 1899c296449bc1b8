/**
 * The `zero-shot-object-detection` task: OWL-ViT / OWLv2 (`input_ids` + `attention_mask` of the candidate labels,
 * `pixel_values` → `logits` `[batch, patches, labels]`, `pred_boxes` `[batch, patches, 4]`) → for every patch and
 * label whose sigmoid score is above `threshold` (default 0.1), the label, score and box in the input's pixels,
 * best first (`topK` keeps the first k), as transformers' `ZeroShotObjectDetectionPipeline` answers. The labels
 * are encoded together, padded to the longest (the text tower's causal mask and the attention mask keep each
 * label's embedding what it is alone, which is how transformers' pipeline runs them). OWLv2 (config.json
 * `model_type`) pads the image to a square with black and resizes it with anti-aliasing, as transformers 5's
 * Owlv2ImageProcessor (owlv2_image.ts), and its boxes are relative to that square (scaled by the longer side).
 *
 * @example
 * ```ts ignore
 * const detector = await loadPipeline("google/owlvit-base-patch32");
 * const bytes = await Deno.readFile("kitchen.jpg");
 * const result = await detector.run(
 *   { kind: "image", images: [{ name: "kitchen.jpg", bytes }], candidateLabels: ["a cup", "a spoon"] },
 *   { threshold: 0.2 },
 * );
 * if (result.kind === "detection") console.log(result.objects[0][0]);
 * // { label: "a cup", score: 0.41, box: { xmin: 310.2, ymin: 120.5, xmax: 402.7, ymax: 230.1 } }
 * ```
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorData } from "../runtime/tensors.ts";
import { tensorNumbers } from "./classification.ts";
import { decodeImage, type RgbImage } from "./image_decode.ts";
import { type ImageTaskState, setupImageTask } from "./image_classification.ts";
import { imagesToTensor, resizeAndCrop } from "./image_preprocess.ts";
import { cornerBox } from "./object_detection.ts";
import { type Owlv2ImageSpec, owlv2PixelValues } from "./owlv2_image.ts";
import { textFeeds } from "./text_inputs.ts";
import { loadTokenizer, type TextTokenizer } from "./tokenizer.ts";
import type { DetectedObject, PipelineContext, TaskHandler } from "./task_types.ts";

interface ZeroShotDetectionState extends ImageTaskState {
  tokenizer: TextTokenizer;
  maxLength?: number;
  /** OWLv2: pad to a square, then its own resize; boxes are relative to the square. */
  owlv2?: Owlv2ImageSpec;
}

interface ZeroShotDetectionMeta {
  sizes: { width: number; height: number }[];
  labels: string[];
}

/** OWLv2's pre-processing settings from preprocessor_config.json (defaults: Owlv2ImageProcessor's). */
async function owlv2Spec(ctx: PipelineContext): Promise<Owlv2ImageSpec> {
  const config = (await ctx.files.readJsonIfPresent("preprocessor_config.json") ?? {}) as Record<string, unknown>;
  const size = (config.size ?? {}) as Record<string, unknown>;
  const num = (v: unknown, fallback: number) => typeof v === "number" && Number.isFinite(v) && v > 0 ? v : fallback;
  const triple = (v: unknown, fallback: number[]) =>
    Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number") ? v as number[] : fallback;
  const side = num(size.height ?? size.shortest_edge, 960);
  return {
    width: Math.round(num(size.width ?? size.shortest_edge, side)),
    height: Math.round(side),
    rescale: config.do_rescale === false ? 1 : num(config.rescale_factor, 1 / 255),
    ...(config.do_normalize === false ? {} : {
      normalize: {
        mean: triple(config.image_mean, [0.48145466, 0.4578275, 0.40821073]),
        std: triple(config.image_std, [0.26862954, 0.26130258, 0.27577711]),
      },
    }),
  };
}

function output(outputs: Record<string, TensorData>, name: string): TensorData {
  const t = outputs[name];
  if (!t) {
    throw new InputError(`zero-shot-object-detection: the model has no "${name}" output`, {
      hint: "an OWL-ViT export answers logits [batch, patches, labels] and pred_boxes [batch, patches, 4]",
    });
  }
  return t;
}

/** The zero-shot-object-detection handler. */
export const zeroShotObjectDetection: TaskHandler<ZeroShotDetectionState> = {
  task: "zero-shot-object-detection",
  accepts: ["image"],
  async setup(ctx) {
    const image = await setupImageTask(ctx);
    if (!ctx.session.inputs.some((i) => i.name === "input_ids")) {
      throw new InputError("zero-shot-object-detection needs a model with input_ids (the labels) and pixel_values", {
        hint: "export OWL-ViT with its text and vision towers in one graph",
      });
    }
    const tokenizer = await loadTokenizer(ctx.files, { file: ctx.preprocessing?.tokenizer });
    const textConfig = ctx.config.text_config as Record<string, unknown> | undefined;
    const maxPositions = typeof textConfig?.max_position_embeddings === "number"
      ? textConfig.max_position_embeddings
      : 16;
    return {
      ...image,
      tokenizer,
      maxLength: tokenizer.settings.modelMaxLength ?? maxPositions,
      owlv2: ctx.config.model_type === "owlv2" ? await owlv2Spec(ctx) : undefined,
    };
  },
  async preprocess(input, ctx, state) {
    if (input.kind !== "image") throw new InputError(`zero-shot-object-detection takes images, not ${input.kind}`);
    const labels = input.candidateLabels ?? [];
    if (labels.length === 0) {
      throw new InputError("zero-shot object detection needs the labels to look for", {
        hint: 'pass them: --labels "a cat,a remote control" (or candidateLabels in the input)',
      });
    }
    if (input.images.length === 0) throw new InputError("no image given", { hint: "pass --image PATH" });
    const sizes: { width: number; height: number }[] = [];
    const images: RgbImage[] = [];
    for (const file of input.images) {
      const decoded = await decodeImage(file.bytes, file.name, state.decode);
      sizes.push({ width: decoded.width, height: decoded.height });
      images.push(state.owlv2 ? decoded : resizeAndCrop(decoded, state.spec));
    }
    const texts = input.images.flatMap(() => labels);
    const batch = state.tokenizer.encodeBatch(texts, {
      maxLength: state.maxLength,
      truncation: state.maxLength !== undefined,
      padding: true,
    });
    const feeds = {
      ...textFeeds(ctx.session.inputs, batch),
      [state.input.name]: state.owlv2
        ? owlv2PixelValues(images, state.owlv2)
        : imagesToTensor(images, state.spec, state.layout),
    };
    return { feeds, meta: { sizes, labels } satisfies ZeroShotDetectionMeta };
  },
  postprocess(outputs, pre, ctx, state, options) {
    const { sizes, labels } = pre.meta as ZeroShotDetectionMeta;
    const logits = output(outputs, "logits");
    const boxes = tensorNumbers(output(outputs, "pred_boxes"));
    const [batch, patches, queries] = logits.shape as number[];
    const scores = tensorNumbers(logits);
    const threshold = options.threshold ?? 0.1;
    const objects: DetectedObject[][] = [];
    for (let n = 0; n < batch; n++) {
      const side = Math.max(sizes[n].width, sizes[n].height);
      const [width, height] = state.owlv2 ? [side, side] : [sizes[n].width, sizes[n].height];
      const found: DetectedObject[] = [];
      for (let q = 0; q < Math.min(queries, labels.length); q++) {
        for (let p = 0; p < patches; p++) {
          const score = 1 / (1 + Math.exp(-scores[(n * patches + p) * queries + q]));
          if (!(score > threshold)) continue;
          found.push({ label: labels[q], score, box: cornerBox(boxes, (n * patches + p) * 4, width, height) });
        }
      }
      found.sort((a, b) => b.score - a.score);
      objects.push(options.topK !== undefined ? found.slice(0, options.topK) : found);
    }
    return { kind: "detection", task: ctx.task, objects };
  },
};
