/**
 * Where `gpux serve` listens and which origins it allows are checked at start, under `deno task gpux`'s sandbox:
 * `--cors` with CR/LF or anything but `*` or origins, a `--host` this machine does not have (or that is not an
 * address), and a port already in use all exit 2 with a hint before any model is loaded; a list of origins echoes
 * the request's origin when it is one of them.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { commandSandbox, denoPermissionFlags } from "../src/cli/sandbox.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";
import { running, startServe } from "./support/serve_process.ts";

async function withModel(fn: (model: string, env: Record<string, string>) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gpux-listen-" });
  try {
    await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
    await fn(`${dir}/id.onnx`, { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `gpux serve model …args` (which must fail before it is ready) and returns its exit code and stderr. */
async function refused(model: string, env: Record<string, string>, args: string[]) {
  const r = await runCli(["serve", model, "--provider", "cpu", "--port", "0", ...args], { env });
  return { code: r.code, stderr: r.stderr, stdout: r.stdout };
}

Deno.test("gpux serve --cors: CR/LF, a path, a bare word or * mixed with origins exit 2 with a hint, before loading", async () => {
  await withModel(async (model, env) => {
    for (
      const cors of [
        "http://a.example\r\nX-Injected: 1",
        "http://a.example\n",
        "https://a.example/app",
        "localhost",
        "*, https://a.example",
        "",
        "ftp://a.example",
      ]
    ) {
      const r = await refused(model, env, ["--cors", cors]);
      assertEquals(r.code, 2, `--cors ${JSON.stringify(cors)}: ${r.stderr}`);
      assertMatch(r.stderr, /error: --cors/);
      assertMatch(r.stderr, /hint: give \* or a comma-separated list of origins/);
      assert(!/loading /.test(r.stderr), `checked before the models load: ${r.stderr}`);
      assertEquals(r.stdout, "");
    }
  });
});

Deno.test("gpux serve --cors with several origins: a listed Origin is echoed, another gets none, /health answers 200", async () => {
  await withModel(async (model, env) => {
    const server = running(
      await startServe([
        model,
        "--provider",
        "cpu",
        "--port",
        "0",
        "--cors",
        "https://App.example:443, http://localhost:3000",
      ], {
        env,
      }),
    );
    try {
      const get = async (origin?: string) => {
        const r = await fetch(`${server.url}/health`, { headers: origin ? { origin } : {} });
        await r.body?.cancel();
        return [r.status, r.headers.get("access-control-allow-origin"), r.headers.get("vary")];
      };
      assertEquals(await get("https://app.example"), [200, "https://app.example", "Origin"]);
      assertEquals(await get("http://localhost:3000"), [200, "http://localhost:3000", "Origin"]);
      assertEquals(await get("https://evil.example"), [200, null, "Origin"]);
      const preflight = await fetch(`${server.url}/predict`, {
        method: "OPTIONS",
        headers: { origin: "http://localhost:3000" },
      });
      await preflight.body?.cancel();
      assertEquals([preflight.status, preflight.headers.get("access-control-allow-origin")], [
        204,
        "http://localhost:3000",
      ]);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("gpux serve --host: an address this machine lacks, or no address at all, exits 2 with a hint, not 'a bug in gpux'", async () => {
  await withModel(async (model, env) => {
    // TEST-NET addresses (RFC 5737) and a private one no interface here has: only a bind is tried, nothing is sent
    for (const host of ["192.0.2.1", "10.255.255.1"]) {
      const r = await refused(model, env, ["--host", host]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(
        r.stderr,
        new RegExp(`error: cannot listen on ${host.replaceAll(".", "\\.")}:0: this machine has no such address`),
      );
      assertMatch(r.stderr, /hint: use 127\.0\.0\.1, 0\.0\.0\.0 or an address of this machine/);
      assert(!/bug in gpux/.test(r.stderr) && !/loading /.test(r.stderr), r.stderr);
    }
    for (const host of ["foo bar", "a..b", "http://127.0.0.1"]) {
      const r = await refused(model, env, ["--host", host]);
      assertEquals(r.code, 2, `--host ${JSON.stringify(host)}: ${r.stderr}`);
      assertMatch(r.stderr, /is not an address or host name/);
      assertMatch(r.stderr, /hint: use 127\.0\.0\.1, 0\.0\.0\.0 or an address of this machine/);
    }
  });
});

Deno.test("gpux serve --port: a port already in use exits 2 with a hint before the models load", async () => {
  await withModel(async (model, env) => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = (taken.addr as Deno.NetAddr).port;
      const r = await runCli(["serve", model, "--provider", "cpu", "--port", String(port)], { env });
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, new RegExp(`error: 127\\.0\\.0\\.1:${port} is already in use`));
      assertMatch(r.stderr, /hint: stop what listens there, or pick another --port \(0 picks a free one\)/);
      assert(!/loading /.test(r.stderr), r.stderr);
    } finally {
      taken.close();
    }
  });
});

Deno.test("sandbox: serve's option values (--cors, --api-key, …) are not taken for model paths to grant", () => {
  const env = (name: string) => ({ HOME: "/home/u" } as Record<string, string>)[name];
  const sandbox = commandSandbox(
    ["serve", "m.onnx", "--api-key", "s3cret", "--cors", "*, https://a.example", "--host", "foo bar"],
    { env, cwd: "/work" },
  );
  assert(sandbox.read.includes("/work/m.onnx"), sandbox.read.join(" "));
  assert(!sandbox.read.some((p) => /s3cret|a\.example/.test(p)), sandbox.read.join(" "));
  assert(!sandbox.net.includes("foo bar"), "a malformed --host is not granted (Deno would refuse to start)");
  assert(sandbox.sys.includes("systemMemoryInfo"), "serve reads the machine's memory for --max-memory-mb");
  denoPermissionFlags(sandbox); // no comma-holding path to refuse
});
