/**
 * The small client every Hub verb (search.ts, model_info.ts, list_files.ts, whoami.ts, …) goes through, as
 * huggingface.js's verbs share `hubUrl`, `accessToken` and `fetch`: the endpoint (checked once), the token
 * (resolved once), and a `fetch` with gpux's timeouts, bounded retries and typed errors, so that no error of
 * `@huggingface/hub` reaches the user and no token leaves the Hub's origin. `HuggingFaceManager` holds one and
 * calls each verb with it.
 *
 * @module
 */
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
import { HubApiError } from "@huggingface/hub";
import { redactToken, type ResolvedToken, resolveToken } from "./auth.ts";
import type { RegistryConfig } from "./manager.ts";
import { VERSION } from "../version.ts";

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
 * The Hub's endpoint, token, timeouts and retries, and the `fetch` every verb calls it with. Internal: the
 * public face is `HuggingFaceManager`, which forwards its own properties here.
 */
export class HubClient {
  /** The Hub base URL (config `endpoint`, else `HF_ENDPOINT`, else https://huggingface.co), no trailing slash. */
  readonly endpoint: string;
  /** True when no network access is allowed (config `offline`, else `HF_HUB_OFFLINE`). */
  readonly offline: boolean;
  /** The configuration this client was built with. */
  readonly config: Readonly<RegistryConfig>;
  readonly #env: EnvReader;
  #token?: Promise<ResolvedToken | undefined>;

  /**
   * A client for the Hub at `config.endpoint` (else `HF_ENDPOINT`, else https://huggingface.co).
   *
   * @param config endpoint, token, timeouts, retries, offline mode, `fetch` and environment; every field optional.
   * @throws {InputError} when the endpoint is not a URL.
   */
  constructor(config: RegistryConfig = {}) {
    this.config = config;
    this.#env = config.env ?? denoEnv;
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
        throw this.bodyError(url, error, signal);
      }
      try {
        JSON.parse(text);
      } catch {
        const type = (response.headers.get("content-type") ?? "no content type").split(";")[0];
        throw new NetworkError(
          `${safeOrigin(url)} answered ${
            new URL(url).pathname
          } with a non-JSON body (${type}): it does not look like a Hugging Face Hub API`,
          { hint: this.networkHint() },
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

  /** Headers of gpux's own Hub requests (not through `@huggingface/hub`): `user-agent`, and the bearer token when there is one (the Hub judges its shape). */
  async requestHeaders(): Promise<Record<string, string>> {
    const token = (await this.resolvedToken())?.token;
    const headers: Record<string, string> = { "user-agent": `gpux/${VERSION}` };
    if (token) headers["authorization"] = `Bearer ${token}`;
    return headers;
  }

  /**
   * Runs a call of a verb, turning anything that is not a GpuxError into one (naming `context`) and keeping the
   * token, and `extraSecret`, out of its message.
   */
  async translate<T>(
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
        hint: this.networkHint(),
      });
    }
    if (error instanceof SyntaxError) {
      return new NetworkError(`${this.endpoint} sent a malformed response: ${error.message.split("\n")[0]}`, {
        hint: this.networkHint(),
      });
    }
    const what = context.repoId ? ` for ${context.repoId}` : "";
    if (error instanceof TypeError && !/fetch|network|connect|dns|tls|body/i.test(error.message)) {
      // an answer of the wrong shape: the server at HF_ENDPOINT does not speak the Hub's API (as for non-JSON)
      return new NetworkError(
        `unexpected response from ${this.endpoint}${what}: ${error.message}; it does not look like a Hugging Face Hub API`,
        { cause: error, hint: this.networkHint() },
      );
    }
    return new NetworkError(`cannot reach ${this.endpoint}${what}: ${describeNetworkError(error)}`, {
      cause: error,
      hint: this.networkHint(),
    });
  }

  /** A failure while reading an answer's body (a drop, a timeout) as a typed error naming the URL's origin. */
  bodyError(url: string, error: unknown, signal?: AbortSignal): GpuxError {
    if (signal?.aborted) return new InterruptedError("interrupted");
    const timeout = error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError");
    const ms = this.timeoutMs;
    const reason = timeout ? `timed out after ${ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`}` : describeNetworkError(
      error,
    );
    return new NetworkError(`reading the response from ${safeOrigin(url)} failed: ${reason}`, {
      cause: error,
      hint: this.networkHint(),
    });
  }

  /** The hint of every network error: check the connection and HF_ENDPOINT, or go offline. */
  networkHint(): string {
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

/** Refuses a token that is not a Hugging Face access token (`hf_…`) before it is sent anywhere. */
export function checkTokenShape(found: ResolvedToken): void {
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

/** A date of the Hub's answers as ISO 8601, or `undefined` when it is missing or invalid. */
export function isoDate(date: Date | undefined): string | undefined {
  return date instanceof Date && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;
}

function scrub(error: GpuxError, ...secrets: (string | undefined)[]): GpuxError {
  const message = redactToken(error.message, ...secrets);
  if (message !== error.message) error.message = message;
  return error;
}

/** `value` without its `undefined` fields (what the verbs return has no empty keys, as the Hub's JSON). */
export function dropUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}
