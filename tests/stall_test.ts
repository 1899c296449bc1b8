/**
 * Servers that send their headers and then nothing: every request, body included, has a stall
 * timeout (HF_HUB_ETAG_TIMEOUT for API answers, HF_HUB_DOWNLOAD_TIMEOUT for files) and is retried like
 * the others; `gpux info` and `gpux pull` end with a network error (exit 5) instead of hanging.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { type HubServer, startHubServer } from "./support/hub_server.ts";
import { HuggingFaceManager } from "../src/registry/huggingface.ts";
import { fetchWithRetry } from "../src/download/http.ts";
import { envFrom } from "../src/environment.ts";
import { ModelNotFoundError, NetworkError } from "../src/errors.ts";

async function withHub(fn: (hub: HubServer, dir: string) => Promise<void>): Promise<void> {
  const hub = await startHubServer();
  const dir = await Deno.makeTempDir({ prefix: "gpux-stall-" });
  hub.addRepo("acme/tiny").commit({ "config.json": '{"model_type":"bert"}', "model.onnx": { size: 20_000, seed: 1 } });
  try {
    await fn(hub, dir);
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A server whose every answer is `status` with headers and a body that never comes. */
async function withSilentBody(status: number, fn: (url: string) => Promise<void>): Promise<void> {
  const streams: ReadableStreamDefaultController<Uint8Array>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () =>
    new Response(
      new ReadableStream<Uint8Array>({ start: (c) => void streams.push(c) }),
      { status, headers: { "content-type": "application/json", "x-error-code": "RepoNotFound" } },
    ));
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    for (const c of streams) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    await server.shutdown();
  }
}

Deno.test("gpux info against an API that stalls after its headers: exit 5 naming the stall, after the retries", async () => {
  await withHub(async (hub, dir) => {
    hub.addFault({ kind: "stall", afterBytes: 0, match: { path: "/api/models/" }, times: Infinity });
    const result = await runCli(["info", "acme/tiny"], {
      env: { HF_ENDPOINT: hub.url, HF_HOME: `${dir}/home`, HOME: dir, HF_HUB_ETAG_TIMEOUT: "1" },
    });
    assertEquals(result.code, 5, result.stderr);
    assertMatch(result.stderr, /stalled: no data for 1s \(6 attempts\)/);
    assert(!result.stderr.includes("    at "), "no stack trace");
  });
});

Deno.test("gpux pull against a file listing that stalls after its headers: exit 5, nothing published", async () => {
  await withHub(async (hub, dir) => {
    hub.addFault({ kind: "stall", afterBytes: 0, match: { path: "/tree/" }, times: Infinity });
    const result = await runCli(["pull", "acme/tiny"], {
      env: {
        HF_ENDPOINT: hub.url,
        HF_HOME: `${dir}/home`,
        HF_HUB_CACHE: `${dir}/hub`,
        HOME: dir,
        HF_HUB_ETAG_TIMEOUT: "1",
      },
    });
    assertEquals(result.code, 5, result.stderr);
    assertMatch(result.stderr, /stalled: no data for 1s/);
    assertEquals(await Deno.stat(`${dir}/hub/models--acme--tiny/snapshots`).catch(() => undefined), undefined);
  });
});

Deno.test("an API answer that stalls once is retried and then succeeds", async () => {
  await withHub(async (hub, dir) => {
    const fault = hub.addFault({ kind: "stall", afterBytes: 0, match: { path: "/api/models/" }, times: 1 });
    const manager = new HuggingFaceManager({
      endpoint: hub.url,
      env: envFrom({ HOME: dir }),
      timeoutMs: 300,
      retryBaseDelayMs: 10,
    });
    const info = await manager.getModelInfo("acme/tiny");
    assertEquals(info.id, "acme/tiny");
    assertEquals(fault.hits, 1);
  });
});

Deno.test("an error answer whose body never comes is still classified by its status, in bounded time", async () => {
  await withSilentBody(404, async (url) => {
    const manager = new HuggingFaceManager({
      endpoint: url,
      env: envFrom({ HOME: "/nonexistent" }),
      timeoutMs: 300,
      retryBaseDelayMs: 10,
    });
    let error: unknown;
    try {
      await manager.getModelInfo("acme/tiny");
    } catch (e) {
      error = e;
    }
    assert(error instanceof ModelNotFoundError, `expected ModelNotFoundError, got ${error}`);
  });
});

Deno.test("fetchWithRetry with bufferBody: a success body that stalls is retried, then a NetworkError", async () => {
  await withSilentBody(200, async (url) => {
    let error: unknown;
    try {
      await fetchWithRetry(`${url}/x`, {}, { timeoutMs: 200, maxRetries: 2, baseDelayMs: 5, bufferBody: true });
    } catch (e) {
      error = e;
    }
    assert(error instanceof NetworkError, `expected NetworkError, got ${error}`);
    assertMatch(error.message, /stalled: no data for 200ms \(3 attempts\)/);
  });
});

Deno.test("fetchWithRetry with bufferBody: an endless API answer is cut off at 64 MiB with a NetworkError, not retried", async () => {
  let requests = 0;
  const chunk = new Uint8Array(1 << 20);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    requests++;
    return new Response(new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(chunk) }), { status: 200 });
  });
  try {
    let error: unknown;
    try {
      await fetchWithRetry(`http://127.0.0.1:${server.addr.port}/api/x`, {}, { maxRetries: 2, bufferBody: true });
    } catch (e) {
      error = e;
    }
    assert(error instanceof NetworkError, `expected NetworkError, got ${error}`);
    assertMatch(error.message, /more than 64 MiB/);
    assertEquals(requests, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a file server that sends a trickle and then stalls on every connection ends in a NetworkError, not an endless crawl", async () => {
  const { pullModel } = await import("../src/registry/pull.ts");
  await withHub(async (hub, dir) => {
    hub.addRepo("acme/trickle").commit({ "model.onnx": { size: 3_000_000, seed: 4 } });
    hub.addFault({ kind: "stall", afterBytes: 2_000, match: { path: "model.onnx", origin: "cdn" }, times: Infinity });
    const config = { endpoint: hub.url, cacheDir: `${dir}/hub`, env: envFrom({ HOME: dir }), timeoutMs: 150 };
    let error: unknown;
    try {
      await pullModel(new HuggingFaceManager({ ...config, retryBaseDelayMs: 5 }), "acme/trickle");
    } catch (e) {
      error = e;
    }
    assert(error instanceof NetworkError, `expected a NetworkError, got ${error}`);
    assertMatch(error.message, /6 attempts without progress/);
    const requests = hub.requests.filter((r) => r.origin === "cdn" && r.path.endsWith("model.onnx"));
    assert(requests.length <= 6, `${requests.length} requests`);
  });
});
