/**
 * Dynamic batching, the pure part: which models can be batched, which requests may share a run, and how
 * their tensors are stacked along dimension 0 and split back so that each request gets exactly its rows.
 * The scheduling (when to run a batch) lives in the model pool.
 *
 * @module
 */
import {
  fromFloat16Bits,
  type TensorData,
  type TensorInfo,
  type TensorMap,
  type TensorValues,
} from "../runtime/tensors.ts";

export { batchingProof, type BatchingVerdict } from "../runtime/batch_dimension.ts";
import type { BatchingVerdict } from "../runtime/batch_dimension.ts";

/** Relative and absolute tolerance for float outputs of a batched run against the same requests run alone. */
const TOLERANCE: Record<string, [number, number]> = {
  float16: [1e-2, 1e-3],
  float32: [1e-4, 1e-5],
  float64: [1e-9, 1e-12],
};

/** Why `actual` (a request's rows of a batched run) is not `expected` (the request run alone), or undefined. */
export function outputMismatch(name: string, actual: TensorData, expected: TensorData): string | undefined {
  const what = `output ${JSON.stringify(name)}`;
  if (actual.dtype !== expected.dtype) return `${what} changed dtype`;
  if (actual.shape.length !== expected.shape.length || actual.shape.some((d, i) => d !== expected.shape[i])) {
    return `${what} has shape [${actual.shape}] in a batch but [${expected.shape}] alone`;
  }
  const a = actual.data, e = expected.data;
  if (a.length !== e.length) return `${what} has ${a.length} values in a batch but ${e.length} alone`;
  const tolerance = TOLERANCE[actual.dtype];
  const decode = actual.dtype === "float16" ? fromFloat16Bits : undefined;
  const av = decode ? decode(a as Uint16Array) : a, ev = decode ? decode(e as Uint16Array) : e;
  for (let i = 0; i < av.length; i++) {
    const x = av[i], y = ev[i];
    if (x === y) continue;
    if (tolerance && typeof x === "number" && typeof y === "number") {
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      if (Math.abs(x - y) <= tolerance[1] + tolerance[0] * Math.abs(y)) continue;
    }
    return `${what} of requests run together differs from their runs alone (element ${i}: ${String(x)} vs ${
      String(y)
    })`;
  }
  return undefined;
}

/** A second synthetic request unlike the first: each tensor's values reversed (floats also shifted). */
function variant(feeds: TensorMap): TensorMap {
  const out: TensorMap = {};
  for (const name in feeds) {
    const t = feeds[name];
    const data = (Array.isArray(t.data) ? [...t.data] : t.data.slice()) as TensorValues;
    data.reverse();
    if (t.dtype === "float32" || t.dtype === "float64") {
      const f = data as Float32Array;
      for (let i = 0; i < f.length; i++) f[i] = f[i] * 0.75 + 0.125;
    }
    out[name] = { dtype: t.dtype, shape: [...t.shape], data };
  }
  return out;
}

/**
 * The warm-up confirmation of {@linkcode batchingProof}: runs two different one-row requests alone, then
 * stacked in both orders, and checks that every output of the stacked runs has exactly one row per request
 * and that each request's rows equal its run alone (exactly for integers and strings, within a tight
 * tolerance for floats). The symbols in a graph's declared shapes are only names; this catches a model whose
 * outputs mix rows anyway (normalisation over the batch, sorting, a fixed dim declared as the batch).
 *
 * `one` is a valid one-row request (synthesised from the metadata); `run` runs feeds on the model.
 */
export async function confirmBatching(
  one: TensorMap,
  inputs: readonly TensorInfo[],
  run: (feeds: TensorMap) => Promise<TensorMap>,
): Promise<BatchingVerdict> {
  const a = one, b = variant(one);
  const alone = [await run(a), await run(b)];
  for (const out of alone) {
    for (const name in out) {
      if (out[name].shape[0] !== 1) {
        return {
          ok: false,
          reason: `the warm-up check failed: output ${JSON.stringify(name)} has ${
            out[name].shape[0] ?? "no"
          } rows for a request of 1 row`,
        };
      }
    }
  }
  for (const order of [[0, 1], [1, 0]]) {
    const together = await run(stackFeeds(order.map((i) => [a, b][i]), inputs));
    for (const name in together) {
      if (together[name].shape[0] !== 2) {
        return {
          ok: false,
          reason: `the warm-up check failed: output ${JSON.stringify(name)} has ${
            together[name].shape[0] ?? "no"
          } rows for 2 requests of 1 row`,
        };
      }
    }
    const parts = splitOutputs(together, [1, 1])!;
    for (let k = 0; k < 2; k++) {
      const expected = alone[order[k]];
      for (const name in expected) {
        const why = parts[k][name] ? outputMismatch(name, parts[k][name], expected[name]) : `output ${name} is missing`;
        if (why) return { ok: false, reason: `the warm-up check failed: ${why}` };
      }
    }
  }
  return { ok: true };
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
 * The first output of a batched run that does not hold exactly one row per stacked row (its dimension 0 is
 * not the sum of `rows`), or undefined when all do. Such a run must never be split.
 */
export function misalignedOutput(outputs: TensorMap, rows: readonly number[]): string | undefined {
  const total = rows.reduce((a, b) => a + b, 0);
  for (const name in outputs) {
    const t = outputs[name];
    if (t.shape.length === 0 || t.shape[0] !== total) return name;
  }
  return undefined;
}

/**
 * Splits a batched run's outputs back into one output map per request, `rows[i]` rows each, in order.
 * Returns `undefined` when an output's first dimension is not the total number of rows (the model does not
 * batch along dimension 0 after all): the caller then runs the requests one by one.
 */
export function splitOutputs(outputs: TensorMap, rows: readonly number[]): TensorMap[] | undefined {
  if (rows.length === 1) return [outputs];
  if (misalignedOutput(outputs, rows) !== undefined) return undefined;
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
