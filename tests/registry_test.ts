/**
 * HuggingFaceManager through the real @huggingface/hub and fetch against the local hub.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./support/assert.ts";
import { type HubServer, startHubServer } from "./support/hub_server.ts";
import { envFrom } from "../src/environment.ts";
import {
  AuthenticationError,
  GatedModelError,
  GpuxError,
  InputError,
  ModelNotFoundError,
  NetworkError,
  RevisionNotFoundError,
} from "../src/errors.ts";
import { cardDescription, HuggingFaceManager } from "../src/registry/huggingface.ts";
import type { RegistryConfig } from "../src/registry/manager.ts";

const ALICE = "hf_alice_secret_token";
const BOB = "hf_bob_other_token";

const README = `---
license: mit
tags:
  - onnx
pipeline_tag: text-classification
---

# tiny-bert

[![badge](https://img.shields.io/badge/x-y-green)](https://example.com)

A tiny BERT fine-tuned for sentiment,
exported to ONNX for gpux.

## Usage

Second paragraph, not the description.
`;

const CONFIG = JSON.stringify({ architectures: ["BertForSequenceClassification"], model_type: "bert", hidden_size: 8 });

async function withHub(fn: (hub: HubServer) => Promise<void>, pageSize?: number): Promise<void> {
  const hub = await startHubServer({ pageSize });
  hub.addUser("alice", ALICE, { orgs: ["acme"] });
  hub.addUser("bob", BOB);
  try {
    await fn(hub);
  } finally {
    await hub.close();
  }
}

function manager(hub: HubServer, config: RegistryConfig = {}): HuggingFaceManager {
  return new HuggingFaceManager({ endpoint: hub.url, env: envFrom({}), retryBaseDelayMs: 1, maxRetries: 2, ...config });
}

function tinyBert(hub: HubServer): { sha: string } {
  const repo = hub.addRepo("acme/tiny-bert", {
    pipelineTag: "text-classification",
    libraryName: "transformers.js",
    tags: ["onnx", "text-classification", "license:mit"],
    license: "mit",
    downloads: 1234,
    likes: 7,
  });
  const sha = repo.commit({
    "README.md": README,
    "config.json": CONFIG,
    "tokenizer.json": '{"version":"1.0"}',
    "onnx/model.onnx": new Uint8Array(2_000).fill(1),
    "onnx/model.onnx_data": { size: 3_000_000, seed: 7 },
    "onnx/model_quantized.onnx": new Uint8Array(900).fill(2),
    "onnx/model_fp16.onnx": new Uint8Array(1_000).fill(3),
  });
  return { sha };
}

Deno.test("registry: getModelInfo returns metadata, card, config, files with hashes, formats and variants", async () => {
  await withHub(async (hub) => {
    const { sha } = tinyBert(hub);
    const info = await manager(hub).getModelInfo("acme/tiny-bert");
    assertEquals(info.id, "acme/tiny-bert");
    assertEquals(info.revision, "main");
    assertEquals(info.sha, sha);
    assertEquals(info.private, false);
    assertEquals(info.gated, false);
    assertEquals(info.pipelineTag, "text-classification");
    assertEquals(info.modality, "text");
    assertEquals(info.libraryName, "transformers.js");
    assertEquals(info.tags, ["onnx", "text-classification", "license:mit"]);
    assertEquals(info.license, "mit");
    assertEquals(info.downloads, 1234);
    assertEquals(info.likes, 7);
    assertMatch(info.lastModified!, /^\d{4}-\d\d-\d\dT/);
    assertEquals(info.description, "A tiny BERT fine-tuned for sentiment, exported to ONNX for gpux.");
    assertEquals(info.architectures, ["BertForSequenceClassification"]);
    assertEquals(info.modelType, "bert");
    assertEquals(info.files.map((f) => f.path), [
      "README.md",
      "config.json",
      "onnx/model.onnx",
      "onnx/model.onnx_data",
      "onnx/model_fp16.onnx",
      "onnx/model_quantized.onnx",
      "tokenizer.json",
    ]);
    for (const file of info.files) {
      const truth = hub.fileInfo("acme/tiny-bert", file.path);
      assertEquals(file.size, truth.size, file.path);
      assertEquals(file.oid, truth.oid, file.path);
      assertEquals(file.lfs?.sha256, truth.lfs ? truth.sha256 : undefined, file.path);
    }
    assertEquals(info.files.find((f) => f.path === "onnx/model.onnx_data")!.size, 3_000_000);
    assertEquals(info.totalSize, info.files.reduce((n, f) => n + f.size, 0));
    assertEquals(info.formats, ["onnx"]);
    assertEquals(info.onnx.variants.map((v) => [v.name, v.size]), [
      ["fp32", 3_002_000],
      ["fp16", 1_000],
      ["quantized", 900],
    ]);
    assertEquals(info.onnx.defaultVariant, "fp32");
    assertEquals(info.conversion, undefined);
  });
});

Deno.test("registry: a repository without ONNX gets the Optimum export command", async () => {
  await withHub(async (hub) => {
    hub.addRepo("acme/plain-gpt", { pipelineTag: "text-generation", libraryName: "transformers" }).commit({
      "config.json": JSON.stringify({ architectures: ["GPT2LMHeadModel"], model_type: "gpt2" }),
      "model.safetensors": { size: 5_000, seed: 1 },
      "pytorch_model.bin": { size: 5_000, seed: 2 },
    });
    const info = await manager(hub).getModelInfo("acme/plain-gpt");
    assertEquals(info.formats, ["safetensors", "pytorch"]);
    assertEquals(info.onnx, { variants: [] });
    assertEquals(info.description, undefined);
    assertEquals(info.conversion, {
      task: "text-generation-with-past",
      command: "optimum-cli export onnx --model acme/plain-gpt --task text-generation-with-past acme_plain-gpt_onnx/",
    });
  });
});

Deno.test("registry: branches, tags, commit shas and refs/pr/N resolve; unknown revisions do not", async () => {
  await withHub(async (hub) => {
    const repo = hub.addRepo("acme/revs", { libraryName: "onnx" });
    const first = repo.commit({ "a.txt": "one", "onnx/model.onnx": new Uint8Array(10) });
    repo.tag("v1.0", first);
    const second = repo.commit({ "b.txt": "two" });
    const dev = repo.commit({ "dev.txt": "dev" }, { branch: "dev" });
    repo.branch("dev", dev);
    const pr = repo.commit({ "pr.txt": "pr" }, { branch: "pr-work" });
    repo.pr(1, pr);
    const hf = manager(hub);
    const cases: [string | undefined, string, string][] = [
      [undefined, second, "b.txt"],
      ["main", second, "b.txt"],
      ["v1.0", first, "a.txt"],
      [first, first, "a.txt"],
      ["dev", dev, "dev.txt"],
      ["refs/pr/1", pr, "pr.txt"],
    ];
    for (const [revision, sha, marker] of cases) {
      const resolved = await hf.resolveRevision("acme/revs", revision);
      assertEquals(resolved.sha, sha, `revision ${revision}`);
      assertEquals(resolved.revision, revision ?? "main");
      assert(resolved.files.some((f) => f.path === marker), `${marker} at ${revision}`);
    }
    assert(!(await hf.listModelFiles("acme/revs", { revision: "v1.0" })).some((f) => f.path === "b.txt"));
    const viaId = await hf.getModelInfo("acme/revs@refs/pr/1");
    assertEquals([viaId.revision, viaId.sha], ["refs/pr/1", pr]);

    for (const bad of ["nope", "refs/pr/9", "0".repeat(40)]) {
      const error = await assertRejects(() => hf.getModelInfo("acme/revs", { revision: bad }), RevisionNotFoundError);
      assertMatch(error.message, new RegExp(`revision '${bad.replaceAll("/", "\\/")}' not found in 'acme/revs'`));
      assertEquals(error.exitCode, 3);
    }
  });
});

Deno.test("registry: private repositories need a member's token", async () => {
  await withHub(async (hub) => {
    hub.addRepo("acme/secret", { private: true, libraryName: "onnx" }).commit({
      "README.md": "Secret model.\n",
      "onnx/model.onnx": new Uint8Array(5),
    });
    const anonymous = await assertRejects(() => manager(hub).getModelInfo("acme/secret"), ModelNotFoundError);
    assertMatch(anonymous.message, /not logged in \(HTTP 401\)/);
    assertMatch(anonymous.hint!, /if it is private or gated, log in with `gpux login`/);
    assertEquals(anonymous.exitCode, 3);

    const outsider = await assertRejects(
      () => manager(hub, { token: BOB }).getModelInfo("acme/secret"),
      ModelNotFoundError,
    );
    assertMatch(outsider.message, /'acme\/secret' not found/);
    assert(!outsider.message.includes(BOB));

    const info = await manager(hub, { token: ALICE }).getModelInfo("acme/secret");
    assertEquals(info.private, true);
    assertEquals(info.description, "Secret model.");
    const fromEnv = await manager(hub, { env: envFrom({ HF_TOKEN: ALICE }) }).getModelInfo("acme/secret");
    assertEquals(fromEnv.sha, info.sha);

    const home = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${home}/token`, ALICE + "\n");
      const fromFile = await manager(hub, { env: envFrom({ HF_HOME: home }) }).getModelInfo("acme/secret");
      assertEquals(fromFile.sha, info.sha);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
    assert(hub.requests.some((r) => r.user === "alice"));
  });
});

Deno.test("registry: gated repositories show their metadata; the card needs accepted conditions", async () => {
  await withHub(async (hub) => {
    const repo = hub.addRepo("acme/gated", { gated: "manual", pipelineTag: "image-classification" });
    repo.commit({ "README.md": "Gated card text.\n", "onnx/model.onnx": new Uint8Array(5) });
    const before = await manager(hub, { token: BOB }).getModelInfo("acme/gated");
    assertEquals(before.gated, "manual");
    assertEquals(before.modality, "vision");
    assertEquals(before.description, undefined);
    assertEquals(before.onnx.defaultVariant, "fp32");
    repo.grantAccess("bob");
    const after = await manager(hub, { token: BOB }).getModelInfo("acme/gated");
    assertEquals(after.description, "Gated card text.");
  });
});

Deno.test("registry: unknown models and invalid ids", async () => {
  await withHub(async (hub) => {
    const withToken = await assertRejects(
      () => manager(hub, { token: ALICE }).getModelInfo("acme/missing"),
      ModelNotFoundError,
    );
    assertMatch(withToken.message, /model 'acme\/missing' not found on http:\/\/127\.0\.0\.1:\d+/);
    await assertRejects(() => manager(hub).getModelInfo("acme/missing"), ModelNotFoundError);

    hub.clearRequests();
    for (const bad of ["acme/bad--name", "a/b/c", "acme/x@a..b", ""]) {
      await assertRejects(() => manager(hub).getModelInfo(bad), InputError);
    }
    assertEquals(hub.requests.length, 0, "ids are validated before any request");
  });
});

Deno.test("registry: listModelFiles follows tree paging to the end", async () => {
  await withHub(async (hub) => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 12; i++) files[`dir${i % 3}/sub/file${i}.txt`] = `content ${i}`;
    hub.addRepo("acme/many").commit(files);
    hub.clearRequests();
    const listed = await manager(hub).listModelFiles("acme/many");
    assertEquals(listed.length, 12);
    assertEquals(new Set(listed.map((f) => f.path)), new Set(Object.keys(files)));
    assert(listed.every((f) => f.size === new TextEncoder().encode(files[f.path]).length));
    const pages = hub.requests.filter((r) => r.path.includes("/tree/"));
    assert(pages.length >= 4, `expected several tree pages, got ${pages.length}`);
  }, 4);
});

Deno.test("registry: a 500 on one request is retried transparently", async () => {
  await withHub(async (hub) => {
    tinyBert(hub);
    hub.addFault({ match: { path: "/tree/" }, kind: "status", status: 500 });
    const info = await manager(hub).getModelInfo("acme/tiny-bert");
    assertEquals(info.files.length, 7);
    assertEquals(hub.requests.filter((r) => r.path.includes("/tree/") && r.status === 500).length, 1);
  });
});

Deno.test("registry: searchModels filters, sorts and pages up to the limit", async () => {
  await withHub(async (hub) => {
    const add = (id: string, date: string, o: Parameters<HubServer["addRepo"]>[1]) =>
      hub.addRepo(id, o).commit({ "x.txt": id }, { date: new Date(date) });
    add("acme/bert-onnx", "2026-01-01", { libraryName: "onnx", pipelineTag: "fill-mask", downloads: 50, likes: 1 });
    add("acme/bert-tf", "2026-01-02", {
      libraryName: "transformers",
      pipelineTag: "fill-mask",
      downloads: 500,
      likes: 2,
    });
    add("other/bert-small", "2026-03-01", {
      libraryName: "onnx",
      pipelineTag: "text-classification",
      downloads: 5,
      likes: 30,
    });
    add("other/vit", "2026-01-05", {
      libraryName: "onnx",
      pipelineTag: "image-classification",
      downloads: 1000,
      likes: 3,
    });
    add("other/bert-new", "2026-02-01", { libraryName: "transformers.js", pipelineTag: "fill-mask", downloads: 1 });
    const hf = manager(hub);

    assertEquals((await hf.searchModels("bert")).map((m) => m.id), [
      "acme/bert-tf",
      "acme/bert-onnx",
      "other/bert-small",
      "other/bert-new",
    ]);
    assertEquals((await hf.searchModels("bert", { sort: "likes" })).map((m) => m.id)[0], "other/bert-small");
    assertEquals((await hf.searchModels("bert", { sort: "updated" })).map((m) => m.id), [
      "other/bert-small",
      "other/bert-new",
      "acme/bert-tf",
      "acme/bert-onnx",
    ]);
    assertEquals((await hf.searchModels("", { library: "onnx" })).map((m) => m.id), [
      "other/vit",
      "acme/bert-onnx",
      "other/bert-small",
    ]);
    const listRequest = hub.requests.findLast((r) => r.path === "/api/models")!;
    assertMatch(listRequest.search, /[?&]library=onnx(&|$)/);
    assertMatch(listRequest.search, /[?&]direction=-1(&|$)/);
    assertEquals((await hf.searchModels("", { author: "acme" })).map((m) => m.id), ["acme/bert-tf", "acme/bert-onnx"]);
    assertEquals((await hf.searchModels("", { task: "image-classification" })).map((m) => m.id), ["other/vit"]);

    hub.clearRequests();
    const limited = await hf.searchModels("", { limit: 3 });
    assertEquals(limited.length, 3);
    const all = await hf.searchModels("", { limit: 100 });
    assertEquals(all.length, 5);
    assert(hub.requests.filter((r) => r.path === "/api/models").length >= 3, "followed Link paging");

    const hit = all.find((m) => m.id === "acme/bert-onnx")!;
    assertEquals(hit.libraryName, "onnx");
    assertEquals(hit.pipelineTag, "fill-mask");
    assertEquals([hit.downloads, hit.likes], [50, 1]);
    assertEquals(hit.lastModified, "2026-01-01T00:00:00.000Z");

    await assertRejects(() => hf.searchModels("x", { limit: 0 }), InputError);
    // deno-lint-ignore no-explicit-any
    await assertRejects(() => hf.searchModels("x", { sort: "stars" as any }), InputError);
  }, 2);
});

Deno.test("registry: whoami with a valid, an invalid and no token", async () => {
  await withHub(async (hub) => {
    const me = await manager(hub, { token: ALICE }).whoami();
    assertEquals(me.name, "alice");
    assertEquals(me.type, "user");
    assertEquals(me.orgs, ["acme"]);
    assertEquals(me.tokenSource, "explicit");
    assert(!JSON.stringify(me).includes(ALICE));

    const other = await manager(hub).whoami({ token: BOB });
    assertEquals(other.name, "bob");

    const invalid = await assertRejects(
      () => manager(hub, { token: "hf_not_a_real_token" }).whoami(),
      AuthenticationError,
    );
    assertMatch(invalid.message, /invalid token \(HTTP 401\)/);
    assert(!invalid.message.includes("hf_not_a_real_token"));

    const none = await assertRejects(() => manager(hub).whoami(), AuthenticationError);
    assertMatch(none.message, /not logged in/);

    const shape = await assertRejects(() => manager(hub, { token: "abc123" }).whoami(), AuthenticationError);
    assertMatch(shape.message, /start with 'hf_'/);
    assert(!shape.message.includes("abc123"));
  });
});

Deno.test("registry: errors never carry the token and are always GpuxErrors", async () => {
  await withHub(async (hub) => {
    hub.addFault({
      match: { path: "/api/models/acme/tiny-bert" },
      kind: "status",
      status: 400,
      message: `bad ${ALICE}`,
    });
    tinyBert(hub);
    const error = await assertRejects(() => manager(hub, { token: ALICE }).getModelInfo("acme/tiny-bert"), GpuxError);
    assert(!error.message.includes(ALICE), error.message);
    assert(!JSON.stringify(error.toJSON()).includes(ALICE));
    assert(!String(error.hint ?? "").includes(ALICE));
  });
});

Deno.test("registry: the endpoint comes from config, then HF_ENDPOINT", async () => {
  await withHub(async (hub) => {
    tinyBert(hub);
    const viaEnv = new HuggingFaceManager({ env: envFrom({ HF_ENDPOINT: hub.url + "/" }) });
    assertEquals(viaEnv.endpoint, hub.url);
    assertEquals((await viaEnv.getModelInfo("acme/tiny-bert")).id, "acme/tiny-bert");
    assertEquals(new HuggingFaceManager({ env: envFrom({}) }).endpoint, "https://huggingface.co");
    const offline = new HuggingFaceManager({ endpoint: hub.url, env: envFrom({ HF_HUB_OFFLINE: "1" }) });
    hub.clearRequests();
    await assertRejects(() => offline.getModelInfo("acme/tiny-bert"), NetworkError);
    assertEquals(hub.requests.length, 0);
  });
});

Deno.test("registry: the card description is the first real paragraph of README.md", () => {
  assertEquals(cardDescription(README), "A tiny BERT fine-tuned for sentiment, exported to ONNX for gpux.");
  assertEquals(cardDescription("Just one line."), "Just one line.");
  assertEquals(cardDescription("---\nlicense: mit\n---\n"), undefined);
  assertEquals(cardDescription(""), undefined);
  assertEquals(
    cardDescription(
      '\uFEFF---\r\na: 1\r\n---\r\n<!-- comment -->\r\n<div align="center"><img src="x.png"></div>\r\n\r\n' +
        "| a | b |\n|---|---|\n\n```python\ncode here\n```\n\n[Paper](https://arxiv.org)\n\nTitle\n=====\n\n" +
        "Real   text\n  continues here.",
    ),
    "Real text continues here.",
  );
  assertEquals(cardDescription("# Title\n\n" + "x".repeat(1200))!.length, 1000);
});

Deno.test("registry: hubFetch turns a gated file into GatedModelError (401 anonymous, 403 without access)", async () => {
  await withHub(async (hub) => {
    const repo = hub.addRepo("acme/gated", { gated: "auto" });
    const sha = repo.commit({ "onnx/model.onnx": new Uint8Array(5) });
    const url = `${hub.url}/acme/gated/resolve/${sha}/onnx/model.onnx`;
    const context = { repoId: "acme/gated", revision: "main", path: "onnx/model.onnx" };
    const anonymous = manager(hub).hubFetch(context);
    const e1 = await assertRejects(() => anonymous(url), GatedModelError);
    assertMatch(e1.message, /'acme\/gated' is gated/);
    const bob = await manager(hub, { token: BOB }).hubFetchOptions(context);
    const e2 = await assertRejects(
      () => bob.fetch(url, { headers: { authorization: `Bearer ${BOB}` } }),
      GatedModelError,
    );
    assertMatch(e2.hint!, /accept/);
    assertEquals(e2.exitCode, 4);
    repo.grantAccess("bob");
    const ok = await bob.fetch(url, { headers: { authorization: `Bearer ${BOB}` } });
    assertEquals(new Uint8Array(await ok.arrayBuffer()).length, 5);
  });
});
