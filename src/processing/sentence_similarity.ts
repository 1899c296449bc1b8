/**
 * sentence-similarity: the first text is the source, every other text a candidate; each is embedded by
 * the feature-extraction pooling (sentence-transformers' modules.json: mean/CLS/max, normalised or not)
 * and scored by the cosine of its embedding with the source's — the Hub's sentence-similarity widget
 * (`source_sentence` against `sentences`).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { cosineSimilarity, featureExtraction } from "./feature_extraction.ts";
import type { TaskHandler, TextInput } from "./task_types.ts";

type EmbeddingState = typeof featureExtraction extends TaskHandler<infer S> ? S : never;

/**
 * The sentence-similarity handler: `texts[0]` is the source, `texts[1..]` the candidates.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * const similarity = await loadPipeline("acme/minilm", { task: "sentence-similarity" });
 * const result = await similarity.run(["a man is eating food.", "a man eats bread.", "a girl rides a horse."]);
 * if (result.kind === "similarity") console.log(result.similarities);
 * // [ 0.8311, 0.1204 ]
 * ```
 */
export const sentenceSimilarity: TaskHandler<EmbeddingState> = {
  task: "sentence-similarity",
  accepts: ["text"],
  setup: featureExtraction.setup,
  preprocess(input, ctx, state, options) {
    if ((input as TextInput).texts.length < 2) {
      throw new InputError("sentence similarity needs a source text and at least one text to compare it with", {
        hint: 'pass --text "source" --text "candidate" [--text …] (or --task feature-extraction for the vectors)',
      });
    }
    return featureExtraction.preprocess(input, ctx, state, options);
  },
  async postprocess(outputs, pre, ctx, state, options) {
    const result = await featureExtraction.postprocess(outputs, pre, ctx, state, options);
    if (result.kind !== "embedding") throw new InputError("the model gave no sentence embeddings");
    const [source, ...candidates] = result.embeddings;
    return {
      kind: "similarity",
      task: ctx.task,
      similarities: candidates.map((v) => cosineSimilarity(source, v)),
    };
  },
};
