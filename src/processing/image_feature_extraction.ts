/**
 * The `image-feature-extraction` task (ViTModel, DINOv2, CLIPVisionModel … exported without a head):
 * images → pixel tensor (as image-classification) → one vector per image: `pooler_output` (or
 * `image_embeds`) when the model has it, else the first token of `last_hidden_state` (the CLS token, as
 * transformers' pipeline with `pool=True` and the models' own poolers read it), else a `[batch, dim]`
 * output as it is. Not normalised (transformers does not normalise either).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorData } from "../runtime/tensors.ts";
import { tensorNumbers } from "./classification.ts";
import { imageFeeds, type ImageTaskState, setupImageTask } from "./image_classification.ts";
import type { TaskHandler } from "./task_types.ts";

function pick(outputs: Record<string, TensorData>, names: readonly string[]): { tensor: TensorData; pooling: string } {
  for (const name of ["image_embeds", "pooler_output"]) {
    if (outputs[name]?.shape.length === 2) return { tensor: outputs[name], pooling: name };
  }
  const hidden = outputs.last_hidden_state ?? outputs[names[0]];
  if (hidden?.shape.length === 3) return { tensor: hidden, pooling: "cls" };
  const flat = names.map((n) => outputs[n]).find((t) => t?.shape.length === 2);
  if (flat) return { tensor: flat, pooling: "none" };
  throw new InputError(
    `image-feature-extraction expects a [batch, dim] output or last_hidden_state [batch, tokens, dim]; the model gives ${
      names.map((n) => `${n} [${outputs[n]?.shape.join(", ")}]`).join(", ")
    }`,
    { hint: "use --raw to get the tensors" },
  );
}

/** The image-feature-extraction handler. */
export const imageFeatureExtraction: TaskHandler<ImageTaskState> = {
  task: "image-feature-extraction",
  accepts: ["image"],
  setup: setupImageTask,
  async preprocess(input, _ctx, state) {
    if (input.kind !== "image") throw new InputError(`image-feature-extraction takes images, not ${input.kind}`);
    return { feeds: await imageFeeds(input, state) };
  },
  postprocess(outputs, _pre, ctx) {
    const { tensor, pooling } = pick(outputs, ctx.session.outputs.map((o) => o.name));
    const values = tensorNumbers(tensor);
    const batch = tensor.shape[0];
    const dim = tensor.shape[tensor.shape.length - 1];
    const stride = tensor.shape.length === 3 ? tensor.shape[1] * dim : dim; // CLS: token 0 of each row
    const embeddings = Array.from(
      { length: batch },
      (_, b) => Float32Array.from(values.subarray(b * stride, b * stride + dim)),
    );
    return { kind: "embedding", task: ctx.task, embeddings, dimension: dim, pooling, normalized: false };
  },
};
