/**
 * `gpux pull --local-dir DIR` never ignores DIR: a dangerous or impossible one (the filesystem root, `$HOME`, the Hub
 * cache or a folder in it or above it, `GPUX_HOME`, an existing file, a path under a file, an empty path, a control
 * character, /dev) is refused with exit 2 and a hint before anything is downloaded — also for `--dry-run`, which
 * otherwise reports the files of the local dir, not the cache's.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { withCliHub } from "./support/cli_hub.ts";
import { checkLocalDir } from "../src/cache/local_dir.ts";
import { InputError } from "../src/errors.ts";

const REPO = { "config.json": '{"model_type":"bert"}', "onnx/model.onnx": "not really onnx" };

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("pull --local-dir: dangerous or impossible folders exit 2 with a hint, before anything is downloaded", async () => {
  await withCliHub("gpux-local-dir-", async (f) => {
    f.hub.addRepo("acme/tiny").commit(REPO);
    await Deno.writeTextFile(`${f.dir}/a-file`, "x");
    const env = { ...f.env, GPUX_HOME: `${f.dir}/state`, INIT_CWD: f.dir };
    const cases: [string, RegExp][] = [
      ["/", /it is the filesystem root/],
      ["//", /it is the filesystem root/],
      [f.dir, /it is your home folder/],
      [`${f.dir}/`, /it is your home folder/],
      [".", /it is your home folder/], // relative to where the task started (INIT_CWD, here $HOME)
      [f.cache, /it is the Hugging Face cache folder .* or inside it/],
      [`${f.cache}/models--acme--tiny`, /the Hugging Face cache folder .* or inside it/],
      [`${f.dir}/state`, /it is gpux's state folder \(GPUX_HOME\)/],
      [`${f.dir}/a-file`, /it exists and is not a folder/],
      [`${f.dir}/a-file/sub`, /a part of the path is a file, so no folder can be made there/],
      ["", /the path is empty/],
      [" ", /the path is empty/],
      [`${f.dir}/bad\u0007name`, /the path contains a control character/],
      ["/dev/shm/gpux", /\/dev holds no files of its own/],
    ];
    const before = f.hub.requests.length;
    for (const [dir, reason] of cases) {
      for (const extra of [[], ["--dry-run"]]) {
        const r = await runCli(["pull", "acme/tiny", "--local-dir", dir, ...extra], { env });
        const what = `--local-dir ${JSON.stringify(dir)} ${extra.join(" ")}: exit ${r.code}\n${r.stdout}${r.stderr}`;
        assertEquals(r.code, 2, what);
        assertMatch(r.stderr, reason, what);
        assertMatch(r.stderr, /^error: --local-dir .*\nhint: [^\n]+\n$/m, what);
        assertEquals(r.stdout, "", what);
      }
    }
    assertEquals(f.hub.requests.length, before, "a refused --local-dir asked the hub nothing");
    assert(!(await exists(`${f.cache}/models--acme--tiny`)), "nothing went into the cache instead");
  });
});

Deno.test("pull --local-dir: a good folder gets the files (the dry run reports that folder, not the cache)", async () => {
  await withCliHub("gpux-local-dir-", async (f) => {
    f.hub.addRepo("acme/tiny").commit(REPO);
    const env = { ...f.env, INIT_CWD: f.dir };
    const dry = await runCli(["pull", "acme/tiny", "--local-dir", "models/tiny", "--dry-run"], { env });
    assertEquals(dry.code, 0, dry.stderr);
    assertMatch(dry.stdout, /would download 2 file\(s\).* into .*\/models\/tiny\n/);
    const r = await runCli(["pull", "acme/tiny", "--local-dir", "models/tiny", "--json"], { env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.stdout).snapshotPath, `${f.dir}/models/tiny`);
    assertEquals(await Deno.readTextFile(`${f.dir}/models/tiny/config.json`), REPO["config.json"]);
    assert(!(await exists(`${f.cache}/models--acme--tiny/snapshots`)), "nothing in the cache");
  });
});

Deno.test("pull --local-dir: the library refuses the same folders (a link to $HOME is $HOME)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-local-dir-" });
  try {
    await Deno.symlink(dir, `${dir}/home-link`);
    const guard = { cacheDir: `${dir}/hub`, protect: [{ path: dir, what: "your home folder" }] };
    for (const bad of ["/", dir, `${dir}/home-link`, `${dir}/hub/x`, `${dir}/../${dir.split("/").pop()}`]) {
      let error: unknown;
      await checkLocalDir(bad, guard).catch((e) => error = e);
      assert(error instanceof InputError, `${bad}: ${error}`);
      assertEquals(error.exitCode, 2);
      assert(error.hint, `${bad}: no hint`);
    }
    assertEquals(await checkLocalDir(`${dir}/models/x/`, guard), `${dir}/models/x`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
