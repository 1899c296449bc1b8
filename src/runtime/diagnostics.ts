/**
 * What `gpux doctor` checks about the runtime: which execution providers really load (each tried on a
 * tiny model), and which GPU runtime libraries the dynamic loader can find.
 *
 * @module
 */
import { loadOrt, ortActivation } from "./ort_module.ts";
import { loadedOrtLibrary } from "./runtime_folder.ts";
import {
  activeOrtDir,
  autoProviderOrder,
  checkProvider,
  currentPlatform,
  executionProviderConfig,
  explainProviderFailure,
  type Platform,
  PROVIDER_NAMES,
  type ProviderName,
  tryLoadLibrary,
} from "./providers.ts";

/**
 * A 97-byte ONNX model, `y = Identity(x)` over float32[1] (IR 8, opset 17), written by
 * `tests/support/onnx_builder.ts` (`identityModel("float32", [1])`, producer `gpux-doctor`); a test
 * checks these bytes against the builder.
 */
export const TINY_MODEL_BASE64 =
  "CAgSC2dwdXgtZG9jdG9yGgExOkcKHAoBeBIBeRoKSWRlbnRpdHlfMCIISWRlbnRpdHkSBWdyYXBoWg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQEQ==";

/** The tiny model's bytes. */
export function tinyModel(): Uint8Array {
  return Uint8Array.from(atob(TINY_MODEL_BASE64), (c) => c.charCodeAt(0));
}

/** The result of trying one provider. */
export interface ProviderProbe {
  /** The provider tried. */
  provider: ProviderName;
  /** True when a session was created on it and ran. */
  available: boolean;
  /** Milliseconds the attempt took. */
  ms: number;
  /** Why it did not load, in one line. */
  reason?: string;
  /** What to install or do about it. */
  hint?: string;
  /** onnxruntime's own message, when it failed inside onnxruntime. */
  ortMessage?: string;
}

/** Options of {@linkcode probeProviders}. */
export interface ProbeOptions {
  /** Providers to try (default all). */
  providers?: readonly ProviderName[];
  /** Platform whose providers apply (default the running one). */
  platform?: Platform;
  /** GPU index for cuda/tensorrt/dml. */
  deviceId?: number;
  /**
   * Skip onnxruntime for providers a quick check already rules out (default false: doctor really tries;
   * WebGPU's Dawn then prints a Vulkan warning on stderr by itself).
   */
  skipHopeless?: boolean;
}

/** Tries each provider on the tiny model: create a session, run it once, release it. */
export async function probeProviders(options: ProbeOptions = {}): Promise<ProviderProbe[]> {
  const platform = options.platform ?? currentPlatform();
  const model = tinyModel();
  const ort = await loadOrt();
  const results: ProviderProbe[] = [];
  for (const provider of options.providers ?? PROVIDER_NAMES) {
    const started = performance.now();
    const quick = provider === "cpu" ? undefined : checkProvider(provider, { platform });
    if (quick && options.skipHopeless) {
      results.push({
        provider,
        available: false,
        ms: performance.now() - started,
        reason: quick.reason,
        hint: quick.hint,
      });
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(model, {
        executionProviders: [executionProviderConfig(provider, { deviceId: options.deviceId })],
        logSeverityLevel: 4,
      });
      try {
        await session.run({ x: new ort.Tensor("float32", Float32Array.of(1), [1]) });
      } finally {
        await session.release();
      }
      results.push({ provider, available: true, ms: performance.now() - started });
    } catch (error) {
      const failure = explainProviderFailure(provider, error, { platform });
      results.push({
        provider,
        available: false,
        ms: performance.now() - started,
        reason: failure.reason,
        hint: failure.hint,
        ...(failure.ortMessage ? { ortMessage: failure.ortMessage } : {}),
      });
    }
  }
  return results;
}

/** A GPU runtime library and whether the dynamic loader finds it. */
export interface LibraryProbe {
  /** Shared library name, e.g. `libcublasLt.so.13`. */
  name: string;
  /** What it is for. */
  role: string;
  /** True when the dynamic loader found and loaded it. */
  found: boolean;
  /** The loader's message when not found. */
  error?: string;
}

const LINUX_GPU_LIBRARIES: [string, string][] = [
  ["libcuda.so.1", "NVIDIA driver"],
  ["libcudart.so.13", "CUDA 13 runtime"],
  ["libcudart.so.12", "CUDA 12 runtime"],
  ["libcublasLt.so.13", "cuBLAS (CUDA 13)"],
  ["libcublasLt.so.12", "cuBLAS (CUDA 12)"],
  ["libcufft.so.12", "cuFFT (CUDA 13)"],
  ["libcufft.so.11", "cuFFT (CUDA 12)"],
  ["libcudnn.so.9", "cuDNN 9"],
  ["libnvinfer.so.10", "TensorRT 10"],
  ["libvulkan.so.1", "Vulkan loader (WebGPU)"],
];

/** Tries to load the GPU runtime libraries the cuda, tensorrt and webgpu providers need (Linux only). */
export function probeGpuLibraries(platform: Platform = currentPlatform()): LibraryProbe[] {
  if (platform.os !== "linux") return [];
  return LINUX_GPU_LIBRARIES.map(([name, role]) => {
    const error = tryLoadLibrary(name);
    return error ? { name, role, found: false, error } : { name, role, found: true };
  });
}

/** Facts about the onnxruntime installation. */
export interface RuntimeInstall {
  /** onnxruntime-node's version. */
  onnxruntimeVersion: string;
  /** Where `libonnxruntime` and the provider libraries are (or should be): a runtime folder or onnxruntime-node's. */
  binaryDir?: string;
  /** The `libonnxruntime` the process really loaded (from `/proc/self/maps`; Linux only). */
  loadedLibrary?: string;
  /** The runtime folder (`gpux runtime install`) in use, if any. */
  runtimeFolder?: string;
  /** Why an installed runtime folder is not in use, if so. */
  runtimeFolderProblem?: string;
  /** Provider libraries present in `binaryDir`. */
  providerLibraries: string[];
  /** The order `auto` tries. */
  autoOrder: ProviderName[];
}

/** Version and location of onnxruntime-node and which provider libraries it has. */
export async function runtimeInstall(platform: Platform = currentPlatform()): Promise<RuntimeInstall> {
  const ort = await loadOrt(); // first: it decides which libonnxruntime (and so which provider folder) is used
  const binaryDir = activeOrtDir(platform);
  const activation = ortActivation();
  const loadedLibrary = loadedOrtLibrary();
  let providerLibraries: string[] = [];
  if (binaryDir) {
    try {
      providerLibraries = [...Deno.readDirSync(binaryDir)].map((e) => e.name).filter((n) =>
        /providers|onnxruntime\.(so|dll|dylib)/.test(n) || /^libonnxruntime/.test(n)
      ).sort();
    } catch {
      providerLibraries = [];
    }
  }
  return {
    onnxruntimeVersion: ort.env.versions.node ?? ort.env.versions.common ?? "unknown",
    ...(binaryDir ? { binaryDir } : {}),
    ...(loadedLibrary ? { loadedLibrary } : {}),
    ...(activation.folder ? { runtimeFolder: activation.folder.path } : {}),
    ...(activation.problem ? { runtimeFolderProblem: activation.problem } : {}),
    providerLibraries,
    autoOrder: autoProviderOrder(platform),
  };
}
