/**
 * onnxruntime-node underneath: sessions and their options, where a model comes from (`resolveModel`), execution
 * providers and why one cannot load, CPU cores and GPU presence, runtime folders, tensors as plain data with their
 * JSON and `.npy` forms, benchmarks and synthetic inputs, and `gpux.yml`. The root module has `loadModel`; this is
 * the rest, with the provider and runtime errors.
 *
 * @example
 * ```ts
 * import { autoProviderOrder, tensorToJson } from "jsr:@gpux/gpux/runtime";
 * console.log(autoProviderOrder()); // prints: [ "cuda", "webgpu", "cpu" ] (Linux x64)
 * console.log(tensorToJson({ dtype: "float32", shape: [2], data: Float32Array.of(1, 2) }));
 * // prints: { dtype: "float32", shape: [ 2 ], data: [ 1, 2 ] }
 * ```
 *
 * @module
 */
/**
 * Running ONNX models: `loadModel` resolves an `.onnx` path, a directory with `gpux.yml`, a cached Hub
 * id or model bytes, and creates a {@linkcode GpuxSession} on the best execution provider (falling
 * back out loud: `session.fallbacks` says which providers failed and why). Sessions hold no global
 * state and never print; `run` takes and returns plain {@linkcode TensorData}, so a session can live
 * in a Worker. Always `await session.dispose()`.
 *
 * @example
 * ```ts
 * import { loadModel } from "jsr:@gpux/gpux";
 * const session = await loadModel("onnx-community/bert-tiny", { provider: "auto", variant: "fp32" });
 * for (const f of session.fallbacks) console.warn(`${f.provider}: ${f.reason}`);
 * const outputs = await session.run({
 *   input_ids: { dtype: "int64", shape: [1, 3], data: BigInt64Array.of(101n, 7592n, 102n) },
 *   attention_mask: { dtype: "int64", shape: [1, 3], data: BigInt64Array.of(1n, 1n, 1n) },
 * });
 * console.log(session.provider, outputs.logits.shape);
 * const bench = await session.benchmark({ runs: 50 });
 * console.log(bench.stats.p50, bench.throughput.inferencesPerSec);
 * await session.dispose();
 * ```
 */
export { type LoadModelOptions } from "./load_model.ts";
export {
  createSession,
  defaultIntraOpThreads,
  GpuxSession,
  type GraphOptimizationLevel,
  type OrtLogLevel,
  type RunOptions,
  type SessionInfo,
  type SessionOptions,
  setOrtLogLevel,
} from "./session.ts";
/**
 * Where a model comes from: `<model>` as the CLI takes it, resolved to one `.onnx` file (never
 * touching the network; pass `pull` to fetch a missing Hub id).
 *
 * @example
 * ```ts
 * import { resolveModel } from "jsr:@gpux/gpux/runtime";
 * const model = await resolveModel("Xenova/bert-base-uncased", { variant: "quantized" });
 * console.log(model.path, model.sha, model.variant);
 * ```
 */
export { type PullFunction, type ResolvedModel, resolveModel, type ResolveOptions } from "./model_source.ts";
/**
 * Execution providers: the order `auto` tries per platform, a quick library check that explains
 * why a provider cannot load (e.g. `CUDA libraries not found: libcublasLt.so.13`), and the doctor's probes.
 *
 * @example
 * ```ts
 * import { autoProviderOrder, checkProvider, probeProviders } from "jsr:@gpux/gpux/runtime";
 * autoProviderOrder(); // ["cuda", "webgpu", "cpu"] on Linux x64
 * console.log(checkProvider("cuda")?.reason ?? "cuda may load");
 * for (const p of await probeProviders()) console.log(p.provider, p.available, p.reason ?? "");
 * ```
 */
export {
  activeOrtDir,
  autoProviderOrder,
  checkProvider,
  currentPlatform,
  executionProviderConfig,
  explainProviderFailure,
  isProviderChoice,
  type Platform,
  PROVIDER_NAMES,
  providerCandidates,
  type ProviderCheckOptions,
  type ProviderChoice,
  type ProviderFailure,
  providerInstalled,
  type ProviderName,
  type ProviderOptions,
} from "./providers.ts";
/**
 * CPU cores and GPU presence: the cores this process may really use (affinity and cgroup quota; gpux's default
 * intra-op thread count), an even share per worker, and whether a GPU driver or device is present at all.
 *
 * @example
 * ```ts
 * import { availableCores, detectGpu, threadsPerWorker } from "jsr:@gpux/gpux/runtime";
 * const { cores } = availableCores();
 * const intraOpThreads = threadsPerWorker(4, cores); // for each of 4 worker sessions
 * if (!detectGpu().present) console.log("no GPU: cpu is the only choice");
 * ```
 */
export { availableCores, type CoreCount, type CoreCountOptions, countCpuList, threadsPerWorker } from "./cpu_cores.ts";
export {
  CUDA_MAJORS,
  cudaRuntimesPresent,
  detectGpu,
  type GpuDetectOptions,
  type GpuPresence,
} from "./gpu_presence.ts";
/**
 * Runtime folders and provider installation: `$GPUX_HOME/runtime/onnxruntime-<version>-<os>-<arch>[-cuda<N>]/`
 * holds a copy of `libonnxruntime` and provider libraries; it is loaded before onnxruntime-node binds, so providers
 * load from there. `installProvider("cuda")` is `gpux runtime install cuda`.
 *
 * @example
 * ```ts
 * import { listRuntimeFolders } from "jsr:@gpux/gpux/runtime";
 * import { installProvider } from "jsr:@gpux/gpux/runtime_install";
 * await installProvider("cuda", { cuda: 13, onProgress: (e) => e.type === "progress" && console.log(e.bytesDone) });
 * for (const f of listRuntimeFolders()) console.log(f.path, f.manifest?.source.name, f.problem ?? "ok");
 * ```
 */
