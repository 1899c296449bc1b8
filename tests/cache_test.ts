import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import {
  bytesOf,
  CacheFixture,
  commitSha,
  exists,
  gitSha1Hex,
  SAMPLE_FILES,
  sha256Hex,
  writeSampleCache,
} from "./support/hf_cache.ts";
import { etagAlgorithm, gitBlobSha1File, sha256File } from "../src/cache/file_hash.ts";
import { scanCache, scanCachedModel } from "../src/cache/scan.ts";
import { executeRemoval, planRemoval, removeFromCache } from "../src/cache/remove.ts";
import { pruneCache } from "../src/cache/prune.ts";
import { verifyCache } from "../src/cache/verify.ts";
import { acquireRepoLock } from "../src/cache/lock.ts";
import { envFrom } from "../src/environment.ts";
import { scanCacheDir as hfScanCacheDir } from "@huggingface/hub";
import { CacheError, InputError, ModelNotFoundError, RevisionNotFoundError } from "../src/errors.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gpux-cache-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const DAY = 24 * 3600 * 1000;

// ---------------------------------------------------------------------------------------------
// file hashes

Deno.test("file hashes: sha256 and git blob sha1 streamed in chunks, with progress and abort", async () => {
  await withTempDir(async (dir) => {
    const bytes = new Uint8Array(100_003).map((_, i) => (i * 31 + 7) & 0xff);
    const path = `${dir}/data.bin`;
    await Deno.writeFile(path, bytes);
    const progress: [number, number][] = [];
    assertEquals(
      await sha256File(path, { chunkSize: 4096, onProgress: (d, t) => progress.push([d, t]) }),
      sha256Hex(bytes),
    );
    assertEquals(progress.length, Math.ceil(bytes.length / 4096));
    assertEquals(progress.at(-1), [bytes.length, bytes.length]);
    assertEquals(await gitBlobSha1File(path, { chunkSize: 1000 }), gitSha1Hex(bytes));
    // `git hash-object` of an empty file
    await Deno.writeFile(`${dir}/empty`, new Uint8Array());
    assertEquals(await gitBlobSha1File(`${dir}/empty`), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    assertEquals(await sha256File(`${dir}/empty`), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assertRejects(() => sha256File(path, { signal: controller.signal }), Error, "stop");
    assertEquals(etagAlgorithm("a".repeat(64)), "sha256");
    assertEquals(etagAlgorithm("a".repeat(40)), "git-sha1");
    assertEquals(etagAlgorithm("not-a-hash"), undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// scan

Deno.test("scan: reads a cache written like Python's huggingface_hub", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const scan = await scanCache({ cacheDir: dir });
    assert(scan.exists);
    assertEquals(scan.models.map((m) => m.id), ["acme/broken", "acme/tiny-bert"]);
    assertEquals(scan.skipped.map((s) => s.name), ["datasets--acme--data", "not-a-repo", "spaces--acme--demo"]);

    const bert = scan.models[1];
    assertEquals(bert.refs, { main: sample.commits.main, "v1.0": sample.commits.pr, "refs/pr/1": sample.commits.pr });
    const byCommit = Object.fromEntries(bert.revisions.map((r) => [r.commit, r]));
    assertEquals(byCommit[sample.commits.main].refs, ["main"]);
    assertEquals(byCommit[sample.commits.pr].refs, ["v1.0", "refs/pr/1"]);
    assertEquals(byCommit[sample.commits.detached].refs, []);
    assertEquals(bert.detachedRevisions, [sample.commits.detached]);
    const main = byCommit[sample.commits.main];
    assertEquals(main.files.map((f) => f.path), [
      "config.json",
      "onnx/model.onnx",
      "onnx/model_quantized.onnx",
      "tokenizer.json",
    ]);
    assert(main.files.every((f) => f.kind === "symlink" && !f.dangling && !f.external));
    assertEquals(main.files.map((f) => f.etag), [
      sample.etags.main["config.json"],
      sample.etags.main["onnx/model.onnx"],
      sample.etags.main["onnx/model_quantized.onnx"],
      sample.etags.main["tokenizer.json"],
    ]);
    const f = SAMPLE_FILES;
    const len = (s: string | Uint8Array) => bytesOf(s).length;
    assertEquals(main.size, len(f.config) + len(f.onnx) + len(f.onnxQuantized) + len(f.tokenizer));
    assertEquals(main.formats, ["onnx"]);
    assertEquals(byCommit[sample.commits.detached].formats, ["safetensors"]);
    assertEquals(bert.formats, ["onnx", "safetensors"]);

    // 7 distinct contents across 3 revisions (tokenizer and model.onnx are shared)
    assertEquals(bert.fileCount, 7);
    const blobBytes = [f.config, f.configV2, f.configOld, f.tokenizer, f.onnx, f.onnxQuantized, f.safetensors]
      .reduce((sum, c) => sum + len(c), 0);
    const strayBytes = len("stray blob from an interrupted cleanup");
    assertEquals(bert.sizeOnDisk, blobBytes + strayBytes + 300 + 200);
    assertEquals(bert.unreferencedBlobs.map((b) => b.etag), [sample.strayEtag]);
    assertEquals(bert.incomplete.map((i) => i.path).sort(), [sample.freshIncomplete, sample.oldIncomplete].sort());
    assertEquals(bert.noExistCount, 1);
    assertEquals(bert.danglingLinks, []);
    assertEquals(bert.danglingRefs, []);
    assertEquals(bert.warnings, []);

    const broken = scan.models[0];
    assertEquals(broken.danglingLinks.map((l) => [l.path, l.etag]), [["model.onnx", sample.missingEtag]]);
    assertEquals(scan.sizeOnDisk, bert.sizeOnDisk + broken.sizeOnDisk);

    // one model only; a model that is not cached
    assertEquals((await scanCache({ cacheDir: dir, models: ["acme/broken"] })).models.map((m) => m.id), [
      "acme/broken",
    ]);
    assertEquals(await scanCachedModel(dir, "acme/absent"), undefined);
  });
});

Deno.test("scan: hard links count once, copies count as the bytes they take", async () => {
  await withTempDir(async (dir) => {
    const repo = new CacheFixture(dir, "acme/linked");
    const a = commitSha("a");
    const b = commitSha("b");
    const files = { "config.json": "{}", "model.onnx": new Uint8Array(5000).fill(1) };
    await repo.addRevision(a, files, "hardlink");
    await repo.addRevision(b, files, "copy");
    await repo.setRef("main", b);
    const model = (await scanCachedModel(dir, "acme/linked"))!;
    const rev = (c: string) => model.revisions.find((r) => r.commit === c)!;
    assertEquals(rev(a).files.map((f) => f.kind), ["hardlink", "hardlink"]);
    assertEquals(rev(a).files.map((f) => f.etag), [gitSha1Hex(bytesOf("{}")), sha256Hex(files["model.onnx"])]);
    assertEquals(rev(b).files.map((f) => f.kind), ["copy", "copy"]);
    // blobs (hard-linked into a) once + the copies of b
    assertEquals(model.sizeOnDisk, 2 * (2 + 5000));
    assertEquals(model.unreferencedBlobs, []);
    assertEquals(model.detachedRevisions, [a]);
  });
});

Deno.test("scan: the location follows HF_HUB_CACHE / HF_HOME; a missing cache is empty, a file is an error", async () => {
  await withTempDir(async (dir) => {
    await writeSampleCache(`${dir}/home/hub`);
    const viaHome = await scanCache({ env: envFrom({ HF_HOME: `${dir}/home` }) });
    assertEquals(viaHome.cacheDir, `${dir}/home/hub`);
    assertEquals(viaHome.models.length, 2);
    const viaCache = await scanCache({ env: envFrom({ HF_HUB_CACHE: `${dir}/home/hub`, HF_HOME: "/nonexistent" }) });
    assertEquals(viaCache.models.length, 2);
    const missing = await scanCache({ cacheDir: `${dir}/nothing-here` });
    assertEquals([missing.exists, missing.models], [false, []]);
    await Deno.writeTextFile(`${dir}/file`, "x");
    await assertRejects(() => scanCache({ cacheDir: `${dir}/file` }), CacheError, "not a directory");
  });
});

// ---------------------------------------------------------------------------------------------
// rm

Deno.test("rm: a revision by ref goes with its refs and the blobs only it used", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const plan = await planRemoval("acme/tiny-bert@refs/pr/1", { cacheDir: dir });
    assertEquals(plan.wholeModel, false);
    assertEquals(plan.revisions.map((r) => r.commit), [sample.commits.pr]);
    assertEquals(plan.refs.sort(), ["refs/pr/1", "v1.0"]);
    // tokenizer.json and onnx/model.onnx are shared with main: only configV2's blob goes
    assertEquals(plan.blobs.map((b) => b.etag), [sample.etags.pr["config.json"]]);
    assertEquals(plan.freedBytes, bytesOf(SAMPLE_FILES.configV2).length);
    assert(await exists(sample.bert.snapshot(sample.commits.pr)), "planning deletes nothing");

    const result = await executeRemoval(plan);
    assert(result.removed);
    assert(!await exists(sample.bert.snapshot(sample.commits.pr)));
    assert(!await exists(`${sample.bert.root}/refs/refs`), "refs/refs/pr/1 and its empty folders are gone");
    assert(!await exists(`${sample.bert.root}/refs/v1.0`));
    assert(!await exists(sample.bert.blob(sample.etags.pr["config.json"])));
    for (const etag of Object.values(sample.etags.main)) assert(await exists(sample.bert.blob(etag)), etag);
    const after = (await scanCachedModel(dir, "acme/tiny-bert"))!;
    assertEquals(after.refs, { main: sample.commits.main });
    assertEquals(after.danglingLinks, []);
    assertEquals(after.revisions.length, 2);
  });
});

Deno.test("rm: sha prefixes, ambiguity, unknown revisions and models", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const plan = await planRemoval(`acme/tiny-bert@${sample.commits.detached.slice(0, 7)}`, { cacheDir: dir });
    assertEquals(plan.revisions.map((r) => r.commit), [sample.commits.detached]);
    assertEquals(plan.refs, []);
    assertEquals(
      plan.blobs.map((b) => b.etag).sort(),
      [sample.etags.detached["config.json"], sample.etags.detached["model.safetensors"]].sort(),
    );
    const full = await planRemoval(`acme/tiny-bert@${sample.commits.main}`, { cacheDir: dir });
    assertEquals(full.refs, ["main"]);

    // two fixtures whose shas share a prefix
    const repo = new CacheFixture(dir, "acme/twins");
    await repo.addRevision("abcd" + "1".repeat(36), { "a.txt": "1" });
    await repo.addRevision("abcd" + "2".repeat(36), { "a.txt": "2" });
    await assertRejects(() => planRemoval("acme/twins@abcd", { cacheDir: dir }), InputError, "matches 2");
    await assertRejects(() => planRemoval("acme/tiny-bert@nope", { cacheDir: dir }), RevisionNotFoundError, "nope");
    await assertRejects(() => planRemoval("acme/absent", { cacheDir: dir }), ModelNotFoundError, "not in the cache");
    await assertRejects(() => planRemoval("not a model", { cacheDir: dir }), InputError);
  });
});

