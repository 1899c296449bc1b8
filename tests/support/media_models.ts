/**
 * Small image and audio models built in code, each with the repository files a real Hub model ships
 * (config.json with `architectures` and `id2label`, preprocessor_config.json, vocab.json), for the
 * pipeline tests. They compute real answers from their inputs:
 * - `tinyImageClassifier`: mean colour per channel (GlobalAveragePool) → 4 logits: red, green, blue,
 *   dark (`logit = 4·(channel mean)`, dark = `-2·(sum of means) - 2`), on pixels normalized to [-1, 1].
 * - `toneAudioClassifier` and `toneCtcModel`: 20 ms frames (320 samples at 16 kHz, a strided Conv) are
 *   correlated with 500 Hz and 1,500 Hz sines and cosines; the squared sums are each tone's energy per
 *   frame. The classifier averages them over time (labels `low tone`, `high tone`); the CTC model emits per
 *   frame `<pad>` (a constant logit), `A` (500 Hz) or `B` (1,500 Hz).
 *
 * @module
 */
import { buildModel, f32Bytes, type ModelSpec } from "./onnx_builder.ts";

/** The files of a model repository: path → content. */
export type RepoFiles = Record<string, string | Uint8Array>;

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** The colour classifier alone: `pixel_values` [batch, 3, 8, 8] (or [batch, 8, 8, 3] with `nhwc`) → `logits`. */
export function tinyImageClassifierModel(nhwc = false): Uint8Array {
  const w = [
    [4, 0, 0, -2],
    [0, 4, 0, -2],
    [0, 0, 4, -2],
  ];
  const spec: ModelSpec = {
    inputs: [{ name: "pixel_values", dtype: "float32", shape: nhwc ? ["batch", 8, 8, 3] : ["batch", 3, 8, 8] }],
    outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 4] }],
    initializers: [
      { name: "W", dtype: "float32", dims: [3, 4], data: f32Bytes(w.flat()) },
      { name: "B", dtype: "float32", dims: [4], data: f32Bytes([0, 0, 0, -2]) },
    ],
    nodes: [
      ...(nhwc
        ? [{
          op: "Transpose",
          inputs: ["pixel_values"],
          outputs: ["nchw"],
          attributes: { perm: { ints: [0, 3, 1, 2] } },
        }]
        : []),
      { op: "GlobalAveragePool", inputs: [nhwc ? "nchw" : "pixel_values"], outputs: ["pooled"] },
      { op: "Flatten", inputs: ["pooled"], outputs: ["means"], attributes: { axis: { int: 1 } } },
      { op: "MatMul", inputs: ["means", "W"], outputs: ["scores"] },
      { op: "Add", inputs: ["scores", "B"], outputs: ["logits"] },
    ],
  };
  return buildModel(spec);
}

/** Image classifier repository (ViT-style configs, input `pixel_values` [batch, 3, 8, 8]). */
export function tinyImageClassifier(): RepoFiles {
  return {
    "onnx/model.onnx": tinyImageClassifierModel(),
    "config.json": json({
      architectures: ["ViTForImageClassification"],
      model_type: "vit",
      id2label: { 0: "red", 1: "green", 2: "blue", 3: "dark" },
      label2id: { red: 0, green: 1, blue: 2, dark: 3 },
    }),
    "preprocessor_config.json": json({
      image_processor_type: "ViTImageProcessor",
      do_resize: true,
      size: { height: 8, width: 8 },
      resample: 2,
      do_rescale: true,
      rescale_factor: 0.00392156862745098,
      do_normalize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
    }),
    "README.md": "---\nlicense: mit\npipeline_tag: image-classification\n---\n# tiny colour classifier\n",
  };
}

const FRAME = 320;
const TONES = [500, 1500];

