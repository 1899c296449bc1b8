/**
 * gpux and the real Python client (`huggingface_hub` from pip, see support/python_hf.ts) on the same
 * cache, against the local hub: Python reads what `deno task gpux pull` wrote, counts it the same, deletes
 * and repairs it; gpux resumes Python's partial files and takes Python's per-blob lock.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { runCli, spawnCli, taskPermissions } from "./support/cli.ts";
import { type HubServer, startHubServer } from "./support/hub_server.ts";
import { exists, sha256Hex } from "./support/hf_cache.ts";
import { python, pythonEnv, runPython, spawnPython } from "./support/python_hf.ts";
import { acquireBlobLock, blobLockPath } from "../src/cache/lock.ts";
import { scanCachedModel } from "../src/cache/scan.ts";

interface Fixture {
  hub: HubServer;
  dir: string;
  cache: string;
  /** gpux's environment (`deno task gpux`). */
  env: Record<string, string>;
  /** Python's environment. */
  py: Record<string, string>;
  v1: string;
  v2: string;
}

const REPO = "acme/tiny";
/** The files of the fixture at both commits (`extra/tokenizer.json` is the same blob as `tokenizer.json`). */
const FILES = ["config.json", "extra/tokenizer.json", "model.onnx", "onnx/model_quantized.onnx", "tokenizer.json"];

async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  await python(); // a missing client fails here, in one line
  const hub = await startHubServer();
  const dir = await Deno.makeTempDir({ prefix: "gpux-python-" });
  const cache = `${dir}/hub`;
  try {
    const repo = hub.addRepo(REPO, { libraryName: "onnx" });
    const v1 = repo.commit({
      "config.json": '{"model_type":"bert","v":1}',
      "tokenizer.json": '{"version":"1.0"}',
      "extra/tokenizer.json": '{"version":"1.0"}',
      "model.onnx": { size: 400_000, seed: 3 },
      "onnx/model_quantized.onnx": { size: 12_000, seed: 4 },
    });
    const v2 = repo.commit({ "config.json": '{"model_type":"bert","v":2}' });
    const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_HOME: `${dir}/home`, HOME: dir };
    await fn({ hub, dir, cache, env, py: pythonEnv(hub, cache, dir), v1, v2 });
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function gpux(f: Fixture, ...args: string[]) {
  const result = await runCli(args, { env: f.env });
  assertEquals(result.code, 0, `gpux ${args.join(" ")}: ${result.stderr}`);
  return result;
}

const ALL_FILES = ["--include", "*"];

/** sha256 of each file of a snapshot read through Python, offline. */
const READ_OFFLINE = `
import json, sys, os, hashlib
from huggingface_hub import snapshot_download, hf_hub_download
a = json.loads(sys.argv[1])
out = {}
for rev in a["revisions"]:
    files = {}
    for path in a["files"]:
        p = hf_hub_download(a["repo"], path, revision=rev)
        files[path] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    # a commit sha too: Python's tree listing (trees/{commit}.json), which gpux writes, answers it offline
    folder = snapshot_download(a["repo"], revision=rev)
    assert sorted(os.path.relpath(os.path.join(r, n), folder) for r, _, ns in os.walk(folder) for n in ns) == sorted(a["files"])
    one = hf_hub_download(a["repo"], "config.json", revision=rev)
    out[rev] = {"files": files, "config": open(one).read()}
print(json.dumps(out))
`;

const SCAN = `
import json, sys
from huggingface_hub import scan_cache_dir
info = scan_cache_dir()
print(json.dumps([{
  "id": r.repo_id, "size": r.size_on_disk, "warnings": [str(w) for w in info.warnings],
  "revisions": sorted([{"commit": v.commit_hash, "size": v.size_on_disk, "files": sorted(f.file_name for f in v.files)} for v in r.revisions], key=lambda v: v["commit"]),
} for r in info.repos]))
`;

