/**
 * What a repository holds, read from its file list alone: the weight formats present, the ONNX
 * variants (precisions / quantisations, laid out the way transformers.js and Optimum write them),
 * which variant gpux runs by default, the input modality and the Optimum export command for a
 * repository without ONNX.
 *
 * Everything here is a pure function over `{ path, size }` entries (a {@linkcode ModelFile} fits):
 * the registry, the pull helper and the runtime all share these answers.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** Input modality, derived from the pipeline tag. */
export type Modality = "text" | "vision" | "audio" | "multimodal" | "tabular" | "other";

/** Weight formats recognised in a repository's file list. */
export type ModelFormat =
  | "onnx"
  | "safetensors"
  | "pytorch"
  | "tensorflow"
  | "tflite"
  | "gguf"
  | "openvino"
  | "coreml";

/** One ONNX variant (a precision/quantisation) of a repository, possibly split into components. */
export interface OnnxVariant {
  /** Variant name as transformers.js names it: `fp32`, `fp16`, `quantized`, `q4`, `q4f16`, `int8`, `uint8`, `bnb4`, … */
  name: string;
  /** Components, e.g. `model`, or `encoder_model` + `decoder_model_merged`. */
  components: string[];
  /** Every file of the variant: the `.onnx` files and their external data. */
  files: string[];
  /** Total size in bytes, external data included. */
  size: number;
}

/** The ONNX side of a repository: its variants and which one gpux runs by default. */
export interface OnnxInfo {
  /** Every ONNX variant found, largest precision first. */
  variants: OnnxVariant[];
  /** Name of the variant gpux would run without `--variant`. */
  defaultVariant?: string;
  /** Why that variant is the default, in one sentence. */
  defaultReason?: string;
}

/** How to get an ONNX export for a repository that has none. */
export interface ConversionHint {
  /** The Optimum task, derived from the pipeline tag (`auto` when unknown). */
  task: string;
  /** The exact command, e.g. `optimum-cli export onnx --model org/name --task text-classification org_name_onnx/`. */
  command: string;
}

/** The least a file entry needs for format detection: its path (and size, for variant sizes). */
export interface FileEntry {
  /** Path inside the repository, `/`-separated. */
  path: string;
  /** Size in bytes (0 when unknown). */
  size?: number;
}

/** Every format, in the order reports list them. */
export const MODEL_FORMATS: readonly ModelFormat[] = [
  "onnx",
  "safetensors",
  "pytorch",
  "tensorflow",
  "tflite",
  "gguf",
  "openvino",
  "coreml",
];

// ---------------------------------------------------------------------------------------------
// formats

/** PyTorch pickles written by the Trainer that are not model weights. */
const TRAINING_ARTIFACTS = /^(training_args\.bin|optimizer\.pt|scheduler\.pt|scaler\.pt|rng_state(_\d+)?\.pth)$/;

/**
 * The weight formats present in a file list (a repository may hold several), in the order of
 * {@linkcode MODEL_FORMATS}.
 *
 * - `onnx`: `*.onnx` (external data `*.onnx_data`, `*.onnx.data` belongs to it)
 * - `safetensors`: `*.safetensors`, or a sharded `*.safetensors.index.json`
 * - `pytorch`: `*.bin` (not OpenVINO's), `*.pt`, `*.pth`, `pytorch_model.bin.index.json` (not trainer state)
 * - `tensorflow`: `*.h5`, `*.keras`, `saved_model.pb`
 * - `tflite`: `*.tflite`; `gguf`: `*.gguf`
 * - `openvino`: an `X.xml` with an `X.bin` beside it
 * - `coreml`: `*.mlmodel`, `*.mlpackage/…`, `*.mlmodelc/…`
 *
 * @example
 * ```ts
 * detectFormats([{ path: "onnx/model.onnx" }, { path: "model.safetensors" }]); // ["onnx", "safetensors"]
 * ```
 */
