/**
 * Repositories and users of the local hub: {@linkcode HubRepo} (commits that each keep their own file set,
 * branches, tags, `refs/pr/N`, granted access) and {@linkcode Repositories}, the registry of repos and
 * tokens that answers who may read what.
 *
 * @module
 */
import { Content, type FileSpec, gitBlobSha1, lfsPointerBytes, sha1Hex } from "./content.ts";

/** Options of `HubServer.addUser`. */
export interface AddUserOptions {
  orgs?: string[];
  fullname?: string;
  /** Token role reported by whoami (default "read"). */
  role?: "read" | "write" | "fineGrained";
  /** Token name reported by whoami (default "test-token"). */
  tokenName?: string;
  email?: string;
}

/** Options of `HubServer.addRepo`. */
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

/** One path of a commit. */
export interface FileEntry {
  content: Content;
  /** sha of the last commit that changed the file. */
  lastCommit: string;
}

/** One commit: its own complete file set. */
export interface Commit {
  sha: string;
  parent?: string;
  message: string;
  date: Date;
  files: Map<string, FileEntry>;
}

/** A user and their token. */
export interface User {
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

/** A repo path without leading/trailing slashes; throws on empty, `.` or `..` segments. */
export function normalizeRepoPath(path: string): string {
  const clean = path.replace(/^\/+/, "").replace(/\/+$/, "");
  if (!clean || clean.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw new TypeError(`invalid repo path: ${JSON.stringify(path)}`);
  }
  return clean;
}

/** The repos and users of one hub, and who may read what. */
export class Repositories {
  #users = new Map<string, User>();
  #repos = new Map<string, HubRepo>();

  /** Adds a user with an access token. */
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

  /** The user of a token, or undefined. */
  userByToken(token: string): User | undefined {
    return this.#users.get(token);
  }

  /** Adds an empty repo; throws if the id is taken or invalid. */
  add(id: string, options: AddRepoOptions = {}): HubRepo {
    if (this.#repos.has(id)) throw new Error(`repo ${id} exists already`);
    if (!/^([\w.-]+\/)?[\w.-]+$/.test(id)) throw new TypeError(`invalid repo id ${JSON.stringify(id)}`);
    const repo = new HubRepo(id, options);
    this.#repos.set(id, repo);
    return repo;
  }

  /** The repo with this id, or undefined. */
  get(id: string): HubRepo | undefined {
    return this.#repos.get(id);
  }

  has(id: string): boolean {
    return this.#repos.has(id);
  }

  remove(id: string): void {
    this.#repos.delete(id);
  }

  /** Every repo, in the order added. */
  all(): IterableIterator<HubRepo> {
    return this.#repos.values();
  }

  /** The user owns the repo's namespace, belongs to its org or was granted access. */
  isMember(repo: HubRepo, user: User | undefined): boolean {
    if (!user) return false;
    return repo.namespace === user.name || user.orgs.includes(repo.namespace) || repo.access.has(user.name);
  }

  /** Public repos are readable by anyone (gated ones too: only their files are gated), private ones by members. */
  canRead(repo: HubRepo, user: User | undefined): boolean {
    return !repo.options.private || this.isMember(repo, user);
  }
}

/** Size, hashes and LFS-ness of a file at a revision (hashes generated content synchronously if needed). */
export function fileInfo(repo: HubRepo, path: string, revision: string): HubFileInfo {
  const commit = repo.resolveCommit(revision);
  if (!commit) throw new Error(`${repo.id}: unknown revision ${revision}`);
  const entry = commit.files.get(normalizeRepoPath(path));
  if (!entry) throw new Error(`${repo.id}@${revision}: no file ${path}`);
  const hashes = entry.content.hashesSync();
  return {
    path,
    size: entry.content.size,
    sha256: entry.content.lfs ? hashes.sha256 : undefined,
    oid: entry.content.lfs ? gitBlobSha1(lfsPointerBytes(hashes.sha256, entry.content.size)) : hashes.gitSha1,
    lfs: entry.content.lfs,
    commit: commit.sha,
    lastCommit: entry.lastCommit,
  };
}

/** The bytes [start, end) of a file at a revision. */
export function fileBytes(repo: HubRepo, path: string, revision: string, start: number, end?: number): Uint8Array {
  const commit = repo.resolveCommit(revision);
  const entry = commit?.files.get(normalizeRepoPath(path));
  if (!entry) throw new Error(`${repo.id}@${revision}: no file ${path}`);
  return entry.content.read(start, Math.min(end ?? entry.content.size, entry.content.size));
}
