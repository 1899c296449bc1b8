/**
 * Dynamic batching, the pure part: which models can be batched, which requests may share a run, and how
 * their tensors are stacked along dimension 0 and split back so that each request gets exactly its rows.
 * The scheduling (when to run a batch) lives in the model pool.
 *
 * @module
 */
import type { TensorData, TensorInfo, TensorMap, TensorValues } from "../runtime/tensors.ts";

/**
 * True when every input and output has a dynamic first dimension (a symbolic name or unnamed), so that
 * requests can be stacked along it. A fixed first dimension (even 1), a scalar or an unknown rank turns
 * batching off.
 */
export function isBatchable(inputs: readonly TensorInfo[], outputs: readonly TensorInfo[]): boolean {
  if (inputs.length === 0 || outputs.length === 0) return false;
  const dynamicFirst = (t: TensorInfo) =>
    t.dtype !== "unknown" && t.shape.length >= 1 && (t.shape[0] === null || typeof t.shape[0] === "string");
  return inputs.every(dynamicFirst) && outputs.every(dynamicFirst);
}

/**
 * Rows a request contributes (its size along dimension 0), or `undefined` when its inputs disagree on
 * that size (then it runs alone).
 */
export function rowsOf(feeds: TensorMap, inputs: readonly TensorInfo[]): number | undefined {
  let rows: number | undefined;
  for (const info of inputs) {
    const t = feeds[info.name];
    if (!t || t.shape.length === 0) return undefined;
    if (rows === undefined) rows = t.shape[0];
    else if (t.shape[0] !== rows) return undefined;
  }
  return rows;
}

/** Requests with the same key have the same trailing shapes (and dtypes) and may be stacked. */
export function batchKey(feeds: TensorMap, inputs: readonly TensorInfo[]): string {
  let key = "";
  for (const info of inputs) {
    const t = feeds[info.name];
    key += `${t.dtype}[${t.shape.slice(1).join(",")}];`;
  }
  return key;
}

function concat(parts: readonly TensorValues[]): TensorValues {
  const first = parts[0];
  if (Array.isArray(first)) return ([] as string[]).concat(...(parts as string[][]));
  let length = 0;
  for (const p of parts) length += p.length;
  const Ctor = (first as Float32Array).constructor as new (n: number) => Float32Array;
  const out = new Ctor(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p as Float32Array, offset);
    offset += p.length;
  }
  return out as TensorValues;
}

/** Stacks several requests' feeds (same {@linkcode batchKey}) along dimension 0, input by input. */
export function stackFeeds(requests: readonly TensorMap[], inputs: readonly TensorInfo[]): TensorMap {
  if (requests.length === 1) return requests[0];
  const out: TensorMap = {};
  for (const info of inputs) {
    const tensors = requests.map((r) => r[info.name]);
    const rows = tensors.reduce((n, t) => n + t.shape[0], 0);
    out[info.name] = {
      dtype: tensors[0].dtype,
      shape: [rows, ...tensors[0].shape.slice(1)],
      data: concat(tensors.map((t) => t.data)),
    };
  }
  return out;
}

function slice(t: TensorData, start: number, rows: number): TensorData {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = Array.isArray(t.data)
    ? t.data.slice(start * per, (start + rows) * per)
    : (t.data as Float32Array).slice(start * per, (start + rows) * per);
  return { dtype: t.dtype, shape: [rows, ...t.shape.slice(1)], data: data as TensorValues };
}

/**
 * Splits a batched run's outputs back into one output map per request, `rows[i]` rows each, in order.
 * Returns `undefined` when an output's first dimension is not the total number of rows (the model does not
 * batch along dimension 0 after all): the caller then runs the requests one by one.
 */
export function splitOutputs(outputs: TensorMap, rows: readonly number[]): TensorMap[] | undefined {
  if (rows.length === 1) return [outputs];
  const total = rows.reduce((a, b) => a + b, 0);
  for (const name in outputs) if (outputs[name].shape[0] !== total) return undefined;
  const result: TensorMap[] = rows.map(() => ({}));
  for (const name in outputs) {
    let start = 0;
    rows.forEach((n, i) => {
      result[i][name] = slice(outputs[name], start, n);
      start += n;
    });
  }
  return result;
}
