/**
 * A local stand-in for huggingface.co, for tests and benchmarks: two HTTP origins on 127.0.0.1 (ports
 * chosen by the OS) — `hub.url` for the API and `/resolve`, `hub.cdnUrl` for LFS content, which
 * `/resolve` 302-redirects to, as the real Hub does.
 *
 * It serves what gpux and `@huggingface/hub` 2.17.5 ask for: model info (`/api/models/{repo}[/revision/{rev}]`,
 * with `expand` and `blobs`), the paged tree (`/api/models/{repo}/tree/{rev}[/{path}]` with `Link`), paths-info,
 * refs, resolve (`GET|HEAD`, `Range`, `ETag`/`X-Linked-Etag`/`X-Linked-Size`/`X-Repo-Commit`), the model list
 * (`/api/models?search=&author=&pipeline_tag=&library=&filter=&sort=&direction=&limit=`, paged with `Link`) and
 * `/api/whoami-v2`. Errors carry a JSON `{"error"}` body and `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`,
 * `EntryNotFound`, `GatedRepo`) with the Hub's statuses. Xet is never advertised, so clients use plain LFS downloads.
 *
 * Repositories are built in memory: every commit keeps its own file set; files are strings, bytes or
 * `{ size, seed }` — deterministic pseudo-random content generated on the fly (random access, never held in
 * memory, ~2 GB/s), hashed once by streaming and memoized. Faults (`addFault`) and traffic shaping
 * (`firstByteDelayMs`, `bytesPerSecond` per connection) make the network misbehave on purpose. Every request
 * is recorded in `hub.requests` (tokens redacted).
 *
 * Standalone: `npx deno run -A tests/support/hub_server.ts --demo [--port N] [--cdn-port N]` serves a few demo
 * repos and prints the URLs and tokens.
 *
 * @example
 * ```ts
 * const hub = await startHubServer({ pageSize: 2 });
 * hub.addUser("alice", "hf_alice_secret_token", { orgs: ["acme"] });
 * const repo = hub.addRepo("acme/tiny", { libraryName: "onnx", pipelineTag: "feature-extraction" });
 * const sha = repo.commit({ "config.json": "{}", "onnx/model.onnx": { size: 5_000_000, seed: 1 } });
 * const res = await fetch(`${hub.url}/acme/tiny/resolve/${sha}/config.json`);
 * await hub.close();
 * ```
 *
 * @module
 */
import { createHash, createHmac, randomBytes } from "node:crypto";

// ---------------------------------------------------------------------------------------------------------------
// Public types

/** Deterministic pseudo-random content of `size` bytes, generated on the fly. */
export interface GeneratedFile {
  size: number;
  seed: number;
  /** Force LFS (true) or a plain git file (false); default: by name and size. */
  lfs?: boolean;
}

/** Literal content with an explicit LFS choice. */
export interface LiteralFile {
  content: string | Uint8Array;
  lfs?: boolean;
}

/** A file in a commit: text (UTF-8), bytes, generated or literal content; `null` deletes the path. */
export type FileSpec = string | Uint8Array | GeneratedFile | LiteralFile | null;

/** Traffic shaping, applied to both origins. */
export interface ShapingOptions {
  /** Wait before the first byte (the headers) of every response, ms. */
  firstByteDelayMs?: number;
  /** Body bytes per second, per connection (per response: HTTP/1.1 carries one at a time). */
  bytesPerSecond?: number;
}

/** Options of {@linkcode startHubServer}. */
export interface HubServerOptions {
  /** Page size of the tree and of the model list (default 50); a smaller `limit` asked by a client wins. */
  pageSize?: number;
  shaping?: ShapingOptions;
  /** Port of the API origin (default 0: any free port). */
  port?: number;
  /** Port of the CDN origin (default 0). */
  cdnPort?: number;
}

/** Options of {@linkcode HubServer.addUser}. */
export interface AddUserOptions {
  orgs?: string[];
  fullname?: string;
  /** Token role reported by whoami (default "read"). */
  role?: "read" | "write" | "fineGrained";
  /** Token name reported by whoami (default "test-token"). */
  tokenName?: string;
  email?: string;
}

/** Options of {@linkcode HubServer.addRepo}. */
export interface AddRepoOptions {
  private?: boolean;
  gated?: false | "auto" | "manual";
  pipelineTag?: string;
  libraryName?: string;
  tags?: string[];
  license?: string;
  downloads?: number;
  likes?: number;
  author?: string;
  /** Extra model-card metadata (merged over README.md's front matter and `license`). */
  cardData?: Record<string, unknown>;
  createdAt?: Date;
}

/** Options of {@linkcode HubRepo.commit}. */
export interface CommitOptions {
  branch?: string;
  message?: string;
  /** Commit date (default now; always later than the branch's previous commit). */
  date?: Date;
}

/** What the server knows of one file at one revision. */
export interface HubFileInfo {
  path: string;
  size: number;
  /** sha256 of the content, for LFS files. */
  sha256?: string;
  /** Git blob sha1 (for LFS files: of the pointer file), as the tree's `oid`. */
  oid: string;
  lfs: boolean;
  /** The commit the revision resolved to. */
  commit: string;
  /** The last commit that changed this file. */
  lastCommit: string;
}

/** Which origin a request reached. */
export type Origin = "hub" | "cdn";

/** One request as the server saw it. */
export interface RecordedRequest {
  origin: Origin;
  method: string;
  /** Path as sent (percent-encoding kept). */
  path: string;
  /** Query string with its `?`, or "". */
  search: string;
  /** Lower-case header names; `authorization` redacted to `Bearer ***`. */
  headers: Record<string, string>;
  /** Status answered (0 until decided). */
  status: number;
  /** The `Range` header, when sent. */
  range?: string;
  /** The user whose token authenticated the request. */
  user?: string;
  /** Body bytes actually sent (updated while streaming). */
  bytesSent: number;
}

/** Which requests a fault applies to (all given conditions must hold). */
export interface FaultMatch {
  /** Substring of the path (raw or decoded), or a RegExp tested against both. */
  path?: string | RegExp;
  origin?: Origin;
  method?: string;
}

interface FaultBase {
  match?: FaultMatch;
  /** How many matching responses it hits (default 1; Infinity for always). */
  times?: number;
}

/** Injected misbehaviour. Body faults (drop, stall, corrupt, ignoreRange) skip redirects and HEAD. */
export type Fault =
  & FaultBase
  & (
    | {
      kind: "status";
      status: number;
      /** Sent as `X-Error-Code` (`code` is an alias). */
      errorCode?: string;
      code?: string;
      message?: string;
      headers?: Record<string, string>;
    }
    | { kind: "rateLimit"; retryAfter?: number }
    | { kind: "drop"; afterBytes?: number }
    | { kind: "stall"; afterBytes?: number }
    | { kind: "corrupt" }
    | { kind: "ignoreRange" }
    | { kind: "delay"; ms: number }
    | { kind: "html"; status?: number; body?: string }
    | {
      /** The tree's pages link back to the first page forever, as a broken or hostile mirror might. */
      kind: "pagingLoop";
    }
    | {
      /** Adds entries to the file list (the tree's last page), as a broken or hostile mirror might. */
      kind: "listing";
      entries: ListingFaultEntry[];
    }
  );

/**
 * One entry a `listing` fault adds to the tree: `copyOf` takes the oid, size and LFS data of a real
 * file of the commit (so the content exists and is served under that file's name); any field given
 * overrides. The local hub itself refuses such paths in commits, hence this fault.
 */
export interface ListingFaultEntry {
  path: unknown;
  copyOf?: string;
  oid?: unknown;
  size?: unknown;
  lfs?: { oid: unknown; size: unknown; pointerSize?: number };
}

/** Returned by {@linkcode HubServer.addFault}. */
export interface FaultHandle {
  /** Responses it has hit so far. */
  readonly hits: number;
  /** Hits left. */
  readonly remaining: number;
  remove(): void;
}

