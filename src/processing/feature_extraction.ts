/**
 * feature-extraction / sentence-similarity: sentence embeddings pooled as the repository's
 * sentence-transformers configuration says (modules.json → `1_Pooling/config.json`: CLS, mean, max,
 * mean-sqrt-len; a `Normalize` module → L2 normalisation). Without one: mean pooling over the
 * attention mask. A model that already outputs a `[batch, dim]` embedding is used as it is.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorData } from "../runtime/tensors.ts";
import { tensorNumbers } from "./classification.ts";
import type { PipelineContext, TaskHandler, TextInput } from "./task_types.ts";
import { encodeText, setupText, textFeeds, type TextState } from "./text_inputs.ts";

/** How token embeddings become one vector. */
export type Pooling = "mean" | "cls" | "max" | "mean_sqrt_len" | "none";

interface EmbeddingState extends TextState {
  pooling: Pooling;
  normalize: boolean;
}

/** Pooling and normalisation from sentence-transformers' modules.json and its Pooling config. */
export async function poolingConfig(ctx: PipelineContext): Promise<{ pooling: Pooling; normalize: boolean }> {
  const modules = await ctx.files.readJsonIfPresent("modules.json");
  if (!Array.isArray(modules)) return { pooling: "mean", normalize: false };
  const list = modules as { type?: string; path?: string }[];
  const normalize = list.some((m) => typeof m.type === "string" && /Normalize$/.test(m.type));
  const poolingModule = list.find((m) => typeof m.type === "string" && /Pooling$/.test(m.type));
  if (!poolingModule) return { pooling: "mean", normalize };
  const path = `${poolingModule.path ? `${poolingModule.path}/` : ""}config.json`;
  const config = await ctx.files.readJson(path, "modules.json lists a Pooling module") as Record<string, unknown>;
  const pooling: Pooling = config.pooling_mode_cls_token
    ? "cls"
    : config.pooling_mode_max_tokens
    ? "max"
    : config.pooling_mode_mean_sqrt_len_tokens
    ? "mean_sqrt_len"
    : "mean";
  return { pooling, normalize };
}

/** Pools `[batch, tokens, dim]` into `[batch][dim]` under the attention mask. */
export function pool(hidden: TensorData, mask: number[][], pooling: Pooling): Float32Array[] {
  const [batch, tokens, dim] = hidden.shape;
  const values = tensorNumbers(hidden);
  const out: Float32Array[] = [];
  for (let b = 0; b < batch; b++) {
    const v = new Float64Array(dim);
    if (pooling === "cls") {
      // the first real token (the [CLS] position; with left padding, after the pads)
      const first = Math.max(0, mask[b].indexOf(1));
      for (let d = 0; d < dim; d++) v[d] = values[(b * tokens + first) * dim + d];
    } else if (pooling === "max") {
      v.fill(-Infinity);
      for (let t = 0; t < tokens; t++) {
        if (!mask[b][t]) continue;
        for (let d = 0; d < dim; d++) v[d] = Math.max(v[d], values[(b * tokens + t) * dim + d]);
      }
    } else {
      let count = 0;
      for (let t = 0; t < tokens; t++) {
        if (!mask[b][t]) continue;
        count++;
        for (let d = 0; d < dim; d++) v[d] += values[(b * tokens + t) * dim + d];
      }
      const div = pooling === "mean_sqrt_len" ? Math.sqrt(Math.max(count, 1)) : Math.max(count, 1e-9);
      for (let d = 0; d < dim; d++) v[d] /= div;
    }
    out.push(Float32Array.from(v));
  }
  return out;
}

/** Scales each vector to unit L2 norm (a zero vector stays zero). */
export function l2Normalize(vectors: Float32Array[]): Float32Array[] {
  return vectors.map((v) => {
    let sum = 0;
    for (const x of v) sum += x * x;
    const norm = Math.max(Math.sqrt(sum), 1e-12);
    return v.map((x) => x / norm);
  });
}

/** Cosine similarity of two vectors. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-12);
}

/** The feature-extraction handler. */
export const featureExtraction: TaskHandler<EmbeddingState> = {
  task: "feature-extraction",
  accepts: ["text"],
  async setup(ctx) {
    return { ...await setupText(ctx), ...await poolingConfig(ctx) };
  },
  preprocess(input, ctx, state) {
    const batch = encodeText(input as TextInput, state);
    return Promise.resolve({ feeds: textFeeds(ctx.session.inputs, batch), meta: batch.attentionMask });
  },
  postprocess(outputs, pre, ctx, state) {
    const mask = pre.meta as number[][];
    const names = ctx.session.outputs.map((o) => o.name);
    const pooled = ["sentence_embedding", "pooler_output", "sentence_embeddings"].find((n) =>
      outputs[n]?.shape.length === 2
    );
    let embeddings: Float32Array[];
    let pooling: string = state.pooling;
    const hiddenName = ["last_hidden_state", "token_embeddings"].find((n) => outputs[n]?.shape.length === 3) ??
      names.find((n) => outputs[n]?.shape.length === 3);
    if (hiddenName) {
      embeddings = pool(outputs[hiddenName], mask, state.pooling);
    } else {
      // no token embeddings: the model's own sentence embedding, else its first [batch, dim] output
      const sentence = pooled ?? names.find((n) => outputs[n]?.shape.length === 2);
      if (!sentence) {
        throw new InputError(
          `cannot find token embeddings [batch, tokens, dim] or a sentence embedding [batch, dim] among the outputs ${
            names.join(", ")
          }`,
          { hint: "use --raw to see the tensors" },
        );
      }
      const t = outputs[sentence];
      const values = tensorNumbers(t);
      const dim = t.shape[1];
      embeddings = Array.from(
        { length: t.shape[0] },
        (_, b) => Float32Array.from(values.subarray(b * dim, (b + 1) * dim)),
      );
      pooling = "none";
    }
    if (state.normalize) embeddings = l2Normalize(embeddings);
    return {
      kind: "embedding",
      task: ctx.task,
      embeddings,
      dimension: embeddings[0]?.length ?? 0,
      pooling,
      normalized: state.normalize,
      tokenCounts: mask.map((row) => row.reduce((n, m) => n + (m ? 1 : 0), 0)),
    };
  },
};
