/**
 * The local hub (tests/support/hub_server.ts) behaves like huggingface.co: exercised through the real
 * `@huggingface/hub` and through raw `fetch`.
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
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "./support/assert.ts";
import { generateBytes, type HubServer, lfsPointer, startHubServer } from "./support/hub_server.ts";

const ALICE = "hf_alice_secret_token";
const BOB = "hf_bob_secret_token";

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

async function withHub(fn: (s: Seeded) => Promise<void>, pageSize?: number): Promise<void> {
  const s = await seeded(pageSize);
  try {
    await fn(s);
  } finally {
    await s.hub.close();
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
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

// ---------------------------------------------------------------------------------------------------------------
// Through @huggingface/hub

Deno.test("hub server: modelInfo for branches, tags, shas, refs/pr/N and HEAD", () =>
  withHub(async ({ hub, v1, v2, pr }) => {
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
    assertEquals(info.filePaths, [
      "README.md",
      "config.json",
      "onnx/model.onnx",
    ]);
    assert(!Number.isNaN(info.updatedAt.getTime()));
    assert(!hub.requests.at(-1)!.path.includes("HEAD") || hub.requests.at(-1)!.status === 200);

    for (const [revision, sha] of [["v1.0", v1], ["dev", pr], [v1, v1], ["refs/pr/1", pr], ["main", v2]]) {
      const r = await modelInfo({ name: "acme/tiny", hubUrl: hub.url, revision, additionalFields: ["sha"] });
      assertEquals(r.sha, sha, `revision ${revision}`);
    }
    assert(hub.requests.some((r) => r.path.endsWith("/revision/refs%2Fpr%2F1")));
    const e = await assertRejects(
      () => modelInfo({ name: "acme/tiny", hubUrl: hub.url, revision: "nope" }),
      HubApiError,
    );
    assertEquals(e.statusCode, 404);
    assertStringIncludes(e.message, "Invalid rev id: nope");
    assertMatch(e.requestId ?? "", /^Root=1-local-\d+$/);
  }));

Deno.test("hub server: listFiles pages through Link, recursive or not, with LFS entries", () =>
  withHub(async ({ hub, v1 }) => {
    const all = [];
    for await (const f of listFiles({ repo: "acme/tiny", hubUrl: hub.url, recursive: true, revision: v1 })) {
      all.push(f);
    }
    assertEquals(all.map((f) => `${f.type}:${f.path}`), [
      "file:README.md",
      "file:config.json",
      "directory:onnx",
      "file:onnx/model.onnx",
      "file:onnx/model_fp16.onnx",
    ]);
    const trees = hub.requests.filter((r) => r.path.includes("/tree/"));
    assertEquals(trees.length, 3, "5 entries in pages of 2");
    assertMatch(trees[1].search, /cursor=/);
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
    const gitSha = createHash("sha1").update(`blob ${pointer.length}\0`).update(pointer).digest("hex");
    assertEquals(model.oid, gitSha, "LFS oid is the pointer's git blob sha1");
    const config = all.find((f) => f.path === "config.json")!;
    const cfg = hub.fileBytes("acme/tiny", "config.json", v1);
    assertEquals(config.oid, createHash("sha1").update(`blob ${cfg.length}\0`).update(cfg).digest("hex"));
    assertEquals(config.lfs, undefined);

    const top = [];
    for await (const f of listFiles({ repo: "acme/tiny", hubUrl: hub.url })) top.push(f.path);
    assertEquals(top, ["README.md", "config.json", "onnx"]);
    const sub = [];
    for await (const f of listFiles({ repo: "acme/tiny", hubUrl: hub.url, path: "onnx", revision: v1 })) {
      sub.push(f.path);
    }
    assertEquals(sub, ["onnx/model.onnx", "onnx/model_fp16.onnx"]);
    // listFiles does not encode the revision: refs/pr/1 arrives raw
    const pr = [];
    for await (const f of listFiles({ repo: "acme/tiny", hubUrl: hub.url, revision: "refs/pr/1", recursive: true })) {
      pr.push(f.path);
    }
    assert(pr.includes("extra.txt"));
  }, 2));

Deno.test("hub server: pathsInfo with expand gives each file's last commit", () =>
  withHub(async ({ hub, v1, v2 }) => {
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
    // the form body Python's huggingface_hub sends
    const res = await fetch(`${hub.url}/api/models/acme/tiny/paths-info/main`, {
      method: "POST",
      body: new URLSearchParams([["paths", "config.json"], ["paths", "README.md"], ["expand", "false"]]),
    });
    const json = await res.json();
    assertEquals(json.map((e: { path: string }) => e.path), ["config.json", "README.md"]);
    assertEquals(json[0].lastCommit, undefined);
  }));

Deno.test("hub server: fileDownloadInfo and downloadFile, LFS through the CDN and plain files directly", () =>
  withHub(async ({ hub, v1 }) => {
    const lfs = await fileDownloadInfo({ repo: "acme/tiny", path: "onnx/model.onnx", hubUrl: hub.url });
    const info = hub.fileInfo("acme/tiny", "onnx/model.onnx");
    assertEquals(lfs?.size, 3000);
    assertEquals(lfs?.etag, `"${info.sha256}"`);
    assertEquals(lfs?.xet, undefined, "no Xet advertised");
    assert(lfs?.url.startsWith(hub.cdnUrl), "X-Cache from cloudfront: the library keeps the CDN URL");
    const plain = await fileDownloadInfo({ repo: "acme/tiny", path: "config.json", hubUrl: hub.url, revision: v1 });
    assertEquals(plain?.etag, `"${hub.fileInfo("acme/tiny", "config.json", v1).oid}"`);
    assertEquals(plain?.size, hub.fileBytes("acme/tiny", "config.json", v1).length);
    assertEquals(await fileDownloadInfo({ repo: "acme/tiny", path: "nope.bin", hubUrl: hub.url }), null);

    const blob = await downloadFile({ repo: "acme/tiny", path: "onnx/model.onnx", hubUrl: hub.url });
    assertEquals(new Uint8Array(await blob!.arrayBuffer()), generateBytes(1, 0, 3000));
    const text = await downloadFile({ repo: "acme/tiny", path: "config.json", hubUrl: hub.url, revision: v1 });
    assertEquals(JSON.parse(await text!.text()).architectures, ["BertModel"]);
    assert(hub.requests.some((r) => r.origin === "cdn" && r.status === 206 && r.range === "bytes=0-0"));
    assert(hub.requests.some((r) => r.origin === "cdn" && r.status === 200));
    assert(hub.requests.some((r) => r.origin === "hub" && r.status === 302));
  }));

Deno.test("hub server: downloadFileToCacheDir and snapshotDownload fill a huggingface_hub cache", () =>
  withHub(async ({ hub, v1, v2 }) => {
    const cacheDir = await Deno.makeTempDir();
    const debug = console.debug; // @huggingface/hub prints "Downloading …" through console.debug
    console.debug = () => {};
    try {
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

      const folder = await snapshotDownload({ repo: "acme/tiny", hubUrl: hub.url, cacheDir });
      assertEquals(folder, `${cacheDir}/models--acme--tiny/snapshots/${v2}`);
      assertEquals(await Deno.readTextFile(`${cacheDir}/models--acme--tiny/refs/main`), v2);
      assertEquals(await Deno.readTextFile(`${folder}/config.json`), '{"model_type":"bert","v":2}');
      const cfgOid = hub.fileInfo("acme/tiny", "config.json").oid;
      assertEquals(await Deno.readLink(`${folder}/config.json`), `../../blobs/${cfgOid}`);
      assertEquals(await Deno.readFile(`${folder}/onnx/model.onnx`), generateBytes(1, 0, 3000));
    } finally {
      console.debug = debug;
      await Deno.remove(cacheDir, { recursive: true });
    }
  }));

Deno.test("hub server: whoAmI, invalid tokens, listModels with filters, sort and paging", () =>
  withHub(async ({ hub }) => {
    const me = await whoAmI({ hubUrl: hub.url, accessToken: ALICE });
    assertEquals(me.type, "user");
    assertEquals(me.name, "alice");
    if (me.type === "user") {
      assertEquals(me.fullname, "Alice A.");
      assertEquals(me.orgs.map((o) => o.name), ["acme"]);
      assertEquals(me.auth.accessToken?.role, "read");
    }
    const bad = await assertRejects(() => whoAmI({ hubUrl: hub.url, accessToken: "hf_wrong" }), HubApiError);
    assertEquals(bad.statusCode, 401);
    assertStringIncludes(bad.message, "Invalid credentials in Authorization header");
    assertEquals(hub.requests.at(-1)!.headers.authorization, "Bearer ***");

    const names = async (params: Parameters<typeof listModels>[0]) => {
      const out = [];
      for await (const m of listModels({ hubUrl: hub.url, ...params })) out.push(m.name);
      return out;
    };
    assertEquals(await names({ search: { owner: "acme" } }), ["acme/tiny", "acme/gated"], "private hidden");
    assertEquals(await names({ search: { owner: "acme" }, accessToken: ALICE }), [
      "acme/tiny",
      "acme/gated",
      "acme/private",
    ]);
    assertEquals(await names({ sort: "downloads" }), ["acme/tiny", "other/safetensors-only", "acme/gated"]);
    assertEquals(await names({ sort: "likes", limit: 1 }), ["acme/gated"]);
    assertEquals(await names({ search: { query: "TINY" } }), ["acme/tiny"]);
    assertEquals(await names({ search: { task: "feature-extraction" } }), ["acme/tiny"]);
    assertEquals(await names({ search: { tags: ["onnx"] } }), ["acme/tiny", "acme/gated"]);
    const lists = hub.requests.filter((r) => r.path === "/api/models" && r.search.includes("sort=downloads"));
    assertEquals(lists.length, 2, "3 results in pages of 2");
    // library= matches library_name or tags
    const res = await fetch(`${hub.url}/api/models?library=onnx&sort=lastModified&direction=-1&limit=10`);
    const docs = await res.json();
    assertEquals(docs.map((d: { id: string }) => d.id).sort(), ["acme/gated", "acme/tiny"]);
    assertEquals(docs[0].library_name !== undefined, true);
    assertEquals(res.headers.get("link"), null);
  }, 2));

// ---------------------------------------------------------------------------------------------------------------
// Through fetch: resolve, ranges, errors

Deno.test("hub server: resolve answers like the Hub (302 to the CDN for LFS, ETag, Range, HEAD)", () =>
  withHub(async ({ hub, v1, v2 }) => {
    const info = hub.fileInfo("acme/tiny", "onnx/model.onnx");
    const redirect = await fetch(`${hub.url}/acme/tiny/resolve/main/onnx/model.onnx`, { redirect: "manual" });
    await redirect.body?.cancel();
    assertEquals(redirect.status, 302);
    assert(redirect.headers.get("location")!.startsWith(`${hub.cdnUrl}/`));
    assertEquals(redirect.headers.get("x-linked-etag"), `"${info.sha256}"`);
    assertEquals(redirect.headers.get("x-linked-size"), "3000");
    assertEquals(redirect.headers.get("x-repo-commit"), v2);
    assertEquals(redirect.headers.get("etag"), `"${info.oid}"`);

    const cdn = await fetch(redirect.headers.get("location")!, { headers: { range: "bytes=10-19" } });
    assertEquals(cdn.status, 206);
    assertEquals(cdn.headers.get("content-range"), "bytes 10-19/3000");
    assertEquals(cdn.headers.get("accept-ranges"), "bytes");
    assertEquals(cdn.headers.get("etag"), `"${info.sha256}"`);
    assertEquals(await bytesOf(cdn), generateBytes(1, 10, 20));
    const forged = redirect.headers.get("location")!.replace(/signature=\w+/, "signature=0");
    assertEquals((await status(forged)).status, 403);

    const url = `${hub.url}/acme/tiny/resolve/${v1}/config.json`;
    const cfg = hub.fileBytes("acme/tiny", "config.json", v1);
    const plain = await fetch(url);
    assertEquals(plain.status, 200);
    assertEquals(plain.headers.get("etag"), `"${hub.fileInfo("acme/tiny", "config.json", v1).oid}"`);
    assertEquals(plain.headers.get("x-repo-commit"), v1);
    assertEquals(plain.headers.get("x-linked-etag"), null);
    assertEquals(await bytesOf(plain), cfg);
    const head = await fetch(url, { method: "HEAD" });
    assertEquals(head.status, 200);
    assertEquals(head.headers.get("content-length"), String(cfg.length));
    assertEquals(await head.text(), "");
    const cases: [string, number, string | null, Uint8Array | null][] = [
      ["bytes=0-0", 206, `bytes 0-0/${cfg.length}`, cfg.slice(0, 1)],
      ["bytes=5-", 206, `bytes 5-${cfg.length - 1}/${cfg.length}`, cfg.slice(5)],
      ["bytes=-4", 206, `bytes ${cfg.length - 4}-${cfg.length - 1}/${cfg.length}`, cfg.slice(-4)],
      ["bytes=2-100000", 206, `bytes 2-${cfg.length - 1}/${cfg.length}`, cfg.slice(2)],
      [`bytes=${cfg.length}-`, 416, `bytes */${cfg.length}`, null],
    ];
    for (const [range, code, contentRange, body] of cases) {
      const res = await fetch(url, { headers: { range } });
      assertEquals(res.status, code, range);
      assertEquals(res.headers.get("content-range"), contentRange, range);
      const got = await bytesOf(res);
      if (body) assertEquals(got, body, range);
    }
    // refs/pr/1 raw or encoded in resolve paths
    for (const rev of ["refs/pr/1", "refs%2Fpr%2F1"]) {
      const res = await fetch(`${hub.url}/acme/tiny/resolve/${rev}/extra.txt`);
      assertEquals([res.status, await res.text()], [200, "pr file"]);
    }
    const rec = hub.requests.find((r) => r.range === "bytes=10-19")!;
    assertEquals([rec.origin, rec.status, rec.bytesSent], ["cdn", 206, 10]);
  }));

Deno.test("hub server: every commit keeps its own files", () =>
  withHub(async ({ hub, v1, v2 }) => {
    const old = await fetch(`${hub.url}/acme/tiny/resolve/${v1}/onnx/model_fp16.onnx`);
    assertEquals(old.status, 200);
    assertEquals(await bytesOf(old), generateBytes(2, 0, 1500));
    const gone = await status(`${hub.url}/acme/tiny/resolve/${v2}/onnx/model_fp16.onnx`);
    assertEquals([gone.status, gone.code], [404, "EntryNotFound"]);
    const repo = hub.repo("acme/tiny");
    const v3 = repo.commit({ "config.json": "v3" });
    assertMatch(v3, /^[0-9a-f]{40}$/);
    assertEquals(await (await fetch(`${hub.url}/acme/tiny/resolve/main/config.json`)).text(), "v3");
    assertEquals(
      await (await fetch(`${hub.url}/acme/tiny/resolve/${v2}/config.json`)).text(),
      '{"model_type":"bert","v":2}',
    );
    assertEquals(await (await fetch(`${hub.url}/acme/tiny/resolve/v1.0/config.json`)).json(), {
      architectures: ["BertModel"],
      model_type: "bert",
    });
    const blobs = await (await fetch(`${hub.url}/api/models/acme/tiny/revision/${v1}?blobs=true`)).json();
    const model = blobs.siblings.find((s: { rfilename: string }) => s.rfilename === "onnx/model.onnx");
    const modelInfo = hub.fileInfo("acme/tiny", "onnx/model.onnx", v1);
    assertEquals(model.blobId, modelInfo.oid);
    assertEquals(model.lfs.sha256, modelInfo.sha256);
    assertEquals(blobs.sha, v1);
    const picked = await (await fetch(`${hub.url}/api/models/acme/tiny?expand[]=sha&expand[]=downloads`)).json();
    assertEquals(Object.keys(picked).sort(), ["_id", "downloads", "id", "sha"]);
    assertEquals(picked.sha, v3);
    const history = await (await fetch(`${hub.url}/api/models/acme/tiny/commits/main`)).json();
    assertEquals(history.map((c: { id: string }) => c.id), [v3, v2, v1]);
    const refs = await (await fetch(`${hub.url}/api/models/acme/tiny/refs?include_prs=1`)).json();
    assertEquals(refs.tags, [{ name: "v1.0", ref: "refs/tags/v1.0", targetCommit: v1 }]);
    assertEquals(refs.pullRequests.length, 1);
  }));

Deno.test("hub server: error codes for repos, revisions, entries, private and gated repos, tokens", () =>
  withHub(async ({ hub }) => {
    const alice = { headers: { authorization: `Bearer ${ALICE}` } };
    const bob = { headers: { authorization: `Bearer ${BOB}` } };
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
      ["/acme/gated/resolve/main/config.json", { headers: { authorization: "Bearer hf_unknown" } }, 401, null],
      ["/acme/gated/resolve/main/config.json", bob, 200, null],
      ["/api/whoami-v2", undefined, 401, null],
    ];
    for (const [path, init, code, errorCode] of cases) {
      const res = await status(hub.url + path, init);
      assertEquals([res.status, res.code], [code, errorCode], path);
      if (code >= 400) assert(typeof JSON.parse(res.body).error === "string", path);
    }
    hub.addUser("carol", "hf_carol");
    const carol = { headers: { authorization: "Bearer hf_carol" } };
    const denied = await status(`${hub.url}/acme/gated/resolve/main/model.onnx`, carol);
    assertEquals([denied.status, denied.code], [403, "GatedRepo"]);
    hub.repo("acme/gated").grantAccess("carol");
    const ok = await fetch(`${hub.url}/acme/gated/resolve/main/model.onnx`, carol);
    assertEquals(ok.status, 200);
    assertEquals((await bytesOf(ok)).length, 2048);
    const whoami = await fetch(`${hub.url}/api/whoami-v2`, { headers: { authorization: "Bearer hf_nope" } });
    assertEquals([whoami.status, await whoami.json()], [401, { error: "Invalid credentials in Authorization header" }]);
  }));

Deno.test("hub server: generated content is deterministic, hashed right and random-access", async () => {
  const hub = await startHubServer();
  try {
    const size = 5 * 1024 * 1024 + 12345;
    const sha = hub.addRepo("acme/gen").commit({ "weights.bin": { size, seed: 42 } });
    const full = await bytesOf(await fetch(`${hub.url}/acme/gen/resolve/${sha}/weights.bin`));
    assertEquals(full.length, size);
    const info = hub.fileInfo("acme/gen", "weights.bin");
    assertEquals(info.lfs, true);
    assertEquals(sha256(full), info.sha256);
    const slice = await fetch(`${hub.url}/acme/gen/resolve/main/weights.bin`, {
      headers: { range: "bytes=1000003-3000000" },
    });
    assertEquals(slice.status, 206);
    assertEquals(await bytesOf(slice), full.slice(1000003, 3000001));
    assertEquals(generateBytes(42, 65530, 65542), full.slice(65530, 65542));
    assert(full.slice(0, 65536).some((b, i) => b !== full[65536 + i]), "blocks differ");
    const other = hub.addRepo("acme/gen2").commit({ "w.bin": { size: 1000, seed: 43 } });
    const b = await bytesOf(await fetch(`${hub.url}/acme/gen2/resolve/${other}/w.bin`));
    assert(b.some((x, i) => x !== full[i]), "another seed, other bytes");
  } finally {
    await hub.close();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Faults and shaping

Deno.test("hub server: status, rateLimit, html and delay faults, matched by path, origin and method, counted", () =>
  withHub(async ({ hub }) => {
    hub.addFault({ match: { path: "config.json" }, kind: "status", status: 503, errorCode: "Busy", times: 2 });
    const url = `${hub.url}/acme/tiny/resolve/main/config.json`;
    assertEquals([(await status(url)).status, (await status(url)).code], [503, "Busy"]);
    assertEquals((await status(url)).status, 200, "times ran out");

    const handle = hub.addFault({ match: { path: /whoami/ }, kind: "rateLimit", retryAfter: 2 });
    const limited = await fetch(`${hub.url}/api/whoami-v2`);
    await limited.body?.cancel();
    assertEquals([limited.status, limited.headers.get("retry-after")], [429, "2"]);
    assertEquals([handle.hits, handle.remaining], [1, 0]);

    hub.addFault({ match: { path: "/api/models", method: "POST" }, kind: "html" });
    const get = await fetch(`${hub.url}/api/models/acme/tiny`);
    assertEquals(get.headers.get("content-type"), "application/json; charset=utf-8");
    await get.body?.cancel();
    const post = await fetch(`${hub.url}/api/models/acme/tiny/paths-info/main`, { method: "POST", body: "{}" });
    assertEquals([post.status, post.headers.get("content-type")], [200, "text/html; charset=utf-8"]);
    assertStringIncludes(await post.text(), "<html>");

    hub.addFault({ match: { origin: "cdn" }, kind: "status", status: 500 });
    const viaCdn = await status(`${hub.url}/acme/tiny/resolve/main/onnx/model.onnx`);
    assertEquals(viaCdn.status, 500, "the redirect passed, the CDN failed");

    hub.addFault({ match: { path: "README" }, kind: "delay", ms: 60 });
    const t0 = performance.now();
    const delayed = await status(`${hub.url}/acme/tiny/resolve/main/README.md`);
    assertEquals(delayed.status, 200);
    assert(performance.now() - t0 >= 50, "delay applied");
  }));

Deno.test("hub server: drop cuts the connection after afterBytes; corrupt and ignoreRange change the body", () =>
  withHub(async ({ hub }) => {
    const size = 300_000;
    const sha = hub.repo("acme/tiny").commit({ "big.onnx_data": { size, seed: 9 } });
    const url = `${hub.url}/acme/tiny/resolve/${sha}/big.onnx_data`;
    hub.addFault({ match: { path: "big.onnx_data" }, kind: "drop", afterBytes: 100_000 });
    const dropped = await fetch(url);
    assertEquals(dropped.status, 200);
    assertEquals(dropped.headers.get("content-length"), String(size));
    const got = await drain(dropped);
    assert(got.error, "the client sees an error, not a clean end");
    assertEquals(got.bytes, 100_000);
    assertEquals(hub.requests.filter((r) => r.origin === "cdn").at(-1)!.bytesSent, 100_000);

    hub.addFault({ match: { path: "big.onnx_data", origin: "cdn" }, kind: "drop", afterBytes: 0 });
    const none = await fetch(url).then(drain, (error) => ({ bytes: 0, error }));
    assert(none.error);

    hub.addFault({ match: { path: "big.onnx_data" }, kind: "corrupt" });
    const bad = await bytesOf(await fetch(url));
    assertEquals(bad.length, size);
    assert(sha256(bad) !== hub.fileInfo("acme/tiny", "big.onnx_data").sha256);
    const good = await bytesOf(await fetch(url));
    assertEquals(sha256(good), hub.fileInfo("acme/tiny", "big.onnx_data").sha256);

    hub.addFault({ match: { path: "big.onnx_data" }, kind: "ignoreRange" });
    const ignored = await fetch(url, { headers: { range: "bytes=1000-" } });
    assertEquals([ignored.status, ignored.headers.get("content-range")], [200, null]);
    assertEquals((await bytesOf(ignored)).length, size);
    const honoured = await fetch(url, { headers: { range: "bytes=1000-" } });
    assertEquals(honoured.status, 206);
    assertEquals((await bytesOf(honoured)).length, size - 1000);

    // a drop too long for a small JSON answer waits for a body it can cut
    const handle = hub.addFault({ kind: "drop", afterBytes: 200_000 });
    assertEquals((await fetch(`${hub.url}/api/models/acme/tiny`).then((r) => r.json())).id, "acme/tiny");
    assertEquals(handle.remaining, 1);
    assertEquals((await drain(await fetch(url))).bytes, 200_000);
    assertEquals(handle.hits, 1);
  }));

Deno.test("hub server: stall sends afterBytes then nothing until the client aborts; close() still finishes", async () => {
  const { hub } = await seeded();
  hub.addFault({ match: { path: "model.onnx", origin: "cdn" }, kind: "stall", afterBytes: 1000, times: 2 });
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
  // a second stalled client that never aborts: close() cuts it
  const res2 = await fetch(`${hub.url}/acme/tiny/resolve/main/onnx/model.onnx`);
  const pending = drain(res2);
  await new Promise((r) => setTimeout(r, 50));
  await hub.close();
  const result = await pending;
  assert(result.error, "cut by close()");
  assertEquals(result.bytes, 1000);
});

Deno.test("hub server: shaping delays the first byte and paces bodies", async () => {
  const hub = await startHubServer({ shaping: { firstByteDelayMs: 40 } });
  try {
    const sha = hub.addRepo("acme/s").commit({ "a.bin": { size: 200_000, seed: 1 } });
    let t0 = performance.now();
    const head = await fetch(`${hub.url}/acme/s/resolve/${sha}/a.bin`, { method: "HEAD", redirect: "manual" });
    await head.body?.cancel();
    assert(performance.now() - t0 >= 35, "first-byte delay applied");
    hub.setShaping({ bytesPerSecond: 1_000_000 });
    t0 = performance.now();
    const body = await bytesOf(await fetch(`${hub.url}/acme/s/resolve/${sha}/a.bin`));
    assertEquals(body.length, 200_000);
    assert(performance.now() - t0 >= 150, "200 kB at 1 MB/s takes about 200 ms");
    hub.setShaping({});
  } finally {
    await hub.close();
  }
});

Deno.test("hub server: --demo serves demo repos until SIGINT", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./support/hub_server.ts", import.meta.url).pathname, "--demo"],
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