Deno.test("python reads gpux's pulls (relative symlinks) offline, and scan_cache_dir counts the sizes gpux counts", () =>
  withFixture(async (f) => {
    await gpux(f, "pull", `${REPO}@${f.v1}`, ...ALL_FILES, "--quiet");
    await gpux(f, "pull", REPO, ...ALL_FILES, "--quiet");
    const read = await runPython<Record<string, { files: Record<string, string>; config: string }>>(
      READ_OFFLINE,
      { ...f.py, HF_HUB_OFFLINE: "1" },
      {
        repo: REPO,
        revisions: ["main", f.v1],
        files: FILES,
      },
    );
    assertEquals(read.main.config, '{"model_type":"bert","v":2}');
    assertEquals(read[f.v1].config, '{"model_type":"bert","v":1}');
    assert(await exists(`${f.cache}/models--acme--tiny/trees/${f.v1}.json`), "Python's tree listing");
    for (const [rev, commit] of [["main", f.v2], [f.v1, f.v1]]) {
      const expected = Object.fromEntries(
        FILES.map((
          p,
        ) => [p, sha256Hex(f.hub.fileBytes(REPO, p, commit))]),
      );
      assertEquals(read[rev].files, expected, rev);
    }

    const [scan] = await runPython<
      { id: string; size: number; warnings: string[]; revisions: { commit: string; size: number }[] }[]
    >(SCAN, f.py);
    assertEquals(scan.warnings, []);
    const ls = JSON.parse((await gpux(f, "ls", "--json")).stdout).models[0];
    assertEquals(ls.sizeOnDisk, scan.size);
    const blobs = [
      ...new Set(
        FILES.flatMap((p) =>
          [f.v1, f.v2].map((c) => f.hub.fileInfo(REPO, p, c)).map((i) => `${i.sha256 ?? i.oid}:${i.size}`)
        ),
      ),
    ];
    assertEquals(scan.size, blobs.reduce((sum, b) => sum + Number(b.split(":")[1]), 0));
    assertEquals(
      ls.revisions.map((r: { commit: string; size: number }) => ({ commit: r.commit, size: r.size }))
        .sort((a: { commit: string }, b: { commit: string }) => a.commit.localeCompare(b.commit)),
      scan.revisions.map((r) => ({ commit: r.commit, size: r.size })),
    );
  }));

const DELETE = `
import json, sys
from huggingface_hub import scan_cache_dir
a = json.loads(sys.argv[1])
strategy = scan_cache_dir().delete_revisions(*a["commits"])
strategy.execute()
print(json.dumps({"freed": strategy.expected_freed_size, "blobs": sorted(str(b) for b in strategy.blobs)}))
`;

Deno.test("python's delete_revisions frees the blobs of a revision gpux pulled; gpux ls and prune agree afterwards", () =>
  withFixture(async (f) => {
    await gpux(f, "pull", `${REPO}@${f.v1}`, ...ALL_FILES, "--quiet");
    await gpux(f, "pull", REPO, ...ALL_FILES, "--quiet");
    const oldConfig = f.hub.fileInfo(REPO, "config.json", f.v1);
    // what gpux rm would free agrees with what Python's plan frees
    const planned = await runPython<{ freed: number }>(DELETE.replace("strategy.execute()", ""), f.py, {
      commits: [f.v1],
    });
    const rm = await gpux(f, "rm", `${REPO}@${f.v1}`, "--dry-run", "--json");
    assertEquals(JSON.parse(rm.stdout).freedBytes, planned.freed);
    const deleted = await runPython<{ freed: number; blobs: string[] }>(DELETE, f.py, { commits: [f.v1] });
    assertEquals(deleted.freed, oldConfig.size);
    const root = `${f.cache}/models--acme--tiny`;
    assert(!await exists(`${root}/blobs/${oldConfig.oid}`), "the blob only v1 used is gone");
    assert(!await exists(`${root}/snapshots/${f.v1}`));

    const ls = JSON.parse((await gpux(f, "ls", "--json")).stdout).models[0];
    assertEquals(ls.revisions.map((r: { commit: string }) => r.commit), [f.v2]);
    const [scan] = await runPython<{ size: number }[]>(SCAN, f.py);
    assertEquals(ls.sizeOnDisk, scan.size);
    // gpux's record of v1's file list is stale now: prune clears it, and nothing else
    const pruned = await gpux(f, "cache", "prune", "--json");
    const items: { path: string }[] = JSON.parse(pruned.stdout).items;
    assert(!await exists(`${root}/.gpux/manifests/${f.v1}.json`), pruned.stdout);
    assertEquals(items.map((i) => i.path), [`${root}/.gpux/manifests/${f.v1}.json`]);
    const offline = await runCli(["pull", `${REPO}@${f.v1}`, "--offline"], { env: f.env });
    assertEquals(offline.code, 5, offline.stderr);
  }));

