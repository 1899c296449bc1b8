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
 * The same walk can edit the graph on its way ({@linkcode GraphEdit}: the generation engine cuts the logits to the
 * last position, `last_position_logits.ts`); then a file with external data is walked too, its references
 * re-pointed at the files themselves (a Hub snapshot's links resolved to their blobs, which share one folder).
 *
 * @module
 */
import { ProtobufFileReader } from "./protobuf_file_reader.ts";
import { readOnnxFileInfo } from "./model_file.ts";

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
  /** Whether the requested {@linkcode GraphEdit} changed the graph. */
  edited: boolean;
}

/** Options of {@linkcode graphWithMappedWeights}. */
export interface MappedWeightsOptions {
  /** Files smaller than this keep their weights inline (default 64 MiB: below it the second copy is cheap). */
  minFileBytes?: number;
  /** Initializers whose `raw_data` is smaller than this stay inside the graph (default 4 KiB). */
  minTensorBytes?: number;
  /** An edit of the main graph's nodes, applied whatever the file's size. */
  edit?: GraphEdit;
}

/** A node of the main graph as the walk sees it. */
export interface WalkedNode {
  /** Input names, in order. */
  inputs: string[];
  /** Output names, in order. */
  outputs: string[];
  /** Operator type. */
  opType: string;
  /** Operator domain (`""` for ONNX's own). */
  domain: string;
  /** Every field of the `NodeProto` but its inputs, as they were. */
  otherFields: Uint8Array[];
}

/** An edit of the main graph, made while it is walked. */
export interface GraphEdit {
  /** The `NodeProto` messages that replace `node`, or undefined to keep it as it is. */
  node(node: WalkedNode): Uint8Array[] | undefined;
  /** `TensorProto` messages to add to the graph's initializers, once the nodes were walked. */
  initializers(): Uint8Array[];
  /** Whether the edit found what it looks for (a graph it did not change loads as it is). */
  readonly applied: boolean;
  /** The lowest ONNX opset (default domain) the nodes it writes need; an older model is not edited. */
  readonly minOpset?: number;
}

/** The largest file whose inline weights an edit copies into the graph bytes (larger ones: mapped, or unedited). */
const MAX_INLINE_EDIT_BYTES = 64 * 2 ** 20;

const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_OP_TYPE = 4;
const NODE_DOMAIN = 7;
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

/** A `NodeProto` message: `inputs`, then the other fields as they were. */
export function nodeBytes(inputs: string[], otherFields: Uint8Array[]): Uint8Array {
  const out = new Chunks();
  for (const name of inputs) out.pushString(NODE_INPUT, name);
  for (const field of otherFields) out.push(field);
  return out.join();
}

/** A `NodeProto` message from its parts (no attributes). */
export function simpleNode(opType: string, inputs: string[], outputs: string[], name: string): Uint8Array {
  const out = new Chunks();
  for (const i of inputs) out.pushString(NODE_INPUT, i);
  for (const o of outputs) out.pushString(NODE_OUTPUT, o);
  out.pushString(3, name);
  out.pushString(NODE_OP_TYPE, opType);
  return out.join();
}

/** A `TensorProto` of int64 values with `dims`, its bytes inline. */
export function int64Initializer(name: string, dims: number[], values: bigint[]): Uint8Array {
  const out = new Chunks();
  for (const d of dims) out.pushVarint(1, d);
  out.pushVarint(2, 7); // INT64
  out.pushString(8, name);
  const raw = new Uint8Array(BigInt64Array.from(values).buffer);
  out.push(varintBytes(TENSOR_RAW_DATA * 8 + 2));
  out.push(varintBytes(raw.length));
  out.push(raw);
  return out.join();
}

const decoder = new TextDecoder();

