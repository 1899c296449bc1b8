/**
 * `gpux serve --parallel N` decodes up to N generations of a model together in one batched step (continuous
 * batching), under `deno task gpux serve`'s exact sandbox, on the Qwen3 generation fixture (real tokenizer): 12
 * concurrent streams with different prompts and parameters (greedy, seeded sampling, stop strings, budgets, JSON
 * mode, logprobs), some joining while others decode, one cancelled mid-way, each get exactly what the same request
 * gets alone from a `--parallel 1` server; `/info`, the ready line and `/metrics` show the batching. A layout whose
 * padded rows change its logits (onnxruntime-genai's GroupQueryAttention fixture) falls back to one sequence per
 * worker and says why.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { generationFixture } from "./support/generation_fixtures.ts";
import { running, type ServeProcess, startServe } from "./support/serve_process.ts";
import { parsePrometheusText } from "../src/serve/metrics.ts";

const QWEN = await generationFixture("qwen3");
const GENAI = await generationFixture("llama-genai");

interface Answer {
  text: string;
  finish: string | null;
  tokens: number;
  logprobs: number[];
}

/** Streams `/v1/completions` (SSE) and gathers the text, finish reason, token count and log-probabilities. */
async function complete(
  s: ServeProcess,
  body: Record<string, unknown>,
  options: { signal?: AbortSignal; onChunk?: (n: number) => void } = {},
): Promise<Answer> {
  const r = await fetch(`${s.url}/v1/completions`, {
    method: "POST",
    ...(options.signal ? { signal: options.signal } : {}),
    body: JSON.stringify({ model: "m", stream: true, stream_options: { include_usage: true }, ...body }),
  });
  assertEquals(r.status, 200, await r.clone().text());
  const answer: Answer = { text: "", finish: null, tokens: -1, logprobs: [] };
  let buffer = "", chunks = 0;
  for await (const piece of r.body!.pipeThrough(new TextDecoderStream())) {
    buffer += piece;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end).replace(/^data: /, "");
      buffer = buffer.slice(end + 2);
      if (event === "[DONE]") continue;
      const doc = JSON.parse(event);
      if (doc.usage) answer.tokens = doc.usage.completion_tokens;
      for (const c of doc.choices ?? []) {
        answer.text += c.text ?? "";
        if (c.finish_reason) answer.finish = c.finish_reason;
        answer.logprobs.push(...(c.logprobs?.token_logprobs ?? []));
      }
      options.onChunk?.(++chunks);
    }
  }
  return answer;
}

/** 12 requests: greedy, seeded sampling, stop strings, budgets, JSON mode, penalties, logprobs. */
const REQUESTS: Record<string, unknown>[] = [
  { prompt: "Hello there", max_tokens: 12, temperature: 0 },
  { prompt: "The quick brown fox jumps over the lazy dog and", max_tokens: 20, temperature: 0 },
  { prompt: "a", max_tokens: 5, temperature: 0 },
  { prompt: "Once upon a time", max_tokens: 16, temperature: 0.9, seed: 7 },
  { prompt: "Once upon a time", max_tokens: 16, temperature: 1.3, top_p: 0.8, seed: 8 },
  { prompt: "Numbers: 1 2 3 4", max_tokens: 9, temperature: 0.7, seed: 99, logprobs: 2 },
  { prompt: "Stop here please", max_tokens: 24, temperature: 0, stop: [","] },
  { prompt: "Give me JSON", max_tokens: 24, temperature: 0, response_format: { type: "json_object" } },
  {
    prompt: "Penalised words words words",
    max_tokens: 14,
    temperature: 0,
    presence_penalty: 1,
    frequency_penalty: 0.5,
  },
  { prompt: "Log probs", max_tokens: 7, temperature: 0, logprobs: 3 },
  { prompt: "x y z", max_tokens: 1, temperature: 0 },
  {
    prompt: "A much longer prompt than the others, to pad the rest of the batch a lot",
    max_tokens: 30,
    temperature: 0,
  },
];

async function metric(s: ServeProcess, name: string, labels: Record<string, string>): Promise<number> {
  const samples = parsePrometheusText(await (await fetch(`${s.url}/metrics`)).text());
  const hit = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return hit?.value ?? 0;
}

async function serve(model: string, parallel: number): Promise<ServeProcess> {
  return running(
    await startServe(
      [`m=${model}`, "--provider", "cpu", "--variant", "fp32", "--port", "0", "--parallel", String(parallel)],
      { sandbox: "exact", cwd: model },
    ),
  );
}

function sameAnswer(got: Answer, want: Answer, what: string): void {
  assertEquals(got.text, want.text, `${what}: text`);
  assertEquals(got.finish, want.finish, `${what}: finish reason`);
  assertEquals(got.tokens, want.tokens, `${what}: completion tokens`);
  assertEquals(got.logprobs.length, want.logprobs.length, `${what}: logprobs`);
  for (const [i, l] of got.logprobs.entries()) {
    assert(Math.abs(l - want.logprobs[i]) < 1e-4, `${what}: logprob ${i} ${l} vs ${want.logprobs[i]}`);
  }
}

