/**
 * gpux: pull ONNX models from the Hugging Face Hub into the cache Python's huggingface_hub uses,
 * manage that cache, and run models on the best execution provider the machine has.
 *
 * @example
 * ```ts
 * import { HuggingFaceManager } from "jsr:@gpux/gpux";
 * const hub = new HuggingFaceManager();
 * const info = await hub.getModelInfo("onnx-community/bert-base");
 * console.log(info.formats, info.onnx.defaultVariant);
 * ```
 *
 * @module
 */
export * from "./src/errors.ts";
export type {
  ConversionHint,
  HubFileRequest,
  Modality,
  ModelFile,
  ModelFormat,
  ModelManager,
  ModelMetadata,
  ModelSummary,
  OnnxInfo,
  OnnxVariant,
  PullOptions,
  PullProgressEvent,
  PullResult,
  PullSource,
  RegistryConfig,
  RevisionListing,
  RevisionOptions,
  SearchOptions,
} from "./src/registry/manager.ts";
export { isCommitSha, type ModelRef, parseModelId } from "./src/vocabulary/model_id.ts";
export { envFrom, type EnvReader } from "./src/environment.ts";

/**
 * The Hugging Face Hub registry: metadata, files, search and identity, with gpux's retries and
 * typed errors on every request.
 *
 * @example
 * ```ts
 * import { HuggingFaceManager } from "jsr:@gpux/gpux";
 * const hub = new HuggingFaceManager(); // HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE are honoured
 * const info = await hub.getModelInfo("Xenova/bert-base-uncased@main");
 * console.log(info.sha, info.formats, info.onnx.defaultVariant, info.conversion?.command);
 * const hits = await hub.searchModels("whisper", { library: "onnx", sort: "likes", limit: 5 });
 * const { sha, files } = await hub.resolveRevision("Xenova/bert-base-uncased", "refs/pr/1");
 * ```
 */
export {
  cardDescription,
  DEFAULT_SEARCH_LIMIT,
  type HubCallOptions,
  type HubModelRecord,
  HuggingFaceManager,
  type ResolvedRevision,
  SEARCH_SORTS,
  type WhoAmIResult,
} from "./src/registry/huggingface.ts";

/**
 * Access tokens: resolution in the order `--token` > `HF_TOKEN` > `HF_TOKEN_PATH` > `$HF_HOME/token` >
 * `~/.cache/huggingface/token`, saving and removing the token file, and redaction.
 *
 * @example
 * ```ts
 * import { redactToken, resolveToken, saveToken } from "jsr:@gpux/gpux";
 * const found = await resolveToken();
 * console.log(found ? `token from ${found.source}` : "anonymous");
 * await saveToken("hf_…"); // writes $HF_HOME/token with mode 0600, like `hf auth login`
 * console.log(redactToken("Authorization: Bearer hf_abcdef123456")); // "Authorization: Bearer ***"
 * ```
 */
export {
  deleteToken,
  redactToken,
  type ResolvedToken,
  resolveToken,
  saveToken,
  tokenFilePath,
  type TokenOptions,
  type TokenSource,
} from "./src/registry/auth.ts";

/**
 * What a repository holds, from its file list: formats, ONNX variants (and the default one), the
 * files of a variant, modality and the Optimum export command.
 *
 * @example
 * ```ts
 * import { detectFormats, filesWithVariant, onnxVariants, selectVariantFiles } from "jsr:@gpux/gpux";
 * const files = [
 *   { path: "onnx/model.onnx", size: 1_000 },
 *   { path: "onnx/model.onnx_data", size: 90_000 },
 *   { path: "onnx/model_q4.onnx", size: 20_000 },
 *   { path: "tokenizer.json", size: 700 },
 * ];
 * detectFormats(files); // ["onnx"]
 * onnxVariants(files).defaultVariant; // "fp32"
 * selectVariantFiles(files, "fp32").map((f) => f.path); // ["onnx/model.onnx", "onnx/model.onnx_data"]
 * filesWithVariant(files, "q4").map((f) => f.path); // ["onnx/model_q4.onnx", "tokenizer.json"]
 * ```
 */
