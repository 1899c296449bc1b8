/**
 * A full disk, for real: the cache lives on a small tmpfs (this test mounts one; it needs root and
 * fails loudly when it cannot). A write error is a cache error (exit 6) naming the folder and the
 * space the pull needs; it is never retried as a network error; no blob is published unless its bytes
 * are on disk and hash to its name; nothing is left behind but resumable partial files.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { type HubServer, startHubServer } from "./support/hub_server.ts";
import { HuggingFaceManager } from "../src/registry/huggingface.ts";
import { pullModel } from "../src/registry/pull.ts";
import type { PullProgressEvent, RegistryConfig } from "../src/registry/manager.ts";
import { envFrom } from "../src/environment.ts";
import { CacheError, DiskFullError } from "../src/errors.ts";
import { createHash } from "node:crypto";

const MB = 1_000_000;

/** Mounts a tmpfs of `size` bytes on a fresh folder for `fn`; unmounts it afterwards. Never skips. */
async function withTmpfs(size: number, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gpux-tmpfs-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stderr: "piped",
  }).output();
  if (!mount.success) {
    await Deno.remove(dir);
    throw new Error(
      `cannot mount a tmpfs for the disk-full tests (they need root): ${new TextDecoder().decode(mount.stderr)}`,
    );
  }
  try {
    await fn(dir);
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

async function withHub(fn: (hub: HubServer) => Promise<void>): Promise<void> {
  const hub = await startHubServer();
  try {
    await fn(hub);
  } finally {
    await hub.close();
  }
}

async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory) out.push(...await walk(`${dir}/${entry.name}`, path));
      else out.push(path);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** Every file of the cache: no snapshot or ref, every blob named by its content, only resumable partials. */
async function assertNothingPublished(cache: string, repoFolder: string): Promise<void> {
  const files = await walk(cache);
  const root = `${cache}/${repoFolder}`;
  for (const path of files) {
    assert(!path.startsWith(`${repoFolder}/snapshots/`), `nothing may be linked into snapshots/: ${path}`);
    assert(!path.startsWith(`${repoFolder}/refs/`), `no ref may be written: ${path}`);
    assert(!/\.json\.incomplete\.[0-9a-f]+$/.test(path), `no temporary file may stay: ${path}`);
    assert(!path.includes("/.tmp-"), `no temporary file may stay: ${path}`);
    const blob = /\/blobs\/([0-9a-f]{64})$/.exec(path);
    if (blob) assertEquals(await sha256(`${root}/blobs/${blob[1]}`), blob[1], `a published blob must hash to its name`);
  }
}

Deno.test("disk full during a sequential download: a CacheError naming the folder and the space needed, nothing published even when space comes back during a retry", async () => {
  await withTmpfs(4 * 1024 * 1024, async (dir) => {
    await withHub(async (hub) => {
      hub.addRepo("acme/tiny").commit({
        "config.json": '{"model_type":"bert"}',
        "a.onnx": { size: 1_500_000, seed: 1 },
        "b.onnx": { size: 1_500_000, seed: 2 },
        "c.onnx": { size: 1_500_000, seed: 3 },
      });
      const cache = `${dir}/hub`;
      await Deno.mkdir(cache);
      // a filler leaves about one file's room; it is removed when the first write fails, so that a
      // retry (which must not happen) would then succeed and publish whatever the first attempt left
      const filler = `${dir}/filler`;
      await Deno.writeFile(filler, new Uint8Array(2 * 1024 * 1024));
      const config: RegistryConfig = {
        endpoint: hub.url,
        cacheDir: cache,
        env: envFrom({ HOME: dir }),
        retryBaseDelayMs: 10,
      };
      const events: PullProgressEvent[] = [];
      let error: unknown;
      try {
        await pullModel(new HuggingFaceManager(config), "acme/tiny", {
          include: ["*"],
          concurrency: 1,
          onProgress: (event) => {
            events.push(event);
            if (event.type === "retry") Deno.removeSync(filler, {});
          },
        });
      } catch (e) {
        error = e;
      }
      await Deno.remove(filler).catch(() => {});
      assert(error instanceof DiskFullError, `expected a DiskFullError, got ${error}`);
      assert(error instanceof CacheError);
      assertEquals(error.exitCode, 6);
      assertEquals(error.folder, `${cache}/models--acme--tiny/blobs`);
      assertStringIncludes(error.message, `${cache}/models--acme--tiny/blobs`);
      assertMatch(error.message, /needs up to [\d.]+ [kM]?B \(\d+ bytes\)/);
      assert(error.bytesNeeded >= 1_500_000, `needs at least one file: ${error.bytesNeeded}`);
      assertEquals(events.filter((e) => e.type === "retry"), [], "a write error is never retried");
      await assertNothingPublished(cache, "models--acme--tiny");
    });
  });
});

