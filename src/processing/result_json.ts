/**
 * A pipeline's {@linkcode TaskResult} as JSON — what `gpux run --text/--image/--audio --json` prints in
 * `result` and `gpux serve`'s `/predict` answers for raw inputs — with each entry labelled by its input
 * (the text, or the image/audio file's name).
 *
 * @module
 */
import { tensorsToJson } from "../runtime/tensors.ts";
import type { PipelineInput, TaskResult } from "./task_types.ts";
import { cosineSimilarity } from "./feature_extraction.ts";

/** The label of each input of a batch: the texts, or the files' names. */
export function inputNames(input: PipelineInput): string[] {
  if (typeof input === "string") return [input];
  if (Array.isArray(input)) return input;
  if (input.kind === "text") return input.texts;
  if (input.kind === "image") return input.images.map((f) => f.name);
  return input.clips.map((f) => f.name);
}

/**
 * A task result as plain JSON: per input `{input, labels}` (classification, zero-shot), `{input, entities}`,
 * `{input, text}` (transcription), `{input, masks}` (fill-mask: per mask, candidates `{score, token, tokenStr, sequence}`),
 * `{question, answers}` (question answering: `{score, start, end, answer}`), `{source, similarities: [{input, score}]}`
 * (sentence similarity); embeddings as `{dimension, pooling, normalized, embeddings: [{input, embedding}],
 * similarityToFirst?}` (cosine of each later input with the first);
 * other tasks as the named output tensors.
 */
export function resultJson(result: TaskResult, names: string[]): unknown {
  switch (result.kind) {
    case "classification":
    case "zero-shot":
      return names.map((input, i) => ({ input, labels: result.predictions[i] }));
    case "embedding":
      return {
        dimension: result.dimension,
        pooling: result.pooling,
        normalized: result.normalized,
        embeddings: names.map((input, i) => ({ input, embedding: Array.from(result.embeddings[i]) })),
        ...(names.length > 1
          ? {
            similarityToFirst: result.embeddings.slice(1).map((v) => cosineSimilarity(result.embeddings[0], v)),
          }
          : {}),
      };
    case "entities":
      return names.map((input, i) => ({ input, entities: result.entities[i] }));
    case "transcription":
      return names.map((input, i) => ({ input, text: result.texts[i] }));
    case "fill-mask":
      return names.map((input, i) => ({ input, masks: result.masks[i] }));
    case "answers":
      return names.map((question, i) => ({ question, answers: result.answers[i] }));
    case "similarity":
      return {
        source: names[0],
        similarities: names.slice(1).map((input, i) => ({ input, score: result.similarities[i] })),
      };
    case "tensors":
      return tensorsToJson(result.outputs);
  }
}
