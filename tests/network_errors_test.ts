/**
 * Network failures against real local sockets: each one a one-line message naming the cause and
 * the endpoint, with a hint, and the right error class.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./support/assert.ts";
import { type GpuxError, NetworkError, RateLimitError } from "../src/errors.ts";
import { HuggingFaceManager } from "../src/registry/huggingface.ts";
import type { RegistryConfig } from "../src/registry/manager.ts";
import type { RetryInfo } from "../src/download/http.ts";
import { envFrom } from "../src/environment.ts";

const quick: RegistryConfig = { maxRetries: 1, retryBaseDelayMs: 1, timeoutMs: 5_000, env: () => undefined };

function assertOneLine(error: GpuxError, endpoint: string): void {
  assert(!error.message.includes("\n"), `one line: ${error.message}`);
  assert(error.message.includes(endpoint), `names ${endpoint}: ${error.message}`);
}

function assertNetworkHint(error: GpuxError): void {
  assertMatch(error.hint ?? "", /HF_HUB_OFFLINE=1/);
  assertMatch(error.hint ?? "", /HF_ENDPOINT/);
}

/** A Deno.serve on an OS-chosen port; `handler` sees the request number (1-based). */
function serve(handler: (n: number, request: Request) => Response | Promise<Response>) {
  let n = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => handler(++n, request));
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    get count() {
      return n;
    },
    close: () => server.shutdown(),
  };
}

Deno.test("network: connection refused names the cause and the endpoint", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const endpoint = `http://127.0.0.1:${port}`;
  const hub = new HuggingFaceManager({ ...quick, endpoint });
  const error = await assertRejects(() => hub.getModelInfo("acme/tiny-bert"), NetworkError);
  assertMatch(error.message, /connection refused/);
  assertMatch(error.message, /2 attempts/);
  assertOneLine(error, endpoint);
  assertNetworkHint(error);
  assertEquals(error.exitCode, 5);
});

/** Runs `fn` against a server that accepts connections but never reads or answers. */
async function withSilentServer(fn: (endpoint: string) => Promise<void>): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) held.push(conn); // read nothing, answer nothing
    } catch {
      // listener closed
    }
  })();
  try {
    await fn(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting;
  }
}

Deno.test("network: a server that never answers times out after timeoutMs", async () => {
  await withSilentServer(async (endpoint) => {
    const hub = new HuggingFaceManager({ ...quick, endpoint, timeoutMs: 150 });
    const error = await assertRejects(() => hub.searchModels("bert"), NetworkError);
    assertMatch(error.message, /timed out after 150ms/);
    assertOneLine(error, endpoint);
    assertNetworkHint(error);
  });
});

Deno.test("network: HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT set the timeouts (seconds), as in Python", async () => {
  await withSilentServer(async (endpoint) => {
    const env = envFrom({ HF_HUB_ETAG_TIMEOUT: "0.2", HF_HUB_DOWNLOAD_TIMEOUT: "7" });
    const hub = new HuggingFaceManager({ ...quick, timeoutMs: undefined, endpoint, env });
    assertEquals([hub.timeoutMs, hub.downloadTimeoutMs], [200, 7000]);
    const error = await assertRejects(() => hub.searchModels("bert"), NetworkError);
    assertMatch(error.message, /timed out after 200ms/);
    // an explicit timeout wins; unset or nonsense values fall back to the default
    assertEquals(new HuggingFaceManager({ timeoutMs: 50, env }).downloadTimeoutMs, 50);
    assertEquals(new HuggingFaceManager({ env: envFrom({ HF_HUB_ETAG_TIMEOUT: "soon" }) }).timeoutMs, 30_000);
  });
});

Deno.test("network: an HTML page instead of JSON is a one-line NetworkError naming it", async () => {
  const server = serve(() =>
    new Response("<!doctype html><html><body><h1>Captive portal</h1>\n<p>log in</p></body></html>", {
      headers: { "content-type": "text/html; charset=utf-8" },
    })
  );
  try {
    const hub = new HuggingFaceManager({ ...quick, endpoint: server.url });
    for (const call of [() => hub.getModelInfo("acme/tiny-bert"), () => hub.searchModels("x")]) {
      const error = await assertRejects(call, NetworkError);
      assertMatch(error.message, /non-JSON body \(text\/html\)/);
      assertOneLine(error, server.url);
      assertNetworkHint(error);
    }
  } finally {
    await server.close();
  }
});

Deno.test("network: DNS failure of an unknown host", async () => {
  const endpoint = "http://gpux-test-host.invalid";
  const hub = new HuggingFaceManager({ ...quick, endpoint, maxRetries: 0 });
  const error = await assertRejects(() => hub.getModelInfo("acme/tiny-bert"), NetworkError);
  assertMatch(error.message, /DNS lookup failed/);
  assertOneLine(error, endpoint);
  assertNetworkHint(error);
});

