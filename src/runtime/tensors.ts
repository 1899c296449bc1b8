/**
 * Tensors as plain data — typed arrays with a shape and a dtype, which can be posted between
 * Workers — and their conversion from and to JSON, checked against a model's input metadata.
 *
 * Running a model ({@linkcode GpuxSession.run}) takes and returns {@linkcode TensorData}; JSON
 * parsing and printing live here, apart from running, so a server can do them in another stage.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import {
  type Dim,
  isTensorDtype,
  TENSOR_DTYPES,
  type TensorDtype,
  type TensorInfo,
} from "../vocabulary/tensor_types.ts";

export { type Dim, isTensorDtype, TENSOR_DTYPES, type TensorDtype, type TensorInfo };

/**
 * The typed array holding a tensor's elements, per dtype: `float16` is a `Uint16Array` of IEEE-754
 * half-precision bit patterns, `bool` a `Uint8Array` of 0/1, `int64`/`uint64` `BigInt64Array`/`BigUint64Array`,
 * `string` a plain array of strings.
 */
export type TensorValues =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[];

/** A tensor as plain, cloneable data: elements in row-major order, its shape and element type. */
export interface TensorData {
  /** Element type. */
  dtype: TensorDtype;
  /** Dimensions (`[]` for a scalar). */
  shape: number[];
  /** Elements in row-major order. */
  data: TensorValues;
}

/** Tensors keyed by input or output name. */
export type TensorMap = Record<string, TensorData>;

/** Typed array constructor per numeric dtype. */
export const TYPED_ARRAYS = {
  float32: Float32Array,
  float16: Uint16Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
} as const;

const INT_RANGES: Partial<Record<TensorDtype, [number, number]>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
};

/**
 * Most elements one tensor may have, and the largest dimension (2^28, as for synthesised inputs: 1 GiB of
 * float32). A shape whose non-zero dimensions multiply past it (`[0, 1e15]` included, which holds no element but
 * makes onnxruntime fail) is an {@linkcode InputError} before anything runs.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

/**
 * What is wrong with a tensor's shape, in words, or `undefined` when it is fine: every dimension a whole number
 * from 0 to {@linkcode MAX_TENSOR_ELEMENTS}, the non-zero ones multiplying to at most that many elements.
 */
export function shapeProblem(shape: readonly number[]): string | undefined {
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (!Number.isSafeInteger(d) || d < 0) return `dimension ${i} is ${JSON.stringify(d)}, not a whole number >= 0`;
    if (d > 0) n *= d;
    if (n > MAX_TENSOR_ELEMENTS) {
      return `shape ${formatShape(shape.slice(0, 8))}${shape.length > 8 ? "…" : ""} asks for more than ${
        MAX_TENSOR_ELEMENTS.toLocaleString("en-US")
      } elements (the limit of one tensor)`;
    }
  }
  return undefined;
}

/** @throws {InputError} naming input `name` when {@linkcode shapeProblem} finds one. */
export function checkShape(name: string, shape: readonly number[]): void {
  const problem = shapeProblem(shape);
  if (problem) {
    throw new InputError(`input ${quoteName(name)}: ${problem}`, {
      hint: "give the tensor's real shape; a tensor this large is split into several runs",
    });
  }
}

/**
 * @throws {InputError} naming input `name` when a string holds a NUL character: onnxruntime-node cuts a string at
 * its first NUL (`"a\u0000b"` reaches the model as `"a"`), and a silently shorter input is a wrong answer.
 */
export function checkStrings(name: string, strings: readonly string[]): void {
  for (let i = 0; i < strings.length; i++) {
    if (strings[i].includes("\0")) {
      throw new InputError(
        `input ${quoteName(name)}: element ${i} holds a NUL character (\\u0000), which onnxruntime would cut the ` +
          "string at",
        { hint: "remove the NUL characters, or encode binary data as text (e.g. base64) first" },
      );
    }
  }
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** `[batch, 3, ?]`-style text of a declared or actual shape. */
export function formatShape(shape: readonly Dim[]): string {
  return `[${shape.map((d) => d === null ? "?" : String(d)).join(", ")}]`;
}

/** A name quoted for messages: JSON quoting, so `x.1`, `onnx::Flatten_0`, `42` and odd characters read unambiguously. */
export function quoteName(name: string): string {
  return JSON.stringify(name);
}

/** A zero-filled tensor of `dtype` and `shape`. */
export function zerosTensor(dtype: TensorDtype, shape: number[]): TensorData {
  const n = elementCount(shape);
  const data = dtype === "string" ? new Array<string>(n).fill("") : new TYPED_ARRAYS[dtype](n);
  return { dtype, shape, data };
}

// ---- float16 ----------------------------------------------------------------------------------

/**
 * Converts numbers to IEEE-754 half-precision bit patterns, rounded once to the nearest half (ties to even)
 * straight from the double, as numpy's `astype(float16)` does: 2049.0000000000005 is 2050, not 2048 (which a
 * detour through float32 gives, rounding twice).
 */
export function toFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float16BitsOf(values[i]);
  return out;
}

