/**
 * Reads a few one-element tensors (CLIP's learned `logit_scale`, SigLIP's `logit_bias`) out of a model's
 * `model.safetensors` (or the shard `model.safetensors.index.json` names) without loading the weights: the
 * 8-byte header length, the JSON header, then just the bytes of each wanted tensor. The two-tower ONNX layout of
 * CLIP/SigLIP leaves these scalars out of both towers, and the config holds only their initial values.
 *
 * Files are untrusted: a header that is too big, does not parse, or names a tensor of another size is an
 * {@linkcode InputError} naming the file.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { ModelFiles } from "./model_files.ts";

/** Largest safetensors JSON header read (16 MiB: a header names every tensor; real ones are well under 1 MiB). */
export const MAX_SAFETENSORS_HEADER_BYTES = 16 * 1024 * 1024;

interface HeaderEntry {
  dtype?: unknown;
  shape?: unknown;
  data_offsets?: unknown;
}

async function readAt(file: Deno.FsFile, offset: number, length: number, path: string): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await file.read(out.subarray(got));
    if (n === null || n === 0) throw new InputError(`${path} ends early (truncated safetensors file)`);
    got += n;
  }
  return out;
}

function scalarOf(bytes: Uint8Array, dtype: string, path: string, name: string): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32":
      return view.getFloat32(0, true);
    case "F64":
      return view.getFloat64(0, true);
    case "BF16":
      return new Float32Array(new Uint32Array([view.getUint16(0, true) << 16]).buffer)[0];
    case "F16": {
      const h = view.getUint16(0, true);
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const frac = h & 0x3ff;
      if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
      if (exp === 31) return frac ? NaN : sign * Infinity;
      return sign * 2 ** (exp - 15) * (1 + frac / 1024);
    }
    default:
      throw new InputError(`${path}: tensor ${name} has dtype ${dtype}; expected a float`);
  }
}

/** The one-element tensors `names` of one safetensors file; names absent from it are left out. */
export async function readSafetensorsScalarsFile(
  path: string,
  names: readonly string[],
): Promise<Record<string, number>> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  if (size < 8) throw new InputError(`${path} is not a safetensors file (${size} bytes)`);
  const headerLength = Number(new DataView((await readAt(file, 0, 8, path)).buffer).getBigUint64(0, true));
  if (headerLength > MAX_SAFETENSORS_HEADER_BYTES || 8 + headerLength > size) {
    throw new InputError(
      `${path}: safetensors header of ${headerLength} bytes (file ${size} bytes, limit ${MAX_SAFETENSORS_HEADER_BYTES})`,
      {
        hint: "re-download the file (gpux pull --force)",
      },
    );
  }
  let header: Record<string, HeaderEntry>;
  try {
    header = JSON.parse(new TextDecoder().decode(await readAt(file, 8, headerLength, path)));
  } catch (error) {
    throw new InputError(`${path}: the safetensors header is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const out: Record<string, number> = {};
  for (const name of names) {
    const entry = header?.[name];
    if (!entry) continue;
    const shape = Array.isArray(entry.shape) ? entry.shape : [];
    const offsets = Array.isArray(entry.data_offsets) ? entry.data_offsets : [];
    const [begin, end] = offsets as number[];
    if (
      shape.reduce((a: number, b: unknown) => a * Number(b), 1) !== 1 || !Number.isSafeInteger(begin) ||
      !Number.isSafeInteger(end) || end <= begin || end - begin > 8 || 8 + headerLength + end > size
    ) {
      throw new InputError(`${path}: tensor ${name} is not one float (shape ${JSON.stringify(entry.shape)})`);
    }
    out[name] = scalarOf(
      await readAt(file, 8 + headerLength + begin, end - begin, path),
      String(entry.dtype),
      path,
      name,
    );
  }
  return out;
}

/**
 * The one-element tensors `names` from the model's safetensors weights (`model.safetensors`, else the shards of
 * `model.safetensors.index.json`), or undefined when the model folder has no safetensors weights.
 *
 * @example
 * ```ts ignore
 * const files = await ModelFiles.forModel(undefined, "clip/onnx/vision_model.onnx");
 * await readSafetensorsScalars(files, ["logit_scale"]); // { logit_scale: 4.6052 }
 * ```
 */
export async function readSafetensorsScalars(
  files: ModelFiles,
  names: readonly string[],
): Promise<Record<string, number> | undefined> {
  const single = await files.find("model.safetensors");
  if (single) return await readSafetensorsScalarsFile(single, names);
  const index = await files.readJsonIfPresent("model.safetensors.index.json") as
    | { weight_map?: Record<string, unknown> }
    | undefined;
  if (!index) return undefined;
  const out: Record<string, number> = {};
  for (const name of names) {
    const shard = index.weight_map?.[name];
    if (typeof shard !== "string" || shard.includes("..") || shard.startsWith("/")) continue; // names inside the repository only
    const path = await files.find(shard);
    if (path) Object.assign(out, await readSafetensorsScalarsFile(path, [name]));
  }
  return out;
}
