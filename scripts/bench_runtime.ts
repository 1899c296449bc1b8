/**
 * How much gpux's runtime adds on top of plain onnxruntime-node, measured in one process.
 *
 * For each model, the same inputs run through `GpuxSession.run` (validation and conversion
 * included) and through plain `InferenceSession.run` (an `ort.Tensor` built per call, as a caller
 * would), one session alive at a time, in 16 pairs of blocks (AB or BA, shuffled) so drift and order hit both alike. JSON parsing of inputs and JSON
 * printing of outputs are timed separately (they are not part of `run`).
 *
 * Both sides use the same intra-op thread count: gpux's default, the cores this process may use
 * (`availableCores()`). On cpu, each plain block is followed by one at onnxruntime's own default thread count, and
 * Python onnxruntime (`--python`, default `python3`, needs `onnxruntime` and `numpy`) runs the same model and inputs
 * in a helper process (`scripts/bench_runtime_python.py`), one block with its defaults and one with that thread
 * count before each plain block, so all sides share the machine's load; skipped with a note when Python or the
 * package is missing.
 *
 * Goals: gpux/plain ≤ 1.05 at the median for models taking ≥ 1 ms; < 50 µs added per call for tiny ones;
 * on cpu, gpux's defaults ≥ 1.4× faster than Python's defaults, and within 10% of Python at the same thread count.
 *
 * Usage: deno task bench:runtime [--runs N] [--rounds N] [--provider cpu|cuda|…] [--cases tiny,mid,heavy,npm] [--pairs N] [--python PATH|none] [--json]
 *        [--model file.onnx --shape name=1x3x224x224 … (--cases none to run only it)]
 * (runs per model = N × rounds, split over N pairs of blocks (default 16), each block a fresh session; `heavy`, a 4096² MatMul chain, is for GPUs and not in the default cases)
 *
 * @module
 */
import type * as Ort from "onnxruntime-node";
import { cpus, loadavg } from "node:os";
import { createSession, defaultIntraOpThreads, type GpuxSession } from "../src/runtime/session.ts";
import { loadOrt } from "../src/runtime/ort_module.ts";
import { writeNpy } from "../src/runtime/npy.ts";
import { executionProviderConfig, type ProviderName } from "../src/runtime/providers.ts";
import { percentile } from "../src/runtime/benchmark.ts";
import { synthesizeInputs } from "../src/runtime/synthetic_inputs.ts";
import { feedsFromJson, type TensorMap, tensorsToJson } from "../src/runtime/tensors.ts";
import { buildModel, identityModel, matmulChainModel } from "../tests/support/onnx_builder.ts";
import { npmModel } from "../tests/support/npm_models.ts";

interface Case {
  name: string;
  model: Uint8Array | string;
  feeds?: TensorMap;
  shapes?: Record<string, number[]>;
  batch?: number;
  runs: number;
}

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const RUNS = arg("--runs", 0);
const ROUNDS = arg("--rounds", 1);
function textArg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}
const PROVIDER = textArg("--provider", "cpu") as ProviderName;
const CASES = new Set(textArg("--cases", "tiny,mid,npm").split(","));
const PAIR_COUNT = Math.max(1, arg("--pairs", 16));
const PYTHON = textArg("--python", "python3");
// through loadOrt, as gpux does: an installed runtime folder (gpux runtime install cuda) is used by both sides
const ort = await loadOrt();
const THREADS = defaultIntraOpThreads();
type Tensor = Ort.Tensor;

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

