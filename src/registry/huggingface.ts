/**
 * The Hugging Face Hub as a {@linkcode ModelManager}: metadata, files, search and identity through
 * `@huggingface/hub`, with every request going through gpux's HTTP layer (timeouts, bounded retries,
 * typed errors) so that the library's own errors never reach the user.
 *
 * @module
 */
import {
  downloadFile,
  HubApiError,
  type ListFileEntry,
  listFiles,
  listModels,
  modelInfo,
  whoAmI,
} from "@huggingface/hub";
import { denoEnv, type EnvReader, envTimeoutMs, hubCacheDir, hubEndpoint, isOfflineEnv } from "../environment.ts";
import {
  AuthenticationError,
  GpuxError,
  InputError,
  InterruptedError,
  ModelNotFoundError,
  NetworkError,
  OfflineError,
} from "../errors.ts";
import {
  DEFAULT_MAX_RETRIES,
  DEFAULT_TIMEOUT_MS,
  describeNetworkError,
  errorFromResponse,
  fetchWithRetry,
  type HttpOptions,
  type RequestContext,
  type RetryInfo,
  safeOrigin,
} from "../download/http.ts";
import { redactToken, type ResolvedToken, resolveToken } from "./auth.ts";
import { conversionHint, detectFormats, modalityFromPipelineTag, onnxVariants } from "../vocabulary/formats.ts";
import type {
  HubFileRequest,
  HubModelRecord,
  ModelFile,
  ModelManager,
  ModelMetadata,
  ModelSummary,
  PullOptions,
  PullResult,
  PullSource,
  RegistryConfig,
  RevisionListing,
  RevisionOptions,
  SearchOptions,
} from "./manager.ts";
import { checkListing, ListingGuard } from "./listing_check.ts";
import { isCommitSha, parseModelId, validateRevision } from "../vocabulary/model_id.ts";
import { pullModel as pullIntoCache } from "./pull.ts";
import { VERSION } from "../version.ts";

export type { HubModelRecord };

/** Sort orders of {@linkcode HuggingFaceManager.searchModels}. */
export const SEARCH_SORTS = ["downloads", "likes", "updated"] as const;

/** The Hub's own name for each sort order. */
const SORT_KEY = { downloads: "downloads", likes: "likes", updated: "lastModified" } as const;

/** Default number of search results. */
export const DEFAULT_SEARCH_LIMIT = 20;

/** README.md and config.json are read for `getModelInfo` only below this size. */
const SMALL_FILE_LIMIT = 2_000_000;

/** A revision resolved to a commit, with the full file list at that commit (what a pull reads of it, and more). */
export interface ResolvedRevision extends RevisionListing {
  /** Repository id as the Hub spells it. */
  id: string;
  /** The revision asked for. */
  revision: string;
  /** The commit it resolved to (40 hex). */
  sha: string;
  /** Every file at that commit, with sizes, git oids and LFS sha256. */
  files: ModelFile[];
  /** The Hub's model record at that revision (pipeline tag, tags, gated, private, …). */
  info: HubModelRecord;
}

/** Who a token belongs to (`gpux whoami`). Never contains the token. */
export interface WhoAmIResult {
  /** User, organisation or app name. */
  name: string;
  /** Kind of account. */
  type: "user" | "org" | "app";
  /** Display name. */
  fullname?: string;
  /** E-mail address, when the token may read it. */
  email?: string;
  /** Organisations the user belongs to. */
  orgs: string[];
  /** The token's display name and role, when the Hub says. */
  token?: { name?: string; role?: string };
  /** Where the token came from (`explicit`, `HF_TOKEN`, `HF_TOKEN_PATH`, `HF_HOME`, `default`). */
  tokenSource: ResolvedToken["source"];
}

