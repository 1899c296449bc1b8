/**
 * The cache as `@huggingface/hub`'s download helpers write it (against the local hub), read by
 * gpux's scan, verify, prune and rm, and compared with `@huggingface/hub`'s own scanCacheDir.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { startHubServer } from "./support/hub_server.ts";
import { exists } from "./support/hf_cache.ts";
import { scanCacheDir as hfScanCacheDir } from "@huggingface/hub";
import { scanCache, scanCachedModel } from "../src/cache/scan.ts";
import { verifyCache } from "../src/cache/verify.ts";
import { pruneCache } from "../src/cache/prune.ts";
import { removeFromCache } from "../src/cache/remove.ts";

const SCRIPT = new URL("./support/hf_js_download.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** Runs hf_js_download.ts with the given permissions; returns what it printed. */
async function jsDownload(permissions: string[], args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", `--config=${CONFIG}`, ...permissions, SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  assert(output.success, `hf_js_download failed: ${text.decode(output.stderr)}`);
  return text.decode(output.stdout).trim();
}

async function withHubAndCache(
  fn: (
    hub: Awaited<ReturnType<typeof startHubServer>>,
    cacheDir: string,
    commits: { v1: string; v2: string },
  ) => Promise<void>,
) {
  const hub = await startHubServer();
  const cacheDir = await Deno.makeTempDir({ prefix: "gpux-interop-" });
  try {
    const repo = hub.addRepo("acme/tiny-hub", { libraryName: "onnx" });
    const v1 = repo.commit({
      "config.json": '{"model_type":"bert","v":1}',
      "tokenizer.json": '{"version":"1.0"}',
      "model.onnx": { size: 40_000, seed: 3 },
      "onnx/model_quantized.onnx": { size: 12_000, seed: 4 },
    });
    const v2 = repo.commit({ "config.json": '{"model_type":"bert","v":2}' });
    await fn(hub, cacheDir, { v1, v2 });
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

const ALL = ["--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys"];

Deno.test("interop: a cache written by @huggingface/hub's snapshotDownload and downloadFileToCacheDir (symlinks)", () =>
  withHubAndCache(async (hub, cacheDir, { v1, v2 }) => {
    await jsDownload(ALL, [hub.url, "acme/tiny-hub", cacheDir, "snapshot"]);
    await jsDownload(ALL, [hub.url, "acme/tiny-hub", cacheDir, "file", v1, "config.json"]);

    const model = (await scanCachedModel(cacheDir, "acme/tiny-hub"))!;
    assertEquals(model.refs, { main: v2 });
    const main = model.revisions.find((r) => r.commit === v2)!;
    const pinned = model.revisions.find((r) => r.commit === v1)!;
    assertEquals([main.refs, pinned.refs, pinned.detached], [["main"], [], true]);
    assertEquals(main.files.map((f) => f.path), [
      "config.json",
      "model.onnx",
      "onnx/model_quantized.onnx",
      "tokenizer.json",
    ]);
    for (const file of main.files) {
      const info = hub.fileInfo("acme/tiny-hub", file.path, v2);
      assertEquals([file.kind, file.etag, file.size], ["symlink", info.sha256 ?? info.oid, info.size], file.path);
    }
    assertEquals(pinned.files.map((f) => [f.path, f.etag]), [[
      "config.json",
      hub.fileInfo("acme/tiny-hub", "config.json", v1).oid,
    ]]);
    const blobBytes = ["config.json", "tokenizer.json", "model.onnx", "onnx/model_quantized.onnx"]
      .reduce((s, p) => s + hub.fileInfo("acme/tiny-hub", p, v2).size, 0) +
      hub.fileInfo("acme/tiny-hub", "config.json", v1).size;
    assertEquals(model.sizeOnDisk, blobBytes);
    assertEquals(model.formats, ["onnx"]);
    assertEquals((await verifyCache({ cacheDir })).ok, true);

    // @huggingface/hub's own scan agrees on what it reads (it skips snapshot sub-folders)
    const theirs = await hfScanCacheDir(cacheDir);
    assertEquals(theirs.warnings, []);
    const repo = theirs.repos[0];
    assertEquals(repo.id, { name: "acme/tiny-hub", type: "model" });
    assertEquals(repo.revisions.map((r) => r.commitOid).sort(), [v1, v2].sort());
    for (const revision of repo.revisions) {
      const mine = model.revisions.find((r) => r.commit === revision.commitOid)!;
      assertEquals(revision.refs, mine.refs);
      const top = mine.files.filter((f) => !f.path.includes("/"));
      assertEquals(revision.size, top.reduce((s, f) => s + f.size, 0));
    }
    assertEquals(repo.size, blobBytes - hub.fileInfo("acme/tiny-hub", "onnx/model_quantized.onnx", v2).size);

    // the pinned v1 snapshot is detached: prune removes it and the blob only it used
    const pruned = await pruneCache({ cacheDir });
    assertEquals(
      pruned.items.map((i) => [i.kind, i.commit ?? i.etag]).sort(),
      [["detached_revision", v1], ["unreferenced_blob", hub.fileInfo("acme/tiny-hub", "config.json", v1).oid]].sort(),
    );
    assertEquals((await hfScanCacheDir(cacheDir)).repos[0].revisions.map((r) => r.commitOid), [v2]);
  }));

Deno.test("interop: @huggingface/hub copies instead of symlinking under a scoped --allow-write; gpux reads, verifies and removes it", () =>
  withHubAndCache(async (hub, cacheDir, { v2 }) => {
    const scoped = ["--allow-net", "--allow-env", "--allow-read", `--allow-write=${cacheDir}`, "--allow-sys"];
    await jsDownload(scoped, [hub.url, "acme/tiny-hub", cacheDir, "snapshot"]);
    const model = (await scanCachedModel(cacheDir, "acme/tiny-hub"))!;
    const main = model.revisions[0];
    assertEquals(main.commit, v2);
    assert(main.files.every((f) => f.kind === "copy"), JSON.stringify(main.files.map((f) => f.kind)));
    const contentBytes = main.files.reduce((s, f) => s + f.size, 0);
    // every byte twice: the blob and its copy
    assertEquals(model.sizeOnDisk, 2 * contentBytes);
    assertEquals(model.unreferencedBlobs, [], "blobs a copy may come from are not unreferenced");
    const verified = await verifyCache({ cacheDir });
    assertEquals([verified.ok, verified.filesChecked, verified.unverified], [true, 8, []]);
    assertEquals((await pruneCache({ cacheDir, dryRun: true })).items, []);

    // their scan counts each copy as its own blob and never looks at blobs/
    const theirs = (await hfScanCacheDir(cacheDir)).repos[0];
    assertEquals(
      theirs.revisions[0].size,
      main.files.filter((f) => !f.path.includes("/")).reduce((s, f) => s + f.size, 0),
    );

    const removed = await removeFromCache("acme/tiny-hub", { cacheDir });
    assertEquals(removed.freedBytes, 2 * contentBytes + 40 /* refs/main */);
    assert(!await exists(`${cacheDir}/models--acme--tiny-hub`));
  }));

Deno.test("interop: downloadFileToCacheDir at main writes no ref; gpux reads it, prune keeps it, scanCacheDir rejects it", () =>
  withHubAndCache(async (hub, cacheDir) => {
    const file = await jsDownload(ALL, [hub.url, "acme/tiny-hub", cacheDir, "file", "", "model.onnx"]);
    const lastCommit = hub.fileInfo("acme/tiny-hub", "model.onnx").lastCommit;
    assertEquals(file, `${cacheDir}/models--acme--tiny-hub/snapshots/${lastCommit}/model.onnx`);
    const scan = await scanCache({ cacheDir });
    assertEquals(scan.models[0].refs, {});
    assertEquals(scan.models[0].revisions.map((r) => [r.commit, r.detached]), [[lastCommit, true]]);
    const pruned = await pruneCache({ cacheDir });
    assertEquals(pruned.items, []);
    assertEquals(pruned.keptDetached.map((k) => k.commit), [lastCommit]);
    assert(await exists(file));
    // @huggingface/hub's scanCacheDir needs a refs/ folder and reports the repo as a warning
    const theirs = await hfScanCacheDir(cacheDir);
    assertEquals(theirs.repos, []);
    assertEquals(theirs.warnings.length, 1);
  }));

Deno.test("interop: a cache written by gpux pull under deno task gpux (symlinks) is listed, verified, repaired and removed", () =>
  withHubAndCache(async (hub, cacheDir, { v2 }) => {
    const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cacheDir };
    const pulled = await runCli(["pull", "acme/tiny-hub", "--quiet"], { env });
    assertEquals(pulled.code, 0, pulled.stderr);

    const ls = await runCli(["ls", "--json"], { env });
    assertEquals(ls.code, 0, ls.stderr);
    const [model] = JSON.parse(ls.stdout).models;
    assertEquals([model.id, model.refs], ["acme/tiny-hub", { main: v2 }]);
    const files: { path: string; size: number; kind: string; etag: string }[] = model.revisions[0].files;
    assert(files.length >= 3, JSON.stringify(files));
    for (const file of files) {
      const info = hub.fileInfo("acme/tiny-hub", file.path, v2);
      assertEquals([file.kind, file.etag, file.size], ["symlink", info.sha256 ?? info.oid, info.size], file.path);
    }
    // symlinks take no space of their own: each blob counted once
    assertEquals(model.sizeOnDisk, files.reduce((s, f) => s + f.size, 0));
    assertEquals((await runCli(["cache", "verify"], { env })).code, 0);

    // one byte of the model changes on disk: verify names it and the repair; pull --force repairs it
    const onnx = files.find((f) => f.path === "model.onnx")!;
    const blob = `${cacheDir}/models--acme--tiny-hub/blobs/${onnx.etag}`;
    const handle = await Deno.open(blob, { write: true });
    await handle.write(new Uint8Array([0xff, 0xfe, 0xfd]));
    handle.close();
    const bad = await runCli(["cache", "verify", "acme/tiny-hub"], { env });
    assertEquals(bad.code, 6);
    assertStringIncludes(bad.stdout, `CORRUPT acme/tiny-hub: blob ${onnx.etag} (used by model.onnx)`);
    assertStringIncludes(bad.stderr, "gpux pull --force acme/tiny-hub");
    const repaired = await runCli(["pull", "acme/tiny-hub", "--force", "--quiet"], { env });
    assertEquals(repaired.code, 0, repaired.stderr);
    assertEquals((await runCli(["cache", "verify", "acme/tiny-hub"], { env })).code, 0);

    const rm = await runCli(["rm", "acme/tiny-hub", "--yes"], { env });
    assertEquals(rm.code, 0, rm.stderr);
    assert(!await exists(`${cacheDir}/models--acme--tiny-hub`));
  }));
