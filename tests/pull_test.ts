/**
 * pullModel against the local hub: layout as Python writes it, variants, include/exclude, requests
 * made on repeat pulls, pinned shas, offline mode, refs moving, interoperability with @huggingface/hub.
 */
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "./support/assert.ts";
import { type HubServer, startHubServer } from "./support/hub_server.ts";
import { HuggingFaceManager } from "../src/registry/huggingface.ts";
import { pullModel } from "../src/registry/pull.ts";
import type { PullOptions, PullProgressEvent, RegistryConfig } from "../src/registry/manager.ts";
import { envFrom } from "../src/environment.ts";
import { InputError, IntegrityError, OfflineError } from "../src/errors.ts";
import { downloadFileToCacheDir, scanCacheDir } from "@huggingface/hub";
import { createHash } from "node:crypto";

const MB = 1_000_000;

interface Fixture {
  hub: HubServer;
  cache: string;
  pull(id: string, options?: PullOptions, config?: RegistryConfig): ReturnType<typeof pullModel>;
}

async function withHub(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const hub = await startHubServer();
  const cache = await Deno.makeTempDir({ prefix: "gpux-pull-" });
  const pull = (id: string, options: PullOptions = {}, extra: RegistryConfig = {}) => {
    const config: RegistryConfig = {
      endpoint: hub.url,
      cacheDir: cache,
      env: envFrom({ HOME: cache }),
      retryBaseDelayMs: 10,
      ...extra,
    };
    return pullModel(new HuggingFaceManager(config), id, options);
  };
  try {
    await fn({ hub, cache, pull });
  } finally {
    await hub.close();
    await Deno.remove(cache, { recursive: true });
  }
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) out.push(...await walk(`${dir}/${entry.name}`, path));
    else out.push(path);
  }
  return out.sort();
}

const ONNX_REPO = {
  "config.json": '{"model_type":"bert"}',
  "tokenizer.json": '{"version":"1.0"}',
  "README.md": "# tiny\n",
  "onnx/model.onnx": { size: 2 * MB, seed: 1 },
  "onnx/model_fp16.onnx": { size: MB, seed: 2 },
  "onnx/model_q4.onnx": { size: 500_000, seed: 3 },
  "model.safetensors": { size: MB, seed: 4 },
};

