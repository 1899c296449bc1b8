/**
 * File content of the local hub: resolve and raw on the API origin (gated access, the 302 to the CDN for
 * LFS files with `X-Linked-Etag`/`X-Linked-Size`, `ETag`, `X-Repo-Commit`) and the CDN origin serving the
 * signed LFS URLs; both answer `Range` (206, 416) and `HEAD`.
 *
 * @module
 */
import { createHmac, randomBytes } from "node:crypto";
import { type Content, gitBlobSha1, lfsPointerBytes } from "./content.ts";
import type { Faults } from "./faults.ts";
import { bytesBody, decodeSegment, HttpError, type Origin, type Reply, type ReplyBody } from "./http.ts";
import type { Commit, HubRepo, Repositories, User } from "./repositories.ts";

/** What the file handlers need of the server. */
export interface FilesContext {
  /** The API origin (named in the gated repo's message). */
  readonly url: string;
  /** The CDN origin LFS downloads are redirected to. */
  readonly cdnUrl: string;
  readonly repos: Repositories;
  readonly faults: Faults;
  readonly cdn: CdnBlobs;
}

/** The LFS blobs resolve has redirected to, by sha256, and the signatures of their CDN URLs. */
export class CdnBlobs {
  #blobs = new Map<string, Content>();
  #secret = randomBytes(16).toString("hex");

  /** Makes `content` downloadable from the CDN; returns the signature of its URLs. */
  put(sha256: string, content: Content): string {
    this.#blobs.set(sha256, content);
    return this.signature(sha256);
  }

  get(sha256: string): Content | undefined {
    return this.#blobs.get(sha256);
  }

  signature(sha256: string): string {
    return createHmac("sha256", this.#secret).update(sha256).digest("hex").slice(0, 32);
  }
}

/**
 * `GET|HEAD /{repo}/resolve|raw/{rev}/{path}`: a gated repo's files need membership (401 without a token,
 * 403 with one); LFS files 302-redirect to a signed CDN URL (`X-Linked-Etag`, `X-Linked-Size`) from resolve
 * and answer their pointer from raw; plain files answer their bytes with Range support.
 */
export async function resolveReply(
  ctx: FilesContext,
  repo: HubRepo,
  commit: Commit,
  path: string,
  req: Request,
  user: User | undefined,
  kind: string,
  signal: AbortSignal,
): Promise<Reply> {
  if (repo.options.gated && !ctx.repos.isMember(repo, user)) {
    throw user
      ? new HttpError(
        403,
        `Access to model ${repo.id} is restricted and you are not in the authorized list. Visit ${ctx.url}/${repo.id} to ask for access.`,
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
    const pointer = lfsPointerBytes(sha256, c.size);
    const sig = ctx.cdn.put(sha256, c);
    const location = `${ctx.cdnUrl}/lfs/${repo.id}/${sha256}/${path.split("/").map(encodeURIComponent).join("/")}` +
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
    const pointer = lfsPointerBytes(sha256, c.size);
    headers.set("etag", `"${gitBlobSha1(pointer)}"`);
    return contentReply(ctx.faults, req, "hub", headers, bytesBody(pointer), "text/plain; charset=utf-8", path);
  }
  headers.set("etag", `"${(await c.hashes(signal)).gitSha1}"`);
  return contentReply(ctx.faults, req, "hub", headers, c, contentTypeFor(path), path);
}

/** File content with Range support (206 / 416), unless an `ignoreRange` fault says otherwise. */
function contentReply(
  faults: Faults,
  req: Request,
  origin: Origin,
  headers: Headers,
  body: ReplyBody,
  contentType: string,
  path: string,
): Reply {
  headers.set("content-type", contentType);
  headers.set("content-disposition", contentDisposition(path));
  headers.set("accept-ranges", "bytes");
  const rangeHeader = req.headers.get("range");
  const url = new URL(req.url);
  const ignore = rangeHeader && faults.take(origin, req.method, url, (f) => f.kind === "ignoreRange");
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

/** The CDN origin: `GET|HEAD /lfs/{repo}/{sha256}/{path}?expires=&signature=`, as resolve signed it. */
export function cdnReply(ctx: FilesContext, req: Request, url: URL): Reply {
  if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "Method Not Allowed");
  const m = /^\/lfs\/(.+?)\/([0-9a-f]{64})\/(.+)$/.exec(url.pathname);
  const content = m ? ctx.cdn.get(m[2]) : undefined;
  if (!m || !content) throw new HttpError(404, "NoSuchKey: The specified key does not exist.");
  const sig = ctx.cdn.signature(m[2]);
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
  return contentReply(ctx.faults, req, "cdn", headers, content, "application/octet-stream", path);
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