const POW2_24 = 2 ** 24;

/** One double to the bits of the nearest half (ties to even); no intermediate rounding. */
function float16BitsOf(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // 65520 lies halfway between 65504 and 2^16, and ties go to the even (∞)
  if (a < 2 ** -14) return sign | roundHalfEven(a * POW2_24); // subnormal: a multiple of 2^-24 (exact scaling)
  const e = Math.floor(Math.log2(a));
  // log2 can be off by one next to a power of two: fix the exponent so that 1 <= a / 2^e < 2
  const exp = a / 2 ** e >= 2 ? e + 1 : a / 2 ** e < 1 ? e - 1 : e;
  const mantissa = roundHalfEven((a / 2 ** exp - 1) * 1024); // exact in a double: at most 53 significant bits
  return sign | (((exp + 15) << 10) + mantissa); // a mantissa of 1024 carries into the exponent, as it should
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}

/** Converts IEEE-754 half-precision bit patterns to numbers. */
export function fromFloat16Bits(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) out[i] = mant ? NaN : sign * Infinity;
    else out[i] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}

// ---- JSON -> TensorData -----------------------------------------------------------------------

/** Options of {@linkcode tensorFromJson}. */
export interface TensorFromJsonOptions {
  /** The model's declaration of this input: gives the dtype to convert to and the shape to check. */
  info?: TensorInfo;
}

/**
 * Converts one JSON value to a tensor: nested arrays (`[[1, 2], [3, 4]]`), a scalar, or
 * `{"data": flat-or-nested, "shape": [2, 2], "dtype": "int64"}`. Numbers are converted to the declared
 * dtype (`int64` from JSON numbers or decimal strings, `float16` from float values, `bool` from
 * true/false or 0/1); `"NaN"`, `"Infinity"`, `"-Infinity"` are accepted for floats.
 *
 * @throws {InputError} for ragged arrays, non-numeric values, out-of-range integers, a dtype or shape
 * that disagrees with the model, naming the input, what was expected and what was received.
 * @example
 * ```ts
 * const t = tensorFromJson("ids", [[101, 2023, 102]], { info: { name: "ids", dtype: "int64", shape: ["batch", "seq"] } });
 * // t.data is a BigInt64Array, t.shape [1, 3]
 * ```
 */
export function tensorFromJson(name: string, value: unknown, options: TensorFromJsonOptions = {}): TensorData {
  const info = options.info;
  let declaredDtype: TensorDtype | undefined;
  let explicitShape: number[] | undefined;
  let body: unknown = value;
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const extra = Object.keys(obj).filter((k) => !["data", "shape", "dtype"].includes(k));
    if (!("data" in obj) || extra.length) {
      throw new InputError(
        `input ${quoteName(name)}: expected nested arrays or {"data", "shape", "dtype"}, got an object with keys ${
          Object.keys(obj).map(quoteName).join(", ") || "(none)"
        }`,
      );
    }
    body = obj.data;
    if (obj.dtype !== undefined) {
      if (!isTensorDtype(obj.dtype)) {
        throw new InputError(
          `input ${quoteName(name)}: unknown dtype ${JSON.stringify(obj.dtype)}; expected one of ${
            TENSOR_DTYPES.join(", ")
          }`,
        );
      }
      declaredDtype = obj.dtype;
    }
    if (obj.shape !== undefined) {
      if (!Array.isArray(obj.shape) || obj.shape.length > MAX_JSON_RANK) {
        throw new InputError(
          `input ${quoteName(name)}: "shape" must be an array of non-negative integers, got ${
            JSON.stringify(obj.shape)
          }`,
        );
      }
      checkShape(name, obj.shape as number[]);
      explicitShape = obj.shape as number[];
    }
  }
  const modelDtype = info && info.dtype !== "unknown" ? info.dtype : undefined;
  if (declaredDtype && modelDtype && declaredDtype !== modelDtype) {
    throw new InputError(`input ${quoteName(name)}: expected dtype ${modelDtype}, received ${declaredDtype}`);
  }
  const { shape: nestedShape, flat } = flatten(name, body);
  let shape = nestedShape;
  if (explicitShape) {
    if (elementCount(explicitShape) !== flat.length) {
      throw new InputError(
        `input ${quoteName(name)}: shape ${formatShape(explicitShape)} holds ${
          elementCount(explicitShape)
        } elements, but data has ${flat.length}`,
      );
    }
    shape = explicitShape;
  }
  checkShape(name, shape);
  const dtype = modelDtype ?? declaredDtype ?? inferDtype(flat);
  const tensor = { dtype, shape, data: convertValues(name, flat, dtype) };
  if (info) validateTensor(tensor, info);
  return tensor;
}

