/**
 * `gpux.yml`: the configuration a model directory can carry, compatible with GPUX's.
 *
 * ```yaml
 * name: resnet50
 * version: 1.0.0
 * description: ImageNet classifier
 * model:
 *   source: ./model.onnx          # a path relative to this file, or hf:org/name[@rev]
 *   format: onnx
 *   variant: fp16                 # ONNX variant of a Hub repository
 * inputs:
 *   pixel_values: { type: float32, shape: [batch, 3, 224, 224], required: true, description: RGB image }
 * outputs:
 *   logits: { type: float32, shape: [batch, 1000], labels: [tench, goldfish, …] }
 * runtime:
 *   gpu: { backend: auto, memory: 2GB }
 *   batch_size: 1
 *   timeout: 30
 * serving: { host: 127.0.0.1, port: 8080, batch_size: 8, batch_delay_ms: 2, timeout: 5, max_workers: 2,
 *            max_queue: 256, max_body_mb: 16, cors: "*",
 *            max_batch_items: 256, max_text_chars: 1000000, max_image_pixels: 89478485, max_audio_seconds: 600,
 *            max_tensor_elements: 67108864, max_memory_mb: 8192, ui: true }   # defaults for gpux serve; flags override
 * task: text-classification      # else README pipeline_tag / config.json architectures; --task overrides
 * preprocessing:                  # used when the repository has no tokenizer/processor configs
 *   tokenizer: ./tokenizer.json
 *   max_length: 128
 *   resize: 256                   # shortest edge, or [width, height]
 *   crop: 224                     # center crop: a square, or [width, height]
 *   mean: [0.485, 0.456, 0.406]
 *   std: [0.229, 0.224, 0.225]
 *   layout: nchw                  # or nhwc
 *   sampling_rate: 16000
 *   labels: [negative, positive]
 * ```
 *
 * Parsed with the `yaml` package (which keeps line numbers) and validated by hand: every message names
 * the key and its line; unknown keys are errors, never silently dropped.
 *
 * @module
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar, type YAMLMap } from "yaml";
import { InputError } from "../errors.ts";
import { isProviderChoice, PROVIDER_NAMES, type ProviderChoice } from "../vocabulary/provider_names.ts";
import { isTensorDtype, TENSOR_DTYPES, type TensorDtype } from "../vocabulary/tensor_types.ts";
import type { GraphOptimizationLevel } from "../vocabulary/graph_optimization_level.ts";
import { describeLimit, type Limit, LIMITS, withinLimit } from "../vocabulary/limits.ts";

/** File names gpux looks for in a model directory, in order. */
export const CONFIG_FILE_NAMES = ["gpux.yml", "gpux.yaml"] as const;

/** One declared input or output. */
export interface TensorSpec {
  /** Input or output name, exactly as in the model. */
  name: string;
  /** Element type (`float32`, `int64`, …). */
  type?: TensorDtype;
  /** Dimensions: sizes, symbolic names, or `null` for an unnamed dynamic one. */
  shape?: (number | string | null)[];
  /** Inputs only: whether it must be given (default true). */
  required?: boolean;
  /** What it is, for people. */
  description?: string;
  /** Class labels for a classification output, in index order. */
  labels?: string[];
}

