/**
 * `deno task bench:generate`: greedy decoding speed on a random-weight model with SmolLM2-135M's shape (LlamaConfig
 * hidden 576, intermediate 1536, 30 layers, 9 heads, 3 KV heads, vocab 49,152, tied), built once by
 * scripts/bench_generate.py into tests/.fixtures/bench-gen/ (never committed; ~3 min, 540 MB ONNX + 540 MB safetensors).
 *
 * A 128-token prompt + 128 new tokens, greedy, EOS ignored, on the same files in the same run, each runner in its own
 * process pinned with `taskset` and told the same thread count (1, then 2):
 * - `ort-node`: a bare onnxruntime-node 1.29 `session.run` loop (written here, the floor any engine pays),
 * - `gpux`: gpux's generation engine (src/generation/load_pipeline.ts; the column is left out, said on stderr, where
 *   the tree has no engine yet, or with `--without-gpux`),
 * - `transformers.js`: `@huggingface/transformers` 4.3 `model.generate` (tests/support/transformers_js.ts, in node),
 * - `python-ort`: a Python onnxruntime 1.30 loop, and `torch`: PyTorch `generate` on the same weights.
 *
 * Columns: prefill ms (the prompt's forward pass; generate APIs only expose TTFT), time to first token, decode
 * tokens/s (after the first token), peak RSS (`/usr/bin/time -f %M` of the whole process), and the 1-minute load
 * average when the runner started (mean over rounds; this machine is shared: read numbers beside it).
 *
 * Flags: `--threads 1,2` `--prompt 128` `--new 128` `--rounds 1` (best of N, runner order alternating each round)
 * `--without-gpux` `--only ort-node,gpux,transformers.js,python-ort,torch`
 * `--shape smollm2-135m|qwen2.5-0.5b` (the 0.5B shape needs ~9 GB to export and 2 GB of disk).
 * `--seq2seq`: Whisper's real time factor instead (scripts/bench_seq2seq.ts, with its own flags).
 *
 * @module
 */
import * as ort from "onnxruntime-node";
import { generationFixture, generationPython } from "../tests/support/generation_fixtures.ts";
import { transformersJsGreedy } from "../tests/support/transformers_js.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const BENCH_DIR = `${ROOT}tests/.fixtures/bench-gen`;
const PY_SCRIPT = `${ROOT}scripts/bench_generate.py`;
const SELF = new URL(import.meta.url).pathname;
const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-ffi", "--allow-env", "--allow-sys", "--allow-run"];

/** The same deterministic prompt as scripts/bench_generate.py (ids 10..999). */
function promptIds(n: number): number[] {
  return Array.from({ length: n }, (_, i) => 10 + (i * 7919) % 990);
}

interface Timing {
  prefill_ms: number | null;
  ttft_ms: number;
  decode_tokens_per_s: number;
}

interface Row extends Timing {
  runner: string;
  threads: number;
  peak_rss_mb: number;
  load_avg: number;
}

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

function i64(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), dims);
}