// ---------------------------------------------------------------------------------------------------------------
// Content: literal or generated, random access, hashed once

const LFS_EXTENSIONS = [
  ".onnx",
  ".onnx_data",
  ".onnx.data",
  ".bin",
  ".safetensors",
  ".pt",
  ".pth",
  ".h5",
  ".gguf",
  ".tflite",
  ".msgpack",
];
const LFS_SIZE_THRESHOLD = 10 * 1024 * 1024;
const GEN_BLOCK = 1 << 16;
const GEN_WORDS = GEN_BLOCK >>> 2;
const HASH_CHUNK = 4 << 20;

interface Hashes {
  sha256: string;
  /** sha1("blob N\0" + content); "" for generated LFS content, which never needs it. */
  gitSha1: string;
}

const generatedHashes = new Map<string, Hashes>();
const hashingNow = new Map<string, Promise<Hashes>>();

function mix32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((b + 0x7f4a7c15) | 0, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  h ^= h >>> 16;
  return h | 1;
}

/** Fills one 64 KiB block (xorshift128 seeded by seed and block index). */
function fillBlock(seed: number, block: number, out: Uint32Array, offset: number): void {
  const lo = block >>> 0;
  const hi = Math.floor(block / 2 ** 32);
  let x = mix32(seed, lo);
  let y = mix32(lo ^ 0x1234567, seed + hi);
  let z = mix32(seed + 17, lo + 31);
  let w = mix32(lo ^ 0xabcdef, seed ^ hi);
  for (let i = 0; i < GEN_WORDS; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = (w ^ (w >>> 19)) ^ (t ^ (t >>> 8));
    out[offset + i] = w;
  }
}

/** Bytes [start, end) of generated content with this seed. */
export function generateBytes(seed: number, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  if (end <= start) return out;
  const firstBlock = Math.floor(start / GEN_BLOCK);
  const lastBlock = Math.floor((end - 1) / GEN_BLOCK);
  const aligned = start % GEN_BLOCK === 0 && end % GEN_BLOCK === 0;
  if (aligned) {
    const words = new Uint32Array(out.buffer);
    for (let b = firstBlock; b <= lastBlock; b++) fillBlock(seed, b, words, (b - firstBlock) * GEN_WORDS);
    return out;
  }
  const scratch = new Uint32Array((lastBlock - firstBlock + 1) * GEN_WORDS);
  for (let b = firstBlock; b <= lastBlock; b++) fillBlock(seed, b, scratch, (b - firstBlock) * GEN_WORDS);
  const bytes = new Uint8Array(scratch.buffer);
  const from = start - firstBlock * GEN_BLOCK;
  out.set(bytes.subarray(from, from + out.length));
  return out;
}

class Content {
  readonly size: number;
  readonly lfs: boolean;
  /** Stable identity for commit shas and the hash memo. */
  readonly key: string;
  #bytes?: Uint8Array;
  #seed = 0;
  #hashes?: Hashes;

  constructor(path: string, spec: Exclude<FileSpec, null>) {
    let lfs: boolean | undefined;
    if (typeof spec === "string" || spec instanceof Uint8Array) {
      this.#bytes = typeof spec === "string" ? new TextEncoder().encode(spec) : spec.slice();
    } else if ("content" in spec) {
      const c = spec.content;
      this.#bytes = typeof c === "string" ? new TextEncoder().encode(c) : c.slice();
      lfs = spec.lfs;
    } else {
      if (!Number.isSafeInteger(spec.size) || spec.size < 0) throw new TypeError(`bad size for ${path}: ${spec.size}`);
      this.#seed = spec.seed | 0;
      this.size = spec.size;
      lfs = spec.lfs;
    }
    this.size ??= this.#bytes!.length;
    const lower = path.toLowerCase();
    this.lfs = lfs ?? (LFS_EXTENSIONS.some((ext) => lower.endsWith(ext)) || this.size > LFS_SIZE_THRESHOLD);
    if (this.#bytes) {
      this.#hashes = hashBytes(this.#bytes);
      this.key = `git:${this.#hashes.gitSha1}`;
    } else {
      // LFS content needs only sha256 (the git oid is the pointer's): its memo entry skips the sha1.
      this.key = `gen:${this.size}:${this.#seed}:${this.lfs ? "lfs" : "git"}`;
      this.#hashes = generatedHashes.get(this.key);
    }
  }

