/**
 * text-classification (sentiment, cross-encoders with `pairs`): softmax over the logits, sigmoid for
 * multi-label models (config.json `problem_type`), labels from `id2label`, top-k.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorData, TensorMap } from "../runtime/tensors.ts";
import { classify } from "./classification.ts";
import type { TaskHandler, TextInput } from "./task_types.ts";
import { encodeText, setupText, textFeeds, type TextState } from "./text_inputs.ts";

/** The output holding the logits: `logits`, else the first output. */
export function logitsOf(outputs: TensorMap, order: readonly { name: string }[]): TensorData {
  const t = outputs.logits ?? outputs[order[0]?.name];
  if (!t) throw new InputError("the model returned no outputs");
  return t;
}

/** The text-classification handler. */
export const textClassification: TaskHandler<TextState> = {
  task: "text-classification",
  accepts: ["text"],
  setup: setupText,
  preprocess(input, ctx, state) {
    const batch = encodeText(input as TextInput, state);
    return Promise.resolve({ feeds: textFeeds(ctx.session.inputs, batch) });
  },
  postprocess(outputs, _pre, ctx, _state, options) {
    return {
      kind: "classification",
      task: ctx.task,
      predictions: classify(logitsOf(outputs, ctx.session.outputs), ctx, options.topK ?? 1),
    };
  },
};
