/**
 * `gpux search | info | login | logout | whoami` as a user runs them: a subprocess against the local hub.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { pathExists } from "./support/path_exists.ts";
import { type HubServer, startHubServer } from "./support/hub_server.ts";

const ALICE = "hf_alice_secret_token";

interface Setup {
  hub: HubServer;
  home: string;
  env: Record<string, string>;
  mainSha: string;
}

async function withSetup(fn: (s: Setup) => Promise<void>): Promise<void> {
  const hub = await startHubServer({ pageSize: 2 });
  const home = await Deno.makeTempDir({ prefix: "gpux_cli_registry_" });
  try {
    hub.addUser("alice", ALICE, { orgs: ["acme"] });
    const repo = hub.addRepo("acme/tiny-bert", {
      pipelineTag: "text-classification",
      libraryName: "transformers.js",
      license: "apache-2.0",
      downloads: 4200,
      likes: 12,
    });
    const mainSha = repo.commit({
      "README.md": "---\nlicense: apache-2.0\n---\n# tiny-bert\n\nA tiny test model.\n",
      "config.json": JSON.stringify({ architectures: ["BertForSequenceClassification"], model_type: "bert" }),
      "onnx/model.onnx": new Uint8Array(3_000),
      "onnx/model_quantized.onnx": new Uint8Array(1_000),
    });
    repo.tag("v1", mainSha);
    repo.branch("dev", mainSha);
    repo.commit({ "onnx/model_q4.onnx": new Uint8Array(500) }, { branch: "dev" });
    hub.addRepo("acme/plain", { pipelineTag: "fill-mask", libraryName: "transformers", downloads: 10 }).commit({
      "model.safetensors": { size: 2_000, seed: 1 },
    });
    hub.addRepo("acme/secret", { private: true, libraryName: "onnx" }).commit({ "onnx/model.onnx": "x" });
    hub.addRepo("other/bert-onnx", { pipelineTag: "fill-mask", libraryName: "onnx", downloads: 99, likes: 1 })
      .commit({ "onnx/model.onnx": "x" });
    const env = {
      HOME: home, // no real ~/.cache/huggingface/token can leak in
      DENO_DIR: denoDir(), // ...but Deno keeps its own cache (a fresh HOME would make it fetch npm metadata)
      HF_HOME: `${home}/hf`,
      HF_ENDPOINT: hub.url,
      HF_TOKEN: "",
      HF_TOKEN_PATH: "",
    };
    await fn({ hub, home, env, mainSha });
  } finally {
    await hub.close();
    await Deno.remove(home, { recursive: true });
  }
}

function noToken(...texts: string[]): void {
  for (const text of texts) assert(!text.includes(ALICE), `token leaked in: ${text}`);
}

Deno.test("cli search: table (tab-separated when piped), --json, retries shown unless --quiet", async () => {
  await withSetup(async ({ env, hub }) => {
    const table = await runCli(["search", "bert"], { env });
    assertEquals(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assertEquals(lines[0], "ID\tTASK\tLIBRARY\tDOWNLOADS\tLIKES\tUPDATED");
    assertEquals(lines.slice(1).map((l) => l.split("\t")[0]), ["acme/tiny-bert", "other/bert-onnx"]);
    assertMatch(lines[1], /^acme\/tiny-bert\ttext-classification\ttransformers\.js\t4\.2k\t12\t\d{4}-\d\d-\d\d$/);

    const json = await runCli(["search", "--library", "onnx", "--sort", "likes", "--limit", "5", "--json"], { env });
    assertEquals(json.code, 0, json.stderr);
    const hits = JSON.parse(json.stdout);
    assertEquals(hits.map((h: { id: string }) => h.id), ["other/bert-onnx"]);
    assertEquals(hits[0].downloads, 99);

    const limited = await runCli(["search", "--limit", "3", "--json"], { env });
    assertEquals(JSON.parse(limited.stdout).length, 3, "paged past the server's page size of 2");

    hub.addFault({ match: { path: "/api/models" }, kind: "status", status: 503 });
    const retried = await runCli(["search", "bert", "--json"], { env });
    assertEquals(retried.code, 0, retried.stderr);
    assertMatch(retried.stderr, /retrying in \S+ \(HTTP 503\)/);
    assertEquals(JSON.parse(retried.stdout).length, 2);
    hub.addFault({ match: { path: "/api/models" }, kind: "status", status: 503 });
    const quiet = await runCli(["search", "bert", "--json", "--quiet"], { env });
    assertEquals([quiet.code, quiet.stderr], [0, ""]);

    const none = await runCli(["search", "zzz-nothing"], { env });
    assertEquals([none.code, none.stdout], [0, ""]);
    assertStringIncludes(none.stderr, "no models found");
  });
});

Deno.test("cli search: invalid flag values are usage errors naming the flag and the valid values", async () => {
  await withSetup(async ({ env, hub }) => {
    hub.clearRequests();
    const limit = await runCli(["search", "bert", "--limit", "abc"], { env });
    assertEquals(limit.code, 2);
    assertStringIncludes(limit.stderr, "invalid --limit 'abc': use a whole number from 1 to 1000");
    const zero = await runCli(["search", "--limit", "0"], { env });
    assertEquals(zero.code, 2);
    const sort = await runCli(["search", "--sort", "foo", "--json"], { env });
    assertEquals(sort.code, 2);
    assertStringIncludes(sort.stderr, "invalid --sort 'foo': use one of downloads, likes, updated");
    const doc = JSON.parse(sort.stdout);
    assertEquals([doc.code, doc.exitCode], ["invalid_input", 2]);
    assertEquals(hub.requests.length, 0);
  });
});

Deno.test("cli info: metadata, variants with the default, files, revisions", async () => {
  await withSetup(async ({ env, mainSha }) => {
    const info = await runCli(["info", "acme/tiny-bert"], { env });
    assertEquals(info.code, 0, info.stderr);
    const out = info.stdout;
    assertStringIncludes(out, `acme/tiny-bert @ main (${mainSha.slice(0, 12)})`);
    assertStringIncludes(out, "A tiny test model.");
    assertMatch(out, /task\s+text-classification \(text\)/);
    assertMatch(out, /architecture\s+BertForSequenceClassification \(bert\)/);
    assertMatch(out, /license\s+apache-2\.0/);
    assertMatch(out, /access\s+public/);
    assertMatch(out, /formats\s+onnx/);
    assertMatch(out, /size\s+4\.\d kB in 4 files/);
    assertStringIncludes(out, "*\tfp32\t3.0 kB\t1\tmodel");
    assertStringIncludes(out, "\tquantized\t1.0 kB\t1\tmodel");
    assertMatch(out, /default: fp32 \(fp32 is full precision/);
    assert(!out.includes("onnx/model_quantized.onnx"), "files are listed only with --files");

    const files = await runCli(["info", "acme/tiny-bert", "--files"], { env });
    assertStringIncludes(files.stdout, "onnx/model_quantized.onnx\t1.0 kB\t");

    const dev = await runCli(["info", "acme/tiny-bert@dev", "--json"], { env });
    assertEquals(dev.code, 0, dev.stderr);
    const doc = JSON.parse(dev.stdout);
    assertEquals(doc.revision, "dev");
    assertEquals(doc.onnx.variants.map((v: { name: string }) => v.name), ["fp32", "quantized", "q4"]);
    assertEquals(doc.architectures, ["BertForSequenceClassification"]);
    assert(Array.isArray(doc.files) && doc.files.length === 5);

    const tag = await runCli(["info", "acme/tiny-bert", "--revision", "v1", "--json"], { env });
    assertEquals(JSON.parse(tag.stdout).sha, mainSha);
    const sha = await runCli(["info", `acme/tiny-bert@${mainSha}`, "--json"], { env });
    assertEquals(JSON.parse(sha.stdout).sha, mainSha);

    const both = await runCli(["info", "acme/tiny-bert@dev", "--revision", "main"], { env });
    assertEquals(both.code, 2);
    assertStringIncludes(both.stderr, "two different revisions");
  });
});

Deno.test("cli info: no ONNX prints the export command", async () => {
  await withSetup(async ({ env }) => {
    const info = await runCli(["info", "acme/plain"], { env });
    assertEquals(info.code, 0, info.stderr);
    assertStringIncludes(info.stdout, "No ONNX files in this repository.");
    assertStringIncludes(
      info.stdout,
      "optimum-cli export onnx --model acme/plain --task fill-mask acme_plain_onnx/",
    );
    assertMatch(info.stdout, /formats\s+safetensors/);
  });
});

Deno.test("cli info: each error has its own message and exit code", async () => {
  await withSetup(async ({ env }) => {
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [["info", "acme/nope", "--token", ALICE], {}, 3, /model 'acme\/nope' not found/],
      [["info", "acme/tiny-bert@nope"], {}, 3, /revision 'nope' not found in 'acme\/tiny-bert'/],
      // the Hub answers 401 RepoNotFound for a private repo and a typo alike: not found (3), the hint says log in
      [["info", "acme/secret"], {}, 3, /private and you are not logged in/],
      [["info", "acme/no-such-model"], {}, 3, /'acme\/no-such-model' not found .*or it is private/],
      [["info", "acme/bad--id"], {}, 2, /invalid model id 'acme\/bad--id'/],
      [["info", "acme/tiny-bert"], { HF_HUB_OFFLINE: "1" }, 5, /offline mode is on/],
      [["info", "acme/tiny-bert", "--token", "not-a-token"], {}, 4, /not a Hugging Face access token/],
    ];
    for (const [args, extra, code, pattern] of cases) {
      const result = await runCli(args, { env: { ...env, ...extra } });
      assertEquals(result.code, code, `${args.join(" ")}: ${result.stderr}`);
      assertMatch(result.stderr, pattern);
      assertMatch(result.stderr, /^error: .*\n(hint: .*\n)?$/);
      assertEquals(result.stdout, "");
      noToken(result.stderr);
      const json = await runCli([...args, "--json"], { env: { ...env, ...extra } });
      assertEquals(json.code, code);
      assertEquals(JSON.parse(json.stdout).exitCode, code);
      noToken(json.stdout, json.stderr);
    }
    const secret = await runCli(["info", "acme/secret", "--token", ALICE, "--json"], { env });
    assertEquals(secret.code, 0, secret.stderr);
    assertEquals(JSON.parse(secret.stdout).private, true);
    noToken(secret.stdout, secret.stderr);
  });
});

Deno.test("cli login/whoami/logout: token from stdin, saved 0600 where Python looks, never printed", async () => {
  await withSetup(async ({ env, home }) => {
    const tokenFile = `${home}/hf/token`;
    const before = await runCli(["whoami"], { env });
    assertEquals(before.code, 4);
    assertStringIncludes(before.stderr, "not logged in");

    const bad = await runCli(["login"], { env, stdin: "hf_wrong_token_value\n" });
    assertEquals(bad.code, 4);
    assertMatch(bad.stderr, /invalid token/);
    assert(!bad.stderr.includes("hf_wrong_token_value"));
    assertEquals(await pathExists(tokenFile), false, "a rejected token is not saved");

    const empty = await runCli(["login"], { env, stdin: "\n" });
    assertEquals(empty.code, 2);
    assertStringIncludes(empty.stderr, "no token given");

    const login = await runCli(["login"], { env, stdin: `${ALICE}\n` });
    assertEquals(login.code, 0, login.stderr);
    assertStringIncludes(login.stderr, `logged in as alice; token saved to ${tokenFile}`);
    noToken(login.stdout, login.stderr);
    assertEquals(await Deno.readTextFile(tokenFile), ALICE);
    assertEquals((await Deno.stat(tokenFile)).mode! & 0o777, 0o600);

    const who = await runCli(["whoami"], { env });
    assertEquals(who.code, 0, who.stderr);
    assertEquals(who.stdout.split("\n")[0], "alice");
    assertStringIncludes(who.stdout, "orgs: acme");
    assertStringIncludes(who.stderr, "$HF_HOME/token");
    const whoQuiet = await runCli(["whoami", "--quiet"], { env });
    assertEquals([whoQuiet.stdout.split("\n")[0], whoQuiet.stderr], ["alice", ""]);
    const whoJson = await runCli(["whoami", "--json"], { env });
    const me = JSON.parse(whoJson.stdout);
    assertEquals([me.name, me.orgs, me.tokenSource], ["alice", ["acme"], "HF_HOME"]);
    noToken(who.stdout, who.stderr, whoJson.stdout);

    const privateInfo = await runCli(["info", "acme/secret", "--json"], { env });
    assertEquals(privateInfo.code, 0, "the saved login is used");

    const logout = await runCli(["logout"], { env });
    assertEquals(logout.code, 0);
    assertStringIncludes(logout.stderr, `removed the token file ${tokenFile}`);
    assertEquals(await pathExists(tokenFile), false);
    const again = await runCli(["logout", "--json"], { env });
    assertEquals(JSON.parse(again.stdout).loggedOut, false);
    assertEquals((await runCli(["whoami"], { env })).code, 4);

    const flag = await runCli(["login", "--token", ALICE, "--json"], {
      env: { ...env, HF_TOKEN_PATH: `${home}/t/tok` },
    });
    assertEquals(flag.code, 0, flag.stderr);
    assertEquals(JSON.parse(flag.stdout).tokenPath, `${home}/t/tok`);
    noToken(flag.stdout, flag.stderr);
    const viaEnv = await runCli(["whoami", "--json"], { env: { ...env, HF_TOKEN: ALICE } });
    assertEquals(JSON.parse(viaEnv.stdout).tokenSource, "HF_TOKEN");
  });
});

function denoDir(): string {
  const explicit = Deno.env.get("DENO_DIR");
  if (explicit) return explicit;
  const cache = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`;
  return `${cache}/deno`;
}