Deno.test("rm: dry run deletes nothing; the whole model goes with every file; other models stay", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const before = (await scanCachedModel(dir, "acme/tiny-bert"))!;
    const dry = await removeFromCache("acme/tiny-bert", { cacheDir: dir, dryRun: true });
    assertEquals([dry.removed, dry.wholeModel], [false, true]);
    // the size on disk counts content; the removal also frees the three refs (40 bytes each)
    assertEquals(dry.freedBytes, before.sizeOnDisk + 3 * 40);
    assertEquals(dry.refs, ["main", "refs/pr/1", "v1.0"]);
    assert(await exists(sample.bert.root));

    const done = await removeFromCache("acme/tiny-bert", { cacheDir: dir });
    assert(done.removed);
    assert(!await exists(sample.bert.root));
    assert(await exists(sample.broken.root));
    assert(await exists(`${dir}/datasets--acme--data`));
  });
});

Deno.test("rm: removing the last revision removes the model's folder", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const plan = await planRemoval("acme/broken@main", { cacheDir: dir });
    assertEquals(plan.wholeModel, true);
    await executeRemoval(plan);
    assert(!await exists(sample.broken.root));
  });
});

Deno.test("rm: never deletes outside the cache through a symlink", async () => {
  await withTempDir(async (dir) => {
    const cacheDir = `${dir}/cache`;
    const outside = `${dir}/outside`;
    await Deno.mkdir(`${outside}/snapshots-elsewhere`, { recursive: true });
    await Deno.writeTextFile(`${outside}/precious.txt`, "keep me");
    await Deno.writeTextFile(`${outside}/snapshots-elsewhere/keep.txt`, "keep me too");

    // a snapshot entry linking to a file outside the cache
    const repo = new CacheFixture(cacheDir, "acme/escape");
    const a = commitSha("a");
    const b = commitSha("b");
    await repo.addRevision(a, { "config.json": "{}" });
    await repo.addRevision(b, { "config.json": "{}" });
    await repo.setRef("main", a);
    await Deno.symlink(`${outside}/precious.txt`, repo.snapshot(b, "precious.txt"));
    const scanned = (await scanCachedModel(cacheDir, "acme/escape"))!;
    const link = scanned.revisions.find((r) => r.commit === b)!.files.find((f) => f.path === "precious.txt")!;
    assertEquals([link.kind, link.external, link.etag], ["symlink", true, undefined]);
    await removeFromCache(`acme/escape@${b}`, { cacheDir });
    assert(!await exists(repo.snapshot(b)));
    assertEquals(await Deno.readTextFile(`${outside}/precious.txt`), "keep me");
    // removing the whole model removes a linked folder as a link only
    await Deno.symlink(`${outside}/snapshots-elsewhere`, repo.snapshot(a, "linked-dir"));
    await removeFromCache("acme/escape", { cacheDir });
    assert(!await exists(repo.root));
    assertEquals(await Deno.readTextFile(`${outside}/snapshots-elsewhere/keep.txt`), "keep me too");

    // a model folder that is a link out of the cache is refused before anything happens
    const away = new CacheFixture(outside, "acme/away");
    await away.addRevision(a, { "config.json": "{}" });
    await away.setRef("main", a);
    await Deno.symlink(away.root, `${cacheDir}/models--acme--away`);
    await assertRejects(() => removeFromCache("acme/away", { cacheDir }), CacheError, "outside the cache");
    assert(await exists(away.snapshot(a, "config.json")));

    // blobs/ linked to a folder outside: a revision's removal is refused before anything is deleted
    const split = new CacheFixture(cacheDir, "acme/split");
    await split.addRevision(a, { "config.json": "{}" });
    await split.addRevision(b, { "config.json": "[]" });
    await split.setRef("main", a);
    await Deno.rename(`${split.root}/blobs`, `${outside}/split-blobs`);
    await Deno.symlink(`${outside}/split-blobs`, `${split.root}/blobs`);
    await assertRejects(() => removeFromCache(`acme/split@${b}`, { cacheDir }), CacheError, "outside");
    assert(await exists(split.snapshot(b, "config.json")), "nothing was deleted");
    assert(await exists(`${outside}/split-blobs/${gitSha1Hex(bytesOf("[]"))}`));
  });
});

