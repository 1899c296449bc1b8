/**
 * Writes a `gpux.yml` from a model's actual inputs and outputs (`gpux init`).
 *
 * @module
 */
import type { TensorInfo } from "../vocabulary/tensor_types.ts";

/** What {@linkcode renderGpuxConfig} needs. */
export interface ConfigDraft {
  /** The `name` field. */
  name: string;
  /** `model.source`: a path relative to the config file, or `hf:org/name[@rev]`. */
  source: string;
  /** `model.variant`, for Hub sources. */
  variant?: string;
  /** The `description` field. */
  description?: string;
  /** The model's inputs, as the session reports them. */
  inputs: readonly TensorInfo[];
  /** The model's outputs, as the session reports them. */
  outputs: readonly TensorInfo[];
}

function q(value: string): string {
  return JSON.stringify(value); // a JSON string is a valid YAML scalar, whatever the characters
}

function shape(dims: TensorInfo["shape"]): string {
  return `[${dims.map((d) => d === null ? "null" : typeof d === "number" ? String(d) : q(d)).join(", ")}]`;
}

/**
 * The text of a `gpux.yml` for a model, with every key gpux reads present or commented.
 *
 * @example
 * ```ts
 * import { renderGpuxConfig } from "jsr:@gpux/gpux/runtime";
 * import { loadModel } from "jsr:@gpux/gpux";
 * const session = await loadModel("model.onnx");
 * renderGpuxConfig({ name: "demo", source: "./model.onnx", inputs: session.inputs, outputs: session.outputs });
 * ```
 */
export function renderGpuxConfig(draft: ConfigDraft): string {
  const lines = [
    "# gpux.yml: written by `gpux init` from the model's own inputs and outputs.",
    `name: ${q(draft.name)}`,
    'version: "1.0.0"',
    ...(draft.description ? [`description: ${q(draft.description)}`] : []),
    "model:",
    `  source: ${q(draft.source)}`,
    "  format: onnx",
    ...(draft.variant ? [`  variant: ${q(draft.variant)}`] : []),
    "inputs:",
  ];
  const tensors = (list: readonly TensorInfo[], inputs: boolean) => {
    for (const t of list) {
      lines.push(`  ${q(t.name)}:`);
      if (t.dtype !== "unknown") lines.push(`    type: ${t.dtype}`);
      lines.push(`    shape: ${shape(t.shape)}`);
      if (inputs) lines.push("    required: true");
    }
  };
  tensors(draft.inputs, true);
  lines.push("outputs:");
  tensors(draft.outputs, false);
  lines.push(
    "runtime:",
    "  gpu:",
    "    backend: auto        # auto | cuda | tensorrt | dml | coreml | webgpu | cpu",
    "  batch_size: 1          # default batch for gpux bench",
    "",
  );
  return lines.join("\n");
}
