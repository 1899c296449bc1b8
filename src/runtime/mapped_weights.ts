/**
 * Loads a large ONNX file whose weights sit inside it (no external data) without holding its weights twice.
 *
 * Given a path, onnxruntime parses the whole `ModelProto`, weights included, into memory and then builds its own
 * tensors from it, so for a moment it holds two copies: a 517 MB model peaked at 0.92 GB. Given weights stored as
 * external data instead, onnxruntime maps them from the file (or reads them one tensor at a time): the same model
 * peaked at 0.74 GB and loaded in half the time (docs/performance.md). This module writes that second form without a
 * second file: it walks the model with seeks and returns the graph alone (a few MB), each large initializer's
 * `raw_data` replaced by an external-data reference to its own bytes inside the original file (location: the file's
 * name; offset and length: where those bytes are). onnxruntime is then given those graph bytes and told, through the
 * session config entry `session.model_external_initializers_file_folder_path`, which folder the location is in.
 * Nothing is written to disk and the user's file is untouched; the weights onnxruntime sees are byte for byte the same.
 *
 * @module
 */
import { ProtobufFileReader } from "./protobuf_file_reader.ts";

/** A graph whose large weights point into the file it came from. */
export interface MappedGraph {
  /** The `ModelProto` to hand onnxruntime, weights referenced, not included. */
  bytes: Uint8Array;
  /** The folder the references are relative to: the folder of the original file (links resolved). */
  folder: string;
  /** How many initializers now point into the file, and how many bytes they cover. */
  tensors: number;
  /** Bytes of weights referenced in place. */
  mappedBytes: number;
}

/** Options of {@linkcode graphWithMappedWeights}. */
export interface MappedWeightsOptions {
  /** Files smaller than this load as they are (default 64 MiB: below it the second copy is cheap). */
  minFileBytes?: number;
  /** Initializers whose `raw_data` is smaller than this stay inside the graph (default 4 KiB). */
  minTensorBytes?: number;
}

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const DATA_LOCATION_EXTERNAL = 1;

/** The file already stores weights outside itself (or is not what this module rewrites): load it as it is. */
class NotRewritten extends Error {}

