import { assert, assertEquals, assertMatch, assertRejects } from "./support/assert.ts";
import { RepoCachePaths } from "../src/vocabulary/cache_layout.ts";
import { acquireRepoLock, repoLockPath } from "../src/cache/lock.ts";
import { pythonTreeText, readManifest, SnapshotWriter } from "../src/cache/snapshot_writer.ts";
import { runCli } from "./support/cli.ts";
import { CacheFixture } from "./support/hf_cache.ts";
import { filterPaths, globToRegExp } from "../src/registry/file_filter.ts";
import { InterruptedError } from "../src/errors.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const ETAG = "a".repeat(64);

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gpux-cache-write-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("snapshot writer: relative symlinks exactly as Python writes them, refs without newline, .no_exist", async () => {
  await withTempDir(async (dir) => {
    const paths = new RepoCachePaths(dir, "acme/tiny");
    await Deno.mkdir(paths.blobsDir, { recursive: true });
    await Deno.writeTextFile(paths.blob(ETAG), "weights");
    const writer = new SnapshotWriter(paths);
    await writer.link(SHA, "onnx/sub/model.onnx", ETAG);
    await writer.link(SHA, "model.onnx", ETAG);
    assertEquals(await Deno.readLink(paths.snapshot(SHA, "onnx/sub/model.onnx")), `../../../../blobs/${ETAG}`);
    assertEquals(await Deno.readLink(paths.snapshot(SHA, "model.onnx")), `../../blobs/${ETAG}`);
    assertEquals(await Deno.readTextFile(paths.snapshot(SHA, "onnx/sub/model.onnx")), "weights");
    assert(await writer.isLinked(SHA, "model.onnx", ETAG, 7));
    assert(!(await writer.isLinked(SHA, "model.onnx", ETAG, 8)));
    assert(!(await writer.isLinked(SHA, "other.onnx", ETAG, 7)));
    await writer.writeRef("main", SHA);
    await writer.writeRef("refs/pr/1", SHA);
    assertEquals(await Deno.readTextFile(`${dir}/models--acme--tiny/refs/main`), SHA);
    assertEquals(await Deno.readTextFile(`${dir}/models--acme--tiny/refs/refs/pr/1`), SHA);
    await writer.markMissing(SHA, "tokenizer.json");
    assertEquals(await Deno.readTextFile(`${dir}/models--acme--tiny/.no_exist/${SHA}/tokenizer.json`), "");
    await writer.writeManifest({ id: "acme/tiny", sha: SHA, files: [{ path: "model.onnx", size: 7 }], written: "x" });
    assertEquals((await readManifest(paths, SHA))?.files, [{ path: "model.onnx", size: 7 }]);
    assertEquals(await readManifest(paths, "f".repeat(40)), undefined);
    // no temporary names left anywhere
    const blobs = [...Deno.readDirSync(paths.blobsDir)].map((e) => e.name);
    assertEquals(blobs, [ETAG]);
    assertEquals(writer.mode, "symlink");
  });
});

Deno.test("snapshot writer: a relink replaces the entry atomically", async () => {
  await withTempDir(async (dir) => {
    const paths = new RepoCachePaths(dir, "acme/tiny");
    await Deno.mkdir(paths.blobsDir, { recursive: true });
    const other = "b".repeat(64);
    await Deno.writeTextFile(paths.blob(ETAG), "one");
    await Deno.writeTextFile(paths.blob(other), "two");
    const writer = new SnapshotWriter(paths);
    await writer.link(SHA, "config.json", ETAG);
    await writer.link(SHA, "config.json", other);
    assertEquals(await Deno.readTextFile(paths.snapshot(SHA, "config.json")), "two");
  });
});

Deno.test("snapshot writer: re-linking a hard-linked entry to the same blob leaves no temporary link behind", async () => {
  await withTempDir(async (dir) => {
    const paths = new RepoCachePaths(dir, "acme/tiny");
    await Deno.mkdir(paths.blobsDir, { recursive: true });
    await Deno.writeTextFile(paths.blob(ETAG), "weights");
    const writer = new SnapshotWriter(paths, { mode: "hardlink" });
    // a second pull of the same commit (another variant) links the shared files again: rename() of a hard link
    // onto another link of the same inode does nothing, which once left the temporary link in blobs/
    await writer.link(SHA, "config.json", ETAG);
    await writer.link(SHA, "config.json", ETAG);
    const names = [];
    for await (const entry of Deno.readDir(paths.blobsDir)) names.push(entry.name);
    assertEquals(names, [ETAG]);
    assertEquals((await Deno.stat(paths.blob(ETAG))).nlink, 2);
  });
});

