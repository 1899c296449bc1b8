/**
 * Models for the server tests, built with {@linkcode buildModel}: one that keeps a worker busy for
 * hundreds of milliseconds from a tiny request (to prove the event loop stays free), on top of the
 * small ready-made ones in onnx_builder.ts.
 *
 * @module
 */
import { buildModel, type InitializerSpec, type NodeSpec } from "./onnx_builder.ts";

/**
 * A slow model with a small interface: `x` f32[1, 16] (fixed batch: never batched) is tiled to
 * `rows` × `n`, sent through `layers` × (MatMul with one shared n×n weight, Tanh), and averaged back to
 * `y` f32[1, n]. Roughly rows·n²·layers multiply-adds per run (512·1024²·8 ≈ 4.3 G: a few hundred ms on one core).
 */
export function busyModel(rows = 512, n = 1024, layers = 8): Uint8Array {
  const w = new Float32Array(n * n);
  let seed = 7;
  for (let i = 0; i < w.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    w[i] = ((seed / 0xffffffff) * 2 - 1) / Math.sqrt(n);
  }
  const initializers: InitializerSpec[] = [
    { name: "W", dtype: "float32", dims: [n, n], data: new Uint8Array(w.buffer) },
    {
      name: "repeats",
      dtype: "int64",
      dims: [2],
      data: new Uint8Array(BigInt64Array.of(BigInt(rows), BigInt(n / 16)).buffer),
    },
  ];
  const nodes: NodeSpec[] = [{ op: "Tile", inputs: ["x", "repeats"], outputs: ["h"] }];
  let previous = "h";
  for (let l = 0; l < layers; l++) {
    nodes.push({ op: "MatMul", inputs: [previous, "W"], outputs: [`m${l}`] });
    nodes.push({ op: "Tanh", inputs: [`m${l}`], outputs: [`t${l}`] });
    previous = `t${l}`;
  }
  nodes.push({
    op: "ReduceMean",
    inputs: [previous],
    outputs: ["y"],
    attributes: { axes: { ints: [0] }, keepdims: { int: 1 } },
  });
  return buildModel({
    inputs: [{ name: "x", dtype: "float32", shape: [1, 16] }],
    outputs: [{ name: "y", dtype: "float32", shape: [1, n] }],
    initializers,
    nodes,
  });
}

/** Every dtype onnxruntime-node feeds: inputs `x_<dtype>` [batch, 2] passed through Identity to `y_<dtype>`. */
export const ALL_DTYPES = [
  "bool",
  "uint8",
  "uint16",
  "uint32",
  "uint64",
  "int8",
  "int16",
  "int32",
  "int64",
  "float16",
  "float32",
  "float64",
  "string",
] as const;

/** One Identity per dtype in {@linkcode ALL_DTYPES}: `x_<dtype>` f[batch, 2] → `y_<dtype>`. */
export function allDtypesModel(): Uint8Array {
  return buildModel({
    inputs: ALL_DTYPES.map((d) => ({ name: `x_${d}`, dtype: d, shape: ["batch", 2] })),
    outputs: ALL_DTYPES.map((d) => ({ name: `y_${d}`, dtype: d, shape: ["batch", 2] })),
    nodes: ALL_DTYPES.map((d) => ({ op: "Identity", inputs: [`x_${d}`], outputs: [`y_${d}`] })),
  });
}
