/**
 * Captioning in the Hub's real VisionEncoderDecoder layout (optimum's export with a GPT-2 decoder, as
 * `Xenova/vit-gpt2-image-captioning` ships it): the merged decoder keeps only its self-attention cache
 * (`past_key_values.N.key/value`) and takes `encoder_hidden_states` at every step. Exact PyTorch `generate` ids
 * (greedy, batch, beam 4) through `loadSeq2Seq` and through `gpux run --image` under its sandbox; transformers.js
 * (the peer, tests/support/transformers_js_seq2seq.ts) gives the same greedy ids on the same folder.
 */
import { assert, assertEquals, assertThrows } from "./support/assert.ts";
import { readVitGpt2HubGoldens, vitGpt2HubFixture } from "./support/vit_gpt2_hub_fixture.ts";
import { loadSeq2Seq } from "../src/generation/seq2seq_generation.ts";
import { readSeq2SeqDecoderContract } from "../src/generation/seq2seq_contract.ts";
import { InputError } from "../src/errors.ts";
import type { TensorInfo } from "../src/runtime/tensors.ts";
import { runCli } from "./support/cli.ts";
import { runTransformersJsSeq2Seq, type TransformersJsGenerated } from "./support/transformers_js_seq2seq.ts";

const LOAD = { provider: "cpu" as const, intraOpThreads: 1 };

Deno.test("vit-gpt2 (Hub layout): loadSeq2Seq captions as PyTorch generate does: greedy, batch, beam 4", async () => {
  const dir = await vitGpt2HubFixture();
  const goldens = await readVitGpt2HubGoldens();
  await using p = await loadSeq2Seq(dir, { ...LOAD, task: "image-to-text" });
  let checked = 0;
  for (const c of goldens.cases) {
    const images = await Promise.all(
      c.images!.map(async (f) => ({ image: await Deno.readFile(`${dir}/${f}`), name: f })),
    );
    const r = await p.run(images, { maxNewTokens: c.options.max_new_tokens, numBeams: c.options.num_beams });
    assertEquals(r.sequences.map((s) => s.generatedIds), c.sequences, c.id);
    assertEquals(r.sequences.map((s) => s.text), c.texts, `${c.id} text`);
    checked++;
  }
  assertEquals(checked, 4);
  assert(goldens.cases.some((c) => c.options.num_beams === 4 && c.images!.length === 3));
});

for (const id of ["greedy_batch", "beam4_batch"]) {
  Deno.test(`vit-gpt2 (Hub layout): gpux run --image (${id}) prints PyTorch's ids`, async () => {
    const dir = await vitGpt2HubFixture();
    const c = (await readVitGpt2HubGoldens()).cases.find((x) => x.id === id)!;
    const args = ["run", dir, "--json", "--max-new-tokens", String(c.options.max_new_tokens)];
    args.push("--num-beams", String(c.options.num_beams));
    for (const f of c.images!) args.push("--image", `${dir}/${f}`);
    const { code, stdout, stderr } = await runCli(args);
    assertEquals(code, 0, stderr);
    const doc = JSON.parse(stdout);
    assertEquals(doc.task, "image-to-text");
    assertEquals(doc.results.map((r: { generatedIds: number[] }) => r.generatedIds), c.sequences);
  });
}

const t = (name: string, dtype = "float32", shape: (number | string)[] = ["b", 4, "s", 8]): TensorInfo =>
  ({ name, dtype, shape }) as unknown as TensorInfo;

Deno.test("seq2seq contract: a self-attention-only cache is read as such, and needs encoder_hidden_states every step", () => {
  const outputs = [t("logits"), t("present.0.key"), t("present.0.value")];
  const past = [t("past_key_values.0.key"), t("past_key_values.0.value")];
  const ids = t("input_ids", "int64", ["b", "s"]);
  const flag = t("use_cache_branch", "bool", [1]);
  const c = readSeq2SeqDecoderContract(
    { inputs: [ids, t("encoder_hidden_states"), ...past, flag], outputs },
    undefined,
  );
  assertEquals(c.crossCache, false);
  assertEquals(c.hiddenWithPast, true);
  assertEquals(c.layers, [{
    decoderPast: ["past_key_values.0.key", "past_key_values.0.value"],
    decoderPresent: ["present.0.key", "present.0.value"],
  }]);
  const split = assertThrows(
    () =>
      readSeq2SeqDecoderContract({ inputs: [ids, t("encoder_hidden_states")], outputs }, {
        inputs: [ids, ...past],
        outputs,
      }),
    InputError,
  );
  assert(split.message.includes("encoder_hidden_states (cached steps"), split.message);
});

Deno.test("vit-gpt2 (Hub layout): transformers.js on the same folder gives PyTorch's (and gpux's) greedy ids", async () => {
  const dir = await vitGpt2HubFixture();
  const goldens = await readVitGpt2HubGoldens();
  const greedy = goldens.cases.filter((c) => c.options.num_beams === 1);
  assertEquals(greedy.map((c) => c.id), ["greedy", "greedy_batch"]);
  const answers = await runTransformersJsSeq2Seq([{
    id: "vit-gpt2-hub",
    kind: "image",
    dir,
    cases: greedy.map((c) => ({ id: c.id, images: c.images!, options: { ...c.options } })),
  }]);
  const answer = answers["vit-gpt2-hub"];
  assert(!("error" in answer), `transformers.js: ${(answer as { error: string }).error}`);
  for (const c of greedy) {
    // generate()'s rows: after the decoder start, cut after the first EOS (as the goldens are)
    const rows: number[][] = (answer[c.id] as TransformersJsGenerated).sequences.map((row: number[]) => {
      const ids = row.slice(1);
      const end = ids.findIndex((id) => goldens.eos_token_id.includes(id));
      return end < 0 ? ids : ids.slice(0, end + 1);
    });
    assertEquals(rows, c.sequences, `${c.id}: transformers.js = PyTorch`);
  }
});
