/**
 * The drain of `gpux serve` (SIGTERM) answers: a request that arrives on a kept-alive connection, or on a new
 * one, while a slow request is still running gets the documented 503 JSON error with `Connection: close`, instead
 * of a connection closed under it; the request in flight still gets its 200, and the server exits 0.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { writeModel } from "./support/onnx_builder.ts";
import { busyModel } from "./support/serve_models.ts";
import { running, startServe } from "./support/serve_process.ts";
import { rawRequest, readResponse } from "./support/raw_http.ts";

/** Whether the server closes `conn` (reads EOF) within `ms`. */
async function closes(conn: Deno.Conn, ms = 10_000): Promise<boolean> {
  const buffer = new Uint8Array(1024);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"open">((r) => timer = setTimeout(() => r("open"), ms));
  try {
    const got = await Promise.race([conn.read(buffer).catch(() => null), timeout]);
    return got === null;
  } finally {
    clearTimeout(timer);
  }
}

function request(method: string, path: string, host: string, body = ""): Uint8Array {
  return rawRequest(method, path, host, body, {
    connection: "keep-alive",
    "content-type": "application/json",
    "content-length": String(new TextEncoder().encode(body).length),
  });
}

Deno.test("gpux serve drain: a request on a kept-alive connection after SIGTERM gets 503 with Connection: close while a slow one finishes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-drain-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  // over a second a run on a 2-core machine: long enough to send the second request while it runs
  await writeModel(`${dir}/busy.onnx`, busyModel(2048, 1024, 64));
  const server = running(
    await startServe([`${dir}/busy.onnx`, "--provider", "cpu", "--port", "0", "--workers", "1"], { env }),
  );
  const { hostname, port } = new URL(server.url);
  const host = `${hostname}:${port}`;
  const kept = await Deno.connect({ hostname, port: Number(port) });
  try {
    // the kept-alive connection answers once and stays open
    await kept.write(request("GET", "/health", host));
    const first = await readResponse(kept);
    assertEquals(first?.status, 200);

    const x = JSON.stringify({ x: [Array.from({ length: 16 }, () => 0.25)] });
    const slow = fetch(`${server.url}/predict`, { method: "POST", body: x });
    for (let i = 0; i < 400; i++) {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      if (/gpux_requests_in_flight\{model="busy"\} 1/.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const code = server.stop("SIGTERM");
    for (let i = 0; i < 400 && !/shutting down/.test(server.stderr()); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assertMatch(server.stderr(), /shutting down: finishing 1 request in flight/);

    await kept.write(request("POST", "/predict", host, x));
    const during = await readResponse(kept);
    assert(during, "the kept-alive connection was closed without an answer during the drain");
    assertEquals(during.status, 503, during.body);
    assertEquals(during.headers["connection"], "close");
    assertEquals(during.headers["retry-after"], "1");
    const doc = JSON.parse(during.body);
    assertEquals(doc.error, "the server is shutting down");
    assert(typeof doc.hint === "string" && doc.hint.length > 0, during.body);

    // a new connection during the drain: the same 503
    const fresh = await fetch(`${server.url}/models/busy/predict`, { method: "POST", body: x });
    assertEquals([fresh.status, fresh.headers.get("connection")], [503, "close"]);
    assertEquals((await fresh.json()).error, "the server is shutting down");

    const answered = await slow;
    assertEquals(answered.status, 200);
    const answeredDoc = await answered.json();
    assertEquals(answeredDoc.outputs.y.shape, [1, 1024]);
    assertEquals(await code, 0);
    // Deno.serve keeps a connection open after `Connection: close` (denoland/deno#9411); the drain's end closes it
    assert(await closes(kept), "the kept-alive connection outlives the server");
    assertMatch(server.stderr(), /POST \/predict 503 .*shutting down/);
  } finally {
    try {
      kept.close();
    } catch { /* closed by the server */ }
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