/**
 * Converts a JSON object `{name: value}` to tensors, checked against the model's inputs (all present,
 * none unknown). A bare array is accepted for a model with exactly one input.
 *
 * @throws {InputError} naming the missing or unknown inputs and the ones the model has.
 */
export function feedsFromJson(value: unknown, inputs: readonly TensorInfo[]): TensorMap {
  if (Array.isArray(value) || typeof value !== "object" || value === null) {
    if (inputs.length === 1 && value !== null) {
      return { [inputs[0].name]: tensorFromJson(inputs[0].name, value, { info: inputs[0] }) };
    }
    throw new InputError(
      `inputs must be a JSON object {name: value}; the model's inputs are ${listNames(inputs)}`,
    );
  }
  const obj = value as Record<string, unknown>;
  checkNames(Object.keys(obj), inputs);
  const feeds: TensorMap = {};
  for (const info of inputs) feeds[info.name] = tensorFromJson(info.name, obj[info.name], { info });
  return feeds;
}

function listNames(infos: readonly TensorInfo[]): string {
  return infos.map((i) => `${quoteName(i.name)} ${i.dtype}${formatShape(i.shape)}`).join(", ");
}

/** @throws {InputError} when `given` lacks an input or names one the model does not have. */
export function checkNames(given: readonly string[], inputs: readonly TensorInfo[]): void {
  const known = new Set(inputs.map((i) => i.name));
  const unknown = given.filter((n) => !known.has(n));
  if (unknown.length) {
    const shown = unknown.slice(0, 10).map((n) => shortJson(n)).join(", ");
    const more = unknown.length > 10 ? ` and ${unknown.length - 10} more` : "";
    throw new InputError(`unknown input ${shown}${more}; the model's inputs are ${listNames(inputs)}`);
  }
  const have = new Set(given);
  const missing = inputs.filter((i) => !have.has(i.name));
  if (missing.length) {
    throw new InputError(`missing input ${listNames(missing)}; give every input the model declares`);
  }
}

/** Deepest nesting of JSON arrays read as a tensor (NumPy's limit on dimensions). */
const MAX_JSON_RANK = 64;

