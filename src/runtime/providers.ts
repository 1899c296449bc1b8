/**
 * Execution providers: which ones to try on this platform, in which order, how to ask
 * onnxruntime-node for them, and why one failed — in one line a user can act on.
 *
 * onnxruntime-node throws (it does not fall back) when a provider's libraries are missing, and its
 * message is generic ("Failed to load shared library"); the real cause is found here by looking for
 * the provider libraries next to `libonnxruntime` and trying to load them and the GPU runtime.
 *
 * @module
 */
import { preloadedRuntime } from "./runtime_folder.ts";
import {
  isProviderChoice,
  PROVIDER_NAMES,
  type ProviderChoice,
  type ProviderName,
} from "../vocabulary/provider_names.ts";
import { pathExists } from "../path_exists.ts";

export { isProviderChoice, PROVIDER_NAMES, type ProviderChoice, type ProviderName };

/** Operating system and CPU architecture, as `Deno.build` spells them. */
export interface Platform {
  /** `linux`, `windows`, `darwin`, … */
  os: string;
  /** `x86_64`, `aarch64`, … */
  arch: string;
}

/** The running platform. */
export function currentPlatform(): Platform {
  return { os: Deno.build.os, arch: Deno.build.arch };
}

/**
 * Providers `auto` tries, in order: Linux x64 cuda, webgpu; Windows dml, webgpu; macOS coreml, webgpu;
 * always ending with cpu.
 *
 * @example
 * ```ts
 * autoProviderOrder({ os: "linux", arch: "x86_64" }); // ["cuda", "webgpu", "cpu"]
 * ```
 */
export function autoProviderOrder(platform: Platform = currentPlatform()): ProviderName[] {
  if (platform.os === "linux" && platform.arch === "x86_64") return ["cuda", "webgpu", "cpu"];
  if (platform.os === "linux") return ["webgpu", "cpu"];
  if (platform.os === "windows") return ["dml", "webgpu", "cpu"];
  if (platform.os === "darwin") return ["coreml", "webgpu", "cpu"];
  return ["cpu"];
}

/** The providers to try for a choice: `auto` expands to {@linkcode autoProviderOrder}, anything else is itself. */
export function providerCandidates(choice: ProviderChoice, platform: Platform = currentPlatform()): ProviderName[] {
  return choice === "auto" ? autoProviderOrder(platform) : [choice];
}

/** Provider-specific options onnxruntime-node accepts from JavaScript. */
export interface ProviderOptions {
  /** GPU index for cuda, tensorrt and dml (default 0). */
  deviceId?: number;
}

/** The `executionProviders` entry for one provider. */
export function executionProviderConfig(
  name: ProviderName,
  options: ProviderOptions = {},
): string | { name: string; deviceId?: number } {
  if ((name === "cuda" || name === "tensorrt" || name === "dml") && options.deviceId !== undefined) {
    return { name, deviceId: options.deviceId };
  }
  return name;
}

/** Why a provider could not be used. */
export interface ProviderFailure {
  /** The provider that failed. */
  provider: ProviderName;
  /** One line: what is missing, e.g. `CUDA libraries not found: libcublasLt.so.13`. */
  reason: string;
  /** What to install or do about it. */
  hint: string;
  /** onnxruntime's own message, when it was tried. */
  ortMessage?: string;
}

/** Where onnxruntime-node's native libraries live (`…/onnxruntime-node/bin/napi-v6/{os}/{arch}`), if found. */
export function ortBinaryDir(platform: Platform = currentPlatform()): string | undefined {
  try {
    const index = new URL(import.meta.resolve("onnxruntime-node"));
    if (index.protocol !== "file:") return undefined;
    const os = platform.os === "windows" ? "win32" : platform.os;
    const arch = platform.arch === "x86_64" ? "x64" : platform.arch === "aarch64" ? "arm64" : platform.arch;
    return decodeURIComponent(new URL(`../bin/napi-v6/${os}/${arch}`, index).pathname);
  } catch {
    return undefined;
  }
}

/**
 * The folder onnxruntime loads execution providers from in this process: the runtime folder preloaded by
 * `loadOrt()` (`gpux runtime install`), else onnxruntime-node's own {@linkcode ortBinaryDir}.
 */
