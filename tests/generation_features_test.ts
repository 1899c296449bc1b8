/**
 * Generation features the OpenAI and Ollama APIs need, on the real fixtures (tests/support/generation_fixtures.ts):
 * presence/frequency penalties and logprobs checked against the logits of a bare Python onnxruntime run, JSON mode
 * (and JSON schemas) by masking, tool-call parsing (whole and streamed), and the real Qwen3 chat template
 * rendering tools and tool messages as Python transformers does.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { GEN_PYTHON, generationFixture } from "./support/generation_fixtures.ts";
import { loadTextGeneration } from "../src/generation/load_pipeline.ts";
import type { GenerationDelta, TextGenerationPipeline } from "../src/generation/text_generation.ts";
import { InputError } from "../src/errors.ts";

/** Log-softmax rows of the logits a bare onnxruntime run gives for `ids` (one row per position from `from`). */
const REFERENCE_SCRIPT = `
import json, sys
import numpy as np
import onnxruntime as ort
path, ids, start = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
feeds = {}
n = len(ids)
for i in s.get_inputs():
    if i.name == "input_ids": feeds[i.name] = np.array([ids], dtype=np.int64)
    elif i.name == "attention_mask": feeds[i.name] = np.ones((1, n), dtype=np.int64)
    elif i.name == "position_ids": feeds[i.name] = np.arange(n, dtype=np.int64)[None]
    elif i.name.startswith("past_key_values"):
        shape = [1 if d == "batch_size" or not isinstance(d, int) and "batch" in str(d) else (0 if not isinstance(d, int) else d) for d in i.shape]
        feeds[i.name] = np.zeros(shape, dtype=np.float32)
logits = s.run(["logits"], feeds)[0][0].astype(np.float64)
rows = logits[start - 1 : n - 0]
out = []
for r in rows:
    m = r.max()
    lse = m + np.log(np.exp(r - m).sum())
    out.append((r - lse).tolist())
np.save(sys.argv[4], np.array(out, dtype=np.float64))
`;