function flatten(name: string, value: unknown): { shape: number[]; flat: unknown[] } {
  if (!Array.isArray(value)) return { shape: [], flat: [value] };
  const shape: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
    if (shape.length > MAX_JSON_RANK) {
      throw new InputError(
        `input ${
          quoteName(name)
        }: arrays nested more than ${MAX_JSON_RANK} deep; a tensor has at most ${MAX_JSON_RANK} dimensions`,
      );
    }
  }
  const flat: unknown[] = [];
  const walk = (v: unknown, depth: number, path: string) => {
    if (depth === shape.length) {
      if (Array.isArray(v)) {
        throw new InputError(
          `input ${quoteName(name)}: ragged array: ${path} is an array but ${
            formatShape(shape)
          } (from the first elements) puts numbers at that depth`,
        );
      }
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new InputError(
        `input ${quoteName(name)}: ragged array: ${path} has ${
          Array.isArray(v) ? `${v.length} elements` : "a single value"
        }, expected ${shape[depth]} (shape ${formatShape(shape)} from the first elements)`,
      );
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${path}[${i}]`);
  };
  walk(value, 0, "data");
  return { shape, flat };
}

function inferDtype(flat: unknown[]): TensorDtype {
  const first = flat[0];
  if (typeof first === "boolean") return "bool";
  if (typeof first === "string" && !["NaN", "Infinity", "-Infinity"].includes(first)) return "string";
  return "float32";
}

/** A value for a message, cut to 40 characters (input files can hold long strings). */
function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}… (${text.length} characters)` : text;
}

const SPECIAL_FLOATS: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

function convertValues(name: string, flat: unknown[], dtype: TensorDtype): TensorValues {
  const bad = (i: number, what: string): never => {
    throw new InputError(
      `input ${quoteName(name)}: element ${i} is ${shortJson(flat[i])}, expected ${what} (dtype ${dtype})`,
    );
  };
  switch (dtype) {
    case "string": {
      const out = flat.map((v, i) => typeof v === "string" ? v : bad(i, "a string"));
      checkStrings(name, out);
      return out;
    }
    case "bool": {
      const out = new Uint8Array(flat.length);
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        if (v === true || v === 1) out[i] = 1;
        else if (v === false || v === 0) out[i] = 0;
        else bad(i, "true/false or 0/1");
      }
      return out;
    }
    case "int64":
    case "uint64": {
      const out = dtype === "int64" ? new BigInt64Array(flat.length) : new BigUint64Array(flat.length);
      const [lo, hi] = dtype === "int64" ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        let b: bigint | undefined;
        if (typeof v === "number" && Number.isInteger(v)) b = BigInt(v);
        else if (typeof v === "string" && /^-?\d+$/.test(v)) b = BigInt(v);
        else if (typeof v === "boolean") b = v ? 1n : 0n;
        if (b === undefined) bad(i, "an integer");
        if (b! < lo || b! > hi) bad(i, `an integer in [${lo}, ${hi}]`);
        out[i] = b!;
      }
      return out;
    }
    case "float32":
    case "float64":
    case "float16": {
      // float16 is rounded once, from the double (a Float32Array first would round twice)
      const values = dtype === "float32" ? new Float32Array(flat.length) : new Float64Array(flat.length);
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        if (typeof v === "number") values[i] = v;
        else if (typeof v === "boolean") values[i] = v ? 1 : 0;
        else if (typeof v === "string" && v in SPECIAL_FLOATS) values[i] = SPECIAL_FLOATS[v];
        else bad(i, "a number");
      }
      return dtype === "float16" ? toFloat16Bits(values) : values;
    }
    default: {
      const out = new TYPED_ARRAYS[dtype](flat.length);
      const [lo, hi] = INT_RANGES[dtype]!;
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        const n = typeof v === "boolean" ? (v ? 1 : 0) : v;
        if (typeof n !== "number" || !Number.isInteger(n)) bad(i, "an integer");
        if ((n as number) < lo || (n as number) > hi) bad(i, `an integer in [${lo}, ${hi}]`);
        out[i] = n as number;
      }
      return out;
    }
  }
}

// ---- validation -------------------------------------------------------------------------------

/**
 * Checks one tensor against the model's declaration: dtype, rank, fixed dimensions (symbolic and
 * unnamed dims accept any size) and that the data holds exactly as many elements as the shape.
 *
 * @throws {InputError} naming the input, the expected and the received shape/type.
 */
export function validateTensor(tensor: TensorData, info: TensorInfo): void {
  const name = quoteName(info.name);
  if (info.dtype === "unknown") {
    throw new InputError(`input ${name} is not a tensor (a sequence or map): gpux can only feed tensors`);
  }
  if (tensor.dtype !== info.dtype) {
    throw new InputError(`input ${name}: expected dtype ${info.dtype}, received ${tensor.dtype}`);
  }
  if (!Array.isArray(tensor.shape)) throw new InputError(`input ${name}: its shape is not an array of dimensions`);
  checkShape(info.name, tensor.shape);
  const expected = `${info.dtype}${formatShape(info.shape)}`;
  const received = `${tensor.dtype}${formatShape(tensor.shape)}`;
  // onnxruntime reports "no shape declared" as [] too; only a declared non-scalar rank can be checked
  if (info.shape.length > 0 && tensor.shape.length !== info.shape.length) {
    throw new InputError(
      `input ${name}: expected rank ${info.shape.length} ${expected}, received rank ${tensor.shape.length} ${received}`,
    );
  }
  for (let i = 0; i < info.shape.length; i++) {
    const d = info.shape[i];
    if (typeof d === "number" && d >= 0 && tensor.shape[i] !== d) {
      throw new InputError(
        `input ${name}: dimension ${i} must be ${d}, received ${
          tensor.shape[i]
        } (expected ${expected}, received ${received})`,
      );
    }
  }
  if (tensor.data.length !== elementCount(tensor.shape)) {
    throw new InputError(
      `input ${name}: shape ${formatShape(tensor.shape)} holds ${
        elementCount(tensor.shape)
      } elements, but its data has ${tensor.data.length}`,
    );
  }
  if (tensor.dtype === "string") checkStrings(info.name, tensor.data as string[]);
}

/** Validates a whole set of feeds: names (none missing, none unknown) and each tensor. */
export function validateFeeds(feeds: TensorMap, inputs: readonly TensorInfo[]): void {
  checkNames(Object.keys(feeds), inputs);
  for (const info of inputs) validateTensor(feeds[info.name], info);
}