/** Conv + square + pair-sum: `input_values` [b, n] → `energy` [b, 2, frames] (per-frame tone energies). */
function toneEnergyNodes(): Pick<ModelSpec, "nodes" | "initializers"> {
  const kernels = new Float32Array(4 * FRAME);
  TONES.forEach((hz, t) => {
    for (let i = 0; i < FRAME; i++) {
      kernels[(2 * t) * FRAME + i] = Math.sin(2 * Math.PI * hz * i / 16000) / FRAME;
      kernels[(2 * t + 1) * FRAME + i] = Math.cos(2 * Math.PI * hz * i / 16000) / FRAME;
    }
  });
  const pairSum = f32Bytes([1, 1, 0, 0, 0, 0, 1, 1]); // [2 out, 4 in, 1]
  return {
    initializers: [
      { name: "axes1", dtype: "int64", dims: [1], data: new Uint8Array(BigInt64Array.of(1n).buffer) },
      { name: "K", dtype: "float32", dims: [4, 1, FRAME], data: new Uint8Array(kernels.buffer) },
      { name: "P", dtype: "float32", dims: [2, 4, 1], data: pairSum },
    ],
    nodes: [
      { op: "Unsqueeze", inputs: ["input_values", "axes1"], outputs: ["wave"] },
      {
        op: "Conv",
        inputs: ["wave", "K"],
        outputs: ["corr"],
        attributes: { kernel_shape: { ints: [FRAME] }, strides: { ints: [FRAME] } },
      },
      { op: "Mul", inputs: ["corr", "corr"], outputs: ["squares"] },
      { op: "Conv", inputs: ["squares", "P"], outputs: ["energy"], attributes: { kernel_shape: { ints: [1] } } },
    ],
  };
}

const FEATURE_EXTRACTOR = {
  feature_extractor_type: "Wav2Vec2FeatureExtractor",
  feature_size: 1,
  sampling_rate: 16000,
  padding_value: 0.0,
  do_normalize: true,
  return_attention_mask: false,
};

/** Audio classifier repository: `input_values` [batch, samples] → `logits` [batch, 2] (mean tone energies). */
export function toneAudioClassifier(): RepoFiles {
  const energy = toneEnergyNodes();
  const spec: ModelSpec = {
    inputs: [{ name: "input_values", dtype: "float32", shape: ["batch", "samples"] }],
    outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 2] }],
    initializers: [...energy.initializers!, {
      name: "scale",
      dtype: "float32",
      dims: [],
      data: f32Bytes([8]),
    }],
    nodes: [
      ...energy.nodes,
      { op: "GlobalAveragePool", inputs: ["energy"], outputs: ["pooled"] },
      { op: "Flatten", inputs: ["pooled"], outputs: ["means"], attributes: { axis: { int: 1 } } },
      { op: "Mul", inputs: ["means", "scale"], outputs: ["logits"] },
    ],
  };
  return {
    "model.onnx": buildModel(spec),
    "config.json": json({
      architectures: ["Wav2Vec2ForSequenceClassification"],
      id2label: { 0: "low tone", 1: "high tone" },
    }),
    "preprocessor_config.json": json(FEATURE_EXTRACTOR),
    "README.md": "---\npipeline_tag: audio-classification\n---\n",
  };
}

/** The CTC model's vocabulary (Wav2Vec2CTCTokenizer layout). */
export const TONE_VOCAB = { "<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, "A": 5, "B": 6 };

/**
 * CTC repository: `input_values` [batch, samples] → `logits` [batch, frames, 7]: `<pad>` has a constant
 * logit of 0.05, `A` and `B` the 500 Hz and 1,500 Hz energies, everything else -10.
 */
export function toneCtcModel(): RepoFiles {
  const energy = toneEnergyNodes();
  // 1×1 Conv: 2 energies → 7 vocabulary logits, bias gives pad its constant and the rest -10.
  const weights = new Float32Array(7 * 2);
  weights[5 * 2 + 0] = 1;
  weights[6 * 2 + 1] = 1;
  const bias = [0.05, -10, -10, -10, -10, 0, 0];
  const spec: ModelSpec = {
    inputs: [{ name: "input_values", dtype: "float32", shape: ["batch", "samples"] }],
    outputs: [{ name: "logits", dtype: "float32", shape: ["batch", "frames", 7] }],
    initializers: [
      ...energy.initializers!,
      { name: "V", dtype: "float32", dims: [7, 2, 1], data: new Uint8Array(weights.buffer) },
      { name: "Vb", dtype: "float32", dims: [7], data: f32Bytes(bias) },
    ],
    nodes: [
      ...energy.nodes,
      { op: "Conv", inputs: ["energy", "V", "Vb"], outputs: ["vocab"], attributes: { kernel_shape: { ints: [1] } } },
      { op: "Transpose", inputs: ["vocab"], outputs: ["logits"], attributes: { perm: { ints: [0, 2, 1] } } },
    ],
  };
  return {
    "model.onnx": buildModel(spec),
    "config.json": json({ architectures: ["Wav2Vec2ForCTC"], vocab_size: 7, pad_token_id: 0 }),
    "preprocessor_config.json": json(FEATURE_EXTRACTOR),
    "vocab.json": json(TONE_VOCAB),
    "tokenizer_config.json": json({
      tokenizer_class: "Wav2Vec2CTCTokenizer",
      pad_token: "<pad>",
      unk_token: "<unk>",
      bos_token: "<s>",
      eos_token: "</s>",
      word_delimiter_token: "|",
      do_lower_case: false,
    }),
  };
}

/** Writes `files` under `dir`. */
export async function writeRepo(dir: string, files: RepoFiles): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(full, content);
    else await Deno.writeFile(full, content);
  }
  return dir;
}

