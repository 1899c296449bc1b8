/**
 * The generation engine against real exporters: tiny random Llama (GQA), GPT-2 and Qwen3 decoders exported by
 * `torch.onnx.export(dynamo=True)` (tests/support/generation_fixtures.ts), whose greedy ids must equal PyTorch
 * `generate`'s (and, for the int8 file, a Python onnxruntime loop's) exactly; plus sampling, streaming,
 * cancellation, multi-turn cache reuse, context limits and the graph contract.
 *
 * @module
 */
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./support/assert.ts";
import { generationFixtures, generationPython } from "./support/generation_fixtures.ts";
import { isTextGeneration, loadPipeline, loadTextGeneration } from "../src/generation/load_pipeline.ts";
import type { TextGenerationPipeline } from "../src/generation/text_generation.ts";
import { IncrementalDecoder } from "../src/generation/incremental_decoder.ts";
import { StopStringMatcher } from "../src/generation/stop_strings.ts";
import { emptyCacheTensor, readDecoderContract } from "../src/generation/decoder_contract.ts";
import { resolveGenerationSettings } from "../src/generation/generation_config.ts";
import { applyRepetitionPenalty, banRepeatedNgrams, nextToken } from "../src/generation/logits_sampler.ts";
import { seededRandom } from "../src/generation/seeded_random.ts";
import { loadTokenizer } from "../src/processing/tokenizer.ts";
import { InputError } from "../src/errors.ts";
import type { TensorInfo } from "../src/runtime/tensors.ts";
import { onnxFileRole } from "../src/vocabulary/formats.ts";
import { ChatTemplate, loadChatTemplate } from "../src/generation/chat_template.ts";
import { ModelFiles } from "../src/processing/model_files.ts";
import { chooseGenerationVariant } from "../src/generation/variant_choice.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { classifierRepo } from "./support/text_models.ts";

interface Golden {
  id: string;
  file: string;
  prompt: string | null;
  messages: { role: string; content: string }[] | null;
  template_vars?: Record<string, unknown> | null;
  prompts: string[] | null;
  prompt_ids: number[] | number[][];
  new_ids: number[] | number[][];
  text: string | string[];
  finish_reason: string | string[];
  eos_token_id: number[];
  max_new_tokens: number;
  stop: string[] | null;
}

async function fixtureNames(root: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(root)) {
    if (e.isDirectory && await Deno.stat(`${root}/${e.name}/goldens.json`).then(() => true, () => false)) {
      names.push(e.name);
    }
  }
  return names.sort();
}

async function goldens(root: string, name: string): Promise<Golden[]> {
  return JSON.parse(await Deno.readTextFile(`${root}/${name}/goldens.json`)).cases;
}

function variantOf(file: string): string {
  return onnxFileRole(file)?.variant ?? "fp32";
}

const pipelines = new Map<string, TextGenerationPipeline>();
async function pipelineFor(root: string, name: string, variant = "fp32"): Promise<TextGenerationPipeline> {
  const key = `${name}/${variant}`;
  let p = pipelines.get(key);
  if (!p) {
    p = await loadTextGeneration(`${root}/${name}`, { variant });
    pipelines.set(key, p);
  }
  return p;
}

async function disposeAll() {
  for (const p of pipelines.values()) await p.dispose();
  pipelines.clear();
}

Deno.test("generation: greedy ids equal PyTorch generate's (and onnxruntime's for int8) on every fixture and case", async () => {
  const root = await generationFixtures();
  const names = await fixtureNames(root);
  assert(names.includes("llama") && names.includes("gpt2") && names.includes("qwen3"), `fixtures: ${names}`);
  let checked = 0;
  try {
    for (const name of names) {
      for (const c of await goldens(root, name)) {
        const p = await pipelineFor(root, name, variantOf(c.file));
        const options = {
          maxNewTokens: c.max_new_tokens,
          eosTokenId: c.eos_token_id,
          ...(c.stop ? { stop: c.stop } : {}),
          ...(c.template_vars ? { templateVariables: c.template_vars } : {}),
        };
        const label = `${name} ${c.id} (${c.file})`;
        const r = c.prompts ? await p.run(c.prompts, options) : await p.run(c.messages ?? c.prompt!, options);
        if (c.prompts) {
          assertEquals(r.sequences.map((s) => s.promptIds), c.prompt_ids, `${label}: prompt ids`);
          assertEquals(r.sequences.map((s) => s.generatedIds), c.new_ids, `${label}: ids`);
          assertEquals(r.sequences.map((s) => s.text), c.text, `${label}: text`);
          assertEquals(r.sequences.map((s) => s.finishReason), c.finish_reason, `${label}: finish`);
        } else if (c.stop) {
          // the engine stops as soon as the stop string appears: its ids are a prefix of the full greedy run
          assertEquals(r.promptIds, c.prompt_ids, `${label}: prompt ids`);
          assertEquals(r.text, c.text, `${label}: text before the stop string`);
          assert(!r.text.includes(c.stop[0]), `${label}: the stop string is not emitted`);
          assertEquals(r.generatedIds, (c.new_ids as number[]).slice(0, r.generatedIds.length), `${label}: ids prefix`);
          assert(r.generatedIds.length < (c.new_ids as number[]).length, `${label}: stopped early`);
          assertEquals(r.finishReason, "stop");
        } else {
          assertEquals(r.promptIds, c.prompt_ids, `${label}: prompt ids`);
          assertEquals(r.generatedIds, c.new_ids, `${label}: ids`);
          assertEquals(r.text, c.text, `${label}: text`);
          assertEquals(r.finishReason, c.finish_reason, `${label}: finish reason`);
        }
        checked++;
      }
    }
  } finally {
    await disposeAll();
  }
  assert(checked >= 20, `only ${checked} golden cases ran`);
});