Deno.test("snapshot writer: falls back to hard links where symlinks are not permitted, and notes it once", async () => {
  await withTempDir(async (dir) => {
    // a child with path-scoped write permission: Deno refuses Deno.symlink there
    const script = `
      import { RepoCachePaths } from ${
      JSON.stringify(new URL("../src/vocabulary/cache_layout.ts", import.meta.url).href)
    };
      import { SnapshotWriter } from ${
      JSON.stringify(new URL("../src/cache/snapshot_writer.ts", import.meta.url).href)
    };
      const paths = new RepoCachePaths(${JSON.stringify(dir)}, "acme/tiny");
      const warnings = [];
      const notices = [];
      const writer = new SnapshotWriter(paths, { onWarning: (m) => warnings.push(m), onNotice: (m) => notices.push(m) });
      await writer.link("${SHA}", "a.json", "${ETAG}");
      await writer.link("${SHA}", "sub/b.json", "${ETAG}");
      console.log(JSON.stringify({ mode: writer.mode, warnings, notices }));
    `;
    const paths = new RepoCachePaths(dir, "acme/tiny");
    await Deno.mkdir(paths.blobsDir, { recursive: true });
    await Deno.writeTextFile(paths.blob(ETAG), "{}");
    const scriptPath = `${dir}/link.ts`;
    await Deno.writeTextFile(scriptPath, script);
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", `--allow-read`, `--allow-write=${dir}`, scriptPath],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(child.stderr);
    assertEquals(child.code, 0, stderr);
    const report = JSON.parse(new TextDecoder().decode(child.stdout));
    assertEquals(report.mode, "hardlink");
    assertEquals(report.warnings, []);
    assertEquals(report.notices.length, 1);
    assertMatch(report.notices[0], /symlinks are not permitted.*hard links/);
    const stat = await Deno.lstat(paths.snapshot(SHA, "sub/b.json"));
    assert(stat.isFile && !stat.isSymlink);
    assertEquals(stat.nlink, 3);
  });
});

/** Runs `SnapshotWriter.link` in a child with the task's kind of permissions: write scoped to `scope`, --allow-ffi. */
async function linkInSandbox(cacheDir: string, scope: string): Promise<{ code: number; out: string; err: string }> {
  const script = `
    import { RepoCachePaths } from ${
    JSON.stringify(new URL("../src/vocabulary/cache_layout.ts", import.meta.url).href)
  };
    import { SnapshotWriter } from ${JSON.stringify(new URL("../src/cache/snapshot_writer.ts", import.meta.url).href)};
    const writer = new SnapshotWriter(new RepoCachePaths(${JSON.stringify(cacheDir)}, "acme/tiny"));
    try {
      await writer.link("${SHA}", "sub/a.json", "${ETAG}");
      console.log(JSON.stringify({ mode: writer.mode }));
    } catch (e) {
      console.log(JSON.stringify({ error: e.name + ": " + e.message }));
    }
  `;
  const path = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(path, script);
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-read", `--allow-write=${scope}`, "--allow-ffi", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(path);
  const text = new TextDecoder();
  return { code: child.code, out: text.decode(child.stdout).trim(), err: text.decode(child.stderr) };
}

Deno.test("snapshot writer: under a scoped --allow-write with --allow-ffi, relative symlinks through libc", async () => {
  await withTempDir(async (dir) => {
    const paths = new RepoCachePaths(dir, "acme/tiny");
    await Deno.mkdir(paths.blobsDir, { recursive: true });
    await Deno.writeTextFile(paths.blob(ETAG), "{}");
    const result = await linkInSandbox(dir, dir);
    assertEquals(JSON.parse(result.out), { mode: "symlink" }, result.err);
    assertEquals(await Deno.readLink(paths.snapshot(SHA, "sub/a.json")), `../../../blobs/${ETAG}`);
    assertEquals(await Deno.readTextFile(paths.snapshot(SHA, "sub/a.json")), "{}");
    assertEquals([...Deno.readDirSync(paths.blobsDir)].map((e) => e.name), [ETAG], "no temporary link left");
  });
});

