/**
 * The registry contract: what every model registry (the Hugging Face Hub today) implements,
 * and the types it speaks in.
 *
 * @module
 */
import type { EnvReader } from "../environment.ts";
import type { RetryInfo } from "../download/http.ts";
import type { ConversionHint, Modality, ModelFormat, OnnxInfo, OnnxVariant } from "../vocabulary/formats.ts";
import type { ModelFile } from "../vocabulary/model_file.ts";
import type { PullProgressEvent } from "../vocabulary/progress_events.ts";

export type { ConversionHint, Modality, ModelFile, ModelFormat, OnnxInfo, OnnxVariant, PullProgressEvent };

/** How to reach and authenticate against a registry, and where its cache lives. */
export interface RegistryConfig {
  /** Registry name, e.g. `"huggingface"`. */
  name?: string;
  /** Base URL of the hub; default `HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** Access token; highest priority in token resolution (see `resolveToken`). */
  token?: string;
  /** Hub cache directory; default `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /** Per-request timeout in milliseconds (default 30 000). For downloads: the stall timeout. */
  timeoutMs?: number;
  /** Retries after the first attempt for connection errors, 5xx and 429 (default 5). */
  maxRetries?: number;
  /** First retry backoff in milliseconds (default 500; doubles each retry, with jitter). Tests make it small. */
  retryBaseDelayMs?: number;
  /** Longest backoff or `Retry-After` wait honoured, in milliseconds (default 30 000). */
  retryMaxDelayMs?: number;
  /** Called before each retry of a Hub request (e.g. to show "retrying in 2s: HTTP 503"). */
  onRetry?: (info: RetryInfo) => void;
  /** Never touch the network; default `HF_HUB_OFFLINE`. */
  offline?: boolean;
  /** The `fetch` to use (default the global one). */
  fetch?: typeof fetch;
  /** Where environment variables are read from (default `Deno.env`). */
  env?: EnvReader;
}