Deno.test("rm: an aborted removal deletes nothing, and running it again completes", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const controller = new AbortController();
    controller.abort(new Error("interrupted"));
    const plan = await planRemoval("acme/tiny-bert@main", { cacheDir: dir });
    await assertRejects(() => executeRemoval(plan, { signal: controller.signal }), Error, "interrupted");
    assert(await exists(sample.bert.snapshot(sample.commits.main)));
    assert(await exists(`${sample.bert.root}/refs/main`));
    await executeRemoval(plan);
    assert(!await exists(sample.bert.snapshot(sample.commits.main)));
    assert(!await exists(`${sample.bert.root}/.no_exist/${sample.commits.main}`));
    assert(!await exists(sample.bert.blob(sample.etags.main["onnx/model_quantized.onnx"])));
    assert(await exists(sample.bert.blob(sample.etags.main["onnx/model.onnx"])), "still used by refs/pr/1");
  });
});

Deno.test("rm: waits while a pull holds the model's lock, then removes what was planned", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const held = await acquireRepoLock(dir, "acme/tiny-bert");
    const plan = await planRemoval("acme/tiny-bert@v1.0", { cacheDir: dir });
    let waiting!: () => void;
    const waited = new Promise<void>((resolve) => waiting = resolve);
    const removal = executeRemoval(plan, { onLockWait: () => waiting() });
    await waited;
    assert(await exists(sample.bert.snapshot(sample.commits.pr)), "nothing is deleted while the lock is held");
    await held.release();
    const result = await removal;
    assert(result.removed);
    assert(!await exists(sample.bert.snapshot(sample.commits.pr)));
  });
});