Deno.test("snapshot writer: never makes a libc symlink through a blobs/ folder that leads out of the cache", async () => {
  await withTempDir(async (dir) => {
    const cache = `${dir}/cache`;
    const outside = `${dir}/outside`;
    await Deno.mkdir(outside);
    await Deno.writeTextFile(`${outside}/${ETAG}`, "{}");
    const paths = new RepoCachePaths(cache, "acme/tiny");
    await Deno.mkdir(paths.root, { recursive: true });
    await Deno.symlink(outside, paths.blobsDir);
    const result = await linkInSandbox(cache, cache);
    assertMatch(
      JSON.parse(result.out).error ?? result.out,
      /CacheError: refusing to link through .*blobs: it resolves to/,
    );
    assertEquals([...Deno.readDirSync(outside)].map((e) => e.name), [ETAG], "nothing created outside the cache");
  });
});

Deno.test("repo lock: exclusive, waits for the holder, released lock is gone", async () => {
  await withTempDir(async (dir) => {
    const first = await acquireRepoLock(dir, "acme/tiny", { heartbeatMs: 50 });
    let waited = false;
    let secondHeld = false;
    const second = acquireRepoLock(dir, "acme/tiny", { pollMs: 20, onWait: () => waited = true }).then((lock) => {
      secondHeld = true;
      return lock;
    });
    const before = (await Deno.stat(repoLockPath(dir, "acme/tiny"))).mtime!.getTime();
    await new Promise((r) => setTimeout(r, 150));
    assert(waited, "the second contender waits");
    const after = (await Deno.stat(repoLockPath(dir, "acme/tiny"))).mtime!.getTime();
    assert(after > before, "the holder's heartbeat refreshes the lock file");
    assert(!secondHeld, "and does not get the lock while it is held");
    await first.release();
    const lock = await second;
    assert(secondHeld);
    const info = JSON.parse(await Deno.readTextFile(repoLockPath(dir, "acme/tiny")));
    assertEquals(info.pid, Deno.pid);
    assertEquals(info.token, lock.info.token);
    await lock.release();
    await assertRejects(() => Deno.stat(repoLockPath(dir, "acme/tiny")), Deno.errors.NotFound);
  });
});

Deno.test("repo lock: a lock without heartbeat, or of a dead pid on this host, is stale and taken over", async () => {
  await withTempDir(async (dir) => {
    const path = repoLockPath(dir, "acme/tiny");
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    // an old heartbeat, from another host
    await Deno.writeTextFile(path, JSON.stringify({ pid: 1, host: "elsewhere", token: "old", since: "x" }));
    const old = new Date(Date.now() - 120_000);
    await Deno.utime(path, old, old);
    const reasons: string[] = [];
    const lock = await acquireRepoLock(dir, "acme/tiny", { staleMs: 60_000, onStale: (_, r) => reasons.push(r) });
    assertMatch(reasons[0], /no heartbeat for 1[12]\ds/);
    await lock.release();
    // a fresh lock of a process that is gone (on this host)
    const dead = new Deno.Command("true").spawn();
    const deadPid = dead.pid;
    await dead.status;
    await Deno.writeTextFile(path, JSON.stringify({ pid: deadPid, host: Deno.hostname(), token: "dead", since: "x" }));
    const lock2 = await acquireRepoLock(dir, "acme/tiny", { onStale: (_, r) => reasons.push(r) });
    assertEquals(reasons[1], `process ${deadPid} is gone`);
    await lock2.release();
  });
});

Deno.test("repo lock: waiting honours the abort signal", async () => {
  await withTempDir(async (dir) => {
    const held = await acquireRepoLock(dir, "acme/tiny");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assertRejects(
      () => acquireRepoLock(dir, "acme/tiny", { signal: controller.signal, pollMs: 10 }),
      InterruptedError,
    );
    await held.release();
  });
});