function varintBytes(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Chunks of a message being written, with their total length. */
class Chunks {
  parts: Uint8Array[] = [];
  length = 0;
  push(part: Uint8Array): void {
    this.parts.push(part);
    this.length += part.length;
  }
  /** A length-delimited field `field` holding `inner`. */
  pushMessage(field: number, inner: Chunks): void {
    this.push(varintBytes(field * 8 + 2));
    this.push(varintBytes(inner.length));
    for (const part of inner.parts) this.parts.push(part);
    this.length += inner.length;
  }
  pushString(field: number, text: string): void {
    const bytes = new TextEncoder().encode(text);
    this.push(varintBytes(field * 8 + 2));
    this.push(varintBytes(bytes.length));
    this.push(bytes);
  }
  pushVarint(field: number, value: number): void {
    this.push(varintBytes(field * 8));
    this.push(varintBytes(value));
  }
  join(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

/** Reads fields up to `end`, copying each verbatim unless `special` consumes it (and returns true). */
function copyFields(
  r: ProtobufFileReader,
  end: number,
  out: Chunks,
  special: (field: number, wire: number, start: number) => boolean,
): void {
  while (r.pos < end) {
    const start = r.pos;
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (special(field, wire, start)) continue;
    r.skip(wire);
    const stop = r.pos;
    r.pos = start;
    out.push(r.bytes(stop - start));
  }
  if (r.pos !== end) throw new NotRewritten("a field runs past the end of its message");
}

function rewriteTensor(
  r: ProtobufFileReader,
  end: number,
  location: string,
  minTensorBytes: number,
  stats: { tensors: number; mappedBytes: number },
): Chunks {
  const out = new Chunks();
  let raw: { offset: number; length: number; bytes?: Uint8Array } | undefined;
  copyFields(r, end, out, (field, wire) => {
    if (field === TENSOR_DATA_LOCATION && wire === 0) {
      if (r.varint() === DATA_LOCATION_EXTERNAL) throw new NotRewritten("the model already has external data");
      return true; // DEFAULT: dropped, written again below
    }
    if (field === TENSOR_EXTERNAL_DATA) throw new NotRewritten("the model already has external data");
    if (field !== TENSOR_RAW_DATA || wire !== 2) return false;
    const length = r.varint();
    raw = { offset: r.pos, length };
    if (length < minTensorBytes) raw.bytes = r.bytes(length);
    else r.pos += length;
    if (r.pos > end) throw new NotRewritten("raw_data runs past its tensor");
    return true;
  });
  if (!raw) return out;
  if (raw.bytes) {
    out.push(varintBytes(TENSOR_RAW_DATA * 8 + 2));
    out.push(varintBytes(raw.bytes.length));
    out.push(raw.bytes);
    return out;
  }
  for (const [key, value] of [["location", location], ["offset", String(raw.offset)], ["length", String(raw.length)]]) {
    const entry = new Chunks();
    entry.pushString(1, key);
    entry.pushString(2, value);
    out.pushMessage(TENSOR_EXTERNAL_DATA, entry);
  }
  out.pushVarint(TENSOR_DATA_LOCATION, DATA_LOCATION_EXTERNAL);
  stats.tensors++;
  stats.mappedBytes += raw.length;
  return out;
}

/**
 * The graph of the ONNX file at `path` with its large inline weights referenced in place, or `undefined` when the
 * file should load as it is: smaller than `minFileBytes`, already using external data, holding no large inline
 * weight, or not a protobuf this walk understands (onnxruntime then reports on the file itself).
 *
 * @example
 * ```ts
 * import { graphWithMappedWeights } from "./mapped_weights.ts";
 * const mapped = await graphWithMappedWeights("model.onnx");
 * if (mapped) console.log(`${mapped.tensors} weights (${mapped.mappedBytes} bytes) mapped from ${mapped.folder}`);
 * ```
 */
export async function graphWithMappedWeights(
  path: string,
  options: MappedWeightsOptions = {},
): Promise<MappedGraph | undefined> {
  const minFileBytes = options.minFileBytes ?? 64 * 2 ** 20;
  const minTensorBytes = options.minTensorBytes ?? 4096;
  let file: Deno.FsFile;
  let size: number;
  let real: string;
  try {
    // a FIFO or a device is not opened here (opening a FIFO waits for a writer): onnxruntime reports on it
    const stat = await Deno.stat(path);
    if (!stat.isFile || stat.size < minFileBytes) return undefined;
    // the file itself, not a link to it (a Hub snapshot's files link to blobs): onnxruntime refuses external data
    // that resolves outside the folder it is told the references are relative to
    real = await Deno.realPath(path);
    file = await Deno.open(real, { read: true });
    size = (await file.stat()).size;
  } catch {
    return undefined;
  }
  const slash = Math.max(real.lastIndexOf("/"), real.lastIndexOf("\\")); // Windows paths use backslashes
  const folder = slash <= 0 ? real.slice(0, slash + 1) || "/" : real.slice(0, slash);
  const location = real.slice(slash + 1);
  try {
    if (size < minFileBytes) return undefined;
    const r = new ProtobufFileReader(file, size);
    const model = new Chunks();
    const stats = { tensors: 0, mappedBytes: 0 };
    let graphs = 0;
    copyFields(r, size, model, (field, wire) => {
      if (field !== MODEL_GRAPH || wire !== 2) return false;
      graphs++;
      const graphEnd = r.varint() + r.pos;
      if (graphEnd > size) throw new NotRewritten("the graph runs past the end of the file");
      const graph = new Chunks();
      copyFields(r, graphEnd, graph, (gField, gWire) => {
        if (gField !== GRAPH_INITIALIZER || gWire !== 2) return false;
        const tensorEnd = r.varint() + r.pos;
        if (tensorEnd > graphEnd) throw new NotRewritten("an initializer runs past the end of its graph");
        graph.pushMessage(GRAPH_INITIALIZER, rewriteTensor(r, tensorEnd, location, minTensorBytes, stats));
        return true;
      });
      model.pushMessage(MODEL_GRAPH, graph);
      return true;
    });
    if (graphs !== 1 || stats.tensors === 0) return undefined;
    return { bytes: model.join(), folder, ...stats };
  } catch {
    // not a protobuf this walk understands (or the file changed under it): onnxruntime reads the file itself
    return undefined;
  } finally {
    file.close();
  }
}