/** Parsed and validated `gpux.yml`. */
export interface GpuxConfig {
  /** Name of the model (required). */
  name: string;
  /** Version of this configuration, free text. */
  version?: string;
  /** What the model does. */
  description?: string;
  /** Where the model is (required). */
  model: {
    /** A path (relative to the config file) or `hf:org/name[@rev]`. */
    source: string;
    format: "onnx";
    variant?: string;
  };
  /** Declared inputs, in file order. */
  inputs: TensorSpec[];
  /** Declared outputs, in file order. */
  outputs: TensorSpec[];
  /** How to run it. */
  runtime: {
    gpu: {
      backend: ProviderChoice;
      /** Reserved: onnxruntime-node exposes no GPU memory limit to JavaScript; parsed and shown only. */
      memory?: string;
      /** GPU index for cuda/tensorrt/dml. */
      deviceId?: number;
    };
    /** Default batch size for `gpux bench` (and the server, later). */
    batchSize?: number;
    /** Seconds one request may take under `gpux serve` when `serving.timeout` is not set. */
    timeout?: number;
    graphOptimization?: GraphOptimizationLevel;
    intraOpThreads?: number;
    interOpThreads?: number;
  };
  /** Defaults for `gpux serve` (its flags override them). */
  serving?: {
    /** Address to bind (`--host`). */
    host?: string;
    /** Port (`--port`; 0 picks a free one). */
    port?: number;
    /** Most requests stacked into one run (`--max-batch`; 1 turns batching off). */
    batchSize?: number;
    /** Milliseconds a partial batch waits for more requests (`--batch-delay-ms`). */
    batchDelayMs?: number;
    /** Seconds one request may take (`--timeout-ms` in ms). */
    timeout?: number;
    /** Workers holding a session each (`--workers`). */
    maxWorkers?: number;
    /** Most requests waiting for a worker (`--max-queue`). */
    maxQueue?: number;
    /** Largest request body in MB (`--max-body-mb`). */
    maxBodyMb?: number;
    /** `Access-Control-Allow-Origin` to send (`--cors`). */
    cors?: string;
    /** Items (texts, images, clips, zero-shot rows) in one request (`--max-batch-items`). */
    maxBatchItems?: number;
    /** Characters of text in one request (`--max-text-chars`). */
    maxTextChars?: number;
    /** Pixels of one image in a request (`--max-image-pixels`). */
    maxImagePixels?: number;
    /** Seconds of one audio clip (`--max-audio-seconds`). */
    maxAudioSeconds?: number;
    /** Elements of one input tensor in a request (`--max-tensor-elements`). */
    maxTensorElements?: number;
    /** The server's memory budget in MB (`--max-memory-mb`). */
    maxMemoryMb?: number;
    /** Whether `GET /` answers the playground page (`--no-ui` turns it off). */
    ui?: boolean;
  };
  /** The task the pipeline runs (`text-classification`, `feature-extraction`, …); `--task` overrides it. */
  task?: string;
  /** How raw inputs become tensors when the repository ships no tokenizer/processor configs (or to override them). */
  preprocessing?: PreprocessingConfig;
}

/** gpux.yml `preprocessing:` — raw text / image / audio to tensors, for models without Hub processor files. */
export interface PreprocessingConfig {
  /** Path of a tokenizer.json (relative to gpux.yml). */
  tokenizer?: string;
  /** Longest token sequence (default the tokenizer's `model_max_length`). */
  maxLength?: number;
  /** Image resize: one number is the shortest edge, a pair is `[width, height]`. */
  resize?: number | [number, number];
  /** Center crop: one number is a square, a pair is `[width, height]`. */
  crop?: number | [number, number];
  /** Per-channel mean subtracted after rescaling to 0..1 (one value or one per channel). */
  mean?: number[];
  /** Per-channel standard deviation divided by (one value or one per channel). */
  std?: number[];
  /** A named mean/std preset (`imagenet`: 0.485,0.456,0.406 / 0.229,0.224,0.225; `none`). */
  normalize?: "imagenet" | "none";
  /** Image tensor layout: `nchw` (default) or `nhwc`. */
  layout?: "nchw" | "nhwc";
  /** Audio sampling rate the model expects, in Hz. */
  samplingRate?: number;
  /** Class labels in index order (used when config.json has no `id2label`). */
  labels?: string[];
}

class Ctx {
  constructor(readonly file: string, readonly lines: LineCounter) {}
  line(node: Node | null | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }
  fail(node: Node | null | undefined, key: string, message: string): never {
    const line = this.line(node);
    throw new InputError(`${this.file}${line ? `:${line}` : ""}: ${key ? `${key}: ` : ""}${message}`, {
      hint: "see README.md, section gpux.yml, for the keys and their types",
    });
  }
}

type Field<T> = (node: Node, key: string, ctx: Ctx) => T;

