/**
 * HTTP plumbing shared by the routes, faults and shaping of the local hub: the two origins, the recorded
 * request, the {@linkcode Reply} a route answers before shaping and faults turn it into a `Response`, and
 * the Hub's error shape (`{"error"}` body, `X-Error-Code`, `X-Error-Message`).
 *
 * @module
 */

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

/** A body a reply can stream in any slices: its size and a reader of bytes [start, end). */
export interface ReplyBody {
  size: number;
  read(start: number, end: number): Uint8Array;
}

/** What a route answers, before shaping and faults turn it into a Response. */
export interface Reply {
  status: number;
  headers: Headers;
  body?: ReplyBody;
  /** True for file content (resolve, CDN): only these honour `ignoreRange`. */
  content?: boolean;
}

/** Thrown by routes; answered as {@linkcode errorReply}. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string, readonly headers?: HeadersInit) {
    super(message);
  }
}

/** A body over bytes held in memory. */
export function bytesBody(bytes: Uint8Array): ReplyBody {
  return { size: bytes.length, read: (s, e) => bytes.slice(s, e) };
}

/** A JSON reply with its Content-Type and Content-Length. */
export function jsonReply(value: unknown, status = 200, headers?: HeadersInit): Reply {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  h.set("content-length", String(bytes.length));
  return { status, headers: h, body: bytesBody(bytes) };
}

/** An error as the Hub answers it: `{"error": message}`, `X-Error-Code` (when given) and `X-Error-Message`. */
export function errorReply(status: number, message: string, code?: string, headers?: HeadersInit): Reply {
  const h = new Headers(headers);
  if (code) h.set("x-error-code", code);
  h.set("x-error-message", message);
  return jsonReply({ error: message }, status, h);
}

/** Sleeps; resolves early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

/** Decodes one percent-encoded path segment; 400 when it is malformed. */
export function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, `invalid percent-encoding in ${JSON.stringify(s)}`);
  }
}

/** `true` / `1` (a query or form flag). */
export function isTrue(value: string | null): boolean {
  return value === "true" || value === "1";
}
