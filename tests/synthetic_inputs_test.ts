/**
 * Inputs synthesised for `gpux bench` and serve's warm-up stay inside a BERT-family model's lookup tables (token types
 * 0, masks 1, positions 0..n-1, token ids below config.json's vocab_size); when synthesised inputs still fail, the
 * failure names every input and what it held — exit 7 with a hint for bench, a warning for serve (served cold).
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { running, startServe } from "./support/serve_process.ts";
import { writeModel } from "./support/onnx_builder.ts";
import { bertLikeModel } from "./support/text_models.ts";
import { synthesizeInputs, syntheticRole } from "../src/runtime/synthetic_inputs.ts";

const VOCAB = 5; // fewer words than the 0..9 the old synthesis cycled through
const POSITIONS = 64; // fewer positions than the default sequence of 128

/** A Hub-style folder: config.json at the top, the model in onnx/ (config.json optional). */
async function bertFolder(dir: string, config: boolean): Promise<string> {
  await Deno.mkdir(`${dir}/onnx`, { recursive: true });
  await writeModel(`${dir}/onnx/model.onnx`, bertLikeModel(VOCAB, POSITIONS));
  if (config) {
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ architectures: ["BertModel"], vocab_size: VOCAB, max_position_embeddings: POSITIONS }),
    );
  }
  return dir;
}

Deno.test("synthetic inputs: integer inputs by role — token types 0, masks 1, positions along the sequence, ids in the vocabulary", () => {
  assertEquals(
    ["input_ids", "attention_mask", "token_type_ids", "position_ids", "decoder_input_ids", "segment_ids", "sr"].map(
      syntheticRole,
    ),
    ["token-ids", "mask", "token-types", "positions", "token-ids", "token-types", "other"],
  );
  const shape = ["batch", "sequence"];
  const feeds = synthesizeInputs(
    [
      { name: "input_ids", dtype: "int64", shape },
      { name: "attention_mask", dtype: "bool", shape },
      { name: "token_type_ids", dtype: "int32", shape },
      { name: "position_ids", dtype: "int64", shape },
    ],
    { batch: 2, dynamicDim: 80, vocabSize: 3, maxPositions: 64 },
  );
  const values = (name: string) => Array.from(feeds[name].data as ArrayLike<number | bigint>, Number);
  assertEquals(Math.max(...values("input_ids")), 2);
  assertEquals(new Set(values("attention_mask")), new Set([1]));
  assertEquals(new Set(values("token_type_ids")), new Set([0]));
  const positions = values("position_ids");
  assertEquals(positions.slice(0, 3), [0, 1, 2]);
  assertEquals(positions[80], 0, "each row starts at position 0");
  assertEquals(Math.max(...positions), 63, "positions stay below max_position_embeddings");
});

Deno.test("synthetic inputs: gpux bench runs a BERT-family model (token types, vocabulary from config.json) under deno task gpux", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux_bert_bench_" });
  try {
    const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, GPUX_HOME: `${dir}/gpux`, INIT_CWD: dir };
    const ok = await runCli(["bench", await bertFolder(`${dir}/bert`, true), "--runs", "3", "--warmup", "1"], { env });
    assertEquals(ok.code, 0, ok.stderr);
    assertMatch(ok.stdout, /throughput/);
    // without config.json the vocabulary is unknown: the failure names every input and its values, exit 7, a hint
    const bad = await runCli(["bench", await bertFolder(`${dir}/bare`, false), "--runs", "3"], { env });
    assertEquals(bad.code, 7, bad.stderr);
    assertMatch(
      bad.stderr,
      /^error: .*on synthesised inputs\)\nhint: .*"input_ids"=\[1,128\] token ids 0\.\.9;.*"token_type_ids"=\[1,128\] all 0/m,
    );
    assert(!/^\s+at /m.test(bad.stderr), bad.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("synthetic inputs: serve warms a BERT-family model up; a failed warm-up is a warning naming the inputs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux_bert_serve_" });
  try {
    const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, GPUX_HOME: `${dir}/gpux`, INIT_CWD: dir };
    const args = ["--port", "0", "--workers", "1", "--max-batch", "1"];
    await bertFolder(`${dir}/bert`, true);
    await bertFolder(`${dir}/bare`, false);
    for (const [folder, cold] of [["bert", false], ["bare", true]] as const) {
      const server = running(await startServe([`${dir}/${folder}`, ...args], { env, sandbox: "exact" }));
      try {
        const response = await fetch(`${server.url}/predict`, {
          method: "POST",
          body: JSON.stringify({
            input_ids: [[1, 2]],
            attention_mask: [[1, 1]],
            token_type_ids: [[0, 1]],
            position_ids: [[0, 1]],
          }),
        });
        assertEquals(response.status, 200, await response.text());
      } finally {
        assertEquals(await server.stop("SIGTERM"), 0);
      }
      const warning =
        /warning: \S+ is served cold: its warm-up on synthesised inputs failed: .*"input_ids" token ids 0\.\.9/;
      if (cold) assertMatch(server.stderr(), warning);
      else assert(!/served cold/.test(server.stderr()), server.stderr());
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