/**
 * A Whisper-encoder-style audio classifier: `input_features` [batch, 80, 3000] (WhisperFeatureExtractor's
 * log-mel) → mean over time per band → logits [batch, 2]: `low` = 10 × the mean of bands 0–19, `high` = 10 × the mean
 * of bands 40–79.
 */
export function logMelAudioClassifier(): RepoFiles {
  const w = new Float32Array(80 * 2);
  for (let b = 0; b < 80; b++) {
    if (b < 20) w[b * 2] = 0.5;
    if (b >= 40) w[b * 2 + 1] = 0.25;
  }
  const spec: ModelSpec = {
    inputs: [{ name: "input_features", dtype: "float32", shape: ["batch", 80, 3000] }],
    outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 2] }],
    initializers: [{ name: "W", dtype: "float32", dims: [80, 2], data: new Uint8Array(w.buffer) }],
    nodes: [
      { op: "GlobalAveragePool", inputs: ["input_features"], outputs: ["pooled"] },
      { op: "Flatten", inputs: ["pooled"], outputs: ["bands"], attributes: { axis: { int: 1 } } },
      { op: "MatMul", inputs: ["bands", "W"], outputs: ["logits"] },
    ],
  };
  return {
    "model.onnx": buildModel(spec),
    "config.json": json({ architectures: ["WhisperForAudioClassification"], id2label: { 0: "low", 1: "high" } }),
    "preprocessor_config.json": json({
      feature_extractor_type: "WhisperFeatureExtractor",
      feature_size: 80,
      sampling_rate: 16000,
      hop_length: 160,
      chunk_length: 30,
      n_fft: 400,
      n_samples: 480000,
      nb_max_frames: 3000,
      padding_side: "right",
      padding_value: 0.0,
      return_attention_mask: false,
    }),
  };
}

/**
 * A ViTModel-style feature extractor: `pixel_values` [batch, 3, 8, 8] → `last_hidden_state` [batch, 65, 3]
 * (token 0, the "CLS", is the channel means; tokens 1–64 the pixels) and `pooler_output` [batch, 3] = tanh(CLS).
 */
export function tinyImageFeatureExtractor(withPooler = true): RepoFiles {
  const i64 = (values: number[]) => new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
  const spec: ModelSpec = {
    inputs: [{ name: "pixel_values", dtype: "float32", shape: ["batch", 3, 8, 8] }],
    outputs: [
      { name: "last_hidden_state", dtype: "float32", shape: ["batch", 65, 3] },
      ...(withPooler ? [{ name: "pooler_output", dtype: "float32" as const, shape: ["batch", 3] }] : []),
    ],
    initializers: [
      { name: "shape_bcp", dtype: "int64", dims: [3], data: i64([0, 3, 64]) },
      { name: "shape_b13", dtype: "int64", dims: [3], data: i64([0, 1, 3]) },
    ],
    nodes: [
      { op: "Reshape", inputs: ["pixel_values", "shape_bcp"], outputs: ["flat"] },
      { op: "Transpose", inputs: ["flat"], outputs: ["tokens"], attributes: { perm: { ints: [0, 2, 1] } } },
      { op: "GlobalAveragePool", inputs: ["pixel_values"], outputs: ["pooled"] },
      { op: "Reshape", inputs: ["pooled", "shape_b13"], outputs: ["cls"] },
      { op: "Concat", inputs: ["cls", "tokens"], outputs: ["last_hidden_state"], attributes: { axis: { int: 1 } } },
      ...(withPooler
        ? [
          { op: "Flatten", inputs: ["pooled"], outputs: ["means"], attributes: { axis: { int: 1 } } },
          { op: "Tanh", inputs: ["means"], outputs: ["pooler_output"] },
        ]
        : []),
    ],
  };
  const files = tinyImageClassifier();
  return {
    "model.onnx": buildModel(spec),
    "config.json": json({ architectures: ["ViTModel"], model_type: "vit" }),
    "preprocessor_config.json": files["preprocessor_config.json"],
  };
}
