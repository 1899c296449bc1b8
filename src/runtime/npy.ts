/**
 * NumPy `.npy` files (format versions 1.0–3.0) to and from {@linkcode TensorData}: little- and
 * big-endian numeric dtypes, bool, float16 and fixed-width unicode strings (`<U…`), C order.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { elementCount, shapeProblem, type TensorData, type TensorDtype, TYPED_ARRAYS } from "./tensors.ts";

/** Most dimensions an array may have (NumPy's own limit). */
const MAX_NPY_RANK = 64;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR: Record<string, TensorDtype> = {
  f4: "float32",
  f2: "float16",
  f8: "float64",
  i1: "int8",
  i2: "int16",
  i4: "int32",
  i8: "int64",
  u1: "uint8",
  u2: "uint16",
  u4: "uint32",
  u8: "uint64",
  b1: "bool",
};
const DESCR_OF: Partial<Record<TensorDtype, string>> = Object.fromEntries(
  Object.entries(DESCR).map(([k, v]) => [v, (k.endsWith("1") ? "|" : "<") + k]),
);

/**
 * Parses `.npy` bytes.
 *
 * @param label names the file in error messages.
 * @throws {InputError} for a file that is not `.npy`, Fortran order, or an unsupported dtype (e.g. complex, object).
 */
export function readNpy(bytes: Uint8Array, label = "npy file"): TensorData {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new InputError(`${label} is not a .npy file (no \\x93NUMPY magic)`, {
      hint: "save it with numpy.save (not savez or pickle)",
    });
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (![1, 2, 3].includes(major) || headerStart + headerLen > bytes.length) {
    throw new InputError(
      `${label}: malformed .npy file: ${
        [1, 2, 3].includes(major) ? "the header runs past the end of the file" : `unknown format version ${major}`
      }`,
    );
  }
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, headerStart + headerLen),
  );
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) {
    const shown = header.trim().slice(0, 100);
    throw new InputError(`${label}: malformed .npy header: ${shown}${header.trim().length > 100 ? "…" : ""}`);
  }
  if (fortran === "True") {
    throw new InputError(`${label}: Fortran-order arrays are not supported`, {
      hint: "save a C-order copy: numpy.save(path, numpy.ascontiguousarray(a))",
    });
  }
  const dims = shapeText.split(",").map((s) => s.trim()).filter((s) => s);
  const shape = dims.map((d) => /^\d{1,15}L?$/.test(d) ? Number(d.replace(/L$/, "")) : NaN);
  if (shape.some((d) => !Number.isSafeInteger(d)) || shape.length > MAX_NPY_RANK) {
    throw new InputError(
      `${label}: malformed .npy header: shape (${shapeText.slice(0, 100)}) is not ${
        shape.length > MAX_NPY_RANK ? `at most ${MAX_NPY_RANK} dimensions` : "non-negative whole numbers"
      }`,
    );
  }
  const problem = shapeProblem(shape);
  if (problem) throw new InputError(`${label}: ${problem}`, { hint: "split the array into several files and runs" });
  const n = elementCount(shape);
  const dataStart = headerStart + headerLen;
  const order = descr[0];
  const code = descr.slice(1);
  if (code.startsWith("U")) {
    const width = /^U\d{1,9}$/.test(code) ? Number(code.slice(1)) : NaN;
    if (!(width >= 1)) throw new InputError(`${label}: unsupported dtype '${descr.slice(0, 40)}'`);
    if (bytes.length < dataStart + n * width * 4) {
      throw new InputError(
        `${label}: truncated: shape (${shape.join(", ")}) of ${descr} needs ${n * width * 4} data bytes, file has ${
          bytes.length - dataStart
        }`,
      );
    }
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      // numpy pads with NULs and drops only the trailing ones: a NUL inside the string is part of it
      let end = width;
      while (end > 0 && view.getUint32(dataStart + (i * width + end - 1) * 4, order !== ">") === 0) end--;
      let s = "";
      for (let j = 0; j < end; j++) {
        const cp = view.getUint32(dataStart + (i * width + j) * 4, order !== ">");
        if (cp > 0x10ffff) {
          throw new InputError(`${label}: element ${i} holds ${cp}, which is not a Unicode code point`);
        }
        s += String.fromCodePoint(cp);
      }
      out.push(s);
    }
    return { dtype: "string", shape, data: out };
  }
  const dtype = DESCR[code];
  if (!dtype) {
    throw new InputError(`${label}: unsupported dtype '${descr.slice(0, 40)}'`, {
      hint: "use float16/32/64, (u)int8/16/32/64, bool or unicode strings",
    });
  }
  const Ctor = TYPED_ARRAYS[dtype as Exclude<TensorDtype, "string">];
  const width = Ctor.BYTES_PER_ELEMENT;
  if (bytes.length < dataStart + n * width) {
    throw new InputError(
      `${label}: truncated: shape (${shape.join(", ")}) needs ${n * width} data bytes, file has ${
        bytes.length - dataStart
      }`,
    );
  }
  const copy = bytes.slice(dataStart, dataStart + n * width);
  if (order === ">" && width > 1) {
    for (let i = 0; i < copy.length; i += width) copy.subarray(i, i + width).reverse();
  }
  return { dtype, shape, data: new Ctor(copy.buffer, 0, n) };
}

/** Serialises a tensor as `.npy` (format 1.0, or 3.0 when the header needs it). */
export function writeNpy(tensor: TensorData): Uint8Array {
  let descr: string;
  let body: Uint8Array;
  if (tensor.dtype === "string") {
    const strings = tensor.data as string[];
    const width = strings.reduce((n, s) => Math.max(n, [...s].length), 1);
    descr = `<U${width}`;
    body = new Uint8Array(strings.length * width * 4);
    const v = new DataView(body.buffer);
    strings.forEach((s, i) => [...s].forEach((ch, j) => v.setUint32((i * width + j) * 4, ch.codePointAt(0)!, true)));
  } else {
    descr = DESCR_OF[tensor.dtype]!;
    const data = tensor.data as Exclude<TensorData["data"], string[]>;
    body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pre = 10;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, " ") + "\n";
  const headerBytes = new TextEncoder().encode(header);
  const out = new Uint8Array(pre + headerBytes.length + body.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, headerBytes.length, true);
  out.set(headerBytes, pre);
  out.set(body, pre + headerBytes.length);
  return out;
}
