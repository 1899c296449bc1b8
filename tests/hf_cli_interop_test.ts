/**
 * gpux and huggingface_hub's own `hf` command line (from pip, see support/python_hf.ts) on one cache, as a user runs
 * them: `deno task gpux pull` under its sandbox against the local hub, then `hf cache ls|verify|prune|rm` and
 * `hf download` on what it wrote (offline where they can be), and the other way round. One hub and one cache go
 * through the steps in order: each step starts from the cache the previous one left.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { type CliResult, runCli } from "./support/cli.ts";
import { type HubServer, startHubServer } from "./support/hub_server.ts";
import { exists } from "./support/hf_cache.ts";
import { buildModel, identityModel } from "./support/onnx_builder.ts";
import { HF_CLI, python, pythonEnv } from "./support/python_hf.ts";

const REPO = "acme/tiny";
const ROOT_NAME = "models--acme--tiny";
/** Every file of the repository (`extra/tokenizer.json` is the same blob as `tokenizer.json`). */
const FILES = ["config.json", "extra/tokenizer.json", "model.onnx", "onnx/model_quantized.onnx", "tokenizer.json"];
const ALL = ["--include", "*"];

/** A size as huggingface_hub prints it (`_format_size`: powers of 1000, one decimal). */
function pySize(bytes: number): string {
  let n = bytes;
  for (const unit of ["", "K", "M", "G", "T", "P", "E", "Z"]) {
    if (Math.abs(n) < 1000) return `${n.toFixed(1)}${unit}`;
    n /= 1000;
  }
  return `${n.toFixed(1)}Y`;
}

class Fixture {
  readonly root: string;
  /** gpux's environment (`deno task gpux`, started in `dir`). */
  readonly env: Record<string, string>;
  /** The `hf` command's environment. */
  readonly py: Record<string, string>;

  constructor(readonly hub: HubServer, readonly dir: string, readonly cache: string) {
    this.root = `${cache}/${ROOT_NAME}`;
    this.env = {
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: cache,
      HF_HOME: `${dir}/home`,
      HOME: dir,
      GPUX_HOME: `${dir}/gpux`,
      INIT_CWD: dir,
    };
    this.py = pythonEnv(hub, cache, dir);
  }

  /** `gpux …args`, which must succeed. */
  async gpux(...args: string[]): Promise<CliResult> {
    const result = await runCli(args, { env: this.env });
    assertEquals(result.code, 0, `gpux ${args.join(" ")}: ${result.stderr}`);
    return result;
  }

  /** `gpux ls --json`'s one model (undefined when the cache holds none). */
  async lsModel(): Promise<LsModel | undefined> {
    const doc = JSON.parse((await this.gpux("ls", "--json")).stdout) as { models: LsModel[] };
    assert(doc.models.length <= 1, JSON.stringify(doc.models.map((m) => m.id)));
    return doc.models[0];
  }

