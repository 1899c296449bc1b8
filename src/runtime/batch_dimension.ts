/**
 * The static proof that a model keeps the rows of a batch apart: its graph's symbolic shapes say every input
 * and output is led by one and the same named batch dimension. `gpux serve` batches different clients'
 * requests only under it (then confirms it at warm-up), and a pipeline runs a several-item input in one run
 * only under it (else item by item): splitting outputs by rows on anything less can hand one request's or one
 * item's results to another.
 *
 * @module
 */
import type { TensorInfo } from "./tensors.ts";

/** Whether a model may batch: `ok`, or why not (a sentence for `/info` and the ready line). */
export type BatchingVerdict = { ok: true } | { ok: false; reason: string };

function describeDim(d: TensorInfo["shape"][number] | undefined): string {
  if (d === undefined) return "missing (a scalar)";
  if (d === null) return "unnamed";
  if (typeof d === "number") return `fixed at ${d}`;
  return JSON.stringify(d);
}

/**
 * The static proof that stacking requests along dimension 0 keeps them apart: every input's first dimension
 * is one and the same named symbol (the batch, e.g. `"batch"`), every output's first dimension is that symbol
 * too, and the symbol appears nowhere else. Unnamed dimensions cannot be proven equal to anything, and a fixed
 * first dimension (even one that equals the batch size) or a different symbol (a sequence length, the number
 * of detections NonZero or NMS found) is not the batch: such models run one request at a time.
 *
 * @example
 * ```ts
 * batchingProof(
 *   [{ name: "x", dtype: "float32", shape: ["batch", 4] }],
 *   [{ name: "boxes", dtype: "int64", shape: ["num_detections", 2] }],
 * ); // { ok: false, reason: 'output "boxes" first dim is "num_detections", not the batch "batch"' }
 * ```
 */
export function batchingProof(inputs: readonly TensorInfo[], outputs: readonly TensorInfo[]): BatchingVerdict {
  if (inputs.length === 0) return { ok: false, reason: "the model has no inputs" };
  if (outputs.length === 0) return { ok: false, reason: "the model has no outputs" };
  const no = (reason: string): BatchingVerdict => ({ ok: false, reason });
  let batch: string | undefined;
  for (const t of inputs) {
    const d = t.shape[0];
    if (t.dtype === "unknown") return no(`input ${JSON.stringify(t.name)} is not a tensor`);
    if (typeof d !== "string") {
      return no(
        `input ${JSON.stringify(t.name)} first dim is ${describeDim(d)}, so it cannot be proven to be the batch`,
      );
    }
    if (batch === undefined) batch = d;
    else if (d !== batch) {
      return no(
        `input ${JSON.stringify(t.name)} first dim is ${JSON.stringify(d)}, not the batch ${JSON.stringify(batch)}`,
      );
    }
  }
  const symbol = JSON.stringify(batch);
  for (const t of outputs) {
    const d = t.shape[0];
    if (t.dtype === "unknown") return no(`output ${JSON.stringify(t.name)} is not a tensor`);
    if (d !== batch) {
      return no(`output ${JSON.stringify(t.name)} first dim is ${describeDim(d)}, not the batch ${symbol}`);
    }
  }
  for (const [kind, list] of [["input", inputs], ["output", outputs]] as const) {
    for (const t of list) {
      if (t.shape.indexOf(batch!, 1) > 0) {
        return no(`${kind} ${JSON.stringify(t.name)} uses the batch ${symbol} beyond its first dim`);
      }
    }
  }
  return { ok: true };
}
