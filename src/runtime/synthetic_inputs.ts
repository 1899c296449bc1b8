/**
 * Valid inputs made up from a model's input metadata, for benchmarks and smoke runs.
 *
 * Dynamic dimensions get a documented default: the first dimension (batch) gets `batch` (default 1),
 * any other unnamed or symbolic dimension gets {@linkcode DEFAULT_DYNAMIC_DIM}; `shapes` overrides
 * whole shapes per input.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import {
  elementCount,
  formatShape,
  quoteName,
  type TensorData,
  type TensorInfo,
  type TensorMap,
  TYPED_ARRAYS,
} from "./tensors.ts";

/** Most elements one synthesised input may have (2^28: 1 GiB of float32). */
const MAX_SYNTHETIC_ELEMENTS = 2 ** 28;

/** Size given to a dynamic dimension other than the batch dimension when no shape is given. */
export const DEFAULT_DYNAMIC_DIM = 128;

/** Options of {@linkcode synthesizeInputs}. */
export interface SynthesizeOptions {
  /** Size of a dynamic first dimension (default 1). */
  batch?: number;
  /** Full shapes per input name, overriding the metadata (e.g. from `--shape x=1x3x224x224`). */
  shapes?: Record<string, number[]>;
  /** Size for other dynamic dimensions (default {@linkcode DEFAULT_DYNAMIC_DIM}). */
  dynamicDim?: number;
}

/** The concrete shape used for `info` under `options`. */
export function concreteShape(info: TensorInfo, options: SynthesizeOptions = {}): number[] {
  const override = options.shapes?.[info.name];
  if (override) {
    if (info.shape.length && override.length !== info.shape.length) {
      throw new InputError(
        `--shape for ${quoteName(info.name)}: expected rank ${info.shape.length} ${formatShape(info.shape)}, received ${
          formatShape(override)
        }`,
      );
    }
    info.shape.forEach((d, i) => {
      if (typeof d === "number" && d >= 0 && override[i] !== d) {
        throw new InputError(
          `--shape for ${quoteName(info.name)}: dimension ${i} is fixed at ${d}, received ${override[i]}`,
        );
      }
    });
    return override;
  }
  return info.shape.map((d, i) =>
    typeof d === "number" && d >= 0 ? d : i === 0 ? (options.batch ?? 1) : (options.dynamicDim ?? DEFAULT_DYNAMIC_DIM)
  );
}

/**
 * One tensor per input, filled with small deterministic values valid for every dtype
 * (integers cycle through 0..9 so that index-like inputs stay in range).
 *
 * @example
 * ```ts
 * import { synthesizeInputs } from "./synthetic_inputs.ts";
 * import { loadModel } from "./load_model.ts";
 * const session = await loadModel("model.onnx");
 * const feeds = synthesizeInputs(session.inputs, { batch: 8 });
 * ```
 */
export function synthesizeInputs(inputs: readonly TensorInfo[], options: SynthesizeOptions = {}): TensorMap {
  const feeds: TensorMap = {};
  for (const info of inputs) {
    if (info.dtype === "unknown") {
      throw new InputError(`input ${quoteName(info.name)} is not a tensor: gpux cannot synthesise it`);
    }
    const shape = concreteShape(info, options);
    const n = elementCount(shape);
    if (n > MAX_SYNTHETIC_ELEMENTS) {
      throw new InputError(
        `input ${quoteName(info.name)}: a synthesised ${
          formatShape(shape)
        } tensor has ${n} elements, more than ${MAX_SYNTHETIC_ELEMENTS} this process can hold`,
        { hint: "use a smaller --batch or --shape" },
      );
    }
    let data: TensorData["data"];
    switch (info.dtype) {
      case "string":
        data = Array.from({ length: n }, (_, i) => `s${i % 10}`);
        break;
      case "bool":
        data = Uint8Array.from({ length: n }, (_, i) => i % 2);
        break;
      case "int64":
        data = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 10));
        break;
      case "uint64":
        data = BigUint64Array.from({ length: n }, (_, i) => BigInt(i % 10));
        break;
      case "float16":
        data = new Uint16Array(n).fill(0x3800); // 0.5
        break;
      case "float32":
      case "float64": {
        const arr = new TYPED_ARRAYS[info.dtype](n);
        for (let i = 0; i < n; i++) arr[i] = ((i * 7919) % 1000) / 1000 - 0.5;
        data = arr;
        break;
      }
      default: {
        const arr = new TYPED_ARRAYS[info.dtype](n);
        for (let i = 0; i < n; i++) arr[i] = i % 10;
        data = arr;
      }
    }
    feeds[info.name] = { dtype: info.dtype, shape, data };
  }
  return feeds;
}

/**
 * Parses `--shape` values: `name=1x3x224x224` (the name may itself contain `=` or `x`: the part after
 * the last `=` is the shape). A scalar is `name=` (empty).
 *
 * @throws {InputError} for a malformed value.
 */
export function parseShapeArg(value: string): [string, number[]] {
  const eq = value.lastIndexOf("=");
  if (eq <= 0) throw new InputError(`--shape ${JSON.stringify(value)}: expected name=DIMxDIM…, e.g. x=1x3x224x224`);
  const name = value.slice(0, eq);
  const text = value.slice(eq + 1).trim();
  const dims = text === "" ? [] : text.split(/[x,×]/).map((d) => Number(d.trim()));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new InputError(
      `--shape ${JSON.stringify(value)}: dimensions must be non-negative integers, e.g. ${name}=1x3x224x224`,
    );
  }
  return [name, dims];
}
