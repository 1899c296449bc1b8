/**
 * `deno task bench:serve --generate`: text generation through `gpux serve`'s OpenAI API against the in-process
 * generator, in the same run, on the SmolLM2-135M-shaped random model (tests/.fixtures/bench-gen/smollm2-135m, built
 * by `deno task bench:generate`; `--model DIR` for another). Each client streams `/v1/completions` (SSE) with the same
 * prompt, greedy, `--new` tokens, `logprobs: 0` (so that every token makes a chunk: the random model's tokens may decode
 * to no text; the in-process generator is asked for log-probabilities too); columns: aggregate decode tokens/s (every completion token over the cell's wall time),
 * time to first token p50/p99 (from the request to the first content chunk), at each concurrency (`--concurrency
 * 1,4,16`), every cell against a server started with the same `--parallel` (default 16: one worker decoding up to 16
 * sequences together in one batched step). The in-process row is the generator called directly, one prompt after
 * another; the concurrency-1 cell sends as many requests, one after another (a higher concurrency: one wave of c).
 * The last line gives each concurrency's aggregate tokens/s over concurrency 1's, measured in the same run.
 *
 * @module
 */
import { cpus, loadavg } from "node:os";
import { loadTextGeneration } from "../src/generation/load_pipeline.ts";
import { setOrtLogLevel } from "../src/runtime/session.ts";
import { percentile } from "../src/runtime/benchmark.ts";
import { running, startServe } from "../tests/support/serve_process.ts";

function textArg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

interface Row {
  runner: string;
  concurrency: number;
  parallel: number;
  tokensPerSecond: number;
  ttftP50: number;
  ttftP99: number;
  requests: number;
}

function sorted(values: number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

const PROMPT = "The history of the lighthouse begins with fires lit on hills to guide ships home at night, ".repeat(4);

/** Runs the generate benchmark and prints its table. */
export async function benchServeGenerate(): Promise<void> {
  const dir = textArg("--model", new URL("../tests/.fixtures/bench-gen/smollm2-135m", import.meta.url).pathname);
  const concurrency = textArg("--concurrency", "1,4,16").split(",").map(Number);
  const parallel = Number(textArg("--parallel", "16"));
  const newTokens = Number(textArg("--new", "32"));
  const threads = Number(textArg("--threads", "1"));
  try {
    await Deno.stat(`${dir}/config.json`);
  } catch {
    console.error(`no model in ${dir}: build it with deno task bench:generate (or pass --model DIR)`);
    Deno.exit(1);
  }
  await setOrtLogLevel("fatal");
  const rows: Row[] = [];
  // requests of the in-process row and of the concurrency-1 cell, one after another
  const rounds = Math.max(...concurrency.filter((c) => c <= 4), 1);
  const startLoad = loadavg();
  // in-process: the generator called directly, one prompt at a time
  {
    const p = await loadTextGeneration(dir, { provider: "cpu", intraOpThreads: threads });
    const ttft: number[] = [];
    let tokens = 0;
    await p.run(PROMPT, { maxNewTokens: 4, temperature: 0, eosTokenId: [] }); // warm-up
    // every step is timed by its token (logprobs on both sides: a random model's tokens may decode to no text)
    const started = performance.now();
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const stream = p.generate(PROMPT, { maxNewTokens: newTokens, temperature: 0, eosTokenId: [], logprobs: true });
      let first = true;
      for await (const _ of stream.deltas()) {
        if (first) ttft.push(performance.now() - t0);
        first = false;
      }
      tokens += (await stream.result).usage.generatedTokens;
    }
    const wall = performance.now() - started;
    rows.push({
      runner: "in-process generator",
      concurrency: 1,
      parallel: 1,
      tokensPerSecond: tokens / (wall / 1000),
      ttftP50: percentile(sorted(ttft), 50),
      ttftP99: percentile(sorted(ttft), 99),
      requests: rounds,
    });
    await p.dispose();
    console.error(`in-process: ${rows[0].tokensPerSecond.toFixed(1)} tokens/s`);
  }
  for (const c of concurrency) {
    const server = running(
      await startServe([
        `m=${dir}`,
        ...["--provider", "cpu", "--port", "0", "--quiet", "--parallel", String(parallel)],
        ...["--intra-op-threads", String(threads), "--timeout-ms", "0", "--max-queue", "1024"],
      ]),
    );
    try {
      const one = async () => {
        const t0 = performance.now();
        const r = await fetch(`${server.url}/v1/completions`, {
          method: "POST",
          body: JSON.stringify({
            model: "m",
            prompt: PROMPT,
            max_tokens: newTokens,
            temperature: 0,
            logprobs: 0,
            stream: true,
            stream_options: { include_usage: true },
          }),
        });
        let ttft = NaN, tokens = 0, buffer = "";
        for await (const chunk of r.body!.pipeThrough(new TextDecoderStream())) {
          buffer += chunk;
          if (Number.isNaN(ttft) && buffer.includes('"token_logprobs":[')) {
            ttft = performance.now() - t0;
          }
        }
        const usage = buffer.match(/"completion_tokens":(\d+)/);
        if (usage) tokens = Number(usage[1]);
        return { ttft, tokens };
      };
      await one(); // warm-up
      // concurrency 1 is one request at a time, as many as the in-process row runs (one request alone is too
      // short a sample on a shared machine); a higher concurrency is one wave of c requests
      const waves = c === 1 ? rounds : 1;
      const started = performance.now();
      const results = [];
      for (let w = 0; w < waves; w++) results.push(...await Promise.all(Array.from({ length: c }, one)));
      const wall = performance.now() - started;
      const tokens = results.reduce((n, r) => n + r.tokens, 0);
      const ttft = results.map((r) => r.ttft).filter((t) => !Number.isNaN(t));
      rows.push({
        runner: "gpux serve /v1/completions (SSE)",
        concurrency: c,
        parallel,
        tokensPerSecond: tokens / (wall / 1000),
        ttftP50: percentile(sorted(ttft), 50),
        ttftP99: percentile(sorted(ttft), 99),
        requests: results.length,
      });
      console.error(`serve c=${c}: ${rows[rows.length - 1].tokensPerSecond.toFixed(1)} tokens/s`);
    } finally {
      await server.stop();
    }
  }
  const endLoad = loadavg();
  const header = ["runner", "concurrency", "--parallel", "tokens/s (all streams)", "TTFT p50 ms", "TTFT p99 ms"];
  const table = rows.map((r) => [
    r.runner,
    String(r.concurrency),
    String(r.parallel),
    r.tokensPerSecond.toFixed(1),
    r.ttftP50.toFixed(1),
    r.ttftP99.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of table) console.log(line(row));
  console.log(
    `\n${
      dir.split("/").pop()
    }, ${newTokens} new tokens a request, ${threads} intra-op thread(s) per worker; ${cpus().length} cores, load average ${
      startLoad.map((v) => v.toFixed(2)).join(" ")
    } at the start, ${endLoad.map((v) => v.toFixed(2)).join(" ")} at the end`,
  );
  const served = rows.filter((r) => r.runner !== "in-process generator");
  const base = served.find((r) => r.concurrency === 1);
  if (base) {
    console.log(
      `aggregate tokens/s over concurrency 1 (--parallel ${parallel}): ${
        served.map((r) => `c=${r.concurrency} ${(r.tokensPerSecond / base.tokensPerSecond).toFixed(2)}×`).join(", ")
      }`,
    );
  }
}
