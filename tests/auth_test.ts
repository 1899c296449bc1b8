import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { envFrom } from "../src/environment.ts";
import { AuthenticationError, CacheError } from "../src/errors.ts";
import {
  deleteToken,
  redactToken,
  resolveToken,
  saveToken,
  tokenFileCandidates,
  tokenFilePath,
} from "../src/registry/auth.ts";

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "gpux_auth_" });
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

async function writeFile(path: string, text: string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text);
}

Deno.test("auth: resolution order is explicit > HF_TOKEN > HF_TOKEN_PATH > $HF_HOME/token > ~/.cache/huggingface/token", async () => {
  await withHome(async (home) => {
    const vars: Record<string, string> = { HOME: home };
    const env = envFrom(vars);
    assertEquals(await resolveToken({ env }), undefined);

    await writeFile(`${home}/.cache/huggingface/token`, "hf_default_file\n");
    assertEquals(await resolveToken({ env }), {
      token: "hf_default_file",
      source: "default",
      path: `${home}/.cache/huggingface/token`,
    });

    vars.HF_HOME = `${home}/hfhome`;
    assertEquals((await resolveToken({ env }))?.token, "hf_default_file", "a missing $HF_HOME/token falls through");
    await writeFile(`${home}/hfhome/token`, "  hf_from_hf_home  ");
    assertEquals(await resolveToken({ env }), {
      token: "hf_from_hf_home",
      source: "HF_HOME",
      path: `${home}/hfhome/token`,
    });

    vars.HF_TOKEN_PATH = `${home}/custom/tok`;
    assertEquals((await resolveToken({ env }))?.source, "HF_HOME", "a missing HF_TOKEN_PATH file falls through");
    await writeFile(`${home}/custom/tok`, "hf_from_token_path");
    assertEquals((await resolveToken({ env }))?.source, "HF_TOKEN_PATH");
    assertEquals((await resolveToken({ env }))?.token, "hf_from_token_path");

    vars.HF_TOKEN = "hf_from_env";
    assertEquals(await resolveToken({ env }), { token: "hf_from_env", source: "HF_TOKEN" });
    assertEquals(await resolveToken({ env, token: "hf_explicit" }), { token: "hf_explicit", source: "explicit" });

    vars.HF_TOKEN = "  ";
    assertEquals((await resolveToken({ env }))?.source, "HF_TOKEN_PATH", "a blank HF_TOKEN is ignored");
    await Deno.writeTextFile(`${home}/custom/tok`, "\n");
    assertEquals((await resolveToken({ env }))?.source, "HF_HOME", "an empty token file is skipped");
  });
});

Deno.test("auth: a malformed token is an AuthenticationError that does not echo it", async () => {
  const error = await assertRejects(
    () => resolveToken({ env: envFrom({ HF_TOKEN: "hf_abc def_secretpart" }) }),
    AuthenticationError,
  );
  assert(!error.message.includes("secretpart"), error.message);
  assert(error.message.includes("HF_TOKEN"));
  // a control or non-ASCII character cannot go in a header: refused before any request (it was retried as a network error)
  for (const token of ["hf_abc\x1b[2Jdef", "hf_abcdéf", "hf_abc\x00def"]) {
    const e = await assertRejects(() => resolveToken({ token }), AuthenticationError);
    assert(e.message.includes("control or non-ASCII"), e.message);
  }
});