Deno.test("pull: files in sub-folders, LFS and git files, a 150 MB file; the cache exactly as Python writes it", async () => {
  await withHub(async (f) => {
    const repo = f.hub.addRepo("acme/big", { pipelineTag: "text-classification" });
    const sha = repo.commit({
      "config.json": '{"model_type":"bert"}',
      "onnx/model.onnx": { size: 3 * MB, seed: 1 },
      "onnx/model.onnx_data": { size: 150 * MB, seed: 2 },
      "tokenizer/vocab.txt": "a\nb\nc\n",
      "deep/er/still/labels.json": '["x","y"]',
    });
    const events: PullProgressEvent[] = [];
    const result = await f.pull("acme/big", { onProgress: (e) => events.push(e) });
    const root = `${f.cache}/models--acme--big`;
    assertEquals(result.sha, sha);
    assertEquals(result.snapshotPath, `${root}/snapshots/${sha}`);
    assertEquals(result.variant, "fp32");
    assertEquals(result.bytesCached, 0);
    const total = 3 * MB + 150 * MB + 21 + 6 + 9;
    assertEquals(result.bytesDownloaded, total);
    assertEquals(await Deno.readTextFile(`${root}/refs/main`), sha);
    const expected = [
      "config.json",
      "deep/er/still/labels.json",
      "onnx/model.onnx",
      "onnx/model.onnx_data",
      "tokenizer/vocab.txt",
    ];
    assertEquals(await walk(`${root}/snapshots/${sha}`), expected);
    for (const path of expected) {
      const info = f.hub.fileInfo("acme/big", path);
      const etag = info.sha256 ?? info.oid;
      const depth = path.split("/").length - 1;
      assertEquals(await Deno.readLink(`${root}/snapshots/${sha}/${path}`), `${"../".repeat(depth + 2)}blobs/${etag}`);
      assertEquals((await Deno.stat(`${root}/blobs/${etag}`)).size, info.size);
      if (info.sha256) assertEquals(await sha256(`${root}/blobs/${etag}`), info.sha256);
    }
    assertEquals((await walk(`${root}/blobs`)).length, 5, "blobs only, no partial files");
    // files a run may look for and the repo lacks are marked as known missing
    assertEquals(await Deno.readTextFile(`${root}/.no_exist/${sha}/tokenizer.json`), "");
    // progress: a plan, then every file done, bytes adding up
    const plan = events.find((e) => e.type === "plan");
    assert(plan?.type === "plan" && plan.bytesTotal === total);
    assertEquals(events.filter((e) => e.type === "file-done").length, 5);
    const last = events.filter((e) => e.type === "progress").at(-1);
    assert(last?.type === "progress" && last.bytesDone === total && last.filesDone === 5);
    // @huggingface/hub reads what gpux wrote
    const scan = await scanCacheDir(f.cache);
    assertEquals(scan.warnings, []);
    assertEquals(scan.repos.length, 1);
    assertEquals(scan.repos[0].id.name, "acme/big");
    const revision = [...scan.repos[0].revisions][0];
    assertEquals(revision.commitOid, sha);
    assertEquals(revision.refs, ["main"]);
    // (scanCacheDir 2.17.5 lists only the top-level files of a snapshot: it skips sub-folders)
    assert(revision.files.length > 0);
    for (const file of revision.files) assert(file.blob.path.startsWith(`${root}/blobs/`), file.blob.path);
  });
});

Deno.test("pull: a second pull makes one request (the revision check); a pinned complete sha makes none", async () => {
  await withHub(async (f) => {
    const sha = f.hub.addRepo("acme/tiny").commit(ONNX_REPO);
    await f.pull("acme/tiny");
    f.hub.clearRequests();
    const again = await f.pull("acme/tiny");
    assertEquals(again.bytesDownloaded, 0);
    assert(again.files.every((file) => file.cached));
    assertEquals(f.hub.requests.map((r) => `${r.method} ${r.path}`), ["GET /api/models/acme/tiny/revision/main"]);
    f.hub.clearRequests();
    const pinned = await f.pull(`acme/tiny@${sha}`);
    assertEquals(pinned.sha, sha);
    assertEquals(f.hub.requests, []);
  });
});

Deno.test("pull: the default ONNX variant, --variant, include/exclude, dry run", async () => {
  await withHub(async (f) => {
    f.hub.addRepo("acme/tiny").commit(ONNX_REPO);
    const dry = await f.pull("acme/tiny", { dryRun: true });
    assertEquals(dry.dryRun, true);
    assertEquals(dry.files.map((x) => x.path).sort(), [
      "README.md",
      "config.json",
      "onnx/model.onnx",
      "tokenizer.json",
    ]);
    assertEquals(f.hub.requests.filter((r) => r.path.includes("/resolve/")).length, 0, "a dry run downloads nothing");
    await assertRejects(() => Deno.stat(`${f.cache}/models--acme--tiny/snapshots`), Deno.errors.NotFound);

    const q4 = await f.pull("acme/tiny", { variant: "q4" });
    assertEquals(q4.variant, "q4");
    assertEquals(q4.files.map((x) => x.path).sort(), [
      "README.md",
      "config.json",
      "onnx/model_q4.onnx",
      "tokenizer.json",
    ]);
    assert(!f.hub.requests.some((r) => r.path.endsWith("model.safetensors")), "weights of other formats are skipped");

    const error = await assertRejects(() => f.pull("acme/tiny", { variant: "int3" }), InputError);
    assertMatch(error.message, /no ONNX variant 'int3'.*fp32, fp16, q4/);

    const json = await f.pull("acme/tiny", { include: ["*.json"], exclude: ["tokenizer*"] });
    assertEquals(json.files.map((x) => x.path), ["config.json"]);
    assertEquals(json.files[0].cached, true);

    await assertRejects(() => f.pull("acme/tiny", { include: ["*.gguf"] }), InputError);
  });
});