Deno.test("rm: planned again under the lock: a blob a newer revision shares stays, a moved ref does not redirect", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const manifests = `${sample.bert.root}/.gpux/manifests`;
    await Deno.mkdir(manifests, { recursive: true });
    await Deno.writeTextFile(`${manifests}/${sample.commits.main}.json`, "{}");
    const plan = await planRemoval("acme/tiny-bert@main", { cacheDir: dir });
    const quantized = sample.etags.main["onnx/model_quantized.onnx"];
    assert(plan.blobs.some((b) => b.etag === quantized));

    // meanwhile a pull brings a new main that shares model_quantized.onnx
    const next = commitSha("next");
    await sample.bert.addRevision(next, { "onnx/model_quantized.onnx": SAMPLE_FILES.onnxQuantized });
    await Deno.writeTextFile(`${manifests}/${next}.json`, "{}");
    await sample.bert.setRef("main", next);

    const result = await executeRemoval(plan);
    assertEquals(result.revisions.map((r) => r.commit), [sample.commits.main]);
    assertEquals(result.refs, [], "refs/main now names the new commit and stays");
    assert(!result.blobs.some((b) => b.etag === quantized));
    assert(!await exists(sample.bert.snapshot(sample.commits.main)));
    assert(!await exists(`${manifests}/${sample.commits.main}.json`), "its gpux manifest goes with it");
    assert(await exists(`${manifests}/${next}.json`));
    assert(await exists(sample.bert.blob(quantized)));
    assertEquals(await Deno.readTextFile(`${sample.bert.root}/refs/main`), next);
    const after = (await scanCachedModel(dir, "acme/tiny-bert"))!;
    assertEquals(after.danglingLinks, []);
  });
});

