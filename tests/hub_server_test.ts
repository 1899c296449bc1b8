/**
 * The local hub (tests/support/hub_server.ts, tests/support/hub/) behaves like huggingface.co: exercised
 * through the real `@huggingface/hub` and through raw `fetch`. Each `Deno.test` is one area of the hub,
 * run against one seeded hub; each step states one behaviour. Steps run in order and a few build on an
 * earlier one (a commit, a fault), as their names say.
 */
import {
  downloadFile,
  downloadFileToCacheDir,
  fileDownloadInfo,
  HubApiError,
  listFiles,
  listModels,
  modelInfo,
  pathsInfo,
  snapshotDownload,
  whoAmI,
} from "@huggingface/hub";
import { createHash } from "node:crypto";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./support/assert.ts";
import { generateBytes, type HubServer, lfsPointer, startHubServer } from "./support/hub_server.ts";

const ALICE = "hf_alice_secret_token";
const BOB = "hf_bob_secret_token";
const alice = { headers: { authorization: `Bearer ${ALICE}` } };
const bob = { headers: { authorization: `Bearer ${BOB}` } };

interface Seeded {
  hub: HubServer;
  v1: string;
  v2: string;
  pr: string;
}

/** A hub with users alice (org acme) and bob, and repos acme/tiny (3 commits, tag, branch, PR), gated, private. */
async function seeded(pageSize?: number): Promise<Seeded> {
  const hub = await startHubServer({ pageSize });
  hub.addUser("alice", ALICE, { orgs: ["acme"], fullname: "Alice A." });
  hub.addUser("bob", BOB);
  const tiny = hub.addRepo("acme/tiny", {
    pipelineTag: "feature-extraction",
    libraryName: "transformers.js",
    tags: ["onnx", "bert"],
    license: "mit",
    downloads: 100,
    likes: 5,
  });
  const v1 = tiny.commit({
    "README.md": "---\nlicense: mit\ntags:\n- onnx\n---\n# tiny\n",
    "config.json": JSON.stringify({ architectures: ["BertModel"], model_type: "bert" }),
    "onnx/model.onnx": { size: 3000, seed: 1 },
    "onnx/model_fp16.onnx": { size: 1500, seed: 2 },
  }, { message: "first" });
  const v2 = tiny.commit({ "config.json": '{"model_type":"bert","v":2}', "onnx/model_fp16.onnx": null }, {
    message: "second",
  });
  tiny.tag("v1.0", v1);
  tiny.branch("dev", v1);
  const pr = tiny.commit({ "extra.txt": "pr file" }, { branch: "dev", message: "pr" });
  tiny.pr(1, pr);
  const gated = hub.addRepo("acme/gated", { gated: "manual", libraryName: "onnx", downloads: 7, likes: 50 });
  gated.commit({ "config.json": "{}", "model.onnx": { size: 2048, seed: 3 } });
  gated.grantAccess("bob");
  hub.addRepo("acme/private", { private: true, downloads: 1000 }).commit({ "config.json": "{}" });
  hub.addRepo("other/safetensors-only", { libraryName: "transformers", downloads: 50 })
    .commit({ "model.safetensors": { size: 100, seed: 4 } });
  return { hub, v1, v2, pr };
}