Deno.test("generation: loadPipeline detects text generation (ForCausalLM, LMHeadModel) and picks fp32 on cpu", async () => {
  const root = await generationFixtures();
  for (const name of ["llama", "gpt2"]) {
    const p = await loadPipeline(`${root}/${name}`);
    try {
      assert(isTextGeneration(p), `${name} is a text-generation pipeline`);
      assertEquals(p.task, "text-generation");
      assertEquals(p.taskSource, "architectures");
      assert(p.session.path.endsWith("onnx/model.onnx"), p.session.path);
      assertStringIncludes(p.session.model?.variantReason ?? "", "fp32");
    } finally {
      await p.dispose();
    }
  }
  const typed = await loadPipeline(`${root}/qwen3`, { task: "text-generation", variant: "quantized" });
  try {
    assert(typed.session.path.endsWith("model_quantized.onnx"));
    assertEquals((await typed.run("Hi", { maxNewTokens: 2 })).generatedIds.length, 2);
  } finally {
    await typed.dispose();
  }
});

Deno.test("generation: sampling with a seed repeats; temperature 0 and top-k 1 equal greedy", async () => {
  const root = await generationFixtures();
  const p = await loadTextGeneration(`${root}/qwen3`, { variant: "fp32" });
  try {
    const prompt = "Once upon a time";
    const greedy = await p.run(prompt, { maxNewTokens: 12 });
    const a = await p.run(prompt, { maxNewTokens: 12, temperature: 1.5, topP: 0.95, seed: 42 });
    const b = await p.run(prompt, { maxNewTokens: 12, temperature: 1.5, topP: 0.95, seed: 42 });
    const c = await p.run(prompt, { maxNewTokens: 12, temperature: 1.5, topP: 0.95, seed: 7 });
    assertEquals(a.generatedIds, b.generatedIds);
    assertEquals(a.text, b.text);
    assert(a.generatedIds.join() !== c.generatedIds.join(), "another seed samples something else");
    assert(a.generatedIds.join() !== greedy.generatedIds.join(), "sampling at temperature 1.5 differs from greedy");
    const t0 = await p.run(prompt, { maxNewTokens: 12, temperature: 0, seed: 3 });
    const k1 = await p.run(prompt, { maxNewTokens: 12, topK: 1, temperature: 2, seed: 3 });
    assertEquals(t0.generatedIds, greedy.generatedIds);
    assertEquals(k1.generatedIds, greedy.generatedIds);
    const minP = await p.run(prompt, { maxNewTokens: 12, doSample: true, minP: 1, seed: 9 });
    assertEquals(minP.generatedIds, greedy.generatedIds, "min_p 1 keeps only the most likely token");
  } finally {
    await p.dispose();
  }
});

Deno.test("generation: streamed deltas concatenate to the final text, which is the decoded ids", async () => {
  const root = await generationFixtures();
  const p = await loadTextGeneration(`${root}/qwen3`, { variant: "fp32" });
  try {
    const stream = p.generate([{ role: "user", content: "Tell me a story about the sea." }], { maxNewTokens: 40 });
    const deltas: string[] = [];
    for await (const delta of stream) deltas.push(delta);
    const result = await stream.result;
    assert(deltas.length > 5, `${deltas.length} deltas`);
    assertEquals(deltas.join(""), result.text);
    assertEquals(result.text, p.tokenizer.decode(result.generatedIds, { skipSpecialTokens: true }));
    assert(deltas.every((d) => !d.includes("\uFFFD") || result.text.includes("\uFFFD")));
    assertEquals(result.usage.generatedTokens, result.generatedIds.length);
    assertEquals(result.usage.promptTokens, result.promptIds.length);
    assert(result.timings.timeToFirstTokenMs > 0 && result.timings.generatedTokensPerSecond > 0);
  } finally {
    await p.dispose();
  }
});