/** The bare loop: what any engine on onnxruntime-node has to do at least. */
async function runOrtNode(dir: string, threads: number, ids: number[], maxNew: number): Promise<Timing> {
  const session = await ort.InferenceSession.create(`${dir}/onnx/model.onnx`, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const generate = async (prompt: number[], n: number): Promise<Timing> => {
    const t0 = performance.now();
    const feed: Record<string, ort.Tensor> = {
      input_ids: i64(prompt, [1, prompt.length]),
      attention_mask: i64(prompt.map(() => 1), [1, prompt.length]),
      position_ids: i64(prompt.map((_, i) => i), [1, prompt.length]),
    };
    for (const meta of session.inputMetadata) {
      if (!meta.name.startsWith("past_key_values.") || !meta.isTensor) continue;
      const [, heads, , headDim] = meta.shape as number[];
      feed[meta.name] = new ort.Tensor("float32", new Float32Array(0), [1, heads, 0, headDim]);
    }
    let total = prompt.length;
    let prefill = 0, first = 0;
    for (let step = 0; step < n; step++) {
      const results = await session.run(feed);
      if (step === 0) prefill = performance.now() - t0;
      const logits = results.logits;
      const [, seq, vocab] = logits.dims as number[];
      const data = logits.data as Float32Array;
      const base = (seq - 1) * vocab;
      let best = 0;
      for (let v = 1; v < vocab; v++) if (data[base + v] > data[base + best]) best = v;
      if (step === 0) first = performance.now();
      total++;
      feed.input_ids = i64([best], [1, 1]);
      feed.attention_mask = i64(Array(total).fill(1), [1, total]);
      feed.position_ids = i64([total - 1], [1, 1]);
      for (const name of session.outputNames) {
        if (name.startsWith("present.")) feed[`past_key_values.${name.slice("present.".length)}`] = results[name];
      }
    }
    const end = performance.now();
    return { prefill_ms: prefill, ttft_ms: first - t0, decode_tokens_per_s: (n - 1) / ((end - first) / 1000) };
  };
  await generate(ids.slice(0, 8), 4);
  const timing = await generate(ids, maxNew);
  await session.release();
  return timing;
}

/**
 * gpux's engine. The import is resolved at run time so that this script type-checks on branches without the engine
 * (src/generation/ lands with the generation engine).
 */
async function runGpux(
  dir: string,
  threads: number,
  ids: number[],
  maxNew: number,
  mapWeights = false,
): Promise<Timing> {
  const where = new URL("../src/generation/load_pipeline.ts", import.meta.url).href;
  // deno-lint-ignore no-explicit-any
  const engine: any = await import(where);
  const pipeline = await engine.loadTextGeneration(dir, { intraOpThreads: threads, interOpThreads: 1, mapWeights });
  // an EOS id no model here can emit (ids stop at the vocabulary size): EOS ignored, as for every column
  const options = { maxNewTokens: maxNew, eosTokenId: [2 ** 31 - 1], doSample: false };
  await pipeline.run({ ids: ids.slice(0, 8) }, { ...options, maxNewTokens: 4 });
  const result = await pipeline.run({ ids }, options);
  await pipeline.dispose();
  const t = result.timings;
  if (result.generatedIds.length !== maxNew) {
    throw new Error(`gpux generated ${result.generatedIds.length} tokens, not ${maxNew} (EOS not ignored?)`);
  }
  return { prefill_ms: t.prefillMs, ttft_ms: t.timeToFirstTokenMs, decode_tokens_per_s: t.generatedTokensPerSecond };
}

/** MiB of fp32 keys and values for `positions` positions, from config.json (the KV cache the goal allows for). */
async function kvCacheMb(dir: string, positions: number): Promise<number> {
  const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  const layers = config.num_hidden_layers;
  const heads = config.num_key_value_heads ?? config.num_attention_heads;
  const headDim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
  return (2 * layers * heads * headDim * positions * 4) / 2 ** 20;
}

async function engineExists(): Promise<boolean> {
  try {
    await Deno.stat(new URL("../src/generation/load_pipeline.ts", import.meta.url));
    return true;
  } catch {
    return false;
  }
}

function pin(threads: number): string[] {
  return ["taskset", "-c", Array.from({ length: threads }, (_, i) => i).join(",")];
}

async function timed(
  threads: number,
  run: (wrapper: string[]) => Promise<Timing>,
): Promise<Timing & { peak_rss_mb: number; load_avg: number }> {
  const rssFile = await Deno.makeTempFile({ prefix: "bench-gen-rss-" });
  try {
    const load = Deno.loadavg()[0];
    const timing = await run([...pin(threads), "/usr/bin/time", "-q", "-f", "%M", "-o", rssFile]);
    const kb = Number((await Deno.readTextFile(rssFile)).trim().split("\n").pop());
    return { ...timing, peak_rss_mb: kb / 1024, load_avg: load };
  } finally {
    await Deno.remove(rssFile).catch(() => {});
  }
}

async function subprocess(command: string[]): Promise<Timing> {
  const out = await new Deno.Command(command[0], { args: command.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`${command.slice(0, 8).join(" ")} failed: ${text.decode(out.stderr).trim().split("\n").pop()}`);
  }
  return JSON.parse(text.decode(out.stdout).trim().split("\n").pop()!);
}

async function ensureModel(shape: string): Promise<string> {
  const dir = `${BENCH_DIR}/${shape}`;
  try {
    await Deno.stat(`${dir}/onnx/model.onnx`);
    return dir;
  } catch { /* build it */ }
  const llama = await generationFixture("llama"); // its tokenizer ids fit any vocabulary here
  await Deno.mkdir(BENCH_DIR, { recursive: true });
  console.error(`building the ${shape}-shaped model into ${dir} (once; minutes)...`);
  const out = await new Deno.Command(await generationPython(), {
    args: [PY_SCRIPT, "build", dir, "--tokenizer-from", llama, "--shape", shape],
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`bench_generate.py build failed: ${new TextDecoder().decode(out.stderr).trim().split("\n").pop()}`);
  }
  return dir;
}

function fmt(v: number | null, digits = 1): string {
  return v === null ? "—" : v.toFixed(digits);
}

async function main(): Promise<void> {
  if (Deno.args.includes("--seq2seq")) {
    // Whisper's real time factor: scripts/bench_seq2seq.ts (its own flags)
    const { main: seq2seq } = await import("./bench_seq2seq.ts");
    return await seq2seq();
  }
  const runnerMode = Deno.args.indexOf("--runner");
  if (runnerMode >= 0) {
    const [runner, dir, threads, prompt, maxNew] = Deno.args.slice(runnerMode + 1);
    const args = [dir, Number(threads), promptIds(Number(prompt)), Number(maxNew)] as const;
    const timing = runner === "gpux"
      ? await runGpux(...args)
      : runner === "gpux-mapped"
      ? await runGpux(...args, true)
      : await runOrtNode(...args);
    console.log(JSON.stringify(timing));
    return;
  }
  const shape = flag("shape", "smollm2-135m");
  const threadsList = flag("threads", "1,2").split(",").map(Number);
  const promptLen = Number(flag("prompt", "128"));
  const maxNew = Number(flag("new", "128"));
  const withGpux = !Deno.args.includes("--without-gpux") && await engineExists();
  const all = ["ort-node", ...(withGpux ? ["gpux"] : []), "transformers.js", "python-ort", "torch"];
  if (!withGpux) console.error("no gpux column: src/generation/load_pipeline.ts (the engine) is not in this tree");
  const only = flag("only", all.join(",")).split(",");
  // gpux-mapped: gpux with `mapWeights: true` (inline weights read in place: less memory), only when named in --only
  if (withGpux && only.includes("gpux-mapped")) all.splice(2, 0, "gpux-mapped");
  const dir = await ensureModel(shape);
  const data = await Deno.stat(`${dir}/onnx/model.onnx.data`).then((f) => f.size, () => 0); // external weights
  const size = ((await Deno.stat(`${dir}/onnx/model.onnx`)).size + data) / 2 ** 20;
  const ids = promptIds(promptLen);
  const rounds = Number(flag("rounds", "1"));
  const runs: Row[] = [];
  const runners = all.filter((r) => only.includes(r));
  for (let round = 0; round < rounds; round++) {
    // odd rounds run the runners in reverse order, so that a busy spell on the shared machine hits different ones
    for (const threads of threadsList) {
      for (const runner of round % 2 ? [...runners].reverse() : runners) {
        const result = await timed(threads, async (wrapper) => {
          if (runner === "ort-node" || runner === "gpux" || runner === "gpux-mapped") {
            const deno = [Deno.execPath(), "run", "--quiet", ...PERMISSIONS, SELF, "--runner", runner, dir];
            return await subprocess([...wrapper, ...deno, String(threads), String(promptLen), String(maxNew)]);
          }
          if (runner === "transformers.js") {
            const [r] = await transformersJsGreedy(
              dir,
              [{ prompt_ids: [ids], max_new_tokens: maxNew, eos_token_id: [] }],
              {
                threads,
                wrapper,
              },
            );
            if (r.new_ids[0].length !== maxNew) {
              throw new Error(`transformers.js generated ${r.new_ids[0].length} tokens`);
            }
            return { prefill_ms: null, ttft_ms: r.ttft_ms, decode_tokens_per_s: r.decode_tokens_per_s };
          }
          const mode = runner === "python-ort" ? "ort" : "torch";
          const args = [PY_SCRIPT, mode, dir, "--threads", String(threads), "--prompt", String(promptLen)];
          return await subprocess([...wrapper, await generationPython(), ...args, "--new", String(maxNew)]);
        });
        runs.push({ runner, threads, ...result });
        console.error(
          `${runner} threads=${threads}: ${fmt(result.decode_tokens_per_s)} tok/s (load ${result.load_avg.toFixed(2)})`,
        );
      }
    }
  }
  // best of the rounds: the fastest decode and first token, the largest peak RSS, the mean load
  const rows: Row[] = [];
  for (const threads of threadsList) {
    for (const runner of runners) {
      const mine = runs.filter((r) => r.runner === runner && r.threads === threads);
      const prefills = mine.map((r) => r.prefill_ms).filter((v): v is number => v !== null);
      rows.push({
        runner,
        threads,
        prefill_ms: prefills.length ? Math.min(...prefills) : null,
        ttft_ms: Math.min(...mine.map((r) => r.ttft_ms)),
        decode_tokens_per_s: Math.max(...mine.map((r) => r.decode_tokens_per_s)),
        peak_rss_mb: Math.max(...mine.map((r) => r.peak_rss_mb)),
        load_avg: mine.reduce((a, r) => a + r.load_avg, 0) / mine.length,
      });
    }
  }
  console.log(
    `\n${shape}-shaped random Llama (ONNX ${size.toFixed(0)} MB), ${promptLen}-token prompt + ${maxNew} new, ` +
      `greedy, EOS ignored, taskset-pinned, best of ${rounds} round(s); load average at the end ${
        Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
      }`,
  );
  console.log("\n| runner | threads | prefill ms | TTFT ms | decode tok/s | peak RSS MB | load avg (1 min) |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    console.log(
      `| ${r.runner} | ${r.threads} | ${fmt(r.prefill_ms, 0)} | ${fmt(r.ttft_ms, 0)} | ${
        fmt(r.decode_tokens_per_s)
      } | ` +
        `${fmt(r.peak_rss_mb, 0)} | ${r.load_avg.toFixed(2)} |`,
    );
  }
  const kvMb = await kvCacheMb(dir, promptLen + maxNew);
  for (const r of rows.filter((r) => r.runner.startsWith("gpux"))) {
    const goal = size + kvMb + 250;
    console.log(
      `\nthreads ${r.threads}: ${r.runner} peak RSS ${fmt(r.peak_rss_mb, 0)} MB; goal <= model ${
        size.toFixed(0)
      } + KV cache ${kvMb.toFixed(1)} + 250 = ${goal.toFixed(0)} MB`,
    );
  }
  for (const threads of threadsList) {
    const base = rows.find((r) => r.runner === "ort-node" && r.threads === threads);
    const gpux = rows.find((r) => r.runner === "gpux" && r.threads === threads);
    const tjs = rows.find((r) => r.runner === "transformers.js" && r.threads === threads);
    if (gpux && base && tjs) {
      console.log(
        `\nthreads ${threads}: gpux decode = ${
          (gpux.decode_tokens_per_s / base.decode_tokens_per_s).toFixed(2)
        }x the bare ` +
          `loop (goal >= 0.95), ${
            (gpux.decode_tokens_per_s / tjs.decode_tokens_per_s).toFixed(2)
          }x transformers.js (goal >= 1.2)`,
      );
    }
  }
}

if (import.meta.main) await main();