Deno.test("disk full during a ranged download: a CacheError, not retried, no temporary state files left", async () => {
  await withTmpfs(4 * 1024 * 1024, async (dir) => {
    await withHub(async (hub) => {
      hub.addRepo("acme/big").commit({ "model.onnx": { size: 6 * MB, seed: 7 } });
      const cache = `${dir}/hub`;
      const config: RegistryConfig = {
        endpoint: hub.url,
        cacheDir: cache,
        env: envFrom({ HOME: dir }),
        retryBaseDelayMs: 10,
      };
      const events: PullProgressEvent[] = [];
      let error: unknown;
      try {
        await pullModel(new HuggingFaceManager(config), "acme/big", {
          onProgress: (event) => events.push(event),
          transfer: { rangeThreshold: MB, chunkSize: 500_000 },
        });
      } catch (e) {
        error = e;
      }
      assert(error instanceof DiskFullError, `expected a DiskFullError, got ${error}`);
      assertStringIncludes(error.message, `${cache}/models--acme--big/blobs`);
      assertEquals(error.bytesNeeded, 6 * MB);
      assertEquals(events.filter((e) => e.type === "retry"), [], "a write error is never retried");
      await assertNothingPublished(cache, "models--acme--big");
      // what was written stays resumable: the ranges file and its sidecar, which the next pull continues
      const blobs = await walk(`${cache}/models--acme--big/blobs`);
      assertEquals(blobs.map((p) => p.replace(/^[0-9a-f]{64}/, "<etag>")), [
        "<etag>.ranges.incomplete",
        "<etag>.ranges.json.incomplete",
      ]);
      const state = JSON.parse(await Deno.readTextFile(`${cache}/models--acme--big/blobs/${blobs[1]}`));
      assertEquals(state.size, 6 * MB);
      const grow = await new Deno.Command("mount", { args: ["-o", "remount,size=16m", dir] }).output();
      assert(grow.success, "tmpfs remount to make room");
      const resumed = await pullModel(new HuggingFaceManager(config), "acme/big", {
        transfer: { rangeThreshold: MB, chunkSize: 500_000 },
      });
      assert(resumed.bytesDownloaded < 6 * MB, `resumed, not restarted: ${resumed.bytesDownloaded} bytes downloaded`);
      assertEquals(await walk(`${cache}/models--acme--big/blobs`), [blobs[0].replace(".ranges.incomplete", "")]);
    });
  });
});

Deno.test("gpux pull on a full disk: exit 6 with the folder and the space needed, sequential and ranged, many files", async () => {
  await withTmpfs(10 * 1024 * 1024, async (dir) => {
    await withHub(async (hub) => {
      const many: Record<string, { size: number; seed: number }> = {};
      for (let i = 0; i < 4; i++) many[`part${i}.onnx`] = { size: 4 * MB, seed: 10 + i };
      hub.addRepo("acme/many").commit(many);
      hub.addRepo("acme/big").commit({ "model.onnx": { size: 16 * MB, seed: 7 } });
      const env = { HF_ENDPOINT: hub.url, HF_HOME: `${dir}/home`, HF_HUB_CACHE: `${dir}/hub`, HOME: dir };
      for (
        const [id, extra] of [
          ["acme/many", {}],
          ["acme/big", { GPUX_PULL_RANGE_THRESHOLD: String(MB), GPUX_PULL_CHUNK_BYTES: "2000000" }],
        ] as const
      ) {
        const result = await runCli(["pull", id, "--include", "*"], { env: { ...env, ...extra } });
        assertEquals(result.code, 6, `${id}: ${result.stderr}`);
        assertStringIncludes(result.stderr, `${dir}/hub/models--${id.replace("/", "--")}/blobs`);
        assertMatch(result.stderr, /no space left on the disk .*needs up to/);
        assert(!/retry|IntegrityError|corrupt|unexpected|connection/i.test(result.stderr), result.stderr);
        await assertNothingPublished(`${dir}/hub`, `models--${id.replace("/", "--")}`);
        await Deno.remove(`${dir}/hub`, { recursive: true });
      }
    });
  });
});

