/**
 * Hostile input against `deno task gpux`, as subprocesses under the task's permission sandbox: every
 * failure is one `error:` line (and a `hint:` line) with its documented exit code, never a stack trace,
 * never a secret, never a raw control character.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { type CliResult, runCli, taskPermissions } from "./support/cli.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";
import { CacheFixture, commitSha } from "./support/hf_cache.ts";
import { startHubServer } from "./support/hub_server.ts";
import { unexpectedErrorReport } from "../src/cli/main.ts";
import { cacheWriteError } from "../src/file_errors.ts";
import { CacheError, InputError } from "../src/errors.ts";

/** `code`, a last `error:` line matching `pattern` (then at most a hint), no trace, no control character. */
function assertCleanError(r: CliResult, code: number, pattern: RegExp, secrets: string[] = []): void {
  const what = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  assertEquals(r.code, code, what);
  assertMatch(r.stderr, pattern, what);
  assertMatch(r.stderr, /(^|\n)error: [^\n]*\n(hint: [^\n]*\n)?$/, `not one error line and a hint: ${what}`);
  assert(!/^\s+at /m.test(r.stderr), `stack trace: ${what}`);
  assert(!r.stderr.includes("unexpected failure"), `unclassified: ${what}`);
  // deno-lint-ignore no-control-regex
  assert(!/[\x00-\x09\x0b-\x1f\x7f]/.test(r.stderr), `raw control character: ${JSON.stringify(r.stderr)}`);
  for (const secret of secrets) {
    assert(!r.stderr.includes(secret) && !r.stdout.includes(secret), `secret ${secret} leaked: ${what}`);
  }
}