  read(start: number, end: number): Uint8Array {
    if (this.#bytes) return this.#bytes.slice(start, end);
    return generateBytes(this.#seed, start, end);
  }

  get hashed(): Hashes | undefined {
    return this.#hashes ?? generatedHashes.get(this.key);
  }

  /** Hashes, computed synchronously (blocking) if not known yet. */
  hashesSync(): Hashes {
    const known = this.hashed;
    if (known) return (this.#hashes = known);
    const sha256 = createHash("sha256");
    const sha1 = this.lfs ? undefined : createHash("sha1").update(`blob ${this.size}\0`);
    for (let at = 0; at < this.size; at += HASH_CHUNK) {
      const chunk = this.read(at, Math.min(this.size, at + HASH_CHUNK));
      sha256.update(chunk);
      sha1?.update(chunk);
    }
    return this.#remember({ sha256: sha256.digest("hex"), gitSha1: sha1?.digest("hex") ?? "" });
  }

  /** Hashes, computed in chunks that let the event loop breathe; stops early when `signal` aborts. */
  hashes(signal: AbortSignal): Promise<Hashes> {
    const known = this.hashed;
    if (known) return Promise.resolve(this.#hashes = known);
    let hashing = hashingNow.get(this.key);
    if (hashing) return hashing;
    hashing = (async () => {
      const sha256 = createHash("sha256");
      const sha1 = this.lfs ? undefined : createHash("sha1").update(`blob ${this.size}\0`);
      for (let at = 0; at < this.size; at += HASH_CHUNK) {
        if (signal.aborted) throw new Error("hub server closed");
        const chunk = this.read(at, Math.min(this.size, at + HASH_CHUNK));
        sha256.update(chunk);
        sha1?.update(chunk);
        if (at % (HASH_CHUNK * 4) === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      }
      return this.#remember({ sha256: sha256.digest("hex"), gitSha1: sha1?.digest("hex") ?? "" });
    })().finally(() => hashingNow.delete(this.key));
    hashingNow.set(this.key, hashing);
    return hashing;
  }

  #remember(hashes: Hashes): Hashes {
    this.#hashes = hashes;
    if (!this.#bytes) generatedHashes.set(this.key, hashes);
    return hashes;
  }
}

function hashBytes(bytes: Uint8Array): Hashes {
  return {
    sha256: createHash("sha256").update(bytes).digest("hex"),
    gitSha1: gitBlobSha1(bytes),
  };
}

function gitBlobSha1(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

function sha1Hex(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/** The LFS pointer file that git stores in place of an LFS file. */
export function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// Repositories

interface FileEntry {
  content: Content;
  /** sha of the last commit that changed the file. */
  lastCommit: string;
}

interface Commit {
  sha: string;
  parent?: string;
  message: string;
  date: Date;
  files: Map<string, FileEntry>;
}

interface User {
  name: string;
  token: string;
  orgs: string[];
  fullname: string;
  role: string;
  tokenName: string;
  email: string;
}

let commitCounter = 0;

/** One model repository on the local hub. */
export class HubRepo {
  /** `org/name` (or a bare `name`). */
  readonly id: string;
  readonly options: AddRepoOptions;
  readonly createdAt: Date;
  /** @internal */ readonly branches = new Map<string, string>();
  /** @internal */ readonly tags = new Map<string, string>();
  /** @internal */ readonly prs = new Map<number, string>();
  /** @internal */ readonly commits = new Map<string, Commit>();
  /** @internal */ readonly access = new Set<string>();

  constructor(id: string, options: AddRepoOptions) {
    this.id = id;
    this.options = { ...options };
    this.createdAt = options.createdAt ?? new Date();
  }

  /** The namespace (org or user) of the repo; "" for a bare name. */
  get namespace(): string {
    return this.id.includes("/") ? this.id.split("/")[0] : "";
  }

  /**
   * Commits `files` onto `branch` (default "main"; created if missing), merged over its previous commit;
   * `null` deletes a path. Returns the new commit sha (40 hex, deterministic).
   */
  commit(files: Record<string, FileSpec>, options: CommitOptions = {}): string {
    const branch = options.branch ?? "main";
    const parentSha = this.branches.get(branch);
    const parent = parentSha ? this.commits.get(parentSha) : undefined;
    const next = new Map<string, Content | null>();
    const keyParts: string[] = [];
    for (const [rawPath, spec] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const path = normalizeRepoPath(rawPath);
      next.set(path, spec === null ? null : new Content(path, spec));
      keyParts.push(`${path}=${spec === null ? "-" : next.get(path)!.key}`);
    }
    const message = options.message ?? `Upload ${Object.keys(files).length} file(s)`;
    const sha = sha1Hex(
      `commit\0${this.id}\0${parentSha ?? ""}\0${message}\0${++commitCounter}\0${keyParts.join("\n")}`,
    );
    const merged = new Map<string, FileEntry>(parent?.files);
    for (const [path, content] of next) {
      if (content === null) {
        merged.delete(path);
        // deleting a directory deletes everything under it
        for (const p of [...merged.keys()]) if (p.startsWith(`${path}/`)) merged.delete(p);
      } else {
        merged.set(path, { content, lastCommit: sha });
      }
    }
    let date = options.date ?? new Date();
    if (!options.date && parent && date.getTime() <= parent.date.getTime()) {
      date = new Date(parent.date.getTime() + 1000);
    }
    this.commits.set(sha, { sha, parent: parentSha, message, date, files: merged });
    this.branches.set(branch, sha);
    return sha;
  }

  /** Points tag `name` at `sha` (a commit sha or any revision). */
  tag(name: string, sha: string): void {
    this.tags.set(name, this.#mustResolve(sha).sha);
  }

  /** Creates or moves branch `name` to `sha`. */
  branch(name: string, sha: string): void {
    this.branches.set(name, this.#mustResolve(sha).sha);
  }

  /** Creates or moves `refs/pr/{n}` to `sha`. */
  pr(n: number, sha: string): void {
    this.prs.set(n, this.#mustResolve(sha).sha);
  }

  /** Deletes a branch. */
  deleteBranch(name: string): void {
    this.branches.delete(name);
  }

  /** Gives `user` access: gated repos (conditions accepted) and private ones. */
  grantAccess(user: string): void {
    this.access.add(user);
  }

  /** Takes access away again. */
  revokeAccess(user: string): void {
    this.access.delete(user);
  }

  /** The commit a revision (branch, tag, sha, `refs/pr/N`, `HEAD`) points at, or undefined. */
  resolve(revision: string): string | undefined {
    return this.resolveCommit(revision)?.sha;
  }

  /** @internal */
  resolveCommit(revision: string): Commit | undefined {
    let sha: string | undefined;
    if (revision === "HEAD") sha = this.branches.get("main");
    else if (this.branches.has(revision)) sha = this.branches.get(revision);
    else if (this.tags.has(revision)) sha = this.tags.get(revision);
    else if (/^refs\/pr\/\d+$/.test(revision)) sha = this.prs.get(Number(revision.slice(8)));
    else if (revision.startsWith("refs/heads/")) sha = this.branches.get(revision.slice(11));
    else if (revision.startsWith("refs/tags/")) sha = this.tags.get(revision.slice(10));
    else if (/^[0-9a-f]{40}$/.test(revision)) sha = revision;
    return sha ? this.commits.get(sha) : undefined;
  }

  #mustResolve(revision: string): Commit {
    const commit = this.resolveCommit(revision);
    if (!commit) throw new Error(`${this.id}: unknown revision ${revision}`);
    return commit;
  }
}

function normalizeRepoPath(path: string): string {
  const clean = path.replace(/^\/+/, "").replace(/\/+$/, "");
  if (!clean || clean.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw new TypeError(`invalid repo path: ${JSON.stringify(path)}`);
  }
  return clean;
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP plumbing

/** What a route answers, before shaping and faults turn it into a Response. */
interface Reply {
  status: number;
  headers: Headers;
  body?: { size: number; read(start: number, end: number): Uint8Array };
  /** True for file content (resolve, CDN): only these honour `ignoreRange`. */
  content?: boolean;
}

interface ActiveFault {
  fault: Fault;
  remaining: number;
  hits: number;
}

const REQUEST_FAULTS = new Set(["status", "rateLimit", "delay", "html"]);

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string, readonly headers?: HeadersInit) {
    super(message);
  }
}

function bytesBody(bytes: Uint8Array): Reply["body"] {
  return { size: bytes.length, read: (s, e) => bytes.slice(s, e) };
}

function jsonReply(value: unknown, status = 200, headers?: HeadersInit): Reply {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  h.set("content-length", String(bytes.length));
  return { status, headers: h, body: bytesBody(bytes) };
}

function errorReply(status: number, message: string, code?: string, headers?: HeadersInit): Reply {
  const h = new Headers(headers);
  if (code) h.set("x-error-code", code);
  h.set("x-error-message", message);
  return jsonReply({ error: message }, status, h);
}

/** Sleeps; resolves early (without throwing) when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Parses a single `Range: bytes=…`; null when absent or unusable (serve all), "unsatisfiable" for 416. */
function parseRange(header: string | null, size: number): { start: number; end: number } | "unsatisfiable" | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === "" ? size - 1 : Number(m[2]);
  if (m[2] !== "" && last < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(last, size - 1) };
}

function contentTypeFor(path: string): string {
  if (path.endsWith(".json")) return "application/json; charset=utf-8";
  if (/\.(md|txt|py|yaml|yml|gitattributes|csv)$/i.test(path) || !path.includes(".")) {
    return "text/plain; charset=utf-8";
  }
  return "application/octet-stream";
}

function contentDisposition(path: string): string {
  const name = path.split("/").pop()!;
  return `inline; filename*=UTF-8''${encodeURIComponent(name)}; filename="${name.replace(/["\\]/g, "_")}";`;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, `invalid percent-encoding in ${JSON.stringify(s)}`);
  }
}

function objectId(text: string): string {
  return sha1Hex(text).slice(0, 24);
}

/** Parses YAML front matter's simple top-level `key: value` and `key:\n  - item` lines. */
function frontMatter(text: string): Record<string, unknown> {
  const m = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text);
  if (!m) return {};
  const out: Record<string, unknown> = {};
  let listKey: string | undefined;
  for (const line of m[1].split(/\r?\n/)) {
    const item = /^\s+-\s+(.*)$/.exec(line) ?? /^-\s+(.*)$/.exec(line);
    if (item && listKey) {
      (out[listKey] as unknown[]).push(unquote(item[1]));
      continue;
    }
    const kv = /^([A-Za-z0-9_-]+):\s*(.*)$/.exec(line);
    if (!kv) continue;
    if (kv[2] === "") {
      listKey = kv[1];
      out[listKey] = [];
    } else {
      listKey = undefined;
      out[kv[1]] = unquote(kv[2]);
    }
  }
  return out;
}

function unquote(v: string): string {
  const t = v.trim();
  return /^(["']).*\1$/.test(t) ? t.slice(1, -1) : t;
}

const REPO_OPS = new Set(["revision", "tree", "paths-info", "refs", "commits", "resolve", "raw"]);

// ---------------------------------------------------------------------------------------------------------------
// The server

/** The local hub. Create with {@linkcode startHubServer}. */
export class HubServer {
  /** API origin, e.g. `http://127.0.0.1:PORT` (pass as `HF_ENDPOINT` / `hubUrl`). */
  readonly url: string;
  /** CDN origin that LFS downloads are redirected to. */
  readonly cdnUrl: string;
  /** Every request both origins saw, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Page size of the tree and the model list. */
  pageSize: number;
  #shaping: ShapingOptions;
  #users = new Map<string, User>();
  #repos = new Map<string, HubRepo>();
  #faults: ActiveFault[] = [];
  #closing = new AbortController();
  #servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  #bodies = new Set<() => void>();
  #pending = new Set<Promise<unknown>>();
  #cdnBlobs = new Map<string, Content>();
  #secret = randomBytes(16).toString("hex");
  #closed?: Promise<void>;
  #requestCounter = 0;

  /** @internal use {@linkcode startHubServer} */
  constructor(options: HubServerOptions) {
    this.pageSize = Math.max(1, options.pageSize ?? 50);
    this.#shaping = { ...options.shaping };
    const serve = (origin: Origin, port: number) =>
      Deno.serve({
        hostname: "127.0.0.1",
        port,
        signal: this.#closing.signal,
        onListen: () => {},
        onError: (error) => new Response(JSON.stringify({ error: String(error) }), { status: 500 }),
      }, (req, info) => this.#track(this.#handle(origin, req, info)));
    const hub = serve("hub", options.port ?? 0);
    const cdn = serve("cdn", options.cdnPort ?? 0);
    this.#servers.push(hub, cdn);
    this.url = `http://127.0.0.1:${hub.addr.port}`;
    this.cdnUrl = `http://127.0.0.1:${cdn.addr.port}`;
  }

  // ----- set-up ------------------------------------------------------------------------------------------------

  /** Adds a user with an access token (must start with `hf_` for `@huggingface/hub`). */
  addUser(name: string, token: string, options: AddUserOptions = {}): void {
    this.#users.set(token, {
      name,
      token,
      orgs: options.orgs ?? [],
      fullname: options.fullname ?? name,
      role: options.role ?? "read",
      tokenName: options.tokenName ?? "test-token",
      email: options.email ?? `${name}@example.com`,
    });
  }

  /** Adds an empty model repository (no commits until {@linkcode HubRepo.commit}). */
  addRepo(id: string, options: AddRepoOptions = {}): HubRepo {
    if (this.#repos.has(id)) throw new Error(`repo ${id} exists already`);
    if (!/^([\w.-]+\/)?[\w.-]+$/.test(id)) throw new TypeError(`invalid repo id ${JSON.stringify(id)}`);
    const repo = new HubRepo(id, options);
    this.#repos.set(id, repo);
    return repo;
  }

  /** The repo with this id (throws if unknown). */
  repo(id: string): HubRepo {
    const repo = this.#repos.get(id);
    if (!repo) throw new Error(`no repo ${id}`);
    return repo;
  }

  /** Removes a repo (later requests get RepoNotFound). */
  removeRepo(id: string): void {
    this.#repos.delete(id);
  }

  /** Size, hashes and LFS-ness of a file at a revision (hashes generated content synchronously if needed). */
  fileInfo(repoId: string, path: string, revision = "main"): HubFileInfo {
    const repo = this.repo(repoId);
    const commit = repo.resolveCommit(revision);
    if (!commit) throw new Error(`${repoId}: unknown revision ${revision}`);
    const entry = commit.files.get(normalizeRepoPath(path));
    if (!entry) throw new Error(`${repoId}@${revision}: no file ${path}`);
    const hashes = entry.content.hashesSync();
    return {
      path,
      size: entry.content.size,
      sha256: entry.content.lfs ? hashes.sha256 : undefined,
      oid: entry.content.lfs
        ? gitBlobSha1(new TextEncoder().encode(lfsPointer(hashes.sha256, entry.content.size)))
        : hashes.gitSha1,
      lfs: entry.content.lfs,
      commit: commit.sha,
      lastCommit: entry.lastCommit,
    };
  }

  /** The bytes [start, end) of a file at a revision (for assertions; keep ranges small). */
  fileBytes(repoId: string, path: string, revision = "main", start = 0, end?: number): Uint8Array {
    const commit = this.repo(repoId).resolveCommit(revision);
    const entry = commit?.files.get(normalizeRepoPath(path));
    if (!entry) throw new Error(`${repoId}@${revision}: no file ${path}`);
    return entry.content.read(start, Math.min(end ?? entry.content.size, entry.content.size));
  }

  /** Forgets the recorded requests. */
  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Injects a fault; the first matching fault (in order added) applies, `times` times (default 1). */
  addFault(fault: Fault): FaultHandle {
    const active: ActiveFault = { fault, remaining: fault.times ?? 1, hits: 0 };
    this.#faults.push(active);
    const faults = this.#faults;
    return {
      get hits() {
        return active.hits;
      },
      get remaining() {
        return active.remaining;
      },
      remove() {
        const i = faults.indexOf(active);
        if (i >= 0) faults.splice(i, 1);
      },
    };
  }

  /** Removes every fault. */
  clearFaults(): void {
    this.#faults.length = 0;
  }

  /** Replaces the traffic shaping (`{}` turns it off). */
  setShaping(shaping: ShapingOptions): void {
    this.#shaping = { ...shaping };
  }

  /** Stops both origins, cutting stalled and slow responses; resolves when everything is released. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      for (const cut of [...this.#bodies]) cut();
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

  async #handle(origin: Origin, req: Request, _info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const url = new URL(req.url);
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
    const requestId = `Root=1-local-${++this.#requestCounter}`;
    // Not req.signal: Deno aborts it after every successful response; a client that goes away cancels the body.
    const signal = this.#closing.signal;
    let reply: Reply;
    try {
      const fault = this.#takeFault(origin, req.method, url, (f) => REQUEST_FAULTS.has(f.kind));
      if (fault?.kind === "delay") await sleep(fault.ms, signal);
      reply = fault && fault.kind !== "delay"
        ? this.#faultReply(fault)
        : origin === "hub"
        ? await this.#routeHub(req, url, record, signal)
        : this.#routeCdn(req, url);
    } catch (error) {
      reply = error instanceof HttpError
        ? errorReply(error.status, error.message, error.code, error.headers)
        : errorReply(500, `internal error in the local hub: ${error instanceof Error ? error.stack : error}`);
    }
    record.status = reply.status;
    reply.headers.set("x-request-id", requestId);
    await sleep(this.#shaping.firstByteDelayMs ?? 0, signal);
    if (req.method === "HEAD" || !reply.body || reply.status === 304) {
      return new Response(null, { status: reply.status, headers: reply.headers });
    }
    // A drop or stall only takes a response longer than its afterBytes (else it could not show).
    const size = reply.body.size;
    const bodyFault = reply.status < 300 && size > 0
      ? this.#takeFault(
        origin,
        req.method,
        url,
        (f) => f.kind === "corrupt" || ((f.kind === "drop" || f.kind === "stall") && (f.afterBytes ?? 0) < size),
      )
      : undefined;
    return new Response(this.#stream(reply.body, record, bodyFault, signal), {
      status: reply.status,
      headers: reply.headers,
    });
  }

  #takeFault(origin: Origin, method: string, url: URL, kind: (f: Fault) => boolean): Fault | undefined {
    let decoded = url.pathname;
    try {
      decoded = decodeURIComponent(url.pathname);
    } catch { /* keep raw */ }
    for (const active of this.#faults) {
      const { fault } = active;
      if (active.remaining <= 0 || !kind(fault)) continue;
      const m = fault.match ?? {};
      if (m.origin && m.origin !== origin) continue;
      if (m.method && m.method.toUpperCase() !== method) continue;
      if (m.path !== undefined) {
        const hit = typeof m.path === "string"
          ? url.pathname.includes(m.path) || decoded.includes(m.path)
          : (m.path.lastIndex = 0, m.path.test(url.pathname)) || (m.path.lastIndex = 0, m.path.test(decoded));
        if (!hit) continue;
      }
      active.remaining--;
      active.hits++;
      if (active.remaining <= 0) this.#faults.splice(this.#faults.indexOf(active), 1);
      return fault;
    }
    return undefined;
  }

  #faultReply(fault: Fault): Reply {
    switch (fault.kind) {
      case "status":
        return errorReply(
          fault.status,
          fault.message ?? `injected HTTP ${fault.status}`,
          fault.errorCode ?? fault.code,
          fault.headers,
        );
      case "rateLimit":
        return errorReply(
          429,
          "You have been rate-limited; you can retry this action in a little while.",
          undefined,
          fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : undefined,
        );
      case "html": {
        const bytes = new TextEncoder().encode(
          fault.body ?? "<!DOCTYPE html><html><head><title>Hugging Face</title></head><body>Maintenance</body></html>",
        );
        return {
          status: fault.status ?? 200,
          headers: new Headers({ "content-type": "text/html; charset=utf-8", "content-length": String(bytes.length) }),
          body: bytesBody(bytes),
        };
      }
      default:
        throw new Error(`fault ${fault.kind} is not a request fault`);
    }
  }

  /**
   * Streams a body with shaping and body faults. Closing the stream short of its Content-Length makes Deno cut
   * the connection, so the client sees an error (drop, stall at close, server closing), never a clean end.
   */
  #stream(
    body: NonNullable<Reply["body"]>,
    record: RecordedRequest,
    fault: Fault | undefined,
    signal: AbortSignal,
  ): ReadableStream<Uint8Array> {
    const rate = this.#shaping.bytesPerSecond;
    const chunkSize = rate ? Math.max(1024, Math.min(256 * 1024, Math.floor(rate / 20))) : 256 * 1024;
    const stall = fault?.kind === "stall";
    const limit = fault?.kind === "drop" || fault?.kind === "stall"
      ? Math.min(body.size, Math.max(0, fault.afterBytes ?? 0))
      : body.size;
    const bodies = this.#bodies;
    const started = performance.now();
    let sent = 0;
    let ended = false;
    let wake: (() => void) | undefined;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const end = (): void => {
      if (ended) return;
      ended = true;
      bodies.delete(cut);
      signal.removeEventListener("abort", cut);
      wake?.();
    };
    const cut = (): void => {
      if (ended) return;
      end();
      try {
        controller.close();
      } catch { /* already closed or errored */ }
    };
    const wait = (ms: number | undefined) =>
      new Promise<void>((resolve) => {
        const timer = ms === undefined ? undefined : setTimeout(() => {
          wake = undefined;
          resolve();
        }, ms);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
      });
    return new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
        bodies.add(cut);
        signal.addEventListener("abort", cut, { once: true });
      },
      async pull(c) {
        if (ended) return;
        if (sent >= limit) {
          if (stall && sent < body.size) return await wait(undefined); // until the client goes or we close
          end();
          c.close();
          return;
        }
        if (rate) {
          const ms = started + (sent / rate) * 1000 - performance.now();
          if (ms > 1) {
            await wait(ms);
            if (ended) return;
          }
        }
        const n = Math.min(chunkSize, limit - sent);
        const chunk = body.read(sent, sent + n);
        if (fault?.kind === "corrupt") { for (let i = 0; i < chunk.length; i++) chunk[i] ^= 0xa5; }
        sent += n;
        record.bytesSent = sent;
        c.enqueue(chunk);
        if (sent >= body.size) {
          end();
          c.close();
        }
      },
      cancel() {
        end();
      },
    }, { highWaterMark: 0 });
  }

  // ----- hub origin --------------------------------------------------------------------------------------------

  #user(req: Request): User | undefined {
    const header = req.headers.get("authorization");
    if (!header) return undefined;
    const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
    const user = m ? this.#users.get(m[1]) : undefined;
    if (!user) throw new HttpError(401, "Invalid credentials in Authorization header");
    return user;
  }

  #isMember(repo: HubRepo, user: User | undefined): boolean {
    if (!user) return false;
    return repo.namespace === user.name || user.orgs.includes(repo.namespace) || repo.access.has(user.name);
  }

  #canRead(repo: HubRepo, user: User | undefined): boolean {
    return !repo.options.private || this.#isMember(repo, user);
  }

  /** The repo, or RepoNotFound (401 without a token, 404 with one) when unknown or private to others. */
  #readableRepo(id: string, user: User | undefined): HubRepo {
    const repo = this.#repos.get(id);
    if (!repo || !this.#canRead(repo, user)) {
      throw new HttpError(
        user ? 404 : 401,
        user
          ? "Repository not found"
          : "Repository not found. If the repo is private, make sure you are authenticated.",
        "RepoNotFound",
      );
    }
    return repo;
  }

  #commitOf(repo: HubRepo, revision: string): Commit {
    const commit = repo.resolveCommit(revision);
    if (!commit) throw new HttpError(404, `Invalid rev id: ${revision}`, "RevisionNotFound");
    return commit;
  }

  /** Splits `segments` into a repo id and the rest, preferring repos that exist. */
  #splitRepo(segments: string[]): { id: string; rest: string[] } {
    const [a, b] = segments.map(decodeSegment);
    if (a && b !== undefined && this.#repos.has(`${a}/${b}`)) return { id: `${a}/${b}`, rest: segments.slice(2) };
    if (a && this.#repos.has(a) && (b === undefined || REPO_OPS.has(b))) return { id: a, rest: segments.slice(1) };
    if (a && b !== undefined && !REPO_OPS.has(b)) return { id: `${a}/${b}`, rest: segments.slice(2) };
    return { id: a ?? "", rest: segments.slice(1) };
  }

  /** Splits `segments` into a revision (encoded in one segment, or raw like refs/pr/1) and a path. */
  #splitRevision(repo: HubRepo, segments: string[], needPath: boolean): { revision: string; path: string[] } {
    if (segments.length === 0) throw new HttpError(404, "Revision missing", "RevisionNotFound");
    const first = decodeSegment(segments[0]);
    if (!first.includes("/")) {
      const max = needPath ? segments.length - 1 : segments.length;
      for (let k = 1; k <= max; k++) {
        const candidate = segments.slice(0, k).map(decodeSegment).join("/");
        if (repo.resolveCommit(candidate)) return { revision: candidate, path: segments.slice(k).map(decodeSegment) };
      }
    }
    return { revision: first, path: segments.slice(1).map(decodeSegment) };
  }

  async #routeHub(req: Request, url: URL, record: RecordedRequest, signal: AbortSignal): Promise<Reply> {
    const user = this.#user(req);
    if (user) record.user = user.name;
    const segments = url.pathname.split("/").slice(1);
    if (segments.at(-1) === "" && segments.length > 1) segments.pop();
    const method = req.method === "HEAD" ? "GET" : req.method;
    if (segments[0] === "api") {
      if (segments[1] === "whoami-v2" && segments.length === 2 && method === "GET") return this.#whoami(user);
      if (segments[1] === "models") {
        if (segments.length === 2 && method === "GET") return this.#listModels(url, user);
        const { id, rest } = this.#splitRepo(segments.slice(2));
        const op = rest[0];
        const repo = this.#readableRepo(id, user);
        if (op === undefined && method === "GET") return await this.#modelInfo(repo, undefined, url, signal);
        if (op === "revision" && method === "GET") {
          const revision = rest.slice(1).map(decodeSegment).join("/");
          return await this.#modelInfo(repo, this.#commitOf(repo, revision), url, signal);
        }
        if (op === "tree" && method === "GET") {
          const { revision, path } = this.#splitRevision(repo, rest.slice(1), false);
          return await this.#tree(repo, this.#commitOf(repo, revision), path.join("/"), url, signal);
        }
        if (op === "paths-info" && method === "POST") {
          const revision = rest.slice(1).map(decodeSegment).join("/");
          return await this.#pathsInfo(repo, this.#commitOf(repo, revision), req, signal);
        }
        if (op === "refs" && method === "GET") return this.#refs(repo, url);
        if (op === "commits" && method === "GET") {
          const revision = rest.slice(1).map(decodeSegment).join("/");
          return this.#commits(repo, this.#commitOf(repo, revision));
        }
      }
      if (["datasets", "spaces"].includes(segments[1])) {
        throw new HttpError(user ? 404 : 401, "Repository not found", "RepoNotFound");
      }
      throw new HttpError(404, `Sorry, we can't find the page you are looking for (${url.pathname}).`);
    }
    const { id, rest } = this.#splitRepo(segments);
    if ((rest[0] === "resolve" || rest[0] === "raw") && (method === "GET")) {
      const repo = this.#readableRepo(id, user);
      const { revision, path } = this.#splitRevision(repo, rest.slice(1), true);
      return await this.#resolve(repo, this.#commitOf(repo, revision), path.join("/"), req, user, rest[0], signal);
    }
    throw new HttpError(404, `Sorry, we can't find the page you are looking for (${url.pathname}).`);
  }

  #whoami(user: User | undefined): Reply {
    if (!user) throw new HttpError(401, "Invalid credentials in Authorization header");
    return jsonReply({
      type: "user",
      id: objectId(`user:${user.name}`),
      name: user.name,
      fullname: user.fullname,
      email: user.email,
      emailVerified: true,
      canPay: false,
      isPro: false,
      periodEnd: null,
      avatarUrl: `/avatars/${user.name}.svg`,
      orgs: user.orgs.map((name) => ({
        type: "org",
        id: objectId(`org:${name}`),
        name,
        fullname: name,
        isEnterprise: false,
        roleInOrg: "write",
        avatarUrl: `/avatars/${name}.svg`,
      })),
      auth: {
        type: "access_token",
        accessToken: { displayName: user.tokenName, role: user.role, createdAt: "2024-01-01T00:00:00.000Z" },
      },
    });
  }

  /** `entry` as the tree and paths-info describe it. */
  async #entryJson(
    path: string,
    entry: FileEntry,
    commits: Map<string, Commit>,
    expand: boolean,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const c = entry.content;
    const hashes = await c.hashes(signal);
    const json: Record<string, unknown> = { type: "file", size: c.size, path };
    if (c.lfs) {
      const pointer = new TextEncoder().encode(lfsPointer(hashes.sha256, c.size));
      json.oid = gitBlobSha1(pointer);
      json.lfs = { oid: hashes.sha256, size: c.size, pointerSize: pointer.length };
    } else {
      json.oid = hashes.gitSha1;
    }
    if (expand) {
      const last = commits.get(entry.lastCommit)!;
      json.lastCommit = { id: last.sha, title: last.message, date: last.date.toISOString() };
      json.securityFileStatus = { status: "safe" };
    }
    return { type: json.type, oid: json.oid, size: json.size, ...(json.lfs ? { lfs: json.lfs } : {}), ...json };
  }

  #directoryJson(commit: Commit, path: string, expand: boolean): Record<string, unknown> {
    const json: Record<string, unknown> = {
      type: "directory",
      oid: sha1Hex(`tree\0${commit.sha}\0${path}`),
      size: 0,
      path,
    };
    if (expand) json.lastCommit = { id: commit.sha, title: commit.message, date: commit.date.toISOString() };
    return json;
  }

  /** Directories implied by the commit's files. */
  #directories(commit: Commit): Set<string> {
    const dirs = new Set<string>();
    for (const path of commit.files.keys()) {
      const parts = path.split("/");
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
    }
    return dirs;
  }

  async #tree(repo: HubRepo, commit: Commit, dir: string, url: URL, signal: AbortSignal): Promise<Reply> {
    const recursive = ["true", "1"].includes(url.searchParams.get("recursive") ?? "");
    const expand = ["true", "1"].includes(url.searchParams.get("expand") ?? "");
    const dirs = this.#directories(commit);
    if (dir && !dirs.has(dir)) {
      throw new HttpError(404, `Entry not found: ${dir} is not a directory of ${repo.id}`, "EntryNotFound");
    }
    const prefix = dir ? `${dir}/` : "";
    const within = (p: string) => p.startsWith(prefix) && (recursive || !p.slice(prefix.length).includes("/"));
    const paths: { path: string; dir: boolean }[] = [
      ...[...dirs].filter(within).map((path) => ({ path, dir: true })),
      ...[...commit.files.keys()].filter(within).map((path) => ({ path, dir: false })),
    ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    let { page, next } = this.#page(paths, url);
    if (this.#takeFault("hub", "GET", url, (f) => f.kind === "pagingLoop")) {
      const params = new URLSearchParams(url.searchParams);
      params.delete("cursor");
      next = `<${this.url}${url.pathname}?${params}>; rel="next"`;
    }
    const items = [];
    for (const item of page) {
      items.push(
        item.dir
          ? this.#directoryJson(commit, item.path, expand)
          : await this.#entryJson(item.path, commit.files.get(item.path)!, repo.commits, expand, signal),
      );
    }
    if (!next) {
      const fault = this.#takeFault("hub", "GET", url, (f) => f.kind === "listing");
      if (fault?.kind === "listing") {
        for (const extra of fault.entries) {
          const base = extra.copyOf !== undefined
            ? await this.#entryJson(extra.copyOf, commit.files.get(extra.copyOf)!, repo.commits, expand, signal)
            : { type: "file", oid: "0".repeat(40), size: 0 };
          items.push({
            ...base,
            path: extra.path,
            ...(extra.oid !== undefined ? { oid: extra.oid } : {}),
            ...(extra.size !== undefined ? { size: extra.size } : {}),
            ...(extra.lfs !== undefined ? { lfs: { pointerSize: 130, ...extra.lfs } } : {}),
          });
        }
      }
    }
    return jsonReply(items, 200, next ? { link: next } : undefined);
  }

  /** One page of `items` after the request's cursor, and the `Link` header value for the next one. */
  #page<T>(items: T[], url: URL): { page: T[]; next?: string } {
    const limitParam = Number(url.searchParams.get("limit"));
    const size = Number.isInteger(limitParam) && limitParam > 0 ? Math.min(limitParam, this.pageSize) : this.pageSize;
    const cursor = url.searchParams.get("cursor");
    let offset = 0;
    if (cursor) {
      try {
        offset = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/"))).o;
      } catch {
        throw new HttpError(400, "Invalid cursor");
      }
      if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, "Invalid cursor");
    }
    const page = items.slice(offset, offset + size);
    if (offset + size >= items.length) return { page };
    const params = new URLSearchParams(url.searchParams);
    params.set("cursor", btoa(JSON.stringify({ o: offset + size })).replace(/\+/g, "-").replace(/\//g, "_"));
    return { page, next: `<${this.url}${url.pathname}?${params}>; rel="next"` };
  }

  async #pathsInfo(repo: HubRepo, commit: Commit, req: Request, signal: AbortSignal): Promise<Reply> {
    const type = req.headers.get("content-type") ?? "";
    let paths: string[] = [];
    let expand = false;
    const text = await req.text();
    if (type.includes("application/json") || text.trimStart().startsWith("{")) {
      let body: { paths?: unknown; expand?: unknown };
      try {
        body = JSON.parse(text);
      } catch {
        throw new HttpError(400, "Invalid JSON body");
      }
      paths = Array.isArray(body.paths) ? body.paths.map(String) : typeof body.paths === "string" ? [body.paths] : [];
      expand = body.expand === true || body.expand === "true";
    } else {
      const form = new URLSearchParams(text);
      paths = form.getAll("paths").flatMap((p) => p.split(","));
      expand = ["true", "1"].includes(form.get("expand") ?? "");
    }
    const dirs = this.#directories(commit);
    const out = [];
    for (const raw of paths) {
      const path = raw.replace(/^\/+|\/+$/g, "");
      const entry = commit.files.get(path);
      if (entry) out.push(await this.#entryJson(path, entry, repo.commits, expand, signal));
      else if (dirs.has(path)) out.push(this.#directoryJson(commit, path, expand));
    }
    return jsonReply(out);
  }

  #refs(repo: HubRepo, url: URL): Reply {
    const ref = (name: string, ref: string, sha: string) => ({ name, ref, targetCommit: sha });
    const json: Record<string, unknown> = {
      branches: [...repo.branches].map(([name, sha]) => ref(name, `refs/heads/${name}`, sha)),
      converts: [],
      tags: [...repo.tags].map(([name, sha]) => ref(name, `refs/tags/${name}`, sha)),
    };
    if (["true", "1"].includes(url.searchParams.get("include_prs") ?? "")) {
      json.pullRequests = [...repo.prs].map(([n, sha]) => ref(`refs/pr/${n}`, `refs/pr/${n}`, sha));
    }
    return jsonReply(json);
  }

  #commits(repo: HubRepo, commit: Commit): Reply {
    const out = [];
    for (let c: Commit | undefined = commit; c; c = c.parent ? repo.commits.get(c.parent) : undefined) {
      out.push({ id: c.sha, title: c.message, message: "", authors: [], date: c.date.toISOString() });
    }
    return jsonReply(out);
  }

  /** The model document, as `/api/models/{id}` returns it (all fields; callers pick). */
  #modelDoc(repo: HubRepo, commit: Commit | undefined): Record<string, unknown> {
    const o = repo.options;
    const siblings = commit ? [...commit.files.keys()].sort().map((rfilename) => ({ rfilename })) : [];
    let config: Record<string, unknown> | undefined;
    const configEntry = commit?.files.get("config.json");
    if (configEntry && configEntry.content.size < 1 << 20) {
      try {
        const parsed = JSON.parse(new TextDecoder().decode(configEntry.content.read(0, configEntry.content.size)));
        config = {};
        if (parsed.architectures) config.architectures = parsed.architectures;
        if (parsed.model_type) config.model_type = parsed.model_type;
      } catch { /* not JSON: no config */ }
    }
    let cardData: Record<string, unknown> | undefined;
    const readme = commit?.files.get("README.md");
    if (readme && readme.content.size < 1 << 20) {
      const fm = frontMatter(new TextDecoder().decode(readme.content.read(0, readme.content.size)));
      if (Object.keys(fm).length) cardData = fm;
    }
    if (o.license) cardData = { license: o.license, ...cardData };
    if (o.cardData) cardData = { ...cardData, ...o.cardData };
    const lastModified = (commit?.date ?? repo.createdAt).toISOString();
    return {
      _id: objectId(`model:${repo.id}`),
      id: repo.id,
      modelId: repo.id,
      author: o.author ?? (repo.namespace || undefined),
      sha: commit?.sha,
      lastModified,
      createdAt: repo.createdAt.toISOString(),
      private: !!o.private,
      disabled: false,
      gated: o.gated ?? false,
      ...(o.pipelineTag ? { pipeline_tag: o.pipelineTag } : {}),
      ...(o.libraryName ? { library_name: o.libraryName } : {}),
      tags: [...(o.tags ?? [])],
      downloads: o.downloads ?? 0,
      likes: o.likes ?? 0,
      trendingScore: 0,
      ...(cardData ? { cardData } : {}),
      ...(config ? { config } : {}),
      siblings,
      spaces: [],
      usedStorage: commit ? [...commit.files.values()].reduce((n, e) => n + e.content.size, 0) : 0,
    };
  }

  async #modelInfo(repo: HubRepo, commit: Commit | undefined, url: URL, signal: AbortSignal): Promise<Reply> {
    commit ??= repo.resolveCommit("main");
    const expand = expandKeys(url);
    const blobs = ["true", "1"].includes(url.searchParams.get("blobs") ?? "");
    const doc = this.#modelDoc(repo, commit);
    if (blobs && commit) {
      const siblings = [];
      for (const { rfilename } of doc.siblings as { rfilename: string }[]) {
        const entry = await this.#entryJson(rfilename, commit.files.get(rfilename)!, repo.commits, false, signal);
        const lfs = entry.lfs as { oid: string; size: number; pointerSize: number } | undefined;
        siblings.push({
          rfilename,
          blobId: entry.oid,
          size: entry.size,
          ...(lfs ? { lfs: { sha256: lfs.oid, size: lfs.size, pointerSize: lfs.pointerSize } } : {}),
        });
      }
      doc.siblings = siblings;
    }
    return jsonReply(expand.length ? pick(doc, ["_id", "id", ...expand]) : doc);
  }

  #listModels(url: URL, user: User | undefined): Reply {
    const q = url.searchParams;
    const search = q.get("search")?.toLowerCase();
    const author = q.get("author");
    const task = q.get("pipeline_tag");
    const library = q.get("library");
    const filters = q.getAll("filter").flatMap((f) => f.split(",")).filter(Boolean);
    const has = (repo: HubRepo, value: string) => {
      const o = repo.options;
      return o.libraryName === value || o.pipelineTag === value || (o.tags ?? []).includes(value) ||
        (o.license !== undefined && value === `license:${o.license}`);
    };
    let repos = [...this.#repos.values()].filter((repo) => {
      if (!this.#canRead(repo, user)) return false;
      if (search && !repo.id.toLowerCase().includes(search)) return false;
      if (author && repo.namespace !== author && repo.options.author !== author) return false;
      if (task && repo.options.pipelineTag !== task) return false;
      if (library && !(repo.options.libraryName === library || (repo.options.tags ?? []).includes(library))) {
        return false;
      }
      return filters.every((f) => has(repo, f));
    });
    const sort = q.get("sort");
    const direction = q.get("direction") === "1" ? 1 : -1;
    const keyOf = (repo: HubRepo): number | string => {
      switch (sort) {
        case "downloads":
          return repo.options.downloads ?? 0;
        case "likes":
          return repo.options.likes ?? 0;
        case "lastModified": {
          const sha = repo.branches.get("main");
          return (sha ? repo.commits.get(sha)!.date : repo.createdAt).getTime();
        }
        case "createdAt":
          return repo.createdAt.getTime();
        case "id":
          return repo.id;
        default:
          return 0;
      }
    };
    if (sort && sort !== "trendingScore") {
      repos = repos
        .map((repo, i) => ({ repo, i, key: keyOf(repo) }))
        .sort((a, b) => (a.key < b.key ? -direction : a.key > b.key ? direction : a.i - b.i))
        .map((x) => x.repo);
    }
    const { page, next } = this.#page(repos, url);
    const expand = expandKeys(url);
    const full = ["true", "1"].includes(q.get("full") ?? "");
    const docs = page.map((repo) => {
      const doc = this.#modelDoc(repo, repo.resolveCommit("main"));
      if (expand.length) return pick(doc, ["_id", "id", ...expand]);
      const base = [
        "_id",
        "id",
        "likes",
        "downloads",
        "trendingScore",
        "private",
        "tags",
        "pipeline_tag",
        "library_name",
        "createdAt",
        "modelId",
      ];
      return pick(doc, full ? [...base, "author", "sha", "lastModified", "gated", "disabled", "siblings"] : base);
    });
    return jsonReply(docs, 200, next ? { link: next } : undefined);
  }

  async #resolve(
    repo: HubRepo,
    commit: Commit,
    path: string,
    req: Request,
    user: User | undefined,
    kind: string,
    signal: AbortSignal,
  ): Promise<Reply> {
    if (repo.options.gated && !this.#isMember(repo, user)) {
      throw user
        ? new HttpError(
          403,
          `Access to model ${repo.id} is restricted and you are not in the authorized list. Visit ${this.url}/${repo.id} to ask for access.`,
          "GatedRepo",
        )
        : new HttpError(
          401,
          `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
          "GatedRepo",
        );
    }
    const entry = commit.files.get(path);
    if (!entry) throw new HttpError(404, "Entry not found", "EntryNotFound");
    const c = entry.content;
    const headers = new Headers({
      "x-repo-commit": commit.sha,
      "accept-ranges": "bytes",
      "access-control-expose-headers":
        "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,Accept-Ranges,Content-Range,X-Linked-Size,X-Linked-ETag",
      "cache-control": "private, max-age=0, must-revalidate",
      vary: "Origin, Accept",
    });
    if (c.lfs && kind === "resolve") {
      const { sha256 } = await c.hashes(signal);
      const pointer = new TextEncoder().encode(lfsPointer(sha256, c.size));
      this.#cdnBlobs.set(sha256, c);
      const sig = createHmac("sha256", this.#secret).update(sha256).digest("hex").slice(0, 32);
      const location = `${this.cdnUrl}/lfs/${repo.id}/${sha256}/${path.split("/").map(encodeURIComponent).join("/")}` +
        `?expires=${Math.floor(Date.now() / 1000) + 3600}&signature=${sig}`;
      const text = new TextEncoder().encode(`Found. Redirecting to ${location}`);
      headers.set("location", location);
      headers.set("etag", `"${gitBlobSha1(pointer)}"`);
      headers.set("x-linked-etag", `"${sha256}"`);
      headers.set("x-linked-size", String(c.size));
      headers.set("content-type", "text/plain; charset=utf-8");
      headers.set("content-length", String(text.length));
      return { status: 302, headers, body: bytesBody(text) };
    }
    if (c.lfs) {
      // raw/ of an LFS file serves its pointer
      const { sha256 } = await c.hashes(signal);
      const pointer = new TextEncoder().encode(lfsPointer(sha256, c.size));
      headers.set("etag", `"${gitBlobSha1(pointer)}"`);
      return this.#content(req, "hub", headers, bytesBody(pointer)!, "text/plain; charset=utf-8", path);
    }
    headers.set("etag", `"${(await c.hashes(signal)).gitSha1}"`);
    return this.#content(req, "hub", headers, c, contentTypeFor(path), path);
  }

  /** File content with Range support (206 / 416), unless an `ignoreRange` fault says otherwise. */
  #content(
    req: Request,
    origin: Origin,
    headers: Headers,
    body: NonNullable<Reply["body"]>,
    contentType: string,
    path: string,
  ): Reply {
    headers.set("content-type", contentType);
    headers.set("content-disposition", contentDisposition(path));
    headers.set("accept-ranges", "bytes");
    const rangeHeader = req.headers.get("range");
    const url = new URL(req.url);
    const ignore = rangeHeader && this.#takeFault(origin, req.method, url, (f) => f.kind === "ignoreRange");
    const range = ignore ? null : parseRange(rangeHeader, body.size);
    if (range === "unsatisfiable") {
      headers.set("content-range", `bytes */${body.size}`);
      headers.set("content-type", "text/plain; charset=utf-8");
      const text = new TextEncoder().encode("Requested Range Not Satisfiable");
      headers.set("content-length", String(text.length));
      return { status: 416, headers, body: bytesBody(text) };
    }
    if (range) {
      headers.set("content-range", `bytes ${range.start}-${range.end}/${body.size}`);
      headers.set("content-length", String(range.end - range.start + 1));
      return {
        status: 206,
        headers,
        content: true,
        body: { size: range.end - range.start + 1, read: (s, e) => body.read(range.start + s, range.start + e) },
      };
    }
    headers.set("content-length", String(body.size));
    return { status: 200, headers, body, content: true };
  }

  // ----- CDN origin --------------------------------------------------------------------------------------------

  #routeCdn(req: Request, url: URL): Reply {
    if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "Method Not Allowed");
    const m = /^\/lfs\/(.+?)\/([0-9a-f]{64})\/(.+)$/.exec(url.pathname);
    const content = m ? this.#cdnBlobs.get(m[2]) : undefined;
    if (!m || !content) throw new HttpError(404, "NoSuchKey: The specified key does not exist.");
    const sig = createHmac("sha256", this.#secret).update(m[2]).digest("hex").slice(0, 32);
    const expires = Number(url.searchParams.get("expires"));
    if (url.searchParams.get("signature") !== sig || !(expires * 1000 > Date.now())) {
      throw new HttpError(403, "AccessDenied: Request has expired or the signature does not match.");
    }
    const path = m[3].split("/").map(decodeSegment).join("/");
    const headers = new Headers({
      etag: `"${m[2]}"`,
      "last-modified": new Date(0).toUTCString(),
      "cache-control": "public, max-age=604800, immutable, s-maxage=604800",
      "x-cache": "Miss from cloudfront",
    });
    return this.#content(req, "cdn", headers, content, "application/octet-stream", path);
  }
}

function expandKeys(url: URL): string[] {
  return [...url.searchParams.getAll("expand"), ...url.searchParams.getAll("expand[]")]
    .flatMap((v) => v.split(","))
    .filter(Boolean);
}

function pick(doc: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (doc[k] !== undefined) out[k] = doc[k];
  return out;
}

/** Starts the local hub on two free ports of 127.0.0.1. Close it with `await hub.close()`. */
export function startHubServer(options: HubServerOptions = {}): Promise<HubServer> {
  return Promise.resolve(new HubServer(options));
}

// ---------------------------------------------------------------------------------------------------------------
// Standalone demo

/** Adds the demo users and repos (also used by the demo mode and benchmarks). */
export function addDemoContent(hub: HubServer): void {
  hub.addUser("alice", "hf_alice_demo_token", { orgs: ["acme"], fullname: "Alice Demo" });
  hub.addUser("bob", "hf_bob_demo_token", { fullname: "Bob Demo" });
  const tiny = hub.addRepo("acme/tiny-onnx", {
    pipelineTag: "feature-extraction",
    libraryName: "transformers.js",
    tags: ["onnx", "bert"],
    license: "apache-2.0",
    downloads: 1200,
    likes: 12,
  });
  const sha = tiny.commit({
    "README.md": "---\nlicense: apache-2.0\ntags:\n  - onnx\n---\n\n# tiny-onnx\n\nA tiny demo model.\n",
    "config.json": JSON.stringify({ architectures: ["BertModel"], model_type: "bert" }),
    "tokenizer.json": JSON.stringify({ version: "1.0", model: { type: "WordPiece", vocab: { "[UNK]": 0 } } }),
    "onnx/model.onnx": { size: 200_000, seed: 1 },
    "onnx/model_fp16.onnx": { size: 100_000, seed: 2 },
    "onnx/model_quantized.onnx": { size: 50_000, seed: 3 },
  }, { message: "Add ONNX weights" });
  tiny.tag("v1.0", sha);
  const gated = hub.addRepo("acme/gated-model", { gated: "manual", libraryName: "onnx", downloads: 10 });
  gated.commit({ "config.json": "{}", "model.onnx": { size: 64_000, seed: 4 } });
  gated.grantAccess("bob");
  const priv = hub.addRepo("acme/private-model", { private: true, libraryName: "onnx" });
  priv.commit({ "config.json": "{}", "model.onnx": { size: 32_000, seed: 5 } });
  const big = hub.addRepo("acme/big-file", { libraryName: "onnx", downloads: 5 });
  big.commit({ "model.onnx": { size: 4096, seed: 6 }, "model.onnx_data": { size: 1_000_000_000, seed: 7 } });
}

if (import.meta.main) {
  const args = Deno.args;
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  if (!args.includes("--demo")) {
    console.error(
      "usage: deno run -A tests/support/hub_server.ts --demo [--port N] [--cdn-port N] [--delay-ms N] [--bytes-per-second N]",
    );
    Deno.exit(2);
  }
  const hub = await startHubServer({
    port: flag("--port"),
    cdnPort: flag("--cdn-port"),
    shaping: { firstByteDelayMs: flag("--delay-ms"), bytesPerSecond: flag("--bytes-per-second") },
  });
  addDemoContent(hub);
  console.log(`hub  ${hub.url}   (HF_ENDPOINT=${hub.url})`);
  console.log(`cdn  ${hub.cdnUrl}`);
  console.log("users: alice hf_alice_demo_token (org acme) · bob hf_bob_demo_token (granted acme/gated-model)");
  console.log("repos: acme/tiny-onnx (tag v1.0) · acme/gated-model · acme/private-model · acme/big-file (1 GB)");
  Deno.addSignalListener("SIGINT", () => {
    hub.close().then(() => Deno.exit(0));
  });
}
