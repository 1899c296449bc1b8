/**
 * A model loaded into onnxruntime-node on the best available execution provider.
 *
 * A {@linkcode GpuxSession} holds no global state, never prints, and takes and returns plain
 * {@linkcode TensorData} (typed arrays + shape + dtype), so it can live inside a Worker and its inputs
 * and outputs can be posted between threads. Provider fallbacks are reported in `fallbacks`, not logged.
 *
 * @module
 */
import type * as ort from "onnxruntime-node";
import { loadOrt, type OrtModule } from "./ort_module.ts";
import { InputError, ProviderError, RuntimeError } from "../errors.ts";
import {
  checkProvider,
  currentPlatform,
  executionProviderConfig,
  explainProviderFailure,
  firstLine,
  type Platform,
  providerCandidates,
  type ProviderChoice,
  type ProviderFailure,
  type ProviderName,
  type ProviderOptions,
} from "./providers.ts";
import {
  isTensorDtype,
  shapeProblem,
  type TensorData,
  type TensorInfo,
  type TensorMap,
  validateFeeds,
} from "./tensors.ts";
import type { ResolvedModel } from "./model_source.ts";
import { type BenchmarkOptions, type BenchmarkResult, runBenchmark } from "./benchmark.ts";
import { availableCores } from "./cpu_cores.ts";
import { graphWithMappedWeights } from "./mapped_weights.ts";
import { lastPositionLogits } from "./last_position_logits.ts";
import type { GraphOptimizationLevel } from "../vocabulary/graph_optimization_level.ts";

export type { GraphOptimizationLevel };

let defaultThreads: number | undefined;

/** The default intra-op thread count: the cores this process may use ({@linkcode availableCores}), read once. */
export function defaultIntraOpThreads(): number {
  defaultThreads ??= availableCores().cores;
  return defaultThreads;
}

/** Log severity of onnxruntime's own messages (stderr, native). */
export type OrtLogLevel = "verbose" | "info" | "warning" | "error" | "fatal";

/** How to create a session. */
export interface SessionOptions extends ProviderOptions {
  /** Execution provider, or `auto` (default): the platform's GPU providers in order, then cpu. */
  provider?: ProviderChoice;
  /** Graph optimisation level (onnxruntime's default: `all`). */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /**
   * Threads used inside one operator (default: the cores this process may really use, affinity and cgroup
   * quota included — see `availableCores()`; onnxruntime's own default under-uses small machines).
   */
  intraOpThreads?: number;
  /** Threads used across independent operators. */
  interOpThreads?: number;
  /**
   * Whether idle intra-op threads spin waiting for work (onnxruntime's default: yes). Spinning trades CPU
   * for latency; where other threads need the cores (a server's HTTP loop) turn it off: measured on 2 busy
   * cores, a run-and-wait loop used half the CPU and was no slower.
   */
  allowSpinning?: boolean;
  /**
   * Map a large file's inline weights from the file instead of letting onnxruntime parse them into memory and copy
   * them again (default false): the same weights and results, about 0.17 GB less peak memory and a faster load for a
   * 0.5 GB model (`mapped_weights.ts`) — but on this machine's CPU a decoder then ran its steps 13% slower (the
   * buffers onnxruntime packs the weights into land elsewhere; measured, not explained: docs/performance.md), so it
   * is for memory-bound hosts. Files with external data, and small files, load as they are either way.
   */
  mapWeights?: boolean;
  /**
   * Cut this output (a decoder's `logits`) to the last position of the sequence axis, when a `MatMul` projection
   * produces it (`last_position_logits.ts`): the generation engine reads only that row, and the prompt's other
   * positions then cost neither the projection nor the output's memory. `session.lastPositionOnly` says whether it
   * applied.
   */
  lastPositionOutput?: string;
  /** Severity from which onnxruntime logs to stderr for this session (default `fatal`: errors are thrown, not printed). */
  logLevel?: OrtLogLevel;
  /** Platform whose `auto` order applies (default the running one). */
  platform?: Platform;
  /** Where the model came from (set by {@linkcode loadModel}; shown by the CLI). */
  model?: ResolvedModel;
}

