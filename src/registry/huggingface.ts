/**
 * The Hugging Face Hub as a {@linkcode ModelManager}: a thin façade over the Hub client (hub_client.ts: endpoint,
 * token, gpux's fetch with timeouts, bounded retries and typed errors), which it holds and exposes as before,
 * and one verb per file, as huggingface.js
 * lays out its hub library: resolve_revision.ts, list_files.ts, model_record.ts, model_info.ts, file_download.ts,
 * search.ts, whoami.ts, and the pull (pull.ts). Each method here is one verb called with this client.
 *
 * @module
 */
import type { HttpOptions, RequestContext, RetryInfo } from "../download/http.ts";
import type { ResolvedToken } from "./auth.ts";
import { type HubCallOptions, HubClient } from "./hub_client.ts";
import type {
  HubFileRequest,
  ModelFile,
  ModelManager,
  ModelMetadata,
  ModelSummary,
  PullOptions,
  PullResult,
  PullSource,
  RegistryConfig,
  RevisionOptions,
  SearchOptions,
} from "./manager.ts";
import { fileDownload } from "./file_download.ts";
import { getModelInfo } from "./model_info.ts";
import { type ResolvedRevision, resolveRevision, revisionCommit } from "./resolve_revision.ts";
import { searchModels } from "./search.ts";
import { whoami, type WhoAmIResult } from "./whoami.ts";
import { pullModel as pullIntoCache } from "./pull.ts";

export type { HubCallOptions };
export type { HubModelRecord } from "./manager.ts";
export { cardDescription } from "./model_info.ts";
export type { ResolvedRevision } from "./resolve_revision.ts";
export { DEFAULT_SEARCH_LIMIT, SEARCH_SORTS } from "./search.ts";
export type { WhoAmIResult } from "./whoami.ts";

/**
 * A {@linkcode ModelManager} for the Hugging Face Hub (or any server speaking its API, such as a
 * mirror set with `HF_ENDPOINT`).
 *
 * @example
 * ```ts
 * import { HuggingFaceManager } from "jsr:@gpux/gpux";
 * const hub = new HuggingFaceManager({ timeoutMs: 10_000 });
 * const info = await hub.getModelInfo("onnx-community/bert-base@main");
 * console.log(info.sha, info.formats, info.onnx.defaultVariant);
 * for (const hit of await hub.searchModels("bert", { library: "onnx", limit: 5 })) console.log(hit.id);
 * ```
 */
export class HuggingFaceManager implements ModelManager, PullSource {
  /** Registry name. */
  readonly name: string;
  /** The client every verb is called with. */
  readonly #client: HubClient;

  /**
   * A manager for the Hub at `config.endpoint` (else `HF_ENDPOINT`, else https://huggingface.co).
   *
   * @param config endpoint, token, timeouts, retries, offline mode, `fetch` and environment; every field optional.
   * @throws {InputError} when the endpoint is not a URL.
   */
  constructor(config: RegistryConfig = {}) {
    this.#client = new HubClient(config);
    this.name = config.name ?? "huggingface";
  }

  /** The Hub base URL (config `endpoint`, else `HF_ENDPOINT`, else https://huggingface.co), no trailing slash. */
  get endpoint(): string {
    return this.#client.endpoint;
  }

  /** True when no network access is allowed (config `offline`, else `HF_HUB_OFFLINE`). */
  get offline(): boolean {
    return this.#client.offline;
  }

  /** The configuration this manager was built with. */
  get config(): Readonly<RegistryConfig> {
    return this.#client.config;
  }

  /** The Hub cache directory: config `cacheDir`, else `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
  get cacheDir(): string {
    return this.#client.cacheDir;
  }

  /**
   * The token requests are sent with (resolved once: config `token` > `HF_TOKEN` > token files),
   * or `undefined` for anonymous access. Never print it.
   */
  resolvedToken(): Promise<ResolvedToken | undefined> {
    return this.#client.resolvedToken();
  }

  /**
   * Timeout of one API request until its headers arrive, ms: config `timeoutMs`, else `HF_HUB_ETAG_TIMEOUT`
   * (seconds, as in Python's huggingface_hub), else 30 s.
   */
  get timeoutMs(): number {
    return this.#client.timeoutMs;
  }

  /**
   * How long a download may go without receiving a byte before it is retried, ms: config `timeoutMs`, else
   * `HF_HUB_DOWNLOAD_TIMEOUT` (seconds, as in Python's huggingface_hub), else 30 s.
   */
  get downloadTimeoutMs(): number {
    return this.#client.downloadTimeoutMs;
  }