Deno.test("auth: login writes the token file where Python does, mode 0600, atomically; logout removes it", async () => {
  await withHome(async (home) => {
    const env = envFrom({ HOME: home });
    assertEquals(tokenFilePath(env), `${home}/.cache/huggingface/token`);
    const path = await saveToken("hf_saved_token_1\n", { env });
    assertEquals(path, `${home}/.cache/huggingface/token`);
    assertEquals(await Deno.readTextFile(path), "hf_saved_token_1");
    if (Deno.build.os !== "windows") assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    assertEquals((await resolveToken({ env }))?.token, "hf_saved_token_1");

    // overwrite: no temporary files left behind
    await saveToken("hf_saved_token_2", { env });
    assertEquals(await Deno.readTextFile(path), "hf_saved_token_2");
    const left = [];
    for await (const entry of Deno.readDir(`${home}/.cache/huggingface`)) left.push(entry.name);
    assertEquals(left, ["token"]);

    assertEquals(await deleteToken({ env }), path);
    assertEquals(await deleteToken({ env }), undefined, "logging out twice is fine");
    assertEquals(await resolveToken({ env }), undefined);

    const custom = envFrom({ HOME: home, HF_HOME: `${home}/h`, HF_TOKEN_PATH: `${home}/deep/er/tok` });
    assertEquals(await saveToken("hf_x_token", { env: custom }), `${home}/deep/er/tok`);
    assertEquals(tokenFilePath(envFrom({ HOME: home, HF_HOME: `${home}/h` })), `${home}/h/token`);
  });
});

Deno.test("auth: an unwritable token location is a CacheError naming the path, not the token", async () => {
  await withHome(async (home) => {
    await Deno.writeTextFile(`${home}/file`, "x");
    const env = envFrom({ HOME: home, HF_TOKEN_PATH: `${home}/file/token` });
    const error = await assertRejects(() => saveToken("hf_do_not_show_me", { env }), CacheError);
    assert(error.message.includes(`${home}/file/token`), error.message);
    assert(!error.message.includes("do_not_show_me"), error.message);
  });
});

Deno.test("auth: candidate files are listed without duplicates", () => {
  const env = envFrom({ HOME: "/h", HF_TOKEN_PATH: "/h/.cache/huggingface/token" });
  assertEquals(tokenFileCandidates(env), [{ path: "/h/.cache/huggingface/token", source: "HF_TOKEN_PATH" }]);
});

Deno.test("auth: redactToken hides tokens, bearer credentials and given secrets", () => {
  assertEquals(redactToken("GET failed: Bearer hf_AbCdEf0123456789"), "GET failed: Bearer ***");
  assertEquals(redactToken("token hf_alice_secret_token was refused"), "token hf_*** was refused");
  assertEquals(redactToken("api_org_abcdef1234 and api_xyz12345"), "api_org_*** and api_***");
  assertEquals(redactToken("custom secret s3cr3t-value here", "s3cr3t-value"), "custom secret *** here");
  assertEquals(redactToken("nothing to hide in hf_ or half"), "nothing to hide in hf_ or half");
});

Deno.test("auth: redactToken hides Basic credentials, passwords in URLs and random-looking keys, keeps shas and names", () => {
  const basic = btoa("user:password");
  assertEquals(redactToken(`got Authorization: Basic ${basic}`), "got Authorization: Basic ***");
  assertEquals(
    redactToken("GET http://user:password@mirror.local/api failed"),
    "GET http://***@mirror.local/api failed",
  );
  assertEquals(redactToken("ftp://tok3n@host/x"), "ftp://***@host/x");
  assertEquals(redactToken("key sk9Xq2LmZ7vB4nR8tY1wK6pJ3hG5fD0aQeUiOc in file"), "key *** in file");
  // what messages legitimately carry stays readable
  const kept = [
    "revision 0123456789abcdef0123456789abcdef01234567 of sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
    "blob 8d6cb8cbfef8cb1e869b633b38f8cf444c3a42024469c3c2ab950fca1e11f0bf is corrupt",
    "/tmp/hub/models--onnx-community--Qwen3-0.6B-ONNX/snapshots/x/onnx/model_q4f16.onnx",
    "the Basic graph optimisation level",
    "cannot write /data/hf_home/hub/models--a--b: permission denied",
    "HF_HOME=./hf_cache_dir/x",
  ];
  for (const text of kept) assertEquals(redactToken(text), text);
});