// ---------------------------------------------------------------------------------------------
// prune

Deno.test("prune: detached revisions, unreferenced blobs, stale partial downloads; dry run first", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const dry = await pruneCache({ cacheDir: dir, dryRun: true });
    assert(dry.dryRun);
    const summary = dry.items.map((i) => [i.model, i.kind, i.path]);
    const d = sample.etags.detached;
    assertEquals(
      summary.sort(),
      [
        ["acme/tiny-bert", "detached_revision", sample.bert.snapshot(sample.commits.detached)],
        ["acme/tiny-bert", "incomplete", sample.oldIncomplete],
        ["acme/tiny-bert", "unreferenced_blob", sample.bert.blob(d["config.json"])],
        ["acme/tiny-bert", "unreferenced_blob", sample.bert.blob(d["model.safetensors"])],
        ["acme/tiny-bert", "unreferenced_blob", sample.bert.blob(sample.strayEtag)],
      ].sort(),
    );
    const len = (s: string | Uint8Array) => bytesOf(s).length;
    const expected = len(SAMPLE_FILES.configOld) + len(SAMPLE_FILES.safetensors) +
      len("stray blob from an interrupted cleanup") + 300;
    assertEquals(dry.freedBytes, expected);
    assert(await exists(sample.bert.snapshot(sample.commits.detached)), "a dry run deletes nothing");

    const done = await pruneCache({ cacheDir: dir });
    assertEquals(done.freedBytes, expected);
    for (const [, , path] of summary) assert(!await exists(path as string), path as string);
    assert(await exists(sample.freshIncomplete), "a fresh partial download is left alone");
    const after = (await scanCachedModel(dir, "acme/tiny-bert"))!;
    assertEquals(after.revisions.map((r) => r.commit).sort(), [sample.commits.main, sample.commits.pr].sort());
    assertEquals([after.unreferencedBlobs, after.danglingLinks, after.detachedRevisions], [[], [], []]);
    // nothing left to prune
    assertEquals((await pruneCache({ cacheDir: dir })).items, []);
  });
});

Deno.test("prune: --keep-detached, --older-than, pinned-only models and empty folders", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    // a writer's temporary link left behind by a crash
    const tmpLink = `${sample.bert.root}/blobs/.tmp-0f1e.incomplete`;
    await Deno.symlink("../snapshots/nowhere", tmpLink);
    const kept = await pruneCache({ cacheDir: dir, dryRun: true, keepDetached: true, olderThanMs: 0 });
    assertEquals(kept.keptDetached.map((k) => k.commit), [sample.commits.detached]);
    assertEquals(
      kept.items.map((i) => [i.kind, i.path]).sort(),
      [
        ["incomplete", tmpLink],
        ["incomplete", sample.freshIncomplete],
        ["incomplete", sample.oldIncomplete],
        ["unreferenced_blob", sample.bert.blob(sample.strayEtag)],
      ].sort(),
    );
    const olderThanThree = await pruneCache({ cacheDir: dir, dryRun: true, olderThanMs: 3 * DAY });
    assert(!olderThanThree.items.some((i) => i.kind === "incomplete"));

    // a model downloaded by commit sha only (no ref at all) is kept whole
    const pinned = new CacheFixture(dir, "acme/pinned");
    await pinned.addRevision(commitSha("pinned"), { "model.onnx": new Uint8Array(10) });
    // empty folders: an old empty snapshot sub-folder, and an old model folder holding nothing
    const emptyDir = `${sample.bert.snapshot(sample.commits.main)}/empty/deeper`;
    await Deno.mkdir(emptyDir, { recursive: true });
    const old = new Date(Date.now() - 2 * DAY);
    await Deno.utime(emptyDir, old, old);
    await Deno.utime(`${sample.bert.snapshot(sample.commits.main)}/empty`, old, old);
    await Deno.mkdir(`${dir}/models--acme--hollow/snapshots`, { recursive: true });
    await Deno.utime(`${dir}/models--acme--hollow/snapshots`, old, old);
    await Deno.utime(`${dir}/models--acme--hollow`, old, old);

    const result = await pruneCache({ cacheDir: dir });
    assertEquals(result.keptDetached.map((k) => [k.model, k.commit]), [["acme/pinned", commitSha("pinned")]]);
    assert(await exists(pinned.snapshot(commitSha("pinned"), "model.onnx")));
    assert(!await exists(`${sample.bert.snapshot(sample.commits.main)}/empty`));
    assert(await exists(sample.bert.snapshot(sample.commits.main, "config.json")));
    assert(!await exists(`${dir}/models--acme--hollow`));
    assert(result.items.some((i) => i.kind === "empty_dir" && i.path === `${dir}/models--acme--hollow`));
  });
});