async function measure(c: Case) {
  const runs = RUNS || c.runs;
  const gpuxSamples: number[] = [];
  const plainSamples: number[] = [];
  const ortDefaultSamples: number[] = [];
  const python = new PythonSide();
  // One session at a time: two onnxruntime sessions alive in one process disturb each other (their
  // intra-op thread pools spin on the same 2 cores; measured with two identical plain sessions, the one
  // created first ran up to 1.4× slower). So the sides take turns in blocks (ABBA ABBA), each block with
  // a fresh session, a few untimed runs, then its share of the timed runs; drift hits both sides alike.
  // 16 pairs of blocks; each pair runs AB or BA, half of each, in a shuffled (fixed-seed) order, so that
  // neither side sits systematically after the other (an A/A run with plain on both sides checks this)
  const PAIRS = PAIR_COUNT;
  const perBlock = Math.max(1, Math.ceil((runs * ROUNDS) / PAIRS));
  const orders = Array.from({ length: PAIRS }, (_, i) => i % 2 === 0);
  let seed = 12345;
  for (let i = orders.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % (i + 1);
    [orders[i], orders[j]] = [orders[j], orders[i]];
  }
  const turns = [true, false, ...orders.flatMap((gpuxFirst) => [gpuxFirst, !gpuxFirst])];
  const BLOCKS = turns.length - 2;
  let feeds: TensorMap | undefined;
  const aa = Deno.env.get("BENCH_AA") === "1"; // A/A check: the "gpux" side runs plain onnxruntime too
  for (let block = -2; block < BLOCKS; block++) {
    // blocks -2 and -1 warm the process up (JIT, allocator, CPU clocks) and are not timed
    const timed = block >= 0;
    const gpuxTurn = turns[block + 2];
    if (gpuxTurn && aa && feeds) {
      const plain = await ort.InferenceSession.create(c.model as string, {
        executionProviders: [executionProviderConfig(PROVIDER)],
        logSeverityLevel: 4,
        intraOpNumThreads: THREADS,
      });
      const f = feeds;
      const run = () => {
        const tensors: Record<string, Tensor> = {};
        // deno-lint-ignore no-explicit-any
        for (const name in f) tensors[name] = new ort.Tensor(f[name].dtype, f[name].data as any, f[name].shape);
        return plain.run(tensors);
      };
      for (let i = 0; i < 3; i++) await run();
      for (let i = 0; i < perBlock; i++) {
        const t = performance.now();
        await run();
        if (timed) gpuxSamples.push(performance.now() - t);
      }
      await plain.release();
      continue;
    }
    if (gpuxTurn) {
      const gpux = await createSession(c.model, { provider: PROVIDER });
      feeds ??= c.feeds ?? synthesizeInputs(gpux.inputs, { shapes: c.shapes, batch: c.batch });
      for (let i = 0; i < 3; i++) await gpux.run(feeds);
      for (let i = 0; i < perBlock; i++) {
        const t = performance.now();
        await gpux.run(feeds);
        if (timed) gpuxSamples.push(performance.now() - t);
      }
      await gpux.dispose();
    } else {
      // the plain side at gpux's thread count; on cpu then also at onnxruntime's own default (what gpux used to
      // inherit), right after it, so that the default's effect is measured under the same conditions
      if (PROVIDER === "cpu") {
        // Python's blocks sit between the Deno side's, under the same load
        if (!python.version && !python.skip) await python.start(c, feeds!);
        await python.blocks(perBlock, timed);
      }
      for (const ortDefault of PROVIDER === "cpu" ? [false, true] : [false]) {
        const plain = await ort.InferenceSession.create(c.model as string, {
          executionProviders: [executionProviderConfig(PROVIDER)],
          logSeverityLevel: 4,
          ...(ortDefault ? {} : { intraOpNumThreads: THREADS }),
        });
        const f = feeds!;
        const plainRun = () => {
          const tensors: Record<string, Tensor> = {};
          for (const name in f) {
            const t = f[name];
            // deno-lint-ignore no-explicit-any
            tensors[name] = new ort.Tensor(t.dtype, t.data as any, t.shape);
          }
          return plain.run(tensors);
        };
        for (let i = 0; i < 3; i++) await plainRun();
        for (let i = 0; i < perBlock; i++) {
          const t = performance.now();
          await plainRun();
          if (timed) (ortDefault ? ortDefaultSamples : plainSamples).push(performance.now() - t);
        }
        await plain.release();
      }
    }
  }
  const session = await createSession(c.model, { provider: PROVIDER }); // for the JSON timings
  await python.close();
  const pythonResult = PROVIDER === "cpu" ? python.result() : undefined;
  return await finish(c, session, feeds!, runs, gpuxSamples, plainSamples, ortDefaultSamples, pythonResult);
}