  /** `hf …args` in `dir`; `HF_HUB_OFFLINE=1` when `offline`. */
  async hf(args: string[], offline = false): Promise<CliResult> {
    const output = await new Deno.Command(HF_CLI, {
      args,
      env: { ...this.py, ...(offline ? { HF_HUB_OFFLINE: "1" } : {}) },
      clearEnv: true,
      cwd: this.dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    return { code: output.code, stdout: text.decode(output.stdout), stderr: text.decode(output.stderr) };
  }

  /** `hf …args --json`, which must succeed; its JSON document. */
  async hfJson<T = Record<string, unknown>>(args: string[], offline = false): Promise<T> {
    const result = await this.hf([...args, "--json"], offline);
    assertEquals(result.code, 0, `hf ${args.join(" ")}: ${result.stdout}${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  }

  /** The ids `hf cache ls` lists whose size is exactly `bytes` (with `--revisions`: revisions' commits). */
  async hfListedAtSize(bytes: number, revisions = false): Promise<string[]> {
    const items = await this.hfJson<{ id: string; revision?: string }[]>(
      ["cache", "ls", ...(revisions ? ["--revisions"] : []), "--filter", `size=${bytes}`],
      true,
    );
    return items.map((i) => i.revision ?? i.id);
  }

  /** Bytes of the distinct blobs of `commits` (each file's etag once), as both tools count a cached repo. */
  blobBytes(...commits: string[]): number {
    const blobs = new Map<string, number>();
    for (const commit of commits) {
      for (const path of FILES) {
        const info = this.hub.fileInfo(REPO, path, commit);
        blobs.set(info.sha256 ?? info.oid, info.size);
      }
    }
    return [...blobs.values()].reduce((sum, size) => sum + size, 0);
  }

  blob(path: string, commit = "main"): string {
    const info = this.hub.fileInfo(REPO, path, commit);
    return `${this.root}/blobs/${info.sha256 ?? info.oid}`;
  }

  /** What reached the CDN or fetched file content from `resolve/` since the last `clearRequests`. */
  contentRequests(): string[] {
    return this.hub.requests
      .filter((r) => r.origin === "cdn" || (r.path.includes("/resolve/") && (r.method !== "HEAD" || r.bytesSent > 0)))
      .map((r) => `${r.origin} ${r.method} ${r.path} (${r.bytesSent} B)`);
  }
}

interface LsModel {
  id: string;
  sizeOnDisk: number;
  refs: Record<string, string>;
  revisions: { commit: string; refs: string[]; detached: boolean; size: number; fileCount: number }[];
}

Deno.test("huggingface_hub's hf CLI on caches gpux wrote, and gpux on caches hf wrote", async (t) => {
  await python(); // a missing client fails here, in one line
  const hub = await startHubServer();
  const dir = await Deno.makeTempDir({ prefix: "gpux-hfcli-" });
  const f = new Fixture(hub, dir, `${dir}/hub`);
  try {
    const repo = hub.addRepo(REPO, { libraryName: "onnx" });
    const v1 = repo.commit({
      "config.json": '{"model_type":"bert","v":1}',
      "tokenizer.json": '{"version":"1.0"}',
      "extra/tokenizer.json": '{"version":"1.0"}',
      "model.onnx": buildModel(identityModel("float32", [1, 3])),
      "onnx/model_quantized.onnx": { size: 300_000, seed: 4 },
    });
    // pulled, then main moves and is pulled again: v1 is left detached, with one blob of its own
    await f.gpux("pull", REPO, ...ALL, "--quiet");
    const v2 = repo.commit({ "config.json": '{"model_type":"bert","v":2}' });
    await f.gpux("pull", REPO, ...ALL, "--quiet");
    const v1Only = f.hub.fileInfo(REPO, "config.json", v1);

    await t.step(
      "hf cache ls lists gpux's pull: its revisions and refs, sizes of the distinct blobs, as gpux ls",
      async () => {
        const both = f.blobBytes(v1, v2);
        const [listed] = await f.hfJson<{ id: string; size: string; refs: string[] }[]>(["cache", "ls"], true);
        assertEquals([listed.id, listed.size, listed.refs], [`model/${REPO}`, pySize(both), ["main"]]);
        assertEquals(await f.hfListedAtSize(both), [`model/${REPO}`], "the exact byte count");
        assertEquals(await f.hfListedAtSize(both - 1), []);
        const revisions = await f.hfJson<{ revision: string; refs: string[]; size: string }[]>(
          ["cache", "ls", "--revisions"],
          true,
        );
        assertEquals(
          revisions.map((r) => [r.revision, r.refs, r.size]).sort(),
          [[v1, [], pySize(f.blobBytes(v1))], [v2, ["main"], pySize(f.blobBytes(v2))]].sort(),
        );
        assertEquals(
          await f.hfListedAtSize(f.blobBytes(v2), true),
          [v2].concat(
            f.blobBytes(v1) === f.blobBytes(v2) ? [v1] : [],
          ).sort(),
        );
        const warnings = await f.hf(["cache", "ls", "--show-warnings", "--format", "agent"], true);
        assertEquals(warnings.code, 0);
        assert(!warnings.stderr.includes("Warning"), warnings.stderr);

        const ls = await f.lsModel();
        assertEquals(ls?.sizeOnDisk, both);
        assertEquals(
          ls?.revisions.map((r) => [r.commit, r.refs, r.detached, r.size]).sort(),
          [[v1, [], true, f.blobBytes(v1)], [v2, ["main"], false, f.blobBytes(v2)]].sort(),
        );
        const table = (await f.gpux("ls")).stdout;
        assertStringIncludes(table, `${REPO}\t${v2.slice(0, 12)}\tmain\t`);
        assertStringIncludes(table, `${REPO}\t${v1.slice(0, 12)}\t(detached)\t`);
      },
    );

    await t.step("hf cache verify passes on gpux's pull, at main and at the detached revision", async () => {
      for (const revision of [[], ["--revision", v1]]) {
        const verified = await f.hf([
          "cache",
          "verify",
          REPO,
          ...revision,
          "--fail-on-missing-files",
          "--fail-on-extra-files",
          "--format",
          "agent",
        ]);
        assertEquals(verified.code, 0, verified.stdout + verified.stderr);
        assertStringIncludes(verified.stdout, `checked=${FILES.length}`);
        assertStringIncludes(verified.stdout, `path=${f.root}/snapshots/${revision.length ? v1 : v2}`);
      }
    });

    await t.step(
      "hf download of files gpux pulled fetches nothing, offline or online, and returns the snapshot path",
      async () => {
        f.hub.clearRequests();
        for (const offline of [true, false]) {
          const one = await f.hfJson<{ path: string }>(["download", REPO, "model.onnx"], offline);
          assertEquals(one.path, `${f.root}/snapshots/${v2}/model.onnx`);
          const old = await f.hfJson<{ path: string }>(["download", REPO, "config.json", "--revision", v1], offline);
          assertEquals(old.path, `${f.root}/snapshots/${v1}/config.json`);
          assertEquals(await Deno.readTextFile(old.path), '{"model_type":"bert","v":1}');
          // the whole repository: gpux wrote Python's tree listing, so Python knows the snapshot is complete
          const all = await f.hfJson<{ path: string }>(["download", REPO], offline);
          assertEquals(all.path, `${f.root}/snapshots/${v2}`);
        }
        assertEquals(f.contentRequests(), []);
      },
    );

    await t.step(
      "a damaged blob gpux wrote fails hf cache verify, naming the file; hf download --force-download repairs it",
      async () => {
        const info = f.hub.fileInfo(REPO, "onnx/model_quantized.onnx");
        const handle = await Deno.open(f.blob("onnx/model_quantized.onnx"), { write: true });
        await handle.write(new Uint8Array([0xff, 0xfe, 0xfd]));
        handle.close();
        const failed = await f.hf(["cache", "verify", REPO, "--format", "agent"]);
        assertEquals(failed.code, 1, failed.stdout + failed.stderr);
        assertStringIncludes(failed.stdout, `onnx/model_quantized.onnx: expected ${info.sha256} (sha256), got `);
        assert(!failed.stdout.includes("config.json:"), failed.stdout);
        assertEquals((await runCli(["cache", "verify"], { env: f.env })).code, 6);

        const repaired = await f.hfJson<{ path: string }>([
          "download",
          REPO,
          "onnx/model_quantized.onnx",
          "--force-download",
        ]);
        assertEquals(repaired.path, `${f.root}/snapshots/${v2}/onnx/model_quantized.onnx`);
        assertEquals((await f.hf(["cache", "verify", REPO])).code, 0);
        assertEquals((await f.hf(["cache", "verify", REPO, "--revision", v1])).code, 0, "the blob v1 shares too");
        await f.gpux("cache", "verify");
      },
    );

    await t.step(
      "hf cache prune removes the revision gpux left detached and its own blob; gpux lists, pulls and runs main",
      async () => {
        const pruned = await f.hfJson(["cache", "prune", "--yes"]);
        assertEquals(pruned.revisions_deleted, 1);
        assertEquals(pruned.freed, pySize(v1Only.size));
        assert(!await exists(`${f.root}/snapshots/${v1}`), "v1's snapshot");
        assert(!await exists(f.blob("config.json", v1)), "the blob only v1 used");
        for (const path of FILES) assert(await exists(f.blob(path)), path);

        const ls = await f.lsModel();
        assertEquals(ls?.revisions.map((r) => [r.commit, r.refs]), [[v2, ["main"]]]);
        assertEquals(ls?.sizeOnDisk, f.blobBytes(v2));
        assertEquals(await f.hfListedAtSize(ls!.sizeOnDisk), [`model/${REPO}`]);
        assert(!(await f.gpux("ls")).stdout.includes(v1.slice(0, 12)), "no trace of v1");

        const offline = JSON.parse((await f.gpux("pull", REPO, ...ALL, "--offline", "--json")).stdout);
        assertEquals([offline.sha, offline.bytesDownloaded], [v2, 0]);
        await f.gpux("cache", "verify");
        const ran = await runCli(["run", REPO, "-p", "cpu", "--json", "--input", "[[1, 2, 3]]"], {
          env: { ...f.env, HF_HUB_OFFLINE: "1" },
        });
        assertEquals(ran.code, 0, ran.stderr);
        const doc = JSON.parse(ran.stdout);
        assertEquals([doc.model.sha, doc.outputs.y.data], [v2, [[1, 2, 3]]]);
        // gpux's own record of v1's file list is left behind; it does not make v1 look cached
        const gone = await runCli(["pull", `${REPO}@${v1}`, ...ALL, "--offline"], { env: f.env });
        assertEquals(gone.code, 5, gone.stderr);
      },
    );

    await t.step("hf cache rm <revision> frees exactly the blobs only that revision used; gpux ls agrees", async () => {
      const pinned = JSON.parse((await f.gpux("pull", `${REPO}@${v1}`, ...ALL, "--json")).stdout);
      assertEquals(pinned.bytesDownloaded, v1Only.size, "only v1's own config");
      const plan = JSON.parse((await f.gpux("rm", `${REPO}@${v1}`, "--dry-run", "--json")).stdout);
      const preview = await f.hfJson(["cache", "rm", v1, "--dry-run"]);
      assertEquals([preview.revisions, preview.size], [1, pySize(plan.freedBytes)]);
      assertEquals(plan.freedBytes, v1Only.size);

      const removed = await f.hfJson(["cache", "rm", v1, "--yes"]);
      assertEquals([removed.revisions_deleted, removed.freed], [1, pySize(v1Only.size)]);
      assert(!await exists(f.blob("config.json", v1)), "v1's blob is freed, not only its links");
      assert(!await exists(`${f.root}/snapshots/${v1}`));
      const ls = await f.lsModel();
      assertEquals(ls?.revisions.map((r) => r.commit), [v2]);
      assertEquals(ls?.sizeOnDisk, f.blobBytes(v2));
      assertEquals(await f.hfListedAtSize(f.blobBytes(v2)), [`model/${REPO}`]);
      assertEquals((await f.hf(["cache", "verify", REPO, "--fail-on-missing-files"])).code, 0);
      const gone = await runCli(["pull", `${REPO}@${v1}`, ...ALL, "--offline"], { env: f.env });
      assertEquals(gone.code, 5, gone.stderr);
    });

    await t.step("hf cache rm <repo> removes everything gpux pulled of it; gpux ls lists nothing", async () => {
      const removed = await f.hfJson(["cache", "rm", `model/${REPO}`, "--yes"]);
      assertEquals([removed.repos_deleted, removed.freed], [1, pySize(f.blobBytes(v2))]);
      assert(!await exists(f.root), f.root);
      assertEquals(await f.lsModel(), undefined);
      assertEquals(await f.hfJson(["cache", "ls"], true), []);
    });

    await t.step(
      "hf download fills the cache; gpux pull fetches nothing and gpux ls counts what hf cache ls counts",
      async () => {
        const downloaded = await f.hfJson<{ path: string }>(["download", REPO]);
        assertEquals(downloaded.path, `${f.root}/snapshots/${v2}`);
        f.hub.clearRequests();
        const pulled = JSON.parse((await f.gpux("pull", REPO, ...ALL, "--json")).stdout);
        assertEquals([pulled.sha, pulled.bytesDownloaded, pulled.files.length], [v2, 0, FILES.length]);
        assertEquals(f.contentRequests(), []);
        const ls = await f.lsModel();
        assertEquals(ls?.sizeOnDisk, f.blobBytes(v2));
        assertEquals(ls?.revisions.map((r) => [r.commit, r.refs, r.size]), [[v2, ["main"], f.blobBytes(v2)]]);
        assertEquals(await f.hfListedAtSize(ls!.sizeOnDisk), [`model/${REPO}`]);
        assertEquals(await f.hfListedAtSize(ls!.revisions[0].size, true), [v2]);
        await f.gpux("cache", "verify");
      },
    );

    await t.step(
      "a file hf cache rm deleted from Python's download is missing for gpux offline, as for hf (Python's tree listing); online gpux fetches it alone",
      async () => {
        const info = f.hub.fileInfo(REPO, "model.onnx");
        // the gpux pull above found every blob and wrote no record of its own: only Python's listing names model.onnx
        assert(!await exists(`${f.root}/.gpux/manifests/${v2}.json`), "no gpux manifest");
        assert(await exists(`${f.root}/trees/${v2}.json`), "Python's tree listing");
        const deleted = await f.hfJson(["cache", "rm", `hf://models/${REPO}/model.onnx`, "--yes"]);
        assertEquals(deleted.files_deleted, 1);
        assert(!await exists(f.blob("model.onnx")));

        const hfOffline = await f.hf(["download", REPO], true);
        assertEquals(hfOffline.code, 1, hfOffline.stdout);
        assertStringIncludes(hfOffline.stderr, "Incomplete snapshot");
        const offline = await runCli(["pull", REPO, ...ALL, "--offline"], { env: f.env });
        assertEquals(offline.code, 5, offline.stdout + offline.stderr);
        assertStringIncludes(offline.stderr, "1 file(s) of acme/tiny@main are not in the cache: model.onnx");

        f.hub.clearRequests();
        const pulled = JSON.parse((await f.gpux("pull", REPO, ...ALL, "--json")).stdout);
        assertEquals(pulled.bytesDownloaded, info.size);
        assertEquals(
          f.hub.requests.filter((r) => r.path.includes("/tree/")).length,
          0,
          "Python's listing stood in for the Hub's",
        );
        assertEquals(f.contentRequests().length, info.lfs ? 2 : 1, f.contentRequests().join("\n"));
        assert(f.contentRequests().every((r) => r.includes("model.onnx")), f.contentRequests().join("\n"));
        assertEquals((await f.hf(["cache", "verify", REPO, "--fail-on-missing-files"])).code, 0);
      },
    );

    await t.step(
      "local dirs: hf download --local-dir into gpux's fetches nothing, nor gpux pull --local-dir into hf's",
      async () => {
        await f.gpux("pull", REPO, ...ALL, "--local-dir", "by-gpux", "--quiet");
        const gpuxDir = `${f.dir}/by-gpux`;
        f.hub.clearRequests();
        for (const offline of [true, false]) {
          const one = await f.hfJson<{ path: string }>(
            ["download", REPO, "model.onnx", "--local-dir", "by-gpux"],
            offline,
          );
          assertEquals(one.path, `${gpuxDir}/model.onnx`);
        }
        const all = await f.hfJson<{ path: string }>(["download", REPO, "--local-dir", "by-gpux"]);
        assertEquals(all.path, gpuxDir);
        assertEquals(f.contentRequests(), []);
        const verified = await f.hf(["cache", "verify", REPO, "--local-dir", gpuxDir, "--fail-on-missing-files"]);
        assertEquals(verified.code, 0, verified.stdout + verified.stderr);

        await f.hfJson(["download", REPO, "--local-dir", "by-hf"]);
        f.hub.clearRequests();
        const pulled = JSON.parse((await f.gpux("pull", REPO, ...ALL, "--local-dir", "by-hf", "--json")).stdout);
        assertEquals([pulled.snapshotPath, pulled.bytesDownloaded], [`${f.dir}/by-hf`, 0]);
        assertEquals(f.contentRequests(), []);
      },
    );
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});