function mapping(node: Node | null, key: string, ctx: Ctx): YAMLMap<Scalar, Node> {
  if (!isMap(node)) {
    // the whole file being one value (a token pasted into the wrong file) is never quoted back
    const got = !key && isScalar(node) ? "a single value" : describe(node);
    ctx.fail(node, key, `expected a mapping (key: value lines), got ${got}`);
  }
  return node as YAMLMap<Scalar, Node>;
}

function describe(node: Node | null | undefined): string {
  if (!node) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    // a long value is not quoted back: it may be a secret pasted into the wrong file
    if (typeof node.value === "string" && node.value.length > 40) {
      return `a string of ${node.value.length} characters`;
    }
    return JSON.stringify(node.value) ?? String(node.value);
  }
  return "an alias";
}

/** Reads the keys of a mapping (YAML spelling) with one parser per key; unknown keys and missing required ones fail. */
function fields(
  node: Node | null,
  key: string,
  ctx: Ctx,
  spec: Record<string, Field<unknown>>,
  required: string[] = [],
  // deno-lint-ignore no-explicit-any
): Record<string, any> {
  const map = mapping(node, key, ctx);
  // deno-lint-ignore no-explicit-any
  const out: Record<string, any> = {};
  for (const item of map.items) {
    const name = String(isScalar(item.key) ? item.key.value : item.key);
    const path = key ? `${key}.${name}` : name;
    if (!Object.hasOwn(spec, name)) {
      ctx.fail(item.key as Node, path, `unknown key (expected one of: ${Object.keys(spec).join(", ")})`);
    }
    if (item.value === null || (isScalar(item.value) && item.value.value === null)) {
      ctx.fail(item.key as Node, path, "has no value");
    }
    out[name] = spec[name](item.value as Node, path, ctx);
  }
  for (const r of required) {
    if (out[r] === undefined) ctx.fail(map, key ? `${key}.${r}` : r, "is required");
  }
  return out;
}

const str: Field<string> = (node, key, ctx) => {
  if (!isScalar(node) || typeof node.value !== "string" && typeof node.value !== "number") {
    ctx.fail(node, key, `expected a string, got ${describe(node)}`);
  }
  return String((node as Scalar).value);
};
const bool: Field<boolean> = (node, key, ctx) => {
  if (!isScalar(node) || typeof node.value !== "boolean") {
    ctx.fail(node, key, `expected true or false, got ${describe(node)}`);
  }
  return (node as Scalar).value as boolean;
};
/**
 * A number inside one entry of the shared limits table (src/vocabulary/limits.ts), the same range the matching
 * flag accepts: `serving.max_workers: 100000` is refused as `--workers 100000` is, instead of starting 100,000 workers.
 */
function limited(limit: Limit): Field<number> {
  return (node, key, ctx) => {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== "number" || !withinLimit(v, limit)) {
      ctx.fail(node, key, `expected ${describeLimit(limit)}, got ${describe(node)}`);
    }
    return v as number;
  };
}
function oneOf<T extends string>(values: readonly T[]): Field<T> {
  return (node, key, ctx) => {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== "string" || !values.includes(v as T)) {
      ctx.fail(node, key, `expected one of ${values.join(", ")}, got ${describe(node)}`);
    }
    return v as T;
  };
}
const memory: Field<string> = (node, key, ctx) => {
  const v = str(node, key, ctx);
  if (!/^\d+(\.\d+)?\s*([KMGT]i?B|B)?$/i.test(v.trim())) {
    ctx.fail(node, key, `expected a size like 2GB or 512MiB, got ${JSON.stringify(v)}`);
  }
  return v;
};
const strings: Field<string[]> = (node, key, ctx) => {
  if (!isSeq(node)) ctx.fail(node, key, `expected a list of strings, got ${describe(node)}`);
  return (node as unknown as { items: Node[] }).items.map((item, i) => str(item, `${key}[${i}]`, ctx));
};
const shape: Field<(number | string | null)[]> = (node, key, ctx) => {
  if (!isSeq(node)) {
    ctx.fail(node, key, `expected a list of dimensions like [batch, 3, 224, 224], got ${describe(node)}`);
  }
  return (node as unknown as { items: Node[] }).items.map((item, i) => {
    const v = isScalar(item) ? item.value : undefined;
    if (v === null || v === -1 || v === "?") return null;
    if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
    if (typeof v === "string" && v.trim()) return v;
    return ctx.fail(item, `${key}[${i}]`, `expected a size, a symbolic name or null, got ${describe(item)}`);
  });
};
const dtype: Field<TensorDtype> = (node, key, ctx) => {
  const v = isScalar(node) ? node.value : undefined;
  if (!isTensorDtype(v)) ctx.fail(node, key, `expected one of ${TENSOR_DTYPES.join(", ")}, got ${describe(node)}`);
  return v as TensorDtype;
};
const source: Field<string> = (node, key, ctx) => {
  const v = str(node, key, ctx);
  if (v.startsWith("hf:") && !/^hf:[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)?(@\S+)?$/.test(v)) {
    ctx.fail(node, key, `expected hf:org/name[@revision], got ${JSON.stringify(v)}`);
  }
  // deno-lint-ignore no-control-regex
  if (!v.trim() || /[\x00-\x1f\x7f]/.test(v)) {
    ctx.fail(node, key, `expected a path or hf:org/name, got ${v.trim() ? "a control character in it" : "nothing"}`);
  }
  return v;
};