export {
  chooseRuntimeFolder,
  type ChooseRuntimeOptions,
  listRuntimeFolders,
  loadedOrtLibrary,
  ORT_VERSION,
  ortLibraryName,
  parseRuntimeFolderName,
  populateRuntimeFolder,
  type PreloadedRuntime,
  preloadedRuntime,
  preloadOnnxruntime,
  readRuntimeManifest,
  RUNTIME_MANIFEST,
  type RuntimeFileRecord,
  type RuntimeFolder,
  runtimeFolderName,
  runtimeFolderPath,
  type RuntimeFolderSpec,
  type RuntimeManifest,
  runtimeRoot,
} from "./runtime_folder.ts";
export {
  type LibraryProbe,
  probeGpuLibraries,
  type ProbeOptions,
  probeProviders,
  type ProviderProbe,
  type RuntimeInstall,
  runtimeInstall,
} from "./diagnostics.ts";
/**
 * Tensors as plain data and their JSON and `.npy` forms: conversion to the model's declared dtype
 * (int64 from numbers or decimal strings, float16 from floats), validation against input metadata
 * with messages naming the input, expected and received shape/type.
 *
 * @example
 * ```ts
 * import { loadModel } from "jsr:@gpux/gpux";
 * import { feedsFromJson, readNpy, tensorsToJson, writeNpy } from "jsr:@gpux/gpux/runtime";
 * const session = await loadModel("model.onnx");
 * const feeds = feedsFromJson({ "x.1": [[1, 2, 3, 4]] }, session.inputs);
 * const outputs = await session.run(feeds);
 * console.log(JSON.stringify(tensorsToJson(outputs)));
 * await Deno.writeFile("y.npy", writeNpy(outputs.y));
 * const back = readNpy(await Deno.readFile("y.npy"));
 * ```
 */
export {
  type Dim,
  elementCount,
  feedsFromJson,
  formatShape,
  fromFloat16Bits,
  TENSOR_DTYPES,
  type TensorData,
  type TensorDtype,
  tensorFromJson,
  type TensorFromJsonOptions,
  type TensorInfo,
  type TensorJson,
  type TensorMap,
  tensorsToJson,
  tensorToJson,
  type TensorValues,
  toFloat16Bits,
  validateFeeds,
  validateTensor,
} from "./tensors.ts";
export { readNpy, writeNpy } from "./npy.ts";
/**
 * Benchmarks: inputs synthesised from metadata (dynamic dims get the batch size or
 * {@linkcode DEFAULT_DYNAMIC_DIM}), timing statistics, and the header facts of an `.onnx` file.
 *
 * @example
 * ```ts
 * import { loadModel } from "jsr:@gpux/gpux";
 * import { readOnnxFileInfo, synthesizeInputs, timingStats } from "jsr:@gpux/gpux/runtime";
 * const session = await loadModel("model.onnx");
 * const feeds = synthesizeInputs(session.inputs, { batch: 8, shapes: { pixel_values: [8, 3, 224, 224] } });
 * const result = await session.benchmark({ feeds, runs: 100, warmup: 10 });
 * timingStats([1.2, 1.1, 1.4]).p50; // 1.2
 * const info = await readOnnxFileInfo("model.onnx"); // opsets, producer, metadata, external data
 * ```
 */
export { type BenchmarkOptions, type BenchmarkResult, percentile, type TimingStats, timingStats } from "./benchmark.ts";
export {
  concreteShape,
  DEFAULT_DYNAMIC_DIM,
  parseShapeArg,
  synthesizeInputs,
  type SynthesizeOptions,
} from "./synthetic_inputs.ts";
export { type OnnxFileInfo, readOnnxFileInfo } from "./model_file.ts";
/**
 * `gpux.yml`: parse and validate (errors name the key and line; unknown keys are errors), read from
 * a file, and write one from a model's inputs and outputs.
 *
 * @example
 * ```ts
 * import { loadModel } from "jsr:@gpux/gpux";
 * import { parseGpuxConfig, renderGpuxConfig } from "jsr:@gpux/gpux/runtime";
 * const session = await loadModel("model.onnx");
 * const config = parseGpuxConfig(await Deno.readTextFile("gpux.yml"), "gpux.yml");
 * console.log(config.model.source, config.runtime.gpu.backend);
 * const text = renderGpuxConfig({ name: "demo", source: "./model.onnx", inputs: session.inputs, outputs: session.outputs });
 * ```
 */
export {
  CONFIG_FILE_NAMES,
  configMismatches,
  type GpuxConfig,
  parseGpuxConfig,
  readGpuxConfig,
  type TensorSpec,
} from "../config/gpux_config.ts";
export { type ConfigDraft, renderGpuxConfig } from "../config/config_writer.ts";
/** The errors this room raises (each a `GpuxError`; see the root module). */
export { ProviderError, RuntimeError } from "../errors.ts";
