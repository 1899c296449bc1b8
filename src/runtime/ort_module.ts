/**
 * onnxruntime-node, imported on first use. Importing it loads its native addon (about 35 ms here), which
 * commands that never run a model (`pull`, `ls`, `info`, `--help`) should not pay at start-up.
 *
 * @module
 */
import type * as Ort from "onnxruntime-node";

/** The onnxruntime-node module. */
export type OrtModule = typeof Ort;

let loading: Promise<OrtModule> | undefined;

/** The onnxruntime-node module, imported once (the module registry keeps it; this only avoids re-awaiting). */
export function loadOrt(): Promise<OrtModule> {
  loading ??= import("onnxruntime-node");
  return loading;
}