export function detectFormats(files: readonly FileEntry[]): ModelFormat[] {
  const paths = new Set(files.map((f) => f.path));
  const found = new Set<ModelFormat>();
  for (const path of paths) {
    const name = baseName(path);
    const lower = name.toLowerCase();
    if (lower.endsWith(".onnx")) found.add("onnx");
    else if (lower.endsWith(".safetensors") || lower.endsWith(".safetensors.index.json")) found.add("safetensors");
    else if (lower.endsWith(".bin")) {
      if (paths.has(path.slice(0, -4) + ".xml")) found.add("openvino");
      else if (!TRAINING_ARTIFACTS.test(name)) found.add("pytorch");
    } else if (lower.endsWith(".pt") || lower.endsWith(".pth") || lower === "pytorch_model.bin.index.json") {
      if (!TRAINING_ARTIFACTS.test(name)) found.add("pytorch");
    } else if (lower.endsWith(".h5") || lower.endsWith(".keras") || lower === "saved_model.pb") found.add("tensorflow");
    else if (lower.endsWith(".tflite")) found.add("tflite");
    else if (lower.endsWith(".gguf")) found.add("gguf");
    else if (lower.endsWith(".xml") && paths.has(path.slice(0, -4) + ".bin")) found.add("openvino");
    else if (lower.endsWith(".mlmodel") || /\.(mlpackage|mlmodelc)\//i.test(path)) found.add("coreml");
  }
  return MODEL_FORMATS.filter((format) => found.has(format));
}

// ---------------------------------------------------------------------------------------------
// ONNX variants

/**
 * File-name suffixes that name a variant, as transformers.js (`_fp16`, `_quantized`, `_q4`, …) and
 * Optimum / sentence-transformers (`_O1`…`_O4`, `_optimized`, `_qint8_avx512`, …) write them.
 */
const VARIANT_SUFFIX =
  /_(fp32|fp16|quantized|q4f16|q4|q8|int8|uint8|bnb4|int4|uint4|O[1-4]|optimized|qint8(?:_[A-Za-z0-9_]+)?|quint8(?:_[A-Za-z0-9_]+)?)$/;

/** External data of `base.onnx`: `base.onnx_data`, `base.onnx.data`, `base.onnx_data_1`, … */
const EXTERNAL_DATA = /\.onnx(?:_data|\.data)(?:_\d+)?$/;

/** Precision classes, best first: the default variant is taken from the best class present. */
const PRECISION: { test: RegExp; rank: number; label: string }[] = [
  { test: /^(fp32|optimized|O[1-4])$/, rank: 0, label: "full precision (fp32)" },
  { test: /^fp16$/, rank: 1, label: "half precision (fp16)" },
  { test: /^(quantized|q8|int8|uint8|qint8.*|quint8.*)$/, rank: 2, label: "8-bit quantised" },
  { test: /^(q4|q4f16|bnb4|int4|uint4)$/, rank: 3, label: "4-bit quantised" },
];

function precisionOf(variant: string): { rank: number; label: string } {
  return PRECISION.find((p) => p.test.test(variant)) ?? { rank: 4, label: "unknown precision" };
}

/** Where one `.onnx` file sits among the variants. */
export interface OnnxFileRole {
  /** Variant name (`fp32` when the file name has no variant suffix). */
  variant: string;
  /** Folder and component, e.g. `onnx/decoder_model_merged` (without the variant suffix). */
  key: string;
  /** Folder of the file (`""` at the root). */
  dir: string;
  /** Component name, e.g. `model`, `encoder_model`, `decoder_model_merged`. */
  component: string;
}

/**
 * Which variant and component an `.onnx` path belongs to; `undefined` for any other file.
 *
 * @example
 * ```ts
 * onnxFileRole("onnx/decoder_model_merged_q4f16.onnx");
 * // { variant: "q4f16", key: "onnx/decoder_model_merged", dir: "onnx", component: "decoder_model_merged" }
 * ```
 */
export function onnxFileRole(path: string): OnnxFileRole | undefined {
  if (!path.toLowerCase().endsWith(".onnx")) return undefined;
  const dir = dirName(path);
  const stem = baseName(path).slice(0, -".onnx".length);
  const match = VARIANT_SUFFIX.exec(stem);
  const component = match && match.index > 0 ? stem.slice(0, match.index) : stem;
  const variant = match && match.index > 0 ? match[1] : "fp32";
  return { variant, key: dir ? `${dir}/${component}` : component, dir, component };
}

/** True for ONNX weights: `.onnx` files and their external data (`.onnx_data`, `.onnx.data`, `_N` shards). */
export function isOnnxFile(path: string): boolean {
  return path.toLowerCase().endsWith(".onnx") || EXTERNAL_DATA.test(path);
}

/** The external-data files of one `.onnx` file among `paths` (same folder, named after it). */
export function externalDataFiles(onnxPath: string, paths: Iterable<string>): string[] {
  const prefix = onnxPath; // "dir/model.onnx" -> "dir/model.onnx_data", "dir/model.onnx.data", "dir/model.onnx_data_3"
  const out: string[] = [];
  for (const path of paths) {
    if (path === onnxPath || !path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    if (/^(?:_data|\.data)(?:_\d+)?$/.test(rest)) out.push(path);
  }
  return out.sort(compareNatural);
}

/** Components that `decoder_model_merged` replaces (transformers.js loads only the merged one). */
const MERGED_REPLACES = ["decoder_model", "decoder_with_past_model"];

/**
 * Groups a repository's `.onnx` files into variants (`fp32`, `fp16`, `quantized`, `q4`, `q4f16`,
 * `int8`, `uint8`, `bnb4`, `O1`…), each with its components (`model`, or `encoder_model` +
 * `decoder_model_merged` …), its files (the `.onnx` files and their external data) and its total
 * size; then picks the default variant: `fp32` when present, else the smallest variant of the most
 * precise class present (fp16 before 8-bit before 4-bit), and says why in `defaultReason`.
 *
 * Files may sit in `onnx/` (transformers.js), at the root (Optimum) or in sub-folders (one per
 * component, e.g. `unet/model.onnx`). Component names carry their folder only when the repository's
 * ONNX files live in more than one folder. Where a variant has `decoder_model_merged`, its
 * `decoder_model` and `decoder_with_past_model` are left out (the merged graph replaces both).
 *
 * @example
 * ```ts
 * const info = onnxVariants([
 *   { path: "onnx/model.onnx", size: 90 },
 *   { path: "onnx/model_fp16.onnx", size: 45 },
 *   { path: "onnx/model_quantized.onnx", size: 23 },
 * ]);
 * info.variants.map((v) => v.name); // ["fp32", "fp16", "quantized"]
 * info.defaultVariant; // "fp32"
 * ```
 */
export function onnxVariants(files: readonly FileEntry[]): OnnxInfo {
  const sizes = new Map(files.map((f) => [f.path, f.size ?? 0]));
  const paths = [...sizes.keys()];
  const roles = paths.flatMap((path) => {
    const role = onnxFileRole(path);
    return role ? [{ path, ...role }] : [];
  });
  if (roles.length === 0) return { variants: [] };
  const oneFolder = new Set(roles.map((r) => r.dir)).size === 1;

  const byVariant = new Map<string, typeof roles>();
  for (const role of roles) {
    const list = byVariant.get(role.variant) ?? [];
    list.push(role);
    byVariant.set(role.variant, list);
  }

  const variants: OnnxVariant[] = [];
  for (const [name, members] of byVariant) {
    const mergedDirs = new Set(members.filter((m) => m.component === "decoder_model_merged").map((m) => m.dir));
    const kept = members.filter((m) => !(mergedDirs.has(m.dir) && MERGED_REPLACES.includes(m.component)));
    kept.sort((a, b) => compareNatural(a.key, b.key));
    const variantFiles: string[] = [];
    for (const member of kept) variantFiles.push(member.path, ...externalDataFiles(member.path, paths));
    variants.push({
      name,
      components: kept.map((m) => oneFolder ? m.component : m.key),
      files: variantFiles,
      size: variantFiles.reduce((sum, path) => sum + (sizes.get(path) ?? 0), 0),
    });
  }
  variants.sort((a, b) =>
    precisionOf(a.name).rank - precisionOf(b.name).rank || orderOf(a.name) - orderOf(b.name) ||
    compareNatural(a.name, b.name)
  );
  return { variants, ...chooseDefault(variants) };
}

/** Display order inside a precision class (transformers.js's dtype order), unknown names last. */
const KNOWN_ORDER = ["fp32", "optimized", "O1", "O2", "O3", "O4", "fp16", "quantized", "q8", "int8", "uint8"]
  .concat(["q4", "q4f16", "bnb4", "int4", "uint4"]);
function orderOf(name: string): number {
  const i = KNOWN_ORDER.indexOf(name);
  return i === -1 ? KNOWN_ORDER.length : i;
}

function chooseDefault(variants: OnnxVariant[]): { defaultVariant?: string; defaultReason?: string } {
  if (variants.length === 0) return {};
  const fp32 = variants.find((v) => v.name === "fp32");
  if (fp32) {
    return {
      defaultVariant: "fp32",
      defaultReason: variants.length === 1
        ? "fp32 is the only ONNX variant in the repository"
        : "fp32 is full precision: the reference outputs, and it runs on every execution provider",
    };
  }
  const best = Math.min(...variants.map((v) => precisionOf(v.name).rank));
  const candidates = variants.filter((v) => precisionOf(v.name).rank === best);
  const chosen = candidates.reduce((a, b) => (b.size < a.size ? b : a));
  const label = precisionOf(chosen.name).label;
  const why = candidates.length === 1
    ? `there is no fp32 variant; ${chosen.name} is the most precise one present (${label})`
    : `there is no fp32 variant; ${chosen.name} is the smallest of the most precise ones present (${label}: ${
      candidates.map((c) => c.name).join(", ")
    })`;
  return { defaultVariant: chosen.name, defaultReason: why };
}

/**
 * The files one ONNX variant needs: its `.onnx` files and their external data, as entries of `files`.
 *
 * @throws {InputError} when the repository has no such variant (the message lists those it has).
 * @example
 * ```ts
 * import { selectVariantFiles } from "jsr:@gpux/gpux/registry";
 * const files = [{ path: "onnx/model.onnx", size: 100 }, { path: "onnx/model_q4.onnx", size: 30 }];
 * selectVariantFiles(files, "q4").map((f) => f.path); // ["onnx/model_q4.onnx"]
 * ```
 */
export function selectVariantFiles<T extends FileEntry>(files: readonly T[], variantName: string): T[] {
  const info = onnxVariants(files);
  const variant = info.variants.find((v) => v.name === variantName);
  if (!variant) {
    const have = info.variants.map((v) => v.name);
    throw new InputError(
      have.length === 0
        ? `the repository has no ONNX files, so there is no variant '${variantName}'`
        : `the repository has no ONNX variant '${variantName}' (it has: ${have.join(", ")})`,
      { hint: have.length ? `pick one of: ${have.join(", ")}` : "convert it first (see `gpux info <model>`)" },
    );
  }
  const wanted = new Set(variant.files);
  return files.filter((f) => wanted.has(f.path));
}

/**
 * The files a snapshot of one variant holds: every file that is not ONNX weights (configs,
 * tokenizer, README, other formats…) plus the chosen variant's `.onnx` files and external data.
 * Without `variantName`, the default variant. A repository without ONNX gets every file.
 *
 * @throws {InputError} when the repository has no such variant.
 */
export function filesWithVariant<T extends FileEntry>(files: readonly T[], variantName?: string): T[] {
  const name = variantName ?? onnxVariants(files).defaultVariant;
  if (name === undefined && variantName === undefined) return [...files];
  const chosen = new Set(selectVariantFiles(files, name!).map((f) => f.path));
  return files.filter((f) => chosen.has(f.path) || !isOnnxFile(f.path));
}

// ---------------------------------------------------------------------------------------------
// modality and conversion

const MODALITY: Record<Exclude<Modality, "other">, string[]> = {
  text: [
    "text-classification",
    "token-classification",
    "table-question-answering",
    "question-answering",
    "zero-shot-classification",
    "translation",
    "summarization",
    "feature-extraction",
    "text-generation",
    "text2text-generation",
    "fill-mask",
    "sentence-similarity",
    "text-ranking",
    "conversational",
  ],
  vision: [
    "depth-estimation",
    "image-classification",
    "object-detection",
    "image-segmentation",
    "text-to-image",
    "image-to-text",
    "image-to-image",
    "image-to-video",
    "unconditional-image-generation",
    "video-classification",
    "text-to-video",
    "zero-shot-image-classification",
    "mask-generation",
    "zero-shot-object-detection",
    "text-to-3d",
    "image-to-3d",
    "image-feature-extraction",
    "keypoint-detection",
  ],
  audio: [
    "text-to-speech",
    "text-to-audio",
    "automatic-speech-recognition",
    "audio-to-audio",
    "audio-classification",
    "voice-activity-detection",
  ],
  multimodal: [
    "audio-text-to-text",
    "image-text-to-text",
    "visual-question-answering",
    "document-question-answering",
    "video-text-to-text",
    "visual-document-retrieval",
    "any-to-any",
  ],
  tabular: ["tabular-classification", "tabular-regression", "time-series-forecasting"],
};

/**
 * The input modality of a pipeline tag, following the Hub's task categories
 * (text / vision / audio / multimodal / tabular); `other` for anything else or no tag.
 *
 * @example
 * ```ts
 * modalityFromPipelineTag("automatic-speech-recognition"); // "audio"
 * ```
 */
export function modalityFromPipelineTag(pipelineTag: string | undefined): Modality {
  if (!pipelineTag) return "other";
  for (const [modality, tags] of Object.entries(MODALITY)) {
    if (tags.includes(pipelineTag)) return modality as Modality;
  }
  return "other";
}

/** Pipeline tag -> the task `optimum-cli export onnx --task` takes (with-past for generative models). */
const OPTIMUM_TASK: Record<string, string> = {
  "text-classification": "text-classification",
  "zero-shot-classification": "text-classification",
  "token-classification": "token-classification",
  "question-answering": "question-answering",
  "fill-mask": "fill-mask",
  "feature-extraction": "feature-extraction",
  "sentence-similarity": "feature-extraction",
  "image-feature-extraction": "feature-extraction",
  "text-generation": "text-generation-with-past",
  "text2text-generation": "text2text-generation-with-past",
  "summarization": "text2text-generation-with-past",
  "translation": "text2text-generation-with-past",
  "automatic-speech-recognition": "automatic-speech-recognition-with-past",
  "audio-classification": "audio-classification",
  "image-classification": "image-classification",
  "object-detection": "object-detection",
  "image-segmentation": "image-segmentation",
  "depth-estimation": "depth-estimation",
  "image-to-text": "image-to-text-with-past",
  "image-to-image": "image-to-image",
  "zero-shot-image-classification": "zero-shot-image-classification",
  "zero-shot-object-detection": "zero-shot-object-detection",
  "mask-generation": "mask-generation",
  "text-to-audio": "text-to-audio",
  "text-to-speech": "text-to-audio",
};

/**
 * The Optimum export task for a pipeline tag (`auto`, Optimum's own inference, when there is no mapping).
 *
 * @example
 * ```ts
 * optimumTaskFromPipelineTag("text-generation"); // "text-generation-with-past"
 * ```
 */
export function optimumTaskFromPipelineTag(pipelineTag: string | undefined): string {
  return (pipelineTag && OPTIMUM_TASK[pipelineTag]) || "auto";
}

/**
 * The exact Optimum command that exports a repository to ONNX.
 *
 * @example
 * ```ts
 * conversionHint("acme/tiny-bert", "text-classification").command;
 * // "optimum-cli export onnx --model acme/tiny-bert --task text-classification acme_tiny-bert_onnx/"
 * ```
 */
export function conversionHint(modelId: string, pipelineTag?: string, revision?: string): ConversionHint {
  const task = optimumTaskFromPipelineTag(pipelineTag);
  const rev = revision && revision !== "main" ? ` --revision ${revision}` : "";
  const dir = `${modelId.replaceAll("/", "_")}_onnx/`;
  return { task, command: `optimum-cli export onnx --model ${modelId}${rev} --task ${task} ${dir}` };
}

// ---------------------------------------------------------------------------------------------

function baseName(path: string): string {
  const i = path.lastIndexOf("/");
  return i === -1 ? path : path.slice(i + 1);
}

function dirName(path: string): string {
  const i = path.lastIndexOf("/");
  return i === -1 ? "" : path.slice(0, i);
}

/** Orders `model.onnx_data_2` before `model.onnx_data_10`. */
function compareNatural(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}