export function activeOrtDir(platform: Platform = currentPlatform()): string | undefined {
  return preloadedRuntime()?.dir ?? ortBinaryDir(platform);
}

/**
 * Whether a provider's code is present at all (not whether it loads): cpu and webgpu are bundled with
 * onnxruntime-node, dml on Windows, coreml on macOS; cuda and tensorrt when their provider libraries sit in
 * `dir` (default {@linkcode activeOrtDir}) on Linux.
 */
export function providerInstalled(
  name: ProviderName,
  platform: Platform = currentPlatform(),
  dir: string | undefined = activeOrtDir(platform),
): boolean {
  switch (name) {
    case "cpu":
    case "webgpu":
      return true;
    case "dml":
      return platform.os === "windows";
    case "coreml":
      return platform.os === "darwin";
    case "cuda":
    case "tensorrt":
      if (platform.os !== "linux") return platform.os === "windows";
      return dir !== undefined &&
        pathExists(`${dir}/libonnxruntime_providers_${name}.so`) &&
        pathExists(`${dir}/libonnxruntime_providers_shared.so`);
  }
}

/** Tries to load a shared library; `undefined` when it loads, else the loader's message (e.g. what is missing). */
export function tryLoadLibrary(path: string): string | undefined {
  try {
    Deno.dlopen(path, {}).close();
    return undefined;
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).replace(/^(Could not open library: )+/, "");
  }
}

function missingLibrary(loaderMessage: string): string | undefined {
  return /([^\s/:]+\.so[.\d]*): cannot open shared object file/.exec(loaderMessage)?.[1] ??
    /Library not loaded: (\S+)/.exec(loaderMessage)?.[1];
}

const CUDA_HINT_INSTALL =
  "run `gpux runtime install cuda` (the provider built for onnxruntime 1.29.0 and your CUDA: 12 from NuGet, 13 from npm; " +
  "`--from <dir or archive>` without network)";

/** Options of {@linkcode checkProvider} and {@linkcode explainProviderFailure}. */
export interface ProviderCheckOptions {
  /** Platform to check for (default the running one). */
  platform?: Platform;
  /** Directory holding `libonnxruntime` and provider libraries (default: {@linkcode activeOrtDir}). */
  binaryDir?: string;
  /**
   * Also load the cuda/tensorrt provider library with `Deno.dlopen` to name a missing CUDA/cuDNN library
   * (default false: only files are looked at). {@linkcode explainProviderFailure} sets it.
   */
  loadLibraries?: boolean;
}

/**
 * A quick check without onnxruntime: returns why `name` certainly cannot load here (a provider library
 * or GPU runtime that is missing, the wrong platform), or `undefined` when it might load and must be tried.
 * With `loadLibraries`, the provider library itself is loaded to find a missing CUDA/cuDNN library.
 * `auto` uses it to skip hopeless providers quietly (WebGPU's Dawn prints to stderr when it finds no driver).
 */
