/**
 * Which handler answers which request of the local hub. The API origin takes `/api/whoami-v2`,
 * `/api/models` and `/api/models/{repo}/…` (api.ts) and `/{repo}/resolve|raw/{rev}/{path}` (files.ts);
 * repo ids and revisions are split from the path preferring repos and revisions that exist (so
 * `refs/pr/1` may come raw or percent-encoded). The CDN origin serves the signed LFS URLs (files.ts).
 *
 * @module
 */
import {
  type ApiContext,
  commitsReply,
  listModelsReply,
  modelInfoReply,
  pathsInfoReply,
  refsReply,
  treeReply,
  whoamiReply,
} from "./api.ts";
import { type FilesContext, resolveReply } from "./files.ts";
import { decodeSegment, HttpError, type RecordedRequest, type Reply } from "./http.ts";
import type { Commit, HubRepo, Repositories, User } from "./repositories.ts";

export { cdnReply as routeCdn } from "./files.ts";

/** What the routes need of the server. */
export type RouteContext = ApiContext & FilesContext;

const REPO_OPS = new Set(["revision", "tree", "paths-info", "refs", "commits", "resolve", "raw"]);

/** The user of the request's token; 401 for a token the hub does not know. */
function userOf(repos: Repositories, req: Request): User | undefined {
  const header = req.headers.get("authorization");
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  const user = m ? repos.userByToken(m[1]) : undefined;
  if (!user) throw new HttpError(401, "Invalid credentials in Authorization header");
  return user;
}

/** The repo, or RepoNotFound (401 without a token, 404 with one) when unknown or private to others. */
function readableRepo(repos: Repositories, id: string, user: User | undefined): HubRepo {
  const repo = repos.get(id);
  if (!repo || !repos.canRead(repo, user)) {
    throw new HttpError(
      user ? 404 : 401,
      user ? "Repository not found" : "Repository not found. If the repo is private, make sure you are authenticated.",
      "RepoNotFound",
    );
  }
  return repo;
}

function commitOf(repo: HubRepo, revision: string): Commit {
  const commit = repo.resolveCommit(revision);
  if (!commit) throw new HttpError(404, `Invalid rev id: ${revision}`, "RevisionNotFound");
  return commit;
}

/** Splits `segments` into a repo id and the rest, preferring repos that exist. */
function splitRepo(repos: Repositories, segments: string[]): { id: string; rest: string[] } {
  const [a, b] = segments.map(decodeSegment);
  if (a && b !== undefined && repos.has(`${a}/${b}`)) return { id: `${a}/${b}`, rest: segments.slice(2) };
  if (a && repos.has(a) && (b === undefined || REPO_OPS.has(b))) return { id: a, rest: segments.slice(1) };
  if (a && b !== undefined && !REPO_OPS.has(b)) return { id: `${a}/${b}`, rest: segments.slice(2) };
  return { id: a ?? "", rest: segments.slice(1) };
}

/** Splits `segments` into a revision (encoded in one segment, or raw like refs/pr/1) and a path. */
function splitRevision(repo: HubRepo, segments: string[], needPath: boolean): { revision: string; path: string[] } {
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

/**
 * Routes a request of the API origin: authenticates its token (recorded as `record.user`), finds the repo
 * (RepoNotFound unless readable) and the revision (RevisionNotFound), and calls the API or file handler.
 */
export async function routeHub(
  ctx: RouteContext,
  req: Request,
  url: URL,
  record: RecordedRequest,
  signal: AbortSignal,
): Promise<Reply> {
  const user = userOf(ctx.repos, req);
  if (user) record.user = user.name;
  const segments = url.pathname.split("/").slice(1);
  if (segments.at(-1) === "" && segments.length > 1) segments.pop();
  const method = req.method === "HEAD" ? "GET" : req.method;
  if (segments[0] === "api") {
    if (segments[1] === "whoami-v2" && segments.length === 2 && method === "GET") return whoamiReply(user);
    if (segments[1] === "models") {
      if (segments.length === 2 && method === "GET") return listModelsReply(ctx, url, user);
      const { id, rest } = splitRepo(ctx.repos, segments.slice(2));
      const op = rest[0];
      const repo = readableRepo(ctx.repos, id, user);
      if (op === undefined && method === "GET") return await modelInfoReply(repo, undefined, url, signal);
      if (op === "revision" && method === "GET") {
        const revision = rest.slice(1).map(decodeSegment).join("/");
        return await modelInfoReply(repo, commitOf(repo, revision), url, signal);
      }
      if (op === "tree" && method === "GET") {
        const { revision, path } = splitRevision(repo, rest.slice(1), false);
        return await treeReply(ctx, repo, commitOf(repo, revision), path.join("/"), url, signal);
      }
      if (op === "paths-info" && method === "POST") {
        const revision = rest.slice(1).map(decodeSegment).join("/");
        return await pathsInfoReply(repo, commitOf(repo, revision), req, signal);
      }
      if (op === "refs" && method === "GET") return refsReply(repo, url);
      if (op === "commits" && method === "GET") {
        const revision = rest.slice(1).map(decodeSegment).join("/");
        return commitsReply(repo, commitOf(repo, revision));
      }
    }
    if (["datasets", "spaces"].includes(segments[1])) {
      throw new HttpError(user ? 404 : 401, "Repository not found", "RepoNotFound");
    }
    throw new HttpError(404, `Sorry, we can't find the page you are looking for (${url.pathname}).`);
  }
  const { id, rest } = splitRepo(ctx.repos, segments);
  if ((rest[0] === "resolve" || rest[0] === "raw") && (method === "GET")) {
    const repo = readableRepo(ctx.repos, id, user);
    const { revision, path } = splitRevision(repo, rest.slice(1), true);
    return await resolveReply(ctx, repo, commitOf(repo, revision), path.join("/"), req, user, rest[0], signal);
  }
  throw new HttpError(404, `Sorry, we can't find the page you are looking for (${url.pathname}).`);
}
