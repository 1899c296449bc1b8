/**
 * Execution provider names as users write them (`--provider`, gpux.yml), shared by `runtime/` and `config/`.
 *
 * @module
 */

/** An execution provider gpux can ask onnxruntime-node for. */
export type ProviderName = "cuda" | "tensorrt" | "dml" | "coreml" | "webgpu" | "cpu";

/** A provider, or `auto`: the platform's GPU providers in order of expected speed, then cpu. */
export type ProviderChoice = ProviderName | "auto";

/** Every provider name, in the order `--help` lists them. */
export const PROVIDER_NAMES: readonly ProviderName[] = ["cuda", "tensorrt", "dml", "coreml", "webgpu", "cpu"];

/** True when `value` is a provider name or `auto`. */
export function isProviderChoice(value: unknown): value is ProviderChoice {
  return value === "auto" || (PROVIDER_NAMES as readonly unknown[]).includes(value);
}