export {
  conversionHint,
  detectFormats,
  externalDataFiles,
  type FileEntry,
  filesWithVariant,
  isOnnxFile,
  modalityFromPipelineTag,
  MODEL_FORMATS,
  type OnnxFileRole,
  onnxFileRole,
  onnxVariants,
  optimumTaskFromPipelineTag,
  selectVariantFiles,
} from "./src/vocabulary/formats.ts";

/**
 * Pulling a model into the Hugging Face cache (the one Python's huggingface_hub and `@huggingface/hub`
 * use): the revision is resolved to a commit, only the chosen ONNX variant and the small files a run
 * needs are fetched (or what `include`/`exclude` select, with `hf download`'s glob rules), and only
 * what the cache lacks is downloaded — verified, resumable and in parallel. `HuggingFaceManager.pullModel`
 * is the same function; `pullModel(source, id, options)` takes any {@linkcode PullSource} (the Hub client,
 * whose configuration gives the cache folder, endpoint, token and timeouts).
 *
 * @example
 * ```ts
 * import { HuggingFaceManager, pullModel, type PullProgressEvent } from "jsr:@gpux/gpux";
 * const manager = new HuggingFaceManager();
 * const result = await pullModel(manager, "Xenova/bert-base-uncased", {
 *   variant: "q4",
 *   onProgress: (event: PullProgressEvent) => {
 *     if (event.type === "progress") console.log(event.path, event.bytesDone, "/", event.bytesTotal, event.eta);
 *   },
 * });
 * console.log(result.snapshotPath, result.bytesDownloaded, result.bytesCached);
 * ```
 */
export { DEFAULT_CONCURRENCY, pullModel, selectPullFiles } from "./src/registry/pull.ts";

/**
 * `--include` / `--exclude` globs as `hf download` reads them (Python's fnmatch: `*` also matches `/`).
 *
 * @example
 * ```ts
 * import { filterPaths } from "jsr:@gpux/gpux";
 * filterPaths([{ path: "onnx/config.json" }, { path: "onnx/model.onnx" }], ["*.json"]); // [{ path: "onnx/config.json" }]
 * ```
 */
export { filterPaths, globMatcher, globToRegExp } from "./src/registry/file_filter.ts";

/**
 * The transfer engine on its own: one file downloaded to a path, verified against its sha256 (or git
 * blob sha1), resumable from a partial file, fetched as parallel byte ranges when it is large and the
 * server supports `Range`, with retries on dropped connections, stalls, 5xx and 429.
 *
 * @example
 * ```ts
 * import { downloadBlob } from "jsr:@gpux/gpux";
 * await downloadBlob({
 *   url: "https://huggingface.co/Xenova/bert-base-uncased/resolve/main/onnx/model.onnx",
 *   destination: "/tmp/model.onnx",
 *   expected: { size: 438_000_000, hash: "<sha256 of the file>", kind: "sha256" },
 *   onBytes: (n) => console.log(`+${n} bytes`),
 * });
 * ```
 */
export {
  type BlobDownloadOptions,
  type BlobDownloadResult,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_RANGE_THRESHOLD,
  downloadBlob,
} from "./src/download/blob_download.ts";
export type { ContentHashKind, ExpectedContent } from "./src/download/content_hash.ts";
/**
 * The connection budget {@linkcode downloadBlob} transfers share (pass one `Semaphore` to several
 * downloads to cap their connections together).
 *
 * @example
 * ```ts
 * import { Semaphore } from "jsr:@gpux/gpux";
 * const connections = new Semaphore(8);
 * await connections.with(async () => {
 *   // one request at a time per slot
 * });
 * ```
 */
export { Semaphore } from "./src/download/semaphore.ts";
/** A retry the HTTP layer is about to make (passed to `onRetry`). */
export type { HttpOptions, RequestContext, RetryInfo } from "./src/download/http.ts";