/** A temp home with a cache, an HF_HOME and a model; `INIT_CWD` as if the task was started there. */
async function withHome(fn: (dir: string, env: Record<string, string>) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gpux_hardening_" });
  try {
    await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
    await fn(dir, {
      HF_HUB_CACHE: `${dir}/hub`,
      HF_HOME: `${dir}/hf`,
      INIT_CWD: dir,
      HF_TOKEN: "",
      HF_TOKEN_PATH: "",
      HF_ENDPOINT: "http://127.0.0.1:9",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const HF_TOKEN_VALUE = "hf_QwErTyUiOpAsDfGhJkLzXcVbNm0123456789";
/** A key without a known prefix: only its shape gives it away. */
const RANDOM_KEY = "sk9Xq2LmZ7vB4nR8tY1wK6pJ3hG5fD0aQeUiOc";

Deno.test("hardening: a token in a file given as --file or as gpux.yml is never quoted back", async () => {
  await withHome(async (dir, env) => {
    for (const secret of [HF_TOKEN_VALUE, RANDOM_KEY, "shortSecret42"]) {
      await Deno.writeTextFile(`${dir}/secret.txt`, secret);
      const r = await runCli(["run", `${dir}/id.onnx`, "--file", `${dir}/secret.txt`], { env });
      // V8's JSON error quotes the first 10 characters; none of the secret may appear
      assertCleanError(r, 2, /--file .*secret\.txt is not valid JSON/, [secret.slice(0, 6), secret.slice(3, 9)]);

      await Deno.mkdir(`${dir}/m`, { recursive: true });
      await Deno.writeTextFile(`${dir}/m/gpux.yml`, secret);
      const y = await runCli(["run", `${dir}/m`, "--input", "{}"], { env });
      assertCleanError(y, 2, /gpux\.yml:1: expected a mapping \(key: value lines\), got a single value/, [
        secret.slice(0, 6),
        secret.slice(3, 9),
      ]);
    }
  });
});

Deno.test("hardening: credentials in HF_ENDPOINT and echoed Basic/Bearer headers never reach the output", async () => {
  // a mirror (or proxy) that refuses the request and echoes the Authorization header it received
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) =>
    Response.json(
      { error: `bad request, got Authorization: ${req.headers.get("authorization")} and Bearer ${HF_TOKEN_VALUE}` },
      { status: 400 },
    ));
  try {
    await withHome(async (_dir, base) => {
      const env = { ...base, HF_ENDPOINT: `http://user:password@127.0.0.1:${server.addr.port}` };
      const basic = btoa("user:password");
      for (const args of [["info", "acme/tiny"], ["info", "acme/tiny", "--json"], ["search", "bert"]]) {
        const r = await runCli(args, { env });
        assertCleanError(r, 2, /rejected the request/, ["password", basic, basic.slice(0, 12), HF_TOKEN_VALUE]);
        if (args.includes("--json")) assertEquals(JSON.parse(r.stdout).exitCode, 2);
      }
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("hardening: a token typed into a mistyped flag is not echoed by the usage error", async () => {
  await withHome(async (_dir, env) => {
    const r = await runCli(["info", "acme/tiny", `--tokn=${HF_TOKEN_VALUE}`], { env });
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /unknown option/);
    assert(!r.stderr.includes(HF_TOKEN_VALUE.slice(3)), r.stderr);
  });
});

Deno.test("hardening: control characters in a model id or revision are escaped, not sent to the terminal", async () => {
  await withHome(async (_dir, env) => {
    for (
      const args of [
        ["info", "org/na\nme"],
        ["info", "org/na\x1b[31mme"],
        ["pull", "org/name@\x1b]0;pwned\x07"],
        ["run", "org/na\x1b[2Jme"],
        ["rm", "org/na\rme", "--yes"],
      ]
    ) {
      const r = await runCli(args, { env });
      assert(r.code === 2 || r.code === 3, `${JSON.stringify(args)}: ${r.code} ${r.stderr}`);
      assertCleanError(r, r.code, /\\(n|r|x1b|x07)/);
    }
  });
});

Deno.test("hardening: revisions are validated like the Hub does (., .., 5000 characters, .lock, @{) — exit 2", async () => {
  await withHome(async (dir, env) => {
    // a cached model: revision '.' used to read refs/. (a directory)
    const cache = new CacheFixture(`${dir}/hub`, "acme/tiny");
    const sha = commitSha("one");
    await cache.addRevision(sha, { "model.onnx": await Deno.readFile(`${dir}/id.onnx`) });
    await cache.setRef("main", sha);
    const long = "a".repeat(5000);
    for (
      const args of [
        ["run", "acme/tiny@."],
        ["run", "acme/empty@."],
        ["inspect", "acme/tiny@.."],
        ["run", `acme/tiny@${long}`],
        ["info", `acme/tiny@${long}`],
        ["pull", "acme/tiny", "--revision", long],
        ["pull", "acme/tiny@main.lock"],
        ["info", "acme/tiny@a@{1}"],
        ["rm", "acme/tiny@.", "--yes"],
      ]
    ) {
      const r = await runCli(args, { env });
      assertCleanError(r, 2, /invalid revision/);
      assert(r.stderr.length < 600, `the whole argument is echoed: ${r.stderr.length} characters`);
    }
  });
});

Deno.test("hardening: input files that are directories, nested 300,000 deep or bad .npy are exit 2 naming the input", async () => {
  await withHome(async (dir, env) => {
    const deep = `{"x": ${"[".repeat(300_000)}${"]".repeat(300_000)}}`;
    await Deno.writeTextFile(`${dir}/deep.json`, deep);
    await Deno.writeFile(`${dir}/neg.npy`, npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }"));
    await Deno.writeFile(
      `${dir}/descr.npy`,
      npy("{'descr': '<U99999999999', 'fortran_order': False, 'shape': (1, 3), }"),
    );
    await Deno.writeFile(`${dir}/short.npy`, npy("{'descr': '<U8', 'fortran_order': False, 'shape': (1, 3), }"));
    const keys = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 1]));
    await Deno.writeTextFile(`${dir}/keys.json`, JSON.stringify(keys));
    await Deno.writeTextFile(`${dir}/long.json`, JSON.stringify({ x: [["S".repeat(5000), 1, 2]] }));
    await Deno.writeFile(`${dir}/sparse.npy`, new Uint8Array());
    await Deno.truncate(`${dir}/sparse.npy`, 3 * 1024 ** 3); // 3 GiB, sparse: nothing is written
    const model = `${dir}/id.onnx`;
    const cases: [string[], RegExp][] = [
      [["run", model, "--file", `${dir}/keys.json`], /unknown input "k0", .*"k9" and 99990 more; the model's inputs/],
      [["run", model, "--file", `${dir}/long.json`], /element 0 is "S{39}… \(5002 characters\), expected a number/],
      [["run", model, "--file", dir], /--file .*: is a directory, not a file/],
      [["bench", model, "--file", dir], /--file .*: is a directory, not a file/],
      [["run", model, "--file", `${dir}/deep.json`], /input "x": arrays nested more than 64 deep/],
      [["run", model, "--input-npy", `x=${dir}/neg.npy`], /neg\.npy: malformed \.npy header: shape \(-1, 3\)/],
      [["run", model, "--input-npy", `x=${dir}/descr.npy`], /descr\.npy: unsupported dtype/],
      [["run", model, "--input-npy", `x=${dir}/short.npy`], /short\.npy: truncated/],
      [["run", model, "--input-npy", `x=${dir}`], /--input-npy "x" .*: is a directory, not a file/],
      [["run", model, "--file", "/dev/zero"], /--file \/dev\/zero: not a regular file/],
      [["run", model, "--input-npy", `x=${dir}/sparse.npy`], /sparse\.npy: larger than the limit of 256 MiB/],
      [["bench", model, "--shape", "x=100000000x3"], /a synthesised \[100000000, 3\] tensor has 300000000 elements/],
    ];
    for (const [args, pattern] of cases) assertCleanError(await runCli(args, { env }), 2, pattern);
  });
});

Deno.test("hardening: --output and init into a missing folder or with an unknown name — exit 2; outside the sandbox — exit 6", async () => {
  await withHome(async (dir, env) => {
    const outside = await Deno.makeTempDir({ prefix: "gpux_outside_" }); // not in the task's --allow-write
    try {
      const run = ["run", `${dir}/id.onnx`, "--input", '{"x": [[1, 2, 3]]}'];
      const cases: [string[], RegExp][] = [
        [
          [...run, "--output", `${dir}/missing/y.npy`],
          /--output .*missing\/y\.npy: cannot write it: the folder .* does not exist/,
        ],
        [[...run, "--output", "nope=x.npy"], /--output "nope=x\.npy": expected NAME=PATH with NAME one of "y"/],
        [["init", `${dir}/id.onnx`, "--output", `${dir}/missing/gpux.yml`], /the folder .* does not exist/],
        [["init", `${dir}/id.onnx`, "--output", dir], /is a directory/],
      ];
      for (const [args, pattern] of cases) {
        assertCleanError(await runCli(args, { env, cwd: dir }), 2, pattern);
      }
      // each command's sandbox grants its own --output folder; run under the sandbox of the same command line
      // without --output, a write there is refused: one line, exit 6
      const refused: [string[], string[], RegExp][] = [
        [
          [...run, "--output", `${outside}/y.npy`],
          run,
          /--output .*: cannot write it: not permitted by gpux's sandbox/,
        ],
        [
          ["init", `${dir}/id.onnx`, "--output", `${outside}/gpux.yml`],
          ["init", `${dir}/id.onnx`],
          /cannot write it: not permitted/,
        ],
      ];
      for (const [args, granted, pattern] of refused) {
        const permissions = taskPermissions(env, granted, dir);
        assertCleanError(await runCli(args, { env, cwd: dir, permissions }), 6, pattern);
      }
      const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes("="));
      assertEquals(left, [], "no file named after the NAME=PATH spec");
      assertEquals([...Deno.readDirSync(outside)], []);
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  });
});

Deno.test("hardening: every numeric flag of every command is bounded (exit 2 with the allowed range)", async () => {
  await withHome(async (dir, env) => {
    const model = `${dir}/id.onnx`;
    const cases: string[][] = [
      ["run", model, "--intra-op-threads", "100000"],
      ["run", model, "--inter-op-threads", "0"],
      ["bench", model, "--intra-op-threads", "1e3"],
      ["bench", model, "--runs", "10000000"],
      ["bench", model, "--warmup", "-1"],
      ["bench", model, "--batch", "100000000"],
      ["run", model, "--benchmark", "--runs", "0"],
      ["inspect", model, "--device-id", "100000"],
      ["doctor", "--device-id", "abc"],
      ["pull", "acme/tiny", "--concurrency", "65"],
      ["search", "bert", "--limit", "1001"],
      ["search", "bert", "--limit", "0x10"],
    ];
    for (const args of cases) {
      const r = await runCli(args, { env });
      assertCleanError(r, 2, /invalid --[a-z-]+ '.*': use a whole number from \d+ to \d+/);
    }
    // the same parser bounds gpux's own numeric environment variables
    assertCleanError(
      await runCli(["pull", "acme/tiny"], { env: { ...env, GPUX_PULL_CHUNK_BYTES: "1" } }),
      2,
      /invalid GPUX_PULL_CHUNK_BYTES '1': use a whole number from 65536 to \d+/,
    );
    await Deno.mkdir(`${dir}/m`);
    await Deno.copyFile(model, `${dir}/m/model.onnx`);
    await Deno.writeTextFile(
      `${dir}/m/gpux.yml`,
      "name: m\nmodel:\n  source: ./model.onnx\nruntime:\n  intra_op_threads: 100000\n",
    );
    await Deno.writeTextFile(`${dir}/m/gpux.yml`, 'name: m\nmodel:\n  source: "./a\\0b.onnx"\n');
    assertCleanError(
      await runCli(["inspect", `${dir}/m`], { env }),
      2,
      /model\.source: expected a path .*control character/,
    );
    await Deno.writeTextFile(
      `${dir}/m/gpux.yml`,
      "name: m\nmodel:\n  source: ./model.onnx\nruntime:\n  intra_op_threads: 100000\n",
    );
    assertCleanError(
      await runCli(["bench", `${dir}/m`], { env }),
      2,
      /runtime\.intra_op_threads: expected a whole number from 1 to 256/,
    );
  });
});

Deno.test("hardening: control characters from the Hub or from folder names in the cache are escaped on stdout", async () => {
  const hub = await startHubServer();
  try {
    hub.addRepo("acme/evil", { libraryName: "onnx", pipelineTag: "x\x1b[2Jy" }).commit({
      "README.md": "# evil\n\nA model card that clears the screen\x1b[2J\x1b]0;pwned\x07 and rings\x07.\n",
      "onnx/model.onnx": "x",
    });
    await withHome(async (dir, base) => {
      const env = { ...base, HF_ENDPOINT: hub.url };
      // a folder another tool (or an attacker) left in the cache
      await Deno.mkdir(`${dir}/hub/models--acme--ev\x1b[2Jil/snapshots`, { recursive: true });
      for (const args of [["info", "acme/evil"], ["search", "evil"], ["ls"]]) {
        const r = await runCli(args, { env });
        assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
        // deno-lint-ignore no-control-regex
        assert(!/[\x00-\x08\x0b-\x1f\x7f]/.test(r.stdout + r.stderr), `${args.join(" ")}: ${JSON.stringify(r.stdout)}`);
      }
      const info = await runCli(["info", "acme/evil"], { env });
      assertMatch(info.stdout, /clears the screen\\x1b\[2J\\x1b\]0;pwned\\x07 and rings\\x07/);
    });
  } finally {
    await hub.close();
  }
});

Deno.test("hardening: an empty model argument, or a folder far too big to be a model, is exit 2 (no walk of the disk)", async () => {
  await withHome(async (dir, env) => {
    await Deno.mkdir(`${dir}/big/a/b`, { recursive: true });
    for (let i = 0; i <= 10_000; i++) Deno.writeFileSync(`${dir}/big/a/b/f${i}`, new Uint8Array());
    const cases: [string[], RegExp][] = [
      [["inspect", ""], /no model given: the model argument is empty/],
      [["inspect", "/dev/null"], /\/dev\/null is not a regular file or a directory/],
      [["init", " "], /no model given/],
      [["bench", `${dir}/big`], /big holds more than 10000 files: it does not look like a model folder/],
    ];
    for (const [args, pattern] of cases) assertCleanError(await runCli(args, { env }), 2, pattern);
  });
});

Deno.test("hardening: filesystem refusals inside the cache are CacheErrors naming the folder", () => {
  const cache = "/home/u/.cache/huggingface/hub";
  const denied = cacheWriteError(
    new Deno.errors.PermissionDenied(
      `Permission denied (os error 13): open '${cache}/models--a--b/blobs/x.incomplete'`,
    ),
    cache,
  );
  assert(denied instanceof CacheError);
  assertEquals(denied.exitCode, 6);
  assertEquals(denied.message, `cannot write to the cache folder ${cache}/models--a--b/blobs: permission denied`);
  assertMatch(denied.hint!, /read-only or belongs to another user/);
  const readOnly = cacheWriteError(
    new Error(`Read-only file system (os error 30): remove '${cache}/m/refs/main'`),
    cache,
  );
  assertEquals(readOnly?.message, `cannot write to the cache folder ${cache}/m/refs: the file system is read-only`);
  const full = cacheWriteError(new Error(`No space left on device (os error 28): write '${cache}/m/blobs/x'`), cache);
  assertMatch(full!.hint!, /free some space/);
  assertEquals(cacheWriteError(new InputError("bad"), cache), undefined, "typed errors pass through");
  const net = new Deno.errors.NotCapable(
    'Requires net access to "cdn.example:443", run again with the --allow-net flag',
  );
  assertEquals(cacheWriteError(net, cache), undefined, "a refused host is no cache error");
  const write = new Deno.errors.NotCapable(`Requires write access to "${cache}/m/refs/main"`);
  assertEquals(
    cacheWriteError(write, cache)?.message,
    `cannot write to the cache folder ${cache}/m/refs: not permitted by gpux's sandbox`,
  );
  assertEquals(cacheWriteError(new TypeError("x is undefined"), cache), undefined, "bugs stay bugs");
});

Deno.test({
  name: "hardening: a read-only model folder in the cache (a read-only mount) is exit 6 for pull and rm, not a bug",
  // needs root to bind-mount; CI here runs as root
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const hub = await startHubServer();
    try {
      hub.addRepo("acme/tiny", { libraryName: "onnx" }).commit({ "config.json": "{}", "onnx/model.onnx": "x" });
      await withHome(async (dir, base) => {
        const env = { ...base, HF_ENDPOINT: hub.url };
        assertEquals((await runCli(["pull", "acme/tiny", "-q"], { env })).code, 0);
        const folder = `${dir}/hub/models--acme--tiny`;
        const mount = (...args: string[]) => new Deno.Command("mount", { args, stderr: "null" }).outputSync().success;
        if (!mount("--bind", folder, folder)) return; // no mount here: nothing to check
        try {
          assert(mount("-o", "remount,ro,bind", folder), "remount read-only");
          for (const args of [["pull", "acme/tiny", "--force"], ["rm", "acme/tiny", "--yes"]]) {
            // the download path classifies its own write failures; either way: exit 6 naming the folder
            const r = await runCli(args, { env });
            assertCleanError(
              r,
              6,
              /cannot write (to the cache folder )?.*models--acme--tiny\/\w+.*: the file system is read-only/,
            );
            assertMatch(r.stderr, /hint: .*read-only or belongs to another user/);
          }
        } finally {
          new Deno.Command("umount", { args: [folder] }).outputSync();
        }
      });
    } finally {
      await hub.close();
    }
  },
});

Deno.test("hardening: environment variables pointing at odd places: a device as the cache or as the token file", async () => {
  await withHome(async (dir, env) => {
    assertCleanError(
      await runCli(["pull", "acme/tiny"], { env: { ...env, HF_HUB_CACHE: "/dev/null" } }),
      6,
      /the cache directory \/dev\/null is not a directory/,
    );
    // a folder where the token file should be is not "removed" (an empty one was, as if it were the token)
    await Deno.mkdir(`${dir}/tokens/token`, { recursive: true });
    assertCleanError(
      await runCli(["logout"], { env: { ...env, HF_TOKEN_PATH: `${dir}/tokens/token` } }),
      6,
      /tokens\/token is a folder, not a token file: nothing removed/,
    );
    assert(Deno.statSync(`${dir}/tokens/token`).isDirectory);
    // /dev/zero as the token file was read until memory ran out
    assertCleanError(
      await runCli(["whoami"], { env: { ...env, HF_TOKEN_PATH: "/dev/zero" } }),
      4,
      /not logged in/,
    );
  });
});

Deno.test("hardening: a server at HF_ENDPOINT answering JSON of the wrong shape is a network error (exit 5), not a bug", async () => {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/api/models") return Response.json([null, { id: 5 }]);
    if (path === "/api/whoami-v2") return Response.json({ name: null, orgs: "x" });
    return Response.json({ not: "an array" });
  });
  try {
    await withHome(async (_dir, base) => {
      const env = { ...base, HF_ENDPOINT: `http://127.0.0.1:${server.addr.port}` };
      assertCleanError(await runCli(["search", "x"], { env }), 5, /does not look like a Hugging Face Hub API/);
      assertCleanError(
        await runCli(["whoami", "--token", HF_TOKEN_VALUE], { env }),
        5,
        /does not look like a Hugging Face Hub API/,
        [HF_TOKEN_VALUE],
      );
    });
  } finally {
    await server.shutdown();
  }
});

/** `.npy` bytes with this header text (format 1.0) and no data. */
function npy(header: string): Uint8Array {
  const pad = 64 - ((10 + header.length + 1) % 64);
  const text = header + " ".repeat(pad) + "\n";
  const out = new Uint8Array(10 + text.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, text.length, true);
  out.set(new TextEncoder().encode(text), 10);
  return out;
}

Deno.test("hardening: an unexpected error is one line and a hint, its trace only with GPUX_DEBUG, never in --json", () => {
  const error = new TypeError("x is undefined\n    at somewhere (file.ts:1:1)");
  const plain = unexpectedErrorReport(error, false);
  assertEquals(plain.message, "unexpected failure: TypeError: x is undefined");
  assertMatch(plain.hint, /GPUX_DEBUG=1/);
  assertEquals(plain.trace, undefined);
  assertEquals(plain.json, {
    error: "UnexpectedError",
    code: "unexpected",
    message: "TypeError: x is undefined",
    exitCode: 1,
  });
  assert(!JSON.stringify(plain).includes(" at "));
  assertMatch(unexpectedErrorReport(error, true).trace!, /at /);
});

Deno.test("hardening: a usage error with --json still prints one JSON document", async () => {
  await withHome(async (_dir, env) => {
    const r = await runCli(["pull", "acme/tiny", "--no-such-flag", "--json"], { env });
    assertEquals(r.code, 2);
    assertEquals(JSON.parse(r.stdout).code, "usage");
  });
});
