/**
 * `gpux run MODEL --prompt` the way a user runs it: `deno task gpux` as a subprocess under its sandbox, on the
 * generation fixtures (a local folder, and a Hub repository pulled from the local hub), compared with the goldens.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { cliCommand, runCli } from "./support/cli.ts";
import { withCliHub } from "./support/cli_hub.ts";
import { generationFixtures } from "./support/generation_fixtures.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";

interface Golden {
  id: string;
  eos_token_id: number[];
  prompt: string | null;
  messages: { role: string; content: string }[] | null;
  new_ids: number[];
  prompt_ids: number[];
  text: string;
  max_new_tokens: number;
  stop: string[] | null;
  finish_reason: string;
}

async function golden(root: string, name: string, id: string): Promise<Golden> {
  const cases = JSON.parse(await Deno.readTextFile(`${root}/${name}/goldens.json`)).cases as Golden[];
  return cases.find((c) => c.id === id)!;
}

Deno.test("gpux run --prompt on a model without a chat template: streams the text of PyTorch's greedy ids; stats on stderr", async () => {
  const root = await generationFixtures();
  const g = await golden(root, "gpt2", "plain_long");
  const { code, stdout, stderr } = await runCli([
    "run",
    `${root}/gpt2`,
    "--prompt",
    g.prompt!,
    "--max-new-tokens",
    String(g.max_new_tokens),
  ]);
  assertEquals(code, 0, stderr);
  assertEquals(stdout, `${g.text}\n`);
  assertMatch(
    stderr,
    new RegExp(`${g.prompt_ids.length} prompt tokens · ${g.new_ids.length} new · first token \\d+ ms`),
  );
  assertMatch(stderr, /prompt [\d.]+ tok\/s · generation [\d.]+ tok\/s · length · cpu/);
  assertStringIncludes(stderr, "fp32");
});

Deno.test("gpux run --prompt --json: one document with the ids, finish reason, counts and timings", async () => {
  const root = await generationFixtures();
  const g = await golden(root, "qwen3", "chat");
  const [system, user] = g.messages!;
  const { code, stdout, stderr } = await runCli([
    "run",
    `${root}/qwen3`,
    "--prompt",
    user.content,
    "--system",
    system.content,
    "--max-new-tokens",
    String(g.max_new_tokens),
    "--json",
  ]);
  assertEquals(code, 0, stderr);
  const doc = JSON.parse(stdout);
  assertEquals(doc.task, "text-generation");
  assertEquals(doc.variant, "fp32");
  assertEquals(doc.promptIds, g.prompt_ids);
  assertEquals(doc.generatedIds, g.new_ids);
  assertEquals(doc.text, g.text);
  assertEquals(doc.finishReason, g.finish_reason);
  assertEquals(doc.usage.promptTokens, g.prompt_ids.length);
  assertEquals(doc.usage.generatedTokens, g.new_ids.length);
  assert(doc.timings.timeToFirstTokenMs > 0 && doc.timings.loadMs > 0);
});

Deno.test("gpux run --prompt - reads stdin; --stop is never printed; --variant picks the int8 file", async () => {
  const root = await generationFixtures();
  const g = await golden(root, "llama", "stop_string");
  const stopped = await runCli(
    ["run", `${root}/llama`, "--prompt", "-", "--raw-prompt", "--max-new-tokens", "40", "--stop", g.stop![0]],
    { stdin: `${g.prompt}\n` },
  );
  assertEquals(stopped.code, 0, stopped.stderr);
  assertEquals(stopped.stdout, `${g.text}\n`);
  assert(!stopped.stdout.includes(g.stop![0]));
  assertStringIncludes(stopped.stderr, "· stop ·");
  const q = await golden(root, "llama", "quantized_plain");
  const quantized = await runCli([
    "run",
    `${root}/llama`,
    "--variant",
    "quantized",
    "--raw-prompt",
    "--prompt",
    q.prompt!,
    "--max-new-tokens",
    String(q.max_new_tokens),
    "--json",
  ]);
  assertEquals(quantized.code, 0, quantized.stderr);
  assertEquals(JSON.parse(quantized.stdout).generatedIds, q.new_ids);
});

Deno.test("gpux run --prompt: seeded sampling repeats; a prompt over the context is exit 2 naming both numbers", async () => {
  const root = await generationFixtures();
  const args = ["run", `${root}/qwen3`, "--prompt", "Hi", "--temperature", "1.2", "--seed", "11", "--json"];
  const a = await runCli([...args, "--max-new-tokens", "10"]);
  const b = await runCli([...args, "--max-new-tokens", "10"]);
  assertEquals(a.code, 0, a.stderr);
  assertEquals(JSON.parse(a.stdout).generatedIds, JSON.parse(b.stdout).generatedIds);
  const long = "word ".repeat(100);
  const tooLong = await runCli(["run", `${root}/gpt2`, "--prompt", long, "--max-new-tokens", "60"]);
  assertEquals(tooLong.code, 2, tooLong.stderr);
  assertMatch(
    tooLong.stderr,
    /error: the prompt has \d+ tokens and 60 new tokens were asked for: \d+ is more than the model's context of 128 tokens/,
  );
  assertStringIncludes(tooLong.stderr, "--truncate left");
  const cut = await runCli([
    "run",
    `${root}/gpt2`,
    "--prompt",
    long,
    "--max-new-tokens",
    "60",
    "--truncate",
    "left",
    "--json",
  ]);
  assertEquals(cut.code, 0, cut.stderr);
  assertEquals(JSON.parse(cut.stdout).promptIds.length, 68);
  const flagOnly = await runCli(["run", `${root}/gpt2`, "--temperature", "0.5"]);
  assertEquals(flagOnly.code, 2);
  assertStringIncludes(flagOnly.stderr, "--temperature goes with --prompt");
  const noTemplate = await runCli(["run", `${root}/gpt2`, "--prompt", "Hi", "--system", "Be brief"]);
  assertEquals(noTemplate.code, 2);
  assertStringIncludes(noTemplate.stderr, "--system needs a chat template");
});

Deno.test("gpux run --prompt --pull on a Hub id from the local hub: the chat template's greedy ids", async () => {
  const root = await generationFixtures();
  const g = await golden(root, "llama", "chat");
  await withCliHub("gpux-cli-generate-", async (f) => {
    const files: Record<string, Uint8Array> = {};
    for (const path of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) {
      files[path] = await Deno.readFile(`${root}/llama/${path}`);
    }
    files["onnx/model.onnx"] = await Deno.readFile(`${root}/llama/onnx/model.onnx`);
    files["onnx/model_quantized.onnx"] = await Deno.readFile(`${root}/llama/onnx/model_quantized.onnx`);
    files["README.md"] = new TextEncoder().encode("---\npipeline_tag: text-generation\n---\n# tiny\n");
    f.hub.addRepo("acme/tiny-llama").commit(files);
    const { code, stdout, stderr } = await runCli([
      "run",
      "acme/tiny-llama",
      "--pull",
      "--system",
      g.messages![0].content,
      "--prompt",
      g.messages![1].content,
      "--max-new-tokens",
      String(g.max_new_tokens),
      "--json",
    ], { env: f.env });
    assertEquals(code, 0, stderr);
    const doc = JSON.parse(stdout);
    assertEquals(doc.promptIds, g.prompt_ids);
    assertEquals(doc.generatedIds, g.new_ids);
    assert(doc.model.path.endsWith("/onnx/model.onnx"), doc.model.path); // pull fetched the default (fp32) variant
  });
});

Deno.test("gpux run --prompt on a graph that is not a decoder: exit 2 naming what is missing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-not-decoder-" });
  try {
    await writeModel(`${dir}/model.onnx`, identityModel("float32"));
    const { code, stderr } = await runCli(["run", `${dir}/model.onnx`, "--prompt", "Hi"]);
    assertEquals(code, 2, stderr);
    assertMatch(
      stderr,
      /error: this ONNX graph is not a decoder gpux can generate with: missing input input_ids, output logits/,
    );
    assertStringIncludes(stderr, "hint:");
    assert(!stderr.includes("    at "), "no stack trace");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gpux chat with stdin not a terminal: one message per line, commands, the cache reused across turns", async () => {
  const root = await generationFixtures();
  const input = "Hello there\nAnd then?\n/clear\nHello there\n/set max_new_tokens 3\nOnce more\n/bye\nnever read\n";
  const { code, stdout, stderr } = await runCli(
    ["chat", `${root}/llama`, "--max-new-tokens", "5", "--system", "You are terse."],
    { stdin: input },
  );
  assertEquals(code, 0, stderr);
  assertStringIncludes(stdout, "Cleared session context.");
  assertStringIncludes(stdout, "Set parameter 'max_new_tokens' to '3'");
  const stats = stderr.split("\n").filter((l) => / new · /.test(l));
  assertEquals(stats.length, 4, stderr);
  assertMatch(stats[0], /^\d+ prompt tokens · 5 new · /);
  assertMatch(stats[1], /^\d+ prompt tokens \(\d+ cached\) · 5 new · /);
  assertMatch(stats[2], /^\d+ prompt tokens · 5 new · /, "after /clear nothing is cached");
  assertMatch(stats[3], /^\d+ prompt tokens \(\d+ cached\) · 3 new · /);
  // the same first message after /clear gives the same greedy answer
  const blocks = stdout.split("Cleared session context.\n");
  assertEquals(blocks.length, 2);
  const firstAnswer = blocks[0].split("\n\n")[0];
  assert(firstAnswer.length > 0 && blocks[1].startsWith(firstAnswer), JSON.stringify(stdout));
});

Deno.test("gpux inspect says when a model generates: cache layout, context, chat template, EOS ids, variants", async () => {
  const root = await generationFixtures();
  const gpt2 = await runCli(["inspect", `${root}/gpt2`, "--variant", "fp32", "--json"]);
  assertEquals(gpt2.code, 0, gpt2.stderr);
  assertEquals(JSON.parse(gpt2.stdout).generation, {
    layers: 2,
    kvHeads: 4,
    headDim: 16,
    cacheDtype: "float32",
    contextLength: 128,
    eosTokenIds: [(await golden(root, "gpt2", "plain")).eos_token_id[0]],
    chatTemplate: null,
    variants: ["fp32", "fp16", "quantized", "q4"],
    merged: false,
  });
  const genai = await runCli(["inspect", `${root}/llama-genai/model.onnx`, "--json"]);
  assertEquals(genai.code, 0, genai.stderr);
  const facts = JSON.parse(genai.stdout).generation;
  assertEquals([facts.contextLength, facts.eosTokenIds, facts.kvHeads], [256, [1, 4], 2]);
  const human = await runCli(["inspect", `${root}/llama`, "--variant", "quantized"]);
  assertEquals(human.code, 0, human.stderr);
  assertMatch(human.stdout, /generates +text \(gpux run --prompt, gpux chat\): 2 layers, 2 KV heads × 16/);
  assertMatch(human.stdout, /chat template +tokenizer_config\.json/);
  const plain = await runCli(["inspect", `${root}/gpt2`, "--variant", "fp32"]);
  assertMatch(plain.stdout, /chat template +none \(plain completion\)/);
});

Deno.test("gpux info says a language model generates and which variant run --prompt picks on cpu and on cuda", async () => {
  await withCliHub("gpux-cli-info-gen-", async (f) => {
    f.hub.addRepo("acme/tiny-lm").commit({
      "config.json": JSON.stringify({ architectures: ["LlamaForCausalLM"], model_type: "llama" }),
      "onnx/model.onnx": { size: 4000, seed: 1 },
      "onnx/model_fp16.onnx": { size: 2000, seed: 2 },
      "onnx/model_q4.onnx": { size: 1000, seed: 3 },
      "onnx/model_q4f16.onnx": { size: 900, seed: 4 },
    });
    const json = await runCli(["info", "acme/tiny-lm", "--json"], { env: f.env });
    assertEquals(json.code, 0, json.stderr);
    assertEquals(JSON.parse(json.stdout).generation, { cpuVariant: "fp32", cudaVariant: "fp16" });
    const human = await runCli(["info", "acme/tiny-lm"], { env: f.env });
    assertEquals(human.code, 0, human.stderr);
    assertStringIncludes(human.stdout, "Generates text: gpux run acme/tiny-lm --prompt");
    assertStringIncludes(human.stdout, "(variant on cpu: fp32, on cuda: fp16)");
    f.hub.addRepo("acme/not-lm").commit({
      "config.json": JSON.stringify({ architectures: ["BertForSequenceClassification"] }),
      "onnx/model.onnx": { size: 4000, seed: 1 },
    });
    const other = await runCli(["info", "acme/not-lm", "--json"], { env: f.env });
    assertEquals(JSON.parse(other.stdout).generation, undefined);
  });
});

Deno.test("gpux chat with piped stdin: a message too long for the context is reported, the next one answered, exit 2", async () => {
  const root = await generationFixtures();
  const { code, stdout, stderr } = await runCli(["chat", `${root}/llama`, "--max-new-tokens", "250"], {
    stdin: `${"word ".repeat(10)}\n/set max_new_tokens 4\nHello\n`,
  });
  assertEquals(code, 2, stderr);
  assertMatch(stderr, /error: the prompt has \d+ tokens and 250 new tokens were asked for: .* context of 256 tokens/);
  assertMatch(stderr, /\d+ prompt tokens · 4 new · /);
  assertStringIncludes(stdout, "Set parameter 'max_new_tokens' to '4'");
});

Deno.test("gpux run --prompt: Ctrl-C (SIGINT) stops the answer within a step; what was streamed stays, exit 130", async () => {
  const root = await generationFixtures();
  const child = cliCommand(["run", `${root}/qwen3`, "--prompt", "Tell me a long story", "--max-new-tokens", "450"])
    .spawn();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let stdout = "";
  while (stdout.length === 0) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += decoder.decode(value, { stream: true });
  }
  child.kill("SIGINT");
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += decoder.decode(value, { stream: true });
  }
  const status = await child.status;
  const stderr = decoder.decode(await new Response(child.stderr).arrayBuffer());
  assertEquals(status.code, 130, stderr);
  const stats = /(\d+) new · [^\n]* · cancelled/.exec(stderr);
  assert(stats, stderr);
  assert(Number(stats[1]) < 450, `stopped after ${stats[1]} tokens`);
  assert(stdout.length > 0);
});

Deno.test("gpux run --prompt --keep-special-tokens prints special tokens the default leaves out", async () => {
  const root = await generationFixtures();
  // this prompt makes the llama fixture generate <|end_header_id|> (a special token, not an EOS) as its 26th token
  const base = ["run", `${root}/llama`, "--raw-prompt", "--prompt", "The quick brown fox", "--max-new-tokens", "26"];
  const plain = await runCli([...base, "--json"]);
  const kept = await runCli([...base, "--json", "--keep-special-tokens"]);
  assertEquals(plain.code, 0, plain.stderr);
  const [a, b] = [JSON.parse(plain.stdout), JSON.parse(kept.stdout)];
  assertEquals(a.generatedIds, b.generatedIds);
  assertEquals(a.generatedIds.at(-1), 3);
  assert(!a.text.includes("<|end_header_id|>"), a.text);
  assertEquals(b.text, `${a.text}<|end_header_id|>`);
  const streamed = await runCli([...base, "--keep-special-tokens"]);
  assertEquals(streamed.stdout, `${b.text}\n`);
});

Deno.test("gpux run --prompt --variant q4 and fp16 give Python onnxruntime's greedy ids on those files", async () => {
  const root = await generationFixtures();
  for (const variant of ["q4", "fp16"]) {
    const g = await golden(root, "qwen3", `${variant}_plain`);
    const r = await runCli([
      "run",
      `${root}/qwen3`,
      "--variant",
      variant,
      "--raw-prompt",
      "--prompt",
      g.prompt!,
      "--max-new-tokens",
      String(g.max_new_tokens),
      "--json",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assertEquals(doc.variant, variant);
    assertEquals(doc.generatedIds, g.new_ids);
  }
});

Deno.test("gpux run --prompt - and piped gpux chat refuse more than 8 MiB of input in one prompt (exit 2)", async () => {
  const root = await generationFixtures();
  const huge = "word ".repeat(1_800_000); // 9 MB
  // gpux stops reading once over the limit: the writer may then see a broken pipe
  const feed = async (args: string[]) => {
    const child = cliCommand(args, { stdin: "" }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(huge)).catch(() => {});
    await writer.close().catch(() => {});
    const { code, stderr } = await child.output();
    return { code, stderr: new TextDecoder().decode(stderr) };
  };
  const run = await feed(["run", `${root}/gpt2`, "--prompt", "-"]);
  assertEquals(run.code, 2, run.stderr);
  assertStringIncludes(run.stderr, "--prompt -: stdin holds more than 8 MiB");
  const chat = await feed(["chat", `${root}/llama`]);
  assertEquals(chat.code, 2, chat.stderr);
  assertStringIncludes(chat.stderr, "a line on stdin is longer than 8 Mi characters");
});
