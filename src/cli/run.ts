/**
 * `gpux run <model>`: one inference with inputs from JSON or .npy, outputs printed or written.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { InputError } from "../errors.ts";
import type { CliContext } from "./context.ts";
import type { Output } from "./output.ts";
import { loadModel } from "../runtime/load_model.ts";
import { type GpuxSession, setOrtLogLevel } from "../runtime/session.ts";
import {
  elementCount,
  formatShape,
  fromFloat16Bits,
  jsonValues,
  nest,
  quoteName,
  type TensorData,
  type TensorMap,
  tensorsToJson,
} from "../runtime/tensors.ts";
import {
  collect,
  fallbacksJson,
  graphOptArg,
  loadOptions,
  modelJson,
  PROVIDER_HELP,
  providerArg,
  readFeeds,
  shapesArg,
  warnFallbacks,
  writeOutputs,
} from "./runtime_flags.ts";
import { INT_FLAGS, intFlag } from "./int_flag.ts";
import { benchmarkJson, printBenchmark } from "./bench.ts";

/** Largest tensor printed in full on a terminal. */
const FULL_PRINT_LIMIT = 64;

/** `gpux run`. */
export function runCommand(ctx: CliContext) {
  return new Command("run")
    .description("Run a model once on the best execution provider and print its outputs")
    .argument("<model>", "an .onnx file, a directory with gpux.yml (or one .onnx), or a cached Hub id org/name[@rev]")
    .option("-i, --input <json>", `inputs as JSON: '{"name": [[1, 2]]}' or {"data", "shape", "dtype"} per input`)
    .option("-f, --file <path>", "read the --input JSON from a file (- for stdin)")
    .option("--input-npy <name=path>", "one input from a .npy file (repeatable)", collect)
    .option(
      "-o, --output <path>",
      "write outputs: out.json (all), out.npy (single output) or NAME=out.npy (repeatable)",
      collect,
    )
    .option("-p, --provider <name>", PROVIDER_HELP, providerArg)
    .option("--device-id <n>", "GPU index for cuda/tensorrt/dml", intFlag("--device-id", INT_FLAGS.deviceId))
    .option("--variant <name>", "ONNX variant of a Hub model or directory (fp32, fp16, quantized, …)")
    .option("--cache-dir <dir>", "Hub cache directory (default HF_HUB_CACHE or $HF_HOME/hub)")
    .option("--pull", "pull a Hub model that is not cached yet")
    .option("--graph-optimization <level>", "disabled|basic|extended|all (default all)", graphOptArg)
    .option("--intra-op-threads <n>", "threads inside one operator", intFlag("--intra-op-threads", INT_FLAGS.threads))
    .option("--inter-op-threads <n>", "threads across operators", intFlag("--inter-op-threads", INT_FLAGS.threads))
    .option("--benchmark", "time repeated runs instead (same as gpux bench)")
    .option("--runs <n>", "with --benchmark: timed runs", intFlag("--runs", INT_FLAGS.runs), 100)
    .option("--warmup <n>", "with --benchmark: untimed runs first", intFlag("--warmup", INT_FLAGS.warmup), 10)
    .option("--shape <name=dims>", "with --benchmark: shape of a synthesised input, e.g. x=1x3x224x224", collect)
    .option("--batch <n>", "with --benchmark: size of a dynamic batch dimension", intFlag("--batch", INT_FLAGS.batch))
    .option("--json", "print one JSON document: {model, provider, outputs, timings}")
    .option("-q, --quiet", "no progress or timing lines on stderr")
    .action(async (model, flags) => {
      const out = ctx.output({ json: flags.json, quiet: flags.quiet });
      await setOrtLogLevel("fatal");
      const started = performance.now();
      const session = await loadModel(model, loadOptions(ctx, flags, out));
      try {
        warnFallbacks(out, session);
        const feeds = await readFeeds(flags, session.inputs) ?? (session.inputs.length === 0 ? {} : undefined);
        if (flags.benchmark) {
          const result = await session.benchmark({
            runs: flags.runs,
            warmup: flags.warmup,
            batch: flags.batch,
            shapes: shapesArg(flags.shape),
            feeds,
            signal: ctx.signal,
          });
          if (out.json) out.printJson(benchmarkJson(model, session, result));
          else printBenchmark(out, model, session, result);
          return;
        }
        if (!feeds) {
          throw new InputError(
            `no inputs given; the model's inputs are ${
              session.inputs.map((i) => `${quoteName(i.name)} ${i.dtype}${formatShape(i.shape)}`).join(", ")
            }`,
            {
              hint: `pass --input '{"${
                session.inputs[0]?.name ?? "x"
              }": …}', --file input.json or --input-npy NAME=file.npy (gpux bench makes inputs up)`,
            },
          );
        }
        const loadMs = performance.now() - started;
        const t = performance.now();
        const outputs = await session.run(feeds);
        const runMs = performance.now() - t;
        const order = session.outputs.map((o) => o.name);
        const written = flags.output?.length ? await writeOutputs(flags.output, outputs, order) : [];
        const timings = { loadMs: round(loadMs), createMs: round(session.createMs), runMs: round(runMs) };
        if (out.json) {
          const ordered: TensorMap = {};
          for (const name of order) ordered[name] = outputs[name];
          out.printJson({
            model: modelJson(model, session),
            provider: session.provider,
            ...(session.fallbacks.length ? { fallbacks: fallbacksJson(session) } : {}),
            outputs: tensorsToJson(ordered),
            ...(written.length ? { written } : {}),
            timings,
          });
          return;
        }
        for (const name of order) printTensor(out, name, outputs[name], labelsFor(session, name));
        for (const path of written) out.info(`wrote ${path}`);
        out.info(`${session.provider} · load ${timings.loadMs} ms · run ${timings.runMs} ms`);
      } finally {
        await session.dispose();
      }
    });
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function labelsFor(session: GpuxSession, name: string): string[] | undefined {
  return session.model?.config?.outputs.find((o) => o.name === name)?.labels;
}

function numbersOf(t: TensorData): number[] | undefined {
  if (t.dtype === "string" || t.dtype === "bool") return undefined;
  if (t.dtype === "float16") return Array.from(fromFloat16Bits(t.data as Uint16Array));
  if (t.dtype === "int64" || t.dtype === "uint64") return Array.from(t.data as BigInt64Array, Number);
  return Array.from(t.data as Float32Array);
}

/** Prints one output: in full when small or when stdout is not a terminal, else a summary. */
function printTensor(out: Output, name: string, t: TensorData, labels?: string[]): void {
  const n = elementCount(t.shape);
  out.print(`${out.bold(quoteName(name))} ${t.dtype}${formatShape(t.shape)}`);
  if (n <= FULL_PRINT_LIMIT || !out.stdoutIsTTY) {
    out.print(JSON.stringify(nest(jsonValues(t), t.shape)));
  } else {
    const values = jsonValues(t);
    out.print(`  first: ${JSON.stringify(values.slice(0, 8)).slice(1, -1)}, … (${n} values)`);
    const nums = numbersOf(t);
    if (nums) {
      let min = Infinity, max = -Infinity, sum = 0;
      for (const v of nums) {
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
      }
      out.print(
        `  min ${fmt(min)} · max ${fmt(max)} · mean ${fmt(sum / nums.length)}  (full data: --json or --output)`,
      );
    }
  }
  const nums = labels ? numbersOf(t) : undefined;
  if (labels && nums && t.shape.length >= 1 && t.shape[t.shape.length - 1] === labels.length) {
    const row = nums.slice(0, labels.length);
    const top = row.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
    out.print(`  top: ${top.map(([v, i]) => `${labels[i]} ${fmt(v)}`).join(", ")}`);
  }
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(5);
}