Deno.test("prune: a model a pull is writing (its lock held) is skipped, not waited for; manifests of removed revisions go", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const manifest = `${sample.bert.root}/.gpux/manifests/${sample.commits.detached}.json`;
    await Deno.mkdir(`${sample.bert.root}/.gpux/manifests`, { recursive: true });
    await Deno.writeTextFile(manifest, "{}");
    const held = await acquireRepoLock(dir, "acme/tiny-bert");
    try {
      const busy = await pruneCache({ cacheDir: dir });
      assertEquals(busy.inUse.map((u) => u.model), ["acme/tiny-bert"]);
      assertEquals(busy.items, []);
      assert(await exists(sample.bert.snapshot(sample.commits.detached)));
    } finally {
      await held.release();
    }
    const done = await pruneCache({ cacheDir: dir });
    assertEquals(done.inUse, []);
    assert(!await exists(sample.bert.snapshot(sample.commits.detached)));
    assert(!await exists(manifest));
  });
});

// ---------------------------------------------------------------------------------------------
// verify

Deno.test("verify: corrupt blobs and missing blobs are reported; a healthy model passes", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    const result = await verifyCache({ cacheDir: dir });
    assertEquals(result.ok, false);
    const issues = result.issues.map((i) => [i.model, i.kind, i.expected, i.files.map((f) => f.path)]);
    assertEquals(
      issues.sort(),
      [
        ["acme/broken", "corrupt", sample.corruptEtag, ["config.json"]],
        ["acme/broken", "missing", sample.missingEtag, ["model.onnx"]],
      ].sort(),
    );
    const corrupt = result.issues.find((i) => i.kind === "corrupt")!;
    assertEquals(corrupt.actual, gitSha1Hex(bytesOf('{"model_type":"bert","hidden_size":33}')));
    assertEquals(corrupt.referenced, true);
    // tiny-bert: 8 blobs (7 used + the stray one, which is named by its hash) all check out
    const bert = result.models.find((m) => m.id === "acme/tiny-bert")!;
    assertEquals([bert.filesChecked, bert.issues], [8, 0]);

    const one = await verifyCache({ cacheDir: dir, models: ["acme/tiny-bert"] });
    assertEquals([one.ok, one.models.map((m) => m.id)], [true, ["acme/tiny-bert"]]);
    await assertRejects(() => verifyCache({ cacheDir: dir, models: ["acme/absent"] }), ModelNotFoundError);
  });
});