const FORCE = `
import json, sys, hashlib
from huggingface_hub import hf_hub_download
a = json.loads(sys.argv[1])
p = hf_hub_download(a["repo"], a["path"], force_download=True)
print(json.dumps(hashlib.sha256(open(p, "rb").read()).hexdigest()))
`;

Deno.test("python's hf_hub_download(force_download=True) repairs a damaged file gpux pulled", () =>
  withFixture(async (f) => {
    await gpux(f, "pull", REPO, "--quiet");
    const info = f.hub.fileInfo(REPO, "model.onnx");
    const blob = `${f.cache}/models--acme--tiny/blobs/${info.sha256}`;
    const handle = await Deno.open(blob, { write: true });
    await handle.write(new Uint8Array([0xff, 0xfe, 0xfd]));
    handle.close();
    assertEquals((await runCli(["cache", "verify"], { env: f.env })).code, 6);
    const repaired = await runPython<string>(FORCE, f.py, { repo: REPO, path: "model.onnx" });
    assertEquals(repaired, info.sha256);
    assertEquals((await runCli(["cache", "verify"], { env: f.env })).code, 0);
  }));

Deno.test("gpux resumes Python's partial blobs/{etag}.{8 hex}.incomplete, verifies the result and removes the partial", () =>
  withFixture(async (f) => {
    const info = f.hub.fileInfo(REPO, "model.onnx");
    const blobs = `${f.cache}/models--acme--tiny/blobs`;
    await Deno.mkdir(blobs, { recursive: true });
    const half = 150_000;
    await Deno.writeFile(
      `${blobs}/${info.sha256}.0a1b2c3d.incomplete`,
      f.hub.fileBytes(REPO, "model.onnx", "main", 0, half),
    );
    await Deno.writeFile(
      `${blobs}/${info.sha256}.99999999.incomplete`,
      f.hub.fileBytes(REPO, "model.onnx", "main", 0, 10),
    );
    // gpux's scan (ls, prune) names the blob Python's partials are for
    const scanned = await scanCachedModel(f.cache, REPO);
    assertEquals(scanned?.incomplete.map((i) => i.etag), [info.sha256, info.sha256]);
    f.hub.clearRequests();
    const pulled = JSON.parse((await gpux(f, "pull", REPO, "--include", "model.onnx", "--json")).stdout);
    assertEquals(pulled.bytesDownloaded, info.size - half);
    const ranges = f.hub.requests.filter((r) => r.origin === "cdn").map((r) => r.range);
    assertEquals(ranges, [`bytes=${half}-`]);
    assertEquals([...Deno.readDirSync(blobs)].map((e) => e.name), [info.sha256]);
    assertEquals((await runCli(["cache", "verify"], { env: f.env })).code, 0);
  }));

const HOLD = `
import json, sys
from filelock import FileLock
a = json.loads(sys.argv[1])
lock = FileLock(a["path"])
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
lock.release()
print(json.dumps("released"))
`;

const TRY = `
import json, sys
from filelock import FileLock, Timeout
a = json.loads(sys.argv[1])
try:
    FileLock(a["path"]).acquire(timeout=0)
    print(json.dumps("taken"))
except Timeout:
    print(json.dumps("busy"))
`;

