/**
 * The continuous batch (src/generation/continuous_batch.ts) on the real generation fixtures: the batching check
 * proves padding harmless on the llama/qwen3-shaped graphs (and says why not on GPT-2, which has no attention mask),
 * and sequences decoded together — joining at different steps, leaving at different steps, each with its own
 * settings, seed, stop strings, JSON mode and log-probabilities, one cancelled mid-way — end exactly as each does
 * alone through `pipeline.generate`.
 *
 * @module
 */
import { assert, assertEquals } from "./support/assert.ts";
import { generationFixture } from "./support/generation_fixtures.ts";
import { loadTextGeneration } from "../src/generation/load_pipeline.ts";
import type { GenerateOptions, TextGenerationPipeline } from "../src/generation/text_generation.ts";
import {
  batchedStep,
  batchingCheck,
  batchingObstacle,
  ContinuousBatch,
  prefillAlone,
  prefillTogether,
  prefillTogetherCheck,
  regroupPast,
} from "../src/generation/continuous_batch.ts";

interface Case {
  prompt: string;
  options: GenerateOptions;
}

/** 12 requests with different prompts and settings (greedy, seeded sampling, stop strings, budgets, JSON, logprobs). */
function cases(stopWord: string): Case[] {
  return [
    { prompt: "Hello there", options: { maxNewTokens: 12, temperature: 0 } },
    { prompt: "The quick brown fox jumps over the lazy dog and", options: { maxNewTokens: 20, temperature: 0 } },
    { prompt: "a", options: { maxNewTokens: 5, temperature: 0 } },
    { prompt: "Once upon a time", options: { maxNewTokens: 16, temperature: 0.9, seed: 7 } },
    { prompt: "Once upon a time", options: { maxNewTokens: 16, temperature: 1.3, topK: 40, seed: 8 } },
    { prompt: "Numbers: 1 2 3 4", options: { maxNewTokens: 9, temperature: 0.7, topP: 0.9, seed: 99 } },
    { prompt: "Stop here please", options: { maxNewTokens: 24, temperature: 0, stop: [stopWord] } },
    { prompt: "Give me JSON", options: { maxNewTokens: 24, temperature: 0, responseFormat: { type: "json_object" } } },
    {
      prompt: "Penalised words words words",
      options: { maxNewTokens: 14, temperature: 0, presencePenalty: 1, frequencyPenalty: 0.5, repetitionPenalty: 1.2 },
    },
    { prompt: "Log probs", options: { maxNewTokens: 7, temperature: 0, logprobs: true, topLogprobs: 3 } },
    { prompt: "x y z", options: { maxNewTokens: 1, temperature: 0 } },
    {
      prompt: "A much longer prompt than the others, to pad the rest of the batch a lot",
      options: { maxNewTokens: 10 },
    },
  ];
}

async function alone(p: TextGenerationPipeline, c: Case) {
  const r = await p.run(c.prompt, c.options);
  return { ids: r.generatedIds, text: r.text, finishReason: r.finishReason, logprobs: r.logprobs };
}

function batched(batch: ContinuousBatch, p: TextGenerationPipeline, c: Case, signal?: AbortSignal) {
  const spec = p.prepareSequence(c.prompt, c.options);
  let streamed = "";
  return batch.add({ ...spec, ...(signal ? { signal } : {}), onStep: (d) => streamed += d.text }).then((o) => {
    assertEquals(streamed, o.text, "the streamed deltas add up to the text");
    return { ids: o.generatedIds, text: o.text, finishReason: o.finishReason, logprobs: o.logprobs };
  });
}

type Fixture = "llama" | "gpt2" | "qwen3" | "llama-merged";