/**
 * The Hub cache shared with Python's huggingface_hub: list, remove, prune, verify.
 *
 * @example
 * ```ts
 * import { planRemoval, pruneCache, scanCache, verifyCache } from "jsr:@gpux/gpux";
 * const scan = await scanCache(); // --cache-dir > HF_HUB_CACHE > $HF_HOME/hub > ~/.cache/huggingface/hub
 * for (const m of scan.models) console.log(m.id, m.sizeOnDisk, m.revisions.map((r) => r.refs));
 * const plan = await planRemoval("acme/tiny-bert@v1.0"); // then executeRemoval(plan)
 * const freed = (await pruneCache({ dryRun: true })).freedBytes;
 * const { ok, issues } = await verifyCache({ models: ["acme/tiny-bert"] });
 * ```
 */
export {
  type CachedBlob,
  type CachedFile,
  type CachedModel,
  type CachedRevision,
  type CacheScan,
  type DanglingRef,
  type ForeignBlob,
  type IncompleteFile,
  scanCache,
  scanCachedModel,
  type ScanCacheOptions,
  type SkippedEntry,
  type SnapshotEntryKind,
} from "./src/cache/scan.ts";
export {
  executeRemoval,
  type ExecuteRemovalOptions,
  type PlannedBlob,
  type PlannedRevision,
  planRemoval,
  type RemovalOptions,
  type RemovalPlan,
  type RemovalResult,
  removeFromCache,
} from "./src/cache/remove.ts";
export {
  DEFAULT_PRUNE_AGE_MS,
  type KeptRevision,
  pruneCache,
  type PruneItem,
  type PruneItemKind,
  type PruneOptions,
  type PruneResult,
} from "./src/cache/prune.ts";
export {
  type ModelVerification,
  type UnverifiedFile,
  verifyCache,
  type VerifyIssue,
  type VerifyIssueKind,
  type VerifyOptions,
  type VerifyProgressEvent,
  type VerifyResult,
} from "./src/cache/verify.ts";
export { gitBlobSha1File, type HashFileOptions, sha256File } from "./src/cache/file_hash.ts";
/** Who holds a model's lock (`rm` waits for it, `cache prune` skips the model). */
export type { LockInfo } from "./src/cache/lock.ts";

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
export { loadModel, type LoadModelOptions } from "./src/runtime/load_model.ts";
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
} from "./src/runtime/session.ts";

/**
 * Where a model comes from: `<model>` as the CLI takes it, resolved to one `.onnx` file (never
 * touching the network; pass `pull` to fetch a missing Hub id).
 *
 * @example
 * ```ts
 * import { resolveModel } from "jsr:@gpux/gpux";
 * const model = await resolveModel("Xenova/bert-base-uncased", { variant: "quantized" });
 * console.log(model.path, model.sha, model.variant);
 * ```
 */
export {
  type PullFunction,
  type ResolvedModel,
  resolveModel,
  type ResolveOptions,
} from "./src/runtime/model_source.ts";

/**
 * Execution providers: the order `auto` tries per platform, a quick library check that explains
 * why a provider cannot load (e.g. `CUDA libraries not found: libcublasLt.so.13`), and the doctor's probes.
 *
 * @example
 * ```ts
 * import { autoProviderOrder, checkProvider, probeProviders } from "jsr:@gpux/gpux";
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
} from "./src/runtime/providers.ts";
/**
 * CPU cores and GPU presence: the cores this process may really use (affinity and cgroup quota; gpux's default
 * intra-op thread count), an even share per worker, and whether a GPU driver or device is present at all.
 *
 * @example
 * ```ts
 * import { availableCores, detectGpu, threadsPerWorker } from "jsr:@gpux/gpux";
 * const { cores } = availableCores();
 * const intraOpThreads = threadsPerWorker(4, cores); // for each of 4 worker sessions
 * if (!detectGpu().present) console.log("no GPU: cpu is the only choice");
 * ```
 */
export {
  availableCores,
  type CoreCount,
  type CoreCountOptions,
  countCpuList,
  threadsPerWorker,
} from "./src/runtime/cpu_cores.ts";
export {
  CUDA_MAJORS,
  cudaRuntimesPresent,
  detectGpu,
  type GpuDetectOptions,
  type GpuPresence,
} from "./src/runtime/gpu_presence.ts";

