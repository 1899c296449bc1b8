/**
 * Reading a request's body under the server's body limit: a declared `Content-Length` over the limit is refused
 * before anything is read, and a body that streams past it is cut off at the limit (413), never read whole.
 *
 * @module
 */
import { BadRequestError, HttpError, PayloadTooLargeError } from "./serve_errors.ts";

/**
 * Reads the body as text, refusing more than `limit` bytes (413) without reading it all.
 *
 * @throws {PayloadTooLargeError} the body is over `limit` bytes.
 * @throws {BadRequestError} the body could not be read (the client went away mid-body).
 */
export async function readBody(request: Request, limit: number): Promise<string> {
  return new TextDecoder().decode(await readBodyBytes(request, limit));
}

/**
 * Reads the body's bytes (a multipart upload), refusing more than `limit` bytes (413) without reading it all.
 *
 * @throws {PayloadTooLargeError} the body is over `limit` bytes.
 * @throws {BadRequestError} the body could not be read (the client went away mid-body).
 */
export async function readBodyBytes(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    throw new PayloadTooLargeError(`the request body is ${declared} bytes; the limit is ${limit}`, {
      hint: "send less, or start the server with a larger --max-body-mb",
    });
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new PayloadTooLargeError(`the request body is over the limit of ${limit} bytes`, {
          hint: "send less, or start the server with a larger --max-body-mb",
        });
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new BadRequestError(`the request body could not be read: ${(error as Error).message ?? error}`);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.byteLength;
  }
  return all;
}
