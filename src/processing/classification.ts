/**
 * Shared post-processing for classifiers (text, image, audio): softmax, sigmoid, label names from
 * config.json `id2label` (or gpux.yml `preprocessing.labels`), and top-k.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { fromFloat16Bits, type TensorData } from "../runtime/tensors.ts";
import type { LabelScore, PipelineContext } from "./task_types.ts";

/** Numbers of a float or integer tensor as a Float64Array. */
export function tensorNumbers(t: TensorData): Float64Array {
  if (t.dtype === "string" || t.dtype === "bool") {
    throw new InputError(`expected a numeric tensor, got ${t.dtype}`);
  }
  if (t.dtype === "float16") return Float64Array.from(fromFloat16Bits(t.data as Uint16Array));
  if (t.dtype === "int64" || t.dtype === "uint64") return Float64Array.from(t.data as BigInt64Array, Number);
  return Float64Array.from(t.data as Float32Array);
}

/** Softmax of `row` (numerically stable), in place into a new array. */
export function softmax(row: ArrayLike<number>): Float64Array {
  const out = new Float64Array(row.length);
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

/** Element-wise logistic sigmoid. */
export function sigmoid(row: ArrayLike<number>): Float64Array {
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = 1 / (1 + Math.exp(-row[i]));
  return out;
}

/**
 * Label names by class index: config.json `id2label` (keys are stringified indices), else gpux.yml
 * `preprocessing.labels` (or an output's `labels` there, when their count fits), else `LABEL_i` as
 * transformers names them.
 */
export function labelNames(
  ctx: Pick<PipelineContext, "config" | "preprocessing"> & Partial<Pick<PipelineContext, "model">>,
  count: number,
): string[] {
  const outputLabels = ctx.model?.config?.outputs.find((o) => o.labels?.length === count)?.labels;
  const fromYml = ctx.preprocessing?.labels ?? outputLabels;
  const id2label = ctx.config.id2label as Record<string, unknown> | undefined;
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const fromConfig = id2label && typeof id2label === "object" ? id2label[String(i)] : undefined;
    names.push(typeof fromConfig === "string" ? fromConfig : fromYml?.[i] ?? `LABEL_${i}`);
  }
  return names;
}

/** Whether config.json declares a multi-label classifier (scores by sigmoid, not softmax). */
export function isMultiLabel(config: Record<string, unknown>): boolean {
  return config.problem_type === "multi_label_classification";
}

/** The `k` best of `scores` with their labels, best first (ties keep index order). */
export function topK(scores: ArrayLike<number>, labels: string[], k: number): LabelScore[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, Math.max(0, Math.min(k, order.length))).map((i) => ({ label: labels[i], score: scores[i] }));
}

/**
 * Logits `[batch, classes]` (or `[classes]`) → top-k labels per row: softmax, or sigmoid for a
 * multi-label model (and for a single-logit binary head, as transformers does).
 */
export function classify(
  logits: TensorData,
  ctx: Pick<PipelineContext, "config" | "preprocessing"> & Partial<Pick<PipelineContext, "model">>,
  k = 1,
): LabelScore[][] {
  const values = tensorNumbers(logits);
  const classes = logits.shape.length === 0 ? 1 : logits.shape[logits.shape.length - 1];
  if (classes === 0) return [];
  const rows = values.length / classes;
  const labels = labelNames(ctx, classes);
  const useSigmoid = isMultiLabel(ctx.config) || classes === 1;
  const out: LabelScore[][] = [];
  for (let r = 0; r < rows; r++) {
    const row = values.subarray(r * classes, (r + 1) * classes);
    out.push(topK(useSigmoid ? sigmoid(row) : softmax(row), labels, k));
  }
  return out;
}