Deno.test("pull: offline mode resolves refs from the cache and lists what is missing", async () => {
  await withHub(async (f) => {
    const sha = f.hub.addRepo("acme/tiny").commit(ONNX_REPO);
    const none = await assertRejects(() => f.pull("acme/tiny", { offline: true }), OfflineError);
    assertStringIncludes(none.message, "acme/tiny@main is not in the cache");
    assertEquals(none.exitCode, 5);
    await f.pull("acme/tiny", { variant: "q4" });
    f.hub.clearRequests();
    const offline = await f.pull("acme/tiny", { variant: "q4" }, {
      env: envFrom({ HOME: f.cache, HF_HUB_OFFLINE: "1" }),
    });
    assertEquals(offline.sha, sha);
    assertEquals(offline.bytesDownloaded, 0);
    const missing = await assertRejects(() => f.pull("acme/tiny", { offline: true, variant: "fp16" }), OfflineError);
    assertMatch(missing.message, /1 file\(s\) of acme\/tiny@main are not in the cache: onnx\/model_fp16\.onnx/);
    assertEquals(f.hub.requests, [], "offline means no request at all");
  });
});

Deno.test("pull: refs/main moves when main moves; the old snapshot stays; identical blobs are stored once", async () => {
  await withHub(async (f) => {
    const repo = f.hub.addRepo("acme/tiny");
    const first = repo.commit(ONNX_REPO);
    await f.pull("acme/tiny");
    const second = repo.commit({
      "config.json": '{"model_type":"bert","v":2}',
      "copy.onnx_data": { size: 2 * MB, seed: 1 },
    });
    f.hub.clearRequests();
    const result = await f.pull("acme/tiny", { include: ["*"] });
    assertEquals(result.sha, second);
    const root = `${f.cache}/models--acme--tiny`;
    assertEquals(await Deno.readTextFile(`${root}/refs/main`), second);
    assert((await Deno.stat(`${root}/snapshots/${first}/config.json`)).isFile);
    assertEquals(await Deno.readTextFile(`${root}/snapshots/${second}/config.json`), '{"model_type":"bert","v":2}');
    // copy.onnx_data has the same bytes as onnx/model.onnx: one blob, already there
    assertEquals(
      await Deno.readLink(`${root}/snapshots/${second}/copy.onnx_data`),
      (await Deno.readLink(`${root}/snapshots/${second}/onnx/model.onnx`)).replace("../../../", "../../"),
    );
    assert(!f.hub.requests.some((r) => r.path.endsWith("copy.onnx_data") && r.method === "GET" && r.origin === "cdn"));
  });
});

Deno.test("pull: corrupt bytes raise IntegrityError and nothing appears in the snapshot", async () => {
  await withHub(async (f) => {
    f.hub.addRepo("acme/tiny").commit(ONNX_REPO);
    f.hub.addFault({ match: { path: "model.onnx", origin: "cdn" }, kind: "corrupt", times: Infinity });
    await assertRejects(() => f.pull("acme/tiny"), IntegrityError);
    await assertRejects(() => Deno.stat(`${f.cache}/models--acme--tiny/snapshots`), Deno.errors.NotFound);
    await assertRejects(() => Deno.stat(`${f.cache}/models--acme--tiny/refs/main`), Deno.errors.NotFound);
    const blobs = await walk(`${f.cache}/models--acme--tiny/blobs`);
    assert(!blobs.some((b) => b.includes("incomplete")), `no partial file: ${blobs}`);
  });
});

