/**
 * Blobs and partial files that are symlinks (a cache another tool or user tampered with): `gpux cache
 * verify` flags a blob that is a link, even when the file it points at has the right content;
 * `gpux pull` replaces such a blob instead of trusting it; a partial file that is a link is never
 * written through; and removal never follows a link out of the cache.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { runCli, taskPermissions } from "./support/cli.ts";
import { withCliHub } from "./support/cli_hub.ts";
import type { HubServer } from "./support/hub_server.ts";
import { verifyCache } from "../src/cache/verify.ts";

interface Fixture {
  hub: HubServer;
  dir: string;
  cache: string;
  env: Record<string, string>;
  etag: string;
  outside: string;
}

const CONTENT = { size: 30_000, seed: 3 };

async function withPulledModel(fn: (f: Fixture) => Promise<void>): Promise<void> {
  await withCliHub("gpux-symlink-", async ({ hub, dir, cache, env }) => {
    hub.addRepo("acme/tiny").commit({ "config.json": "{}", "model.onnx": CONTENT });
    const pulled = await runCli(["pull", "acme/tiny"], { env });
    assertEquals(pulled.code, 0, pulled.stderr);
    const etag = hub.fileInfo("acme/tiny", "model.onnx").sha256!;
    // the blob replaced by a link to a file outside the cache with exactly the right content
    const outside = `${dir}/outside.bin`;
    await Deno.copyFile(`${cache}/models--acme--tiny/blobs/${etag}`, outside);
    await Deno.remove(`${cache}/models--acme--tiny/blobs/${etag}`);
    await Deno.symlink(outside, `${cache}/models--acme--tiny/blobs/${etag}`);
    await fn({ hub, dir, cache, env, etag, outside });
  });
}

Deno.test("gpux cache verify flags a blob that is a symlink to a file outside the cache (exit 6), even with the right content", async () => {
  await withPulledModel(async (f) => {
    const result = await verifyCache({ cacheDir: f.cache });
    assertEquals(result.ok, false);
    const issue = result.issues.find((i) => i.path.endsWith(`/blobs/${f.etag}`));
    assert(issue, JSON.stringify(result.issues));
    assertEquals(issue.kind, "corrupt");
    assertStringIncludes(issue.message, `symlink to ${f.outside}`);
    assertEquals(issue.referenced, true);

    const cli = await runCli(["cache", "verify"], { env: f.env });
    assertEquals(cli.code, 6, cli.stdout + cli.stderr);
    assertStringIncludes(cli.stdout, "symlink");
    assertStringIncludes(cli.stderr, "gpux pull --force acme/tiny");
  });
});

Deno.test("gpux pull replaces a blob that is a symlink with a real file; the file it pointed at is untouched", async () => {
  await withPulledModel(async (f) => {
    const before = await Deno.readFile(f.outside);
    const pulled = await runCli(["pull", "acme/tiny"], { env: f.env });
    assertEquals(pulled.code, 0, pulled.stderr);
    const blob = `${f.cache}/models--acme--tiny/blobs/${f.etag}`;
    assert((await Deno.lstat(blob)).isFile, "the blob is a file again");
    assertEquals(await Deno.readFile(f.outside), before);
    assertEquals((await verifyCache({ cacheDir: f.cache })).ok, true);
  });
});

Deno.test("gpux rm of a model whose blob is a symlink removes the link, never the file outside", async () => {
  await withPulledModel(async (f) => {
    const removed = await runCli(["rm", "acme/tiny", "--yes"], { env: f.env });
    assert(removed.code === 0, removed.stderr);
    assert(await Deno.stat(f.outside).then(() => true, () => false), "the file outside the cache is still there");
  });
});

Deno.test("a partial download that is a symlink is never written through", async () => {
  await withPulledModel(async (f) => {
    f.hub.addRepo("acme/other").commit({ "weights.onnx": { size: 40_000, seed: 9 } });
    const etag = f.hub.fileInfo("acme/other", "weights.onnx").sha256!;
    const victim = `${f.dir}/victim.txt`;
    await Deno.writeTextFile(victim, "do not overwrite");
    await Deno.mkdir(`${f.cache}/models--acme--other/blobs`, { recursive: true });
    await Deno.symlink(victim, `${f.cache}/models--acme--other/blobs/${etag}.incomplete`);
    const pulled = await runCli(["pull", "acme/other"], { env: f.env, permissions: ["-A"] });
    assertEquals(pulled.code, 0, pulled.stderr);
    assertEquals(await Deno.readTextFile(victim), "do not overwrite");
    assert((await Deno.lstat(`${f.cache}/models--acme--other/blobs/${etag}`)).isFile);
  });
});

Deno.test("an offline pull of a snapshot holding links that loop back to their folder lists each file once (no endless walk)", async () => {
  const { pullModel } = await import("../src/registry/pull.ts");
  const { HuggingFaceManager } = await import("../src/registry/huggingface.ts");
  const { envFrom } = await import("../src/environment.ts");
  const dir = await Deno.makeTempDir({ prefix: "gpux-loop-" });
  try {
    const sha = "c".repeat(40);
    const snapshot = `${dir}/models--acme--loop/snapshots/${sha}`;
    await Deno.mkdir(snapshot, { recursive: true });
    await Deno.writeTextFile(`${snapshot}/config.json`, "{}");
    await Deno.symlink(".", `${snapshot}/a`);
    await Deno.symlink(".", `${snapshot}/b`);
    const config = { cacheDir: dir, env: envFrom({ HOME: dir }), offline: true };
    const result = await pullModel(new HuggingFaceManager(config), `acme/loop@${sha}`);
    assertEquals(result.files.map((f) => f.path), ["config.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gpux cache prune removes a symlink in blobs/ that no revision uses, never the file it points at", async () => {
  await withPulledModel(async (f) => {
    const stray = `${f.cache}/models--acme--tiny/blobs/${"e".repeat(64)}`;
    await Deno.symlink(f.outside, stray);
    const pruned = await runCli(["cache", "prune", "--json"], { env: f.env });
    assertEquals(pruned.code, 0, pruned.stderr);
    const paths = JSON.parse(pruned.stdout).items.map((i: { path: string }) => i.path);
    assert(paths.includes(stray), pruned.stdout);
    // the snapshot entry is a symlink to blobs/{etag} (libc symlink(2) under the sandbox): that blob is in use,
    // not pruned (verify reports it and pull --force replaces it)
    assert(!paths.includes(`${f.cache}/models--acme--tiny/blobs/${f.etag}`), pruned.stdout);
    const sha = f.hub.repo("acme/tiny").resolve("main");
    assertEquals((await Deno.stat(`${f.cache}/models--acme--tiny/snapshots/${sha}/model.onnx`)).size, CONTENT.size);
    assertEquals(await Deno.lstat(stray).then(() => true, () => false), false, "the link is gone");
    assert(await Deno.stat(f.outside).then(() => true, () => false), "the file outside the cache is untouched");
  });
});

Deno.test("a blob that is huggingface_hub 2.x's link into its shared Xet store is used as it is: gpux pull fetches nothing for it and keeps Python's link", async (t) => {
  for (const mode of ["symlinks", "hard links (no --allow-ffi)"]) {
    await t.step(mode, () =>
      withCliHub("gpux-xet-store-", async ({ hub, cache, env }) => {
        hub.addRepo("acme/xet").commit({ "config.json": "{}", "model.onnx": CONTENT });
        const etag = hub.fileInfo("acme/xet", "model.onnx").sha256!;
        const content = hub.fileBytes("acme/xet", "model.onnx");
        // as Python 2.x leaves a file it downloaded through Xet: the content in {cache}/blobs/{2 hex}/{64 hex}, the
        // store marked, and the model's blobs/{etag} a relative symlink to it
        const xet = `ab${"c".repeat(62)}`;
        await Deno.mkdir(`${cache}/blobs/ab`, { recursive: true });
        await Deno.writeTextFile(`${cache}/blobs/.huggingface-shared-blobs`, "1");
        await Deno.writeFile(`${cache}/blobs/ab/${xet}`, content);
        const blob = `${cache}/models--acme--xet/blobs/${etag}`;
        await Deno.mkdir(`${cache}/models--acme--xet/blobs`, { recursive: true });
        await Deno.symlink(`../../blobs/ab/${xet}`, blob);

        const permissions = mode === "symlinks"
          ? undefined
          : (await taskPermissions(env)).filter((p) => p !== "--allow-ffi");
        const pulled = await runCli(["pull", "acme/xet", "--json"], { env, permissions });
        assertEquals(pulled.code, 0, pulled.stderr);
        const result = JSON.parse(pulled.stdout);
        assertEquals(result.files.find((f: { path: string }) => f.path === "model.onnx").cached, true);
        assertEquals(result.bytesDownloaded, 2, "only config.json was fetched");
        assertEquals(hub.requests.filter((r) => r.path.endsWith("/model.onnx")).length, 0, "no request for it");
        assertEquals(await Deno.readLink(blob), `../../blobs/ab/${xet}`, "Python's link is kept");
        const sha = hub.repo("acme/xet").resolve("main");
        assertEquals(await Deno.readFile(`${cache}/models--acme--xet/snapshots/${sha}/model.onnx`), content);
        const verified = await runCli(["cache", "verify", "acme/xet"], { env });
        assertEquals(verified.code, 0, verified.stdout + verified.stderr);
      }));
  }
});