Deno.test("generation: an emoji split across byte-level tokens never streams U+FFFD (real Qwen3 tokenizer)", async () => {
  const root = await generationFixtures();
  const tokenizer = await loadTokenizer(`${root}/qwen3`);
  const text = "I 🫠 love 🧑‍🚀 and 你好 ok";
  const ids = tokenizer.encode(text, { addSpecialTokens: false }).inputIds;
  // the test means something only if some character spans several tokens
  const single = tokenizer.encode("🫠", { addSpecialTokens: false }).inputIds;
  assert(single.length > 1, `🫠 is ${single.length} token(s)`);
  assert(tokenizer.decode(single.slice(0, 1)).includes("\uFFFD"), "half an emoji decodes to U+FFFD");
  const decoder = new IncrementalDecoder(tokenizer);
  const deltas = ids.map((id) => decoder.push(id));
  deltas.push(decoder.flush());
  for (const d of deltas) assert(!d.includes("\uFFFD"), `delta ${JSON.stringify(d)}`);
  assertEquals(deltas.join(""), text);
  assert(deltas.filter((d) => d === "").length > 0, "some tokens completed no character");
});

Deno.test("generation: stop strings are found across deltas and never emitted", () => {
  const m = new StopStringMatcher(["END", "\n\n"]);
  const out: string[] = [];
  let stopped = false;
  for (const d of ["Hello E", "N", "x fine\n", "then E", "ND more"]) {
    const r = m.push(d);
    out.push(r.text);
    if (r.stopped) {
      stopped = true;
      break;
    }
  }
  assert(stopped);
  assertEquals(out.join(""), "Hello ENx fine\nthen ");
  const none = new StopStringMatcher(["zz"]);
  assertEquals(none.push("abz").text, "ab");
  assertEquals(none.flush(), "z");
});

Deno.test("generation: an AbortSignal cancels within a step and the pipeline goes on working", async () => {
  const root = await generationFixtures();
  const p = await loadTextGeneration(`${root}/llama`, { variant: "fp32" });
  try {
    const controller = new AbortController();
    const stream = p.generate("Once upon a time", { maxNewTokens: 200, eosTokenId: [], signal: controller.signal });
    let seen = 0;
    for await (const _ of stream) {
      if (++seen === 3) controller.abort();
    }
    const result = await stream.result;
    assertEquals(result.finishReason, "cancelled");
    assert(result.generatedIds.length <= 5, `${result.generatedIds.length} tokens after abort at ~3`);
    const after = await p.run("Once upon a time", { maxNewTokens: 4 });
    assertEquals(after.generatedIds.length, 4);
  } finally {
    await p.dispose();
  }
});

Deno.test("generation: a chat keeps its KV cache between turns and gives the ids of a fresh run", async () => {
  const root = await generationFixtures();
  const p = await loadTextGeneration(`${root}/llama`, { variant: "fp32" });
  try {
    const chat = p.chat({ system: "You are terse." });
    const first = await chat.send("Hello there", { maxNewTokens: 6, eosTokenId: [] }).result;
    assertEquals(first.usage.cachedTokens, 0);
    const second = await chat.send("And then?", { maxNewTokens: 6, eosTokenId: [] }).result;
    assert(second.usage.cachedTokens > first.promptIds.length, `reused ${second.usage.cachedTokens} tokens`);
    assertEquals(chat.messages.length, 5);
    // the cache holds the first turn's ids as generated, then the new suffix
    assertEquals(second.promptIds.slice(0, first.promptIds.length + 6), [...first.promptIds, ...first.generatedIds]);
    // the same ids from scratch, without the cache, give the same answer
    const fresh = await p.run({ ids: second.promptIds }, { maxNewTokens: 6, eosTokenId: [] });
    assertEquals(fresh.usage.cachedTokens, 0);
    assertEquals(second.generatedIds, fresh.generatedIds);
    chat.clear();
    assertEquals(chat.messages, [{ role: "system", content: "You are terse." }]);
    const third = await chat.send("Hello there", { maxNewTokens: 6, eosTokenId: [] }).result;
    assertEquals(third.usage.cachedTokens, 0);
    assertEquals(third.generatedIds, first.generatedIds);
  } finally {
    await p.dispose();
  }
});

Deno.test("generation: a prompt that does not fit the context is an error naming both numbers, unless truncate left", async () => {
  const root = await generationFixtures();
  const p = await loadTextGeneration(`${root}/gpt2`, { variant: "fp32" }); // n_positions 128
  try {
    assertEquals(p.contextLength, 128);
    const prompt = "word ".repeat(100);
    const length = p.encodePrompt(prompt).length;
    const error = await assertRejects(() => p.run(prompt, { maxNewTokens: 50 }), InputError);
    assertStringIncludes(error.message, `${length} tokens`);
    assertStringIncludes(error.message, "50 new tokens");
    assertStringIncludes(error.message, "context of 128");
    const cut = await p.run(prompt, { maxNewTokens: 50, truncate: "left", eosTokenId: [] });
    assertEquals(cut.promptIds.length, 78);
    assertEquals(cut.promptIds, p.encodePrompt(prompt).slice(length - 78));
    assertEquals(cut.generatedIds.length, 50);
  } finally {
    await p.dispose();
  }
});