// ---- TensorData -> JSON -----------------------------------------------------------------------

/** A tensor in JSON: dtype, shape and the elements as nested arrays (a bare value for a scalar). */
export interface TensorJson {
  /** Element type. */
  dtype: TensorDtype;
  /** Dimensions. */
  shape: number[];
  /** Elements as nested arrays (a bare value for a scalar). */
  data: unknown;
}

/** Float tensors up to this many elements are printed with the shortest decimals that read back exactly. */
export const SHORTEST_FLOAT_LIMIT = 65536;

/**
 * Elements as JSON-safe values in row-major order: numbers (int64 beyond ±2^53 as decimal strings,
 * NaN/±Infinity as strings), booleans for `bool`, numbers for `float16`. float32/float16 values are written with
 * the shortest decimals that read back as the same float32 (`0.1`) for tensors up to {@linkcode SHORTEST_FLOAT_LIMIT}
 * elements, and as the exact double (`0.10000000149011612`) beyond; both parse back to the same float32.
 */
export function jsonValues(tensor: TensorData): unknown[] {
  const { dtype, data } = tensor;
  if (dtype === "string") return [...(data as string[])];
  if (dtype === "bool") return Array.from(data as Uint8Array, (v) => v !== 0);
  if (dtype === "int64" || dtype === "uint64") {
    return Array.from(
      data as BigInt64Array,
      (v) => v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString(),
    );
  }
  const numbers = dtype === "float16" ? fromFloat16Bits(data as Uint16Array) : data as Float32Array;
  if (dtype === "float64") return Array.from(numbers, (v) => Number.isFinite(v) ? v : String(v));
  if (dtype === "float32" || dtype === "float16") {
    // shortest decimals read better but cost ~0.6 µs a value: big tensors get the exact double instead
    const shortest = numbers.length <= SHORTEST_FLOAT_LIMIT;
    const short = dtype === "float16" ? shortestFloat16 : shortestFloat32;
    return Array.from(numbers, (v) => Number.isFinite(v) ? (shortest ? short(v) : v) : String(v));
  }
  return Array.from(numbers);
}

/**
 * The shortest decimal that reads back as the same float32 (as numpy prints float32): `0.1`, not
 * `0.10000000149011612`.
 */
export function shortestFloat32(v: number): number {
  if (Number.isInteger(v)) return v;
  for (let p = 6; p < 9; p++) {
    const candidate = Number(v.toPrecision(p));
    if (Math.fround(candidate) === v) return candidate;
  }
  return Number(v.toPrecision(9));
}

const f16round = (v: number) => fromFloat16Bits(Uint16Array.of(float16BitsOf(v)))[0];

/** The shortest decimal that reads back as the same float16: `0.1` for the half nearest 0.1 (0.0999755859375). */
export function shortestFloat16(v: number): number {
  if (Number.isInteger(v)) return v;
  for (let p = 1; p < 6; p++) {
    const candidate = Number(v.toPrecision(p));
    if (f16round(candidate) === v) return candidate;
  }
  return shortestFloat32(v);
}

/** Reshapes a flat list into nested arrays following `shape` (a scalar becomes the bare value). */
export function nest(flat: readonly unknown[], shape: readonly number[]): unknown {
  if (shape.length === 0) return flat[0];
  let offset = 0;
  const build = (depth: number): unknown[] => {
    const out: unknown[] = new Array(shape[depth]);
    if (depth === shape.length - 1) {
      for (let i = 0; i < shape[depth]; i++) out[i] = flat[offset++];
    } else {
      for (let i = 0; i < shape[depth]; i++) out[i] = build(depth + 1);
    }
    return out;
  };
  return build(0);
}

/**
 * A tensor as `{dtype, shape, data}` with `data` as nested arrays — the format `--input` accepts back.
 *
 * @example
 * ```ts
 * tensorToJson({ dtype: "int64", shape: [1, 2], data: BigInt64Array.of(1n, 2n) });
 * // { dtype: "int64", shape: [1, 2], data: [[1, 2]] }
 * ```
 */
export function tensorToJson(tensor: TensorData): TensorJson {
  return { dtype: tensor.dtype, shape: [...tensor.shape], data: nest(jsonValues(tensor), tensor.shape) };
}

/** {@linkcode tensorToJson} over a map, keeping the given key order. */
export function tensorsToJson(tensors: TensorMap): Record<string, TensorJson> {
  const out: Record<string, TensorJson> = {};
  for (const name of Object.keys(tensors)) out[name] = tensorToJson(tensors[name]);
  return out;
}