async function finish(
  c: Case,
  session: GpuxSession,
  feeds: TensorMap,
  runs: number,
  gpuxSamples: number[],
  plainSamples: number[],
  ortDefaultSamples: number[],
  python: { version: string; defaultMs: number; threadsMs: number; threads: number } | { skip: string } | undefined,
) {
  // JSON conversion, outside run: parse the inputs as `gpux run --input` would, print outputs as --json does
  const inputJson = JSON.stringify(tensorsToJson(feeds));
  const outputs = await session.run(feeds);
  const jsonIn: number[] = [];
  const jsonOut: number[] = [];
  for (let i = 0; i < Math.min(runs, 50); i++) {
    let t = performance.now();
    const parsed = JSON.parse(inputJson) as Record<string, { data: unknown }>;
    feedsFromJson(Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v])), session.inputs);
    jsonIn.push(performance.now() - t);
    t = performance.now();
    JSON.stringify(tensorsToJson(outputs));
    jsonOut.push(performance.now() - t);
  }
  await session.dispose();
  const p = median(plainSamples);
  const g = median(gpuxSamples);
  return {
    ortDefaultMs: ortDefaultSamples.length ? median(ortDefaultSamples) : undefined,
    python,
    model: c.name,
    inputs: Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.shape])),
    runs: gpuxSamples.length,
    plainMs: p,
    gpuxMs: g,
    ratio: g / p,
    addedUs: (g - p) * 1000,
    jsonInUs: median(jsonIn) * 1000,
    jsonOutUs: median(jsonOut) * 1000,
    goal: p >= 1 ? "ratio ≤ 1.05" : "added < 50 µs",
    met: p >= 1 ? g / p <= 1.05 : (g - p) * 1000 < 50,
  };
}

/**
 * Python onnxruntime on the same model and inputs, in a helper process that runs one block per request
 * (its defaults, or THREADS intra-op threads), so that its blocks interleave with the Deno side's.
 */
class PythonSide {
  #dir = "";
  #child?: Deno.ChildProcess;
  #lines?: AsyncIterator<string>;
  #writer?: WritableStreamDefaultWriter<Uint8Array>;
  version = "";
  skip?: string;
  readonly defaultSamples: number[] = [];
  readonly threadsSamples: number[] = [];

  async start(c: Case, feeds: TensorMap): Promise<void> {
    if (PYTHON === "none") return void (this.skip = "--python none");
    try {
      this.#dir = await Deno.makeTempDir({ prefix: "bench-py-" });
      let model = c.model;
      if (typeof model !== "string") {
        await Deno.writeFile(`${this.#dir}/model.onnx`, model);
        model = `${this.#dir}/model.onnx`;
      }
      const args = [new URL("bench_runtime_python.py", import.meta.url).pathname, model];
      for (const [i, [name, tensor]] of Object.entries(feeds).entries()) {
        await Deno.writeFile(`${this.#dir}/${i}.npy`, writeNpy(tensor));
        args.push(`${name}=${this.#dir}/${i}.npy`);
      }
      this.#child = new Deno.Command(PYTHON, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
      this.#writer = this.#child.stdin.getWriter();
      this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter())[
        Symbol.asyncIterator
      ]();
      this.version = JSON.parse(await this.#next()).version;
    } catch (error) {
      this.skip = `python: ${(error as Error).message}`;
      await this.close();
    }
  }