Deno.test("disk full while writing the lock, a ref or a manifest: a DiskFullError each, no empty lock or temporary file left", async () => {
  const { acquireRepoLock, repoLockPath } = await import("../src/cache/lock.ts");
  const { RepoCachePaths } = await import("../src/vocabulary/cache_layout.ts");
  const { SnapshotWriter } = await import("../src/cache/snapshot_writer.ts");
  await withTmpfs(1024 * 1024, async (dir) => {
    const cache = `${dir}/hub`;
    const paths = new RepoCachePaths(cache, "acme/tiny");
    // the folders exist; then the disk is filled to the last byte
    await Deno.mkdir(`${cache}/.locks/models--acme--tiny`, { recursive: true });
    await Deno.mkdir(paths.blobsDir, { recursive: true });
    await Deno.mkdir(paths.refsDir, { recursive: true });
    await Deno.mkdir(`${paths.noExistDir}/${"a".repeat(40)}`, { recursive: true });
    await Deno.mkdir(`${paths.root}/.gpux/manifests`, { recursive: true });
    const filler = await Deno.open(`${dir}/filler`, { write: true, create: true });
    try {
      for (;;) filler.writeSync(new Uint8Array(64 * 1024));
    } catch { /* full */ }
    try {
      filler.writeSync(new Uint8Array(1));
    } catch { /* full to the byte */ }
    filler.close();
    const writer = new SnapshotWriter(paths);
    const sha = "a".repeat(40);
    for (
      const [what, fn] of [
        ["lock", () => acquireRepoLock(cache, "acme/tiny")],
        ["ref", () => writer.writeRef("main", sha)],
        ["manifest", () => writer.writeManifest({ id: "acme/tiny", sha, files: [], written: "now" })],
      ] as const
    ) {
      let error: unknown;
      try {
        await fn();
      } catch (e) {
        error = e;
      }
      assert(error instanceof DiskFullError, `${what}: expected a DiskFullError, got ${error}`);
    }
    assertEquals(await Deno.stat(repoLockPath(cache, "acme/tiny")).catch(() => undefined), undefined, "no lock left");
    assertEquals(await walk(cache), [], "nothing half-written is left");
  });
});

Deno.test("a spent quota (EDQUOT) is a DiskFullError too; other write errors a CacheError; a GpuxError passes through", async () => {
  const { writeFailure } = await import("../src/write_failure.ts");
  const quota = writeFailure(Object.assign(new Error("Disk quota exceeded (os error 122)"), { code: "EDQUOT" }), {
    path: "/cache/models--a--b/blobs/x.incomplete",
    label: "model.onnx",
    bytesNeeded: 5_000_000,
  });
  assert(quota instanceof DiskFullError);
  assertEquals(quota.folder, "/cache/models--a--b/blobs");
  assertMatch(quota.message, /disk quota exceeded while writing 'model.onnx'.*5\.0 MB \(5000000 bytes\)/);
  const denied = writeFailure(new Deno.errors.PermissionDenied("Permission denied (os error 13)"), { path: "/c/x" });
  assert(denied instanceof CacheError && !(denied instanceof DiskFullError));
  assertEquals(denied.exitCode, 6);
  const passed = new DiskFullError("x", { folder: "/", bytesNeeded: 1 });
  assertEquals(writeFailure(passed, { path: "/c/x" }), passed);
});
