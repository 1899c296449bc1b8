/**
 * `deno task compile` where no denort can be had (this network cannot reach dl.deno.land): it stops with one line
 * naming DENORT_BIN, refuses the full deno in its place (that would build Deno's REPL), and builds nothing.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { compiledPermissionFlags, hostTarget, Refusal, TARGETS, verifyBinary } from "../scripts/compile.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function compile(args: string[], env: Record<string, string>) {
  const base = Deno.env.toObject();
  delete base.DENORT_BIN;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", `--config=${ROOT}deno.json`, "compile", ...args],
    clearEnv: true,
    env: { ...base, NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: "deno task compile: without denort one line names DENORT_BIN; the full deno is refused; nothing is built",
  ignore: hostTarget() === undefined,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "gpux-compile-" });
    try {
      const none = await compile(["--out-dir", `${tmp}/dist`], { DENO_DIR: `${tmp}/deno-dir` });
      assertEquals(none.code, 1, none.stderr);
      assertMatch(none.stderr, /^error: deno compile needs denort .* set DENORT_BIN=\/path\/to\/denort\n$/);

      const full = await compile(["--out-dir", `${tmp}/dist`], { DENORT_BIN: Deno.execPath() });
      assertEquals(full.code, 1, full.stderr);
      assertMatch(full.stderr, /^error: DENORT_BIN=.* is the full deno .*not denort.*\n$/);

      const mac = await compile(["--target", "macos-x86_64", "--out-dir", `${tmp}/dist`], {});
      assertEquals(mac.code, 1);
      assertMatch(mac.stderr, /ships no native library for macos-x86_64/);

      const unknown = await compile(["--target", "solaris-sparc"], {});
      assertEquals(unknown.code, 2);
      const built = await Array.fromAsync(Deno.readDir(`${tmp}/dist`)).catch(() => []);
      assertEquals(built, [], "no binary was left behind");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("compiled binaries: only gpux's variables, no subprocesses, never a prompt", () => {
  const flags = compiledPermissionFlags();
  assert(flags.includes("--no-prompt") && flags.includes("--ignore-env"));
  assert(flags.some((f) => f.startsWith("--allow-env=HF_ENDPOINT,")));
  assert(!flags.some((f) => f.startsWith("--allow-run") || f === "--allow-all" || f === "-A"));
});

Deno.test({
  name: "a built binary that answers like Deno's REPL instead of gpux is deleted, with one line saying why",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "gpux-compile-" });
    try {
      const fake = `${tmp}/gpux-linux-x86_64`;
      // what a binary built on the full deno does with --version and no terminal: Deno's banner, then the REPL
      await Deno.writeTextFile(fake, "#!/bin/sh\necho 'Deno 2.9.6'\necho 'exit using ctrl+d, ctrl+c, or close()'\n", {
        mode: 0o755,
      });
      let error: unknown;
      try {
        await verifyBinary(fake, TARGETS[0]);
      } catch (e) {
        error = e;
      }
      assert(error instanceof Refusal, String(error));
      assertMatch(error.message, /does not answer as gpux .*"Deno 2\.9\.6.*deleted it/);
      await Deno.stat(fake).then(() => assert(false, "the binary was left"), () => {});

      const real = `${tmp}/gpux-ok`;
      const { VERSION } = await import("../src/version.ts");
      await Deno.writeTextFile(real, `#!/bin/sh\necho ${VERSION}\n`, { mode: 0o755 });
      await verifyBinary(real, TARGETS[0]);
      assert((await Deno.stat(real)).isFile, "a binary that answers as gpux stays");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
