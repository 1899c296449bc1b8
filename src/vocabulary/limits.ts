/**
 * The bounds of every number a user gives gpux, in one table: command-line flags (`--workers`, `--runs`, …) and
 * gpux.yml fields (`serving.max_workers`, `runtime.intra_op_threads`, …) read the same entry, so a value the flag
 * refuses is refused in gpux.yml too, with the same range in the message (exit 2) — instead of starting 100,000
 * workers. It lives in the vocabulary because the flag parser (src/cli/) and the gpux.yml validator (src/config/)
 * both need it, and config/ may not import cli/.
 *
 * @module
 */

/** An inclusive range of accepted values, and where users meet it. */
export interface Limit {
  /** Smallest accepted value. */
  min: number;
  /** Largest accepted value. */
  max: number;
  /** Whether fractions are accepted (default: whole numbers only). */
  fractional?: boolean;
  /** What the number counts, for people (the README's limits table). */
  what: string;
  /** The flags that take it (`--workers`), if any. */
  flags?: readonly string[];
  /** The gpux.yml fields that take it (`serving.max_workers`), if any. */
  fields?: readonly string[];
  /** The environment variables that take it (`GPUX_PULL_CHUNK_BYTES`), if any. */
  env?: readonly string[];
  /** The default when nothing is given, in words. */
  default?: string;
}

/**
 * Every bounded number gpux takes. A flag's parser and a gpux.yml field read the same entry; the README's limits
 * table lists them.
 */
