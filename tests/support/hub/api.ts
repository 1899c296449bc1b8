/**
 * The JSON API of the local hub, as `@huggingface/hub` 2.17.5 and Python's `huggingface_hub` use it:
 * model info (`expand`, `blobs`), the paged tree (`Link`, `cursor`), paths-info, refs, commits, the model
 * list (search, filters, sort, paging) and whoami. Each handler gets the repo and commit already resolved
 * and access-checked by routes.ts.
 *
 * @module
 */
import { gitBlobSha1, lfsPointerBytes, sha1Hex } from "./content.ts";
import type { Faults } from "./faults.ts";
import { HttpError, isTrue, jsonReply, type Reply } from "./http.ts";
import type { Commit, FileEntry, HubRepo, Repositories, User } from "./repositories.ts";

/** What the API handlers need of the server. */
export interface ApiContext {
  /** The API origin, for `Link` headers. */
  readonly url: string;
  /** Page size of the tree and the model list when a test set one (read on every request: tests change it). */
  readonly pageSize: number | undefined;
  readonly repos: Repositories;
  readonly faults: Faults;
}

/** `GET /api/whoami-v2`. */
export function whoamiReply(user: User | undefined): Reply {
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
async function entryJson(
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
    const pointer = lfsPointerBytes(hashes.sha256, c.size);
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

function directoryJson(commit: Commit, path: string, expand: boolean): Record<string, unknown> {
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
function directories(commit: Commit): Set<string> {
  const dirs = new Set<string>();
  for (const path of commit.files.keys()) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return dirs;
}

/** `GET /api/models/{repo}/tree/{rev}[/{dir}]`: one page of the listing, `Link` to the next (faults: `pagingLoop`, `listing`). */
export async function treeReply(
  ctx: ApiContext,
  repo: HubRepo,
  commit: Commit,
  dir: string,
  url: URL,
  signal: AbortSignal,
): Promise<Reply> {
  const recursive = isTrue(url.searchParams.get("recursive"));
  const expand = isTrue(url.searchParams.get("expand"));
  const dirs = directories(commit);
  if (dir && !dirs.has(dir)) {
    throw new HttpError(404, `Entry not found: ${dir} is not a directory of ${repo.id}`, "EntryNotFound");
  }
  const prefix = dir ? `${dir}/` : "";
  const within = (p: string) => p.startsWith(prefix) && (recursive || !p.slice(prefix.length).includes("/"));
  const paths: { path: string; dir: boolean }[] = [
    ...[...dirs].filter(within).map((path) => ({ path, dir: true })),
    ...[...commit.files.keys()].filter(within).map((path) => ({ path, dir: false })),
  ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // huggingface.co: 1000 entries a page, 50 when `expand` asks for each file's last commit
  let { page, next } = pageOf(ctx, paths, url, expand ? 50 : 1000);
  if (ctx.faults.take("hub", "GET", url, (f) => f.kind === "pagingLoop")) {
    const params = new URLSearchParams(url.searchParams);
    params.delete("cursor");
    next = `<${ctx.url}${url.pathname}?${params}>; rel="next"`;
  }
  const items = [];
  for (const item of page) {
    items.push(
      item.dir
        ? directoryJson(commit, item.path, expand)
        : await entryJson(item.path, commit.files.get(item.path)!, repo.commits, expand, signal),
    );
  }
  if (!next) {
    const fault = ctx.faults.take("hub", "GET", url, (f) => f.kind === "listing");
    if (fault?.kind === "listing") {
      for (const extra of fault.entries) {
        const base = extra.copyOf !== undefined
          ? await entryJson(extra.copyOf, commit.files.get(extra.copyOf)!, repo.commits, expand, signal)
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
function pageOf<T>(ctx: ApiContext, items: T[], url: URL, hubPageSize: number): { page: T[]; next?: string } {
  const limitParam = Number(url.searchParams.get("limit"));
  const pageSize = ctx.pageSize ?? hubPageSize;
  const size = Number.isInteger(limitParam) && limitParam > 0 ? Math.min(limitParam, pageSize) : pageSize;
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
  return { page, next: `<${ctx.url}${url.pathname}?${params}>; rel="next"` };
}

/** `POST /api/models/{repo}/paths-info/{rev}`, with a JSON body (`@huggingface/hub`) or a form (Python). */
export async function pathsInfoReply(repo: HubRepo, commit: Commit, req: Request, signal: AbortSignal): Promise<Reply> {
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
    expand = isTrue(form.get("expand"));
  }
  const dirs = directories(commit);
  const out = [];
  for (const raw of paths) {
    const path = raw.replace(/^\/+|\/+$/g, "");
    const entry = commit.files.get(path);
    if (entry) out.push(await entryJson(path, entry, repo.commits, expand, signal));
    else if (dirs.has(path)) out.push(directoryJson(commit, path, expand));
  }
  return jsonReply(out);
}

/** `GET /api/models/{repo}/refs[?include_prs=1]`. */
export function refsReply(repo: HubRepo, url: URL): Reply {
  const ref = (name: string, ref: string, sha: string) => ({ name, ref, targetCommit: sha });
  const json: Record<string, unknown> = {
    branches: [...repo.branches].map(([name, sha]) => ref(name, `refs/heads/${name}`, sha)),
    converts: [],
    tags: [...repo.tags].map(([name, sha]) => ref(name, `refs/tags/${name}`, sha)),
  };
  if (isTrue(url.searchParams.get("include_prs"))) {
    json.pullRequests = [...repo.prs].map(([n, sha]) => ref(`refs/pr/${n}`, `refs/pr/${n}`, sha));
  }
  return jsonReply(json);
}

/** `GET /api/models/{repo}/commits/{rev}`: the history, newest first. */
export function commitsReply(repo: HubRepo, commit: Commit): Reply {
  const out = [];
  for (let c: Commit | undefined = commit; c; c = c.parent ? repo.commits.get(c.parent) : undefined) {
    out.push({ id: c.sha, title: c.message, message: "", authors: [], date: c.date.toISOString() });
  }
  return jsonReply(out);
}

/** The model document, as `/api/models/{id}` returns it (all fields; callers pick). */
function modelDoc(repo: HubRepo, commit: Commit | undefined): Record<string, unknown> {
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

/** `GET /api/models/{repo}[/revision/{rev}]` with `expand` and `blobs`. */
export async function modelInfoReply(
  repo: HubRepo,
  commit: Commit | undefined,
  url: URL,
  signal: AbortSignal,
): Promise<Reply> {
  commit ??= repo.resolveCommit("main");
  const expand = expandKeys(url);
  const blobs = isTrue(url.searchParams.get("blobs"));
  const doc = modelDoc(repo, commit);
  if (blobs && commit) {
    const siblings = [];
    for (const { rfilename } of doc.siblings as { rfilename: string }[]) {
      const entry = await entryJson(rfilename, commit.files.get(rfilename)!, repo.commits, false, signal);
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

/** `GET /api/models` with search, filters, sort and paging. */
export function listModelsReply(ctx: ApiContext, url: URL, user: User | undefined): Reply {
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
  let repos = [...ctx.repos.all()].filter((repo) => {
    if (!ctx.repos.canRead(repo, user)) return false;
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
  const { page, next } = pageOf(ctx, repos, url, 50);
  const expand = expandKeys(url);
  const full = isTrue(q.get("full"));
  const docs = page.map((repo) => {
    const doc = modelDoc(repo, repo.resolveCommit("main"));
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