/** A positive integer, or a `[width, height]` pair of them. */
const sizeOrPair: Field<number | [number, number]> = (node, key, ctx) => {
  const side = limited(LIMITS.imageSide);
  if (isScalar(node)) return side(node, key, ctx);
  if (!isSeq(node) || (node as unknown as { items: Node[] }).items.length !== 2) {
    ctx.fail(node, key, `expected a size or [width, height], got ${describe(node)}`);
  }
  const items = (node as unknown as { items: Node[] }).items;
  return [side(items[0], `${key}[0]`, ctx), side(items[1], `${key}[1]`, ctx)];
};

/** One number or one per channel (1 or 3 values); `positive` for std. */
function channelNumbers(positive: boolean): Field<number[]> {
  return (node, key, ctx) => {
    const items = isSeq(node) ? (node as unknown as { items: Node[] }).items : [node];
    if (items.length !== 1 && items.length !== 3) {
      ctx.fail(node, key, `expected one number or three (one per channel), got ${items.length}`);
    }
    return items.map((item, i) => {
      const v = isScalar(item) ? item.value : undefined;
      if (typeof v !== "number" || !Number.isFinite(v) || (positive && !(v > 0))) {
        ctx.fail(
          item,
          isSeq(node) ? `${key}[${i}]` : key,
          `expected a ${positive ? "positive " : ""}number, got ${describe(item)}`,
        );
      }
      return v as number;
    });
  };
}

function tensorSpecs(kind: "inputs" | "outputs"): Field<TensorSpec[]> {
  const one = (node: Node, key: string, ctx: Ctx, name?: string): TensorSpec => {
    const spec = fields(
      node,
      key,
      ctx,
      {
        name: str,
        type: dtype,
        shape,
        required: kind === "inputs" ? bool : (n, k, c) => c.fail(n, k, "only inputs have `required`"),
        description: str,
        labels: strings,
      },
      name === undefined ? ["name"] : [],
    );
    if (name !== undefined && spec.name !== undefined && spec.name !== name) {
      ctx.fail(node, `${key}.name`, `differs from the key ${JSON.stringify(name)}`);
    }
    return { ...spec, name: name ?? spec.name } as TensorSpec;
  };
  return (node, key, ctx) => {
    if (isSeq(node)) {
      return (node as unknown as { items: Node[] }).items.map((item, i) => one(item, `${key}[${i}]`, ctx));
    }
    const map = mapping(node, key, ctx);
    return map.items.map((item) => {
      const name = String(isScalar(item.key) ? item.key.value : item.key);
      const path = `${key}.${/^[A-Za-z_][\w]*$/.test(name) ? name : JSON.stringify(name)}`;
      if (!item.value || (isScalar(item.value) && item.value.value === null)) return { name };
      return one(item.value as Node, path, ctx, name);
    });
  };
}

