/**
 * Large answers as a stream of JSON pieces instead of one string: the `/predict` and v2 `infer` documents of
 * codec_calls.ts, byte for byte, produced a block of values at a time. An output of tens of millions of floats
 * printed as one string holds a thread for seconds and needs its nested arrays and its text in memory at once
 * (gigabytes, which the process keeps); streamed, the codec Worker holds one block and the HTTP thread only
 * passes bytes on.
 *
 * @module
 */
import { runResultJson } from "../runtime/run_result.ts";
import {
  fromFloat16Bits,
  jsonValues,
  SHORTEST_FLOAT_LIMIT,
  type TensorData,
  type TensorMap,
  TYPED_ARRAYS,
} from "../runtime/tensors.ts";
import type { InferAnswer, PredictAnswer } from "./codec_calls.ts";
import { inferResponse } from "./kserve.ts";

/** Elements converted per block: the unit of work between two pieces (also the shortest-decimals limit). */
const BLOCK = SHORTEST_FLOAT_LIMIT;

/** An encode operation whose answer is streamed. */
export type StreamCall = { op: "encodePredict"; answer: PredictAnswer } | { op: "encodeInfer"; answer: InferAnswer };

function empty(t: TensorData): TensorData {
  const data = t.dtype === "string" ? [] : new TYPED_ARRAYS[t.dtype](0);
  return { dtype: t.dtype, shape: [0], data };
}

/** JSON values of elements `[start, end)` of a tensor, formatted as {@linkcode jsonValues} formats the whole. */
function blockValues(t: TensorData, start: number, end: number): unknown[] {
  const data = t.data;
  if ((t.dtype === "float32" || t.dtype === "float16") && data.length > SHORTEST_FLOAT_LIMIT) {
    // a big float tensor is printed as exact doubles (jsonValues decides on the whole tensor's size, not a block's)
    const part = (data as Float32Array | Uint16Array).subarray(start, end);
    const numbers = t.dtype === "float16" ? fromFloat16Bits(part as Uint16Array) : part as Float32Array;
    return Array.from(numbers, (v) => Number.isFinite(v) ? v : String(v));
  }
  const part = Array.isArray(data) ? data.slice(start, end) : data.subarray(start, end);
  return jsonValues({ dtype: t.dtype, shape: [end - start], data: part as TensorData["data"] });
}

/**
 * The JSON text of a tensor's data in pieces: nested arrays following its shape (`nested`), or one flat list
 * (v2). Equal, once joined, to `JSON.stringify` of what codec_calls.ts prints for it.
 */
export function* tensorDataPieces(t: TensorData, nested: boolean): Generator<string> {
  const total = t.data.length;
  const shape = t.shape;
  if (total <= BLOCK || shape.length === 0 || shape.includes(0)) {
    const values = jsonValues(t);
    yield JSON.stringify(nested ? nestSmall(values, shape) : values);
    return;
  }
  if (!nested || shape.length === 1) {
    yield "[";
    for (let start = 0; start < total; start += BLOCK) {
      const end = Math.min(total, start + BLOCK);
      yield (start > 0 ? "," : "") + JSON.stringify(blockValues(t, start, end)).slice(1, -1);
    }
    yield "]";
    return;
  }
  // nested: rows of the last dimension; before row r, close and open the blocks that end and start there
  const depth = shape.length;
  const row = shape[depth - 1];
  const rowsPer: number[] = [];
  for (let k = 0; k < depth - 1; k++) {
    let n = 1;
    for (let j = k + 1; j < depth - 1; j++) n *= shape[j];
    rowsPer.push(n);
  }
  for (let start = 0; start < total; start += BLOCK) {
    const end = Math.min(total, start + BLOCK);
    const values = blockValues(t, start, end);
    let piece = "";
    // the block in row segments: each printed by one JSON.stringify, brackets and commas between them
    for (let i = start; i < end;) {
      const rowEnd = Math.min(end, (Math.floor(i / row) + 1) * row);
      if (i % row !== 0) piece += ","; // a row carried over from the previous block
      else if (i === 0) piece += "[".repeat(depth);
      else {
        const r = i / row;
        let opened = 0;
        for (let k = 0; k < depth - 1; k++) if (r % rowsPer[k] === 0) opened++;
        piece += "]".repeat(opened) + "," + "[".repeat(opened); // the row itself counts (its rowsPer is 1)
      }
      const segment = i === start && rowEnd === end ? values : values.slice(i - start, rowEnd - start);
      piece += JSON.stringify(segment).slice(1, -1);
      i = rowEnd;
    }
    yield piece;
  }
  yield "]".repeat(depth);
}