Deno.test("generation: a model without a chat template refuses messages with a hint", async () => {
  const root = await generationFixtures();
  const p = await loadTextGeneration(`${root}/gpt2`, { variant: "fp32" });
  try {
    assertEquals(p.chatTemplate, undefined);
    const error = await assertRejects(() => p.run([{ role: "user", content: "hi" }]), InputError);
    assertStringIncludes(error.message, "no chat template");
    assertThrows(() => p.chat(), InputError, "cannot chat");
  } finally {
    await p.dispose();
  }
});

Deno.test("generation: 1,000 generations in a row leave RSS flat", async () => {
  const root = await generationFixtures();
  const p = await loadTextGeneration(`${root}/llama`, { variant: "fp32" });
  try {
    const run = (i: number) => p.run(`Story number ${i}`, { maxNewTokens: 8, eosTokenId: [] });
    for (let i = 0; i < 50; i++) await run(i);
    const before = Deno.memoryUsage().rss;
    for (let i = 0; i < 1000; i++) await run(i);
    const grown = (Deno.memoryUsage().rss - before) / 1e6;
    assert(grown < 40, `RSS grew ${grown.toFixed(1)} MB over 1,000 generations`);
  } finally {
    await p.dispose();
  }
});

Deno.test("generation: the graph contract names what is missing and builds the empty past from metadata", () => {
  const info = (name: string, dtype: TensorInfo["dtype"], shape: TensorInfo["shape"]): TensorInfo => ({
    name,
    dtype,
    shape,
  });
  const inputs = [
    info("input_ids", "int64", [null, null]),
    info("attention_mask", "int64", [null, null]),
    info("past_key_values.0.key", "float16", [null, 2, null, 16]),
    info("past_key_values.0.value", "float16", [null, 2, null, 16]),
  ];
  const outputs = [info("logits", "float16", [null, null, 10]), info("present.0.key", "float16", [])];
  const error = assertThrows(() => readDecoderContract(inputs, outputs), InputError);
  assertStringIncludes(error.message, "output present.0.value");
  const contract = readDecoderContract(inputs, [...outputs, info("present.0.value", "float16", [])]);
  assertEquals(contract.cacheDtype, "float16");
  const empty = emptyCacheTensor(contract, 3);
  assertEquals(empty.shape, [3, 2, 0, 16]);
  assert(empty.data instanceof Uint16Array);
  const odd = assertThrows(
    () => readDecoderContract([info("ids", "int64", [null, null]), info("mask", "int64", [null])], outputs),
    InputError,
  );
  assertStringIncludes(odd.message, "input input_ids");
  assertStringIncludes(odd.message, "ids, mask");
  // symbolic heads come from config.json
  const symbolic = readDecoderContract(
    [info("input_ids", "int64", [null, null]), info("past_key_values.0.key", "float32", [null, "heads", null, "d"])]
      .concat([info("past_key_values.0.value", "float32", [null, "heads", null, "d"])]),
    [info("logits", "float32", []), info("present.0.key", "float32", []), info("present.0.value", "float32", [])],
    { num_attention_heads: 8, num_key_value_heads: 4, hidden_size: 256 },
  );
  assertEquals([symbolic.kvHeads, symbolic.headDim], [4, 32]);
});

Deno.test("generation: settings merge generation_config.json, config.json and options; bad values are errors", () => {
  const s = resolveGenerationSettings(
    { eos_token_id: [2, 7], do_sample: true, temperature: 0.6, top_k: 20, top_p: 0.95 },
    { eos_token_id: 2, max_position_embeddings: 4096, bos_token_id: 1 },
  );
  assertEquals([s.eosTokenIds, s.doSample, s.temperature, s.topK, s.topP, s.contextLength], [
    [2, 7],
    true,
    0.6,
    20,
    0.95,
    4096,
  ]);
  assertEquals(s.bosTokenId, 1);
  assertEquals(s.padTokenId, 2);
  assertEquals(resolveGenerationSettings({}, {}, { temperature: 0.7 }).doSample, true);
  assertEquals(resolveGenerationSettings({ do_sample: true }, {}, { temperature: 0 }).doSample, false);
  assertEquals(resolveGenerationSettings({}, {}, { eosTokenId: 5 }).eosTokenIds, [5]);
  assertThrows(() => resolveGenerationSettings({}, {}, { topP: 1.5 }), InputError, "top_p");
  assertThrows(() => resolveGenerationSettings({}, {}, { temperature: -1 }), InputError, "temperature");
  assertThrows(() => resolveGenerationSettings({}, {}, { maxNewTokens: 0 }), InputError, "max_new_tokens");
});