Deno.test("blob lock: gpux's flock and Python's filelock on .locks/models--org--name/{etag}.lock exclude each other", async () => {
  await python();
  const dir = await Deno.makeTempDir({ prefix: "gpux-lock-" });
  try {
    const etag = "a".repeat(64);
    const path = blobLockPath(dir, REPO, etag);
    assertEquals(path, `${dir}/.locks/models--acme--tiny/${etag}.lock`);
    const env = { PATH: Deno.env.get("PATH") ?? "" };
    // gpux holds it: Python cannot take it; after release, Python can
    const held = await acquireBlobLock(dir, REPO, etag);
    assertEquals(await runPython(TRY, env, { path }), "busy");
    held.release();
    assertEquals(await runPython(TRY, env, { path }), "taken");

    // Python holds it: gpux waits (and says so) until Python lets go
    const child = await spawnPython(HOLD, env, { path });
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assertEquals((await reader.read()).value?.trim(), "held");
    let waited = false;
    let taken = false;
    const pending = acquireBlobLock(dir, REPO, etag, { pollMs: 20, onWait: () => (waited = true) }).then((lock) => {
      taken = true;
      return lock;
    });
    while (!waited) await new Promise((r) => setTimeout(r, 10));
    assertEquals(taken, false);
    const stdin = child.stdin.getWriter();
    await stdin.write(new TextEncoder().encode("go\n"));
    await stdin.close();
    const lock = await pending;
    assertStringIncludes((await reader.read()).value ?? "", "released");
    reader.releaseLock();
    lock.release();
    await child.stderr.cancel();
    await child.status;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gpux pull waits while Python holds the blob's lock, then uses the blob Python wrote: nothing fetched", () =>
  withFixture(async (f) => {
    const info = f.hub.fileInfo(REPO, "model.onnx");
    const lockPath = blobLockPath(f.cache, REPO, info.sha256!);
    await Deno.mkdir(lockPath.slice(0, lockPath.lastIndexOf("/")), { recursive: true });
    const python = await spawnPython(HOLD, f.py, { path: lockPath });
    const out = python.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assertEquals((await out.read()).value?.trim(), "held");
    f.hub.clearRequests();
    const cli = await spawnCli(["pull", REPO, "--include", "model.onnx"], { env: f.env });
    const err = cli.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("waiting for another download of model.onnx")) {
      const chunk = await err.read();
      assert(!chunk.done, `gpux ended without waiting: ${seen}`);
      seen += chunk.value;
    }
    const drained = (async () => {
      for (let chunk = await err.read(); !chunk.done; chunk = await err.read()) seen += chunk.value;
    })();
    // what Python does under its lock: the verified blob appears under its final name
    const blob = `${f.cache}/models--acme--tiny/blobs/${info.sha256}`;
    await Deno.writeFile(`${blob}.0a1b2c3d.incomplete`, f.hub.fileBytes(REPO, "model.onnx"));
    await Deno.rename(`${blob}.0a1b2c3d.incomplete`, blob);
    const stdin = python.stdin.getWriter();
    await stdin.write(new TextEncoder().encode("go\n"));
    await stdin.close();
    const [status, stdout] = await Promise.all([cli.status, new Response(cli.stdout).text(), drained]);
    assertEquals(status.code, 0, seen);
    assertStringIncludes(stdout, "0 B downloaded");
    assertEquals(f.hub.requests.filter((r) => r.origin === "cdn").length, 0);
    await out.cancel();
    await python.stderr.cancel();
    await python.status;
  }));

const DOWNLOAD = `
import json, sys, hashlib
from huggingface_hub import hf_hub_download
a = json.loads(sys.argv[1])
p = hf_hub_download(a["repo"], a["path"])
print(json.dumps(hashlib.sha256(open(p, "rb").read()).hexdigest()))
`;

Deno.test("gpux and Python downloading the same blob at once fetch it from the CDN once", () =>
  withFixture(async (f) => {
    const info = f.hub.fileInfo(REPO, "model.onnx");
    f.hub.setShaping({ bytesPerSecond: 1_000_000 });
    f.hub.clearRequests();
    const [py, cli] = await Promise.all([
      runPython<string>(DOWNLOAD, f.py, { repo: REPO, path: "model.onnx" }),
      runCli(["pull", REPO, "--include", "model.onnx", "--json"], { env: f.env }),
    ]);
    assertEquals(py, info.sha256);
    assertEquals(cli.code, 0, cli.stderr);
    const fetched = f.hub.requests.filter((r) => r.origin === "cdn" && r.path.includes(info.sha256!))
      .reduce((sum, r) => sum + r.bytesSent, 0);
    assertEquals(fetched, info.size);
    assertEquals((await runCli(["cache", "verify"], { env: f.env })).code, 0);
  }));

Deno.test("gpux leaves Python's snapshot symlinks alone when it downloads other files of the snapshot (hard-link mode too)", () =>
  withFixture(async (f) => {
    await runPython(DOWNLOAD, f.py, { repo: REPO, path: "config.json" });
    const entry = `${f.cache}/models--acme--tiny/snapshots/${f.v2}/config.json`;
    const before = await Deno.lstat(entry);
    assert(before.isSymlink);
    // without --allow-ffi gpux links by hard links, and before the fix re-linked every entry that way
    const permissions = (await taskPermissions(f.env)).filter((p) => p !== "--allow-ffi");
    const pulled = await runCli(["pull", REPO, "--quiet"], { env: f.env, permissions });
    assertEquals(pulled.code, 0, pulled.stderr);
    const after = await Deno.lstat(entry);
    assert(after.isSymlink, "still Python's symlink");
    assertEquals(after.ino, before.ino, "the very same link, not a new one");
    assert((await Deno.lstat(`${f.cache}/models--acme--tiny/snapshots/${f.v2}/model.onnx`)).isFile);
  }));

const LOCAL_DIR = `
import json, sys, hashlib
from huggingface_hub import hf_hub_download
a = json.loads(sys.argv[1])
out = {}
for path in a["files"]:
    p = hf_hub_download(a["repo"], path, local_dir=a["dir"])
    out[path] = [p, hashlib.sha256(open(p, "rb").read()).hexdigest()]
print(json.dumps(out))
`;

Deno.test("gpux pull --local-dir writes plain files and Python's metadata: Python reads them (offline and online, nothing fetched), a second pull fetches nothing", () =>
  withFixture(async (f) => {
    const env = { ...f.env, INIT_CWD: f.dir };
    const files = FILES;
    const first = await runCli(["pull", REPO, "--include", "*", "--local-dir", "out", "--json"], { env });
    assertEquals(first.code, 0, first.stderr);
    const result = JSON.parse(first.stdout);
    const dir = `${f.dir}/out`;
    assertEquals(result.snapshotPath, dir);
    for (const path of files) {
      const info = f.hub.fileInfo(REPO, path);
      const stat = await Deno.lstat(`${dir}/${path}`);
      assert(stat.isFile && stat.nlink === 1, path);
      const [commit, etag, time] = (await Deno.readTextFile(`${dir}/.cache/huggingface/download/${path}.metadata`))
        .split("\n");
      assertEquals([commit, etag], [f.v2, info.sha256 ?? info.oid]);
      assert(Number(time) * 1000 >= stat.mtime!.getTime() - 1000, time);
    }
    assertEquals(await Deno.readTextFile(`${dir}/.cache/huggingface/.gitignore`), "*");
    assert(!await exists(`${f.cache}/models--acme--tiny`), "the cache is untouched");

    f.hub.clearRequests();
    const second = await runCli(["pull", REPO, "--include", "*", "--local-dir", dir, "--json"], { env });
    assertEquals(second.code, 0, second.stderr);
    assertEquals(JSON.parse(second.stdout).bytesDownloaded, 0);
    assertEquals(f.hub.requests.filter((r) => r.path.includes("/resolve/") || r.origin === "cdn").length, 0);

    const expected = Object.fromEntries(files.map((p) => [p, [`${dir}/${p}`, sha256Hex(f.hub.fileBytes(REPO, p))]]));
    assertEquals(await runPython(LOCAL_DIR, { ...f.py, HF_HUB_OFFLINE: "1" }, { repo: REPO, dir, files }), expected);
    assertEquals(await runPython(LOCAL_DIR, f.py, { repo: REPO, dir, files }), expected);
    assertEquals(f.hub.requests.filter((r) => r.origin === "cdn").length, 0, "Python fetched nothing either");

    // a folder where a file goes is never deleted: the pull stops naming it
    await Deno.mkdir(`${f.dir}/taken/config.json`, { recursive: true });
    await Deno.writeTextFile(`${f.dir}/taken/config.json/mine.txt`, "keep me");
    const blocked = await runCli(["pull", REPO, "--include", "config.json", "--local-dir", "taken"], { env });
    assertEquals(blocked.code, 6, blocked.stderr);
    assertStringIncludes(blocked.stderr, "a folder of that name is in the way");
    assertEquals(await Deno.readTextFile(`${f.dir}/taken/config.json/mine.txt`), "keep me");

    // the sandbox grants exactly the local dir named, wherever it is
    const outside = await Deno.makeTempDir({ prefix: "gpux-outside-" });
    try {
      const granted = await runCli(["pull", REPO, "--include", "config.json", "--local-dir", outside], { env });
      assertEquals(granted.code, 0, granted.stderr);
      assert(await exists(`${outside}/config.json`), "written where asked");
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  }));

Deno.test("a cache gpux wrote with hard links (no --allow-ffi) becomes Python's symlinks on the next gpux pull; Python's sizes agree", () =>
  withFixture(async (f) => {
    const noFfi = (await taskPermissions(f.env)).filter((p) => p !== "--allow-ffi");
    const first = await runCli(["pull", REPO, ...ALL_FILES, "--quiet"], { env: f.env, permissions: noFfi });
    assertEquals(first.code, 0, first.stderr);
    const snapshot = `${f.cache}/models--acme--tiny/snapshots/${f.v2}`;
    assert((await Deno.lstat(`${snapshot}/model.onnx`)).isFile, "a hard link first");
    f.hub.clearRequests();
    const again = JSON.parse((await gpux(f, "pull", REPO, ...ALL_FILES, "--json")).stdout);
    assertEquals(again.bytesDownloaded, 0);
    for (const path of FILES) assert((await Deno.lstat(`${snapshot}/${path}`)).isSymlink, path);
    const [scan] = await runPython<{ size: number }[]>(SCAN, f.py);
    const ls = JSON.parse((await gpux(f, "ls", "--json")).stdout).models[0];
    assertEquals(scan.size, ls.sizeOnDisk);
  }));

const SNAPSHOT_OFFLINE = `
import json, sys, os
from huggingface_hub import snapshot_download
a = json.loads(sys.argv[1])
folder = snapshot_download(a["repo"], revision=a["revision"])
print(json.dumps(sorted(os.path.relpath(os.path.join(r, n), folder) for r, _, ns in os.walk(folder) for n in ns)))
`;

Deno.test("a pull of some files only writes no Python tree listing: Python's offline snapshot_download returns what is there", () =>
  withFixture(async (f) => {
    await gpux(f, "pull", REPO, "--quiet"); // the default variant: not onnx/model_quantized.onnx
    assert(!await exists(`${f.cache}/models--acme--tiny/trees/${f.v2}.json`));
    const listed = await runPython<string[]>(SNAPSHOT_OFFLINE, { ...f.py, HF_HUB_OFFLINE: "1" }, {
      repo: REPO,
      revision: "main",
    });
    assertEquals(listed, ["config.json", "extra/tokenizer.json", "model.onnx", "tokenizer.json"]);
  }));