/**
 * Runtime folders and provider installation: `$GPUX_HOME/runtime/onnxruntime-<version>-<os>-<arch>[-cuda<N>]/`
 * holds a copy of `libonnxruntime` and provider libraries; it is loaded before onnxruntime-node binds, so providers
 * load from there. `installProvider("cuda")` is `gpux runtime install cuda`.
 *
 * @example
 * ```ts
 * import { installProvider, listRuntimeFolders } from "jsr:@gpux/gpux";
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
} from "./src/runtime/runtime_folder.ts";
export {
  defaultCudaVersion,
  type InstallableProvider,
  installProvider,
  type InstallProviderOptions,
  type InstallProviderResult,
  removeProvider,
  type RemoveProviderOptions,
} from "./src/runtime_install/install_provider.ts";
export {
  CUDA_PACKAGES,
  CUDA_PROVIDER_LIBRARIES,
  DEFAULT_NPM_REGISTRY,
  DEFAULT_NUGET_INDEX,
  npmRegistry,
  nugetIndex,
  packageHosts,
  parseIntegrity,
  type ProviderPackage,
} from "./src/runtime_install/provider_packages.ts";
export {
  type LibraryProbe,
  probeGpuLibraries,
  type ProbeOptions,
  probeProviders,
  type ProviderProbe,
  type RuntimeInstall,
  runtimeInstall,
} from "./src/runtime/diagnostics.ts";

/**
 * Tensors as plain data and their JSON and `.npy` forms: conversion to the model's declared dtype
 * (int64 from numbers or decimal strings, float16 from floats), validation against input metadata
 * with messages naming the input, expected and received shape/type.
 *
 * @example
 * ```ts
 * import { feedsFromJson, loadModel, readNpy, tensorsToJson, writeNpy } from "jsr:@gpux/gpux";
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
} from "./src/runtime/tensors.ts";
export { readNpy, writeNpy } from "./src/runtime/npy.ts";

/**
 * Benchmarks: inputs synthesised from metadata (dynamic dims get the batch size or
 * {@linkcode DEFAULT_DYNAMIC_DIM}), timing statistics, and the header facts of an `.onnx` file.
 *
 * @example
 * ```ts
 * import { loadModel, readOnnxFileInfo, synthesizeInputs, timingStats } from "jsr:@gpux/gpux";
 * const session = await loadModel("model.onnx");
 * const feeds = synthesizeInputs(session.inputs, { batch: 8, shapes: { pixel_values: [8, 3, 224, 224] } });
 * const result = await session.benchmark({ feeds, runs: 100, warmup: 10 });
 * timingStats([1.2, 1.1, 1.4]).p50; // 1.2
 * const info = await readOnnxFileInfo("model.onnx"); // opsets, producer, metadata, external data
 * ```
 */
export {
  type BenchmarkOptions,
  type BenchmarkResult,
  percentile,
  type TimingStats,
  timingStats,
} from "./src/runtime/benchmark.ts";
export {
  concreteShape,
  DEFAULT_DYNAMIC_DIM,
  parseShapeArg,
  synthesizeInputs,
  type SynthesizeOptions,
} from "./src/runtime/synthetic_inputs.ts";
export { type OnnxFileInfo, readOnnxFileInfo } from "./src/runtime/model_file.ts";

