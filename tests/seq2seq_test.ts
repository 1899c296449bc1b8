/**
 * Encoder-decoder generation against PyTorch `generate` goldens on tiny random models (tests/support/seq2seq_fixtures.ts):
 * exact ids, greedy, batches, beam 4 (length penalty, early stopping, several answers), the merged and split
 * layouts and the int8 variant; the contract's errors; beam search's bookkeeping on hand-made scores.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "./support/assert.ts";
import { readSeq2SeqGoldens, type Seq2SeqFixture, seq2seqFixture } from "./support/seq2seq_fixtures.ts";
import { loadSeq2Seq } from "../src/generation/seq2seq_generation.ts";
import { readSeq2SeqDecoderContract } from "../src/generation/seq2seq_contract.ts";
import { BeamSearch, beamsFinished } from "../src/generation/beam_search.ts";
import { InputError, NotFoundError } from "../src/errors.ts";
import type { TensorInfo } from "../src/runtime/tensors.ts";

const LOAD = { provider: "cpu" as const, intraOpThreads: 1 };

async function checkGoldens(name: Seq2SeqFixture, task: string, variant?: string, filter = (_id: string) => true) {
  const goldens = await readSeq2SeqGoldens(name);
  const dir = await seq2seqFixture(name);
  await using p = await loadSeq2Seq(dir, { ...LOAD, task, ...(variant ? { variant } : {}) });
  let checked = 0;
  for (const c of goldens.cases) {
    if ((c.file === "quantized") !== (variant === "quantized") || !filter(c.id)) continue;
    const o = c.options;
    const r = await p.run(c.inputs!, {
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

Deno.test("seq2seq: BART with forced BOS/EOS and no-repeat-3-grams from generation_config (greedy, batch)", async () => {
  assertEquals(await checkGoldens("bart", "summarization", undefined, (id) => id.startsWith("greedy")), 3);
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
