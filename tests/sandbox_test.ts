/**
 * The permission sandbox: the flags each command line gets (src/cli/sandbox.ts), and the real `deno task gpux`
 * (the launcher) started from folders whose names would break or widen a word-split command line.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";
import {
  ALL_LIBRARIES,
  commandSandbox,
  denoPermissionFlags,
  ENV_VARS,
  type Sandbox,
  SandboxError,
} from "../src/cli/sandbox.ts";
import { envFrom } from "../src/environment.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const HOME = "/home/me";
const env = envFrom({ HOME, HF_HOME: `${HOME}/hf` });

function sandbox(args: string[], cwd = `${HOME}/work`): Sandbox {
  return commandSandbox(args, { env, cwd, onnxruntimeDirs: ["/ort/bin"] });
}

Deno.test("sandbox: each command gets only what it needs", () => {
  const version = sandbox(["--version"]);
  assertEquals([version.read, version.write, version.net, version.ffi], [[], [], [], []]);
  assertEquals(sandbox(["pull", "--help"]).write, []);

  const pull = sandbox(["pull", "acme/tiny", "--cache-dir", "/data/hf"]);
  assertEquals(pull.write, ["/data/hf"]);
  assert(pull.net.includes("huggingface.co") && pull.net.includes("*.hf.co") && pull.net.includes("127.0.0.1"));
  assertEquals(pull.ffi, [ALL_LIBRARIES], "pull opens libc (by bare name) for the snapshot's symlinks");
  assertEquals(sandbox(["pull", "acme/tiny"]).write, [`${HOME}/hf/hub`]);
  assertEquals(sandbox(["pull", "acme/tiny", "--local-dir", "models/tiny"]).write, [
    `${HOME}/hf/hub`,
    `${HOME}/work/models/tiny`,
  ]);
  assertEquals(sandbox(["ls"]).ffi, [], "ls loads no native library");

  const search = sandbox(["search", "bert"]);
  assertEquals(search.write, [], "search writes nothing");
  assert(search.net.length > 0);
  const ls = sandbox(["ls"]);
  assertEquals([ls.write, ls.net, ls.ffi], [[], [], []], "ls only reads the cache");
  assertEquals(ls.read, [`${HOME}/hf/hub`]);

  assertEquals(sandbox(["login"]).write, [`${HOME}/hf`]);
  assertEquals(
    commandSandbox(["logout"], { env: envFrom({ HOME, HF_TOKEN_PATH: "/secrets/hf/token" }), cwd: "/" }).write,
    [
      "/secrets/hf",
    ],
  );
  assertEquals(sandbox(["whoami"]).write, [], "only login and logout write the token folder");

  const run = sandbox(["run", "model.onnx", "-i", "{}", "--output", "out/result.json"]);
  assertEquals(run.write, [`${HOME}/work/out`], "run writes only --output's folder");
  assert(run.read.includes(`${HOME}/work/model.onnx`) && run.read.includes(`${HOME}/work`));
  assertEquals(run.net, [], "no network without --pull");
  assertEquals(run.ffi, [ALL_LIBRARIES], "onnxruntime commands may load native libraries (GPU probes by name)");
  assert(
    denoPermissionFlags(run).includes("--allow-ffi") &&
      denoPermissionFlags(sandbox(["ls"])).every((f) => !f.includes("ffi")),
  );
  assert(sandbox(["run", "acme/tiny", "--pull"]).write.includes(`${HOME}/hf/hub`), "--pull writes the cache");
  assertEquals(sandbox(["run", "m.onnx", "--output", "logits=/tmp/x/l.npy"]).write, [
    `${HOME}/work/logits=/tmp/x`,
    "/tmp/x",
  ]);

  assertEquals(sandbox(["init", "/models/net.onnx"]).write, ["/models", `${HOME}/work`]);
  const raw = sandbox(["run", "acme/clip", "--text", "a photo of a cat", "--image", "/pics/cat.jpg"]);
  assert(raw.read.includes("/pics/cat.jpg") && !raw.read.includes(`${HOME}/work/a photo of a cat`), raw.read.join());
  assertEquals(sandbox(["cache", "prune", "--cache-dir=/c"]).write, ["/c"]);
  assertEquals(sandbox(["cache", "verify"]).write, []);
  for (const s of [pull, search, ls, run]) assertEquals(s.env, [...ENV_VARS]);
});

Deno.test("sandbox: a command the table does not know (added on another branch) gets the common ground", () => {
  const serve = sandbox(["serve", "acme/tiny", "--port", "8080"]);
  assert(serve.write.includes(`${HOME}/hf/hub`) && serve.write.includes(`${HOME}/.gpux`));
  assert(serve.net.includes("127.0.0.1") && serve.ffi.includes(ALL_LIBRARIES));
  assert(!serve.net.includes("0.0.0.0"), "loopback only unless --host says otherwise");
  assert(sandbox(["serve", "acme/tiny", "--host", "0.0.0.0"]).net.includes("0.0.0.0"));
  assert(sandbox(["serve", "acme/tiny", "--host=::"]).net.includes("[::]"));
  const install = commandSandbox(["runtime", "install", "cuda", "--from", "npm"], {
    env: envFrom({ HOME, GPUX_NUGET_URL: "https://nuget.example/v3/index.json" }),
    cwd: "/",
    onnxruntimeDirs: ["/ort/bin"],
  });
  assertEquals(install.write, [`${HOME}/.gpux`]);
  assert(install.net.includes("registry.npmjs.org") && install.net.includes("nuget.example"));
  assertEquals(sandbox(["runtime", "ls"]).write, []);
});

Deno.test("sandbox: paths travel as single arguments; a comma cannot be expressed and is refused", () => {
  const flags = denoPermissionFlags(sandbox(["run", "m.onnx", "--output", "a b/x --allow-all/out.json"]));
  assert(flags.includes(`--allow-write=${HOME}/work/a b/x --allow-all`), flags.join("\n"));
  assert(!flags.includes("--allow-all"));
  const relative = sandbox(["run", "m.onnx", "--output", "../../../etc/out.json"], "/a/b/c");
  assertEquals(relative.write, ["/etc"], "`..` is resolved, not passed through");
  let error: unknown;
  try {
    denoPermissionFlags(
      commandSandbox(["pull", "x/y"], { env: envFrom({ HOME, HF_HUB_CACHE: "/data/a,/etc" }), cwd: "/" }),
    );
  } catch (e) {
    error = e;
  }
  assert(error instanceof Error && /contains a comma/.test(error.message), String(error));
  assert(error instanceof SandboxError && error.exitCode === 6);
  let noHome: unknown;
  try {
    commandSandbox(["ls"], { env: envFrom({}), cwd: "/" });
  } catch (e) {
    noHome = e;
  }
  assert(noHome instanceof SandboxError && /set HOME/.test(`${noHome.message} ${noHome.hint}`), String(noHome));
});

function withoutInitCwd(): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.INIT_CWD;
  return env;
}

/** Runs the real `deno task gpux …` from `cwd`, as a user does. */
async function task(args: string[], cwd: string, extraEnv: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", `--config=${ROOT}deno.json`, "gpux", ...args],
    cwd,
    // deno task keeps an INIT_CWD it inherits (from npx or an outer task): start clean, as a user's shell does
    clearEnv: true,
    env: { ...withoutInitCwd(), NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...extraEnv },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

Deno.test("deno task gpux: folders named with a space, a comma or a flag neither break nor widen the sandbox", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-sandbox-" });
  try {
    const env = { HOME: dir, HF_HOME: `${dir}/hf`, HF_HUB_CACHE: `${dir}/hub` };
    for (const name of ["with space", "q,..", "x --unsafely-ignore-certificate-errors"]) {
      const folder = `${dir}/${name}`;
      await Deno.mkdir(folder);
      await writeModel(`${folder}/m.onnx`, identityModel("float32", ["batch", 2]));
      // relative paths start in the folder the task was started from, whatever its name
      const ran = await task(["run", "m.onnx", "-i", '{"x": [[1, 2]]}', "-o", "out.json", "-p", "cpu"], folder, env);
      if (name.includes(",")) {
        // a folder with a comma cannot be granted exactly: refused, nothing written anywhere
        assertEquals(ran.code, 6, ran.stderr);
        assertMatch(
          ran.stderr,
          /^error: cannot grant (read|write) access to .*q,\.\..*: it contains a comma\nhint: .*\n$/,
        );
        await Deno.stat(`${dir}/out.json`).then(() => assert(false, "the parent was written"), () => {});
        continue;
      }
      assertEquals(ran.code, 0, ran.stderr);
      assertEquals(ran.stderr.includes("DANGER"), false, "no Deno flag was injected: " + ran.stderr);
      assert((await Deno.stat(`${folder}/out.json`)).isFile);
    }
    // an HF_HUB_CACHE with a comma is refused in one line, before anything runs
    const comma = await task(["ls"], dir, { ...env, HF_HUB_CACHE: `${dir}/a,${dir}` });
    assertEquals(comma.code, 6, comma.stderr);
    assertMatch(
      comma.stderr,
      /^error: cannot grant read access to ".*a,.*": it contains a comma\nhint: .*HF_HUB_CACHE.*\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gpux under its exact sandbox: init writes beside the model, and a write outside is one line, exit 6", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-sandbox-" });
  try {
    const env = { HOME: dir, HF_HOME: `${dir}/hf`, HF_HUB_CACHE: `${dir}/hub` };
    await Deno.mkdir(`${dir}/models`);
    await Deno.mkdir(`${dir}/other`);
    await writeModel(`${dir}/models/m.onnx`, identityModel("float32", ["batch", 2]));
    const init = await runCli(["init", `${dir}/models/m.onnx`, "--quiet"], { env });
    assertEquals(init.code, 0, init.stderr);
    assert((await Deno.stat(`${dir}/models/gpux.yml`)).isFile);

    // `run` started under the sandbox of a command line without --output cannot write one
    const permissions = (await import("./support/cli.ts")).taskPermissions(env, ["run", `${dir}/models/m.onnx`]);
    const refused = await runCli(
      ["run", `${dir}/models/m.onnx`, "-i", '{"x": [[1, 2]]}', "-o", `${dir}/other/out.json`, "-p", "cpu"],
      { env, permissions },
    );
    assertEquals(refused.code, 6, refused.stderr);
    assertMatch(
      refused.stderr,
      /^error: [^\n]*(the sandbox refused write access|not permitted by gpux's sandbox)[^\n]*\nhint: .*\n$/,
    );
    assertStringIncludes(refused.stderr, "other/out.json");
    await Deno.stat(`${dir}/other/out.json`).then(() => assert(false, "written"), () => {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the launcher passes SIGTERM on to the command it started and exits as it did",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const { startHubServer } = await import("./support/hub_server.ts");
    const hub = await startHubServer();
    const dir = await Deno.makeTempDir({ prefix: "gpux-sandbox-" });
    try {
      hub.addRepo("acme/slow").commit({ "weights.onnx": { size: 8_000_000, seed: 3 } });
      hub.setShaping({ bytesPerSecond: 500_000 });
      const launcher = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--allow-env",
          "--allow-read",
          "--allow-run",
          `${ROOT}src/cli/launch.ts`,
          "pull",
          "acme/slow",
        ],
        cwd: dir,
        clearEnv: true,
        env: { ...withoutInitCwd(), HOME: dir, HF_HOME: `${dir}/hf`, HF_ENDPOINT: hub.url, NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const blobs = `${dir}/hf/hub/models--acme--slow/blobs`;
      const started = Date.now();
      while (!(await Array.fromAsync(Deno.readDir(blobs)).catch(() => [])).length) {
        if (Date.now() - started > 60_000) throw new Error("the pull never started");
        await new Promise((r) => setTimeout(r, 50));
      }
      launcher.kill("SIGTERM");
      const status = await launcher.status;
      assertEquals(status.signal, null, "the launcher was not killed: it waited for its child");
      // 143 (128 + SIGTERM) when the command dies of it, 130 when it handles SIGTERM as an interruption
      assert([130, 143].includes(status.code), `the launcher reported the child's end: ${status.code}`);
      await launcher.stderr.cancel();
    } finally {
      await hub.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("docs/install.md: the deno install line from JSR names exactly the variables gpux reads", async () => {
  const readme = await Deno.readTextFile(`${ROOT}docs/install.md`);
  const listed = /deno install -g -n gpux[^`]*?--allow-env=([A-Z_,]+)/.exec(readme)?.[1];
  assertEquals(listed?.split(","), [...ENV_VARS]);
});

Deno.test("sandbox: gpux's own source folder is readable (Workers load their module by path); legacy callers keep the old flags", async () => {
  const withSource = commandSandbox(["serve", "m.onnx"], { env, cwd: HOME, sourceDirs: ["/opt/gpux/src"] });
  assert(withSource.read.includes("/opt/gpux/src"));
  const { taskPermissions } = await import("./support/cli.ts");
  const legacy = taskPermissions({ HF_HOME: "/h", INIT_CWD: "/started/here" });
  assert(legacy.includes("--allow-read") && legacy.includes("--allow-write=/started/here"), legacy.join(" "));
  assert(legacy.includes("--allow-write=/h") && legacy.includes("--allow-write=/h/hub"), "token folder and cache");
});