/**
 * `gpux.yml`: parse and validate (errors name the key and line; unknown keys are errors), read from
 * a file, and write one from a model's inputs and outputs.
 *
 * @example
 * ```ts
 * import { loadModel, parseGpuxConfig, renderGpuxConfig } from "jsr:@gpux/gpux";
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
} from "./src/config/gpux_config.ts";
export { type ConfigDraft, renderGpuxConfig } from "./src/config/config_writer.ts";

/**
 * Language models that generate: `loadPipeline` returns a text-generation pipeline for a decoder-only ONNX
 * model (config.json `architectures` ending in `ForCausalLM`/`LMHeadModel`, `pipeline_tag: text-generation`,
 * or `past_key_values.*` inputs) — optimum, transformers.js/onnx-community and onnxruntime-genai exports alike.
 * `generate` streams text deltas (never half a character) and its `result` holds the ids, finish reason, usage
 * and timings; `run` returns the whole result, for one prompt or a batch; `chat` keeps a conversation and its
 * KV cache between turns. Greedy by default; `temperature`, `topK`, `topP`, `minP`, `repetitionPenalty` and a
 * `seed` sample reproducibly. Chat templates are rendered with `@huggingface/jinja`.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * await using llm = await loadPipeline("onnx-community/Qwen3-0.6B-ONNX", { task: "text-generation" });
 * const stream = llm.generate([{ role: "user", content: "Name three rivers." }], {
 *   maxNewTokens: 64,
 *   templateVariables: { enable_thinking: false },
 * });
 * for await (const text of stream) console.log(text);
 * const { finishReason, usage, timings } = await stream.result;
 * console.log(finishReason, usage.generatedTokens, timings.generatedTokensPerSecond);
 *
 * const batch = await llm.run(["Once upon a time", "The capital of France is"], { maxNewTokens: 16, seed: 7 });
 * for (const answer of batch.sequences) console.log(answer.text, answer.finishReason);
 *
 * const chat = llm.chat({ system: "You are terse." });
 * console.log((await chat.send("Hello!").result).text);
 * console.log((await chat.send("And again?").result).usage.cachedTokens); // the first turn's tokens, reused
 * ```
 */
export {
  type ChatMessage,
  type ChatSession,
  DEFAULT_MAX_NEW_TOKENS,
  type FinishReason,
  type GenerateOptions,
  type GenerationDelta,
  type GenerationResult,
  type GenerationStream,
  type GenerationTimings,
  type GenerationUsage,
  type PreparedSequence,
  type Prompt,
  type PromptIds,
  type ResponseFormat,
  type SequenceResult,
  type TextGenerationPipeline,
  type TokenLogprob,
  type TokenLogprobs,
} from "./src/generation/text_generation.ts";
export {
  type AnyPipeline,
  isSeq2Seq,
  isTextGeneration,
  isWhisper,
  loadPipeline,
  loadTextGeneration,
  type PipelineFor,
  type TextGenerationOptions,
} from "./src/generation/load_pipeline.ts";
export { type ChatTemplate, type ChatTemplateOptions } from "./src/generation/chat_template.ts";
export {
  loadWhisper,
  type WhisperOptions,
  type WhisperPipeline,
  type WhisperResult,
  type WhisperRunOptions,
  type WhisperWindow,
} from "./src/generation/whisper_transcription.ts";
export type { WhisperSegment } from "./src/generation/whisper_segments.ts";
export type { DetectedLanguage } from "./src/generation/whisper_logits.ts";
export {
  formatTimestamp,
  TRANSCRIPT_FORMATS,
  type TranscriptFormat,
  type TranscriptSegment,
  writeTranscript,
} from "./src/generation/whisper_writers.ts";
export type { CacheLayer, DecoderContract } from "./src/generation/decoder_contract.ts";
export type { SequenceConstraint, SequenceOutcome, StepDelta } from "./src/generation/decode_loop.ts";
export type { TokenMask } from "./src/generation/logits_sampler.ts";
export {
  type BatchingCheck,
  batchingCheck,
  type BatchOutcome,
  type BatchSequence,
  ContinuousBatch,
  type ContinuousBatchOptions,
} from "./src/generation/continuous_batch.ts";
export type { GenerationOverrides, GenerationSettings, SamplingSettings } from "./src/generation/generation_config.ts";

/**
 * Encoder-decoder generation: `loadPipeline` returns a {@linkcode Seq2SeqPipeline} for translation (Marian/OPUS-MT),
 * summarization and text2text-generation (T5, BART) and image-to-text (VisionEncoderDecoder) exports in optimum's
 * layout, with the text-generation pipeline's `generate()`/`run()` shape plus beam search (`numBeams`,
 * `lengthPenalty`, `earlyStopping`, `numReturnSequences`) and `decodeFeeds` for encoder inputs built elsewhere.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * await using mt = await loadPipeline("Xenova/opus-mt-en-de", { task: "translation" });
 * const { sequences } = await mt.run(["Hello", "How are you?"], { numBeams: 4 });
 * for (const s of sequences) console.log(s.text);
 * ```
 */
