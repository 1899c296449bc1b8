/**
 * The `image-classification` task: images → pixel tensor (as the repository's preprocessor_config.json
 * or gpux.yml `preprocessing:` says) → logits → softmax (sigmoid for multi-label) → top-k `id2label`
 * names. Also exports {@linkcode loadImageSpec} and {@linkcode imageFeeds} for other vision tasks.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { type TensorData, type TensorInfo, toFloat16Bits } from "../runtime/tensors.ts";
import { classify } from "./classification.ts";
import { decodeImage, type DecodeImageOptions } from "./image_decode.ts";
import {
  type ImageSpec,
  imageSpecFromGpuxConfig,
  imageSpecFromProcessorConfig,
  imagesToTensor,
  layoutFromShape,
  resizeAndCrop,
} from "./image_preprocess.ts";
import type { ImageInput, PipelineContext, TaskHandler } from "./task_types.ts";

/** What an image task keeps between runs. */
export interface ImageTaskState {
  /** Pre-processing steps. */
  spec: ImageSpec;
  /** The model input that takes the pixels. */
  input: TensorInfo;
  /** NCHW or NHWC. */
  layout: "nchw" | "nhwc";
  /** Decoder options. */
  decode: DecodeImageOptions;
}

const IMAGE_KEYS = ["resize", "crop", "mean", "std", "normalize", "layout"] as const;

/**
 * The image steps for a model: preprocessor_config.json, with any image key gpux.yml's `preprocessing:`
 * sets taking precedence; gpux.yml alone when the repository has no processor config.
 *
 * @throws {NotFoundError} neither exists (naming preprocessor_config.json and the `gpux pull` for it).
 */
export async function loadImageSpec(ctx: PipelineContext): Promise<ImageSpec> {
  const config = await ctx.files.readJsonIfPresent("preprocessor_config.json") as Record<string, unknown> | undefined;
  const yml = ctx.preprocessing;
  const ymlHasImage = yml !== undefined && IMAGE_KEYS.some((k) => yml[k] !== undefined);
  if (!config && !ymlHasImage) {
    throw ctx.files.missing("preprocessor_config.json", "it says how to resize and normalize images for this model");
  }
  if (config && (typeof config !== "object" || Array.isArray(config))) {
    throw new InputError("preprocessor_config.json: expected a JSON object");
  }
  const base = config ? imageSpecFromProcessorConfig(config) : undefined;
  if (!ymlHasImage) return base!;
  const fromYml = imageSpecFromGpuxConfig(yml!);
  if (!base) return fromYml;
  return {
    ...base,
    ...(yml!.resize !== undefined ? { resize: fromYml.resize } : {}),
    ...(yml!.crop !== undefined ? { crop: fromYml.crop } : {}),
    ...(yml!.mean || yml!.std || yml!.normalize ? { normalize: fromYml.normalize } : {}),
    ...(yml!.layout ? { layout: fromYml.layout } : {}),
  };
}

/** The model input that takes images: `pixel_values`, else the first 4-D input, else the first input. */
export function imageInput(inputs: readonly TensorInfo[]): TensorInfo {
  return inputs.find((i) => i.name === "pixel_values") ?? inputs.find((i) => i.shape?.length === 4) ?? inputs[0];
}

/** Loads the spec and picks the input and layout (a handler's `setup`). */
export async function setupImageTask(ctx: PipelineContext): Promise<ImageTaskState> {
  const spec = await loadImageSpec(ctx);
  const input = imageInput(ctx.session.inputs);
  return { spec, input, layout: spec.layout ?? layoutFromShape(input.shape), decode: {} };
}

/** Decodes and pre-processes the images into the model's feeds. */
export async function imageFeeds(input: ImageInput, state: ImageTaskState): Promise<Record<string, TensorData>> {
  if (input.images.length === 0) throw new InputError("no image given", { hint: "pass --image PATH (or - for stdin)" });
  const images = [];
  for (const file of input.images) {
    images.push(resizeAndCrop(await decodeImage(file.bytes, file.name, state.decode), state.spec));
  }
  const declared = state.input.shape;
  if (declared?.length === 4) {
    const [h, w] = state.layout === "nchw" ? [declared[2], declared[3]] : [declared[1], declared[2]];
    const { width, height } = images[0];
    if ((typeof h === "number" && h !== height) || (typeof w === "number" && w !== width)) {
      throw new InputError(
        `${input.images[0].name}: pre-processed to ${width}×${height}, but ${state.input.name} takes ${w}×${h}`,
        { hint: "check size/crop_size in preprocessor_config.json or resize/crop in gpux.yml preprocessing" },
      );
    }
  }
  if (state.input.dtype === "uint8") {
    // Models that take raw bytes (TensorFlow exports with the normalization inside): pixels as they are.
    const plain = imagesToTensor(images, { resample: state.spec.resample }, state.layout);
    return { [state.input.name]: { ...plain, dtype: "uint8", data: Uint8Array.from(plain.data as Float32Array) } };
  }
  let tensor = imagesToTensor(images, state.spec, state.layout);
  if (state.input.dtype === "float16") {
    tensor = { ...tensor, dtype: "float16", data: toFloat16Bits(tensor.data as Float32Array) };
  } else if (state.input.dtype !== "float32") {
    throw new InputError(
      `${state.input.name} takes ${state.input.dtype}; gpux feeds images as float32, float16 or uint8`,
    );
  }
  return { [state.input.name]: tensor };
}

/** The logits output: `logits`, else the first output. */
export function logitsOf(outputs: Record<string, TensorData>, names: readonly string[]): TensorData {
  return outputs.logits ?? outputs[names[0]];
}

/** The image-classification handler. */
export const imageClassification: TaskHandler<ImageTaskState> = {
  task: "image-classification",
  accepts: ["image"],
  setup: setupImageTask,
  async preprocess(input, _ctx, state) {
    if (input.kind !== "image") throw new InputError(`image-classification takes images, not ${input.kind}`);
    return { feeds: await imageFeeds(input, state) };
  },
  postprocess(outputs, _pre, ctx, _state, options) {
    const logits = logitsOf(outputs, ctx.session.outputs.map((o) => o.name));
    return { kind: "classification", task: ctx.task, predictions: classify(logits, ctx, options.topK ?? 5) };
  },
};