function nestSmall(values: unknown[], shape: readonly number[]): unknown {
  if (shape.length === 0) return values[0];
  let offset = 0;
  const build = (d: number): unknown[] => {
    const out: unknown[] = new Array(shape[d]);
    for (let i = 0; i < shape[d]; i++) out[i] = d === shape.length - 1 ? values[offset++] : build(d + 1);
    return out;
  };
  return build(0);
}

/**
 * The answer of `call` as JSON pieces, equal once joined to what `runCodec(call)` (codec_calls.ts) prints:
 * the document is printed with a unique marker where each tensor's data goes, and the data is streamed there.
 */
export function* answerPieces(call: StreamCall): Generator<string> {
  const marker = `\u0000${crypto.randomUUID()}:`;
  const tensors: { t: TensorData; nested: boolean }[] = [];
  const slot = (t: TensorData, nested: boolean) => {
    tensors.push({ t, nested });
    return `${marker}${tensors.length - 1}`;
  };
  let doc: unknown;
  if (call.op === "encodePredict") {
    const a = call.answer;
    const blank: TensorMap = {};
    for (const name of a.order) blank[name] = empty(a.outputs[name]);
    const json = runResultJson(a.spec, a.facts, blank, a.order, a.timings);
    for (const name of a.order) {
      const t = a.outputs[name];
      json.outputs[name] = { dtype: t.dtype, shape: [...t.shape], data: slot(t, true) };
    }
    doc = { name: a.name, ...json };
  } else {
    const a = call.answer;
    const blank: TensorMap = {};
    for (const name in a.outputs) blank[name] = empty(a.outputs[name]);
    const json = inferResponse(a.name, blank, a.order, a.request, a.version);
    for (const out of json.outputs as { name: string; shape: number[]; data: unknown }[]) {
      const t = a.outputs[out.name];
      out.shape = t.shape;
      out.data = slot(t, false);
    }
    doc = json;
  }
  const text = JSON.stringify(doc);
  // markers in the order they appear (object keys that look like integers are printed first)
  const quoted = JSON.stringify(marker).slice(0, -1); // the marker as it appears inside the printed text
  const found = tensors.map((_, i) => {
    const token = `${quoted}${i}"`;
    return { i, at: text.indexOf(token), length: token.length };
  }).sort((a, b) => a.at - b.at);
  let at = 0;
  for (const f of found) {
    yield text.slice(at, f.at);
    yield* tensorDataPieces(tensors[f.i].t, tensors[f.i].nested);
    at = f.at + f.length;
  }
  yield text.slice(at);
}

/**
 * {@linkcode answerPieces} gathered into UTF-8 chunks of about `chunkBytes` (the last one may be shorter), for
 * a response body.
 */
export function* answerChunks(call: StreamCall, chunkBytes = 1 << 20): Generator<Uint8Array> {
  const encoder = new TextEncoder();
  let parts: string[] = [];
  let size = 0;
  for (const piece of answerPieces(call)) {
    parts.push(piece);
    size += piece.length;
    if (size >= chunkBytes) {
      yield encoder.encode(parts.join(""));
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield encoder.encode(parts.join(""));
}