export const LIMITS = {
  /** `pull --concurrency`: the connection budget (files and byte ranges in flight). */
  concurrency: { min: 1, max: 64, what: "connections a pull keeps open", flags: ["pull --concurrency"], default: "32" },
  /** `GPUX_PULL_CHUNK_BYTES`: the size of one byte range of a pull (a 1-byte range would mean a billion requests). */
  pullChunkBytes: {
    min: 65_536,
    max: 2 ** 32,
    what: "bytes per ranged request of a pull",
    env: ["GPUX_PULL_CHUNK_BYTES"],
    default: "16 MiB",
  },
  /** `GPUX_PULL_RANGE_THRESHOLD`: the smallest file a pull fetches as byte ranges. */
  pullRangeThreshold: {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    what: "smallest file fetched as parallel byte ranges, in bytes",
    env: ["GPUX_PULL_RANGE_THRESHOLD"],
    default: "32 MiB",
  },
  /** `search --limit`: results asked for. */
  limit: { min: 1, max: 1000, what: "search results", flags: ["search --limit"], default: "20" },
  /** `bench --runs`, `run --benchmark --runs`: timed runs. */
  runs: { min: 1, max: 1_000_000, what: "timed benchmark runs", flags: ["bench --runs", "run --runs"], default: "100" },
  /** `--warmup`: untimed runs. */
  warmup: {
    min: 0,
    max: 100_000,
    what: "untimed benchmark runs",
    flags: ["bench --warmup", "run --warmup"],
    default: "10",
  },
  /** `--batch` and gpux.yml `runtime.batch_size`: size of a synthesised dynamic batch dimension. */
  batch: {
    min: 1,
    max: 65_536,
    what: "batch size of synthesised benchmark inputs",
    flags: ["bench --batch", "run --batch"],
    fields: ["runtime.batch_size"],
    default: "1",
  },
  /** `--device-id`, gpux.yml `runtime.gpu.device_id`: GPU index. */
  deviceId: {
    min: 0,
    max: 255,
    what: "GPU index",
    flags: ["--device-id"],
    fields: ["runtime.gpu.device_id"],
    default: "0",
  },
  /** `--intra-op-threads`, `--inter-op-threads` and their gpux.yml fields: onnxruntime thread pools. */
  threads: {
    min: 1,
    max: 256,
    what: "onnxruntime threads (per session)",
    flags: ["--intra-op-threads", "--inter-op-threads"],
    fields: ["runtime.intra_op_threads", "runtime.inter_op_threads"],
    default: "onnxruntime's (the cores; serve: cores / workers)",
  },
  /** `run --top-k`: labels per input. */
  topK: {
    min: 1,
    max: 100_000,
    what: "labels per classified input",
    flags: ["run --top-k"],
    default: "1 (5 for images)",
  },
  /** `run --max-answer-length`, serve `max_answer_length`: tokens in one question-answering answer. */
  maxAnswerLength: {
    min: 1,
    max: 512,
    what: "question-answering: longest answer, tokens",
    flags: ["run --max-answer-length"],
    default: "15",
  },
  /** `run --max-seq-length`, serve `max_seq_length`: tokens in one question-answering window. */
  maxSeqLength: {
    min: 8,
    max: 8192,
    what: "question-answering: tokens per window (question and special tokens included)",
    flags: ["run --max-seq-length"],
    default: "the model's maximum, at most 384",
  },
  /** `run --doc-stride`, serve `doc_stride`: context tokens two question-answering windows share. */
  docStride: {
    min: 0,
    max: 4096,
    what: "question-answering: context tokens consecutive windows share",
    flags: ["run --doc-stride"],
    default: "min(128, half a window)",
  },
  /** `run --max-input-mb`, `bench --max-input-mb`: the largest input file read, MiB (2 GiB: a typed array's practical limit). */
  maxInputMb: {
    min: 1,
    max: 2048,
    what: "largest input file read (--image, --audio, --file, --input-npy), MiB",
    flags: ["run --max-input-mb", "bench --max-input-mb"],
    default: "256",
  },
  /** `--max-audio-seconds`: the longest audio clip accepted (up to a day). */
  maxAudioSeconds: {
    min: 1,
    max: 86_400,
    what: "longest audio clip accepted, seconds",
    flags: ["run --max-audio-seconds", "serve --max-audio-seconds"],
    fields: ["serving.max_audio_seconds"],
    default: "600",
  },
  /** `serve --port`, gpux.yml `serving.port`. */
  port: {
    min: 0,
    max: 65_535,
    what: "port to listen on (0 picks a free one)",
    flags: ["serve --port"],
    fields: ["serving.port"],
    default: "8080",
  },
  /** `serve --workers`, gpux.yml `serving.max_workers`: workers holding a session each. */
  workers: {
    min: 1,
    max: 256,
    what: "workers per served model",
    flags: ["serve --workers"],
    fields: ["serving.max_workers"],
    default: "1 on a GPU, cores / 2 on cpu",
  },
  /** `serve --max-batch`, gpux.yml `serving.batch_size`: requests stacked into one run. */
  maxBatch: {
    min: 1,
    max: 4096,
    what: "requests stacked into one run",
    flags: ["serve --max-batch"],
    fields: ["serving.batch_size"],
    default: "32",
  },
  /** `serve --batch-delay-ms`, gpux.yml `serving.batch_delay_ms`. */
  batchDelayMs: {
    min: 0,
    max: 60_000,
    what: "milliseconds a partial batch waits",
    flags: ["serve --batch-delay-ms"],
    fields: ["serving.batch_delay_ms"],
    default: "0",
  },
  /** `serve --max-queue`, gpux.yml `serving.max_queue`: requests waiting per model. */
  maxQueue: {
    min: 1,
    max: 1_000_000,
    what: "requests waiting per model",
    flags: ["serve --max-queue"],
    fields: ["serving.max_queue"],
    default: "256",
  },
  /** `serve --parallel`: sequences a text-generation model decodes at once (together in one batched step). */
  parallel: {
    min: 1,
    max: 256,
    what: "sequences generated at once per model",
    flags: ["serve --parallel"],
    default: "1",
  },
  /** `serve --max-tokens-limit`: the most new tokens one generation request may ask for. */
  maxTokensLimit: {
    min: 1,
    max: 1_048_576,
    what: "new tokens one generation request may ask for",
    flags: ["serve --max-tokens-limit"],
    default: "4096",
  },
  /** `serve --timeout-ms`: per-request limit in milliseconds (0 = none). */
  timeoutMs: {
    min: 0,
    max: 86_400_000,
    what: "milliseconds one request may take (0 = none)",
    flags: ["serve --timeout-ms"],
    default: "30000",
  },
  /** gpux.yml `serving.timeout`, `runtime.timeout`: the same limit in seconds (what `--timeout-ms` allows, /1000). */
  timeoutSeconds: {
    min: 0.001,
    max: 86_400,
    fractional: true,
    what: "seconds one request may take",
    fields: ["serving.timeout", "runtime.timeout"],
    default: "30",
  },
  /** `serve --max-body-mb`, gpux.yml `serving.max_body_mb`: largest request body. */
  maxBodyMb: {
    min: 0.001,
    max: 1024,
    fractional: true,
    what: "largest request body, in MB",
    flags: ["serve --max-body-mb"],
    fields: ["serving.max_body_mb"],
    default: "16",
  },
  /** `serve --max-batch-items`: texts, images, clips or zero-shot rows in one request. */
  maxBatchItems: {
    min: 1,
    max: 1_000_000,
    what: "items (texts, images, audio clips, zero-shot rows) in one served request",
    flags: ["serve --max-batch-items"],
    fields: ["serving.max_batch_items"],
    default: "256",
  },
  /** `serve --max-text-chars`: characters of text in one request. */
  maxTextChars: {
    min: 1,
    max: 1_000_000_000,
    what: "characters of text in one served request",
    flags: ["serve --max-text-chars"],
    fields: ["serving.max_text_chars"],
    default: "1,000,000",
  },
  /** `serve --max-image-pixels`: one image's width × height (the decoder refuses more than PIL's limit anyway). */
  maxImagePixels: {
    min: 1,
    max: 89_478_485,
    what: "pixels of one image in a served request (from its header)",
    flags: ["serve --max-image-pixels"],
    fields: ["serving.max_image_pixels"],
    default: "89,478,485 (PIL's MAX_IMAGE_PIXELS)",
  },
  /** `serve --max-tensor-elements`: one input tensor's elements, every dimension counted. */
  maxTensorElements: {
    min: 1,
    max: 2 ** 32,
    what: "elements of one input tensor in a served request",
    flags: ["serve --max-tensor-elements"],
    fields: ["serving.max_tensor_elements"],
    default: "67,108,864 (2^26)",
  },
  /** `serve --max-memory-mb`: the server's memory budget. */
  maxMemoryMb: {
    min: 64,
    max: 16 * 1024 * 1024,
    what: "memory budget of gpux serve, MB",
    flags: ["serve --max-memory-mb"],
    fields: ["serving.max_memory_mb"],
    default: "half the machine's memory",
  },
  /** gpux.yml `preprocessing.max_length`: longest token sequence. */
  maxLength: {
    min: 1,
    max: 1_048_576,
    what: "tokens per text after truncation",
    fields: ["preprocessing.max_length"],
    default: "the tokenizer's model_max_length",
  },
  /** gpux.yml `preprocessing.resize` and `crop`: an image side in pixels. */
  imageSide: {
    min: 1,
    max: 16_384,
    what: "image side after resize / crop, in pixels",
    fields: ["preprocessing.resize", "preprocessing.crop"],
    default: "the processor's",
  },
  /** gpux.yml `preprocessing.sampling_rate`: what a real recording has. */
  samplingRate: {
    min: 1000,
    max: 384_000,
    what: "audio sampling rate the model expects, in Hz",
    fields: ["preprocessing.sampling_rate"],
    default: "the feature extractor's",
  },
} as const satisfies Record<string, Limit>;

/** A limit's range in words: `from 1 to 256`. */
export function describeLimit(limit: Pick<Limit, "min" | "max" | "fractional">): string {
  return `${limit.fractional ? "a number" : "a whole number"} from ${limit.min} to ${limit.max}`;
}

/** Whether `value` is inside `limit` (and whole, unless the limit takes fractions). */
export function withinLimit(value: number, limit: Pick<Limit, "min" | "max" | "fractional">): boolean {
  return Number.isFinite(value) && (limit.fractional || Number.isSafeInteger(value)) && value >= limit.min &&
    value <= limit.max;
}