Deno.test("generation: repetition penalty and no-repeat n-grams change the choice as transformers does", () => {
  const logits = Float32Array.of(2, -1, 1.5, 0);
  applyRepetitionPenalty(logits, [0, 1], 2);
  assertEquals(Array.from(logits), [1, -2, 1.5, 0]);
  const l2 = Float32Array.of(0, 5, 0, 0);
  banRepeatedNgrams(l2, [2, 1, 3, 2], 2); // "2 1" seen: after a 2, 1 is banned
  assertEquals(l2[1], -Infinity);
  const greedy = { doSample: false, temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 };
  // after "1 2 1", the bigram "1 2" exists: 2 is banned and the next best, 1, wins
  assertEquals(nextToken(Float32Array.of(0, 4, 5), [1, 2, 1], { ...greedy, noRepeatNgramSize: 0 }, seededRandom(1)), 2);
  assertEquals(nextToken(Float32Array.of(0, 4, 5), [1, 2, 1], { ...greedy, noRepeatNgramSize: 2 }, seededRandom(1)), 1);
  const r1 = seededRandom(123), r2 = seededRandom(123);
  const draws = Array.from({ length: 5 }, () => r1.next());
  assertEquals(draws, Array.from({ length: 5 }, () => r2.next()));
  assert(draws.every((d) => d >= 0 && d < 1) && new Set(draws).size === 5);
});

Deno.test("generation: in a batch each row stops on its own (an EOS id at step 5) while the others run to length", async () => {
  const root = await generationFixtures();
  const cases = await goldens(root, "qwen3");
  const eosStop = cases.find((c) => c.id === "eos_stop")!;
  const batch = cases.find((c) => c.id === "batch")!;
  const p = await loadTextGeneration(`${root}/qwen3`, { variant: "fp32" });
  try {
    const r = await p.run([eosStop.prompt!, batch.prompts![1], batch.prompts![2]], {
      maxNewTokens: batch.max_new_tokens,
      eosTokenId: eosStop.eos_token_id,
    });
    assertEquals(r.sequences.map((s) => s.finishReason), ["stop", "length", "length"]);
    assertEquals(r.sequences[0].generatedIds, eosStop.new_ids);
    assertEquals(r.sequences[0].text, eosStop.text);
    assertEquals(r.sequences[1].generatedIds, (batch.new_ids as number[][])[1]);
    assertEquals(r.sequences[2].generatedIds, (batch.new_ids as number[][])[2]);
    assertEquals(r.usage.generatedTokens, eosStop.new_ids.length + 2 * batch.max_new_tokens);
  } finally {
    await p.dispose();
  }
});

Deno.test("generation: chat templates from chat_template.jinja or a named list, with bos/eos, tools and extra variables", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-chat-template-" });
  try {
    await Deno.writeTextFile(
      `${dir}/tokenizer_config.json`,
      JSON.stringify({
        bos_token: { content: "<s>" },
        eos_token: "</s>",
        chat_template: [
          {
            name: "default",
            template: "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}",
          },
          {
            name: "tool_use",
            template:
              "{% for t in tools %}<tool>{{ t.name }}</tool>{% endfor %}{{ messages[0].content }}{{ eos_token }}",
          },
        ],
      }),
    );
    const files = new ModelFiles([dir]);
    const named = await loadChatTemplate(files);
    assertEquals(named?.origin, "tokenizer_config.json#default");
    assertEquals(named!.render([{ role: "user", content: "hi" }]), "<s>[user]hi");
    const tools = await loadChatTemplate(files, "tool_use");
    assertEquals(
      tools!.render([{ role: "user", content: "q" }], { tools: [{ name: "search" }] }),
      "<tool>search</tool>q</s>",
    );
    await assertRejects(() => loadChatTemplate(files, "nope"), InputError, "no chat template named");
    await Deno.writeTextFile(
      `${dir}/chat_template.jinja`,
      "{% if enable_thinking is defined and enable_thinking is false %}<no-think>{% endif %}" +
        "{% for m in messages %}{{ m.content }}{% endfor %}{% if add_generation_prompt %}>{% endif %}",
    );
    const jinja = await loadChatTemplate(new ModelFiles([dir]));
    assertEquals(jinja?.origin, "chat_template.jinja");
    assertEquals(
      jinja!.render([{ role: "user", content: "a" }], { variables: { enable_thinking: false } }),
      "<no-think>a>",
    );
    assertEquals(jinja!.render([{ role: "user", content: "a" }], { addGenerationPrompt: false }), "a");
    assertThrows(() => new ChatTemplate("{% for %}", "x"), InputError, "does not parse");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generation: the default variant follows the provider (fp32 or q4 on cpu, fp16 or q4f16 on cuda)", () => {
  const all = ["onnx/model.onnx", "onnx/model_fp16.onnx", "onnx/model_q4.onnx", "onnx/model_q4f16.onnx"];
  assertEquals(chooseGenerationVariant(all, "cpu")?.variant, "fp32");
  assertEquals(chooseGenerationVariant(all, "cuda")?.variant, "fp16");
  const quantized = ["onnx/model_q4.onnx", "onnx/model_q4f16.onnx", "onnx/model_quantized.onnx"];
  assertEquals(chooseGenerationVariant(quantized, "cpu")?.variant, "q4");
  assertEquals(chooseGenerationVariant(quantized, "cuda")?.variant, "q4f16");
  assertStringIncludes(chooseGenerationVariant(quantized, "cuda")!.reason, "q4f16, the default on cuda");
  assertEquals(chooseGenerationVariant(["onnx/model.onnx"], "cpu"), undefined);
});

