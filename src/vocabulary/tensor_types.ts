/**
 * Tensor element types and what a model declares about an input or output: the words `runtime/`,
 * `config/` (gpux.yml) and `processing/` share.
 *
 * @module
 */

/** Every tensor element type onnxruntime-node can feed and fetch. */
export const TENSOR_DTYPES = [
  "float32",
  "float16",
  "float64",
  "int8",
  "int16",
  "int32",
  "int64",
  "uint8",
  "uint16",
  "uint32",
  "uint64",
  "bool",
  "string",
] as const;

/** A tensor element type, spelled as onnxruntime-node spells it. */
export type TensorDtype = typeof TENSOR_DTYPES[number];

/** True when `value` names a dtype gpux handles. */
export function isTensorDtype(value: unknown): value is TensorDtype {
  return typeof value === "string" && (TENSOR_DTYPES as readonly string[]).includes(value);
}

/** One declared dimension: a fixed size, a named symbolic dim (`"batch"`), or `null` for an unnamed dynamic one. */
export type Dim = number | string | null;

/** What a model declares about one input or output. */
export interface TensorInfo {
  /** Input or output name. */
  name: string;
  /** Element type; `"unknown"` for a non-tensor value (sequence, map), which gpux cannot feed. */
  dtype: TensorDtype | "unknown";
  /** Declared shape; `[]` is a scalar (onnxruntime also reports an undeclared shape as `[]`). */
  shape: Dim[];
}
