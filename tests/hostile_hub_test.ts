/**
 * A Hub (or an `HF_ENDPOINT` mirror) that lists hostile paths and hashes: `../` climbing out of the
 * snapshot towards the token file, absolute paths, backslashes, NUL, empty and `.` segments, etags that
 * are no hashes. The listing is refused whole (exit 6, naming the entry), nothing is written outside
 * the cache, and the token file is untouched: through `deno task gpux` and for library users with -A.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { type HubRepo, type HubServer, type ListingFaultEntry, startHubServer } from "./support/hub_server.ts";
import { HuggingFaceManager } from "../src/registry/huggingface.ts";
import { pullModel } from "../src/registry/pull.ts";
import { envFrom } from "../src/environment.ts";
import { IntegrityError } from "../src/errors.ts";
import { RepoCachePaths } from "../src/vocabulary/cache_layout.ts";
import { SnapshotWriter } from "../src/cache/snapshot_writer.ts";
import { isInside } from "../src/cache/contained_path.ts";
import { unsafeRepoPathReason } from "../src/registry/listing_check.ts";

const TOKEN = "hf_thisIsTheSavedTokenDoNotTouch";

interface Fixture {
  hub: HubServer;
  repo: HubRepo;
  dir: string;
  home: string;
  cache: string;
  env: Record<string, string>;
}

async function withHub(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const hub = await startHubServer();
  const dir = await Deno.makeTempDir({ prefix: "gpux-hostile-" });
  const home = `${dir}/hf`;
  await Deno.mkdir(home);
  await Deno.writeTextFile(`${home}/token`, TOKEN);
  hub.addUser("alice", TOKEN);
  const repo = hub.addRepo("acme/tiny");
  repo.commit({
    "config.json": '{"model_type":"bert"}',
    "model.onnx": { size: 20_000, seed: 1 },
  });
  const env = { HF_ENDPOINT: hub.url, HF_HOME: home, HF_HUB_CACHE: `${home}/hub`, HOME: dir };
  try {
    await fn({ hub, repo, dir, home, cache: `${home}/hub`, env });
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await walk(path));
    else out.push(path);
  }
  return out.sort();
}

/** Nothing but the token file outside the cache, the token unchanged, no snapshot, no ref. */
async function assertNothingEscaped(f: Fixture): Promise<void> {
  for (const path of await walk(f.dir)) {
    if (path === `${f.home}/token` || path.startsWith(`${f.dir}/.cache/deno/`)) continue;
    assert(path.startsWith(`${f.cache}/`), `written outside the cache: ${path}`);
    assert(
      !path.includes(`/snapshots/${f.repo.resolve("main")}`),
      `nothing may be linked from a refused listing: ${path}`,
    );
  }
  assertEquals(await Deno.readTextFile(`${f.home}/token`), TOKEN, "the token file is untouched");
  assert(!(await Deno.stat("/tmp/gpux-absolute-escape.txt").catch(() => undefined)), "an absolute path was written");
}

const HOSTILE: [string, ListingFaultEntry][] = [
  ["a path climbing to HF_HOME", { path: "../../../../../hf/escaped.txt", copyOf: "config.json" }],
  ["a path climbing onto the token file", { path: "../../../../../hf/token", copyOf: "config.json" }],
  ["the issue's path", { path: "../../../../hf/escaped.txt", copyOf: "config.json" }],
  ["a path climbing in the middle", { path: "onnx/../../../../../../hf/token", copyOf: "config.json" }],
  ["an absolute path", { path: "/tmp/gpux-absolute-escape.txt", copyOf: "config.json" }],
  ["a backslash path", { path: "..\\..\\..\\..\\..\\hf\\token", copyOf: "config.json" }],
  ["a NUL", { path: "config.json\u0000.txt", copyOf: "config.json" }],
  ["an empty segment", { path: "onnx//model.onnx", copyOf: "model.onnx" }],
  ["a '.' segment", { path: "./model2.onnx", copyOf: "model.onnx" }],
  ["an empty path", { path: "", copyOf: "config.json" }],
  ["a git oid that climbs", { path: "evil.json", copyOf: "config.json", oid: "../../../../hf/stolen" }],
  ["a git oid of the wrong length", { path: "evil.json", copyOf: "config.json", oid: "abc123" }],
  [
    "an LFS sha256 that climbs",
    { path: "evil.onnx", copyOf: "model.onnx", lfs: { oid: "../../../../../hf/token", size: 20_000 } },
  ],
  ["an LFS sha256 in upper case", {
    path: "evil.onnx",
    copyOf: "model.onnx",
    lfs: { oid: "A".repeat(64), size: 20_000 },
  }],
  ["a negative size", { path: "evil.json", copyOf: "config.json", size: -5 }],
  ["a path listed twice", { path: "config.json", copyOf: "config.json" }],
  ["a hash listed with another size", { path: "big.json", copyOf: "config.json", size: 999_999 }],
  ["a file that is also a folder", { path: "config.json/inner.txt", copyOf: "config.json" }],
];

