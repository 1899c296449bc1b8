/**
 * transformers.js (`@huggingface/transformers` 4.3), the peer gpux's generation is compared with: installed once with
 * npm into `tests/.fixtures/transformersjs` (`ONNXRUNTIME_NODE_INSTALL_CUDA=skip`: its onnxruntime-node 1.30 postinstall
 * otherwise fetches from an unreachable host) and run in a separate `node` process, because its onnxruntime-node 1.30
 * cannot share a process with gpux's 1.29.
 *
 * {@linkcode transformersJsGreedy} loads a local fixture folder (`local_files_only`, no network) and returns the ids
 * `model.generate` picks greedily for each request, with timings (for the benchmark).
 *
 * When npm cannot install it, the functions throw one clear line: tests fail, they never skip silently.
 *
 * @module
 */

const DIR = new URL("../.fixtures/transformersjs", import.meta.url).pathname;
/** The transformers.js version installed (pinned: a new release must be chosen, not picked up). */
export const TRANSFORMERS_JS_VERSION = "4.3.2";

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

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) => !/install-scripts|^npm warn\s*$/.test(l)).pop() ?? "";
}

async function install(): Promise<string> {
  const marker = `${DIR}/node_modules/@huggingface/transformers/package.json`;
  const installed = await exists(marker) &&
    JSON.parse(await Deno.readTextFile(marker)).version === TRANSFORMERS_JS_VERSION;
  if (!installed) {
    await Deno.mkdir(DIR, { recursive: true });
    await Deno.writeTextFile(`${DIR}/package.json`, JSON.stringify({ private: true, type: "module" }) + "\n");
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("npm", {
        args: [
          "install",
          "--no-audit",
          "--no-fund",
          "--no-save",
          `@huggingface/transformers@${TRANSFORMERS_JS_VERSION}`,
        ],
        cwd: DIR,
        env: { ONNXRUNTIME_NODE_INSTALL_CUDA: "skip", ONNXRUNTIME_NODE_INSTALL: "skip" },
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      throw new Error(`transformers.js: npm is not available (${(e as Error).message})`);
    }
    if (!out.success || !(await exists(marker))) {
      throw new Error(
        `transformers.js: npm install @huggingface/transformers@${TRANSFORMERS_JS_VERSION} failed: ${
          lastLine(new TextDecoder().decode(out.stderr))
        }`,
      );
    }
  }
  await Deno.writeTextFile(`${DIR}/runner.mjs`, RUNNER);
  return DIR;
}

let ready: Promise<string> | undefined;

/** Installs transformers.js when needed; returns its folder (holding `runner.mjs`). */
export function transformersJs(): Promise<string> {
  return ready ??= install();
}

/** Greedy ids (and timings) from transformers.js for `requests` on the model folder `dir`, in a `node` process. */
export async function transformersJsGreedy(
  dir: string,
  requests: TransformersJsRequest[],
  options: TransformersJsOptions = {},
): Promise<TransformersJsResult[]> {
  const home = await transformersJs();
  const wrapper = options.wrapper ?? [];
  const command = [...wrapper, "node", `${home}/runner.mjs`];
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: home,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(JSON.stringify({
      dir,
      requests,
      dtype: options.dtype ?? "fp32",
      model_file_name: options.modelFileName,
      threads: options.threads ?? 1,
    })),
  );
  await writer.close();
  const out = await child.output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`transformers.js failed on ${dir}: ${lastLine(text.decode(out.stderr))}`);
  }
  return JSON.parse(text.decode(out.stdout).trim().split("\n").pop()!).results;
}