  /** Options for `fetchWithRetry`: this manager's fetch, timeout, retries and backoff. */
  httpOptions(signal?: AbortSignal, onRetry?: (info: RetryInfo) => void): HttpOptions {
    return this.#client.httpOptions(signal, onRetry);
  }

  /**
   * A `fetch` for `@huggingface/hub` calls: retries and timeouts from {@linkcode httpOptions}, any
   * non-2xx answer thrown as a typed gpux error (by status and `X-Error-Code`, naming `context`),
   * and `/api/` answers checked to be JSON (a proxy's HTML page becomes a one-line NetworkError).
   */
  hubFetch(context: RequestContext = {}, signal?: AbortSignal, onRetry?: (info: RetryInfo) => void): typeof fetch {
    return this.#client.hubFetch(context, signal, onRetry);
  }

  /** `hubUrl`, `accessToken` and the gpux `fetch`, ready to spread into any `@huggingface/hub` call. */
  hubFetchOptions(context: RequestContext = {}, signal?: AbortSignal): Promise<HubCallOptions> {
    return this.#client.hubFetchOptions(context, signal);
  }

  /** Throws {@linkcode OfflineError} when offline mode is on; `what` names what needed the network. */
  assertOnline(what: string): void {
    this.#client.assertOnline(what);
  }

  /**
   * Resolves a revision (branch, tag, 40-hex sha, `refs/pr/N`) to its commit and lists every file at
   * that commit (paged tree, recursive), in two requests plus paging. The pull helper builds on this.
   *
   * @throws {RevisionNotFoundError} for an unknown revision; {@linkcode ModelNotFoundError},
   * {@linkcode AuthenticationError}, {@linkcode GatedModelError}, {@linkcode NetworkError} as usual.
   */
  resolveRevision(modelId: string, revision?: string, options: { signal?: AbortSignal } = {}): Promise<
    ResolvedRevision
  > {
    return resolveRevision(this.#client, modelId, revision, options);
  }

  /**
   * The commit `revision` points at now, in one request (`GET /api/models/{id}/revision/{revision}`):
   * how a pull checks that a branch or tag still names a commit it already has.
   *
   * @throws {NetworkError} when the answer holds no commit sha; the typed errors of {@linkcode hubFetch}.
   */
  revisionCommit(modelId: string, revision: string, signal?: AbortSignal): Promise<string> {
    return revisionCommit(this.#client, modelId, revision, signal);
  }

  /**
   * How to download `path` of `modelId` at `commit`: its resolve URL, the headers (token included when
   * there is one), and this client's fetch, download timeouts and retry budget, named as `downloadBlob`'s
   * options are. Makes no request.
   */
  fileDownload(modelId: string, commit: string, path: string): Promise<HubFileRequest> {
    return fileDownload(this.#client, modelId, commit, path);
  }

  /** Metadata, formats, ONNX variants, files and conversion hint of a model at a revision. */
  getModelInfo(modelId: string, options: RevisionOptions = {}): Promise<ModelMetadata> {
    return getModelInfo(this.#client, modelId, options);
  }

  /** The full recursive file list of a model at a revision, with sizes and hashes. */
  async listModelFiles(modelId: string, options: RevisionOptions = {}): Promise<ModelFile[]> {
    return (await resolveRevision(this.#client, modelId, options.revision, options)).files;
  }

  /**
   * Searches models through the Hub's list API, following `Link` paging up to `limit`.
   *
   * @throws {InputError} for a bad `sort` or `limit`.
   */
  searchModels(query: string, options: SearchOptions = {}): Promise<ModelSummary[]> {
    return searchModels(this.#client, query, options);
  }

  /**
   * Who the token belongs to. With `token`, checks that token instead of the configured one
   * (`gpux login` validates before saving).
   *
   * @throws {AuthenticationError} when there is no token or the Hub rejects it.
   */
  whoami(options: { token?: string; signal?: AbortSignal } = {}): Promise<WhoAmIResult> {
    return whoami(this.#client, options);
  }

  /**
   * Downloads a model into the Hub cache ({@linkcode cacheDir}): verified, resumable, parallel. The
   * same as `pullModel(this.#client, modelId, options)` (see src/registry/pull.ts for its stages).
   *
   * @example
   * ```ts
   * import { HuggingFaceManager } from "jsr:@gpux/gpux";
   * const hub = new HuggingFaceManager({ cacheDir: "/tmp/hf-cache" });
   * const result = await hub.pullModel("onnx-community/bert-base", { variant: "q4" });
   * console.log(result.snapshotPath, result.bytesDownloaded);
   * ```
   */
  pullModel(modelId: string, options?: PullOptions): Promise<PullResult> {
    return pullIntoCache(this, modelId, options);
  }
}
