/**
 * Is there a GPU here at all? On a machine without one, running on cpu is not a fallback but the only
 * choice, and the CLI says nothing about providers that could never load; with a GPU whose provider cannot
 * load, it warns. Also: which CUDA runtimes (major versions) the dynamic loader finds, so that
 * `gpux runtime install cuda` and the runtime-folder choice follow the CUDA the machine has.
 *
 * @module
 */
import { currentPlatform, type Platform, tryLoadLibrary } from "./providers.ts";
import { pathExists } from "../path_exists.ts";

/** Whether a GPU was found, and what gave it away. */
export interface GpuPresence {
  /** True when a GPU driver or device was found. */
  present: boolean;
  /** What was found, e.g. `/dev/nvidiactl`, `libcuda.so.1 (NVIDIA driver)`, `Windows (DirectML)`. */
  evidence: string[];
}

/** Options of {@linkcode detectGpu}. */
export interface GpuDetectOptions {
  /** Platform (default the running one). */
  platform?: Platform;
  /** Prefix of `/dev` and `/proc` paths (default `""`; tests point it at a fake tree). */
  root?: string;
  /** Whether a shared library loads (default: `Deno.dlopen` it); `false` skips the library check. */
  loadsLibrary?: ((name: string) => boolean) | false;
}

/**
 * Looks for a GPU: on Linux an NVIDIA device node (`/dev/nvidiactl`, `/dev/nvidia0`), the NVIDIA kernel
 * driver (`/proc/driver/nvidia/version`), WSL2's GPU device (`/dev/dxg`) or the NVIDIA driver library
 * (`libcuda.so.1`); Windows (DirectML) and macOS (CoreML/Metal) always have one.
 *
 * @example
 * ```ts
 * if (!detectGpu().present) console.log("cpu is the only choice here");
 * ```
 */
export function detectGpu(options: GpuDetectOptions = {}): GpuPresence {
  const platform = options.platform ?? currentPlatform();
  if (platform.os === "windows") return { present: true, evidence: ["Windows (DirectML)"] };
  if (platform.os === "darwin") return { present: true, evidence: ["macOS (CoreML, Metal)"] };
  if (platform.os !== "linux") return { present: false, evidence: [] };
  const root = options.root ?? "";
  const evidence = ["/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia/version", "/dev/dxg"].filter((p) =>
    pathExists(`${root}${p}`)
  );
  const loads = options.loadsLibrary === undefined
    ? (name: string) => tryLoadLibrary(name) === undefined
    : options.loadsLibrary;
  if (loads && loads("libcuda.so.1")) evidence.push("libcuda.so.1 (NVIDIA driver)");
  return { present: evidence.length > 0, evidence };
}

/** CUDA major versions gpux has provider builds for, newest first. */
export const CUDA_MAJORS: readonly number[] = [13, 12];

/**
 * The CUDA major versions whose runtime (`libcudart.so.<N>`) the dynamic loader finds, newest first
 * (what `gpux doctor` lists as "CUDA 13 runtime", "CUDA 12 runtime").
 */
export function cudaRuntimesPresent(
  loadsLibrary: (name: string) => boolean = (name) => tryLoadLibrary(name) === undefined,
): number[] {
  return CUDA_MAJORS.filter((n) => loadsLibrary(`libcudart.so.${n}`));
}
