/**
 * Builds small ONNX models by writing the protobuf by hand, for tests and benchmarks.
 *
 * The ONNX format is a protobuf `ModelProto`; a handful of message types and a ~60-line writer
 * cover everything tests need (every tensor dtype, fixed/symbolic/unnamed dims, several inputs and
 * outputs, initializers stored inline or as external data, metadata props). No dependency: a
 * protobuf library would need the .proto schema too, and the writer is smaller than the glue.
 *
 * @module
 */

/** ONNX `TensorProto.DataType` numbers. */
export const ONNX_DTYPE = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
} as const;

/** A dtype name as onnxruntime-node spells it. */
export type BuilderDtype = keyof typeof ONNX_DTYPE;

/** One dimension: a fixed size, a named symbolic dim, or `null` for an unnamed dynamic one. */
export type Dim = number | string | null;

/** A graph input or output. */
export interface ValueSpec {
  name: string;
  dtype: BuilderDtype;
  /** `undefined`: no shape at all (unknown rank). */
  shape?: Dim[];
}

/** An attribute value of a node. */
export type AttributeValue =
  | { int: number }
  | { float: number }
  | { ints: number[] }
  | { string: string }
  | { tensor: InitializerSpec };

/** One graph node. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

/** A constant tensor of the graph. */
export interface InitializerSpec {
  name: string;
  dtype: BuilderDtype;
  dims: number[];
  /** Raw little-endian bytes (numeric dtypes) — or strings for `string`. */
  data: Uint8Array | string[];
  /** Store the bytes in this external file (relative to the model) instead of inline. */
  external?: { location: string; offset: number };
}

/** A whole model. */
export interface ModelSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: InitializerSpec[];
  opset?: number;
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graphName?: string;
  metadata?: Record<string, string>;
}

// ---- a minimal protobuf writer --------------------------------------------------------------

class ProtoWriter {
  private chunks: number[] = [];
  private parts: Uint8Array[] = [];

  private flush(): void {
    if (this.chunks.length) {
      this.parts.push(Uint8Array.from(this.chunks));
      this.chunks = [];
    }
  }
  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.chunks.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.chunks.push(Number(v));
    return this;
  }
  private tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, value: number | bigint): this {
    return this.tag(field, 0).varint(value);
  }
  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.chunks.push(...b);
    return this;
  }
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2).varint(value.length);
    this.flush();
    this.parts.push(value);
    return this;
  }
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }
  message(field: number, build: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    build(w);
    return this.bytes(field, w.finish());
  }
  finish(): Uint8Array {
    this.flush();
    const total = this.parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let offset = 0;
    for (const p of this.parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }
}

function writeValueInfo(w: ProtoWriter, spec: ValueSpec): void {
  w.string(1, spec.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, ONNX_DTYPE[spec.dtype]);
      if (spec.shape) {
        tensor.message(2, (shape) => {
          for (const dim of spec.shape!) {
            shape.message(1, (d) => {
              if (typeof dim === "number") d.int(1, dim);
              else if (typeof dim === "string") d.string(2, dim);
            });
          }
        });
      }
    }));
}

function writeTensor(w: ProtoWriter, t: InitializerSpec): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, ONNX_DTYPE[t.dtype]);
  w.string(8, t.name);
  if (t.dtype === "string") {
    for (const s of t.data as string[]) w.string(6, s);
  } else if (t.external) {
    const bytes = t.data as Uint8Array;
    for (
      const [k, v] of [["location", t.external.location], ["offset", String(t.external.offset)], [
        "length",
        String(bytes.length),
      ]]
    ) {
      w.message(13, (e) => e.string(1, k).string(2, v));
    }
    w.int(14, 1);
  } else {
    w.bytes(9, t.data as Uint8Array);
  }
}

