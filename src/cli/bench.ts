/**
 * `gpux bench <model>`: session creation, first run, then latency statistics and throughput over
 * repeated runs, with inputs synthesised from the model's metadata unless given.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";
import { type Output, renderTable } from "./output.ts";
import { loadModel } from "../runtime/load_model.ts";
import { type GpuxSession, setOrtLogLevel } from "../runtime/session.ts";
import type { BenchmarkResult } from "../runtime/benchmark.ts";
import { DEFAULT_DYNAMIC_DIM } from "../runtime/synthetic_inputs.ts";
import { formatShape, quoteName } from "../runtime/tensors.ts";
import {
  collect,
  DEFAULT_MAX_INPUT_MB,
  fallbacksJson,
  loadOptions,
  modelJson,
  pullOption,
  readFeeds,
  shapesArg,
  warnFallbacks,
  withRuntimeOptions,
} from "./runtime_flags.ts";
import { INT_FLAGS, intFlag } from "./int_flag.ts";

/** `gpux bench`. */
export function benchCommand(ctx: CliContext) {
  const command = new Command("bench")
    .description("Time a model: session creation, first run, latency percentiles and throughput")
    .argument("<model>", "an .onnx file, a directory with gpux.yml (or one .onnx), or a cached Hub id org/name[@rev]")
    .option("--runs <n>", "timed runs", intFlag("--runs", INT_FLAGS.runs), 100)
    .option("--warmup <n>", "untimed runs before timing", intFlag("--warmup", INT_FLAGS.warmup), 10)
    .option(
      "--batch <n>",
      "size of a dynamic first (batch) dimension of synthesised inputs (default gpux.yml runtime.batch_size, else 1)",
      intFlag("--batch", INT_FLAGS.batch),
    )
    .option(
      "--shape <name=dims>",
      `shape of one synthesised input, e.g. x=1x3x224x224 (repeatable; other dynamic dims default to ${DEFAULT_DYNAMIC_DIM})`,
      collect,
    )
    .option("-i, --input <json>", "use these inputs instead of synthesised ones (JSON, as for gpux run)")
    .option("-f, --file <path>", "read the --input JSON from a file (- for stdin)")
    .option("--input-npy <name=path>", "one input from a .npy file (repeatable)", collect)
    .option(
      "--max-input-mb <n>",
      `largest --file / --input-npy read, MiB (default ${DEFAULT_MAX_INPUT_MB})`,
      intFlag("--max-input-mb", INT_FLAGS.maxInputMb),
    );
  return withRuntimeOptions(command)
    .addOption(pullOption())
    .option("--json", "print one JSON document")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (model, flags) => {
      const out = ctx.output({ json: flags.json, quiet: flags.quiet });
      await setOrtLogLevel("fatal");
      const session = await loadModel(model, loadOptions(ctx, flags, out));
      try {
        warnFallbacks(out, session);
        const feeds = await readFeeds(flags, session.inputs, ctx.signal);
        const batch = flags.batch ?? session.model?.config?.runtime.batchSize;
        const showProgress = out.stderrIsTTY && !out.quiet;
        const result = await session.benchmark({
          runs: flags.runs,
          warmup: flags.warmup,
          batch,
          shapes: shapesArg(flags.shape),
          feeds,
          signal: ctx.signal,
          onProgress: showProgress
            ? (done, total) => {
              if (done === total || done % Math.max(1, Math.floor(total / 20)) === 0) {
                out.progress(`\r${done}/${total} runs${done === total ? "\x1b[K\r" : ""}`);
              }
            }
            : undefined,
        });
        if (out.json) out.printJson(benchmarkJson(model, session, result));
        else printBenchmark(out, model, session, result);
      } finally {
        await session.dispose();
      }
    });
}

function r3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** The `--json` document of a benchmark. */
export function benchmarkJson(spec: string, session: GpuxSession, result: BenchmarkResult): Record<string, unknown> {
  const stats = Object.fromEntries(Object.entries(result.stats).map(([k, v]) => [k, r3(v)]));
  return {
    model: modelJson(spec, session),
    provider: result.provider,
    ...(session.fallbacks.length ? { fallbacks: fallbacksJson(session) } : {}),
    inputs: result.inputShapes,
    batch: result.batch,
    intraOpThreads: session.intraOpThreads,
    runs: result.runs,
    warmup: result.warmup,
    createMs: r3(result.createMs),
    firstRunMs: r3(result.firstRunMs),
    latencyMs: stats,
    throughput: {
      inferencesPerSec: r3(result.throughput.inferencesPerSec),
      itemsPerSec: r3(result.throughput.itemsPerSec),
    },
  };
}

/** The human report of a benchmark. */
export function printBenchmark(out: Output, spec: string, session: GpuxSession, result: BenchmarkResult): void {
  const ms = (v: number) => v < 10 ? v.toFixed(3) : v.toFixed(2);
  out.print(`${out.bold("model")}     ${spec}${session.path !== spec ? ` (${session.path})` : ""}`);
  out.print(`${out.bold("provider")}  ${result.provider} · ${session.intraOpThreads} intra-op threads`);
  out.print(
    `${out.bold("inputs")}    ${
      Object.entries(result.inputShapes).map(([n, s]) => `${quoteName(n)} ${formatShape(s)}`).join(", ")
    }`,
  );
  out.print(`${out.bold("runs")}      ${result.runs} timed after ${result.warmup} warm-up`);
  out.print("");
  out.print(renderTable(
    ["", "ms"],
    [
      ["session create", ms(result.createMs)],
      ["first run", ms(result.firstRunMs)],
      ["mean", ms(result.stats.mean)],
      ["std", ms(result.stats.std)],
      ["min", ms(result.stats.min)],
      ["p50", ms(result.stats.p50)],
      ["p90", ms(result.stats.p90)],
      ["p95", ms(result.stats.p95)],
      ["p99", ms(result.stats.p99)],
      ["max", ms(result.stats.max)],
    ],
    ["left", "right"],
  ));
  out.print("");
  const t = result.throughput;
  out.print(
    `${out.bold("throughput")} ${t.inferencesPerSec.toFixed(1)} inferences/s${
      result.batch !== 1 ? ` · ${t.itemsPerSec.toFixed(1)} items/s (batch ${result.batch})` : ""
    }`,
  );
}