/** Options of {@linkcode GpuxSession.run}. */
export interface RunOptions {
  /** Check feeds against the input metadata first (default true; InputError instead of an onnxruntime error). */
  validate?: boolean;
}

const LOG_SEVERITY: Record<OrtLogLevel, 0 | 1 | 2 | 3 | 4> = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 };

function toInfo(m: ort.InferenceSession.ValueMetadata): TensorInfo {
  if (!m.isTensor) return { name: m.name, dtype: "unknown", shape: [] };
  const dtype = isTensorDtype(m.type) ? m.type : "unknown";
  return { name: m.name, dtype, shape: m.shape.map((d) => (d === "" || (typeof d === "number" && d < 0)) ? null : d) };
}

function isModelLoadError(message: string): boolean {
  return /protobuf parsing failed|Load model|External data|doesn't exist|No such file|ModelProto|opset|Unsupported model IR version|Invalid model|INVALID_GRAPH|INVALID_PROTOBUF|NOT_IMPLEMENTED/i
    .test(message);
}

/** Whether `t` matches `info` (dtype, rank, fixed dims, element count) — the allocation-free check of the hot path. */
function fits(t: TensorData, info: TensorInfo): boolean {
  // strings are checked for NULs, and odd shapes get their message, by validateFeeds
  if (t.dtype !== info.dtype || t.dtype === "string" || shapeProblem(t.shape) !== undefined) return false;
  const declared = info.shape;
  const shape = t.shape;
  if (declared.length > 0 && declared.length !== shape.length) return false;
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = declared[i];
    if (typeof d === "number" && d >= 0 && d !== shape[i]) return false;
    n *= shape[i];
  }
  return t.data.length === n;
}

function toOrtTensor(Tensor: OrtModule["Tensor"], t: TensorData): ort.Tensor {
  // deno-lint-ignore no-explicit-any
  const tensor = new Tensor(t.dtype, t.data as any, t.shape);
  if (t.dtype === "float16" && t.data instanceof Uint16Array) {
    // onnxruntime-common turns a Uint16Array into a Float16Array view when the runtime has Float16Array
    // (Deno does); the 1.29 native binding then reads 0 bytes from it ("not enough space"). Keep the bits.
    (tensor as unknown as { cpuData: unknown }).cpuData = t.data;
  }
  return tensor;
}

function fromOrtTensor(t: ort.Tensor): TensorData {
  let data = t.data as TensorData["data"] | ArrayBufferView;
  if (t.type === "float16" && !(data instanceof Uint16Array)) {
    const view = data as ArrayBufferView;
    data = new Uint16Array(view.buffer, view.byteOffset, view.byteLength / 2);
  }
  return { dtype: t.type as TensorData["dtype"], shape: Array.from(t.dims), data: data as TensorData["data"] };
}

/**
 * Creates an onnxruntime session for `model` (a file path or the model's bytes), trying providers in
 * order. A provider that fails under `auto` is recorded in `fallbacks` and the next is tried; an explicit
 * provider that fails throws.
 *
 * @throws {ProviderError} an explicitly requested provider cannot load (exit 7), with the reason and what to install.
 * @throws {RuntimeError} the model itself cannot be loaded.
 */