function writeAttribute(w: ProtoWriter, name: string, value: AttributeValue): void {
  w.string(1, name);
  if ("int" in value) w.int(3, value.int).int(20, 2);
  else if ("float" in value) w.float(2, value.float).int(20, 1);
  else if ("ints" in value) {
    for (const i of value.ints) w.int(8, i);
    w.int(20, 7);
  } else if ("string" in value) w.string(4, value.string).int(20, 3);
  else w.message(5, (t) => writeTensor(t, value.tensor)).int(20, 4);
}

/** Serialises `spec` as ONNX `ModelProto` bytes. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, spec.irVersion ?? 8);
  w.string(2, spec.producerName ?? "gpux-tests");
  w.string(3, spec.producerVersion ?? "1.0");
  if (spec.docString) w.string(6, spec.docString);
  w.message(7, (g) => {
    spec.nodes.forEach((node, i) =>
      g.message(1, (n) => {
        for (const input of node.inputs) n.string(1, input);
        for (const output of node.outputs) n.string(2, output);
        n.string(3, node.name ?? `${node.op}_${i}`);
        n.string(4, node.op);
        for (const [k, v] of Object.entries(node.attributes ?? {})) n.message(5, (a) => writeAttribute(a, k, v));
        if (node.domain) n.string(7, node.domain);
      })
    );
    g.string(2, spec.graphName ?? "graph");
    for (const init of spec.initializers ?? []) g.message(5, (t) => writeTensor(t, init));
    for (const input of spec.inputs) g.message(11, (v) => writeValueInfo(v, input));
    for (const output of spec.outputs) g.message(12, (v) => writeValueInfo(v, output));
  });
  w.message(8, (o) => o.string(1, "").int(2, spec.opset ?? 17));
  for (const [key, value] of Object.entries(spec.metadata ?? {})) {
    w.message(14, (e) => e.string(1, key).string(2, value));
  }
  return w.finish();
}

// ---- ready-made models ------------------------------------------------------------------------

/** Little-endian float32 bytes. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** `y = x + 1` over `dtype` (Identity for bool and string, which have no Add). */
export function identityModel(dtype: BuilderDtype, shape: Dim[] = ["batch", 3]): ModelSpec {
  return {
    inputs: [{ name: "x", dtype, shape }],
    outputs: [{ name: "y", dtype, shape }],
    nodes: [{ op: "Identity", inputs: ["x"], outputs: ["y"] }],
  };
}

/**
 * Two inputs, two outputs, odd names: `x.1` f32[batch,4] (named dim), `onnx::Flatten_0` f32[?,4] (unnamed dim)
 * → `sum` = x.1 + onnx::Flatten_0 (f32[batch,4]), `42` = x.1 * 2 (pure-digit name). Metadata props included.
 */
export function multiIoModel(): ModelSpec {
  return {
    inputs: [
      { name: "x.1", dtype: "float32", shape: ["batch", 4] },
      { name: "onnx::Flatten_0", dtype: "float32", shape: [null, 4] },
    ],
    outputs: [
      { name: "sum", dtype: "float32", shape: ["batch", 4] },
      { name: "42", dtype: "float32", shape: ["batch", 4] },
    ],
    initializers: [{ name: "two", dtype: "float32", dims: [], data: f32Bytes([2]) }],
    nodes: [
      { op: "Add", inputs: ["x.1", "onnx::Flatten_0"], outputs: ["sum"] },
      { op: "Mul", inputs: ["x.1", "two"], outputs: ["42"] },
    ],
    producerName: "gpux-builder",
    producerVersion: "0.1",
    docString: "two inputs and outputs with JSON-unfriendly names",
    metadata: { author: "gpux tests", "labels": "a,b" },
  };
}

/** A fixed-shape model: `image` f32[1,3,4,4] → `pooled` f32[1,3,1,1] (GlobalAveragePool). */
export function fixedShapeModel(): ModelSpec {
  return {
    inputs: [{ name: "image", dtype: "float32", shape: [1, 3, 4, 4] }],
    outputs: [{ name: "pooled", dtype: "float32", shape: [1, 3, 1, 1] }],
    nodes: [{ op: "GlobalAveragePool", inputs: ["image"], outputs: ["pooled"] }],
  };
}