  async #next(): Promise<string> {
    const line = await this.#lines!.next();
    if (line.done) {
      const err = new TextDecoder().decode((await this.#child!.output()).stderr).trim().split("\n").pop();
      throw new Error(err || "the helper ended");
    }
    return line.value;
  }

  /** One block of `runs` timed runs with Python's defaults, then one with THREADS threads. */
  async blocks(runs: number, timed: boolean): Promise<void> {
    if (this.skip || !this.#writer) return;
    try {
      for (
        const [request, sink] of [["default", this.defaultSamples], [
          `threads ${THREADS}`,
          this.threadsSamples,
        ]] as const
      ) {
        await this.#writer.write(new TextEncoder().encode(`${request} ${runs}\n`));
        const samples: number[] = JSON.parse(await this.#next()).samples;
        if (timed) sink.push(...samples);
      }
    } catch (error) {
      this.skip = `python: ${(error as Error).message}`;
      await this.close();
    }
  }

  result(): { version: string; defaultMs: number; threadsMs: number; threads: number } | { skip: string } {
    if (this.skip || !this.defaultSamples.length) return { skip: this.skip ?? "no samples" };
    return {
      version: this.version,
      defaultMs: median(this.defaultSamples),
      threadsMs: median(this.threadsSamples),
      threads: THREADS,
    };
  }

  async close(): Promise<void> {
    try {
      await this.#writer?.close();
      await this.#child?.status;
    } catch {
      // already gone
    }
    this.#writer = undefined;
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    this.#dir = "";
  }
}

function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) controller.enqueue(line);
    },
    flush(controller) {
      if (rest.trim()) controller.enqueue(rest);
    },
  });
}

const cases: Case[] = [];
const modelArg = Deno.args.indexOf("--model");
if (modelArg >= 0) {
  // one model file with synthesised inputs of the given shapes (the GPU check's ResNet-50 and BERT)
  const shapes: Record<string, number[]> = {};
  Deno.args.forEach((a, i) => {
    if (a === "--shape") {
      const [name, dims] = Deno.args[i + 1].split("=");
      shapes[name] = dims.split("x").map(Number);
    }
  });
  const path = Deno.args[modelArg + 1];
  const shapeText = Object.entries(shapes).map(([n, d]) => `${n} ${d.join("×")}`).join(", ");
  cases.push({ name: `${path.split("/").pop()} ${shapeText}`, model: path, shapes, runs: RUNS || 100 });
}
if (CASES.has("tiny")) {
  cases.push({ name: "tiny: Identity f32[1,3]", model: buildModel(identityModel("float32", [1, 3])), runs: 2000 });
}
if (CASES.has("mid")) {
  cases.push({
    name: "mid: 4×MatMul+Tanh 1024², batch 8",
    model: buildModel(matmulChainModel(1024, 4)),
    batch: 8,
    runs: 200,
  });
}
if (CASES.has("heavy")) {
  cases.push({
    name: "heavy: 4×MatMul+Tanh 4096², batch 256",
    model: buildModel(matmulChainModel(4096, 4)),
    batch: 256,
    runs: 20,
  });
}
const skipped: string[] = [];
if (CASES.has("npm")) {
  const vad = await npmModel("sileroVadV5");
  if ("path" in vad) {
    cases.push({
      name: "npm: silero_vad_v5 (576 samples)",
      model: vad.path,
      feeds: {
        input: {
          dtype: "float32",
          shape: [1, 576],
          data: Float32Array.from({ length: 576 }, (_, i) => Math.sin(i / 9)),
        },
        state: { dtype: "float32", shape: [2, 1, 128], data: new Float32Array(256) },
        sr: { dtype: "int64", shape: [], data: BigInt64Array.of(16000n) },
      },
      runs: 1000,
    });
  } else skipped.push(vad.skip);
  const ocr = await npmModel("ocrClassifier");
  if ("path" in ocr) {
    cases.push({ name: "npm: PP-OCR cls 3×48×192", model: ocr.path, shapes: { x: [1, 3, 48, 192] }, runs: 300 });
  } else skipped.push(ocr.skip);
  const rec = await npmModel("ocrRecognizer");
  if ("path" in rec) {
    cases.push({ name: "npm: PP-OCRv4 rec 3×48×320", model: rec.path, shapes: { x: [1, 3, 48, 320] }, runs: 30 });
  } else skipped.push(rec.skip);
}