/** Options every per-model call accepts. */
export interface RevisionOptions {
  /** Branch, tag, 40-hex commit sha or `refs/pr/N`; default `main` (or the `@rev` in the model id). */
  revision?: string;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/**
 * The fields of the Hub's model record gpux reads (`GET /api/models/{id}/revision/{rev}`): the one record of a
 * model's Hub metadata. {@linkcode ModelMetadata} is this record at a resolved commit, less the fields only the
 * client reads (`author`, `config`), plus what gpux derives from the files.
 */
export interface HubModelRecord {
  /** Repository id as the Hub spells it. */
  id: string;
  /** Commit the revision resolved to. */
  sha?: string;
  /** Visible to its owner and members only. */
  private: boolean;
  /** Whether users must accept conditions before downloading (`auto` or `manual` approval). */
  gated: false | "auto" | "manual";
  /** Task, e.g. `text-classification`. */
  pipelineTag?: string;
  /** Library, e.g. `transformers.js`, `onnx`. */
  libraryName?: string;
  /** The Hub's tags. */
  tags: string[];
  /** From the card's front matter, else a `license:` tag. */
  license?: string;
  /** Downloads in the last 30 days. */
  downloads?: number;
  /** Likes. */
  likes?: number;
  /** ISO 8601 date of the last commit. */
  lastModified?: string;
  /** Owner (user or organisation). */
  author?: string;
  /** `architectures` and `model_type` of config.json, when the Hub reports them. */
  config?: { architectures?: string[]; modelType?: string };
}

/**
 * Everything gpux knows about a model at one revision: the Hub's {@linkcode HubModelRecord} (its fields declared
 * there, once) at a resolved commit, and what gpux derives from the files.
 */
export interface ModelMetadata extends Omit<HubModelRecord, "sha" | "author" | "config"> {
  /** The revision asked for (default `main`). */
  revision: string;
  /** The commit sha that revision resolved to. */
  sha: string;
  /** Input modality derived from the pipeline tag. */
  modality: Modality;
  /** First paragraph of the model card (README.md without its front matter). */
  description?: string;
  /** `architectures` from config.json, when present. */
  architectures?: string[];
  /** `model_type` from config.json, when present. */
  modelType?: string;
  /** Every file in the repository at this revision. */
  files: ModelFile[];
  /** Sum of all file sizes. */
  totalSize: number;
  /** Formats present in the repository (several possible). */
  formats: ModelFormat[];
  /** ONNX variants and the default one. */
  onnx: OnnxInfo;
  /** Present when the repository has no ONNX files. */
  conversion?: ConversionHint;
}

/** A search hit. */
export interface ModelSummary {
  /** Repository id, `org/name`. */
  id: string;
  /** Task, e.g. `text-classification`. */
  pipelineTag?: string;
  /** Library, e.g. `onnx`. */
  libraryName?: string;
  /** Downloads in the last 30 days. */
  downloads?: number;
  /** Number of likes. */
  likes?: number;
  /** ISO 8601 date of the last commit. */
  lastModified?: string;
  /** Whether the repository is private. */
  private?: boolean;
  /** Whether users must accept conditions first. */
  gated?: false | "auto" | "manual";
}

/** Options of {@linkcode ModelManager.searchModels}. */
export interface SearchOptions {
  /** Pipeline tag filter, e.g. `text-classification`. */
  task?: string;
  /** Library filter, e.g. `onnx`, `transformers.js`. */
  library?: string;
  /** Author (user or organisation) filter. */
  author?: string;
  /** Sort order, descending. Default `downloads`. */
  sort?: "downloads" | "likes" | "updated";
  /** Maximum number of results (default 20). */
  limit?: number;
  /** Cancels the search. */
  signal?: AbortSignal;
}

/** Options of {@linkcode ModelManager.pullModel}. */
export interface PullOptions extends RevisionOptions {
  /** Only files matching one of these globs (like `hf download --include`). */
  include?: string[];
  /** No files matching these globs. */
  exclude?: string[];
  /** ONNX variant to fetch (`fp32`, `fp16`, `quantized`, …); default the repository's default variant. */
  variant?: string;
  /** Re-download and re-verify even what is cached. */
  force?: boolean;
  /** Plan only: report what would be downloaded. */
  dryRun?: boolean;
  /**
   * Connection budget of the pull: files and byte ranges in flight together (default
   * 32, `DEFAULT_CONCURRENCY`).
   */
  concurrency?: number;
  /** No network at all; resolve from the cache. */
  offline?: boolean;
  /** Receives progress events. */
  onProgress?: (event: PullProgressEvent) => void;
  /**
   * Download into this folder as plain files instead of into the cache, with Python's
   * `.cache/huggingface/download/{path}.metadata` beside them (like `hf download --local-dir`).
   */
  localDir?: string;
  /**
   * Folders `localDir` must never be, besides the filesystem root and the cache (which are always refused): the CLI
   * passes `$HOME` and `GPUX_HOME`.
   */
  protectedDirs?: readonly { path: string; what: string }[];
  /** Transfer tuning, for benchmarks and tests: the size of one byte range and the smallest file fetched as ranges. */
  transfer?: { chunkSize?: number; rangeThreshold?: number };
}

/** What a pull produced. */
export interface PullResult {
  /** Repository id. */
  id: string;
  /** The revision asked for (default `main`). */
  revision: string;
  /** The commit sha it resolved to. */
  sha: string;
  /** Absolute path of `snapshots/{sha}` in the cache. */
  snapshotPath: string;
  /** Files now in the snapshot (or that would be, with `dryRun`). */
  files: { path: string; size: number; cached: boolean }[];
  /** Formats present among the pulled files. */
  formats: ModelFormat[];
  /** The ONNX variant pulled, when any. */
  variant?: string;
  /** Bytes transferred by this pull. */
  bytesDownloaded: number;
  /** Bytes that were already in the cache. */
  bytesCached: number;
  /** Wall-clock seconds the pull took. */
  seconds: number;
  /** True when nothing was downloaded (`dryRun`). */
  dryRun: boolean;
  /** Present when the repository has no ONNX files. */
  conversion?: ConversionHint;
}

/**
 * One file download as the Hub client sets it up: where to ask (`{endpoint}/{id}/resolve/{commit}/{path}`),
 * with which headers (user agent, the token when there is one) and under which fetch, timeouts and
 * retry budget. The field names are those of `downloadBlob`'s options, so the request spreads into them.
 */
export interface HubFileRequest {
  /** The resolve URL of the file at its commit. */
  url: string;
  /** `user-agent`, and `authorization` when a token is configured. */
  headers: Record<string, string>;
  /** The `fetch` to use (the configured one, else the global one). */
  fetch?: typeof fetch;
  /** Timeout until a response's headers arrive, ms. */
  timeoutMs: number;
  /** How long a body may go without a byte before it is retried, ms. */
  stallTimeoutMs: number;
  /** Retries after the first attempt. */
  maxRetries: number;
  /** First retry backoff, ms. */
  baseDelayMs?: number;
  /** Longest backoff honoured, ms. */
  maxDelayMs?: number;
}

/** A revision resolved to its commit with the full file list there, as a pull reads it. */
export interface RevisionListing {
  /** The commit (40 hex). */
  sha: string;
  /** Every file at that commit; paths and hashes already checked where they entered. */
  files: ModelFile[];
  /** The model record's fields a pull reads. */
  info: { pipelineTag?: string };
}

/**
 * What a pull needs from a registry client, and nothing more: where the cache is, whether the
 * network may be used, and the Hub's three answers (a revision's commit, its file list, how to fetch
 * one file). Every Hub URL and every token stays behind this interface, in the client that
 * implements it (`HuggingFaceManager`).
 */
export interface PullSource {
  /** The Hub cache directory pulls write into. */
  readonly cacheDir: string;
  /** True when no network access is allowed. */
  readonly offline: boolean;
  /** The commit `revision` points at now: one request. */
  revisionCommit(modelId: string, revision: string, signal?: AbortSignal): Promise<string>;
  /** The commit of `revision` and every file there: two requests plus paging. */
  resolveRevision(modelId: string, revision?: string, options?: { signal?: AbortSignal }): Promise<RevisionListing>;
  /** How to download `path` of `modelId` at `commit` (no request is made here). */
  fileDownload(modelId: string, commit: string, path: string): Promise<HubFileRequest>;
}

/**
 * What every model registry implements.
 *
 * @example
 * ```ts
 * import { HuggingFaceManager, type ModelManager } from "jsr:@gpux/gpux";
 * const registry: ModelManager = new HuggingFaceManager();
 * const info = await registry.getModelInfo("onnx-community/bert-base");
 * console.log(info.sha, info.onnx.defaultVariant);
 * ```
 */
export interface ModelManager {
  /** Registry name, e.g. `"huggingface"`. */
  readonly name: string;
  /** Downloads a model into the cache and returns where it is. */
  pullModel(modelId: string, options?: PullOptions): Promise<PullResult>;
  /** Searches the registry. */
  searchModels(query: string, options?: SearchOptions): Promise<ModelSummary[]>;
  /** Metadata, formats, variants and files of a model at a revision. */
  getModelInfo(modelId: string, options?: RevisionOptions): Promise<ModelMetadata>;
  /** The full recursive file list of a model at a revision. */
  listModelFiles(modelId: string, options?: RevisionOptions): Promise<ModelFile[]>;
}