/** What the `@huggingface/hub` functions need: endpoint, token and gpux's `fetch`. */
export interface HubCallOptions {
  /** The Hub base URL. */
  hubUrl: string;
  /** The token, when there is one. */
  accessToken?: string;
  /** gpux's fetch: retries, timeouts, typed errors. */
  fetch: typeof fetch;
}

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
  /** The Hub base URL (config `endpoint`, else `HF_ENDPOINT`, else https://huggingface.co), no trailing slash. */
  readonly endpoint: string;
  /** True when no network access is allowed (config `offline`, else `HF_HUB_OFFLINE`). */
  readonly offline: boolean;
  /** The configuration this manager was built with. */
  readonly config: Readonly<RegistryConfig>;
  readonly #env: EnvReader;
  #token?: Promise<ResolvedToken | undefined>;

  /**
   * A manager for the Hub at `config.endpoint` (else `HF_ENDPOINT`, else https://huggingface.co).
   *
   * @param config endpoint, token, timeouts, retries, offline mode, `fetch` and environment; every field optional.
   * @throws {InputError} when the endpoint is not a URL.
   */
  constructor(config: RegistryConfig = {}) {
    this.config = config;
    this.#env = config.env ?? denoEnv;
    this.name = config.name ?? "huggingface";
    this.endpoint = (config.endpoint?.trim() || hubEndpoint(this.#env)).replace(/\/+$/, "");
    this.offline = config.offline ?? isOfflineEnv(this.#env);
    let protocol: string;
    try {
      protocol = new URL(this.endpoint).protocol;
    } catch {
      throw new InputError(`invalid Hub endpoint '${endpointForDisplay(this.endpoint)}': not a URL`, {
        hint: "set HF_ENDPOINT to a URL such as https://huggingface.co",
      });
    }
    if (protocol !== "https:" && protocol !== "http:") {
      throw new InputError(
        `invalid Hub endpoint '${endpointForDisplay(this.endpoint)}': gpux speaks http and https only`,
        {
          hint: "set HF_ENDPOINT to an http(s) URL such as https://huggingface.co",
        },
      );
    }
  }

  /** The Hub cache directory: config `cacheDir`, else `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
  get cacheDir(): string {
    return this.config.cacheDir ?? hubCacheDir(this.#env);
  }

  /**
   * The token requests are sent with (resolved once: config `token` > `HF_TOKEN` > token files),
   * or `undefined` for anonymous access. Never print it.
   */
  resolvedToken(): Promise<ResolvedToken | undefined> {
    this.#token ??= resolveToken({ token: this.config.token, env: this.#env });
    return this.#token;
  }

  /**
   * Timeout of one API request until its headers arrive, ms: config `timeoutMs`, else `HF_HUB_ETAG_TIMEOUT`
   * (seconds, as in Python's huggingface_hub), else 30 s.
   */
  get timeoutMs(): number {
    return this.config.timeoutMs ?? envTimeoutMs(this.#env, "HF_HUB_ETAG_TIMEOUT") ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * How long a download may go without receiving a byte before it is retried, ms: config `timeoutMs`, else
   * `HF_HUB_DOWNLOAD_TIMEOUT` (seconds, as in Python's huggingface_hub), else 30 s.
   */
  get downloadTimeoutMs(): number {
    return this.config.timeoutMs ?? envTimeoutMs(this.#env, "HF_HUB_DOWNLOAD_TIMEOUT") ?? DEFAULT_TIMEOUT_MS;
  }

  /** Options for {@linkcode fetchWithRetry}: this manager's fetch, timeout, retries and backoff. */
  httpOptions(signal?: AbortSignal, onRetry?: (info: RetryInfo) => void): HttpOptions {
    return {
      fetch: this.config.fetch,
      timeoutMs: this.timeoutMs,
      maxRetries: this.config.maxRetries ?? DEFAULT_MAX_RETRIES,
      baseDelayMs: this.config.retryBaseDelayMs,
      maxDelayMs: this.config.retryMaxDelayMs,
      signal,
      onRetry: onRetry ?? this.config.onRetry,
    };
  }

  /**
   * A `fetch` for `@huggingface/hub` calls: retries and timeouts from {@linkcode httpOptions}, any
   * non-2xx answer thrown as a typed gpux error (by status and `X-Error-Code`, naming `context`),
   * and `/api/` answers checked to be JSON (a proxy's HTML page becomes a one-line NetworkError).
   */
  hubFetch(context: RequestContext = {}, signal?: AbortSignal, onRetry?: (info: RetryInfo) => void): typeof fetch {
    return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      // the token goes to the Hub's own origin only (a `Link: next` page or a redirect URL may name another)
      init = withoutTokenElsewhere(url, init, this.endpoint);
      // bodies are read inside the retry loop, under the stall timeout: headers and then silence is retried too
      const response = await fetchWithRetry(url, init, { ...this.httpOptions(signal, onRetry), bufferBody: true });
      if (!response.ok) {
        const anonymous = !new Headers(init?.headers).has("authorization");
        if (response.status === 401 && anonymous && response.headers.get("x-error-code") === "RepoNotFound") {
          await response.body?.cancel().catch(() => {});
          const repo = context.repoId ? `'${context.repoId}'` : "the repository";
          // the Hub answers a typo and a private repo alike; Python's huggingface_hub calls it RepositoryNotFound
          throw new ModelNotFoundError(
            `model ${repo} not found on ${safeOrigin(url)}, or it is private and you are not logged in (HTTP 401)`,
            {
              hint:
                "check the spelling, or, if it is private or gated, log in with `gpux login`, set HF_TOKEN or pass --token",
            },
          );
        }
        throw await errorFromResponse(response, context);
      }
      if (!url.startsWith(`${this.endpoint}/api/`)) return response;
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        throw this.#bodyError(url, error, signal);
      }
      try {
        JSON.parse(text);
      } catch {
        const type = (response.headers.get("content-type") ?? "no content type").split(";")[0];
        throw new NetworkError(
          `${safeOrigin(url)} answered ${
            new URL(url).pathname
          } with a non-JSON body (${type}): it does not look like a Hugging Face Hub API`,
          { hint: this.#networkHint() },
        );
      }
      return new Response(text, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    };
  }

  /** `hubUrl`, `accessToken` and the gpux `fetch`, ready to spread into any `@huggingface/hub` call. */
  async hubFetchOptions(context: RequestContext = {}, signal?: AbortSignal): Promise<HubCallOptions> {
    const token = await this.resolvedToken();
    if (token) checkTokenShape(token);
    return { hubUrl: this.endpoint, accessToken: token?.token, fetch: this.hubFetch(context, signal) };
  }

  /** Throws {@linkcode OfflineError} when offline mode is on; `what` names what needed the network. */
  assertOnline(what: string): void {
    if (!this.offline) return;
    const why = this.config.offline !== undefined ? "offline mode is on" : "offline mode is on (HF_HUB_OFFLINE is set)";
    throw new OfflineError(`cannot ${what}: ${why} and this needs ${this.endpoint}`, {
      hint: "unset HF_HUB_OFFLINE to go online; models already in the cache can still be listed and run",
    });
  }

  /**
   * Resolves a revision (branch, tag, 40-hex sha, `refs/pr/N`) to its commit and lists every file at
   * that commit (paged tree, recursive), in two requests plus paging. The pull helper builds on this.
   *
   * @throws {RevisionNotFoundError} for an unknown revision; {@linkcode ModelNotFoundError},
   * {@linkcode AuthenticationError}, {@linkcode GatedModelError}, {@linkcode NetworkError} as usual.
   */
  async resolveRevision(modelId: string, revision?: string, options: { signal?: AbortSignal } = {}): Promise<
    ResolvedRevision
  > {
    const ref = parseModelId(modelId);
    const rev = revision ?? ref.revision ?? "main";
    validateRevision(rev);
    this.assertOnline(`resolve ${ref.id}@${rev}`);
    const context = { repoId: ref.id, revision: rev };
    return await this.#translate(
      async () => {
        const info = await this.#modelRecord(ref.id, rev, options.signal);
        const sha = info.sha;
        if (!sha || !isCommitSha(sha)) {
          throw new NetworkError(`${this.endpoint} did not return the commit of ${ref.id}@${rev}`, {
            hint: this.#networkHint(),
          });
        }
        const files = await this.#listFiles(info.id, sha, context, options.signal);
        return { id: info.id, revision: rev, sha, files, info };
      },
      context,
      options.signal,
    );
  }

  /**
   * The commit `revision` points at now, in one request (`GET /api/models/{id}/revision/{revision}`):
   * how a pull checks that a branch or tag still names a commit it already has.
   *
   * @throws {NetworkError} when the answer holds no commit sha; the typed errors of {@linkcode hubFetch}.
   */
  async revisionCommit(modelId: string, revision: string, signal?: AbortSignal): Promise<string> {
    const url = `${this.endpoint}/api/models/${modelId}/revision/${encodeURIComponent(revision)}`;
    const response = await this.hubFetch({ repoId: modelId, revision }, signal)(url, {
      headers: await this.#requestHeaders(),
    });
    const body = await response.json() as { sha?: unknown };
    if (typeof body.sha !== "string" || !isCommitSha(body.sha)) {
      throw new NetworkError(`${this.endpoint} did not return the commit of ${modelId}@${revision}`);
    }
    return body.sha;
  }

  /**
   * How to download `path` of `modelId` at `commit`: its resolve URL, the headers (token included when
   * there is one), and this manager's fetch, download timeouts and retry budget, named as `downloadBlob`'s
   * options are. Makes no request.
   */
  async fileDownload(modelId: string, commit: string, path: string): Promise<HubFileRequest> {
    const http = this.httpOptions();
    return {
      url: `${this.endpoint}/${modelId}/resolve/${commit}/${path.split("/").map(encodeURIComponent).join("/")}`,
      headers: await this.#requestHeaders(),
      fetch: http.fetch,
      timeoutMs: this.downloadTimeoutMs,
      stallTimeoutMs: this.downloadTimeoutMs,
      maxRetries: http.maxRetries ?? DEFAULT_MAX_RETRIES,
      baseDelayMs: http.baseDelayMs,
      maxDelayMs: http.maxDelayMs,
    };
  }

  /** Headers of gpux's own Hub requests: `user-agent`, and the bearer token when there is one (the Hub judges its shape). */
  async #requestHeaders(): Promise<Record<string, string>> {
    const token = (await this.resolvedToken())?.token;
    const headers: Record<string, string> = { "user-agent": `gpux/${VERSION}` };
    if (token) headers["authorization"] = `Bearer ${token}`;
    return headers;
  }

  /** Metadata, formats, ONNX variants, files and conversion hint of a model at a revision. */
  async getModelInfo(modelId: string, options: RevisionOptions = {}): Promise<ModelMetadata> {
    const ref = parseModelId(modelId);
    const revision = options.revision ?? ref.revision ?? "main";
    validateRevision(revision);
    this.assertOnline(`get information about ${ref.id}`);
    const resolved = await this.resolveRevision(ref.id, revision, options);
    const { info, sha, files } = resolved;
    const small = (path: string) => files.some((f) => f.path === path && f.size < SMALL_FILE_LIMIT);
    const context = { repoId: resolved.id, revision };
    const apiConfig = info.config ?? {};
    const needConfig = apiConfig.architectures === undefined && apiConfig.modelType === undefined;
    const [readme, config] = await Promise.all([
      small("README.md") ? this.#readText(resolved.id, sha, "README.md", context, options.signal) : undefined,
      needConfig && small("config.json")
        ? this.#readText(resolved.id, sha, "config.json", context, options.signal)
        : undefined,
    ]);
    const description = readme !== undefined ? cardDescription(readme) : undefined;
    const modelConfig = config !== undefined ? parseConfig(config) : apiConfig;
    const formats = detectFormats(files);
    const onnx = onnxVariants(files);
    const metadata: ModelMetadata = {
      id: resolved.id,
      revision,
      sha,
      private: info.private,
      gated: info.gated,
      pipelineTag: info.pipelineTag,
      modality: modalityFromPipelineTag(info.pipelineTag),
      libraryName: info.libraryName,
      tags: info.tags,
      license: info.license,
      downloads: info.downloads,
      likes: info.likes,
      lastModified: info.lastModified,
      description,
      architectures: modelConfig.architectures,
      modelType: modelConfig.modelType,
      files,
      totalSize: files.reduce((sum, f) => sum + f.size, 0),
      formats,
      onnx,
    };
    if (!formats.includes("onnx")) {
      metadata.conversion = conversionHint(resolved.id, info.pipelineTag, revision);
    }
    return dropUndefined(metadata);
  }

  /** The full recursive file list of a model at a revision, with sizes and hashes. */
  async listModelFiles(modelId: string, options: RevisionOptions = {}): Promise<ModelFile[]> {
    return (await this.resolveRevision(modelId, options.revision, options)).files;
  }

  /**
   * Searches models through the Hub's list API, following `Link` paging up to `limit`.
   *
   * @throws {InputError} for a bad `sort` or `limit`.
   */
  async searchModels(query: string, options: SearchOptions = {}): Promise<ModelSummary[]> {
    const limit = options.limit ?? DEFAULT_SEARCH_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InputError(`invalid limit ${limit}: it must be a whole number of at least 1`, {
        hint: `e.g. limit ${DEFAULT_SEARCH_LIMIT} (the default)`,
      });
    }
    const sort = options.sort ?? "downloads";
    if (!SEARCH_SORTS.includes(sort)) {
      throw new InputError(`invalid sort '${sort}': use one of ${SEARCH_SORTS.join(", ")}`, {
        hint: `e.g. sort "${SEARCH_SORTS[0]}" (the default)`,
      });
    }
    this.assertOnline(`search ${this.endpoint}`);
    return await this.#translate(
      async () => {
        const call = await this.hubFetchOptions({}, options.signal);
        const library = options.library?.trim();
        // @huggingface/hub 2.17.5 has no library filter and never sends a sort direction: add both
        // (`library=` is the Hub's library filter; `direction=-1` asks for descending order explicitly).
        const listFetch: typeof fetch = (input, init) => {
          const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
          if (library) url.searchParams.set("library", library);
          url.searchParams.set("direction", "-1");
          return call.fetch(url.href, init);
        };
        const out: ModelSummary[] = [];
        for await (
          const entry of listModels({
            ...call,
            fetch: listFetch,
            search: {
              query: query.trim() || undefined,
              owner: options.author?.trim() || undefined,
              task: (options.task?.trim() || undefined) as Parameters<typeof listModels>[0] extends
                { search?: { task?: infer T } } ? T : never,
            },
            sort: SORT_KEY[sort],
            limit,
            additionalFields: ["library_name"],
          })
        ) {
          out.push(dropUndefined({
            id: entry.name,
            pipelineTag: entry.task,
            libraryName: entry.library_name,
            downloads: entry.downloads,
            likes: entry.likes,
            lastModified: isoDate(entry.updatedAt),
            private: entry.private,
            gated: entry.gated ?? false,
          }));
          if (out.length >= limit) break;
        }
        return out;
      },
      {},
      options.signal,
    );
  }

  /**
   * Who the token belongs to. With `token`, checks that token instead of the configured one
   * (`gpux login` validates before saving).
   *
   * @throws {AuthenticationError} when there is no token or the Hub rejects it.
   */
  async whoami(options: { token?: string; signal?: AbortSignal } = {}): Promise<WhoAmIResult> {
    const found = options.token !== undefined
      ? await resolveToken({ token: options.token, env: () => undefined })
      : await this.resolvedToken();
    if (!found) {
      throw new AuthenticationError("not logged in: no Hugging Face token found", {
        hint: "run `gpux login`, set HF_TOKEN, or pass --token",
      });
    }
    checkTokenShape(found);
    this.assertOnline("check the token");
    return await this.#translate(
      async () => {
        const me = await whoAmI({
          hubUrl: this.endpoint,
          accessToken: found.token,
          fetch: this.hubFetch({}, options.signal),
        });
        if (typeof me?.name !== "string" || !me.name) {
          throw new NetworkError(
            `${this.endpoint} answered whoami without a user name: it does not look like a Hugging Face Hub API`,
            {
              hint: this.#networkHint(),
            },
          );
        }
        const auth = me.auth?.accessToken;
        return dropUndefined({
          name: me.name,
          type: me.type,
          fullname: "fullname" in me ? me.fullname : undefined,
          email: "email" in me && me.email ? me.email : undefined,
          orgs: "orgs" in me && Array.isArray(me.orgs) ? me.orgs.map((o) => o.name) : [],
          token: auth ? dropUndefined({ name: auth.displayName, role: auth.role }) : undefined,
          tokenSource: found.source,
        });
      },
      {},
      options.signal,
      found.token,
    );
  }

  /**
   * Downloads a model into the Hub cache ({@linkcode cacheDir}): verified, resumable, parallel. The
   * same as `pullModel(this, modelId, options)` (see src/registry/pull.ts for its stages).
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

  async #modelRecord(id: string, revision: string, signal?: AbortSignal): Promise<HubModelRecord> {
    const call = await this.hubFetchOptions({ repoId: id, revision }, signal);
    const raw = await modelInfo({
      ...call,
      name: id,
      revision,
      additionalFields: ["sha", "tags", "library_name", "cardData", "author", "config"],
    });
    const apiConfig = raw.config && typeof raw.config === "object" ? parseConfig(JSON.stringify(raw.config)) : {};
    const card = (raw.cardData ?? {}) as { license?: unknown };
    const tags = Array.isArray(raw.tags) ? raw.tags.filter((t): t is string => typeof t === "string") : [];
    const license = typeof card.license === "string"
      ? card.license
      : tags.find((t) => t.startsWith("license:"))?.slice("license:".length);
    return dropUndefined({
      id: raw.name ?? id,
      sha: raw.sha,
      private: raw.private === true,
      gated: raw.gated === "auto" || raw.gated === "manual" ? raw.gated : false,
      pipelineTag: raw.task,
      libraryName: raw.library_name,
      tags,
      license,
      downloads: raw.downloads,
      likes: raw.likes,
      lastModified: isoDate(raw.updatedAt),
      author: raw.author,
      config: Object.keys(apiConfig).length ? apiConfig : undefined,
    });
  }

  async #listFiles(id: string, sha: string, context: RequestContext, signal?: AbortSignal): Promise<ModelFile[]> {
    const call = await this.hubFetchOptions(context, signal);
    const files: ModelFile[] = [];
    const guard = new ListingGuard(safeOrigin(this.endpoint));
    for await (
      const entry of listFiles({ ...call, repo: { type: "model", name: id }, revision: sha, recursive: true })
    ) {
      if (entry.type !== "file") continue;
      files.push(guard.add(toModelFile(entry)));
    }
    // where the Hub's paths and hashes become trusted: checked once, here, before they name anything on disk
    checkListing(files, safeOrigin(this.endpoint));
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async #readText(
    id: string,
    sha: string,
    path: string,
    context: RequestContext,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const call = await this.hubFetchOptions({ ...context, path }, signal);
    let blob: Blob | null;
    try {
      blob = await downloadFile({ ...call, repo: { type: "model", name: id }, path, revision: sha, xet: false });
    } catch (error) {
      // a gated repository shows its metadata but not its files before the conditions are accepted
      if (error instanceof AuthenticationError) return undefined;
      throw error;
    }
    if (!blob) return undefined;
    try {
      return await blob.text();
    } catch (error) {
      throw this.#bodyError(`${this.endpoint}/${id}/resolve/${sha}/${path}`, error, signal);
    }
  }

  /** Runs a call, turning anything that is not a GpuxError into one (and keeping tokens out of it). */
  async #translate<T>(
    fn: () => Promise<T>,
    context: RequestContext,
    signal?: AbortSignal,
    extraSecret?: string,
  ): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const token = (await this.resolvedToken().catch(() => undefined))?.token;
      throw scrub(this.#toGpuxError(error, context, signal), token, extraSecret);
    }
  }

  #toGpuxError(error: unknown, context: RequestContext, signal?: AbortSignal): GpuxError {
    if (error instanceof GpuxError) return error;
    if (signal?.aborted) return new InterruptedError("interrupted");
    if (error instanceof HubApiError) {
      return new NetworkError(`${safeOrigin(error.url)} answered HTTP ${error.statusCode}`, {
        hint: this.#networkHint(),
      });
    }
    if (error instanceof SyntaxError) {
      return new NetworkError(`${this.endpoint} sent a malformed response: ${error.message.split("\n")[0]}`, {
        hint: this.#networkHint(),
      });
    }
    const what = context.repoId ? ` for ${context.repoId}` : "";
    if (error instanceof TypeError && !/fetch|network|connect|dns|tls|body/i.test(error.message)) {
      // an answer of the wrong shape: the server at HF_ENDPOINT does not speak the Hub's API (as for non-JSON)
      return new NetworkError(
        `unexpected response from ${this.endpoint}${what}: ${error.message}; it does not look like a Hugging Face Hub API`,
        { cause: error, hint: this.#networkHint() },
      );
    }
    return new NetworkError(`cannot reach ${this.endpoint}${what}: ${describeNetworkError(error)}`, {
      cause: error,
      hint: this.#networkHint(),
    });
  }

  #bodyError(url: string, error: unknown, signal?: AbortSignal): GpuxError {
    if (signal?.aborted) return new InterruptedError("interrupted");
    const timeout = error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError");
    const ms = this.timeoutMs;
    const reason = timeout ? `timed out after ${ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`}` : describeNetworkError(
      error,
    );
    return new NetworkError(`reading the response from ${safeOrigin(url)} failed: ${reason}`, {
      cause: error,
      hint: this.#networkHint(),
    });
  }

  #networkHint(): string {
    return `check your connection and HF_ENDPOINT (now ${this.endpoint}), or set HF_HUB_OFFLINE=1 to use only the local cache`;
  }
}

/** `init` without its `Authorization` header when `url` is not on the endpoint's origin. */
function withoutTokenElsewhere(url: string, init: RequestInit | undefined, endpoint: string): RequestInit | undefined {
  if (!init?.headers || safeOrigin(url) === safeOrigin(endpoint)) return init;
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) return init;
  headers.delete("authorization");
  return { ...init, headers };
}

/** An endpoint as it may be shown: without credentials (`user:password@`), query or fragment. */
function endpointForDisplay(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  } catch {
    return endpoint.replace(/\/\/[^/@]*@/, "//").replace(/[?#].*$/, "");
  }
}

function toModelFile(entry: ListFileEntry): ModelFile {
  const file: ModelFile = { path: entry.path, size: entry.lfs?.size ?? entry.size };
  if (entry.oid) file.oid = entry.oid;
  if (entry.lfs) file.lfs = { sha256: entry.lfs.oid, size: entry.lfs.size };
  return file;
}

function checkTokenShape(found: ResolvedToken): void {
  if (!found.token.startsWith("hf_")) {
    const where = found.source === "explicit"
      ? "the token given"
      : found.path
      ? `the token in ${found.path}`
      : `the token in ${found.source}`;
    throw new AuthenticationError(`${where} is not a Hugging Face access token (they start with 'hf_')`, {
      hint: "create a token at https://huggingface.co/settings/tokens and run `gpux login`",
    });
  }
}

/**
 * The model card's first paragraph: README.md without its YAML front matter, skipping headings,
 * images/badges, HTML, tables, code and link-only lines; whitespace collapsed to one line.
 */
export function cardDescription(readme: string): string | undefined {
  let text = readme.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const front = /^---\n[\s\S]*?\n(---|\.\.\.)[ \t]*(\n|$)/.exec(text);
  if (front) text = text.slice(front[0].length);
  text = text.replace(/<!--[\s\S]*?-->/g, "").replace(/```[\s\S]*?(```|$)/g, "\n\n");
  for (const block of text.split(/\n[ \t]*\n/)) {
    const raw = block.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
    const setext = (i: number) => /^(={3,}|-{3,})$/.test(raw[i + 1] ?? ""); // "Title" over "====="
    const lines = raw.filter((_, i) => !setext(i)).filter((l) =>
      !/^#{1,6}(\s|$)/.test(l) && // heading
      !/^(!\[|\[!\[)/.test(l) && // image or badge
      !/^<[^>]*>\s*$|^<\/?[a-zA-Z][^>]*>.*<\/[a-zA-Z]+>\s*$/.test(l) && // HTML-only line
      !/^\|/.test(l) && // table
      !/^(-{3,}|\*{3,}|_{3,}|={3,})$/.test(l) // rule / setext underline
    );
    if (lines.length === 0) continue;
    const paragraph = lines.join(" ").replace(/\s+/g, " ").trim();
    if (/^\[[^\]]*\]\([^)]*\)$/.test(paragraph)) continue; // a lone link
    return paragraph.length > 1000 ? paragraph.slice(0, 997) + "..." : paragraph;
  }
  return undefined;
}

function parseConfig(text: string): { architectures?: string[]; modelType?: string } {
  try {
    const config = JSON.parse(text);
    if (!config || typeof config !== "object") return {};
    const architectures = Array.isArray(config.architectures)
      ? config.architectures.filter((a: unknown): a is string => typeof a === "string")
      : undefined;
    const modelType = typeof config.model_type === "string" ? config.model_type : undefined;
    return dropUndefined({ architectures, modelType });
  } catch {
    return {}; // a broken config.json is the repository's business, not a reason to fail `info`
  }
}

function isoDate(date: Date | undefined): string | undefined {
  return date instanceof Date && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;
}

function scrub(error: GpuxError, ...secrets: (string | undefined)[]): GpuxError {
  const message = redactToken(error.message, ...secrets);
  if (message !== error.message) error.message = message;
  return error;
}

function dropUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}
