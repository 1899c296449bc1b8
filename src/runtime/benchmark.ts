/**
 * Timing repeated inferences: first run, warm-up, then timed runs summarised as mean, standard
 * deviation, min, percentiles, max and throughput.
 *
 * @module
 */
import { InterruptedError, RuntimeError } from "../errors.ts";
import type { ProviderName } from "./providers.ts";
import { describeSyntheticValues, synthesizeInputs, type SynthesizeOptions } from "./synthetic_inputs.ts";
import { textModelSizes } from "./text_model_sizes.ts";
import type { TensorInfo, TensorMap } from "./tensors.ts";

/** Options of a benchmark. */
export interface BenchmarkOptions extends SynthesizeOptions {
  /** Timed runs (default 100). */
  runs?: number;
  /** Untimed runs after the first one (default 10). */
  warmup?: number;
  /** Inputs to use; synthesised from the metadata when absent. */
  feeds?: TensorMap;
  /** Stops between runs. */
  signal?: AbortSignal;
  /** Called after each timed run with the number done. */
  onProgress?: (done: number, total: number) => void;
}

/** Summary statistics of a series of durations, in milliseconds. */
export interface TimingStats {
  /** Arithmetic mean. */
  mean: number;
  /** Sample standard deviation. */
  std: number;
  /** Fastest run. */
  min: number;
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 95th percentile. */
  p95: number;
  /** 99th percentile. */
  p99: number;
  /** Slowest run. */
  max: number;
}

/** What a benchmark measured. */
export interface BenchmarkResult {
  /** The execution provider the runs used. */
  provider: ProviderName;
  /** Milliseconds to create the session. */
  createMs: number;
  /** Milliseconds of the first run (includes onnxruntime's lazy initialisation). */
  firstRunMs: number;
  /** Intra-op threads of the session, when it says. */
  intraOpThreads?: number;
  /** Number of timed runs. */
  runs: number;
  /** Number of untimed runs after the first. */
  warmup: number;
  /** Items per inference: the first dimension of the first input. */
  batch: number;
  /** The shapes that were fed. */
  inputShapes: Record<string, number[]>;
  /** Latency statistics of the timed runs, in milliseconds. */
  stats: TimingStats;
  /** Throughput derived from the mean latency. */
  throughput: {
    /** Inferences per second, from the mean. */
    inferencesPerSec: number;
    /** Items per second (`batch` × inferences per second). */
    itemsPerSec: number;
  };
}

/** Something that runs feeds (a {@linkcode GpuxSession}). */
export interface Runnable {
  readonly inputs: readonly TensorInfo[];
  readonly provider: ProviderName;
  readonly createMs: number;
  readonly intraOpThreads?: number;
  /** The model file, when there is one: config.json beside it sizes the synthesised token and position ids. */
  readonly path?: string;
  run(feeds: TensorMap, options?: { validate?: boolean }): Promise<unknown>;
}

/** Percentile by linear interpolation between closest ranks (numpy's default), of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/**
 * Mean, sample standard deviation, min, p50/p90/p95/p99 and max of `samples`.
 *
 * @example
 * ```ts
 * timingStats([1, 2, 3, 4]).p50; // 2.5
 * ```
 */
export function timingStats(samples: readonly number[]): TimingStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((s, v) => s + v, 0) / n;
  const variance = n > 1 ? sorted.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : 0;
  return {
    mean,
    std: Math.sqrt(variance),
    min: sorted[0],
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[n - 1],
  };
}

/** Runs the benchmark on `session` (see {@linkcode BenchmarkOptions}). */
export async function runBenchmark(session: Runnable, options: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const runs = Math.max(1, Math.floor(options.runs ?? 100));
  const warmup = Math.max(0, Math.floor(options.warmup ?? 10));
  const sizes = !options.feeds && session.path && /\.(onnx|ort)$/i.test(session.path)
    ? await textModelSizes(session.path)
    : {};
  const synthesis = { ...sizes, ...options };
  const feeds = options.feeds ?? synthesizeInputs(session.inputs, synthesis);
  const check = () => {
    if (options.signal?.aborted) throw new InterruptedError("benchmark interrupted");
  };
  // the first run is validated (clear errors for bad feeds); the timed ones are not, like a server's hot path
  let t = performance.now();
  try {
    await session.run(feeds);
  } catch (error) {
    if (options.feeds || !(error instanceof RuntimeError)) throw error;
    // synthesised inputs fit the declared types and shapes, not always what the graph expects (state sizes, rates):
    // name each input with its shape and values, so the one at fault can be found
    const shapes = session.inputs.filter((info) => feeds[info.name]).map((info) =>
      `${JSON.stringify(info.name)}=[${feeds[info.name].shape.join(",")}] ${describeSyntheticValues(info, synthesis)}`
    );
    throw new RuntimeError(`${error.message} (on synthesised inputs)`, {
      cause: error,
      hint: `the inputs were synthesised from the model's metadata (${shapes.join("; ")}); ` +
        "give real inputs with --input/--file, or other sizes with --shape name=1x3x224x224",
    });
  }
  const firstRunMs = performance.now() - t;
  for (let i = 0; i < warmup; i++) {
    check();
    await session.run(feeds, { validate: false });
  }
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    check();
    t = performance.now();
    await session.run(feeds, { validate: false });
    samples.push(performance.now() - t);
    options.onProgress?.(i + 1, runs);
  }
  const stats = timingStats(samples);
  const inputShapes: Record<string, number[]> = {};
  for (const name of Object.keys(feeds)) inputShapes[name] = feeds[name].shape;
  const first = session.inputs[0] && feeds[session.inputs[0].name];
  const batch = first && first.shape.length > 0 ? first.shape[0] : 1;
  const inferencesPerSec = 1000 / stats.mean;
  return {
    provider: session.provider,
    createMs: session.createMs,
    firstRunMs,
    ...(session.intraOpThreads !== undefined ? { intraOpThreads: session.intraOpThreads } : {}),
    runs,
    warmup,
    batch,
    inputShapes,
    stats,
    throughput: { inferencesPerSec, itemsPerSec: inferencesPerSec * batch },
  };
}
