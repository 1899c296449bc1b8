import { assert, assertEquals, assertMatch, assertThrows } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { AuthenticationError, exitCodeOf, GatedModelError, InputError, RateLimitError } from "../src/errors.ts";
import { isCommitSha, parseModelId } from "../src/vocabulary/model_id.ts";
import { envFrom, envTimeoutMs, hubCacheDir, hubEndpoint, isOfflineEnv } from "../src/environment.ts";
import { RepoCachePaths, repoFolderName } from "../src/vocabulary/cache_layout.ts";

Deno.test("model ids: org/name, name, @revision", () => {
  assertEquals(parseModelId("org/name"), { id: "org/name" });
  assertEquals(parseModelId("gpt2"), { id: "gpt2" });
  assertEquals(parseModelId("org/na_me.v2@refs/pr/3"), { id: "org/na_me.v2", revision: "refs/pr/3" });
  assertEquals(parseModelId(" org/name@v1.0 "), { id: "org/name", revision: "v1.0" });
  assert(isCommitSha("0123456789abcdef0123456789abcdef01234567"));
  assert(!isCommitSha("main"));
});

Deno.test("model ids: invalid ones are InputErrors naming the problem", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["a/b/c", /more than one '\/'/],
    ["org/", /empty/],
    ["org/na--me", /'--'/],
    ["org/na..me", /'--' or '\.\.'/],
    ["org/name-", /ends with/],
    ["org/na me", /may only contain/],
    ["org/" + "x".repeat(97), /longer than 96/],
    ["org/name@", /invalid revision/],
    ["org/name@a..b", /invalid revision/],
  ];
  for (const [input, pattern] of cases) {
    const error = assertThrows(() => parseModelId(input), InputError);
    assertMatch(error.message, pattern, `for ${JSON.stringify(input)}`);
    assertEquals(error.exitCode, 2);
  }
});

Deno.test("errors carry stable codes and the documented exit codes", () => {
  assertEquals(new GatedModelError("x").exitCode, 4);
  assertEquals(new GatedModelError("x").code, "gated_model");
  assert(new GatedModelError("x") instanceof AuthenticationError);
  assertEquals(new RateLimitError("x", { retryAfter: 3 }).retryAfter, 3);
  assertEquals(new RateLimitError("x").exitCode, 5);
  assertEquals(exitCodeOf(new Error("boom")), 1);
  assertEquals(new InputError("bad", { hint: "do this" }).toJSON(), {
    error: "InputError",
    code: "invalid_input",
    message: "bad",
    hint: "do this",
    exitCode: 2,
  });
});

Deno.test("environment: HF variables in Python's order", () => {
  assertEquals(hubEndpoint(envFrom({})), "https://huggingface.co");
  assertEquals(hubEndpoint(envFrom({ HF_ENDPOINT: "http://127.0.0.1:9/" })), "http://127.0.0.1:9");
  assertEquals(hubCacheDir(envFrom({ HOME: "/h" })), "/h/.cache/huggingface/hub");
  assertEquals(hubCacheDir(envFrom({ HOME: "/h", HF_HOME: "/hf" })), "/hf/hub");
  assertEquals(hubCacheDir(envFrom({ HOME: "/h", HF_HOME: "/hf", HF_HUB_CACHE: "/c" })), "/c");
  assertEquals(hubCacheDir(envFrom({ HF_HUB_CACHE: "/c" }), "/explicit"), "/explicit");
  assertEquals(hubCacheDir(envFrom({ HOME: "/h", HF_HUB_CACHE: "" })), "/h/.cache/huggingface/hub", "empty = unset");
  assert(isOfflineEnv(envFrom({ HF_HUB_OFFLINE: "1" })));
  assert(!isOfflineEnv(envFrom({ HF_HUB_OFFLINE: "0" })));
});

Deno.test("cache layout: folder names and symlink targets as Python writes them", () => {
  assertEquals(repoFolderName("org/name"), "models--org--name");
  assertEquals(repoFolderName("gpt2"), "models--gpt2");
  const paths = new RepoCachePaths("/c/", "org/name");
  assertEquals(paths.snapshot("abc", "onnx/model.onnx"), "/c/models--org--name/snapshots/abc/onnx/model.onnx");
  assertEquals(paths.blobLinkTarget("config.json", "e1"), "../../blobs/e1");
  assertEquals(paths.blobLinkTarget("onnx/model.onnx", "e2"), "../../../blobs/e2");
  assertEquals(paths.ref("refs/pr/1"), "/c/models--org--name/refs/refs/pr/1");
});

Deno.test("cli: --help and --version exit 0, unknown options exit 2", async () => {
  const help = await runCli(["--help"]);
  assertEquals(help.code, 0);
  assertMatch(help.stdout, /Usage: gpux/);
  const version = await runCli(["--version"]);
  assertEquals(version.code, 0);
  assertMatch(version.stdout, /^\d+\.\d+\.\d+/);
  const bad = await runCli(["--bogus"]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /unknown option '--bogus'/);
});

Deno.test("cli: every command that takes --quiet also takes -q", async () => {
  const help = await runCli(["--help"]);
  const commands = [...help.stdout.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]).filter((c) => c !== "help");
  assert(commands.length >= 10, help.stdout);
  for (const command of commands) {
    const usage = (await runCli([command, "--help"])).stdout;
    if (usage.includes("--quiet")) assertMatch(usage, /-q, --quiet/, `gpux ${command} --help`);
  }
});

Deno.test("model ids: revisions follow git's ref rules and are at most 255 bytes", () => {
  for (const ok of ["main", "v1.0", "refs/pr/3", "feature/x-y_z", "0123456789abcdef0123456789abcdef01234567"]) {
    assertEquals(parseModelId(`org/name@${ok}`).revision, ok);
  }
  const bad: [string, RegExp][] = [
    [".", /starts with '\.'/],
    ["..", /'\.\.'/],
    ["a/./b", /starts with '\.'/],
    ["main.lock", /\.lock/],
    ["a@{1}", /@\{/],
    ["@", /'@'/],
    ["v1.", /ends with '\.'/],
    ["a\nb", /control character/],
    ["a\x1bb", /control character/],
    ["x".repeat(256), /longer than 255 bytes/],
    ["é".repeat(128), /longer than 255 bytes/],
  ];
  for (const [revision, pattern] of bad) {
    const error = assertThrows(() => parseModelId(`org/name@${revision}`), InputError);
    assertMatch(error.message, pattern, `for ${JSON.stringify(revision)}`);
    assert(error.message.length < 200, "a long revision is not echoed whole");
  }
});

Deno.test("environment: odd timeout values are ignored or capped, never a timer that fires at once", () => {
  const ms = (value: string) => envTimeoutMs(envFrom({ T: value }), "T");
  assertEquals([ms("-1"), ms("abc"), ms("0"), ms(""), ms("NaN"), ms("Infinity")], Array(6).fill(undefined));
  assertEquals(ms("2.5"), 2500);
  assertEquals(ms("0.0001"), 1);
  assertEquals(ms("1e300"), 2 ** 31 - 1); // longer timers overflow and fire immediately
  assertEquals(ms("99999999"), 2 ** 31 - 1);
});
