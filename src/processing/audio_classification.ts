/**
 * The `audio-classification` task: WAV clips → waveform (resampled, normalized as the feature extractor
 * says; {@linkcode audioFeeds}) → logits → softmax (sigmoid for multi-label) → top-k `id2label` names.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { classify } from "./classification.ts";
import { audioFeeds, type AudioTaskState, setupAudioTask } from "./audio_features.ts";
import { logitsOf } from "./image_classification.ts";
import type { TaskHandler } from "./task_types.ts";

/** The audio-classification handler. */
export const audioClassification: TaskHandler<AudioTaskState> = {
  task: "audio-classification",
  accepts: ["audio"],
  setup: setupAudioTask,
  preprocess(input, ctx, state) {
    if (input.kind !== "audio") throw new InputError(`audio-classification takes audio, not ${input.kind}`);
    return Promise.resolve({ feeds: audioFeeds(input, state, ctx.maxAudioSeconds).feeds });
  },
  postprocess(outputs, _pre, ctx, _state, options) {
    const logits = logitsOf(outputs, ctx.session.outputs.map((o) => o.name));
    return { kind: "classification", task: ctx.task, predictions: classify(logits, ctx, options.topK ?? 5) };
  },
};