export function checkProvider(name: ProviderName, options: ProviderCheckOptions = {}): ProviderFailure | undefined {
  const platform = options.platform ?? currentPlatform();
  switch (name) {
    case "cpu":
      return undefined;
    case "dml":
      if (platform.os !== "windows") {
        return {
          provider: name,
          reason: "DirectML is only available on Windows",
          hint: "use --provider cuda, webgpu or cpu on this platform",
        };
      }
      return undefined;
    case "coreml":
      if (platform.os !== "darwin") {
        return {
          provider: name,
          reason: "CoreML is only available on macOS",
          hint: "use --provider cuda, webgpu or cpu on this platform",
        };
      }
      return undefined;
    case "cuda":
    case "tensorrt": {
      if (platform.os !== "linux" && platform.os !== "windows") {
        return {
          provider: name,
          reason: `${name === "cuda" ? "CUDA" : "TensorRT"} is not available on ${platform.os}`,
          hint: "use --provider coreml, webgpu or cpu on this platform",
        };
      }
      if (platform.os !== "linux") return undefined;
      const dir = options.binaryDir ?? activeOrtDir(platform);
      if (!dir) return undefined;
      const lib = name === "cuda" ? "libonnxruntime_providers_cuda.so" : "libonnxruntime_providers_tensorrt.so";
      const missing = [lib, "libonnxruntime_providers_shared.so"].filter((f) => !pathExists(`${dir}/${f}`));
      if (missing.length) {
        return {
          provider: name,
          reason: `${name === "cuda" ? "CUDA" : "TensorRT"} execution provider not installed: ${
            missing.join(" and ")
          } not found next to libonnxruntime`,
          hint: name === "cuda" ? CUDA_HINT_INSTALL : `place ${lib} and libonnxruntime_providers_shared.so in ${dir}`,
        };
      }
      // loading the provider library ourselves names the missing CUDA/cuDNN library; done only when asked
      // (after onnxruntime failed), so a working GPU set-up is never loaded and unloaded behind onnxruntime's back
      const loader = options.loadLibraries ? tryLoadLibrary(`${dir}/${lib}`) : undefined;
      if (loader) {
        const lib = missingLibrary(loader);
        const kind = name === "cuda"
          ? (lib && /cudnn/.test(lib) ? "cuDNN" : "CUDA")
          : (lib && /nvinfer/.test(lib) ? "TensorRT" : "CUDA");
        return {
          provider: name,
          reason: lib
            ? `${kind} libraries not found: ${lib}`
            : `the ${name} provider library failed to load: ${loader}`,
          hint: lib
            ? `install the NVIDIA driver, CUDA runtime and cuDNN 9 libraries the provider was built for (${lib}) and make them findable (LD_LIBRARY_PATH or ldconfig)`
            : `reinstall the ${name} provider libraries for onnxruntime 1.29.0${
              name === "cuda" ? " (`gpux runtime install cuda --force`)" : ""
            }`,
        };
      }
      return undefined;
    }
    case "webgpu": {
      if (platform.os === "linux") {
        const loader = tryLoadLibrary("libvulkan.so.1");
        if (loader) {
          return {
            provider: name,
            reason: "no WebGPU adapter: the Vulkan loader libvulkan.so.1 was not found",
            hint: "install a GPU driver with Vulkan support and the Vulkan loader (e.g. apt-get install libvulkan1)",
          };
        }
      }
      return undefined;
    }
  }
}

/**
 * Turns onnxruntime's error for a provider into a {@linkcode ProviderFailure}: the cause found by
 * {@linkcode checkProvider} when there is one, else a one-line digest of onnxruntime's message.
 */
export function explainProviderFailure(
  name: ProviderName,
  error: unknown,
  options: ProviderCheckOptions = {},
): ProviderFailure {
  const ortMessage = error instanceof Error ? error.message : String(error);
  const known = checkProvider(name, { ...options, loadLibraries: true });
  if (known) return { ...known, ortMessage };
  if (/backend not found/.test(ortMessage)) {
    return {
      provider: name,
      reason: `this onnxruntime-node build has no ${name} provider for ${(options.platform ?? currentPlatform()).os}`,
      hint: "use --provider auto to pick what is available",
      ortMessage,
    };
  }
  if (/No supported adapters|WebGPU adapter/.test(ortMessage)) {
    return {
      provider: name,
      reason: "no WebGPU adapter: no GPU driver with Vulkan/Metal/D3D12 support was found",
      hint: "install the GPU vendor's driver with Vulkan support",
      ortMessage,
    };
  }
  if (/Failed to load shared library/.test(ortMessage)) {
    return {
      provider: name,
      reason: `the ${name} provider libraries failed to load`,
      hint: name === "cuda" ? CUDA_HINT_INSTALL : `install the ${name} provider for onnxruntime 1.29.0`,
      ortMessage,
    };
  }
  return { provider: name, reason: firstLine(ortMessage), hint: "run `gpux doctor` for details", ortMessage };
}

/** The meaningful first line of an onnxruntime message (source paths stripped). */
export function firstLine(message: string): string {
  const line = message.split("\n").map((l) => l.trim()).find((l) => l) ?? message;
  return line.replace(/\/onnxruntime_src\/\S+:\d+ /g, "").replace(/\s+/g, " ").slice(0, 300);
}
