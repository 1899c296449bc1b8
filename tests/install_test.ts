/**
 * `deno task install` / `deno task uninstall`: a `gpux` launcher in `$DENO_INSTALL_ROOT/bin` that runs each command
 * under its own sandbox, and its removal.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function run(cmd: string, args: string[], env: Record<string, string>, cwd = ROOT) {
  const base = Deno.env.toObject();
  delete base.INIT_CWD;
  const out = await new Deno.Command(cmd, { args, cwd, clearEnv: true, env: { ...base, NO_COLOR: "1", ...env } })
    .output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test({
  name: "deno task install writes a gpux launcher into DENO_INSTALL_ROOT/bin; uninstall removes only it",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "gpux-install-" });
    try {
      const env = { DENO_INSTALL_ROOT: root, HOME: root, HF_HOME: `${root}/hf` };
      const installed = await run(Deno.execPath(), ["task", "-q", `--config=${ROOT}deno.json`, "install"], env);
      assertEquals(installed.code, 0, installed.stderr);
      assertStringIncludes(installed.stdout, `${root}/bin/gpux`);
      const gpux = `${root}/bin/gpux`;
      assertEquals((await run(gpux, ["--version"], env)).stdout.trim(), (await import("../src/version.ts")).VERSION);
      // relative paths mean the folder it is started from; the cache is the one HF_HOME names
      await Deno.mkdir(`${root}/work`);
      const dir = await run(gpux, ["cache", "dir"], env, `${root}/work`);
      assertEquals(dir.stdout.trim(), `${root}/hf/hub`, dir.stderr);
      const elsewhere = await run(gpux, ["ls", "--cache-dir", "../c"], env, `${root}/work`);
      assertEquals(elsewhere.code, 0, elsewhere.stderr);
      assertMatch(elsewhere.stderr + elsewhere.stdout, /c/);

      await Deno.writeTextFile(`${root}/bin/other`, "#!/bin/sh\n");
      const removed = await run(Deno.execPath(), ["task", "-q", `--config=${ROOT}deno.json`, "uninstall"], env);
      assertEquals(removed.code, 0, removed.stderr);
      await Deno.stat(gpux).then(() => assert(false, "still installed"), () => {});
      assert((await Deno.stat(`${root}/bin/other`)).isFile, "other files are left alone");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