export {
  createSeq2Seq,
  type EarlyStopping,
  isSeq2SeqModel,
  isSeq2SeqTask,
  loadSeq2Seq,
  loadSeq2SeqParts,
  type LogitsProcessor,
  SEQ2SEQ_TASKS,
  type Seq2SeqDefaults,
  type Seq2SeqInput,
  type Seq2SeqOptions,
  type Seq2SeqParts,
  type Seq2SeqPipeline,
  type Seq2SeqResult,
  type Seq2SeqSequenceResult,
  type Seq2SeqStream,
  type Seq2SeqTask,
  type StepInfo,
} from "./src/generation/seq2seq_generation.ts";
export type { Seq2SeqSequence, Seq2SeqSessions } from "./src/generation/seq2seq_loop.ts";
export type { Seq2SeqCacheLayer, Seq2SeqDecoderContract } from "./src/generation/seq2seq_contract.ts";
export type { LogitsContext } from "./src/generation/logits_processors.ts";
export type { RgbImage } from "./src/processing/image_decode.ts";

/**
 * Raw inputs in, answers out: a model with its task pipeline. The task comes from `task`, else
 * gpux.yml `task:`, else the model card's `pipeline_tag`, else config.json `architectures`; text is
 * tokenized with the repository's tokenizer.json into exactly the inputs the model declares. A language model
 * gets the text-generation pipeline above (`isTextGeneration` tells them apart).
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * const classifier = await loadPipeline("acme/sentiment", { provider: "auto" });
 * const result = await classifier.run(["I love this", "I hate this"], { topK: 2 });
 * if (result.kind === "classification") {
 *   for (const labels of result.predictions) console.log(labels[0].label, labels[0].score.toFixed(2));
 * }
 * await classifier.dispose();
 *
 * await using embedder = await loadPipeline("acme/minilm", { task: "feature-extraction" });
 * const embedded = await embedder.run("a sentence to embed");
 * if (embedded.kind === "embedding") console.log(embedded.dimension, embedded.embeddings[0].slice(0, 4));
 * ```
 */
export {
  type Answer,
  type AudioInput,
  type Entity,
  type FillMaskCandidate,
  type ImageInput,
  type InputKind,
  type LabelScore,
  type MediaFile,
  ModelFiles,
  type Pipeline,
  type PipelineContext,
  type PipelineInput,
  type PipelineOptions,
  type PipelineRunOptions,
  type Preprocessed,
  supportedTasks,
  type TaskHandler,
  type TaskResult,
  type TextInput,
} from "./src/processing/pipeline.ts";
/** Vision answers: boxes (object-detection), segments (image-segmentation, background-removal), depth maps. */
export type { Box, DepthMap, DetectedObject, Segment } from "./src/processing/pipeline.ts";
export type { DetectedTask, TaskSource } from "./src/processing/task_detection.ts";
export type { PreprocessingConfig } from "./src/config/gpux_config.ts";

/**
 * A Hugging Face tokenizer (tokenizer.json: WordPiece, BPE incl. byte-level, Unigram) with Python
 * `tokenizers`' ids, offsets, truncation (`longest_first` for pairs, special tokens kept) and padding
 * (pad token and side from tokenizer_config.json). Offsets are UTF-16 indices into the original text.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "jsr:@gpux/gpux";
 * const tokenizer = await loadTokenizer("./models/bert"); // a folder with tokenizer.json, or a cached Hub id
 * const batch = tokenizer.encodeBatch(["Hello world!", "Bonjour"], { maxLength: 16 });
 * console.log(batch.inputIds, batch.attentionMask, batch.offsets[0]);
 * const pair = tokenizer.encode("A man plays guitar.", { pair: "Someone makes music." });
 * console.log(pair.tokenTypeIds, tokenizer.decode(pair.inputIds, { skipSpecialTokens: true }));
 * ```
 */
export {
  type BatchEncoding,
  type DecodeOptions,
  type EncodeOptions,
  type Encoding,
  loadTokenizer,
  type LoadTokenizerOptions,
  type OverflowOptions,
  TextTokenizer,
  type TokenizerSettings,
  type TruncationStrategy,
} from "./src/processing/tokenizer.ts";