/** Reads one `NodeProto` of `length` bytes at the reader's position. */
function walkNode(r: ProtobufFileReader, length: number): WalkedNode {
  const end = r.pos + length;
  const node: WalkedNode = { inputs: [], outputs: [], opType: "", domain: "", otherFields: [] };
  while (r.pos < end) {
    const start = r.pos;
    const tag = r.varint();
    const field = Math.floor(tag / 8), wire = tag & 7;
    if (
      wire === 2 && (field === NODE_INPUT || field === NODE_OUTPUT || field === NODE_OP_TYPE || field === NODE_DOMAIN)
    ) {
      const text = decoder.decode(r.bytes(r.varint()));
      if (field === NODE_INPUT) {
        node.inputs.push(text);
        continue;
      }
      if (field === NODE_OUTPUT) node.outputs.push(text);
      else if (field === NODE_OP_TYPE) node.opType = text;
      else node.domain = text;
    } else r.skip(wire);
    const stop = r.pos;
    r.pos = start;
    node.otherFields.push(r.bytes(stop - start));
  }
  if (r.pos !== end) throw new NotRewritten("a node runs past its end");
  return node;
}

function bytesChunk(bytes: Uint8Array): Chunks {
  const out = new Chunks();
  out.push(bytes);
  return out;
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

interface TensorWalk {
  /** The original file's name inside `folder`, or undefined to keep inline weights inline. */
  location?: string;
  minTensorBytes: number;
  /** External data locations as written → the file's name inside `folder`. */
  relocated: Map<string, string>;
  stats: { tensors: number; mappedBytes: number };
}

function rewriteTensor(r: ProtobufFileReader, end: number, walk: TensorWalk): Chunks {
  const out = new Chunks();
  let raw: { offset: number; length: number; bytes?: Uint8Array } | undefined;
  let external = false;
  copyFields(r, end, out, (field, wire) => {
    if (field === TENSOR_DATA_LOCATION && wire === 0) {
      external = r.varint() === DATA_LOCATION_EXTERNAL;
      if (external && walk.relocated.size === 0) throw new NotRewritten("the model has external data");
      return true; // written again below
    }
    if (field === TENSOR_EXTERNAL_DATA && wire === 2) {
      const entryEnd = r.varint() + r.pos;
      let key = "", value = "";
      r.fields(entryEnd, (f, w) => {
        if (f === 1 && w === 2) key = r.string(r.varint());
        else if (f === 2 && w === 2) value = r.string(r.varint());
      });
      if (key === "location") {
        const moved = walk.relocated.get(value);
        if (moved === undefined) throw new NotRewritten(`external data ${value} was not resolved`);
        value = moved;
      }
      const entry = new Chunks();
      entry.pushString(1, key);
      entry.pushString(2, value);
      out.pushMessage(TENSOR_EXTERNAL_DATA, entry);
      return true;
    }
    if (field !== TENSOR_RAW_DATA || wire !== 2) return false;
    const length = r.varint();
    raw = { offset: r.pos, length };
    if (walk.location === undefined || length < walk.minTensorBytes) raw.bytes = r.bytes(length);
    else r.pos += length;
    if (r.pos > end) throw new NotRewritten("raw_data runs past its tensor");
    return true;
  });
  if (external) out.pushVarint(TENSOR_DATA_LOCATION, DATA_LOCATION_EXTERNAL);
  if (!raw) return out;
  if (raw.bytes) {
    out.push(varintBytes(TENSOR_RAW_DATA * 8 + 2));
    out.push(varintBytes(raw.bytes.length));
    out.push(raw.bytes);
    return out;
  }
  const refs = [["location", walk.location!], ["offset", String(raw.offset)], ["length", String(raw.length)]];
  for (const [key, value] of refs) {
    const entry = new Chunks();
    entry.pushString(1, key);
    entry.pushString(2, value);
    out.pushMessage(TENSOR_EXTERNAL_DATA, entry);
  }
  out.pushVarint(TENSOR_DATA_LOCATION, DATA_LOCATION_EXTERNAL);
  walk.stats.tensors++;
  walk.stats.mappedBytes += raw.length;
  return out;
}

function splitPath(path: string): [string, string] {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")); // Windows paths use backslashes
  return [slash <= 0 ? path.slice(0, slash + 1) || "/" : path.slice(0, slash), path.slice(slash + 1)];
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
  let edit = options.edit;
  let file: Deno.FsFile;
  let size: number;
  let real: string;
  const relocated = new Map<string, string>();
  try {
    // a FIFO or a device is not opened here (opening a FIFO waits for a writer): onnxruntime reports on it
    const stat = await Deno.stat(path);
    if (!stat.isFile || (stat.size < minFileBytes && !edit)) return undefined;
    // the file itself, not a link to it (a Hub snapshot's files link to blobs): onnxruntime refuses external data
    // that resolves outside the folder it is told the references are relative to
    real = await Deno.realPath(path);
    const { externalData, opsets } = await readOnnxFileInfo(path);
    const opset = opsets.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 0;
    if (edit?.minOpset !== undefined && opset < edit.minOpset) edit = undefined;
    if (!edit && stat.size < minFileBytes) return undefined;
    if (externalData.length > 0) {
      if (!edit) return undefined; // onnxruntime already reads such weights one tensor at a time
      const [folder] = splitPath(real);
      for (const { location } of externalData) {
        const [dataFolder, name] = splitPath(await Deno.realPath(`${splitPath(path)[0]}/${location}`));
        if (dataFolder !== folder) return undefined; // not beside the graph's own file: load it as it is
        relocated.set(location, name);
      }
    }
    file = await Deno.open(real, { read: true });
    size = (await file.stat()).size;
  } catch {
    return undefined;
  }
  const [folder, location] = splitPath(real);
  const mapInline = size >= minFileBytes && relocated.size === 0;
  // an edit that would copy a large file's weights into the graph bytes (it maps nothing, and the weights are
  // inline) would hold them in memory twice over: such a file loads as it is, unedited
  if (!mapInline && relocated.size === 0 && size > MAX_INLINE_EDIT_BYTES) {
    file.close();
    return undefined;
  }
  try {
    const walk: TensorWalk = {
      location: mapInline ? location : undefined,
      minTensorBytes,
      relocated,
      stats: { tensors: 0, mappedBytes: 0 },
    };
    const r = new ProtobufFileReader(file, size);
    const model = new Chunks();
    let graphs = 0;
    copyFields(r, size, model, (field, wire) => {
      if (field !== MODEL_GRAPH || wire !== 2) return false;
      graphs++;
      const graphEnd = r.varint() + r.pos;
      if (graphEnd > size) throw new NotRewritten("the graph runs past the end of the file");
      const graph = new Chunks();
      copyFields(r, graphEnd, graph, (gField, gWire) => {
        if (gWire !== 2) return false;
        if (gField === GRAPH_NODE && edit) {
          const length = r.varint();
          const start = r.pos;
          const replacement = edit.node(walkNode(r, length));
          if (replacement) {
            for (const node of replacement) graph.pushMessage(GRAPH_NODE, bytesChunk(node));
          } else {
            r.pos = start;
            graph.pushMessage(GRAPH_NODE, bytesChunk(r.bytes(length)));
          }
          return true;
        }
        if (gField !== GRAPH_INITIALIZER) return false;
        const tensorEnd = r.varint() + r.pos;
        if (tensorEnd > graphEnd) throw new NotRewritten("an initializer runs past the end of its graph");
        graph.pushMessage(GRAPH_INITIALIZER, rewriteTensor(r, tensorEnd, walk));
        return true;
      });
      if (edit?.applied) {
        for (const tensor of edit.initializers()) graph.pushMessage(GRAPH_INITIALIZER, bytesChunk(tensor));
      }
      model.pushMessage(MODEL_GRAPH, graph);
      return true;
    });
    const edited = edit?.applied ?? false;
    if (graphs !== 1 || (walk.stats.tensors === 0 && !edited)) return undefined;
    return { bytes: model.join(), folder, ...walk.stats, edited };
  } catch {
    // not a protobuf this walk understands (or the file changed under it): onnxruntime reads the file itself
    return undefined;
  } finally {
    file.close();
  }
}
