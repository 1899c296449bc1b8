/**
 * Which ONNX variant a language model runs by default when the user names none: the one that suits the
 * execution provider. On CPU full precision (`fp32`) is the reference and 4-bit weights (`q4`) the next
 * best (MatMulNBits is fast there); on CUDA half precision (`fp16`, `q4f16`) is what GPUs are fast at.
 * The reason is returned so the CLI can say it on stderr and in `--json`.
 *
 * @module
 */
import { onnxVariants } from "../vocabulary/formats.ts";

/** Preference orders per provider family. */
const CPU_ORDER = ["fp32", "q4", "quantized", "int8", "uint8", "q8", "fp16", "q4f16", "bnb4"];
const GPU_ORDER = ["fp16", "q4f16", "fp32", "q4", "quantized", "int8", "uint8", "bnb4"];

/** A chosen variant and why. */
export interface VariantChoice {
  /** Variant name (`fp32`, `q4`, `fp16`, …). */
  variant: string;
  /** Why it was chosen. */
  reason: string;
}

/**
 * The default variant among `paths` (the repository's files, relative) for `provider`, or undefined
 * when there is at most one `.onnx` model or none of the known variants.
 */
export function chooseGenerationVariant(
  paths: readonly string[],
  provider: string | undefined,
): VariantChoice | undefined {
  const info = onnxVariants(paths.map((path) => ({ path })));
  if (info.variants.length <= 1) return undefined;
  const names = new Set(info.variants.map((v) => v.name));
  const gpu = provider === "cuda" || provider === "tensorrt" || provider === "dml" || provider === "coreml";
  const order = gpu ? GPU_ORDER : CPU_ORDER;
  const pick = order.find((n) => names.has(n));
  if (!pick) return undefined;
  return {
    variant: pick,
    reason: `${pick}, the default on ${gpu ? provider : "cpu"} among ${[...names].join(", ")}`,
  };
}

/** The ONNX-related files of a model folder: `*.onnx` at its root and in `onnx/` (relative paths). */
export async function listOnnxFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ["", "onnx/"]) {
    try {
      for await (const entry of Deno.readDir(`${dir}/${sub}`)) {
        if (entry.name.toLowerCase().endsWith(".onnx")) out.push(`${sub}${entry.name}`);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) throw error;
    }
  }
  return out;
}
