/**
 * transformers.js (`@huggingface/transformers` 4.3), the peer gpux's generation is compared with, installed and run
 * in a separate `node` process by transformers_js_node.ts.
 *
 * {@linkcode transformersJsGreedy} loads a local fixture folder (`local_files_only`, no network) and returns the ids
 * `model.generate` picks greedily for each request, with timings (for the benchmark).
 *
 * When npm cannot install it, the functions throw one clear line: tests fail, they never skip silently.
 *
 * @module
 */

import { lastLines } from "./command_output.ts";
import { runTransformersJsScript } from "./transformers_js_node.ts";

/** One greedy generation to run. */
export interface TransformersJsRequest {
  /** Prompt ids, one row per sequence (rows of different lengths are left padded with `pad_token_id`). */
  prompt_ids: number[][];
  /** New tokens at most. */
  max_new_tokens: number;
  /** EOS ids (an empty list: never stop early, for benchmarks). */
  eos_token_id: number[];
  /** The pad id for a batch. */
  pad_token_id?: number;
}

/** What transformers.js generated for one request. */
export interface TransformersJsResult {
  /** New ids per row, cut after the first EOS (transformers.js pads finished rows). */
  new_ids: number[][];
  /** Milliseconds from the generate call to the first new token (prefill + one step). */
  ttft_ms: number;
  /** Milliseconds of the whole generate call. */
  total_ms: number;
  /** Tokens per second after the first new token (per row). */
  decode_tokens_per_s: number;
}

/** Options of {@linkcode transformersJsGreedy}. */
export interface TransformersJsOptions {
  /** transformers.js dtype: `fp32` reads onnx/model.onnx, `q8` onnx/model_quantized.onnx (default fp32). */
  dtype?: "fp32" | "q8" | "int8" | "fp16" | "q4";
  /** Another graph name under onnx/ without `.onnx` (e.g. `decoder_model_merged`). */
  modelFileName?: string;
  /** intraOpNumThreads (default 1). */
  threads?: number;
  /** Prefix the node command (e.g. `["taskset", "-c", "0"]`). */
  wrapper?: string[];
}

const RUNNER = `// written by tests/support/transformers_js.ts: reads one JSON request on stdin, prints one JSON line
import { AutoModelForCausalLM, Tensor, env } from "@huggingface/transformers";
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = "/";
const options = { local_files_only: true, dtype: req.dtype ?? "fp32", device: "cpu",
  session_options: { intraOpNumThreads: req.threads ?? 1, interOpNumThreads: 1 } };
if (req.model_file_name) options.model_file_name = req.model_file_name;
const model = await AutoModelForCausalLM.from_pretrained(req.dir, options);
const results = [];
for (const r of req.requests) {
  const width = Math.max(...r.prompt_ids.map((row) => row.length));
  const pad = r.pad_token_id ?? 0;
  const ids = [], mask = [];
  for (const row of r.prompt_ids) {
    for (let i = row.length; i < width; i++) { ids.push(BigInt(pad)); mask.push(0n); }
    for (const t of row) { ids.push(BigInt(t)); mask.push(1n); }
  }
  const batch = r.prompt_ids.length;
  const input_ids = new Tensor("int64", BigInt64Array.from(ids), [batch, width]);
  const attention_mask = new Tensor("int64", BigInt64Array.from(mask), [batch, width]);
  const stamps = [];
  const streamer = { put() { stamps.push(performance.now()); }, end() {} };
  const noEos = r.eos_token_id.length === 0;
  const start = performance.now();
  const out = await model.generate({
    input_ids, attention_mask, max_new_tokens: r.max_new_tokens, do_sample: false, streamer,
    eos_token_id: noEos ? [-1] : r.eos_token_id, pad_token_id: pad,
    ...(noEos ? { min_new_tokens: r.max_new_tokens } : {}),
  });
  const total = performance.now() - start;
  const data = Array.from(out.data, Number);
  const cols = out.dims[1];
  const new_ids = [];
  for (let b = 0; b < batch; b++) {
    const row = data.slice(b * cols + width, (b + 1) * cols);
    const at = row.findIndex((t) => r.eos_token_id.includes(t));
    new_ids.push(at < 0 ? row : row.slice(0, at + 1));
  }
  // stamps[0]: the prompt handed to the streamer; stamps[1]: the first new token
  const first = stamps[1] ?? stamps[stamps.length - 1];
  const last = stamps[stamps.length - 1];
  const steps = stamps.length - 2;
  results.push({ new_ids, ttft_ms: first - start, total_ms: total,
    decode_tokens_per_s: steps > 0 ? steps / ((last - first) / 1000) : 0 });
}
await model.dispose();
process.stdout.write(JSON.stringify({ results }) + "\\n");
`;

/** Greedy ids (and timings) from transformers.js for `requests` on the model folder `dir`, in a `node` process. */
export async function transformersJsGreedy(
  dir: string,
  requests: TransformersJsRequest[],
  options: TransformersJsOptions = {},
): Promise<TransformersJsResult[]> {
  const out = await runTransformersJsScript("runner", RUNNER, [], {
    wrapper: options.wrapper,
    stdin: JSON.stringify({
      dir,
      requests,
      dtype: options.dtype ?? "fp32",
      model_file_name: options.modelFileName,
      threads: options.threads ?? 1,
    }),
  });
  if (!out.ok) throw new Error(`transformers.js failed on ${dir}: ${lastLines(out.err)}`);
  return JSON.parse(out.out.trim().split("\n").pop()!).results;
}
