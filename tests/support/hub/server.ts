/**
 * The local hub's server: two origins on 127.0.0.1 (API and CDN), the set-up API tests call
 * (users, repos, faults, shaping), the record of every request, and the pipeline each request goes
 * through — record it, take a request fault or route it (routes.ts), wait the first-byte delay, then
 * stream the body through shaping with any body fault (shaping.ts, faults.ts).
 *
 * @module
 */
import { type Fault, type FaultHandle, faultReply, Faults } from "./faults.ts";
import { CdnBlobs } from "./files.ts";
import { errorReply, HttpError, type Origin, type RecordedRequest, type Reply, sleep } from "./http.ts";
import {
  type AddRepoOptions,
  type AddUserOptions,
  fileBytes,
  fileInfo,
  type HubFileInfo,
  type HubRepo,
  Repositories,
} from "./repositories.ts";
import { routeCdn, type RouteContext, routeHub } from "./routes.ts";
import { Shaping, type ShapingOptions } from "./shaping.ts";

/** Options of {@linkcode startHubServer}. */
export interface HubServerOptions {
  /**
   * Page size of the tree and of the model list, overriding huggingface.co's (a tree page holds 1000 entries, 50 with
   * `expand=true`; the model list 50); a smaller `limit` asked by a client wins.
   */
  pageSize?: number;
  shaping?: ShapingOptions;
  /** Port of the API origin (default 0: any free port). */
  port?: number;
  /** Port of the CDN origin (default 0). */
  cdnPort?: number;
}

/** The local hub. Create with {@linkcode startHubServer}. */
export class HubServer {
  /** API origin, e.g. `http://127.0.0.1:PORT` (pass as `HF_ENDPOINT` / `hubUrl`). */
  readonly url: string;
  /** CDN origin that LFS downloads are redirected to. */
  readonly cdnUrl: string;
  /** Every request both origins saw, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Page size of the tree and the model list when set (else huggingface.co's: see {@linkcode HubServerOptions}). */
  pageSize: number | undefined;
  #repos = new Repositories();
  #faults = new Faults();
  #shaping: Shaping;
  #routes: RouteContext;
  #closing = new AbortController();
  #servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  #pending = new Set<Promise<unknown>>();
  #closed?: Promise<void>;
  #requestCounter = 0;

  /** @internal use {@linkcode startHubServer} */
  constructor(options: HubServerOptions) {
    this.pageSize = options.pageSize === undefined ? undefined : Math.max(1, options.pageSize);
    this.#shaping = new Shaping(options.shaping);
    const serve = (origin: Origin, port: number) =>
      Deno.serve({
        hostname: "127.0.0.1",
        port,
        signal: this.#closing.signal,
        onListen: () => {},
        onError: (error) => new Response(JSON.stringify({ error: String(error) }), { status: 500 }),
      }, (req) => this.#track(this.#handle(origin, req)));
    const hub = serve("hub", options.port ?? 0);
    const cdn = serve("cdn", options.cdnPort ?? 0);
    this.#servers.push(hub, cdn);
    this.url = `http://127.0.0.1:${hub.addr.port}`;
    this.cdnUrl = `http://127.0.0.1:${cdn.addr.port}`;
    const pageSize = () => this.pageSize;
    this.#routes = {
      url: this.url,
      cdnUrl: this.cdnUrl,
      get pageSize() {
        return pageSize();
      },
      repos: this.#repos,
      faults: this.#faults,
      cdn: new CdnBlobs(),
    };
  }

  // ----- set-up ------------------------------------------------------------------------------------------------

  /** Adds a user with an access token (must start with `hf_` for `@huggingface/hub`). */
  addUser(name: string, token: string, options: AddUserOptions = {}): void {
    this.#repos.addUser(name, token, options);
  }

  /** Adds an empty model repository (no commits until {@linkcode HubRepo.commit}). */
  addRepo(id: string, options: AddRepoOptions = {}): HubRepo {
    return this.#repos.add(id, options);
  }

  /** The repo with this id (throws if unknown). */
  repo(id: string): HubRepo {
    const repo = this.#repos.get(id);
    if (!repo) throw new Error(`no repo ${id}`);
    return repo;
  }