/**
 * `y = x · W` with W (n×n, deterministic values) stored in an external file `externalFile` (`.onnx_data`).
 * Returns the model bytes and the external data bytes.
 */
export function externalDataModel(n = 8, externalFile = "model.onnx_data"): { model: Uint8Array; data: Uint8Array } {
  const weights = new Float32Array(n * n);
  for (let i = 0; i < n; i++) weights[i * n + i] = i + 1; // diagonal 1..n
  const data = new Uint8Array(weights.buffer);
  const model = buildModel({
    inputs: [{ name: "x", dtype: "float32", shape: ["batch", n] }],
    outputs: [{ name: "y", dtype: "float32", shape: ["batch", n] }],
    initializers: [{
      name: "W",
      dtype: "float32",
      dims: [n, n],
      data,
      external: { location: externalFile, offset: 0 },
    }],
    nodes: [{ op: "MatMul", inputs: ["x", "W"], outputs: ["y"] }],
  });
  return { model, data };
}

/**
 * A compute-heavy chain: `x` f32[batch, n] → `layers` × (MatMul with an n×n weight, then Tanh) → `y` f32[batch, n].
 * Weights are deterministic pseudo-random values scaled to keep activations bounded.
 */
export function matmulChainModel(n = 256, layers = 4): ModelSpec {
  const initializers: InitializerSpec[] = [];
  const nodes: NodeSpec[] = [];
  let seed = 12345;
  const scale = 1 / Math.sqrt(n);
  let previous = "x";
  for (let l = 0; l < layers; l++) {
    const w = new Float32Array(n * n);
    for (let i = 0; i < w.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      w[i] = ((seed / 0xffffffff) * 2 - 1) * scale;
    }
    initializers.push({ name: `W${l}`, dtype: "float32", dims: [n, n], data: new Uint8Array(w.buffer) });
    nodes.push({ op: "MatMul", inputs: [previous, `W${l}`], outputs: [`h${l}`] });
    const out = l === layers - 1 ? "y" : `a${l}`;
    nodes.push({ op: "Tanh", inputs: [`h${l}`], outputs: [out] });
    previous = out;
  }
  return {
    inputs: [{ name: "x", dtype: "float32", shape: ["batch", n] }],
    outputs: [{ name: "y", dtype: "float32", shape: ["batch", n] }],
    initializers,
    nodes,
  };
}

/**
 * Loads fine but fails at run time unless `x` has exactly 3 elements: `x` f32[?] → Reshape to [3] → `y`.
 */
export function failingModel(): ModelSpec {
  return {
    inputs: [{ name: "x", dtype: "float32", shape: [null] }],
    outputs: [{ name: "y", dtype: "float32", shape: [3] }],
    initializers: [{ name: "target", dtype: "int64", dims: [1], data: new Uint8Array(BigInt64Array.of(3n).buffer) }],
    nodes: [{ op: "Reshape", inputs: ["x", "target"], outputs: ["y"] }],
  };
}

/** A scalar input: `x` f32[] and `n` int64[] → `y` = x * Cast(n). */
export function scalarModel(): ModelSpec {
  return {
    inputs: [{ name: "x", dtype: "float32", shape: [] }, { name: "n", dtype: "int64", shape: [] }],
    outputs: [{ name: "y", dtype: "float32", shape: [] }],
    nodes: [
      { op: "Cast", inputs: ["n"], outputs: ["nf"], attributes: { to: { int: ONNX_DTYPE.float32 } } },
      { op: "Mul", inputs: ["x", "nf"], outputs: ["y"] },
    ],
  };
}

/** Writes `spec` (or bytes) to `path`. */
export async function writeModel(path: string, spec: ModelSpec | Uint8Array): Promise<string> {
  await Deno.writeFile(path, spec instanceof Uint8Array ? spec : buildModel(spec));
  return path;
}
