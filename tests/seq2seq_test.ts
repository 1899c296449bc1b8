/**
 * Encoder-decoder generation against PyTorch `generate` goldens on tiny random models (tests/support/seq2seq_fixtures.ts):
 * exact ids, greedy, batches, beam 4 (length penalty, early stopping, several answers), the merged and split
 * layouts and the int8 variant; the contract's errors; beam search's bookkeeping on hand-made scores.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./support/assert.ts";
import { readSeq2SeqGoldens, type Seq2SeqFixture, seq2seqFixture } from "./support/seq2seq_fixtures.ts";
import { loadSeq2Seq, seq2seqDefaults } from "../src/generation/seq2seq_generation.ts";
import { configProcessors } from "../src/generation/logits_processors.ts";
import { taskFromArchitectures } from "../src/processing/task_detection.ts";
import { readSeq2SeqDecoderContract } from "../src/generation/seq2seq_contract.ts";
import { BeamSearch, beamsFinished } from "../src/generation/beam_search.ts";
import { InputError, NotFoundError } from "../src/errors.ts";
import type { TensorInfo } from "../src/runtime/tensors.ts";
import { runCli } from "./support/cli.ts";
import { CacheFixture, commitSha } from "./support/hf_cache.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";

const LOAD = { provider: "cpu" as const, intraOpThreads: 1 };

async function checkGoldens(name: Seq2SeqFixture, task: string, variant?: string, filter = (_id: string) => true) {
  const goldens = await readSeq2SeqGoldens(name);
  const dir = await seq2seqFixture(name);
  await using p = await loadSeq2Seq(dir, { ...LOAD, task, ...(variant ? { variant } : {}) });
  let checked = 0;
  for (const c of goldens.cases) {
    if ((c.file ?? undefined) !== variant || !filter(c.id)) continue;
    const o = c.options;
    const inputs = c.inputs ??
      await Promise.all(c.images!.map(async (f) => ({ image: await Deno.readFile(`${dir}/${f}`), name: f })));
    const r = await p.run(inputs, {
      maxNewTokens: o.max_new_tokens,
      numBeams: o.num_beams,
      ...(o.length_penalty !== undefined ? { lengthPenalty: o.length_penalty } : {}),
      ...(o.early_stopping !== undefined ? { earlyStopping: o.early_stopping } : {}),
      ...(o.num_return_sequences !== undefined ? { numReturnSequences: o.num_return_sequences } : {}),
    });
    assertEquals(r.sequences.map((s) => s.generatedIds), c.sequences, `${name} ${c.id}`);
    assertEquals(r.sequences.map((s) => s.text), c.texts, `${name} ${c.id} text`);
    checked++;
  }
  assert(checked > 0, `${name}: no golden case ran`);
  return checked;
}

Deno.test("seq2seq: Marian (merged decoder) gives PyTorch's ids: greedy, batch, beam 4, two answers, length penalty", async () => {
  assertEquals(await checkGoldens("marian", "translation"), 7);
});

Deno.test("seq2seq: Marian in the split layout (decoder_model + decoder_with_past_model) gives the same ids", async () => {
  assertEquals(await checkGoldens("marian-split", "translation"), 7);
});

Deno.test("seq2seq: the _quantized variant gives onnxruntime's own int8 ids", async () => {
  assertEquals(await checkGoldens("marian", "translation", "quantized"), 1);
});

Deno.test("seq2seq: the _fp16 variant (float16 cache and logits) gives onnxruntime's own float16 ids", async () => {
  assertEquals(await checkGoldens("marian", "translation", "fp16"), 1);
});

Deno.test("seq2seq: BART with forced BOS/EOS, no-repeat-3-grams, length penalty 2 and early stopping from generation_config", async () => {
  assertEquals(await checkGoldens("bart", "summarization"), 5);
});

Deno.test("seq2seq: T5 (relative attention, split layout): greedy, batch, beam 4 with early_stopping never and true", async () => {
  assertEquals(await checkGoldens("t5", "text2text-generation"), 7);
});

Deno.test("seq2seq: VisionEncoderDecoder (ViT + GPT-2) captions PNGs as PyTorch does on the same pixels", async () => {
  assertEquals(await checkGoldens("vit-gpt2", "image-to-text"), 5);
});

Deno.test("seq2seq: generate() streams the text of one input, and the streamed text is the result's", async () => {
  const dir = await seq2seqFixture("marian");
  const goldens = await readSeq2SeqGoldens("marian");
  const c = goldens.cases.find((x) => x.id === "greedy_long")!;
  await using p = await loadSeq2Seq(dir, { ...LOAD, task: "translation" });
  const stream = p.generate(c.inputs![0], { maxNewTokens: c.options.max_new_tokens, numBeams: 1 });
  let text = "";
  for await (const delta of stream) text += delta;
  const r = await stream.result;
  assertEquals(r.generatedIds, c.sequences[0]);
  assertEquals(text, r.text);
  assertEquals(r.finishReason, "stop");
});

Deno.test("seq2seq: bad options are InputErrors naming the option", async () => {
  const dir = await seq2seqFixture("marian");
  await using p = await loadSeq2Seq(dir, { ...LOAD, task: "translation" });
  await assertRejects(() => p.run("x", { numBeams: 2, numReturnSequences: 3 }), InputError, "num_return_sequences");
  await assertRejects(() => p.run("x", { numBeams: 0 }), InputError, "num_beams");
  await assertRejects(() => p.run("x", { numBeams: 2, temperature: 0.7, doSample: true }), InputError, "sampling");
});

Deno.test("seq2seq: a folder without encoder/decoder graphs is NotFoundError naming what it looked for", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(() => loadSeq2Seq(dir, LOAD), NotFoundError, "encoder_model");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const t = (name: string, dtype = "float32", shape: (number | string)[] = ["b", 4, "s", 8]): TensorInfo =>
  ({ name, dtype, shape }) as unknown as TensorInfo;

Deno.test("seq2seq contract: missing cache outputs and inputs are named", () => {
  const first = {
    inputs: [t("input_ids", "int64", ["b", "s"]), t("encoder_hidden_states")],
    outputs: [t("logits"), t("present.0.decoder.key"), t("present.0.decoder.value")],
  };
  const withPast = {
    inputs: [
      t("input_ids", "int64", ["b", "s"]),
      t("past_key_values.0.decoder.key"),
      t("past_key_values.0.decoder.value"),
    ],
    outputs: [t("logits"), t("present.0.decoder.key"), t("present.0.decoder.value")],
  };
  const e = assertThrows(() => readSeq2SeqDecoderContract(first, withPast), InputError);
  assert(e.message.includes("past_key_values.0.encoder.key"), e.message);
  assert(e.message.includes("present.0.encoder.key"), e.message);
  const none = assertThrows(() => readSeq2SeqDecoderContract(first, undefined), InputError);
  assert(none.message.includes("decoder_with_past_model.onnx"), none.message);
});

Deno.test("beam search: finished hypotheses are ranked by score / length^penalty and early stopping ends an input", () => {
  const search = new BeamSearch({
    numBeams: 2,
    lengthPenalty: 1,
    earlyStopping: true,
    eos: [0],
    promptLength: 1,
    maxLength: 10,
  });
  const lp = (values: number[]) => Float32Array.from(values.map(Math.log));
  // step 1: only beam 0 is live; EOS (0) is the best → finishes with score log(0.5)/1, the two others run on
  const r1 = search.step([lp([0.5, 0.3, 0.2]), lp([0.5, 0.3, 0.2])]);
  assertEquals(r1.tokens, [1, 2]);
  assertEquals(search.finished.length, 1);
  assertEquals(search.finished[0].ids, [0]);
  // step 2: beam 0 ([1]) ends with EOS at 0.9: (log .3 + log .9) / 2 = -0.65 beats [0]'s log .5 = -0.69
  const r2 = search.step([lp([0.9, 0.05, 0.05]), lp([0.1, 0.1, 0.8])]);
  assert(search.full);
  assertEquals(search.best(2).map((h) => h.ids), [[1, 0], [0]]);
  assert(Math.abs(search.finished[0].score - (Math.log(0.3) + Math.log(0.9)) / 2) < 1e-6);
  // early stopping true: with numBeams finished the input is done, and so is the loop
  assert(beamsFinished([search], true, r2.allEnded));
  assert(!beamsFinished([search], false, r2.allEnded) || !search.improvable);
});

// ------------------------------------------------------------------------------------------------ the CLI, as users run it

Deno.test("gpux run --text on a Marian folder: translation detected, PyTorch's greedy text printed, stats on stderr", async () => {
  const dir = await seq2seqFixture("marian");
  const c = (await readSeq2SeqGoldens("marian")).cases.find((x) => x.id === "greedy_long")!;
  const { code, stdout, stderr } = await runCli([
    "run",
    dir,
    "--text",
    c.inputs![0],
    "--max-new-tokens",
    String(c.options.max_new_tokens),
    "--provider",
    "cpu",
  ]);
  assertEquals(code, 0, stderr);
  assertEquals(stdout, `${c.texts[0]}\n`);
  assertStringIncludes(stderr, "translation · ");
});

Deno.test("gpux run --text (batch) --num-beams 4 --json: PyTorch's beam-search ids for every input", async () => {
  const dir = await seq2seqFixture("marian");
  const c = (await readSeq2SeqGoldens("marian")).cases.find((x) => x.id === "beam4_batch")!;
  const args = ["run", dir, "--json", "--num-beams", "4", "--max-new-tokens", String(c.options.max_new_tokens)];
  for (const t of c.inputs!) args.push("--text", t);
  const { code, stdout, stderr } = await runCli(args);
  assertEquals(code, 0, stderr);
  const doc = JSON.parse(stdout);
  assertEquals(doc.task, "translation");
  assertEquals(doc.results.map((r: { generatedIds: number[] }) => r.generatedIds), c.sequences);
  assertEquals(doc.results.map((r: { text: string }) => r.text), c.texts);
});

Deno.test("gpux run --image on a VisionEncoderDecoder folder: image-to-text detected, one caption per image", async () => {
  const dir = await seq2seqFixture("vit-gpt2");
  const c = (await readSeq2SeqGoldens("vit-gpt2")).cases.find((x) => x.id === "greedy_batch")!;
  const args = ["run", dir, "--json", "--max-new-tokens", String(c.options.max_new_tokens)];
  for (const f of c.images!) args.push("--image", `${dir}/${f}`);
  const { code, stdout, stderr } = await runCli(args);
  assertEquals(code, 0, stderr);
  const doc = JSON.parse(stdout);
  assertEquals(doc.task, "image-to-text");
  assertEquals(doc.results.map((r: { generatedIds: number[] }) => r.generatedIds), c.sequences);
});

Deno.test("gpux run on a cached Hub snapshot: the model card's pipeline_tag names the task; beam search as PyTorch", async () => {
  const dir = await seq2seqFixture("bart");
  const c = (await readSeq2SeqGoldens("bart")).cases.find((x) => x.id === "beam4")!;
  const cache = await Deno.makeTempDir();
  try {
    const files: Record<string, Uint8Array> = {
      "README.md": new TextEncoder().encode("---\npipeline_tag: summarization\n---\n# tiny bart\n"),
    };
    for (const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) {
      files[f] = await Deno.readFile(`${dir}/${f}`);
    }
    for (const f of ["encoder_model.onnx", "decoder_model_merged.onnx"]) {
      files[`onnx/${f}`] = await Deno.readFile(`${dir}/onnx/${f}`);
    }
    const repo = new CacheFixture(cache, "acme/bart-tiny");
    const commit = commitSha("bart-tiny");
    await repo.addRevision(commit, files);
    await repo.setRef("main", commit);
    const { code, stdout, stderr } = await runCli(
      ["run", "acme/bart-tiny", "--text", c.inputs![0], "--num-beams", "4", "--max-new-tokens", "12", "--json"],
      { env: { HF_HUB_CACHE: cache } },
    );
    assertEquals(code, 0, stderr);
    const doc = JSON.parse(stdout);
    assertEquals([doc.task, doc.taskSource], ["summarization", "pipeline_tag"]);
    assertEquals(doc.results.map((r: { generatedIds: number[] }) => r.generatedIds), c.sequences);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("gpux run --num-beams without an encoder-decoder model or --prompt is a usage error (exit 2)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeModel(`${dir}/model.onnx`, identityModel("float32"));
    const { code, stderr } = await runCli(["run", `${dir}/model.onnx`, "--text", "hi", "--num-beams", "2"]);
    assertEquals(code, 2, stderr);
    assertStringIncludes(stderr, "--num-beams goes with --prompt");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gpux run --text past the model's positions: exit 2 naming the limit, for the input and for --max-new-tokens", async () => {
  const dir = await seq2seqFixture("marian"); // max_position_embeddings 64
  const long = await runCli(["run", dir, "--text", "the sea ".repeat(80)]);
  assertEquals(long.code, 2, long.stderr);
  assertStringIncludes(long.stderr, "the encoder takes at most 64");
  const many = await runCli(["run", dir, "--text", "the sea", "--max-new-tokens", "100"]);
  assertEquals(many.code, 2, many.stderr);
  assertStringIncludes(many.stderr, "decoder's 64 positions");
});

Deno.test("seq2seq: sampling reuses the decoder-only sampler: a seed gives the same text again", async () => {
  const dir = await seq2seqFixture("t5");
  await using p = await loadSeq2Seq(dir, { ...LOAD, task: "text2text-generation" });
  const a = await p.run("The quick brown fox", { maxNewTokens: 12, temperature: 1.5, seed: 3 });
  const b = await p.run("The quick brown fox", { maxNewTokens: 12, temperature: 1.5, seed: 3 });
  const greedy = await p.run("The quick brown fox", { maxNewTokens: 12, numBeams: 1 });
  assertEquals(a.generatedIds, b.generatedIds);
  const others = await Promise.all(
    [4, 5, 6, 7].map((seed) => p.run("The quick brown fox", { maxNewTokens: 12, temperature: 1.5, seed })),
  );
  assert([a, ...others].some((r) => JSON.stringify(r.generatedIds) !== JSON.stringify(greedy.generatedIds)));
  assertEquals(a.sequences[0].logprobs.length, a.generatedIds.length);
});

Deno.test("seq2seq defaults: forced_decoder_ids become the decoder prompt; config fills what generation_config lacks", () => {
  const d = seq2seqDefaults(
    { decoder_start_token_id: 50258, forced_decoder_ids: [[2, 50359], [1, 50259], [5, 7]], num_beams: 4 },
    { eos_token_id: 50257, pad_token_id: 50257, length_penalty: 0.8, early_stopping: "never" },
  );
  assertEquals(d.decoderStartTokenId, 50258);
  assertEquals(d.forcedPromptIds, [50259, 50359]); // a run from position 1; position 5 is not part of it
  assertEquals([d.numBeams, d.lengthPenalty, d.earlyStopping], [4, 0.8, "never"]);
  assertEquals(d.eosTokenIds, [50257]);
  assertThrows(() => seq2seqDefaults({}, {}), InputError, "decoder_start_token_id");
});

Deno.test("logits processors: forced BOS/EOS, bad words (one and several tokens), minimum length, begin suppression", () => {
  const ctx = (ids: number[], maxLength = 10) => ({
    ids,
    promptLength: 1,
    generated: ids.length - 1,
    maxLength,
    batchIndex: 0,
  });
  const scores = () => new Float32Array([1, 2, 3, 4, 5]);
  const [badWordsP, minLenP, bosP, eosP, , beginP] = configProcessors(
    {
      bad_words_ids: [[4], [2, 3]],
      min_length: 3,
      forced_bos_token_id: 1,
      forced_eos_token_id: 0,
      suppress_tokens: [3],
      begin_suppress_tokens: [2],
    },
    {},
    [0],
  );
  let s = scores();
  badWordsP(s, ctx([9, 2]));
  assertEquals([...s], [1, 2, 3, -Infinity, -Infinity]); // 4 always, 3 after 2
  s = scores();
  minLenP(s, ctx([9, 2]));
  assertEquals(s[0], -Infinity);
  s = scores();
  bosP(s, ctx([9]));
  assertEquals([...s], [-Infinity, 0, -Infinity, -Infinity, -Infinity]);
  s = scores();
  eosP(s, ctx([9, 1, 2], 4));
  assertEquals([...s], [0, -Infinity, -Infinity, -Infinity, -Infinity]);
  s = scores();
  beginP(s, ctx([9]));
  assertEquals(s[2], -Infinity);
  s = scores();
  beginP(s, ctx([9, 1]));
  assertEquals(s[2], 3);
});

Deno.test("seq2seq: an aborted signal ends greedy decoding within a step, finish reason cancelled, text kept", async () => {
  const dir = await seq2seqFixture("t5");
  await using p = await loadSeq2Seq(dir, { ...LOAD, task: "text2text-generation" });
  const controller = new AbortController();
  let steps = 0;
  const r = await p.run("Once upon a time, in a small village by the sea", {
    maxNewTokens: 20,
    numBeams: 1,
    signal: controller.signal,
    onStep: () => {
      if (++steps === 3) controller.abort();
    },
  });
  assertEquals(r.finishReason, "cancelled");
  assertEquals(r.generatedIds.length, 3);
  const beams = await p.run("Once upon a time", { maxNewTokens: 20, numBeams: 2, signal: AbortSignal.abort() });
  assertEquals(beams.finishReason, "cancelled");
});

Deno.test("task detection: Marian translates, a VisionEncoderDecoder captions, T5/BART are text2text", () => {
  assertEquals(taskFromArchitectures(["MarianMTModel"]), "translation");
  assertEquals(taskFromArchitectures(["VisionEncoderDecoderModel"]), "image-to-text");
  assertEquals(taskFromArchitectures(["T5ForConditionalGeneration"]), "text2text-generation");
  assertEquals(taskFromArchitectures(["BartForConditionalGeneration"]), "text2text-generation");
});