Deno.test("network: TLS error when https:// points at a plain-HTTP port", async () => {
  const server = serve(() => Response.json([]));
  try {
    const endpoint = `https://127.0.0.1:${server.port}`;
    const hub = new HuggingFaceManager({ ...quick, endpoint, maxRetries: 0 });
    const error = await assertRejects(() => hub.searchModels("x"), NetworkError);
    assertMatch(error.message, /TLS error/);
    assertOneLine(error, endpoint);
    assertNetworkHint(error);
  } finally {
    await server.close();
  }
});

Deno.test("network: 5xx is retried, then the answer is used", async () => {
  const server = serve((n) =>
    n <= 2 ? Response.json({ error: "upstream down" }, { status: 503 }) : Response.json([
      {
        _id: "1",
        id: "acme/one",
        pipeline_tag: "fill-mask",
        downloads: 3,
        likes: 1,
        lastModified: "2026-01-02T00:00:00.000Z",
      },
    ])
  );
  try {
    const retries: RetryInfo[] = [];
    const hub = new HuggingFaceManager({
      ...quick,
      endpoint: server.url,
      maxRetries: 3,
      onRetry: (i) => retries.push(i),
    });
    const hits = await hub.searchModels("one");
    assertEquals(hits.map((h) => h.id), ["acme/one"]);
    assertEquals(hits[0].lastModified, "2026-01-02T00:00:00.000Z");
    assertEquals(server.count, 3);
    assertEquals(retries.map((r) => r.reason), ["HTTP 503", "HTTP 503"]);
  } finally {
    await server.close();
  }
});

Deno.test("network: 5xx forever is a NetworkError after the retries", async () => {
  const server = serve(() => new Response("oops", { status: 502 }));
  try {
    const hub = new HuggingFaceManager({ ...quick, endpoint: server.url, maxRetries: 2 });
    const error = await assertRejects(() => hub.getModelInfo("acme/x"), NetworkError);
    assertMatch(error.message, /HTTP 502 \(3 attempts\)/);
    assertEquals(server.count, 3);
    assertOneLine(error, server.url);
    assertNetworkHint(error);
  } finally {
    await server.close();
  }
});

Deno.test("network: 429 with Retry-After waits as told, then succeeds", async () => {
  const server = serve((n) =>
    n === 1
      ? new Response(JSON.stringify({ error: "slow down" }), { status: 429, headers: { "retry-after": "1" } })
      : Response.json([])
  );
  try {
    const retries: RetryInfo[] = [];
    const hub = new HuggingFaceManager({ ...quick, endpoint: server.url, onRetry: (i) => retries.push(i) });
    assertEquals(await hub.searchModels("x"), []);
    assertEquals(server.count, 2);
    assertEquals(retries.length, 1);
    assertEquals(retries[0].reason, "HTTP 429");
    assertEquals(retries[0].delayMs, 1000, "the Retry-After of 1 s is honoured over the 1 ms backoff");
  } finally {
    await server.close();
  }
});

Deno.test("network: 429 forever is a RateLimitError", async () => {
  const server = serve(() => new Response("{}", { status: 429, headers: { "retry-after": "0" } }));
  try {
    const hub = new HuggingFaceManager({ ...quick, endpoint: server.url, maxRetries: 2 });
    const error = await assertRejects(() => hub.searchModels("x"), RateLimitError);
    assertMatch(error.message, /rate limiting requests \(HTTP 429 after 3 attempts\)/);
    assertOneLine(error, server.url);
    assertEquals(error.exitCode, 5);
    assertEquals(server.count, 3);
  } finally {
    await server.close();
  }
});

Deno.test("network: offline mode fails fast without touching the network", async () => {
  const server = serve(() => Response.json([]));
  try {
    for (
      const hub of [
        new HuggingFaceManager({ ...quick, endpoint: server.url, offline: true }),
        new HuggingFaceManager({ endpoint: server.url, env: (name) => name === "HF_HUB_OFFLINE" ? "1" : undefined }),
      ]
    ) {
      for (
        const [call, what] of [
          [() => hub.getModelInfo("acme/x"), /get information about acme\/x/],
          [() => hub.listModelFiles("acme/x"), /resolve acme\/x@main/],
          [() => hub.searchModels("x"), /search/],
          [() => hub.whoami({ token: "hf_abcdefgh" }), /check the token/],
        ] as const
      ) {
        const error = await assertRejects(call, NetworkError);
        assertEquals(error.code, "offline");
        assertMatch(error.message, what);
        assertMatch(error.message, /offline mode/);
      }
    }
    assertEquals(server.count, 0);
  } finally {
    await server.close();
  }
});