Deno.test({
  name:
    "serve --parallel 16: 12 concurrent streams (some joining mid-way, one cancelled) each get their answer alone; metrics show batch sizes",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // alone: a --parallel 1 server answers each request by itself, one after another
    const solo = await serve(QWEN, 1);
    const expected: Answer[] = [];
    try {
      assertMatch(solo.ready, /m \(cpu, fp32, 1 worker, batching: off \(1 sequence at once: --parallel\)/);
      for (const r of REQUESTS) expected.push(await complete(solo, r));
    } finally {
      assertEquals(await solo.stop(), 0, solo.stderr());
    }
    assert(expected.some((e) => e.finish === "stop") && expected.some((e) => e.finish === "length"));
    JSON.parse(expected[7].text); // JSON mode held the output to JSON
    const s = await serve(QWEN, 16);
    try {
      assertMatch(s.ready, /m \(cpu, fp32, 1 worker, batching, text-generation\)/);
      const info = await (await fetch(`${s.url}/info`)).json();
      assertEquals([info.models[0].batching, info.models[0].parallel, info.models[0].workers], [true, 16, 1]);
      const cancelledBefore = await metric(s, "gpux_generations_total", { model: "m", reason: "cancelled" });
      // 8 start together; once each has streamed a chunk, 4 more join the running batch
      let streaming = 0;
      let wake: () => void = () => {};
      const allStreaming = new Promise<void>((resolve) => wake = resolve);
      const first = REQUESTS.slice(0, 8).map((r) =>
        complete(s, r, {
          onChunk: (n) => {
            if (n === 1 && ++streaming === 8) wake();
          },
        })
      );
      // one more that leaves after a few chunks (the client cancels its body, as a closed connection does)
      const cancelled = (async () => {
        const r = await fetch(`${s.url}/v1/completions`, {
          method: "POST",
          body: JSON.stringify({ model: "m", prompt: "cancel me", max_tokens: 400, temperature: 0, stream: true }),
        });
        const reader = r.body!.getReader();
        for (let i = 0; i < 3; i++) await reader.read();
        await reader.cancel();
      })();
      await allStreaming;
      const later = REQUESTS.slice(8).map((r) => complete(s, r));
      const got = await Promise.all([...first, ...later]);
      for (const [i, g] of got.entries()) sameAnswer(g, expected[i], `request ${i} ${JSON.stringify(REQUESTS[i])}`);
      await cancelled;
      let cancelledNow = cancelledBefore;
      for (let i = 0; i < 100 && cancelledNow === cancelledBefore; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        cancelledNow = await metric(s, "gpux_generations_total", { model: "m", reason: "cancelled" });
      }
      assertEquals(cancelledNow, cancelledBefore + 1);
      const generated = await metric(s, "gpux_generated_tokens_total", { model: "m" });
      const asked = got.reduce((n, g) => n + g.tokens, 0);
      assert(generated - asked < 400, `the cancelled one stopped early: ${generated - asked} tokens`);
      // every batched step was observed with its size: more than one row per step on average
      const steps = await metric(s, "gpux_batch_size_count", { model: "m" });
      const rows = await metric(s, "gpux_batch_size_sum", { model: "m" });
      assert(steps > 0 && rows / steps > 1.5, `batched steps ${steps}, rows ${rows}`);
      assert(rows / steps <= 16);
      assertEquals(await metric(s, "gpux_batch_size_bucket", { model: "m", le: "16" }), steps);
    } finally {
      assertEquals(await s.stop(), 0, s.stderr());
    }
  },
});

Deno.test({
  name:
    "serve --parallel 2 on the genai GroupQueryAttention layout: padding fails its check, so 2 workers, and says why",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // the onnxruntime-genai folder has no config.json (nor gpux.yml, nor a model card): its genai_config.json says it
    // generates text
    const dir = await Deno.makeTempDir({ prefix: "gpux_genai_" });
    for await (const f of Deno.readDir(GENAI)) await Deno.copyFile(`${GENAI}/${f.name}`, `${dir}/${f.name}`);
    const s = running(
      await startServe([`m=${dir}`, "--provider", "cpu", "--port", "0", "--parallel", "2"], {
        sandbox: "exact",
        cwd: dir,
      }),
    );
    try {
      assertMatch(
        s.ready,
        /m \(cpu, 2 workers, batching: off \(padding a shorter row changed this graph's logits \(by up to [^)]+\): 2 workers, one sequence each\)/,
      );
      const info = await (await fetch(`${s.url}/info`)).json();
      assertEquals([info.models[0].batching, info.models[0].workers], [false, 2]);
      assertMatch(info.models[0].batchingReason, /^padding a shorter row changed this graph's logits/);
      const body = { prompt: "Hello there", max_tokens: 8, temperature: 0 };
      const alone = await complete(s, body);
      const both = await Promise.all([complete(s, body), complete(s, body)]);
      for (const b of both) sameAnswer(b, alone, "genai");
    } finally {
      assertEquals(await s.stop(), 0, s.stderr());
      await Deno.remove(dir, { recursive: true });
    }
  },
});
