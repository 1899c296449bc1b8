/**
 * Valid inputs made up from a model's input metadata, for benchmarks and smoke runs.
 *
 * Dynamic dimensions get a documented default: the first dimension (batch) gets `batch` (default 1),
 * any other unnamed or symbolic dimension gets {@linkcode DEFAULT_DYNAMIC_DIM}; `shapes` overrides
 * whole shapes per input.
 *
 * Integer inputs are filled by what their name says they are ({@linkcode syntheticRole}), so that a text model's
 * lookups stay inside its tables: `token_type_ids` 0 (BERT's type table has 2 rows), masks 1, `position_ids`
 * 0..n-1 along the sequence (below `max_position_embeddings`), `input_ids` below the vocabulary (`vocab_size` from
 * config.json, {@linkcode SynthesizeOptions.vocabSize}); other integers cycle through 0..9.
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
  /** Rows of the model's word table (config.json `vocab_size`): token ids stay below it. */
  vocabSize?: number;
  /** Rows of the model's position table (config.json `max_position_embeddings`): position ids stay below it. */
  maxPositions?: number;
}

/** What an integer input holds, by its name; decides the values synthesised for it. */
export type SyntheticRole = "token-ids" | "token-types" | "mask" | "positions" | "other";

/** Token ids cycle through at most this many values (0..9), fewer for a smaller vocabulary. */
const ID_CYCLE = 10;

/**
 * The role of an input by its name: `input_ids`/`decoder_input_ids` are token ids, `token_type_ids`/`segment_ids`
 * token types, `attention_mask` and other `*mask*` masks, `position_ids` positions.
 */
export function syntheticRole(name: string): SyntheticRole {
  const n = name.toLowerCase();
  if (/token_type|segment_id|type_ids$/.test(n)) return "token-types";
  if (/mask/.test(n)) return "mask";
  if (/position_ids?$|^positions?$/.test(n)) return "positions";
  if (/input_ids$|^ids$|^tokens?$|^token_ids$/.test(n)) return "token-ids";
  return "other";
}

/**
 * The values synthesised for an input, in words (`ids 0..4 (vocab_size 5)`, `all 0`, `all 1`, `0..127 along the last
 * dimension`): what a failure on synthesised inputs names, so the input at fault can be found.
 */
export function describeSyntheticValues(info: TensorInfo, options: SynthesizeOptions = {}): string {
  if (info.dtype === "string") return "strings s0..s9";
  if (info.dtype.startsWith("float")) return "small floats in -0.5..0.5";
  const role = syntheticRole(info.name);
  if (info.dtype === "bool") return role === "mask" ? "all true" : "alternating false, true";
  switch (role) {
    case "token-types":
      return "all 0";
    case "mask":
      return "all 1";
    case "positions":
      return `0..n-1 along the last dimension${
        options.maxPositions ? ` (below max_position_embeddings ${options.maxPositions})` : ""
      }`;
    case "token-ids": {
      const top = Math.min(ID_CYCLE, options.vocabSize ?? ID_CYCLE) - 1;
      return `token ids 0..${top}${options.vocabSize ? ` (vocab_size ${options.vocabSize})` : ""}`;
    }
    default:
      return "0..9 repeating";
  }
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
        { hint: "give one size per dimension (gpux inspect MODEL shows each input's shape)" },
      );
    }
    info.shape.forEach((d, i) => {
      if (typeof d === "number" && d >= 0 && override[i] !== d) {
        throw new InputError(
          `--shape for ${quoteName(info.name)}: dimension ${i} is fixed at ${d}, received ${override[i]}`,
          { hint: "keep the model's fixed sizes; only its dynamic dimensions take other sizes" },
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
 * One tensor per input, filled with small deterministic values valid for every dtype; integer inputs by their
 * role ({@linkcode syntheticRole}): token types 0, masks 1, positions 0..n-1, token ids inside the vocabulary, any
 * other integer 0..9 repeating.
 *
 * @example
 * ```ts
 * import { synthesizeInputs } from "jsr:@gpux/gpux/runtime";
 * import { loadModel } from "jsr:@gpux/gpux";
 * const session = await loadModel("model.onnx");
 * const feeds = synthesizeInputs(session.inputs, { batch: 8 });
 * ```
 */
export function synthesizeInputs(inputs: readonly TensorInfo[], options: SynthesizeOptions = {}): TensorMap {
  const feeds: TensorMap = {};
  for (const info of inputs) {
    if (info.dtype === "unknown") {
      throw new InputError(`input ${quoteName(info.name)} is not a tensor: gpux cannot synthesise it`, {
        hint: "give the inputs yourself with --input or --file",
      });
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
      case "bool": {
        const mask = syntheticRole(info.name) === "mask";
        data = Uint8Array.from({ length: n }, (_, i) => mask ? 1 : i % 2);
        break;
      }
      case "int64": {
        const value = integerValue(info.name, shape, options);
        data = BigInt64Array.from({ length: n }, (_, i) => BigInt(value(i)));
        break;
      }
      case "uint64": {
        const value = integerValue(info.name, shape, options);
        data = BigUint64Array.from({ length: n }, (_, i) => BigInt(value(i)));
        break;
      }
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
        const value = integerValue(info.name, shape, options);
        for (let i = 0; i < n; i++) arr[i] = value(i);
        data = arr;
      }
    }
    feeds[info.name] = { dtype: info.dtype, shape, data };
  }
  return feeds;
}

/** The value of element `i` (row-major) of an integer input named `name` with `shape`. */
function integerValue(name: string, shape: readonly number[], options: SynthesizeOptions): (i: number) => number {
  switch (syntheticRole(name)) {
    case "token-types":
      return () => 0;
    case "mask":
      return () => 1;
    case "positions": {
      const last = Math.max(1, shape.at(-1) ?? 1);
      const cap = options.maxPositions ?? Number.MAX_SAFE_INTEGER;
      return (i) => (i % last) % cap;
    }
    case "token-ids": {
      const cycle = Math.max(1, Math.min(ID_CYCLE, options.vocabSize ?? ID_CYCLE));
      return (i) => i % cycle;
    }
    default:
      return (i) => i % 10;
  }
}

/**
 * Parses `--shape` values: `name=1x3x224x224` (the name may itself contain `=` or `x`: the part after
 * the last `=` is the shape). A scalar is `name=` (empty).
 *
 * @throws {InputError} for a malformed value.
 */
export function parseShapeArg(value: string): [string, number[]] {
  const eq = value.lastIndexOf("=");
  if (eq <= 0) {
    throw new InputError(`--shape ${JSON.stringify(value)}: expected name=DIMxDIM…, e.g. x=1x3x224x224`, {
      hint: "name the input (gpux inspect MODEL lists them), then its sizes joined by x",
    });
  }
  const name = value.slice(0, eq);
  const text = value.slice(eq + 1).trim();
  const dims = text === "" ? [] : text.split(/[x,×]/).map((d) => Number(d.trim()));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new InputError(
      `--shape ${JSON.stringify(value)}: dimensions must be non-negative integers, e.g. ${name}=1x3x224x224`,
      { hint: "write the sizes as whole numbers joined by x (a scalar: NAME=)" },
    );
  }
  return [name, dims];
}