export async function createSession(
  model: string | Uint8Array,
  options: SessionOptions = {},
): Promise<GpuxSession> {
  const choice = options.provider ?? "auto";
  const platform = options.platform ?? currentPlatform();
  const fallbacks: ProviderFailure[] = [];
  const label = typeof model === "string" ? model : "model bytes";
  const runtime = await loadOrt();
  const intraOpThreads = options.intraOpThreads ?? defaultIntraOpThreads();
  const edit = options.lastPositionOutput ? lastPositionLogits(options.lastPositionOutput) : undefined;
  const mapped = typeof model === "string" && (options.mapWeights === true || edit)
    ? await graphWithMappedWeights(model, { edit, ...(options.mapWeights === true ? {} : { minFileBytes: Infinity }) })
    : undefined;
  for (const provider of providerCandidates(choice, platform)) {
    const known = provider === "cpu" ? undefined : checkProvider(provider, { platform });
    if (known) {
      if (choice !== "auto") {
        throw new ProviderError(`execution provider ${provider} is not available: ${known.reason}`, {
          hint: known.hint,
        });
      }
      fallbacks.push(known);
      continue;
    }
    const started = performance.now();
    try {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [executionProviderConfig(provider, options)],
        logSeverityLevel: LOG_SEVERITY[options.logLevel ?? "fatal"],
      };
      // onnxruntime-node rejects keys that are present but undefined
      if (options.graphOptimizationLevel) sessionOptions.graphOptimizationLevel = options.graphOptimizationLevel;
      sessionOptions.intraOpNumThreads = intraOpThreads;
      if (options.interOpThreads !== undefined) sessionOptions.interOpNumThreads = options.interOpThreads;
      const extra: Record<string, unknown> = {};
      if (options.allowSpinning !== undefined) extra.intra_op = { allow_spinning: options.allowSpinning ? "1" : "0" };
      if (mapped) extra.model_external_initializers_file_folder_path = mapped.folder;
      if (Object.keys(extra).length > 0) sessionOptions.extra = { session: extra };
      const session = mapped
        ? await runtime.InferenceSession.create(mapped.bytes, sessionOptions)
        : typeof model === "string"
        ? await runtime.InferenceSession.create(model, sessionOptions)
        : await runtime.InferenceSession.create(model, sessionOptions);
      return new GpuxSession(session, runtime.Tensor, {
        provider,
        fallbacks,
        createMs: performance.now() - started,
        path: label,
        model: options.model,
        intraOpThreads,
        ...(mapped ? { mappedWeightBytes: mapped.mappedBytes, lastPositionOnly: mapped.edited } : {}),
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (provider === "cpu" || isModelLoadError(message)) {
        throw new RuntimeError(`cannot load ${label}: ${firstLine(message)}`, {
          cause: error,
          hint: "check that it is a valid ONNX model (and that its external data files sit beside it)",
        });
      }
      const failure = explainProviderFailure(provider, error, { platform });
      if (choice !== "auto") {
        throw new ProviderError(`execution provider ${provider} failed to load: ${failure.reason}`, {
          cause: error,
          hint: failure.hint,
        });
      }
      fallbacks.push(failure);
    }
  }
  throw new ProviderError(`no execution provider could load ${label}`); // unreachable: cpu is always last
}

/** Facts about how a session was created. */
export interface SessionInfo {
  /** The provider the session runs on. */
  provider: ProviderName;
  /** Providers tried first, and why each failed. */
  fallbacks: ProviderFailure[];
  /** Milliseconds to create the session. */
  createMs: number;
  /** The model file, or `"model bytes"`. */
  path: string;
  /** How the model was found. */
  model?: ResolvedModel;
  /** Intra-op threads the session was created with. */
  intraOpThreads: number;
  /** Bytes of inline weights mapped from the file rather than copied (see {@linkcode SessionOptions.mapWeights}). */
  mappedWeightBytes?: number;
  /** Whether {@linkcode SessionOptions.lastPositionOutput} cut that output to the last position. */
  lastPositionOnly?: boolean;
}

/**
 * One model loaded on one execution provider. Create it with {@linkcode loadModel}; always
 * `await session.dispose()` (or `await using`) when done: it releases the native session.
 *
 * @example
 * ```ts
 * import { loadModel } from "jsr:@gpux/gpux";
 * const session = await loadModel("model.onnx");
 * const outputs = await session.run({ x: { dtype: "float32", shape: [1, 3], data: Float32Array.of(1, 2, 3) } });
 * console.log(session.provider, outputs.y.shape);
 * await session.dispose();
 * ```
 */
export class GpuxSession {
  /** Declared inputs, in the model's order. */
  readonly inputs: readonly TensorInfo[];
  /** Declared outputs, in the model's order. */
  readonly outputs: readonly TensorInfo[];
  /** The execution provider the session runs on. */
  readonly provider: ProviderName;
  /** Providers tried before `provider` and why each failed (non-empty means a fallback happened). */
  readonly fallbacks: readonly ProviderFailure[];
  /** Milliseconds onnxruntime took to create the session on `provider`. */
  readonly createMs: number;
  /** The model file (or `"model bytes"`). */
  readonly path: string;
  /** How the model was found (Hub id, variant, gpux.yml) when loaded through {@linkcode loadModel} with a name. */
  readonly model?: ResolvedModel;
  /** Intra-op threads the session was created with (the flag, gpux.yml, else the cores this process may use). */
  readonly intraOpThreads: number;
  /** Bytes of inline weights onnxruntime read in place from the file instead of copying (0: loaded as it is). */
  readonly mappedWeightBytes: number;
  /** Whether {@linkcode SessionOptions.lastPositionOutput} cut that output to the sequence's last position. */
  readonly lastPositionOnly: boolean;
  #session: ort.InferenceSession | undefined;
  #Tensor: OrtModule["Tensor"];
  #inputs: Map<string, TensorInfo>;

  /** @internal Use {@linkcode loadModel}. */
  constructor(session: ort.InferenceSession, Tensor: OrtModule["Tensor"], info: SessionInfo) {
    this.#session = session;
    this.#Tensor = Tensor;
    this.inputs = session.inputMetadata.map(toInfo);
    this.outputs = session.outputMetadata.map(toInfo);
    this.#inputs = new Map(this.inputs.map((i) => [i.name, i]));
    this.provider = info.provider;
    this.fallbacks = info.fallbacks;
    this.createMs = info.createMs;
    this.path = info.path;
    this.model = info.model;
    this.intraOpThreads = info.intraOpThreads;
    this.mappedWeightBytes = info.mappedWeightBytes ?? 0;
    this.lastPositionOnly = info.lastPositionOnly ?? false;
  }

  /** True once {@linkcode dispose} was called. */
  get disposed(): boolean {
    return this.#session === undefined;
  }

  /**
   * Runs the model once. Feeds and results are plain {@linkcode TensorData}; results are keyed by
   * output name and filled in the model's output order.
   *
   * @throws {InputError} feeds do not match the inputs (checked before running unless `validate: false`).
   * @throws {RuntimeError} onnxruntime failed while running.
   */
  async run(feeds: TensorMap, options: RunOptions = {}): Promise<TensorMap> {
    const session = this.#session;
    if (!session) throw new RuntimeError(`the session for ${this.path} was disposed`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    const validate = options.validate !== false;
    let count = 0;
    for (const name in feeds) {
      const info = this.#inputs.get(name);
      const t = feeds[name];
      // the fast check allocates nothing; on any doubt validateFeeds builds the precise message
      if (!info || (validate && !fits(t, info))) validateFeeds(feeds, this.inputs);
      if (!info) throw new InputError(`unknown input ${JSON.stringify(name)}`);
      ortFeeds[name] = toOrtTensor(this.#Tensor, t);
      count++;
    }
    if (validate && count !== this.inputs.length) validateFeeds(feeds, this.inputs);
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await session.run(ortFeeds);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new RuntimeError(`the model failed while running on ${this.provider}: ${firstLine(message)}`, {
        cause: error,
      });
    }
    const out: TensorMap = {};
    for (const name of session.outputNames) out[name] = fromOrtTensor(results[name]);
    return out;
  }

  /**
   * Times repeated runs: the first run separately, then `warmup` untimed runs, then `runs` timed ones.
   * Inputs are synthesised from the metadata unless `feeds` are given.
   */
  benchmark(options: BenchmarkOptions = {}): Promise<BenchmarkResult> {
    return runBenchmark(this, options);
  }

  /** Releases the native session. Safe to call twice. */
  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session) await session.release();
  }

  /** `await using session = await loadModel(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/**
 * Sets onnxruntime's process-wide log level (its native messages on stderr). Takes effect only before
 * the first session of the process is created; the CLI sets `fatal`, since gpux reports errors itself.
 * Library users who never call it get onnxruntime's default (`warning`).
 */
export async function setOrtLogLevel(level: OrtLogLevel): Promise<void> {
  (await loadOrt()).env.logLevel = level;
}