const results = [];
for (const c of cases) results.push(await measure(c));

if (Deno.args.includes("--json")) {
  console.log(JSON.stringify({ date: new Date().toISOString(), results, skipped }, null, 2));
} else {
  const cpu = cpus()[0]?.model ?? "?"; // /proc/cpuinfo would need --allow-all under Deno
  console.log(
    `bench_runtime · ${new Date().toISOString().slice(0, 16)}Z · ${cpu} · ${navigator.hardwareConcurrency} cores · ` +
      `load avg ${
        loadavg()[0].toFixed(1)
      }${cpuPressure()} · Deno ${Deno.version.deno} · onnxruntime-node ${ort.env.versions.node} · ${PROVIDER} provider · ${THREADS} intra-op threads (gpux default, plain the same) · ${PAIR_COUNT} shuffled AB/BA block pairs, one session at a time${
        Deno.env.get("BENCH_AA") === "1" ? " · A/A CHECK: both sides plain" : ""
      }`,
  );
  const rows = results.map((r) => [
    r.model,
    String(r.runs),
    r.plainMs.toFixed(4),
    r.gpuxMs.toFixed(4),
    r.ratio.toFixed(3),
    r.addedUs.toFixed(1),
    r.jsonInUs.toFixed(1),
    r.jsonOutUs.toFixed(1),
    `${r.met ? "met" : "MISSED"} (${r.goal})`,
    ...(PROVIDER === "cpu" ? [r.ortDefaultMs?.toFixed(4) ?? "-"] : []),
    ...(PROVIDER === "cpu" ? pythonCells(r.gpuxMs, r.python, r.model.startsWith("npm:")) : []),
  ]);
  const head = [
    "model",
    "runs",
    "plain p50 ms",
    "gpux p50 ms",
    "gpux/plain",
    "added µs",
    "JSON in µs",
    "JSON out µs",
    "goal",
    ...(PROVIDER === "cpu"
      ? [
        "plain, onnxruntime's default threads, p50 ms",
        "python default p50 ms",
        `python ${THREADS}-thread p50 ms`,
        "python default / gpux",
        "gpux / python same threads",
      ]
      : []),
  ];
  console.log(`| ${head.join(" | ")} |`);
  console.log(`| ${head.map(() => "---").join(" | ")} |`);
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  for (const s of skipped) console.log(`skipped: ${s}`);
  const py = results.map((r) => r.python).find((p) => p && "version" in p);
  if (py && "version" in py) console.log(`python onnxruntime ${py.version}`);
  for (const r of results) {
    if (r.python && "skip" in r.python) console.log(`python skipped (${r.model}): ${r.python.skip}`);
  }
}

/** `· cpu pressure N%`: the share of the last 10 s in which some task here waited for a CPU (Linux PSI), if readable. */
function cpuPressure(): string {
  try {
    const m = /some avg10=([\d.]+)/.exec(Deno.readTextFileSync("/proc/pressure/cpu"));
    return m ? ` · cpu pressure ${m[1]}%` : "";
  } catch {
    return "";
  }
}

function pythonCells(
  gpuxMs: number,
  python: { defaultMs: number; threadsMs: number } | { skip: string } | undefined,
  realModel: boolean, // the Python goals are about real models; generated ones are shown for reference
): string[] {
  if (!python || "skip" in python) return ["-", "-", "-", "-"];
  const speedup = python.defaultMs / gpuxMs;
  const same = gpuxMs / python.threadsMs;
  return [
    python.defaultMs.toFixed(4),
    python.threadsMs.toFixed(4),
    `${speedup.toFixed(2)}×${realModel ? ` (${speedup >= 1.4 ? "met" : "MISSED"} ≥ 1.4×)` : ""}`,
    `${same.toFixed(3)}${realModel ? ` (${same <= 1.1 ? "met" : "MISSED"} ≤ 1.10)` : ""}`,
  ];
}