/** Converts the llama fixture to float16 (inputs, cache and logits included) and runs a Python onnxruntime greedy loop on it. */
const FP16_SCRIPT = `
import json, sys, numpy as np, onnx, onnxruntime as ort
from onnxruntime.transformers.float16 import convert_float_to_float16
src, dst, prompt, n = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
onnx.save(convert_float_to_float16(onnx.load(src), keep_io_types=False), dst)
s = ort.InferenceSession(dst, providers=["CPUExecutionProvider"])
past = {i.name: np.zeros((1, i.shape[1], 0, i.shape[3]), np.float16) for i in s.get_inputs() if i.name.startswith("past")}
ids, fed, out = list(prompt), list(prompt), []
for step in range(n):
    feeds = {"input_ids": np.array([fed], np.int64), "attention_mask": np.ones((1, len(ids)), np.int64),
             "position_ids": np.arange(len(ids) - len(fed), len(ids), dtype=np.int64)[None], **past}
    res = dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))
    tok = int(np.argmax(res["logits"][0, -1].astype(np.float32)))
    past = {k: res[k.replace("past_key_values", "present")] for k in past}
    out.append(tok); ids.append(tok); fed = [tok]
print(json.dumps(out))
`;

Deno.test("generation: a float16 graph (float16 cache and logits) gives Python onnxruntime's greedy ids", async () => {
  const root = await generationFixtures();
  const dir = await Deno.makeTempDir({ prefix: "gpux-fp16-" });
  try {
    await Deno.mkdir(`${dir}/onnx`);
    for (const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) {
      await Deno.copyFile(`${root}/llama/${f}`, `${dir}/${f}`);
    }
    const plain = (await goldens(root, "llama")).find((c) => c.id === "plain")!;
    const made = await new Deno.Command(await generationPython(), {
      args: [
        "-c",
        FP16_SCRIPT,
        `${root}/llama/onnx/model.onnx`,
        `${dir}/onnx/model_fp16.onnx`,
        JSON.stringify(plain.prompt_ids),
        "12",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(made.success, new TextDecoder().decode(made.stderr));
    const expected = JSON.parse(new TextDecoder().decode(made.stdout).trim().split("\n").pop()!);
    const p = await loadTextGeneration(dir, {});
    try {
      assertEquals(p.contract.cacheDtype, "float16");
      assertEquals(p.session.model?.variant ?? "fp16", "fp16");
      const r = await p.run({ ids: plain.prompt_ids as number[] }, { maxNewTokens: 12, eosTokenId: [] });
      assertEquals(r.generatedIds, expected);
    } finally {
      await p.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generation: loadPipeline hands a model that does not generate to its task pipeline", async () => {
  const bert = await bertTokenizer();
  if ("skip" in bert) throw new Error(bert.skip);
  const dir = await Deno.makeTempDir({ prefix: "gpux-not-generative-" });
  try {
    for (const [path, content] of Object.entries(classifierRepo(bert.tokenizer, bert.config))) {
      await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
      if (typeof content === "string") await Deno.writeTextFile(`${dir}/${path}`, content);
      else await Deno.writeFile(`${dir}/${path}`, content);
    }
    const p = await loadPipeline(dir);
    try {
      assert(!isTextGeneration(p));
      assertEquals(p.task, "text-classification");
      const result = await p.run("I love this");
      assertEquals(result.kind, "classification");
    } finally {
      await p.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generation: a chat turn that fails rejects through its stream and leaves the chat usable", async () => {
  const root = await generationFixtures();
  const llama = await loadTextGeneration(`${root}/llama`, { variant: "fp32" }); // context 256
  try {
    const chat = llama.chat();
    const error = await assertRejects(async () => {
      for await (const _ of chat.send("word ".repeat(10), { maxNewTokens: 300 })) { /* never reached */ }
    }, InputError);
    assertStringIncludes(error.message, "context of 256 tokens");
    assertEquals(chat.messages.length, 0, "the failed turn is not kept");
    const ok = await chat.send("Hello", { maxNewTokens: 3 }).result;
    assertEquals(ok.generatedIds.length, 3);
    assertEquals(chat.messages.length, 2);
  } finally {
    await llama.dispose();
  }
});

Deno.test("generation: chat turns sent without waiting run in order, each seeing the one before", async () => {
  const root = await generationFixtures();
  const p = await loadTextGeneration(`${root}/llama`, { variant: "fp32" });
  try {
    const chat = p.chat();
    const first = chat.send("One", { maxNewTokens: 3, eosTokenId: [] });
    const second = chat.send("Two", { maxNewTokens: 3, eosTokenId: [] });
    const [a, b] = await Promise.all([first.result, second.result]);
    assert(b.usage.cachedTokens >= a.promptIds.length, `second turn reused ${b.usage.cachedTokens} tokens`);
    assertEquals(chat.messages.map((m) => m.role), ["user", "assistant", "user", "assistant"]);
    assertEquals(chat.messages[1].content, a.text);
  } finally {
    await p.dispose();
  }
});

/**
 * A hand-made "counter" decoder (onnx.helper, in the fixtures venv): the next token is the last one + 1 (mod the
 * vocabulary), it takes `num_logits_to_keep` (a scalar or a [1] tensor) and no `position_ids`, its cache has
 * fixed dims (1 head × 4) and no config.json, and its graph fails unless the attention mask covers past + new.
 */
const COUNTER_SCRIPT = `
import sys, json, onnx
from onnx import helper as h, TensorProto as T
out, V = sys.argv[1], int(sys.argv[2])
keep_scalar = sys.argv[3] == "scalar"
nodes = [
  h.make_node("Constant", [], ["one"], value=h.make_tensor("v", T.INT64, [], [1])),
  h.make_node("Constant", [], ["vocab"], value=h.make_tensor("v", T.INT64, [], [V])),
  h.make_node("Add", ["input_ids", "one"], ["plus"]),
  h.make_node("Mod", ["plus", "vocab"], ["next"]),
  h.make_node("Constant", [], ["onoff"], value=h.make_tensor("v", T.FLOAT, [2], [0.0, 1.0])),
  h.make_node("OneHot", ["next", "vocab", "onoff"], ["all_logits"], axis=-1),
  h.make_node("Neg", ["num_logits_to_keep"], ["negk"]),
  h.make_node("Reshape", ["negk", "shape1"], ["starts"]),
  h.make_node("Constant", [], ["shape1"], value=h.make_tensor("v", T.INT64, [1], [1])),
  h.make_node("Constant", [], ["ends"], value=h.make_tensor("v", T.INT64, [1], [2**62])),
  h.make_node("Constant", [], ["axes"], value=h.make_tensor("v", T.INT64, [1], [1])),
  h.make_node("Slice", ["all_logits", "starts", "ends", "axes"], ["logits"]),
  h.make_node("Cast", ["input_ids"], ["idsf"], to=T.FLOAT),
  h.make_node("Constant", [], ["ax13"], value=h.make_tensor("v", T.INT64, [2], [1, 3])),
  h.make_node("Unsqueeze", ["idsf", "ax13"], ["ids4"]),
  h.make_node("Constant", [], ["kvshape"], value=h.make_tensor("v", T.INT64, [4], [1, 1, 1, 4])),
  h.make_node("Expand", ["ids4", "kvshape"], ["new_kv"]),
  h.make_node("Concat", ["past_key_values.0.key", "new_kv"], ["present.0.key"], axis=2),
  h.make_node("Concat", ["past_key_values.0.value", "new_kv"], ["present.0.value"], axis=2),
  # the mask must cover past + new: fail loudly otherwise (Reshape to the expected length)
  h.make_node("Shape", ["present.0.key"], ["pshape"]),
  h.make_node("Constant", [], ["i2"], value=h.make_tensor("v", T.INT64, [1], [2])),
  h.make_node("Gather", ["pshape", "i2"], ["total"]),
  h.make_node("Constant", [], ["minus1"], value=h.make_tensor("v", T.INT64, [1], [-1])),
  h.make_node("Concat", ["minus1", "total"], ["mshape"], axis=0),
  h.make_node("Reshape", ["attention_mask", "mshape"], ["mask_checked"]),
  h.make_node("Identity", ["mask_checked"], ["mask_out"]),
]
# order nodes topologically: constants first
nodes.sort(key=lambda n: 0 if n.op_type == "Constant" else 1)
inputs = [
  h.make_tensor_value_info("input_ids", T.INT64, ["batch", "seq"]),
  h.make_tensor_value_info("attention_mask", T.INT64, ["batch", "total"]),
  h.make_tensor_value_info("past_key_values.0.key", T.FLOAT, ["batch", 1, "past", 4]),
  h.make_tensor_value_info("past_key_values.0.value", T.FLOAT, ["batch", 1, "past", 4]),
  h.make_tensor_value_info("num_logits_to_keep", T.INT64, [] if keep_scalar else [1]),
]
outputs = [
  h.make_tensor_value_info("logits", T.FLOAT, ["batch", "keep", V]),
  h.make_tensor_value_info("present.0.key", T.FLOAT, ["batch", 1, "total", 4]),
  h.make_tensor_value_info("present.0.value", T.FLOAT, ["batch", 1, "total", 4]),
  h.make_tensor_value_info("mask_out", T.INT64, ["batch", "total"]),
]
if len(sys.argv) > 4 and sys.argv[4] == "nopast":
    # no cache: every step reads the whole sequence; the mask must then match input_ids
    drop = {"past_key_values.0.key", "past_key_values.0.value", "present.0.key", "present.0.value"}
    nodes = [n for n in nodes if not (set(n.input) | set(n.output)) & drop]
    at = next(i for i, n in enumerate(nodes) if n.output[0] == "ids4")
    nodes.insert(at + 1, h.make_node("Shape", ["ids4"], ["pshape"]))
    # strict: the mask has exactly the shape of input_ids (the whole sequence fed each step)
    check = next(n for n in nodes if n.output[0] == "mask_checked")
    check.input[1] = "ishape"
    nodes.insert(nodes.index(check), h.make_node("Shape", ["input_ids"], ["ishape"]))
    inputs = [i for i in inputs if i.name not in drop]
    outputs = [o for o in outputs if o.name not in drop]
g = h.make_graph(nodes, "counter", inputs, outputs)
m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, out)
`;

/** A word-level tokenizer.json for the counter: `t0` … `t49`. */
function counterTokenizer(): string {
  const vocab: Record<string, number> = {};
  for (let i = 0; i < 50; i++) vocab[`t${i}`] = i;
  return JSON.stringify({
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: "Whitespace" },
    post_processor: null,
    decoder: null,
    model: { type: "WordLevel", vocab, unk_token: "t0" },
  });
}

Deno.test("generation: a graph with num_logits_to_keep, no position_ids and no config.json (a counter decoder)", async () => {
  for (const keep of ["scalar", "vector"]) {
    const dir = await Deno.makeTempDir({ prefix: "gpux-counter-" });
    try {
      const made = await new Deno.Command(await generationPython(), {
        args: ["-c", COUNTER_SCRIPT, `${dir}/model.onnx`, "50", keep],
        stderr: "piped",
      }).output();
      assert(made.success, new TextDecoder().decode(made.stderr));
      await Deno.writeTextFile(`${dir}/tokenizer.json`, counterTokenizer());
      const p = await loadTextGeneration(dir);
      try {
        assertEquals(p.contract.logitsToKeep, {
          name: "num_logits_to_keep",
          dtype: "int64",
          shape: keep === "scalar" ? [] : [1],
        });
        assertEquals(p.contract.positionIds, undefined);
        assertEquals([p.contract.kvHeads, p.contract.headDim], [1, 4]);
        const r = await p.run({ ids: [5] }, { maxNewTokens: 4 });
        assertEquals(r.generatedIds, [6, 7, 8, 9]);
        assertEquals(r.finishReason, "length");
        const b = await p.run(["t3", "t7 t8", "t48"], { maxNewTokens: 3 });
        assertEquals(b.sequences.map((s) => s.generatedIds), [[4, 5, 6], [9, 10, 11], [49, 0, 1]]);
        const stopped = await p.run({ ids: [1, 2] }, { maxNewTokens: 2, eosTokenId: 4 });
        assertEquals([stopped.generatedIds, stopped.finishReason], [[3, 4], "stop"]);
      } finally {
        await p.dispose();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("generation: a decoder without a KV cache re-reads the whole sequence each step", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-counter-nopast-" });
  try {
    const made = await new Deno.Command(await generationPython(), {
      args: ["-c", COUNTER_SCRIPT, `${dir}/model.onnx`, "50", "scalar", "nopast"],
      stderr: "piped",
    }).output();
    assert(made.success, new TextDecoder().decode(made.stderr));
    await Deno.writeTextFile(`${dir}/tokenizer.json`, counterTokenizer());
    const p = await loadTextGeneration(dir);
    try {
      assertEquals(p.contract.layers, []);
      assertEquals((await p.run({ ids: [5] }, { maxNewTokens: 4 })).generatedIds, [6, 7, 8, 9]);
      const b = await p.run(["t3", "t7 t8"], { maxNewTokens: 3 });
      assertEquals(b.sequences.map((s) => s.generatedIds), [[4, 5, 6], [9, 10, 11]]);
    } finally {
      await p.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generation: special tokens are left out of the text unless asked for", async () => {
  const root = await generationFixtures();
  const tokenizer = await loadTokenizer(`${root}/qwen3`);
  const ids = tokenizer.encode("Hi<|im_end|>\nok", { addSpecialTokens: false }).inputIds;
  assert(ids.includes(151645), `ids ${ids}`);
  const skip = new IncrementalDecoder(tokenizer);
  const keep = new IncrementalDecoder(tokenizer, { skipSpecialTokens: false });
  const skipped = ids.map((id) => skip.push(id)).join("") + skip.flush();
  const kept = ids.map((id) => keep.push(id)).join("") + keep.flush();
  assertEquals(skipped, "Hi\nok");
  assertEquals(kept, "Hi<|im_end|>\nok");
});
