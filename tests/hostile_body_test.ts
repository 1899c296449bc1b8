/**
 * File answers whose length lies: a body longer than the file the listing gave is refused (nothing
 * published, no partial kept); a `Content-Length` larger than the body that then ends at the file's
 * true size keeps what is good and publishes the verified file.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { downloadBlob } from "../src/download/blob_download.ts";
import { IntegrityError } from "../src/errors.ts";
import { createHash } from "node:crypto";

const CONTENT = new Uint8Array(100_000).map((_, i) => (i * 7) % 251);
const SHA = createHash("sha256").update(CONTENT).digest("hex");

async function withServer(
  handler: () => Response,
  fn: (url: string, dir: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const dir = await Deno.makeTempDir({ prefix: "gpux-body-" });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/file`, dir);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

async function files(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("a body longer than the listed size: an IntegrityError, nothing published, no partial kept", async () => {
  const longer = new Uint8Array(CONTENT.length + 5_000);
  longer.set(CONTENT);
  await withServer(() => new Response(longer), async (url, dir) => {
    let error: unknown;
    try {
      await downloadBlob({
        url,
        destination: `${dir}/${SHA}`,
        expected: { size: CONTENT.length, hash: SHA, kind: "sha256" },
        baseDelayMs: 5,
      });
    } catch (e) {
      error = e;
    }
    assert(error instanceof IntegrityError, `expected an IntegrityError, got ${error}`);
    assertMatch(error.message, /sent more than 100000 bytes/);
    assertEquals(await files(dir), []);
  });
});

Deno.test("a Content-Length larger than the file whose body ends at the file's size: the verified file is published", async () => {
  await withServer(
    () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(CONTENT);
            c.close();
          },
        }),
        { headers: { "content-length": String(CONTENT.length + 1_000) } },
      ),
    async (url, dir) => {
      await downloadBlob({
        url,
        destination: `${dir}/${SHA}`,
        expected: { size: CONTENT.length, hash: SHA, kind: "sha256" },
        baseDelayMs: 5,
      });
      assertEquals(await files(dir), [SHA]);
      assertEquals(await Deno.readFile(`${dir}/${SHA}`), CONTENT);
    },
  );
});
