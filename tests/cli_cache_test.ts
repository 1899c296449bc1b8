import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { runCli, taskPermissions } from "./support/cli.ts";
import { exists, writeSampleCache } from "./support/hf_cache.ts";
import { scanCache } from "../src/cache/scan.ts";

async function withSampleCache(
  fn: (dir: string, sample: Awaited<ReturnType<typeof writeSampleCache>>) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "gpux-cli-cache-" });
  try {
    await fn(dir, await writeSampleCache(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cli ls: a table of models, revisions and refs; --json is one document", async () => {
  await withSampleCache(async (dir, sample) => {
    const table = await runCli(["ls"], { env: { HF_HUB_CACHE: dir } });
    assertEquals(table.code, 0, table.stderr);
    const lines = table.stdout.split("\n");
    assertMatch(lines[0], /^MODEL\s+REVISION\s+REFS\s+SIZE\s+FILES\s+FORMATS\s+MODIFIED$/);
    assert(lines.some((l) => /^acme\/tiny-bert\s+\w{12}\s/.test(l)));
    assert(lines.some((l) => l.includes(sample.commits.pr.slice(0, 12)) && l.includes("v1.0, refs/pr/1")));
    assert(lines.some((l) => l.includes(sample.commits.detached.slice(0, 12)) && l.includes("(detached)")));
    assert(lines.some((l) => l.includes(sample.commits.main.slice(0, 12)) && /\bmain\b/.test(l)));
    assertStringIncludes(table.stdout, "onnx,safetensors");
    // piped: stdout is the table alone (tab-separated), the summary and notes go to stderr
    assert(lines.filter((l) => l).every((l) => l.split("\t").length === 7), table.stdout);
    assertStringIncludes(table.stderr, `2 models`);
    assertStringIncludes(table.stderr, "gpux cache verify acme/broken");
    assertStringIncludes(table.stderr, "gpux cache prune");
    assert(!table.stdout.includes("acme/data"), "datasets are not listed");

    const json = await runCli(["ls", "--json", "--cache-dir", dir]);
    assertEquals(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    const scan = await scanCache({ cacheDir: dir });
    assertEquals(doc.cacheDir, dir);
    assertEquals(doc.models.map((m: { id: string }) => m.id), ["acme/broken", "acme/tiny-bert"]);
    const bert = doc.models[1];
    assertEquals(bert.sizeOnDisk, scan.models[1].sizeOnDisk);
    assertEquals(bert.refs, { main: sample.commits.main, "v1.0": sample.commits.pr, "refs/pr/1": sample.commits.pr });
    assertEquals(bert.revisions.length, 3);
    assertEquals(doc.models[0].missingFiles, [
      { revision: sample.commits.brokenMain, path: "model.onnx", etag: sample.missingEtag },
    ]);
  });
});

Deno.test("cli ls: an empty or missing cache", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-cli-cache-" });
  try {
    const none = await runCli(["ls", "--cache-dir", `${dir}/absent`]);
    assertEquals(none.code, 0);
    assertEquals(none.stdout, "");
    assertStringIncludes(none.stderr, "nothing downloaded yet");
    const json = await runCli(["ls", "--json"], { env: { HF_HOME: dir } });
    assertEquals(json.code, 0, json.stderr);
    assertEquals(JSON.parse(json.stdout).models, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli rm: refuses without --yes off a TTY; --dry-run shows; --yes removes; --json", async () => {
  await withSampleCache(async (dir, sample) => {
    const env = { HF_HUB_CACHE: dir };
    const refused = await runCli(["rm", "acme/tiny-bert@v1.0"], { env });
    assertEquals(refused.code, 2);
    assertStringIncludes(refused.stderr, "--yes");
    assert(await exists(sample.bert.snapshot(sample.commits.pr)));

    const dry = await runCli(["rm", "acme/tiny-bert@v1.0", "--dry-run"], { env });
    assertEquals(dry.code, 0, dry.stderr);
    assertStringIncludes(dry.stdout, `revision ${sample.commits.pr.slice(0, 12)} (v1.0, refs/pr/1)`);
    assertStringIncludes(dry.stdout, "Would free 38 B");
    assert(await exists(sample.bert.snapshot(sample.commits.pr)));

    const done = await runCli(["rm", "acme/tiny-bert@v1.0", "--yes"], { env });
    assertEquals(done.code, 0, done.stderr);
    assertStringIncludes(done.stdout, `Removed acme/tiny-bert@${sample.commits.pr.slice(0, 12)}: freed 38 B`);
    assert(!await exists(sample.bert.snapshot(sample.commits.pr)));

    const json = await runCli(["rm", "acme/broken", "--yes", "--json", "--cache-dir", dir], { env });
    assertEquals(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assertEquals([doc.model, doc.wholeModel, doc.removed], ["acme/broken", true, true]);
    assert(!await exists(sample.broken.root));
  });
});

Deno.test("cli rm and prune under deno task gpux: the sandbox follows --cache-dir, and refuses what lies outside it", async () => {
  await withSampleCache(async (dir, sample) => {
    // HF_HUB_CACHE points elsewhere; --cache-dir names the cache, so the sandbox grants it
    const env = { HF_HUB_CACHE: `${dir}/elsewhere` };
    const prune = await runCli(["cache", "prune", "--cache-dir", dir, "--older-than", "0", "--json"], { env });
    assertEquals(prune.code, 0, prune.stderr);
    assert(!(await exists(sample.bert.snapshot(sample.commits.detached))), "prune removed the detached revision");
    // the same rm run under the sandbox of another cache: one clear line naming the permission, exit 6
    const permissions = taskPermissions(env, ["rm", "acme/tiny-bert@v1.0", "--yes"]);
    const refused = await runCli(["rm", "acme/tiny-bert@v1.0", "--yes", "--cache-dir", dir], { env, permissions });
    assertEquals(refused.code, 6, refused.stderr);
    assertMatch(
      refused.stderr,
      /^error: .*(the sandbox refused (write|read) access|not permitted by gpux's sandbox).*\nhint: .*\n$/,
    );
    assert(!refused.stderr.includes("    at "), "no stack trace");
    assert(await exists(sample.bert.snapshot(sample.commits.pr)));
  });
});

Deno.test("cli rm: unknown model exits 3, unknown revision 3, bad id 2 (with --json, one error document)", async () => {
  await withSampleCache(async (dir) => {
    const env = { HF_HUB_CACHE: dir };
    const unknown = await runCli(["rm", "acme/absent", "--yes"], { env });
    assertEquals(unknown.code, 3);
    assertStringIncludes(unknown.stderr, "not in the cache");
    const rev = await runCli(["rm", "acme/tiny-bert@nope", "--yes"], { env });
    assertEquals(rev.code, 3);
    assertStringIncludes(rev.stderr, "cached revisions:");
    const bad = await runCli(["rm", "bad id", "--yes", "--json"], { env });
    assertEquals(bad.code, 2);
    assertEquals(JSON.parse(bad.stdout).code, "invalid_input");
  });
});

/** `script` gives the CLI a real terminal (util-linux); the test is skipped without it. */
const hasScript = await new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
  .output().then((o) => o.success).catch(() => false);

Deno.test({
  name: "cli rm: asks for confirmation on a TTY and reads the answer from stdin",
  ignore: !hasScript,
  fn: async () => {
    await withSampleCache(async (dir, sample) => {
      const cli = new URL("../cli.ts", import.meta.url).pathname;
      const config = new URL("../deno.json", import.meta.url).pathname;
      const permissions = taskPermissions({ HF_HUB_CACHE: dir }, ["rm", "acme/tiny-bert"]);
      const run = async (answer: string) => {
        const command = [
          Deno.execPath(),
          "run",
          "--quiet",
          `--config=${config}`,
          ...permissions,
          cli,
          "rm",
          "acme/tiny-bert",
        ]
          .map((a) => `'${a}'`).join(" ");
        const child = new Deno.Command("script", {
          args: ["-qec", command, "/dev/null"],
          env: { HF_HUB_CACHE: dir, NO_COLOR: "1" },
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode(answer));
        await writer.close();
        const { code, stdout } = await child.output();
        return { code, out: new TextDecoder().decode(stdout) };
      };
      const no = await run("n\n");
      assertEquals(no.code, 0, no.out);
      assertStringIncludes(no.out, "Remove? [y/N]");
      assertStringIncludes(no.out, "Nothing removed.");
      assert(await exists(sample.bert.root));
      const yes = await run("y\n");
      assertEquals(yes.code, 0, yes.out);
      assertStringIncludes(yes.out, "Removed acme/tiny-bert");
      assert(!await exists(sample.bert.root));
    });
  },
});

Deno.test("cli cache prune: --dry-run lists, then prune frees; --older-than is validated", async () => {
  await withSampleCache(async (dir, sample) => {
    const env = { HF_HUB_CACHE: dir };
    const dry = await runCli(["cache", "prune", "--dry-run"], { env });
    assertEquals(dry.code, 0, dry.stderr);
    assertStringIncludes(
      dry.stdout,
      `would remove detached revision acme/tiny-bert@${sample.commits.detached.slice(0, 12)}`,
    );
    assertStringIncludes(dry.stdout, `would remove unused blob acme/tiny-bert ${sample.strayEtag}`);
    assertStringIncludes(dry.stdout, "would remove partial download");
    assertMatch(dry.stdout, /Would free [\d.]+ kB/);
    assert(await exists(sample.oldIncomplete));

    const bad = await runCli(["cache", "prune", "--older-than", "soon"], { env });
    assertEquals(bad.code, 2);
    assertStringIncludes(bad.stderr, "--older-than");

    const json = await runCli(["cache", "prune", "--json", "--older-than", "0"], { env });
    assertEquals(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assertEquals([doc.dryRun, doc.olderThanMs], [false, 0]);
    assert(doc.freedBytes > 0);
    assert(!await exists(sample.oldIncomplete));
    assert(!await exists(sample.freshIncomplete));
    assert(!await exists(sample.bert.snapshot(sample.commits.detached)));

    const again = await runCli(["cache", "prune"], { env });
    assertEquals(again.code, 0);
    assertStringIncludes(again.stdout, "Nothing to prune");
  });
});

Deno.test("cli cache verify: exit 6 with the list and the fix; a healthy model exits 0; --json", async () => {
  await withSampleCache(async (dir, sample) => {
    const env = { HF_HUB_CACHE: dir };
    const all = await runCli(["cache", "verify"], { env });
    assertEquals(all.code, 6, all.stderr);
    assertStringIncludes(all.stdout, `CORRUPT acme/broken: blob ${sample.corruptEtag}`);
    assertStringIncludes(all.stdout, "MISSING acme/broken: model.onnx");
    assertStringIncludes(all.stdout, "acme/tiny-bert: 8 files");
    assertStringIncludes(all.stderr, "gpux pull --force acme/broken");

    const one = await runCli(["cache", "verify", "acme/tiny-bert"], { env });
    assertEquals(one.code, 0, one.stderr);
    assertStringIncludes(one.stdout, "acme/tiny-bert: 8 files");
    assert(!one.stdout.includes("acme/broken"));

    const json = await runCli(["cache", "verify", "--json"], { env });
    assertEquals(json.code, 6);
    const doc = JSON.parse(json.stdout);
    assertEquals(doc.ok, false);
    assertEquals(doc.issues.map((i: { kind: string }) => i.kind).sort(), ["corrupt", "missing"]);

    const absent = await runCli(["cache", "verify", "acme/absent"], { env });
    assertEquals(absent.code, 3);
  });
});

Deno.test("cli cache: without a subcommand shows help; cache dir follows --cache-dir, HF_HUB_CACHE, HF_HOME", async () => {
  const help = await runCli(["cache"]);
  assertEquals(help.code, 0);
  assertStringIncludes(help.stdout, "prune");
  assertStringIncludes(help.stdout, "verify");
  const home = await runCli(["cache", "dir"], { env: { HF_HOME: "/data/hf" } });
  assertEquals(home.stdout.trim(), "/data/hf/hub");
  const hub = await runCli(["cache", "dir"], { env: { HF_HOME: "/data/hf", HF_HUB_CACHE: "/fast/hub" } });
  assertEquals(hub.stdout.trim(), "/fast/hub");
  const flag = await runCli(["cache", "dir", "--cache-dir", "/x", "--json"], { env: { HF_HUB_CACHE: "/fast/hub" } });
  assertEquals(JSON.parse(flag.stdout), { cacheDir: "/x" });
});