/** 12 sequences (the first six at once, the rest while they decode) through a batch: each ends as it does alone. */
async function joinsAndLeaves(fixture: Fixture, prefillTogether: boolean): Promise<void> {
  {
    const p = await loadTextGeneration(await generationFixture(fixture), { variant: "fp32" });
    try {
      const verdict = await batchingCheck(p.session, p.contract);
      assert(verdict.ok, `batching check: ${JSON.stringify(verdict)}`);
      const list = cases(fixture === "qwen3" ? "," : "e");
      const expected = [];
      for (const c of list) expected.push(await alone(p, c));
      const sizes: number[] = [];
      const prefills: number[] = [];
      const batch = new ContinuousBatch(p.session, p.contract, p.tokenizer, {
        maxRows: 8,
        onBatchStep: (n) => sizes.push(n),
        prefillTogether,
        onPrefill: (n) => prefills.push(n),
      });
      // the first half at once, the rest joining while the first ones decode (and more than maxRows: some wait)
      const first = list.slice(0, 6).map((c) => batched(batch, p, c));
      await new Promise((resolve) => setTimeout(resolve, 5));
      const later = list.slice(6).map((c) => batched(batch, p, c));
      const got = await Promise.all([...first, ...later]);
      for (const [i, g] of got.entries()) {
        assertEquals(g.ids, expected[i].ids, `case ${i} (${JSON.stringify(list[i])}) ids`);
        assertEquals(g.text, expected[i].text, `case ${i} text`);
        assertEquals(g.finishReason, expected[i].finishReason, `case ${i} finish reason`);
        if (expected[i].logprobs) {
          assertEquals(g.logprobs!.map((l) => l.token), expected[i].logprobs!.map((l) => l.token));
          for (const [k, l] of g.logprobs!.entries()) {
            assert(Math.abs(l.logprob - expected[i].logprobs![k].logprob) < 1e-4, `logprob ${k}`);
          }
        }
      }
      assert(Math.max(...sizes) > 1, `steps were batched: ${sizes.join(",")}`);
      assert(Math.max(...sizes) <= 8, "never more rows than maxRows");
      assertEquals(prefills.reduce((a, b) => a + b, 0), list.length, `every prompt prefilled once: ${prefills}`);
      if (prefillTogether) assert(Math.max(...prefills) > 1, `prompts were prefilled together: ${prefills}`);
      else assertEquals(Math.max(...prefills), 1, "one prefill run per prompt");
      assertEquals(batch.rows, 0);
    } finally {
      await p.dispose();
    }
  }
}

for (const fixture of ["llama", "gpt2", "qwen3", "llama-merged"] as const) {
  Deno.test(`continuous batch (${fixture}): 12 sequences joining at different steps each get their answer alone`, () =>
    joinsAndLeaves(fixture, false));
}

for (const fixture of ["llama", "qwen3", "llama-merged"] as const) {
  Deno.test(`continuous batch (${fixture}): prompts joining together, prefilled in one padded run, get their answer alone`, async () => {
    const p = await loadTextGeneration(await generationFixture(fixture), { variant: "fp32" });
    try {
      const verdict = await prefillTogetherCheck(p.session, p.contract);
      assert(verdict.ok, `prefill check: ${JSON.stringify(verdict)}`);
      // prompts of 3, 11 and 1 tokens in one run: each row's last logits are its logits alone
      const prompts = [[3, 4, 5], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [17]];
      const together = await prefillTogether(p.session, p.contract, prompts);
      for (const [i, prompt] of prompts.entries()) {
        const solo = await prefillAlone(p.session, p.contract, prompt);
        let worst = 0;
        for (let k = 0; k < solo.logits.length; k++) {
          worst = Math.max(worst, Math.abs(solo.logits[k] - together.logits[i][k]));
        }
        assert(worst < 1e-4, `${fixture} prompt ${i}: padded prefill logits differ by ${worst}`);
      }
    } finally {
      await p.dispose();
    }
    await joinsAndLeaves(fixture, true);
  });
}