Deno.test("readManifest: without gpux's manifest, Python's trees/{commit}.json is the file list; gpux's wins; a malformed one is none", () =>
  withTempDir(async (dir) => {
    const paths = new RepoCachePaths(dir, "acme/tiny");
    const files = [
      { path: "config.json", size: 2, oid: "1".repeat(40) },
      { path: "onnx/model.onnx", size: 9, oid: "2".repeat(40), lfs: { sha256: ETAG, size: 9 } },
    ];
    await Deno.mkdir(`${paths.root}/trees`, { recursive: true });
    await Deno.writeTextFile(`${paths.root}/trees/${SHA}.json`, pythonTreeText(files));
    const fromPython = await readManifest(paths, SHA);
    assertEquals([fromPython?.id, fromPython?.sha, fromPython?.files], ["acme/tiny", SHA, files]);
    // Python 2.x's own keys, a xet hash among them
    await Deno.writeTextFile(
      `${paths.root}/trees/${SHA}.json`,
      JSON.stringify({
        format_version: 1,
        files: {
          "a.bin": { size: 9, blob_id: "2".repeat(40), lfs_sha256: ETAG, lfs_size: 9, xet_hash: "c".repeat(64) },
        },
      }),
    );
    assertEquals((await readManifest(paths, SHA))?.files, [
      { path: "a.bin", size: 9, oid: "2".repeat(40), lfs: { sha256: ETAG, size: 9 } },
    ]);
    for (
      const bad of ['{"format_version": 2, "files": {}}', '{"format_version": 1, "files": {"a": {"size": "9"}}}', "{"]
    ) {
      await Deno.writeTextFile(`${paths.root}/trees/${SHA}.json`, bad);
      assertEquals(await readManifest(paths, SHA), undefined, bad);
    }
    await new SnapshotWriter(paths).writeManifest({ id: "acme/tiny", sha: SHA, files: [files[0]], written: "x" });
    assertEquals((await readManifest(paths, SHA))?.files, [files[0]]);
  }));

Deno.test("gpux pull --offline on a snapshot Python downloaded knows from Python's tree listing which file was deleted since", () =>
  withTempDir(async (dir) => {
    // as `hf download` leaves it, then `hf cache rm hf://models/acme/tiny/model.onnx`: the tree listing stays
    const cache = new CacheFixture(`${dir}/hub`, "acme/tiny");
    const content = { "config.json": "{}", "model.onnx": "onnx bytes" };
    const etags = await cache.addRevision(SHA, content);
    await cache.setRef("main", SHA);
    const listed = Object.entries(content).map(([path, text]) =>
      etags[path].length === 64
        ? { path, size: text.length, oid: "3".repeat(40), lfs: { sha256: etags[path], size: text.length } }
        : { path, size: text.length, oid: etags[path] }
    );
    await Deno.mkdir(`${cache.root}/trees`);
    await Deno.writeTextFile(`${cache.root}/trees/${SHA}.json`, pythonTreeText(listed));
    const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/home`, HOME: dir, HF_HUB_OFFLINE: "1" };
    const whole = await runCli(["pull", "acme/tiny", "--include", "*", "--json"], { env });
    assertEquals(whole.code, 0, whole.stderr);
    assertEquals(JSON.parse(whole.stdout).files.length, 2);

    await Deno.remove(cache.snapshot(SHA, "model.onnx"));
    await Deno.remove(cache.blob(etags["model.onnx"]));
    const partial = await runCli(["pull", "acme/tiny", "--include", "*"], { env });
    assertEquals(partial.code, 5, partial.stderr);
    assertMatch(partial.stderr, /1 file\(s\) of acme\/tiny@main are not in the cache: model\.onnx/);
  }));

Deno.test("include/exclude globs follow hf download (fnmatch: * crosses /)", () => {
  const files = [
    "config.json",
    "onnx/model.onnx",
    "onnx/model_fp16.onnx",
    "onnx/config.json",
    "tokenizer.json",
    "a[1].txt",
  ]
    .map((path) => ({ path }));
  const pick = (inc?: string[], exc?: string[]) => filterPaths(files, inc, exc).map((f) => f.path);
  assertEquals(pick(["*.json"]), ["config.json", "onnx/config.json", "tokenizer.json"]);
  assertEquals(pick(["onnx/"]), ["onnx/model.onnx", "onnx/model_fp16.onnx", "onnx/config.json"]);
  assertEquals(pick(["onnx/*"], ["*fp16*"]), ["onnx/model.onnx", "onnx/config.json"]);
  assertEquals(pick(["tokenizer.jso?"]), ["tokenizer.json"]);
  assertEquals(pick(["a[[]1].txt"]), ["a[1].txt"]);
  assertEquals(pick(["onnx/model[!_]*"]), ["onnx/model.onnx"]);
  assertEquals(pick(undefined, ["*.onnx"]), ["config.json", "onnx/config.json", "tokenizer.json", "a[1].txt"]);
  assert(globToRegExp("*.onnx").test("a/b/c.onnx"));
  assert(!globToRegExp("model.onnx").test("onnx/model.onnx"));
});
