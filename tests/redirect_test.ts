/**
 * Redirects and endpoints that no retry can fix: a redirect to a host outside the sandbox's
 * `--allow-net` is one clear permission error, a redirect loop or a redirect to another scheme one
 * clear network error, and `HF_ENDPOINT=ftp://…` an input error (exit 2); none of them is retried.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { type HubServer, startHubServer } from "./support/hub_server.ts";

async function withHub(fn: (hub: HubServer, env: Record<string, string>) => Promise<void>): Promise<void> {
  const hub = await startHubServer();
  const dir = await Deno.makeTempDir({ prefix: "gpux-redirect-" });
  hub.addRepo("acme/tiny").commit({ "config.json": "{}", "model.onnx": { size: 20_000, seed: 1 } });
  const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/home`, HOME: dir };
  try {
    await fn(hub, env);
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function redirect(hub: HubServer, location: (path: string) => string, path = "/resolve/") {
  hub.addFault({
    kind: "status",
    status: 302,
    match: { path },
    headers: { location: location(path) },
    times: Infinity,
  });
}

Deno.test("gpux pull redirected to a host outside --allow-net: one clear permission error (exit 5), not retried", async () => {
  await withHub(async (hub, env) => {
    redirect(hub, () => "http://127.0.0.2:8080/cdn/model.onnx");
    const result = await runCli(["pull", "acme/tiny", "--json"], { env });
    assertEquals(result.code, 5, result.stderr);
    assertStringIncludes(result.stderr, "not permitted to connect to '127.0.0.2:8080'");
    assertStringIncludes(result.stderr, "--allow-net");
    assert(!/retry/i.test(result.stderr), `not retried: ${result.stderr}`);
    assertEquals(JSON.parse(result.stdout).code, "net_not_permitted");
    const resolves = hub.requests.filter((r) => r.path.includes("/resolve/"));
    assertEquals(resolves.length, new Set(resolves.map((r) => r.path)).size, "one request per file, no retries");
  });
});

Deno.test("gpux info with HF_ENDPOINT=ftp://…: an InputError (exit 2), no request, no retry", async () => {
  await withHub(async (_hub, env) => {
    const result = await runCli(["info", "acme/tiny"], {
      env: { ...env, HF_ENDPOINT: "ftp://user:secret@127.0.0.1/" },
    });
    assertEquals(result.code, 2, result.stderr);
    assertStringIncludes(result.stderr, "http and https only");
    assert(!result.stderr.includes("secret"), result.stderr);
    assert(!/retry/i.test(result.stderr), result.stderr);
  });
});

Deno.test("a redirect loop and a redirect to ftp:// are one network error each (exit 5), not retried", async () => {
  await withHub(async (hub, env) => {
    redirect(hub, (path) => `${hub.url}/api/models/acme/tiny${path}`, "/loop/");
    hub.addFault({
      kind: "status",
      status: 302,
      match: { path: "/api/models/acme/tiny" },
      headers: { location: `${hub.url}/api/models/acme/tiny/loop/` },
      times: Infinity,
    });
    const loop = await runCli(["info", "acme/tiny"], { env });
    assertEquals(loop.code, 5, loop.stderr);
    assertMatch(loop.stderr, /redirect loop\) \(not retried\)/);
    assert(!/retry/i.test(loop.stderr.replace("not retried", "")), loop.stderr);
    hub.clearFaults();

    redirect(hub, () => "ftp://127.0.0.1/model.onnx");
    const ftp = await runCli(["pull", "acme/tiny"], { env });
    assertEquals(ftp.code, 5, ftp.stderr);
    assertStringIncludes(ftp.stderr, "not http(s)");
    assert(!/retry/i.test(ftp.stderr.replace("not retried", "")), ftp.stderr);
  });
});

Deno.test("the token is sent to the Hub's own origin only, never to another origin a listing names", async () => {
  const { HuggingFaceManager } = await import("../src/registry/huggingface.ts");
  const seen: { url: string; authorization: string | null }[] = [];
  const recording: typeof fetch = (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    seen.push({ url, authorization: new Headers(init?.headers).get("authorization") });
    return Promise.resolve(new Response("{}", { status: 200, headers: { "content-type": "application/json" } }));
  };
  const manager = new HuggingFaceManager({ endpoint: "https://hub.example", fetch: recording, token: "hf_secret" });
  const hubFetch = manager.hubFetch();
  const headers = { authorization: "Bearer hf_secret" };
  await hubFetch("https://hub.example/api/models/a/b/tree/main?cursor=x", { headers });
  await hubFetch("https://evil.example/api/models/a/b/tree/main?cursor=y", { headers });
  assertEquals(seen.map((s) => s.authorization), ["Bearer hf_secret", null]);
});

Deno.test("HF_ENDPOINT on a port fetch refuses (e.g. 9): one network error (exit 5), not retried", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-port-" });
  try {
    const result = await runCli(["info", "acme/tiny"], {
      env: { HF_ENDPOINT: "http://127.0.0.1:9", HF_HOME: `${dir}/home`, HOME: dir },
    });
    assertEquals(result.code, 5, result.stderr);
    assertStringIncludes(result.stderr, "blocked for fetch");
    assertStringIncludes(result.stderr, "(not retried)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