/**
 * Parses and validates the text of a `gpux.yml`.
 *
 * @param file shown in messages (`gpux.yml:7: model.source: …`).
 * @throws {InputError} for YAML syntax errors and invalid or unknown keys, naming the key and its line.
 * @example
 * ```ts
 * const config = parseGpuxConfig("name: demo\nmodel:\n  source: ./model.onnx\n");
 * config.runtime.gpu.backend; // "auto"
 * ```
 */
export function parseGpuxConfig(text: string, file = "gpux.yml"): GpuxConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const ctx = new Ctx(file, lines);
  if (doc.errors.length) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? (e.pos ? lines.linePos(e.pos[0]).line : undefined);
    throw new InputError(`${file}${line ? `:${line}` : ""}: invalid YAML: ${e.message.split("\n")[0]}`, {
      hint: "fix the YAML syntax (indentation with spaces, `key: value`)",
    });
  }
  if (doc.contents === null) ctx.fail(null, "(document)", "the file is empty; it needs at least name and model.source");
  const top = fields(doc.contents as Node, "", ctx, {
    name: str,
    version: str,
    description: str,
    model: (node, key, c) => {
      const m = fields(node, key, c, { source, format: oneOf(["onnx"] as const), variant: str }, ["source"]);
      return { source: m.source, format: m.format ?? "onnx", ...(m.variant ? { variant: m.variant } : {}) };
    },
    inputs: tensorSpecs("inputs"),
    outputs: tensorSpecs("outputs"),
    runtime: (node, key, c) => {
      const r = fields(node, key, c, {
        gpu: (n, k, c2) => {
          const g = fields(n, k, c2, {
            backend: (n3, k3, c3) => {
              const v = isScalar(n3) ? n3.value : undefined;
              if (!isProviderChoice(v)) {
                c3.fail(n3, k3, `expected auto or one of ${PROVIDER_NAMES.join(", ")}, got ${describe(n3)}`);
              }
              return v as ProviderChoice;
            },
            memory,
            device_id: limited(LIMITS.deviceId),
          });
          return { backend: g.backend ?? "auto", memory: g.memory, deviceId: g.device_id };
        },
        batch_size: limited(LIMITS.batch),
        timeout: limited(LIMITS.timeoutSeconds),
        graph_optimization: oneOf(["disabled", "basic", "extended", "all"] as const),
        intra_op_threads: limited(LIMITS.threads),
        inter_op_threads: limited(LIMITS.threads),
      });
      return dropUndefined({
        gpu: r.gpu ?? { backend: "auto" },
        batchSize: r.batch_size,
        timeout: r.timeout,
        graphOptimization: r.graph_optimization,
        intraOpThreads: r.intra_op_threads,
        interOpThreads: r.inter_op_threads,
      });
    },
    serving: (node, key, c) => {
      const s = fields(node, key, c, {
        host: str,
        port: limited(LIMITS.port),
        batch_size: limited(LIMITS.maxBatch),
        batch_delay_ms: limited(LIMITS.batchDelayMs),
        timeout: limited(LIMITS.timeoutSeconds),
        max_workers: limited(LIMITS.workers),
        max_queue: limited(LIMITS.maxQueue),
        max_body_mb: limited(LIMITS.maxBodyMb),
        cors: str,
        max_batch_items: limited(LIMITS.maxBatchItems),
        max_text_chars: limited(LIMITS.maxTextChars),
        max_image_pixels: limited(LIMITS.maxImagePixels),
        max_audio_seconds: limited(LIMITS.maxAudioSeconds),
        max_tensor_elements: limited(LIMITS.maxTensorElements),
        max_memory_mb: limited(LIMITS.maxMemoryMb),
        ui: bool,
      });
      return dropUndefined({
        host: s.host,
        port: s.port,
        batchSize: s.batch_size,
        batchDelayMs: s.batch_delay_ms,
        timeout: s.timeout,
        maxWorkers: s.max_workers,
        maxQueue: s.max_queue,
        maxBodyMb: s.max_body_mb,
        cors: s.cors,
        maxBatchItems: s.max_batch_items,
        maxTextChars: s.max_text_chars,
        maxImagePixels: s.max_image_pixels,
        maxAudioSeconds: s.max_audio_seconds,
        maxTensorElements: s.max_tensor_elements,
        maxMemoryMb: s.max_memory_mb,
        ui: s.ui,
      });
    },
    task: (node, key, c) => {
      const v = str(node, key, c);
      if (!/^[a-z][a-z0-9-]*$/.test(v)) {
        c.fail(node, key, `expected a task name like text-classification, got ${describe(node)}`);
      }
      return v;
    },
    preprocessing: (node, key, c) => {
      const p = fields(node, key, c, {
        tokenizer: str,
        max_length: limited(LIMITS.maxLength),
        resize: sizeOrPair,
        crop: sizeOrPair,
        mean: channelNumbers(false),
        std: channelNumbers(true),
        normalize: oneOf(["imagenet", "none"] as const),
        layout: oneOf(["nchw", "nhwc"] as const),
        sampling_rate: limited(LIMITS.samplingRate),
        labels: strings,
      });
      return dropUndefined({
        tokenizer: p.tokenizer,
        maxLength: p.max_length,
        resize: p.resize,
        crop: p.crop,
        mean: p.mean,
        std: p.std,
        normalize: p.normalize,
        layout: p.layout,
        samplingRate: p.sampling_rate,
        labels: p.labels,
      });
    },
  }, ["name", "model"]);
  if (top.runtime?.gpu) top.runtime.gpu = dropUndefined(top.runtime.gpu);
  return dropUndefined({
    name: top.name,
    version: top.version,
    description: top.description,
    model: top.model,
    inputs: top.inputs ?? [],
    outputs: top.outputs ?? [],
    runtime: top.runtime ?? { gpu: { backend: "auto" } },
    serving: top.serving,
    task: top.task,
    preprocessing: top.preprocessing,
  }) as GpuxConfig;
}

function dropUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const k of Object.keys(value)) if (value[k] === undefined) delete value[k];
  return value;
}

/** Reads and parses a `gpux.yml` file. */
export async function readGpuxConfig(path: string): Promise<GpuxConfig> {
  return parseGpuxConfig(await Deno.readTextFile(path), path);
}

/**
 * Where a config's `inputs`/`outputs` disagree with what the model declares: unknown names, another
 * type, another rank or fixed size. Empty when they agree (or the config declares nothing).
 *
 * @example
 * ```ts
 * import { configMismatches, parseGpuxConfig } from "jsr:@gpux/gpux/runtime";
 * import { loadModel } from "jsr:@gpux/gpux";
 * const config = parseGpuxConfig(await Deno.readTextFile("gpux.yml"), "gpux.yml");
 * const session = await loadModel("model.onnx");
 * for (const problem of configMismatches(config, session)) console.warn(problem);
 * ```
 */
export function configMismatches(
  config: GpuxConfig,
  model: {
    inputs: readonly { name: string; dtype: string; shape: readonly (number | string | null)[] }[];
    outputs: readonly { name: string; dtype: string; shape: readonly (number | string | null)[] }[];
  },
): string[] {
  const problems: string[] = [];
  for (const kind of ["inputs", "outputs"] as const) {
    const declared = new Map(model[kind].map((t) => [t.name, t]));
    for (const spec of config[kind]) {
      const actual = declared.get(spec.name);
      const where = `gpux.yml ${kind}.${JSON.stringify(spec.name)}`;
      if (!actual) {
        problems.push(
          `${where}: the model has no such ${kind.slice(0, -1)} (it has ${
            [...declared.keys()].map((n) => JSON.stringify(n)).join(", ")
          })`,
        );
        continue;
      }
      if (spec.type && spec.type !== actual.dtype) {
        problems.push(`${where}: type ${spec.type}, but the model says ${actual.dtype}`);
      }
      if (spec.shape) {
        const fixedDiffers = spec.shape.some((d, i) =>
          typeof d === "number" && typeof actual.shape[i] === "number" && d !== actual.shape[i]
        );
        if (spec.shape.length !== actual.shape.length || fixedDiffers) {
          const show = (s: readonly (number | string | null)[]) => `[${s.map((d) => d ?? "?").join(", ")}]`;
          problems.push(`${where}: shape ${show(spec.shape)}, but the model says ${show(actual.shape)}`);
        }
      }
    }
  }
  return problems;
}
