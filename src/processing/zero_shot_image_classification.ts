/**
 * zero-shot-image-classification (CLIP, SigLIP): each candidate label is put in the hypothesis template
 * (`This is a photo of {}.`), tokenized beside the image's pixels, and the model's `logits_per_image`
 * (one merged graph taking `input_ids`, `pixel_values` and `attention_mask`) become scores — a softmax
 * across the labels for CLIP, an independent sigmoid per label for SigLIP (config.json `model_type`), whose
 * texts are padded to 64 tokens as it was trained — as transformers' ZeroShotImageClassificationPipeline.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { sigmoid, softmax, tensorNumbers } from "./classification.ts";
import { imageFeeds, type ImageTaskState, setupImageTask } from "./image_classification.ts";
import type { ImageInput, LabelScore, TaskHandler } from "./task_types.ts";
import { textFeeds } from "./text_inputs.ts";
import { loadTokenizer, type TextTokenizer } from "./tokenizer.ts";

interface ZeroShotImageState extends ImageTaskState {
  tokenizer: TextTokenizer;
  siglip: boolean;
  maxLength?: number;
}

/** SigLIP's text length (transformers pads and truncates its texts to it). */
const SIGLIP_LENGTH = 64;

/**
 * The zero-shot-image-classification handler.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * const clip = await loadPipeline("acme/clip-vit-base-patch32", { task: "zero-shot-image-classification" });
 * const image = { name: "cat.jpg", bytes: await Deno.readFile("cat.jpg") };
 * const result = await clip.run({ kind: "image", images: [image], candidateLabels: ["cat", "dog"] });
 * if (result.kind === "zero-shot") console.log(result.predictions[0]);
 * // [ { label: "cat", score: 0.9921 }, { label: "dog", score: 0.0079 } ]
 * ```
 */
export const zeroShotImageClassification: TaskHandler<ZeroShotImageState> = {
  task: "zero-shot-image-classification",
  accepts: ["image"],
  async setup(ctx) {
    const names = ctx.session.inputs.map((i) => i.name);
    if (!names.includes("input_ids") || !names.includes("pixel_values")) {
      throw new InputError(
        `zero-shot image classification needs one graph taking input_ids and pixel_values; this one takes ${
          names.join(", ")
        }`,
        { hint: "use the merged CLIP/SigLIP export (model.onnx), not the text or vision tower alone" },
      );
    }
    const image = await setupImageTask(ctx);
    const tokenizer = await loadTokenizer(ctx.files, { file: ctx.preprocessing?.tokenizer });
    const textConfig = (ctx.config.text_config ?? {}) as Record<string, unknown>;
    const siglip = String(ctx.config.model_type ?? "").includes("siglip");
    const positions = typeof textConfig.max_position_embeddings === "number"
      ? textConfig.max_position_embeddings
      : undefined;
    return { ...image, tokenizer, siglip, maxLength: siglip ? SIGLIP_LENGTH : positions };
  },
  async preprocess(input, ctx, state) {
    const image = input as ImageInput;
    const labels = image.candidateLabels ?? [];
    if (labels.length === 0) {
      throw new InputError("zero-shot image classification needs candidate labels", {
        hint: 'pass them: --labels "cat,dog,car" (or candidate_labels in the request)',
      });
    }
    const template = image.hypothesisTemplate ?? "This is a photo of {}.";
    const batch = state.tokenizer.encodeBatch(labels.map((l) => template.replaceAll("{}", l)), {
      maxLength: state.maxLength,
      truncation: state.maxLength !== undefined,
      padding: state.siglip ? "max_length" : true,
    });
    const feeds = { ...textFeeds(ctx.session.inputs, batch), ...await imageFeeds(image, state) };
    return { feeds, meta: labels };
  },
  postprocess(outputs, pre, ctx, state, options) {
    const labels = pre.meta as string[];
    const logits = outputs.logits_per_image;
    if (!logits || logits.shape.length !== 2 || logits.shape[1] !== labels.length) {
      throw new InputError(
        `expected logits_per_image [images, ${labels.length}] among the outputs ${
          ctx.session.outputs.map((o) => o.name).join(", ")
        }`,
        { hint: "use --raw to see the tensors" },
      );
    }
    const values = tensorNumbers(logits);
    const predictions: LabelScore[][] = [];
    for (let i = 0; i < logits.shape[0]; i++) {
      const row = values.subarray(i * labels.length, (i + 1) * labels.length);
      const scores = state.siglip ? sigmoid(row) : softmax(row);
      predictions.push(
        labels.map((label, l) => ({ label, score: scores[l] })).sort((a, b) => b.score - a.score)
          .slice(0, options.topK ?? labels.length),
      );
    }
    return { kind: "zero-shot", task: ctx.task, predictions };
  },
};