  /** Removes a repo (later requests get RepoNotFound). */
  removeRepo(id: string): void {
    this.#repos.remove(id);
  }

  /** Size, hashes and LFS-ness of a file at a revision (hashes generated content synchronously if needed). */
  fileInfo(repoId: string, path: string, revision = "main"): HubFileInfo {
    return fileInfo(this.repo(repoId), path, revision);
  }

  /** The bytes [start, end) of a file at a revision (for assertions; keep ranges small). */
  fileBytes(repoId: string, path: string, revision = "main", start = 0, end?: number): Uint8Array {
    return fileBytes(this.repo(repoId), path, revision, start, end);
  }

  /** Forgets the recorded requests. */
  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Injects a fault; the first matching fault (in order added) applies, `times` times (default 1). */
  addFault(fault: Fault): FaultHandle {
    return this.#faults.add(fault);
  }

  /** Removes every fault. */
  clearFaults(): void {
    this.#faults.clear();
  }

  /** Replaces the traffic shaping (`{}` turns it off). */
  setShaping(shaping: ShapingOptions): void {
    this.#shaping.set(shaping);
  }

  /** Stops both origins, cutting stalled and slow responses; resolves when everything is released. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      this.#shaping.cutAll();
      await Promise.allSettled(this.#servers.map((s) => s.finished));
      while (this.#pending.size) await Promise.allSettled([...this.#pending]);
    })();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ----- request handling --------------------------------------------------------------------------------------

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    promise.finally(() => this.#pending.delete(promise)).catch(() => {});
    return promise;
  }

  async #handle(origin: Origin, req: Request): Promise<Response> {
    const url = new URL(req.url);
    const record = this.#record(origin, req, url);
    const requestId = `Root=1-local-${++this.#requestCounter}`;
    // Not req.signal: Deno aborts it after every successful response; a client that goes away cancels the body.
    const signal = this.#closing.signal;
    let reply: Reply;
    try {
      const fault = this.#faults.takeRequestFault(origin, req.method, url);
      if (fault?.kind === "delay") await sleep(fault.ms, signal);
      reply = fault && fault.kind !== "delay"
        ? faultReply(fault)
        : origin === "hub"
        ? await routeHub(this.#routes, req, url, record, signal)
        : routeCdn(this.#routes, req, url);
    } catch (error) {
      reply = error instanceof HttpError
        ? errorReply(error.status, error.message, error.code, error.headers)
        : errorReply(500, `internal error in the local hub: ${error instanceof Error ? error.stack : error}`);
    }
    record.status = reply.status;
    reply.headers.set("x-request-id", requestId);
    await this.#shaping.firstByte(signal);
    if (req.method === "HEAD" || !reply.body || reply.status === 304) {
      return new Response(null, { status: reply.status, headers: reply.headers });
    }
    // A drop or stall only takes a response longer than its afterBytes (else it could not show).
    const size = reply.body.size;
    const bodyFault = reply.status < 300 && size > 0
      ? this.#faults.takeBodyFault(origin, req.method, url, size)
      : undefined;
    return new Response(this.#shaping.stream(reply.body, record, bodyFault, signal), {
      status: reply.status,
      headers: reply.headers,
    });
  }

  /** Records the request (authorization redacted) in {@linkcode HubServer.requests}. */
  #record(origin: Origin, req: Request, url: URL): RecordedRequest {
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) headers[k] = k === "authorization" ? v.replace(/^(\S+)\s.*$/, "$1 ***") : v;
    const record: RecordedRequest = {
      origin,
      method: req.method,
      path: url.pathname,
      search: url.search,
      headers,
      status: 0,
      bytesSent: 0,
      ...(req.headers.has("range") ? { range: req.headers.get("range")! } : {}),
    };
    this.requests.push(record);
    return record;
  }
}

/** Starts the local hub on two free ports of 127.0.0.1. Close it with `await hub.close()`. */
export function startHubServer(options: HubServerOptions = {}): Promise<HubServer> {
  return Promise.resolve(new HubServer(options));
}