/** The log-softmax of the reference run at positions `start-1 … ids.length-1` (row t predicts ids[start+t]). */
async function referenceLogprobs(model: string, ids: number[], start: number): Promise<Float64Array[]> {
  const tmp = await Deno.makeTempFile({ suffix: ".npy" });
  try {
    const out = await new Deno.Command(GEN_PYTHON, {
      args: ["-c", REFERENCE_SCRIPT, model, JSON.stringify(ids), String(start), tmp],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const bytes = await Deno.readFile(tmp);
    const headerLength = new DataView(bytes.buffer).getUint16(8, true);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
    const shape = /'shape': \((\d+), (\d+)\)/.exec(header)!;
    const [rows, cols] = [Number(shape[1]), Number(shape[2])];
    const data = new Float64Array(bytes.slice(10 + headerLength).buffer);
    return Array.from({ length: rows }, (_, r) => data.subarray(r * cols, (r + 1) * cols));
  } finally {
    await Deno.remove(tmp);
  }
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function topOrder(row: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: row.length }, (_, i) => i);
  return idx.sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
}

async function withQwen3<T>(fn: (p: TextGenerationPipeline, dir: string) => Promise<T>): Promise<T> {
  const dir = await generationFixture("qwen3");
  const p = await loadTextGeneration(dir, { variant: "fp32" });
  try {
    return await fn(p, dir);
  } finally {
    await p.dispose();
  }
}

Deno.test("features: presence and frequency penalties pick the argmax of logits − presence·[seen] − frequency·count (reference onnxruntime logits)", async () => {
  await withQwen3(async (p, dir) => {
    const prompt = "Once upon a time";
    const plain = await p.run(prompt, { maxNewTokens: 24, eosTokenId: [] });
    // the random fixture repeats itself: a penalty must change what greedy picks
    assert(new Set(plain.generatedIds).size < plain.generatedIds.length, `no repeats: ${plain.generatedIds}`);
    for (const [presence, frequency] of [[1.5, 0], [0, 0.7], [0.5, 1.2], [-1, 0]]) {
      const r = await p.run(prompt, {
        maxNewTokens: 24,
        eosTokenId: [],
        presencePenalty: presence,
        frequencyPenalty: frequency,
      });
      const ref = await referenceLogprobs(
        `${dir}/onnx/model.onnx`,
        [...r.promptIds, ...r.generatedIds.slice(0, -1)],
        r.promptIds.length,
      );
      assertEquals(ref.length, r.generatedIds.length);
      let penalised = 0;
      for (let t = 0; t < r.generatedIds.length; t++) {
        const counts = new Map<number, number>();
        for (const id of r.generatedIds.slice(0, t)) counts.set(id, (counts.get(id) ?? 0) + 1);
        const row = Float64Array.from(ref[t]);
        for (const [id, c] of counts) row[id] -= presence + frequency * c;
        const expected = argmax(row);
        assertEquals(r.generatedIds[t], expected, `presence ${presence} frequency ${frequency}, step ${t}`);
        if (expected !== argmax(ref[t])) penalised++;
      }
      if (presence > 0 || frequency > 0) {
        assert(penalised > 0, `presence ${presence} frequency ${frequency} changed no step`);
        assert(r.generatedIds.join() !== plain.generatedIds.join(), "the penalised output differs");
      }
    }
    await assertRejects(() => p.run(prompt, { presencePenalty: 3 }), InputError, "presence_penalty");
    await assertRejects(() => p.run(prompt, { frequencyPenalty: -2.5 }), InputError, "frequency_penalty");
  });
});

Deno.test("features: logprobs equal the log-softmax of a bare onnxruntime run's logits, top ids in argmax order, streamed per delta", async () => {
  await withQwen3(async (p, dir) => {
    const messages = [{ role: "user", content: "Name three colours." }];
    for (const sampling of [{}, { temperature: 1.3, topP: 0.9, seed: 5 }]) {
      const stream = p.generate(messages, { maxNewTokens: 16, logprobs: true, topLogprobs: 5, ...sampling });
      const deltas: GenerationDelta[] = [];
      for await (const d of stream.deltas()) deltas.push(d);
      const r = await stream.result;
      const lp = r.logprobs!;
      assertEquals(lp.map((t) => t.id), r.generatedIds);
      assertEquals(deltas.filter((d) => d.logprobs).map((d) => d.logprobs!.id), r.generatedIds, "one delta per token");
      assertEquals(deltas.map((d) => d.text).join(""), r.text, "delta texts concatenate to the text");
      const ref = await referenceLogprobs(
        `${dir}/onnx/model.onnx`,
        [...r.promptIds, ...r.generatedIds.slice(0, -1)],
        r.promptIds.length,
      );
      for (let t = 0; t < lp.length; t++) {
        assert(Math.abs(lp[t].logprob - ref[t][lp[t].id]) < 1e-4, `step ${t}: ${lp[t].logprob} vs ${ref[t][lp[t].id]}`);
        assertEquals(lp[t].top.map((x) => x.id), topOrder(ref[t], 5), `step ${t}: top ids`);
        for (const x of lp[t].top) assert(Math.abs(x.logprob - ref[t][x.id]) < 1e-4, `step ${t} top ${x.id}`);
      }
      const all = lp.filter((t) => !p.tokenizer.addedTokens.get(t.id)?.special).flatMap((t) => t.bytes);
      assertEquals(new TextDecoder().decode(new Uint8Array(all)), r.text, "token bytes spell the text");
    }
    const none = await p.run(messages, { maxNewTokens: 3 });
    assertEquals(none.logprobs, undefined, "no logprobs unless asked");
    await assertRejects(() => p.run(messages, { logprobs: true, topLogprobs: 21 }), InputError, "top_logprobs");
  });
});