Deno.test("continuous batch (llama): a cancelled sequence leaves within one step, the others are undisturbed", async () => {
  const p = await loadTextGeneration(await generationFixture("llama"), { variant: "fp32" });
  try {
    const list = cases("e").slice(0, 4).map((c) => ({ ...c, options: { ...c.options, maxNewTokens: 30 } }));
    const expected = [];
    for (const c of list) expected.push(await alone(p, c));
    const batch = new ContinuousBatch(p.session, p.contract, p.tokenizer, { maxRows: 8 });
    const controller = new AbortController();
    let steps = 0;
    const spec = p.prepareSequence("cancel me", { maxNewTokens: 30, temperature: 0 });
    let afterAbort = -1;
    const cancelled = batch.add({
      ...spec,
      signal: controller.signal,
      onStep: (d) => {
        if (d.tokenId === undefined) return;
        if (controller.signal.aborted) afterAbort++;
        if (++steps === 4) {
          controller.abort();
          afterAbort = 0;
        }
      },
    });
    const others = list.map((c) => batched(batch, p, c));
    const c = await cancelled;
    assertEquals(c.finishReason, "cancelled");
    assertEquals(c.generatedIds.length, 4, "no token after the step it was cancelled in");
    assertEquals(afterAbort, 0);
    const got = await Promise.all(others);
    for (const [i, g] of got.entries()) assertEquals(g.ids, expected[i].ids, `case ${i}`);
  } finally {
    await p.dispose();
  }
});

Deno.test("continuous batch: padding a row changes its logits only by float noise (llama, qwen3, merged)", async () => {
  for (const fixture of ["llama", "qwen3", "llama-merged"] as const) {
    const p = await loadTextGeneration(await generationFixture(fixture), { variant: "fp32" });
    try {
      // a row of 3 tokens padded to 11 columns, stepped next to a row of 11, against the same row stepped alone
      const short = [3, 4, 5];
      const long = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
      const a = await prefillAlone(p.session, p.contract, short);
      const b = await prefillAlone(p.session, p.contract, long);
      const solo = await batchedStep(p.session, p.contract, a.past, 3, [17], [3]);
      const past = regroupPast(p.contract, [{ past: a.past, row: 0, len: 3 }, { past: b.past, row: 0, len: 11 }], 11);
      const together = await batchedStep(p.session, p.contract, past, 11, [17, 18], [3, 11]);
      let worst = 0;
      for (let k = 0; k < solo.logits[0].length; k++) {
        worst = Math.max(worst, Math.abs(solo.logits[0][k] - together.logits[0][k]));
      }
      assert(worst < 1e-4, `${fixture}: padded logits differ by ${worst}`);
    } finally {
      await p.dispose();
    }
  }
});

Deno.test("continuous batch: graphs that cannot pad rows say why (no cache or mask; the genai GroupQueryAttention layout)", async () => {
  const genai = await loadTextGeneration(await generationFixture("llama-genai"));
  try {
    // GroupQueryAttention derives each row's length and positions from the mask itself: a left-padded row gets other
    // logits, so the check must refuse it (the server then decodes one sequence per worker)
    const verdict = await batchingCheck(genai.session, genai.contract);
    assert(
      !verdict.ok && /padding a shorter row changed this graph's logits/.test(verdict.reason),
      JSON.stringify(verdict),
    );
    // and a left-padded prompt prefilled next to a longer one, likewise
    const prefill = await prefillTogetherCheck(genai.session, genai.contract);
    assert(!prefill.ok && /prefilling a left-padded prompt changed/.test(prefill.reason), JSON.stringify(prefill));
  } finally {
    await genai.dispose();
  }
  const llama = await loadTextGeneration(await generationFixture("llama"), { variant: "fp32" });
  try {
    const { attentionMask: _, ...noMask } = llama.contract;
    assert(/attention_mask/.test(batchingObstacle(noMask) ?? ""));
    assert(/no KV cache/.test(batchingObstacle({ ...llama.contract, layers: [] }) ?? ""));
    assertEquals(batchingObstacle(llama.contract), undefined);
  } finally {
    await llama.dispose();
  }
});
