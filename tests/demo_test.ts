/**
 * `deno task demo`, the README's first command, run as a user runs it: every step succeeds offline against the
 * local hub, in order, and nothing is left behind.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { npmModel } from "./support/npm_models.ts";
import { detectGpu } from "../src/runtime/gpu_presence.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const model = await npmModel("sileroVadV5");

Deno.test({
  name: "deno task demo: search, info, pull, ls, inspect, run, bench (and serve) succeed offline, then it cleans up",
  ignore: "skip" in model,
  fn: async () => {
    const env = Deno.env.toObject();
    delete env.INIT_CWD;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", `--config=${ROOT}deno.json`, "demo"],
      cwd: ROOT,
      clearEnv: true,
      // the user's Hub settings must not matter: the demo sets its own
      env: { ...env, NO_COLOR: "1", HF_ENDPOINT: "http://127.0.0.1:9", HF_TOKEN: "hf_not_used_by_the_demo" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, `${stdout}\n${stderr}`);
    const steps = [...stdout.matchAll(/^\$ gpux (\w+)/gm)].map((m) => m[1]);
    const { COMMANDS } = await import("../src/cli/commands.ts");
    const serve = COMMANDS.some((c) => c.name === "serve") ? ["serve"] : [];
    assertEquals(steps, ["search", "info", "pull", "ls", "inspect", "run", "bench", ...serve]);
    if (serve.length) assert(/provider \w+; outputs:\n {2}"output" float32\[1, 1\]/.test(stdout), stdout);
    assert(stdout.includes("onnx-community/silero-vad"), stdout);
    assert(/"output" float32\[1, 1\]/.test(stdout), "run printed the model's output");
    assert(/throughput/.test(stdout), "bench printed its figures");
    if (!detectGpu().present) {
      // without a GPU, cpu is the only choice, not a fallback: no command (serve included) warns about it
      assert(!/unavailable \(/.test(stdout + stderr), `a fallback warning without a GPU:\n${stdout}\n${stderr}`);
    }
    const home = /HF_HOME=(\S+)/.exec(stdout)?.[1];
    assert(home, "the demo names its temporary HF_HOME");
    await Deno.stat(home).then(() => assert(false, `${home} was left behind`), () => {});
  },
});