for (const [name, entry] of HOSTILE) {
  Deno.test(`hostile listing, ${name}: gpux pull exits 6 naming the path; nothing written outside, token untouched`, async () => {
    await withHub(async (f) => {
      // the blobs the hostile entries reuse are already cached: nothing stops the write but the checks
      const first = await runCli(["pull", "acme/tiny", "--include", "*"], { env: f.env });
      assertEquals(first.code, 0, first.stderr);
      f.repo.commit({ "README.md": "# moved on\n" });
      f.hub.addFault({ kind: "listing", entries: [entry], times: Infinity });
      const result = await runCli(["pull", "acme/tiny", "--include", "*"], { env: f.env });
      assertEquals(result.code, 6, result.stderr);
      assertStringIncludes(result.stderr, "unsafe file list");
      const shown = JSON.stringify(typeof entry.path === "string" ? entry.path : "").slice(1, -1);
      if (entry.oid === undefined && entry.lfs === undefined && entry.size === undefined) {
        assertStringIncludes(result.stderr, shown.slice(0, 20));
      }
      assert(!result.stderr.includes("\u0000"), "control characters are escaped");
      assert(!result.stderr.includes(TOKEN));
      await assertNothingEscaped(f);
    });
  });
}

Deno.test("hostile listing through the library (-A): pullModel and listModelFiles refuse it with an IntegrityError", async () => {
  await withHub(async (f) => {
    f.hub.addFault({
      kind: "listing",
      entries: [{ path: "../../../../../hf/token", copyOf: "config.json" }],
      times: Infinity,
    });
    const config = { endpoint: f.hub.url, cacheDir: f.cache, env: envFrom({ HOME: f.dir }), retryBaseDelayMs: 10 };
    const manager = new HuggingFaceManager(config);
    let error: unknown;
    try {
      await pullModel(manager, "acme/tiny", { include: ["*"] });
    } catch (e) {
      error = e;
    }
    assert(error instanceof IntegrityError, `expected an IntegrityError, got ${error}`);
    assertEquals(error.exitCode, 6);
    assertStringIncludes(error.message, "../../../../../hf/token");
    await assertNothingEscaped(f);
    let listed: unknown;
    try {
      await manager.listModelFiles("acme/tiny");
    } catch (e) {
      listed = e;
    }
    assert(listed instanceof IntegrityError, `listModelFiles: expected an IntegrityError, got ${listed}`);
  });
});

Deno.test("repository paths: the safe ones pass, every unsafe shape is named", () => {
  for (const ok of ["config.json", "onnx/model.onnx", "a b/ü.txt", "..foo", "foo..", ".gitattributes", "x/.y/z"]) {
    assertEquals(unsafeRepoPathReason(ok), undefined, ok);
  }
  for (const bad of ["", "/etc/passwd", "a//b", "./a", "a/.", "..", "a/../b", "a\\b", "a\u0000b", "a\nb", "C:/x"]) {
    assert(unsafeRepoPathReason(bad) !== undefined, JSON.stringify(bad));
  }
});

Deno.test("the snapshot writer refuses, by itself, any entry, marker, ref or commit that would leave its folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-contained-" });
  try {
    const paths = new RepoCachePaths(`${dir}/hub`, "acme/tiny");
    const writer = new SnapshotWriter(paths);
    const sha = "a".repeat(40);
    const refused = async (what: string, fn: () => Promise<unknown>) => {
      let error: unknown;
      try {
        await fn();
      } catch (e) {
        error = e;
      }
      assert(error !== undefined && (error as { exitCode?: number }).exitCode === 6, `${what}: ${error}`);
    };
    await refused("link", () => writer.link(sha, "../../../../escaped.txt", "b".repeat(40)));
    await refused("link with a climbing commit", () => writer.link("../../..", "x.txt", "b".repeat(40)));
    await refused("link to a climbing etag", () => writer.link(sha, "x.txt", "../../../../x"));
    await refused("marker", () => writer.markMissing(sha, "../../../../escaped.txt"));
    await refused("ref", () => writer.writeRef("../../../escaped", sha));
    await refused("ref to a non-sha", () => writer.writeRef("main", "../../x"));
    await refused(
      "manifest",
      () => writer.writeManifest({ id: "acme/tiny", sha: "../../../x", files: [], written: "" }),
    );
    assertEquals((await walk(dir)).filter((p) => !isInside(`${dir}/hub`, p)), []);
    assertEquals(await walk(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile commit: a revision answer whose sha is no 40-hex commit names no folder (exit 5), nothing escapes", async () => {
  await withHub(async (f) => {
    f.hub.addFault({
      kind: "html",
      status: 200,
      body: JSON.stringify({ _id: "x", id: "acme/tiny", sha: "../../../../../hf/escaped", private: false }),
      match: { path: "/api/models/acme/tiny/revision/" },
      times: Infinity,
    });
    const result = await runCli(["pull", "acme/tiny", "--include", "*"], { env: f.env });
    assertEquals(result.code, 5, result.stderr);
    assertStringIncludes(result.stderr, "did not return the commit");
    await assertNothingEscaped(f);
  });
});

Deno.test("hostile listing that pages in a loop forever: refused at the first repeated path (exit 6), no endless paging", async () => {
  await withHub(async (f) => {
    f.hub.addFault({ kind: "pagingLoop", times: Infinity });
    const result = await runCli(["pull", "acme/tiny", "--include", "*"], { env: f.env });
    assertEquals(result.code, 6, result.stderr);
    assertStringIncludes(result.stderr, "listed twice (a paging loop?)");
    await assertNothingEscaped(f);
  });
});