Deno.test("verify: huggingface_hub 2.x's links into its shared store of Xet files are blobs to hash, not corrupt links", async () => {
  await withTempDir(async (dir) => {
    // as Python 2.x leaves a file it downloaded through Xet: {cache}/blobs/{2 hex}/{xet hash} holds the content,
    // models--org--name/blobs/{etag} is a relative symlink to it, and the snapshot links to the repository's blob
    const content = bytesOf("onnx weights ".repeat(400));
    const etag = sha256Hex(content);
    const xet = `ab${"c".repeat(62)}`;
    const commit = commitSha("shared");
    const root = `${dir}/models--acme--xet`;
    await Deno.mkdir(`${dir}/blobs/ab`, { recursive: true });
    await Deno.writeTextFile(`${dir}/blobs/.huggingface-shared-blobs`, "1");
    await Deno.writeFile(`${dir}/blobs/ab/${xet}`, content);
    await Deno.writeTextFile(`${dir}/blobs/ab/${xet}.refs`, `models--acme--xet/blobs/${etag}\n`);
    await Deno.mkdir(`${root}/blobs`, { recursive: true });
    await Deno.mkdir(`${root}/snapshots/${commit}`, { recursive: true });
    await Deno.mkdir(`${root}/refs`, { recursive: true });
    await Deno.writeTextFile(`${root}/refs/main`, commit);
    await Deno.symlink(`../../blobs/ab/${xet}`, `${root}/blobs/${etag}`);
    await Deno.symlink(`../../blobs/${etag}`, `${root}/snapshots/${commit}/model.onnx`);

    const model = (await scanCachedModel(dir, "acme/xet"))!;
    assertEquals(model.foreignBlobs.map((b) => [b.kind, b.storePath, b.size]), [
      ["shared", await Deno.realPath(`${dir}/blobs/ab/${xet}`), content.length],
    ]);
    assertEquals(model.sizeOnDisk, content.length);
    const ok = await verifyCache({ cacheDir: dir });
    assertEquals([ok.ok, ok.filesChecked, ok.bytesChecked], [true, 1, content.length]);
    // the link is Python's to keep: prune leaves it (and the store) alone
    assertEquals((await pruneCache({ cacheDir: dir, dryRun: true, olderThanMs: 0 })).items, []);

    // damaged content in the store is found, named by the file that uses it
    await Deno.writeFile(`${dir}/blobs/ab/${xet}`, bytesOf("x"), { append: true });
    const bad = await verifyCache({ cacheDir: dir });
    assertEquals(bad.issues.map((i) => [i.kind, i.expected, i.files.map((f) => f.path)]), [
      ["corrupt", etag, ["model.onnx"]],
    ]);
    // without the store's marker, the same link is just a symlink in blobs/: corrupt, never followed
    await Deno.writeFile(`${dir}/blobs/ab/${xet}`, content);
    await Deno.remove(`${dir}/blobs/.huggingface-shared-blobs`);
    const unmarked = await verifyCache({ cacheDir: dir });
    assertEquals([unmarked.ok, unmarked.filesChecked], [false, 0]);
    assert(unmarked.issues[0].message.includes("is a symlink to ../../blobs/ab/"), unmarked.issues[0].message);
  });
});

Deno.test("verify: hard links are checked through their blob, copies against the model's blobs", async () => {
  await withTempDir(async (dir) => {
    const repo = new CacheFixture(dir, "acme/copies");
    const a = commitSha("a");
    const b = commitSha("b");
    const onnx = new Uint8Array(3000).fill(7);
    const etags = await repo.addRevision(a, { "model.onnx": onnx, "config.json": "{}" }, "hardlink");
    await repo.addRevision(b, { "model.onnx": onnx, "config.json": "{}" }, "copy");
    await repo.setRef("main", b);
    const progress: number[] = [];
    const healthy = await verifyCache({ cacheDir: dir, onProgress: (e) => progress.push(e.filesDone) });
    assertEquals([healthy.ok, healthy.filesChecked, healthy.unverified], [true, 4, []]);
    assert(progress.length > 0);

    // the copy of model.onnx keeps its size but changes a byte; the hard-linked blob is truncated
    const copy = await Deno.open(repo.snapshot(b, "model.onnx"), { write: true });
    await copy.write(new Uint8Array([8]));
    copy.close();
    await Deno.truncate(repo.blob(etags["config.json"]), 1);
    const result = await verifyCache({ cacheDir: dir });
    assertEquals(result.ok, false);
    assertEquals(
      result.issues.map((i) => [i.kind, i.path, i.files.map((f) => f.path)]).sort(),
      [
        ["corrupt", repo.blob(etags["config.json"]), ["config.json"]],
        ["corrupt", repo.snapshot(b, "model.onnx"), ["model.onnx"]],
      ].sort(),
    );
    assertEquals(result.issues.find((i) => i.path === repo.blob(etags["config.json"]))!.size, 1);
  });
});

