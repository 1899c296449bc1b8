/**
 * HTTP/1.1 over a raw TCP connection, for server tests that need what `fetch` will not do: keep a connection
 * open across a drain, send a `Content-Length` that lies, or stream a body that never ends.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A response as read off the wire. */
export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** The bytes of one request; `headers` are added after `host`. */
export function rawRequest(
  method: string,
  path: string,
  host: string,
  body = "",
  headers: Record<string, string> = { "content-length": String(encoder.encode(body).length) },
): Uint8Array {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return encoder.encode(`${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n${lines}\r\n${body}`);
}

/**
 * Reads one `Content-Length`-framed response from `conn`; `undefined` when the connection closes (or is reset)
 * first.
 *
 * @throws {Error} no complete response within `timeoutMs`.
 */
export async function readResponse(conn: Deno.Conn, timeoutMs = 20_000): Promise<RawResponse | undefined> {
  let text = "";
  const buffer = new Uint8Array(64 * 1024);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const headEnd = text.indexOf("\r\n\r\n");
    if (headEnd >= 0) {
      const [statusLine, ...lines] = text.slice(0, headEnd).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers["content-length"] ?? 0);
      const body = text.slice(headEnd + 4);
      if (encoder.encode(body).length >= length) {
        return { status: Number(statusLine.split(" ")[1]), headers, body };
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buffer).catch(() => null),
      new Promise<"late">((r) => timer = setTimeout(() => r("late"), Math.max(1, deadline - Date.now()))),
    ]);
    clearTimeout(timer);
    if (n === "late") break;
    if (n === null) return undefined;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  throw new Error(`no complete response within ${timeoutMs} ms; got ${JSON.stringify(text.slice(0, 300))}`);
}