/** A `Deno.test` whose steps share one seeded hub, closed at the end. */
function hubTest(name: string, steps: (t: Deno.TestContext, s: Seeded) => Promise<void>, pageSize?: number): void {
  Deno.test(`hub server: ${name}`, async (t) => {
    const s = await seeded(pageSize);
    try {
      await steps(t, s);
    } finally {
      await s.hub.close();
    }
  });
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function gitSha1(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

async function bytesOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

/** Reads a body until it ends or fails; returns how many bytes came and whether it failed. */
async function drain(res: Response): Promise<{ bytes: number; error?: unknown }> {
  let bytes = 0;
  try {
    for await (const chunk of res.body!) bytes += chunk.length;
    return { bytes };
  } catch (error) {
    return { bytes, error };
  }
}

async function status(url: string, init?: RequestInit): Promise<{ status: number; code: string | null; body: string }> {
  const res = await fetch(url, init);
  return { status: res.status, code: res.headers.get("x-error-code"), body: await res.text() };
}

// deno-lint-ignore no-explicit-any
async function json(url: string, init?: RequestInit): Promise<{ status: number; link: string | null; body: any }> {
  const res = await fetch(url, init);
  return { status: res.status, link: res.headers.get("link"), body: await res.json() };
}

/** Milliseconds `fn` took. */
async function elapsed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** The URL inside a `Link: <url>; rel="next"` header. */
function nextUrl(link: string | null): string {
  const m = /^<([^>]+)>; rel="next"$/.exec(link ?? "");
  assert(m, `a next link: ${link}`);
  return m[1];
}

// ---------------------------------------------------------------------------------------------------------------
// The JSON API

hubTest("model info", async (t, { hub, v1, v2, pr }) => {
  await t.step(
    "modelInfo of main gives sha, task, counts, library, tags, author, config, card data, files",
    async () => {
      const info = await modelInfo({
        name: "acme/tiny",
        hubUrl: hub.url,
        additionalFields: ["sha", "config", "cardData", "filePaths", "library_name", "tags", "author"],
      });
      assertEquals(info.name, "acme/tiny");
      assertEquals(info.sha, v2);
      assertEquals(info.task, "feature-extraction");
      assertEquals(info.downloads, 100);
      assertEquals(info.likes, 5);
      assertEquals(info.private, false);
      assertEquals(info.gated, false);
      assertEquals(info.library_name, "transformers.js");
      assertEquals(info.tags, ["onnx", "bert"]);
      assertEquals(info.author, "acme");
      assertEquals(info.config, { model_type: "bert" });
      assertEquals(info.cardData, { license: "mit", tags: ["onnx"] });
      assertEquals(info.filePaths, ["README.md", "config.json", "onnx/model.onnx"]);
      assert(!Number.isNaN(info.updatedAt.getTime()));
      assert(!hub.requests.at(-1)!.path.includes("HEAD") || hub.requests.at(-1)!.status === 200);
    },
  );

  for (const [revision, sha] of [["v1.0", v1], ["dev", pr], [v1, v1], ["refs/pr/1", pr], ["main", v2]]) {
    await t.step(
      `modelInfo at revision ${revision.length === 40 ? "<sha of v1>" : revision} gives its commit`,
      async () => {
        const r = await modelInfo({ name: "acme/tiny", hubUrl: hub.url, revision, additionalFields: ["sha"] });
        assertEquals(r.sha, sha, `revision ${revision}`);
      },
    );
  }

  await t.step("the library sends refs/pr/1 percent-encoded in one segment, and the hub takes it", () => {
    assert(hub.requests.some((r) => r.path.endsWith("/revision/refs%2Fpr%2F1")));
  });

  await t.step("an unknown revision answers 404 Invalid rev id, with an X-Request-Id", async () => {
    const e = await assertRejects(
      () => modelInfo({ name: "acme/tiny", hubUrl: hub.url, revision: "nope" }),
      HubApiError,
    );
    assertEquals(e.statusCode, 404);
    assertStringIncludes(e.message, "Invalid rev id: nope");
    assertMatch(e.requestId ?? "", /^Root=1-local-\d+$/);
  });

  await t.step("X-Request-Id counts up, one per request", async () => {
    const ids = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${hub.url}/api/models/acme/tiny`);
      await res.body?.cancel();
      ids.push(Number(/(\d+)$/.exec(res.headers.get("x-request-id")!)![1]));
    }
    assertEquals(ids[1], ids[0] + 1);
  });

  await t.step("?blobs=true gives each sibling's blob id and LFS sha256 at that revision", async () => {
    const blobs = (await json(`${hub.url}/api/models/acme/tiny/revision/${v1}?blobs=true`)).body;
    const model = blobs.siblings.find((s: { rfilename: string }) => s.rfilename === "onnx/model.onnx");
    const modelInfo = hub.fileInfo("acme/tiny", "onnx/model.onnx", v1);
    assertEquals(model.blobId, modelInfo.oid);
    assertEquals(model.lfs.sha256, modelInfo.sha256);
    assertEquals(model.size, 3000);
    assertEquals(blobs.sha, v1);
    const config = blobs.siblings.find((s: { rfilename: string }) => s.rfilename === "config.json");
    assertEquals([config.blobId, config.lfs], [hub.fileInfo("acme/tiny", "config.json", v1).oid, undefined]);
  });

  await t.step("expand[] picks the fields asked for, plus _id and id", async () => {
    const picked = (await json(`${hub.url}/api/models/acme/tiny?expand[]=sha&expand[]=downloads`)).body;
    assertEquals(Object.keys(picked).sort(), ["_id", "downloads", "id", "sha"]);
    assertEquals(picked.sha, v2);
  });

  await t.step("expand also takes a comma-separated list", async () => {
    const picked = (await json(`${hub.url}/api/models/acme/tiny?expand=likes,gated`)).body;
    assertEquals(picked, { _id: picked._id, id: "acme/tiny", likes: 5, gated: false });
  });

  await t.step("a repo without commits has no sha, no siblings and its creation date as lastModified", async () => {
    const repo = hub.addRepo("acme/empty", { createdAt: new Date("2024-05-01T00:00:00Z") });
    const doc = (await json(`${hub.url}/api/models/${repo.id}`)).body;
    assertEquals([doc.sha, doc.siblings, doc.lastModified], [undefined, [], "2024-05-01T00:00:00.000Z"]);
  });

  await t.step("cardData merges README front matter, the license option and the cardData option", async () => {
    hub.addRepo("acme/card", { license: "apache-2.0", cardData: { language: "en" } })
      .commit({ "README.md": "---\ntags:\n  - a\n  - b\ndatasets: 'wiki'\n---\n" });
    const doc = (await json(`${hub.url}/api/models/acme/card`)).body;
    assertEquals(doc.cardData, { license: "apache-2.0", tags: ["a", "b"], datasets: "wiki", language: "en" });
  });
});

hubTest("history, refs and every commit's own files", async (t, { hub, v1, v2, pr }) => {
  await t.step("an older commit still serves a file that a later commit deleted", async () => {
    const old = await fetch(`${hub.url}/acme/tiny/resolve/${v1}/onnx/model_fp16.onnx`);
    assertEquals(old.status, 200);
    assertEquals(await bytesOf(old), generateBytes(2, 0, 1500));
  });

  await t.step("the deleting commit answers 404 EntryNotFound for it", async () => {
    const gone = await status(`${hub.url}/acme/tiny/resolve/${v2}/onnx/model_fp16.onnx`);
    assertEquals([gone.status, gone.code], [404, "EntryNotFound"]);
  });

  let v3 = "";
  await t.step("a new commit gets a 40-hex sha and moves main (later steps use it)", async () => {
    v3 = hub.repo("acme/tiny").commit({ "config.json": "v3" });
    assertMatch(v3, /^[0-9a-f]{40}$/);
    assertEquals(hub.repo("acme/tiny").resolve("main"), v3);
    assertEquals(await (await fetch(`${hub.url}/acme/tiny/resolve/main/config.json`)).text(), "v3");
  });

  await t.step("older commits and tags keep serving their own content", async () => {
    assertEquals(
      await (await fetch(`${hub.url}/acme/tiny/resolve/${v2}/config.json`)).text(),
      '{"model_type":"bert","v":2}',
    );
    assertEquals(await (await fetch(`${hub.url}/acme/tiny/resolve/v1.0/config.json`)).json(), {
      architectures: ["BertModel"],
      model_type: "bert",
    });
  });

  await t.step("model info follows main to the new commit", async () => {
    assertEquals((await json(`${hub.url}/api/models/acme/tiny?expand[]=sha`)).body.sha, v3);
  });

  await t.step("commits/{rev} lists the history, newest first", async () => {
    const history = (await json(`${hub.url}/api/models/acme/tiny/commits/main`)).body;
    assertEquals(history.map((c: { id: string }) => c.id), [v3, v2, v1]);
    assertEquals(history.map((c: { title: string }) => c.title).slice(1), ["second", "first"]);
    const dev = (await json(`${hub.url}/api/models/acme/tiny/commits/dev`)).body;
    assertEquals(dev.map((c: { id: string }) => c.id), [pr, v1]);
  });

  await t.step("commit dates increase along a branch", async () => {
    const history = (await json(`${hub.url}/api/models/acme/tiny/commits/main`)).body;
    const dates = history.map((c: { date: string }) => Date.parse(c.date));
    assert(dates[0] > dates[1] && dates[1] > dates[2], JSON.stringify(dates));
  });

  await t.step("refs lists branches and tags; include_prs adds the pull requests", async () => {
    const refs = (await json(`${hub.url}/api/models/acme/tiny/refs?include_prs=1`)).body;
    assertEquals(refs.tags, [{ name: "v1.0", ref: "refs/tags/v1.0", targetCommit: v1 }]);
    assertEquals(refs.pullRequests.length, 1);
    assertEquals(refs.pullRequests[0], { name: "refs/pr/1", ref: "refs/pr/1", targetCommit: pr });
    assertEquals(refs.branches.map((b: { name: string }) => b.name).sort(), ["dev", "main"]);
    assertEquals(refs.converts, []);
    assertEquals((await json(`${hub.url}/api/models/acme/tiny/refs`)).body.pullRequests, undefined);
  });

  await t.step("refs/heads/…, refs/tags/… and HEAD resolve as revisions", async () => {
    for (const [revision, sha] of [["refs/heads/dev", pr], ["refs/tags/v1.0", v1], ["HEAD", v3]]) {
      const doc = (await json(`${hub.url}/api/models/acme/tiny/revision/${encodeURIComponent(revision)}`)).body;
      assertEquals(doc.sha, sha, revision);
    }
  });

  await t.step("a deleted branch answers RevisionNotFound", async () => {
    const repo = hub.repo("acme/tiny");
    repo.branch("tmp", v1);
    assertEquals((await status(`${hub.url}/acme/tiny/resolve/tmp/config.json`)).status, 200);
    repo.deleteBranch("tmp");
    const gone = await status(`${hub.url}/acme/tiny/resolve/tmp/config.json`);
    assertEquals([gone.status, gone.code], [404, "RevisionNotFound"]);
  });

  await t.step("deleting a directory deletes every file under it", async () => {
    const repo = hub.repo("acme/tiny");
    repo.branch("no-onnx", "main");
    const sha = repo.commit({ onnx: null }, { branch: "no-onnx" });
    const files = [];
    for await (const f of listFiles({ repo: "acme/tiny", hubUrl: hub.url, revision: sha, recursive: true })) {
      files.push(f.path);
    }
    assertEquals(files, ["README.md", "config.json"]);
  });

  await t.step("a commit onto a new branch holds only its own files", async () => {
    const sha = hub.repo("acme/tiny").commit({ "only.txt": "x" }, { branch: "fresh" });
    const files = [];
    for await (const f of listFiles({ repo: "acme/tiny", hubUrl: hub.url, revision: sha })) files.push(f.path);
    assertEquals(files, ["only.txt"]);
  });
});

hubTest("tree and listFiles, paged", async (t, { hub, v1 }) => {
  const all: Awaited<ReturnType<typeof collect>> = [];
  async function collect(params: { repo: string; revision?: string; recursive?: boolean; path?: string }) {
    const out = [];
    for await (const f of listFiles({ hubUrl: hub.url, ...params })) out.push(f);
    return out;
  }

  await t.step("recursive listFiles lists files and directories in path order", async () => {
    all.push(...await collect({ repo: "acme/tiny", recursive: true, revision: v1 }));
    assertEquals(all.map((f) => `${f.type}:${f.path}`), [
      "file:README.md",
      "file:config.json",
      "directory:onnx",
      "file:onnx/model.onnx",
      "file:onnx/model_fp16.onnx",
    ]);
  });

  await t.step("the pages are linked with a cursor (5 entries in pages of 2: 3 requests)", () => {
    const trees = hub.requests.filter((r) => r.path.includes("/tree/"));
    assertEquals(trees.length, 3, "5 entries in pages of 2");
    assertMatch(trees[1].search, /cursor=/);
  });

  await t.step("an LFS entry has the content's size, lfs { oid, size, pointerSize }, the pointer's sha1 as oid", () => {
    const model = all.find((f) => f.path === "onnx/model.onnx")!;
    const info = hub.fileInfo("acme/tiny", "onnx/model.onnx", v1);
    const content = generateBytes(1, 0, 3000);
    assertEquals(model.size, 3000);
    assertEquals(model.lfs, {
      oid: sha256(content),
      size: 3000,
      pointerSize: lfsPointer(sha256(content), 3000).length,
    });
    assertEquals(info.sha256, sha256(content));
    const pointer = new TextEncoder().encode(lfsPointer(sha256(content), 3000));
    assertEquals(model.oid, gitSha1(pointer), "LFS oid is the pointer's git blob sha1");
  });

  await t.step("a plain file's oid is its git blob sha1, and it has no lfs", () => {
    const config = all.find((f) => f.path === "config.json")!;
    const cfg = hub.fileBytes("acme/tiny", "config.json", v1);
    assertEquals(config.oid, gitSha1(cfg));
    assertEquals(config.lfs, undefined);
  });

  await t.step("without recursive, only the top level of main", async () => {
    assertEquals((await collect({ repo: "acme/tiny" })).map((f) => f.path), ["README.md", "config.json", "onnx"]);
  });

  await t.step("path lists one directory", async () => {
    const sub = await collect({ repo: "acme/tiny", path: "onnx", revision: v1 });
    assertEquals(sub.map((f) => f.path), ["onnx/model.onnx", "onnx/model_fp16.onnx"]);
  });

  await t.step("refs/pr/1 sent raw (listFiles does not encode it) resolves", async () => {
    const pr = await collect({ repo: "acme/tiny", revision: "refs/pr/1", recursive: true });
    assert(pr.map((f) => f.path).includes("extra.txt"));
    assert(hub.requests.some((r) => r.path.includes("/tree/refs/pr/1")));
  });

  await t.step("a limit below the page size wins", async () => {
    const page = await json(`${hub.url}/api/models/acme/tiny/tree/main?limit=1`);
    assertEquals(page.body.length, 1);
    assertStringIncludes(nextUrl(page.link), "limit=1");
  });

  await t.step("a limit above the page size does not", async () => {
    assertEquals((await json(`${hub.url}/api/models/acme/tiny/tree/main?limit=100`)).body.length, 2);
  });

  await t.step("an invalid cursor answers 400", async () => {
    assertEquals((await status(`${hub.url}/api/models/acme/tiny/tree/main?cursor=nope`)).status, 400);
  });

  await t.step("expand=true adds each entry's last commit and security status", async () => {
    const page = (await json(`${hub.url}/api/models/acme/tiny/tree/${v1}/onnx?expand=true`)).body;
    assertEquals(page[0].lastCommit, { id: v1, title: "first", date: page[0].lastCommit.date });
    assertEquals(page[0].securityFileStatus, { status: "safe" });
  });

  await t.step("a path that is not a directory answers 404 EntryNotFound", async () => {
    const res = await status(`${hub.url}/api/models/acme/tiny/tree/main/config.json`);
    assertEquals([res.status, res.code], [404, "EntryNotFound"]);
  });

  await t.step("a pagingLoop fault makes a page link back to the first page", async () => {
    const first = await json(`${hub.url}/api/models/acme/tiny/tree/main`);
    const last = nextUrl(first.link);
    const handle = hub.addFault({ kind: "pagingLoop" });
    const looped = await json(last);
    assertEquals(looped.body.map((e: { path: string }) => e.path), ["onnx"]);
    assertEquals(nextUrl(looped.link), `${hub.url}/api/models/acme/tiny/tree/main?`);
    assertEquals(handle.hits, 1);
    assertEquals((await json(last)).link, null, "once the fault is spent, the last page is last again");
  });

  await t.step("a listing fault adds its entries to the last page only, copyOf taking a real file's data", async () => {
    const handle = hub.addFault({
      kind: "listing",
      entries: [{ path: "../evil.onnx", copyOf: "onnx/model.onnx" }, { path: "odd", size: -1 }],
    });
    const first = await json(`${hub.url}/api/models/acme/tiny/tree/${v1}?recursive=true`);
    assertEquals(handle.hits, 0, "not on a page with a next link");
    assertEquals(first.body.length, 2);
    let page = first;
    const entries = [...first.body];
    while (page.link) {
      page = await json(nextUrl(page.link));
      entries.push(...page.body);
    }
    assertEquals(handle.hits, 1);
    const model = entries.find((e) => e.path === "onnx/model.onnx");
    assertEquals(entries.at(-2), { ...model, path: "../evil.onnx" });
    assertEquals(entries.at(-1), { type: "file", oid: "0".repeat(40), size: -1, path: "odd" });
  });
}, 2);

hubTest("paths-info", async (t, { hub, v1, v2 }) => {
  await t.step("expand gives each file's last commit; unknown paths are left out; directories are typed", async () => {
    const infos = await pathsInfo({
      repo: "acme/tiny",
      hubUrl: hub.url,
      paths: ["config.json", "onnx/model.onnx", "missing.txt", "onnx"],
      expand: true,
    });
    assertEquals(infos.map((i) => i.path), ["config.json", "onnx/model.onnx", "onnx"]);
    assertEquals(infos[0].lastCommit?.id, v2);
    assertEquals(infos[0].lastCommit?.title, "second");
    assertEquals(infos[1].lastCommit?.id, v1, "unchanged file keeps its old last commit");
    assertEquals(infos[1].lfs?.oid, hub.fileInfo("acme/tiny", "onnx/model.onnx").sha256);
    assertEquals(infos[2].type, "directory");
  });

  await t.step("the form body Python's huggingface_hub sends works; expand=false leaves lastCommit out", async () => {
    const res = await fetch(`${hub.url}/api/models/acme/tiny/paths-info/main`, {
      method: "POST",
      body: new URLSearchParams([["paths", "config.json"], ["paths", "README.md"], ["expand", "false"]]),
    });
    const json = await res.json();
    assertEquals(json.map((e: { path: string }) => e.path), ["config.json", "README.md"]);
    assertEquals(json[0].lastCommit, undefined);
  });

  await t.step("a malformed JSON body answers 400", async () => {
    const res = await status(`${hub.url}/api/models/acme/tiny/paths-info/main`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    assertEquals(res.status, 400);
  });
});

hubTest("users and tokens", async (t, { hub }) => {
  await t.step("whoAmI names the token's user, full name, orgs and token role", async () => {
    const me = await whoAmI({ hubUrl: hub.url, accessToken: ALICE });
    assertEquals(me.type, "user");
    assertEquals(me.name, "alice");
    if (me.type === "user") {
      assertEquals(me.fullname, "Alice A.");
      assertEquals(me.orgs.map((o) => o.name), ["acme"]);
      assertEquals(me.auth.accessToken?.role, "read");
    }
  });

  await t.step("a user's role, token name and email show in whoami-v2", async () => {
    hub.addUser("dave", "hf_dave", { role: "write", tokenName: "ci", email: "d@x.org" });
    const me = (await json(`${hub.url}/api/whoami-v2`, { headers: { authorization: "Bearer hf_dave" } })).body;
    assertEquals([me.auth.accessToken.role, me.auth.accessToken.displayName, me.email], ["write", "ci", "d@x.org"]);
  });

  await t.step("an unknown token answers 401 Invalid credentials", async () => {
    const bad = await assertRejects(() => whoAmI({ hubUrl: hub.url, accessToken: "hf_wrong" }), HubApiError);
    assertEquals(bad.statusCode, 401);
    assertStringIncludes(bad.message, "Invalid credentials in Authorization header");
  });

  await t.step("the recorded request keeps the scheme and redacts the token", () => {
    assertEquals(hub.requests.at(-1)!.headers.authorization, "Bearer ***");
  });

  await t.step("the recorded request names the token's user", async () => {
    await status(`${hub.url}/api/models/acme/tiny`, alice);
    assertEquals(hub.requests.at(-1)!.user, "alice");
  });

  await t.step("whoami-v2 with an unknown token answers 401 with a JSON error", async () => {
    const whoami = await fetch(`${hub.url}/api/whoami-v2`, { headers: { authorization: "Bearer hf_nope" } });
    assertEquals([whoami.status, await whoami.json()], [401, { error: "Invalid credentials in Authorization header" }]);
  });

  await t.step("whoami-v2 without a token answers 401", async () => {
    assertEquals((await status(`${hub.url}/api/whoami-v2`)).status, 401);
  });
});

hubTest("the model list", async (t, { hub }) => {
  const names = async (params: Parameters<typeof listModels>[0]) => {
    const out = [];
    for await (const m of listModels({ hubUrl: hub.url, ...params })) out.push(m.name);
    return out;
  };

  await t.step("private repos are hidden from anonymous users", async () => {
    assertEquals(await names({ search: { owner: "acme" } }), ["acme/tiny", "acme/gated"], "private hidden");
  });

  await t.step("a member of the org sees its private repos", async () => {
    assertEquals(await names({ search: { owner: "acme" }, accessToken: ALICE }), [
      "acme/tiny",
      "acme/gated",
      "acme/private",
    ]);
  });

  await t.step("sort=downloads orders by downloads, descending", async () => {
    assertEquals(await names({ sort: "downloads" }), ["acme/tiny", "other/safetensors-only", "acme/gated"]);
  });

  await t.step("the list pages with Link (3 results in pages of 2: 2 requests)", () => {
    const lists = hub.requests.filter((r) => r.path === "/api/models" && r.search.includes("sort=downloads"));
    assertEquals(lists.length, 2, "3 results in pages of 2");
  });

  await t.step("direction=1 sorts ascending", async () => {
    const docs = (await json(`${hub.url}/api/models?sort=downloads&direction=1`)).body;
    assertEquals(docs.map((d: { id: string }) => d.id), ["acme/gated", "other/safetensors-only"]);
  });

  await t.step("sort=likes with limit 1 gives the most liked", async () => {
    assertEquals(await names({ sort: "likes", limit: 1 }), ["acme/gated"]);
  });

  await t.step("search matches a substring of the id, any case", async () => {
    assertEquals(await names({ search: { query: "TINY" } }), ["acme/tiny"]);
  });

  await t.step("pipeline_tag filters by task", async () => {
    assertEquals(await names({ search: { task: "feature-extraction" } }), ["acme/tiny"]);
  });

  await t.step("filter matches tags", async () => {
    assertEquals(await names({ search: { tags: ["onnx"] } }), ["acme/tiny", "acme/gated"]);
  });

  await t.step("filter matches license:… too, and every filter must hold", async () => {
    const ids = async (q: string) => (await json(`${hub.url}/api/models?${q}`)).body.map((d: { id: string }) => d.id);
    assertEquals(await ids("filter=license:mit"), ["acme/tiny"]);
    assertEquals(await ids("filter=license:mit,transformers"), []);
  });

  await t.step("author filters by namespace", async () => {
    const docs = (await json(`${hub.url}/api/models?author=other`)).body;
    assertEquals(docs.map((d: { id: string }) => d.id), ["other/safetensors-only"]);
  });

  await t.step("library= matches library_name or tags; no Link when everything fits", async () => {
    const res = await fetch(`${hub.url}/api/models?library=onnx&sort=lastModified&direction=-1&limit=10`);
    const docs = await res.json();
    assertEquals(docs.map((d: { id: string }) => d.id).sort(), ["acme/gated", "acme/tiny"]);
    assertEquals(docs[0].library_name !== undefined, true);
    assertEquals(res.headers.get("link"), null);
  });

  await t.step("entries carry the base fields; full=true adds sha, siblings and more", async () => {
    const [base] = (await json(`${hub.url}/api/models?search=tiny`)).body;
    assertEquals(base.sha, undefined);
    assertEquals(base.pipeline_tag, "feature-extraction");
    const [full] = (await json(`${hub.url}/api/models?search=tiny&full=true`)).body;
    assertEquals(full.sha, hub.repo("acme/tiny").resolve("main"));
    assertEquals(full.siblings.length, 3);
  });

  await t.step("expand picks the fields of each entry", async () => {
    const docs = (await json(`${hub.url}/api/models?search=tiny&expand[]=likes`)).body;
    assertEquals(docs, [{ _id: docs[0]._id, id: "acme/tiny", likes: 5 }]);
  });
}, 2);

// ---------------------------------------------------------------------------------------------------------------
// Files: resolve, CDN, ranges

hubTest("downloads through @huggingface/hub", async (t, { hub, v1, v2 }) => {
  await t.step("fileDownloadInfo of an LFS file: its size, sha256 ETag, no Xet, the CDN URL", async () => {
    const lfs = await fileDownloadInfo({ repo: "acme/tiny", path: "onnx/model.onnx", hubUrl: hub.url });
    const info = hub.fileInfo("acme/tiny", "onnx/model.onnx");
    assertEquals(lfs?.size, 3000);
    assertEquals(lfs?.etag, `"${info.sha256}"`);
    assertEquals(lfs?.xet, undefined, "no Xet advertised");
    assert(lfs?.url.startsWith(hub.cdnUrl), "X-Cache from cloudfront: the library keeps the CDN URL");
  });

  await t.step("fileDownloadInfo of a plain file: its git oid as ETag, its size", async () => {
    const plain = await fileDownloadInfo({ repo: "acme/tiny", path: "config.json", hubUrl: hub.url, revision: v1 });
    assertEquals(plain?.etag, `"${hub.fileInfo("acme/tiny", "config.json", v1).oid}"`);
    assertEquals(plain?.size, hub.fileBytes("acme/tiny", "config.json", v1).length);
  });

  await t.step("fileDownloadInfo of a missing file is null", async () => {
    assertEquals(await fileDownloadInfo({ repo: "acme/tiny", path: "nope.bin", hubUrl: hub.url }), null);
  });

  await t.step("downloadFile brings an LFS file's bytes from the CDN", async () => {
    const blob = await downloadFile({ repo: "acme/tiny", path: "onnx/model.onnx", hubUrl: hub.url });
    assertEquals(new Uint8Array(await blob!.arrayBuffer()), generateBytes(1, 0, 3000));
  });

  await t.step("downloadFile brings a plain file straight from the hub", async () => {
    const text = await downloadFile({ repo: "acme/tiny", path: "config.json", hubUrl: hub.url, revision: v1 });
    assertEquals(JSON.parse(await text!.text()).architectures, ["BertModel"]);
  });

  await t.step("the requests went hub 302, then CDN (206 for bytes=0-0, 200 for the whole)", () => {
    assert(hub.requests.some((r) => r.origin === "cdn" && r.status === 206 && r.range === "bytes=0-0"));
    assert(hub.requests.some((r) => r.origin === "cdn" && r.status === 200));
    assert(hub.requests.some((r) => r.origin === "hub" && r.status === 302));
  });

  const cacheDir = await Deno.makeTempDir();
  const debug = console.debug; // @huggingface/hub prints "Downloading …" through console.debug
  console.debug = () => {};
  try {
    await t.step("downloadFileToCacheDir links the snapshot file to its blob (sha256 for LFS)", async () => {
      const file = await downloadFileToCacheDir({
        repo: "acme/tiny",
        path: "onnx/model.onnx",
        hubUrl: hub.url,
        cacheDir,
        revision: v1,
      });
      assertEquals(file, `${cacheDir}/models--acme--tiny/snapshots/${v1}/onnx/model.onnx`);
      assertEquals(await Deno.readFile(file), generateBytes(1, 0, 3000));
      const sha = hub.fileInfo("acme/tiny", "onnx/model.onnx").sha256!;
      assertEquals(await Deno.readLink(file), `../../../blobs/${sha}`);
    });

    await t.step(
      "snapshotDownload fills the snapshot of main and refs/main (git oid blobs for plain files)",
      async () => {
        const folder = await snapshotDownload({ repo: "acme/tiny", hubUrl: hub.url, cacheDir });
        assertEquals(folder, `${cacheDir}/models--acme--tiny/snapshots/${v2}`);
        assertEquals(await Deno.readTextFile(`${cacheDir}/models--acme--tiny/refs/main`), v2);
        assertEquals(await Deno.readTextFile(`${folder}/config.json`), '{"model_type":"bert","v":2}');
        const cfgOid = hub.fileInfo("acme/tiny", "config.json").oid;
        assertEquals(await Deno.readLink(`${folder}/config.json`), `../../blobs/${cfgOid}`);
        assertEquals(await Deno.readFile(`${folder}/onnx/model.onnx`), generateBytes(1, 0, 3000));
      },
    );
  } finally {
    console.debug = debug;
    await Deno.remove(cacheDir, { recursive: true });
  }
});

hubTest("resolve and the CDN", async (t, { hub, v1, v2 }) => {
  const info = hub.fileInfo("acme/tiny", "onnx/model.onnx");
  let location = "";

  await t.step(
    "resolve of an LFS file 302-redirects to the CDN with X-Linked-Etag/-Size, X-Repo-Commit, ETag",
    async () => {
      const redirect = await fetch(`${hub.url}/acme/tiny/resolve/main/onnx/model.onnx`, { redirect: "manual" });
      await redirect.body?.cancel();
      assertEquals(redirect.status, 302);
      location = redirect.headers.get("location")!;
      assert(location.startsWith(`${hub.cdnUrl}/`));
      assertEquals(redirect.headers.get("x-linked-etag"), `"${info.sha256}"`);
      assertEquals(redirect.headers.get("x-linked-size"), "3000");
      assertEquals(redirect.headers.get("x-repo-commit"), v2);
      assertEquals(redirect.headers.get("etag"), `"${info.oid}"`);
    },
  );

  await t.step("HEAD of an LFS file answers the same redirect headers, no body", async () => {
    const head = await fetch(`${hub.url}/acme/tiny/resolve/main/onnx/model.onnx`, {
      method: "HEAD",
      redirect: "manual",
    });
    assertEquals([head.status, head.headers.get("x-linked-size"), await head.text()], [302, "3000", ""]);
  });

  await t.step("the CDN answers a Range with 206, Content-Range, Accept-Ranges and the sha256 ETag", async () => {
    const cdn = await fetch(location, { headers: { range: "bytes=10-19" } });
    assertEquals(cdn.status, 206);
    assertEquals(cdn.headers.get("content-range"), "bytes 10-19/3000");
    assertEquals(cdn.headers.get("accept-ranges"), "bytes");
    assertEquals(cdn.headers.get("etag"), `"${info.sha256}"`);
    assertEquals(await bytesOf(cdn), generateBytes(1, 10, 20));
  });

  await t.step("the recorded CDN request has its origin, status, range and the body bytes sent", () => {
    const rec = hub.requests.find((r) => r.range === "bytes=10-19")!;
    assertEquals([rec.origin, rec.status, rec.bytesSent], ["cdn", 206, 10]);
    assertEquals([rec.method, rec.search.startsWith("?expires=")], ["GET", true]);
  });

  await t.step("the CDN refuses a forged signature with 403", async () => {
    const forged = location.replace(/signature=\w+/, "signature=0");
    assertEquals((await status(forged)).status, 403);
  });

  await t.step("the CDN refuses an expired URL with 403", async () => {
    assertEquals((await status(location.replace(/expires=\d+/, "expires=1"))).status, 403);
  });

  await t.step("the CDN answers 404 for a blob resolve never redirected to", async () => {
    assertEquals((await status(location.replace(info.sha256!, "f".repeat(64)))).status, 404);
  });

  await t.step("the CDN answers 405 to a POST", async () => {
    assertEquals((await status(location, { method: "POST" })).status, 405);
  });

  const url = `${hub.url}/acme/tiny/resolve/${v1}/config.json`;
  const cfg = hub.fileBytes("acme/tiny", "config.json", v1);

  await t.step(
    "resolve of a plain file answers 200 with its git oid ETag, X-Repo-Commit, no X-Linked-Etag",
    async () => {
      const plain = await fetch(url);
      assertEquals(plain.status, 200);
      assertEquals(plain.headers.get("etag"), `"${hub.fileInfo("acme/tiny", "config.json", v1).oid}"`);
      assertEquals(plain.headers.get("x-repo-commit"), v1);
      assertEquals(plain.headers.get("x-linked-etag"), null);
      assertEquals(plain.headers.get("content-type"), "application/json; charset=utf-8");
      assertEquals(
        plain.headers.get("content-disposition"),
        `inline; filename*=UTF-8''config.json; filename="config.json";`,
      );
      assertEquals(await bytesOf(plain), cfg);
    },
  );

  await t.step("HEAD of a plain file gives its Content-Length and no body", async () => {
    const head = await fetch(url, { method: "HEAD" });
    assertEquals(head.status, 200);
    assertEquals(head.headers.get("content-length"), String(cfg.length));
    assertEquals(await head.text(), "");
  });

  const cases: [string, number, string | null, Uint8Array | null][] = [
    ["bytes=0-0", 206, `bytes 0-0/${cfg.length}`, cfg.slice(0, 1)],
    ["bytes=5-", 206, `bytes 5-${cfg.length - 1}/${cfg.length}`, cfg.slice(5)],
    ["bytes=-4", 206, `bytes ${cfg.length - 4}-${cfg.length - 1}/${cfg.length}`, cfg.slice(-4)],
    ["bytes=2-100000", 206, `bytes 2-${cfg.length - 1}/${cfg.length}`, cfg.slice(2)],
    [`bytes=${cfg.length}-`, 416, `bytes */${cfg.length}`, null],
    ["bytes=9-3", 200, null, cfg],
    ["items=0-1", 200, null, cfg],
  ];
  for (const [range, code, contentRange, body] of cases) {
    await t.step(
      `Range: ${range} answers ${code}${contentRange ? ` with Content-Range ${contentRange}` : ""}`,
      async () => {
        const res = await fetch(url, { headers: { range } });
        assertEquals(res.status, code, range);
        assertEquals(res.headers.get("content-range"), contentRange, range);
        const got = await bytesOf(res);
        if (body) assertEquals(got, body, range);
      },
    );
  }

  for (const rev of ["refs/pr/1", "refs%2Fpr%2F1"]) {
    await t.step(`resolve takes the revision ${rev} in the path`, async () => {
      const res = await fetch(`${hub.url}/acme/tiny/resolve/${rev}/extra.txt`);
      assertEquals([res.status, await res.text()], [200, "pr file"]);
    });
  }

  await t.step("raw/ of an LFS file serves its pointer, not the content", async () => {
    const res = await fetch(`${hub.url}/acme/tiny/raw/main/onnx/model.onnx`);
    assertEquals([res.status, await res.text()], [200, lfsPointer(info.sha256!, 3000)]);
  });

  await t.step("a malformed percent-encoding in the path answers 400", async () => {
    assertEquals((await status(`${hub.url}/acme/tiny/resolve/main/%E0%A4%A.json`)).status, 400);
  });
});

hubTest("access and error codes", async (t, { hub }) => {
  const unknown = { headers: { authorization: "Bearer hf_unknown" } };
  const who = (init: RequestInit | undefined) =>
    init === alice ? "alice (org acme)" : init === bob ? "bob" : init === unknown ? "an unknown token" : "anonymous";
  const cases: [string, RequestInit | undefined, number, string | null][] = [
    ["/api/models/acme/nope", undefined, 401, "RepoNotFound"],
    ["/api/models/acme/nope", alice, 404, "RepoNotFound"],
    ["/acme/nope/resolve/main/config.json", undefined, 401, "RepoNotFound"],
    ["/api/models/acme/private", undefined, 401, "RepoNotFound"],
    ["/api/models/acme/private", bob, 404, "RepoNotFound"],
    ["/api/models/acme/private", alice, 200, null],
    ["/acme/private/resolve/main/config.json", alice, 200, null],
    ["/api/models/acme/tiny/revision/nope", undefined, 404, "RevisionNotFound"],
    ["/api/models/acme/tiny/tree/nope", undefined, 404, "RevisionNotFound"],
    ["/acme/tiny/resolve/nope/config.json", undefined, 404, "RevisionNotFound"],
    [`/acme/tiny/resolve/${"a".repeat(40)}/config.json`, undefined, 404, "RevisionNotFound"],
    ["/acme/tiny/resolve/main/nope.json", undefined, 404, "EntryNotFound"],
    ["/api/models/acme/tiny/tree/main/nope", undefined, 404, "EntryNotFound"],
    ["/api/models/acme/gated", undefined, 200, null],
    ["/api/models/acme/gated/tree/main", undefined, 200, null],
    ["/acme/gated/resolve/main/config.json", undefined, 401, "GatedRepo"],
    ["/acme/gated/resolve/main/config.json", unknown, 401, null],
    ["/acme/gated/resolve/main/config.json", bob, 200, null],
    ["/api/whoami-v2", undefined, 401, null],
    ["/api/datasets/acme/tiny", undefined, 401, "RepoNotFound"],
    ["/api/spaces/acme/tiny", alice, 404, "RepoNotFound"],
    ["/api/nothing-here", undefined, 404, null],
    ["/acme/tiny/blob/main/config.json", undefined, 404, null],
  ];
  for (const [path, init, code, errorCode] of cases) {
    await t.step(`${path} for ${who(init)} answers ${code}${errorCode ? ` ${errorCode}` : ""}`, async () => {
      const res = await status(hub.url + path, init);
      assertEquals([res.status, res.code], [code, errorCode], path);
      if (code >= 400) assert(typeof JSON.parse(res.body).error === "string", path);
    });
  }

  hub.addUser("carol", "hf_carol");
  const carol = { headers: { authorization: "Bearer hf_carol" } };

  await t.step("a gated repo answers 403 GatedRepo to a user without access", async () => {
    const denied = await status(`${hub.url}/acme/gated/resolve/main/model.onnx`, carol);
    assertEquals([denied.status, denied.code], [403, "GatedRepo"]);
  });

  await t.step("grantAccess lets that user download the gated files", async () => {
    hub.repo("acme/gated").grantAccess("carol");
    const ok = await fetch(`${hub.url}/acme/gated/resolve/main/model.onnx`, carol);
    assertEquals(ok.status, 200);
    assertEquals((await bytesOf(ok)).length, 2048);
  });

  await t.step("revokeAccess takes it away again", async () => {
    hub.repo("acme/gated").revokeAccess("carol");
    assertEquals((await status(`${hub.url}/acme/gated/resolve/main/model.onnx`, carol)).status, 403);
  });

  await t.step("grantAccess opens a private repo to a user outside its org", async () => {
    hub.repo("acme/private").grantAccess("carol");
    assertEquals((await status(`${hub.url}/api/models/acme/private`, carol)).status, 200);
  });

  await t.step("a removed repo answers RepoNotFound", async () => {
    hub.removeRepo("other/safetensors-only");
    const res = await status(`${hub.url}/api/models/other/safetensors-only`);
    assertEquals([res.status, res.code], [401, "RepoNotFound"]);
  });

  await t.step("a repo without a namespace is served at /{name}", async () => {
    const sha = hub.addRepo("bare").commit({ "config.json": "{}" });
    assertEquals((await json(`${hub.url}/api/models/bare/revision/main`)).body.sha, sha);
    assertEquals(await (await fetch(`${hub.url}/bare/resolve/main/config.json`)).text(), "{}");
  });

  await t.step("addRepo refuses an id that exists or is invalid; repo() an unknown one", () => {
    assertThrows(() => hub.addRepo("acme/tiny"), Error, "exists already");
    assertThrows(() => hub.addRepo("a/b/c"), TypeError, "invalid repo id");
    assertThrows(() => hub.repo("acme/none"), Error, "no repo acme/none");
  });
});

Deno.test("hub server: content", async (t) => {
  const hub = await startHubServer();
  try {
    const size = 5 * 1024 * 1024 + 12345;
    const sha = hub.addRepo("acme/gen").commit({ "weights.bin": { size, seed: 42 } });
    let full: Uint8Array = new Uint8Array();

    await t.step("generated content is served whole, and its sha256 is the one fileInfo reports", async () => {
      full = await bytesOf(await fetch(`${hub.url}/acme/gen/resolve/${sha}/weights.bin`));
      assertEquals(full.length, size);
      const info = hub.fileInfo("acme/gen", "weights.bin");
      assertEquals(info.lfs, true);
      assertEquals(sha256(full), info.sha256);
    });

    await t.step("a Range of generated content is the same bytes as that slice of the whole", async () => {
      const slice = await fetch(`${hub.url}/acme/gen/resolve/main/weights.bin`, {
        headers: { range: "bytes=1000003-3000000" },
      });
      assertEquals(slice.status, 206);
      assertEquals(await bytesOf(slice), full.slice(1000003, 3000001));
    });

    await t.step("generateBytes is random-access across its 64 KiB blocks", () => {
      assertEquals(generateBytes(42, 65530, 65542), full.slice(65530, 65542));
      assert(full.slice(0, 65536).some((b, i) => b !== full[65536 + i]), "blocks differ");
    });

    await t.step("another seed gives other bytes", async () => {
      const other = hub.addRepo("acme/gen2").commit({ "w.bin": { size: 1000, seed: 43 } });
      const b = await bytesOf(await fetch(`${hub.url}/acme/gen2/resolve/${other}/w.bin`));
      assert(b.some((x, i) => x !== full[i]), "another seed, other bytes");
    });

    await t.step("the same seed gives the same bytes in another repo", async () => {
      const same = hub.addRepo("acme/gen3").commit({ "copy.bin": { size: 70_000, seed: 42 } });
      assertEquals(await bytesOf(await fetch(`${hub.url}/acme/gen3/resolve/${same}/copy.bin`)), full.slice(0, 70_000));
    });

    await t.step("a file is LFS by extension or above 10 MiB, unless its spec says otherwise", () => {
      const repo = hub.addRepo("acme/lfs");
      repo.commit({
        "small.onnx": { size: 10, seed: 1 },
        "big.txt": { size: 10 * 1024 * 1024 + 1, seed: 1 },
        "small.txt": { size: 10, seed: 1 },
        "plain.bin": { size: 10, seed: 1, lfs: false },
        "forced.txt": { content: "hi", lfs: true },
        "bytes.onnx": new Uint8Array([1, 2, 3]),
      });
      const lfs = (path: string) => hub.fileInfo("acme/lfs", path).lfs;
      assertEquals(
        ["small.onnx", "big.txt", "small.txt", "plain.bin", "forced.txt", "bytes.onnx"].map(lfs),
        [true, true, false, false, true, true],
      );
    });

    await t.step("fileInfo of a plain file has no sha256 and the git blob sha1 as oid", () => {
      hub.repo("acme/lfs").commit({ "t.txt": "text" });
      const info = hub.fileInfo("acme/lfs", "t.txt");
      assertEquals([info.sha256, info.oid, info.size], [undefined, gitSha1(new TextEncoder().encode("text")), 4]);
      assertEquals(info.lastCommit, info.commit);
    });

    await t.step("fileBytes reads a slice of a file", () => {
      assertEquals(new TextDecoder().decode(hub.fileBytes("acme/lfs", "t.txt", "main", 1, 3)), "ex");
    });

    await t.step("a commit refuses empty, . and .. path segments", () => {
      for (const path of ["", "a//b", "./a", "a/../b"]) {
        assertThrows(() => hub.repo("acme/lfs").commit({ [path]: "x" }), TypeError, "invalid repo path");
      }
    });

    await t.step("a commit of the same files twice gets two different shas", () => {
      const repo = hub.addRepo("acme/twice");
      assert(repo.commit({ "a.txt": "a" }) !== repo.commit({ "a.txt": "a" }));
    });
  } finally {
    await hub.close();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Faults, shaping, closing

hubTest("request faults", async (t, { hub }) => {
  const url = `${hub.url}/acme/tiny/resolve/main/config.json`;

  await t.step("a status fault answers its status and X-Error-Code `times` times, then the route again", async () => {
    hub.addFault({ match: { path: "config.json" }, kind: "status", status: 503, errorCode: "Busy", times: 2 });
    assertEquals([(await status(url)).status, (await status(url)).code], [503, "Busy"]);
    assertEquals((await status(url)).status, 200, "times ran out");
  });

  await t.step("a status fault sends its message and headers; code is an alias of errorCode", async () => {
    hub.addFault({ kind: "status", status: 500, code: "Oops", message: "boom", headers: { "x-extra": "1" } });
    const res = await fetch(url);
    assertEquals([res.status, res.headers.get("x-error-code"), res.headers.get("x-extra")], [500, "Oops", "1"]);
    assertEquals(await res.json(), { error: "boom" });
  });

  await t.step("rateLimit answers 429 with Retry-After; its handle counts hits and remaining", async () => {
    const handle = hub.addFault({ match: { path: /whoami/ }, kind: "rateLimit", retryAfter: 2 });
    assertEquals([handle.hits, handle.remaining], [0, 1]);
    const limited = await fetch(`${hub.url}/api/whoami-v2`);
    await limited.body?.cancel();
    assertEquals([limited.status, limited.headers.get("retry-after")], [429, "2"]);
    assertEquals([handle.hits, handle.remaining], [1, 0]);
  });

  await t.step("a fault matched by method leaves other methods alone; html answers an HTML page", async () => {
    hub.addFault({ match: { path: "/api/models", method: "POST" }, kind: "html" });
    const get = await fetch(`${hub.url}/api/models/acme/tiny`);
    assertEquals(get.headers.get("content-type"), "application/json; charset=utf-8");
    await get.body?.cancel();
    const post = await fetch(`${hub.url}/api/models/acme/tiny/paths-info/main`, { method: "POST", body: "{}" });
    assertEquals([post.status, post.headers.get("content-type")], [200, "text/html; charset=utf-8"]);
    assertStringIncludes(await post.text(), "<html>");
  });

  await t.step("an html fault can carry its own status and body", async () => {
    hub.addFault({ kind: "html", status: 502, body: "<p>bad gateway</p>" });
    const res = await status(url);
    assertEquals([res.status, res.body], [502, "<p>bad gateway</p>"]);
  });

  await t.step("a fault matched by origin cdn lets the redirect pass and fails the CDN", async () => {
    hub.addFault({ match: { origin: "cdn" }, kind: "status", status: 500 });
    const viaCdn = await status(`${hub.url}/acme/tiny/resolve/main/onnx/model.onnx`);
    assertEquals(viaCdn.status, 500, "the redirect passed, the CDN failed");
    assertEquals(hub.requests.at(-2)!.status, 302);
  });

  await t.step("a RegExp path matches the decoded path too", async () => {
    const handle = hub.addFault({ match: { path: /revision\/refs\/pr\/1$/ }, kind: "status", status: 418 });
    assertEquals((await status(`${hub.url}/api/models/acme/tiny/revision/refs%2Fpr%2F1`)).status, 418);
    assertEquals(handle.hits, 1);
  });

  await t.step("a delay fault waits before answering", async () => {
    hub.addFault({ match: { path: "README" }, kind: "delay", ms: 60 });
    let delayed = { status: 0 };
    const ms = await elapsed(async () => delayed = await status(`${hub.url}/acme/tiny/resolve/main/README.md`));
    assertEquals(delayed.status, 200);
    assert(ms >= 50, `delay applied (${ms} ms)`);
  });

  await t.step("remove() takes a fault out before it hits", async () => {
    const handle = hub.addFault({ kind: "status", status: 500, times: Infinity });
    handle.remove();
    assertEquals((await status(url)).status, 200);
    assertEquals(handle.hits, 0);
  });

  await t.step("clearFaults() takes every fault out", async () => {
    hub.addFault({ kind: "status", status: 500 });
    hub.addFault({ kind: "rateLimit" });
    hub.clearFaults();
    assertEquals((await status(url)).status, 200);
  });

  await t.step("the first matching fault in order added applies", async () => {
    hub.addFault({ match: { path: "nothing-matches" }, kind: "status", status: 501 });
    hub.addFault({ kind: "status", status: 502 });
    hub.addFault({ kind: "status", status: 503 });
    assertEquals([(await status(url)).status, (await status(url)).status], [502, 503]);
    hub.clearFaults();
  });
});

hubTest("body faults", async (t, { hub }) => {
  const size = 300_000;
  const sha = hub.repo("acme/tiny").commit({ "big.onnx_data": { size, seed: 9 } });
  const url = `${hub.url}/acme/tiny/resolve/${sha}/big.onnx_data`;
  const want = hub.fileInfo("acme/tiny", "big.onnx_data").sha256;

  await t.step("drop cuts the connection after afterBytes: the client sees an error, not a clean end", async () => {
    hub.addFault({ match: { path: "big.onnx_data" }, kind: "drop", afterBytes: 100_000 });
    const dropped = await fetch(url);
    assertEquals(dropped.status, 200);
    assertEquals(dropped.headers.get("content-length"), String(size));
    const got = await drain(dropped);
    assert(got.error, "the client sees an error, not a clean end");
    assertEquals(got.bytes, 100_000);
    assertEquals(hub.requests.filter((r) => r.origin === "cdn").at(-1)!.bytesSent, 100_000);
  });

  await t.step("drop with afterBytes 0 sends nothing", async () => {
    hub.addFault({ match: { path: "big.onnx_data", origin: "cdn" }, kind: "drop", afterBytes: 0 });
    const none = await fetch(url).then(drain, (error) => ({ bytes: 0, error }));
    assert(none.error);
    assertEquals(none.bytes, 0);
  });

  await t.step("corrupt changes the bytes, not the length; the next download is clean", async () => {
    hub.addFault({ match: { path: "big.onnx_data" }, kind: "corrupt" });
    const bad = await bytesOf(await fetch(url));
    assertEquals(bad.length, size);
    assert(sha256(bad) !== want);
    const good = await bytesOf(await fetch(url));
    assertEquals(sha256(good), want);
  });

  await t.step("ignoreRange answers a Range with 200 and everything, once", async () => {
    hub.addFault({ match: { path: "big.onnx_data" }, kind: "ignoreRange" });
    const ignored = await fetch(url, { headers: { range: "bytes=1000-" } });
    assertEquals([ignored.status, ignored.headers.get("content-range")], [200, null]);
    assertEquals((await bytesOf(ignored)).length, size);
    const honoured = await fetch(url, { headers: { range: "bytes=1000-" } });
    assertEquals(honoured.status, 206);
    assertEquals((await bytesOf(honoured)).length, size - 1000);
  });

  await t.step("ignoreRange waits for a request with a Range", async () => {
    const handle = hub.addFault({ kind: "ignoreRange" });
    await bytesOf(await fetch(url));
    assertEquals(handle.remaining, 1);
    handle.remove();
  });

  await t.step("a drop too long for a small JSON answer waits for a body it can cut", async () => {
    const handle = hub.addFault({ kind: "drop", afterBytes: 200_000 });
    assertEquals((await fetch(`${hub.url}/api/models/acme/tiny`).then((r) => r.json())).id, "acme/tiny");
    assertEquals(handle.remaining, 1);
    assertEquals((await drain(await fetch(url))).bytes, 200_000);
    assertEquals(handle.hits, 1);
  });

  await t.step("body faults skip HEAD and redirects", async () => {
    const handle = hub.addFault({ kind: "corrupt" });
    const head = await fetch(url, { method: "HEAD" });
    await head.body?.cancel();
    const redirect = await fetch(url, { redirect: "manual" });
    await redirect.body?.cancel();
    assertEquals([head.status, redirect.status, handle.remaining], [200, 302, 1]);
    handle.remove();
  });
});

Deno.test("hub server: stall and close", async (t) => {
  const { hub } = await seeded();
  try {
    hub.addFault({ match: { path: "model.onnx", origin: "cdn" }, kind: "stall", afterBytes: 1000, times: 2 });

    await t.step("stall sends afterBytes then nothing until the client aborts", async () => {
      const ac = new AbortController();
      const res = await fetch(`${hub.url}/acme/tiny/resolve/main/onnx/model.onnx`, { signal: ac.signal });
      const reader = res.body!.getReader();
      let bytes = 0;
      while (bytes < 1000) bytes += (await reader.read()).value!.length;
      assertEquals(bytes, 1000);
      const next = reader.read();
      const timer = setTimeout(() => ac.abort(), 100);
      await assertRejects(() => next, Error);
      clearTimeout(timer);
    });

    await t.step("close() cuts a stalled client that never aborts, and still finishes", async () => {
      const res2 = await fetch(`${hub.url}/acme/tiny/resolve/main/onnx/model.onnx`);
      const pending = drain(res2);
      await new Promise((r) => setTimeout(r, 50));
      await hub.close();
      const result = await pending;
      assert(result.error, "cut by close()");
      assertEquals(result.bytes, 1000);
    });

    await t.step("close() again resolves at once", async () => {
      await hub.close();
    });

    await t.step("a closed hub refuses connections", async () => {
      await assertRejects(() => fetch(`${hub.url}/api/models/acme/tiny`), TypeError);
    });
  } finally {
    await hub.close();
  }
});

Deno.test("hub server: page sizes as huggingface.co's when none is set", async (t) => {
  await using hub = await startHubServer();
  const files: Record<string, string> = {};
  for (let i = 0; i < 1100; i++) files[`f/${String(i).padStart(4, "0")}.txt`] = `${i}`;
  hub.addRepo("acme/many").commit(files);
  await t.step("a tree page holds 1000 entries", async () => {
    const first = await json(`${hub.url}/api/models/acme/many/tree/main?recursive=true`);
    assertEquals(first.body.length, 1000);
    assertEquals((await json(nextUrl(first.link))).body.length, 101, "1100 files and their folder");
  });
  await t.step("with expand=true a tree page holds 50", async () => {
    assertEquals((await json(`${hub.url}/api/models/acme/many/tree/main/f?expand=true`)).body.length, 50);
  });
  await t.step("a limit below the page size still wins", async () => {
    assertEquals((await json(`${hub.url}/api/models/acme/many/tree/main/f?limit=7`)).body.length, 7);
  });
});

Deno.test("hub server: await using closes the hub", async () => {
  let url = "";
  {
    await using hub = await startHubServer();
    url = hub.url;
    assertEquals((await status(`${url}/api/whoami-v2`)).status, 401);
  }
  await assertRejects(() => fetch(`${url}/api/whoami-v2`), TypeError);
});

Deno.test("hub server: shaping", async (t) => {
  const hub = await startHubServer({ shaping: { firstByteDelayMs: 40 } });
  try {
    const sha = hub.addRepo("acme/s").commit({ "a.bin": { size: 200_000, seed: 1 } });
    const file = `${hub.url}/acme/s/resolve/${sha}/a.bin`;

    await t.step("firstByteDelayMs delays the headers of every response", async () => {
      const ms = await elapsed(async () => {
        const head = await fetch(file, { method: "HEAD", redirect: "manual" });
        await head.body?.cancel();
      });
      assert(ms >= 35, `first-byte delay applied (${ms} ms)`);
    });

    await t.step("the first-byte delay applies to both origins (a redirected download waits twice)", async () => {
      const ms = await elapsed(async () => await bytesOf(await fetch(file)));
      assert(ms >= 70, `two delays (${ms} ms)`);
    });

    await t.step("setShaping({}) turns shaping off", async () => {
      hub.setShaping({ firstByteDelayMs: 5_000 });
      hub.setShaping({});
      const ms = await elapsed(async () => await bytesOf(await fetch(file)));
      assert(ms < 2_500, `no 5 s delay (${ms} ms)`);
    });

    await t.step("bytesPerSecond paces a body: 200 kB at 1 MB/s takes about 200 ms", async () => {
      hub.setShaping({ bytesPerSecond: 1_000_000 });
      let body: Uint8Array = new Uint8Array();
      const ms = await elapsed(async () => body = await bytesOf(await fetch(file)));
      assertEquals(body.length, 200_000);
      assert(ms >= 150, `200 kB at 1 MB/s takes about 200 ms (${ms} ms)`);
    });

    await t.step("the cap is per connection: 6 parallel bodies take about as long as one", async () => {
      hub.setShaping({ bytesPerSecond: 1_000_000 });
      const times: number[] = [];
      const total = await elapsed(() =>
        Promise.all(
          Array.from({ length: 6 }, () =>
            elapsed(async () => await bytesOf(await fetch(file))).then((ms) => times.push(ms))),
        )
      );
      assert(times.every((ms) => ms >= 150), `each paced: ${times}`);
      assert(total < 1_000, `6 × 200 kB at 1 MB/s shared would take ≥ 1.2 s; per connection ~0.2 s (${total} ms)`);
    });

    await t.step("bytesPerSecond paces the API origin's bodies too (a plain file, no redirect)", async () => {
      const plain = hub.repo("acme/s").commit({ "b.txt": { size: 200_000, seed: 2 } });
      hub.setShaping({ bytesPerSecond: 1_000_000 });
      hub.clearRequests();
      const ms = await elapsed(async () => await bytesOf(await fetch(`${hub.url}/acme/s/resolve/${plain}/b.txt`)));
      assertEquals(hub.requests.map((r) => r.origin), ["hub"]);
      assert(ms >= 150, `${ms} ms`);
      hub.setShaping({});
    });

    await t.step("clearRequests() forgets the recorded requests", () => {
      hub.clearRequests();
      assertEquals(hub.requests, []);
    });
  } finally {
    await hub.close();
  }
});

Deno.test("hub server: standalone --demo", async (t) => {
  const script = new URL("./support/hub_server.ts", import.meta.url).pathname;

  await t.step("without --demo it prints its usage and exits 2", async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script],
      stdout: "null",
      stderr: "piped",
    })
      .output();
    assertEquals(out.code, 2);
    assertStringIncludes(new TextDecoder().decode(out.stderr), "usage:");
  });

  await t.step("--demo serves the demo users and repos until SIGINT, then exits 0", async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, "--demo"],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    try {
      while (!/users:/.test(out)) {
        const { value, done } = await lines.read();
        if (done) break;
        out += value;
      }
      const url = /hub {2}(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
      const me = await whoAmI({ hubUrl: url, accessToken: "hf_alice_demo_token" });
      assertEquals(me.name, "alice");
      const info = await modelInfo({ name: "acme/tiny-onnx", hubUrl: url, additionalFields: ["library_name"] });
      assertEquals(info.library_name, "transformers.js");
      const gated = await fetch(`${url}/acme/gated-model/resolve/main/model.onnx`);
      assertEquals([gated.status, gated.headers.get("x-error-code")], [401, "GatedRepo"]);
      await gated.body?.cancel();
    } finally {
      child.kill("SIGINT");
      while (!(await lines.read()).done) { /* drain */ }
      assertEquals((await child.status).code, 0);
    }
  });
});