Deno.test("verify: with gpux's manifest, wrong sizes are found without hashing, wrong links and copies are corrupt", async () => {
  await withTempDir(async (dir) => {
    const repo = new CacheFixture(dir, "acme/pulled");
    const a = commitSha("a");
    const b = commitSha("b");
    const files = {
      "config.json": '{"v":1}',
      "tokenizer.json": '{"t":1}',
      "onnx/model.onnx": new Uint8Array(6000).fill(5),
    };
    const etags = await repo.addRevision(a, files);
    await repo.writeManifest(a, files);
    await repo.addRevision(b, files, "copy");
    await repo.writeManifest(b, files);
    await repo.setRef("main", b);
    assertEquals((await verifyCache({ cacheDir: dir })).ok, true);

    // the blob of model.onnx loses bytes; a's tokenizer.json links to config.json's blob;
    // b's copy of config.json keeps its size with other bytes, its copy of tokenizer.json grows
    await Deno.truncate(repo.blob(etags["onnx/model.onnx"]), 5000);
    await Deno.remove(repo.snapshot(a, "tokenizer.json"));
    await Deno.symlink(`../../blobs/${etags["config.json"]}`, repo.snapshot(a, "tokenizer.json"));
    await Deno.writeTextFile(repo.snapshot(b, "config.json"), '{"v":2}');
    await Deno.writeTextFile(repo.snapshot(b, "tokenizer.json"), '{"t":10}');
    const hashed: string[] = [];
    const result = await verifyCache({ cacheDir: dir, onProgress: (e) => hashed.push(e.path) });
    assertEquals(
      result.issues.map((i) => [i.kind, i.path]).sort(),
      [
        ["corrupt", repo.snapshot(a, "tokenizer.json")],
        ["corrupt", repo.snapshot(b, "config.json")],
        ["size_mismatch", repo.blob(etags["onnx/model.onnx"])],
        ["size_mismatch", repo.snapshot(b, "tokenizer.json")],
      ].sort(),
    );
    const size = result.issues.find((i) => i.path === repo.blob(etags["onnx/model.onnx"]))!;
    assertEquals([size.size, size.expectedSize], [5000, 6000]);
    assert(!hashed.includes(repo.blob(etags["onnx/model.onnx"])), "a wrong size needs no hashing");
    const link = result.issues.find((i) => i.path === repo.snapshot(a, "tokenizer.json"))!;
    assertEquals([link.expected, link.actual], [etags["tokenizer.json"], etags["config.json"]]);
    assertEquals(result.issues.find((i) => i.path === repo.snapshot(b, "config.json"))!.expected, etags["config.json"]);
  });
});

// ---------------------------------------------------------------------------------------------
// interoperability with @huggingface/hub's scanCacheDir

Deno.test("interop: @huggingface/hub's scanCacheDir agrees with the scan (ids, revisions, refs, sizes)", async () => {
  await withTempDir(async (dir) => {
    const sample = await writeSampleCache(dir);
    // a flat model (files at the top level, branch and tag refs only): both scans must agree exactly
    const flat = new CacheFixture(dir, "acme/flat");
    const v1 = commitSha("flat-1");
    const v2 = commitSha("flat-2");
    await flat.addRevision(v1, { "config.json": "{}", "model.onnx": new Uint8Array(1000).fill(3) });
    await flat.addRevision(v2, { "config.json": '{"a":1}', "model.onnx": new Uint8Array(1000).fill(3) });
    await flat.setRef("main", v2);
    await flat.setRef("v1", v1);

    const theirs = await hfScanCacheDir(dir);
    const ours = await scanCache({ cacheDir: dir });
    const theirModels = theirs.repos.filter((r) => r.id.type === "model");
    const ourModel = (id: string) => ours.models.find((m) => m.id === id)!;

    // they give up on a whole repo when one link dangles (acme/broken), we report it
    assertEquals(theirModels.map((r) => r.id.name).sort(), ["acme/flat", "acme/tiny-bert"]);
    assertEquals(ours.models.map((m) => m.id), ["acme/broken", "acme/flat", "acme/tiny-bert"]);
    assert(theirs.warnings.some((w) => String(w).includes(sample.broken.root)));

    for (const repo of theirModels) {
      const model = ourModel(repo.id.name);
      assertEquals(repo.revisions.map((r) => r.commitOid).sort(), model.revisions.map((r) => r.commit).sort());
      for (const revision of repo.revisions) {
        const mine = model.revisions.find((r) => r.commit === revision.commitOid)!;
        // scanCacheDir reads neither sub-folders of a snapshot nor refs/refs/pr/N
        assertEquals(revision.refs.sort(), mine.refs.filter((r) => !r.startsWith("refs/")).sort());
        const topLevel = mine.files.filter((f) => !f.path.includes("/"));
        assertEquals(revision.size, topLevel.reduce((s, f) => s + f.size, 0));
        assertEquals(revision.files.length, topLevel.length);
      }
    }
    const theirFlat = theirModels.find((r) => r.id.name === "acme/flat")!;
    const ourFlat = ourModel("acme/flat");
    assertEquals(theirFlat.size, ourFlat.sizeOnDisk);
    assertEquals(theirFlat.filesCount, ourFlat.fileCount);
    assertEquals(
      theirFlat.revisions.map((r) => [r.commitOid, r.size]).sort(),
      ourFlat.revisions.map((r) => [r.commit, r.size]).sort(),
    );
  });
});
