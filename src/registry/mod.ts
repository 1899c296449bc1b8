/**
 * Where models come from: the Hugging Face Hub client's parts (model info, revisions, search, identity), access
 * tokens, what a repository holds (formats, ONNX variants, the files of a variant), `--include`/`--exclude` globs, and
 * the transfer engine on its own (verified, resumable, ranged downloads). The root module has the two names most
 * programs need, `HuggingFaceManager` and `pullModel`; this is the rest, with the errors the Hub and the network
 * raise.
 *
 * @example
 * ```ts
 * import { onnxVariants, parseModelId } from "jsr:@gpux/gpux/registry";
 * console.log(parseModelId("Xenova/bert-base-uncased@main"));
 * // prints: { id: "Xenova/bert-base-uncased", revision: "main" }
 * const files = [{ path: "onnx/model.onnx" }, { path: "onnx/model_q4.onnx" }];
 * console.log(onnxVariants(files).defaultVariant); // prints: fp32
 * ```
 *
 * @module
 */
export type {
  ConversionHint,
  HubFileRequest,
  Modality,
  ModelFile,
  ModelFormat,
  ModelMetadata,
  ModelSummary,
  OnnxInfo,
  OnnxVariant,
  PullSource,
  RegistryConfig,
  RevisionListing,
  RevisionOptions,
  SearchOptions,
} from "./manager.ts";
export { isCommitSha, type ModelRef, parseModelId } from "../vocabulary/model_id.ts";
export { envFrom, type EnvReader } from "../environment.ts";
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
  type ResolvedRevision,
  SEARCH_SORTS,
  type WhoAmIResult,
} from "./huggingface.ts";
/**
 * Access tokens: resolution in the order `--token` > `HF_TOKEN` > `HF_TOKEN_PATH` > `$HF_HOME/token` >
 * `~/.cache/huggingface/token`, saving and removing the token file, and redaction.
 *
 * @example
 * ```ts
 * import { redactToken, resolveToken, saveToken } from "jsr:@gpux/gpux/registry";
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
} from "./auth.ts";
/**
 * What a repository holds, from its file list: formats, ONNX variants (and the default one), the
 * files of a variant, modality and the Optimum export command.
 *
 * @example
 * ```ts
 * import { detectFormats, filesWithVariant, onnxVariants, selectVariantFiles } from "jsr:@gpux/gpux/registry";
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
} from "../vocabulary/formats.ts";
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
export { DEFAULT_CONCURRENCY, selectPullFiles } from "./pull.ts";
/**
 * `--include` / `--exclude` globs as `hf download` reads them (Python's fnmatch: `*` also matches `/`).
 *
 * @example
 * ```ts
 * import { filterPaths } from "jsr:@gpux/gpux/registry";
 * filterPaths([{ path: "onnx/config.json" }, { path: "onnx/model.onnx" }], ["*.json"]); // [{ path: "onnx/config.json" }]
 * ```
 */
export { filterPaths, globMatcher, globToRegExp } from "./file_filter.ts";
/**
 * The transfer engine on its own: one file downloaded to a path, verified against its sha256 (or git
 * blob sha1), resumable from a partial file, fetched as parallel byte ranges when it is large and the
 * server supports `Range`, with retries on dropped connections, stalls, 5xx and 429.
 *
 * @example
 * ```ts
 * import { downloadBlob } from "jsr:@gpux/gpux/registry";
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
} from "../download/blob_download.ts";
export type { ContentHashKind, ExpectedContent } from "../download/content_hash.ts";
/**
 * The connection budget {@linkcode downloadBlob} transfers share (pass one `Semaphore` to several
 * downloads to cap their connections together).
 *
 * @example
 * ```ts
 * import { Semaphore } from "jsr:@gpux/gpux/registry";
 * const connections = new Semaphore(8);
 * await connections.with(async () => {
 *   // one request at a time per slot
 * });
 * ```
 */
export { Semaphore } from "../download/semaphore.ts";
/** A retry the HTTP layer is about to make (passed to `onRetry`). */
export type { HttpOptions, RequestContext, RetryInfo } from "../download/http.ts";
/** The errors this room raises (each a `GpuxError`; see the root module). */
export {
  AuthenticationError,
  EntryNotFoundError,
  GatedModelError,
  NetPermissionError,
  NetworkError,
  OfflineError,
  RateLimitError,
  RevisionNotFoundError,
} from "../errors.ts";
