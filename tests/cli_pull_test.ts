/**
 * `gpux pull` as a user runs it: a subprocess with the permissions of `deno task gpux`, against
 * the local hub. Output modes, permissions, Ctrl-C then resume, two concurrent pulls.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { runCli, taskPermissions } from "./support/cli.ts";
import { spawnCli, waitFor, withCliHub } from "./support/cli_hub.ts";

const MB = 1_000_000;

async function size(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

const REPO = {
  "config.json": '{"model_type":"bert"}',
  "tokenizer.json": '{"version":"1.0"}',
  "onnx/model.onnx": { size: 2 * MB, seed: 1 },
  "onnx/model_q4.onnx": { size: 500_000, seed: 3 },
};

Deno.test("gpux pull --json: one JSON document; relative symlinks under the task's scoped write permission", async () => {
  await withCliHub("gpux-cli-pull-", async (f) => {
    const sha = f.hub.addRepo("acme/tiny").commit(REPO);
    const { code, stdout, stderr } = await runCli(["pull", "acme/tiny", "--json"], { env: f.env });
    assertEquals(code, 0, stderr);
    const result = JSON.parse(stdout);
    assertEquals(result.sha, sha);
    assertEquals(result.variant, "fp32");
    assertEquals(result.files.map((x: { path: string }) => x.path).sort(), [
      "config.json",
      "onnx/model.onnx",
      "tokenizer.json",
    ]);
    assertEquals(result.bytesDownloaded, 2 * MB + 21 + 17);
    assertEquals(result.snapshotPath, `${f.cache}/models--acme--tiny/snapshots/${sha}`);
    // Deno.symlink needs unscoped write permission, which the task does not grant; libc's symlink(2)
    // (through --allow-ffi) writes the relative link Python writes
    assertEquals(stderr.match(/symlinks are not permitted/g), null, stderr);
    const entry = await Deno.lstat(`${result.snapshotPath}/onnx/model.onnx`);
    assert(entry.isSymlink);
    const etag = f.hub.fileInfo("acme/tiny", "onnx/model.onnx", sha).sha256;
    assertEquals(await Deno.readLink(`${result.snapshotPath}/onnx/model.onnx`), `../../../blobs/${etag}`);
    assertEquals(
      await Deno.readLink(`${result.snapshotPath}/config.json`).then((t) => t.startsWith("../../blobs/")),
      true,
    );
  });
});

Deno.test("gpux pull without --allow-ffi (no libc symlink) falls back to hard links and says so once", async () => {
  await withCliHub("gpux-cli-pull-", async (f) => {
    f.hub.addRepo("acme/tiny").commit(REPO);
    const permissions = (await taskPermissions(f.env)).filter((p) => p !== "--allow-ffi");
    const { code, stdout, stderr } = await runCli(["pull", "acme/tiny", "--json"], { env: f.env, permissions });
    assertEquals(code, 0, stderr);
    const entry = await Deno.lstat(`${JSON.parse(stdout).snapshotPath}/onnx/model.onnx`);
    assert(entry.isFile && !entry.isSymlink && entry.nlink === 2);
    const plain = await runCli(["pull", "acme/tiny", "--variant", "q4"], { env: f.env, permissions });
    assertEquals(
      plain.stderr.match(/^note: symlinks are not permitted.*--allow-ffi.*hard links/gm)?.length,
      1,
      plain.stderr,
    );
  });
});

Deno.test("gpux pull: one line per file when not a terminal, then the summary; --quiet prints nothing", async () => {
  await withCliHub("gpux-cli-pull-", async (f) => {
    const sha = f.hub.addRepo("acme/tiny").commit(REPO);
    const { code, stdout, stderr } = await runCli(["pull", "acme/tiny", "--variant", "q4"], { env: f.env });
    assertEquals(code, 0, stderr);
    assertMatch(stderr, /^done onnx\/model_q4\.onnx {2}500 kB/m);
    assertMatch(stderr, /^done config\.json {2}21 B/m);
    assertStringIncludes(stdout, `pulled acme/tiny  main → ${sha}  (variant q4)`);
    assertEquals(stderr.match(/symlinks are not permitted/g), null, stderr);
    assertMatch(stdout, /3 file\(s\), 500 kB: 500 kB downloaded, 0 B already cached, in [\d.]+m?s/);
    assertStringIncludes(stdout, `${f.cache}/models--acme--tiny/snapshots/${sha}`);
    const dry = await runCli(["pull", "acme/tiny", "--dry-run", "--variant", "fp32"], { env: f.env });
    assertStringIncludes(dry.stdout, "would download 1 file(s), 2.0 MB (38 B already cached)");
    const quiet = await runCli(["pull", "acme/tiny", "--quiet"], { env: f.env });
    assertEquals(quiet.code, 0, quiet.stderr);
    assertEquals(quiet.stdout, "");
    assertEquals(quiet.stderr, "");
    // Python's HF_HUB_DISABLE_SYMLINKS_WARNING silences the note too
    const env = { ...f.env, HF_HUB_DISABLE_SYMLINKS_WARNING: "1" };
    const relinked = await runCli(["pull", "acme/tiny", "--variant", "q4", "--force"], { env });
    assertEquals(relinked.code, 0, relinked.stderr);
    assertMatch(relinked.stderr, /^done onnx\/model_q4\.onnx/m);
    assertEquals(relinked.stderr.match(/symlinks/g), null, relinked.stderr);
  });
});

Deno.test("gpux pull: --cache-dir anywhere works under the task's sandbox; a write outside the sandbox is refused in one line; offline lists what is missing", async () => {
  await withCliHub("gpux-cli-pull-", async (f) => {
    f.hub.addRepo("acme/tiny").commit(REPO);
    const other = `${f.dir}/data/hf`;
    const pulled = await runCli(["pull", "acme/tiny", "--cache-dir", other, "--quiet"], { env: f.env });
    assertEquals(pulled.code, 0, pulled.stderr);
    assert((await Deno.stat(`${other}/models--acme--tiny/refs/main`)).isFile);

    // the same pull under the sandbox computed without --cache-dir: the other folder is outside it
    const outside = `${f.dir}/elsewhere`;
    const permissions = taskPermissions(f.env, ["pull", "acme/tiny"]);
    const refused = await runCli(["pull", "acme/tiny", "--cache-dir", outside], { env: f.env, permissions });
    assertEquals(refused.code, 6, refused.stderr);
    assertMatch(
      refused.stderr,
      /^error: .*(the sandbox refused (read|write) access|not permitted by gpux's sandbox).*\nhint: .*\n$/,
    );
    await Deno.stat(outside).then(() => assert(false, "nothing written outside the cache"), () => {});

    const offline = await runCli(["pull", "acme/tiny", "--offline"], { env: f.env });
    assertEquals(offline.code, 5);
    assertStringIncludes(offline.stderr, "acme/tiny@main is not in the cache");
    const envOffline = await runCli(["pull", "acme/tiny", "--json"], { env: { ...f.env, HF_HUB_OFFLINE: "1" } });
    assertEquals(envOffline.code, 5);
    assertEquals(JSON.parse(envOffline.stdout).code, "offline");
  });
});

Deno.test("gpux pull: Ctrl-C keeps the partial file, leaves no snapshot, exits 130; the next pull resumes with Range", async () => {
  await withCliHub("gpux-cli-pull-", async (f) => {
    const sha = f.hub.addRepo("acme/slow").commit({ "config.json": "{}", "weights.onnx": { size: 12 * MB, seed: 5 } });
    const etag = f.hub.fileInfo("acme/slow", "weights.onnx").sha256!;
    const partial = `${f.cache}/models--acme--slow/blobs/${etag}.incomplete`;
    f.hub.setShaping({ bytesPerSecond: 2 * MB });
    const child = spawnCli(["pull", "acme/slow"], f.env);
    await waitFor("a partial file", async () => await size(partial) > 2 * MB);
    child.kill("SIGINT");
    const first = await child.output();
    const firstErr = new TextDecoder().decode(first.stderr);
    assertEquals(first.code, 130, firstErr);
    const kept = await size(partial);
    assert(kept > 2 * MB && kept < 12 * MB, `partial file kept (${kept} bytes)`);
    await Deno.stat(`${f.cache}/models--acme--slow/snapshots`).then(() => assert(false, "no snapshot"), () => {});

    f.hub.setShaping({});
    f.hub.clearRequests();
    const second = await runCli(["pull", "acme/slow"], { env: f.env });
    assertEquals(second.code, 0, second.stderr);
    assertStringIncludes(second.stderr, "resuming weights.onnx from");
    const ranged = f.hub.requests.find((r) => r.origin === "cdn" && r.path.endsWith("weights.onnx"));
    assertEquals(ranged?.range, `bytes=${kept}-`);
    assertEquals(ranged?.bytesSent, 12 * MB - kept);
    assertStringIncludes(second.stdout, `pulled acme/slow  main → ${sha}`);
  });
});

Deno.test("gpux pull: two concurrent pulls of the same model both finish complete, and download it once", async () => {
  await withCliHub("gpux-cli-pull-", async (f) => {
    const sha = f.hub.addRepo("acme/shared").commit({ "config.json": "{}", "model.onnx": { size: 10 * MB, seed: 9 } });
    f.hub.setShaping({ bytesPerSecond: 4 * MB });
    const a = spawnCli(["pull", "acme/shared", "--json"], f.env);
    const b = spawnCli(["pull", "acme/shared", "--json"], f.env);
    const [ra, rb] = await Promise.all([a.output(), b.output()]);
    const decode = (x: Uint8Array) => new TextDecoder().decode(x);
    assertEquals(ra.code, 0, decode(ra.stderr));
    assertEquals(rb.code, 0, decode(rb.stderr));
    const results = [JSON.parse(decode(ra.stdout)), JSON.parse(decode(rb.stdout))];
    for (const r of results) assertEquals(r.sha, sha);
    assertEquals(results.map((r) => r.bytesDownloaded).sort((x, y) => x - y), [0, 10 * MB + 2]);
    assertMatch(decode(ra.stderr) + decode(rb.stderr), /waiting for another process \(pid \d+/);
    const sent = f.hub.requests.filter((r) => r.path.endsWith("model.onnx") && r.origin === "cdn")
      .reduce((sum, r) => sum + r.bytesSent, 0);
    assertEquals(sent, 10 * MB);
    const entry = `${f.cache}/models--acme--shared/snapshots/${sha}/model.onnx`;
    assertEquals((await Deno.stat(entry)).size, 10 * MB);
  });
});
