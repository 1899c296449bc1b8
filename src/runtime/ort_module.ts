/**
 * onnxruntime-node, imported on first use. Importing it loads its native addon (about 35 ms here), which
 * commands that never run a model (`pull`, `ls`, `info`, `--help`) should not pay at start-up.
 *
 * Before the import, an installed runtime folder (`$GPUX_HOME/runtime/onnxruntime-<version>-…`, see
 * `runtime_folder.ts`) is preloaded, so that onnxruntime-node binds to that copy of `libonnxruntime` and loads
 * the execution providers installed beside it (`gpux runtime install cuda`).
 *
 * @module
 */
import type * as Ort from "onnxruntime-node";
import { denoEnv, type EnvReader } from "../environment.ts";
import { GpuxError } from "../errors.ts";
import {
  chooseRuntimeFolder,
  listRuntimeFolders,
  preloadedRuntime,
  preloadOnnxruntime,
  type RuntimeFolder,
} from "./runtime_folder.ts";
import { cudaRuntimesPresent } from "./gpu_presence.ts";

/** The onnxruntime-node module. */
export type OrtModule = typeof Ort;

/** Which onnxruntime library the process uses, and why. */
export interface OrtActivation {
  /** The runtime folder loaded, when one was. */
  folder?: RuntimeFolder;
  /** Why an installed runtime folder was not used (it failed to load), if so. */
  problem?: string;
}

/** Options of {@linkcode loadOrt} (only the first call's count). */
export interface LoadOrtOptions {
  /** Environment (`GPUX_HOME`, `HOME`) used to find runtime folders (default the process's). */
  env?: EnvReader;
}

let loading: Promise<OrtModule> | undefined;
let activation: OrtActivation = {};

/**
 * Preloads the installed runtime folder for this onnxruntime version and platform, if any. When the process has
 * preloaded a folder already (a compiled binary extracts its embedded `libonnxruntime` and preloads that before
 * anything imports onnxruntime-node), that choice stands.
 */
function activateRuntimeFolder(env: EnvReader): OrtActivation {
  if (preloadedRuntime()) return {};
  const folders = listRuntimeFolders(env);
  if (!folders.length) return {};
  const folder = chooseRuntimeFolder(folders, { cudaPresent: cudaRuntimesPresent() });
  if (!folder) return {};
  try {
    preloadOnnxruntime(folder.path);
    return { folder };
  } catch (error) {
    // keep onnxruntime-node's own library: cpu still works, and doctor / runtime ls say what went wrong
    return { problem: error instanceof GpuxError ? error.message : String(error) };
  }
}

/** The onnxruntime-node module, imported once (the module registry keeps it; this only avoids re-awaiting). */
export function loadOrt(options: LoadOrtOptions = {}): Promise<OrtModule> {
  loading ??= (async () => {
    activation = activateRuntimeFolder(options.env ?? denoEnv);
    return await import("onnxruntime-node");
  })();
  return loading;
}

/** Which runtime folder {@linkcode loadOrt} activated (empty before the first call or when none is installed). */
export function ortActivation(): OrtActivation {
  return activation;
}