Deno.test("pull: a repository without ONNX is pulled whole and carries the conversion hint", async () => {
  await withHub(async (f) => {
    f.hub.addRepo("acme/pt", { pipelineTag: "text-classification" }).commit({
      "config.json": "{}",
      "model.safetensors": { size: MB, seed: 1 },
    });
    const result = await f.pull("acme/pt");
    assertEquals(result.files.length, 2);
    assertEquals(result.formats, ["safetensors"]);
    assertMatch(result.conversion?.command ?? "", /optimum-cli export onnx --model acme\/pt/);
  });
});

Deno.test("pull: interop with @huggingface/hub: a blob it downloaded is reused without a new download", async () => {
  await withHub(async (f) => {
    const sha = f.hub.addRepo("acme/tiny").commit(ONNX_REPO);
    await downloadFileToCacheDir({
      repo: "acme/tiny",
      path: "onnx/model.onnx",
      revision: sha,
      hubUrl: f.hub.url,
      cacheDir: f.cache,
    });
    f.hub.clearRequests();
    const result = await f.pull("acme/tiny");
    const model = result.files.find((x) => x.path === "onnx/model.onnx");
    assertEquals(model?.cached, true);
    assertEquals(result.bytesCached, 2 * MB);
    assert(!f.hub.requests.some((r) => r.path.endsWith("onnx/model.onnx")), "not fetched again");
    assertEquals((await scanCacheDir(f.cache)).warnings, []);
  });
});

Deno.test("pull: --force downloads and verifies again; refs/pr/N is stored as refs/refs/pr/N", async () => {
  await withHub(async (f) => {
    const repo = f.hub.addRepo("acme/tiny");
    const sha = repo.commit(ONNX_REPO);
    await f.pull("acme/tiny", { variant: "q4" });
    const root = `${f.cache}/models--acme--tiny`;
    // a blob damaged on disk is replaced by --force
    const info = f.hub.fileInfo("acme/tiny", "onnx/model_q4.onnx");
    await Deno.writeFile(`${root}/blobs/${info.sha256}`, new Uint8Array(info.size));
    const forced = await f.pull("acme/tiny", { variant: "q4", force: true });
    assertEquals(forced.bytesCached, 0);
    assertEquals(forced.bytesDownloaded, forced.files.reduce((sum, x) => sum + x.size, 0));
    assertEquals(await sha256(`${root}/snapshots/${sha}/onnx/model_q4.onnx`), info.sha256);

    const prSha = repo.commit({ "config.json": '{"pr":1}' }, { branch: "pr-branch" });
    repo.pr(1, prSha);
    const pr = await f.pull("acme/tiny@refs/pr/1", { include: ["config.json"] });
    assertEquals(pr.sha, prSha);
    assertEquals(await Deno.readTextFile(`${root}/refs/refs/pr/1`), prSha);
    assertEquals(await Deno.readTextFile(`${root}/refs/main`), sha);
  });
});

Deno.test("pull: a lock left by a process that is gone is taken over, with a warning", async () => {
  await withHub(async (f) => {
    f.hub.addRepo("acme/tiny").commit(ONNX_REPO);
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    const lockDir = `${f.cache}/.locks/models--acme--tiny`;
    await Deno.mkdir(lockDir, { recursive: true });
    await Deno.writeTextFile(
      `${lockDir}/gpux.lock`,
      JSON.stringify({ pid: dead.pid, host: Deno.hostname(), token: "x", since: new Date().toISOString() }),
    );
    const warnings: string[] = [];
    const result = await f.pull("acme/tiny", {
      onProgress: (e) => e.type === "warning" && warnings.push(e.message),
    });
    assertEquals(result.files.length, 4);
    assert(
      warnings.some((w) => w.includes(`took over a stale lock on acme/tiny left by pid ${dead.pid}`)),
      `${warnings}`,
    );
    await assertRejects(() => Deno.stat(`${lockDir}/gpux.lock`), Deno.errors.NotFound);
  });
});
