import { assert, assertEquals, assertMatch, assertThrows } from "./support/assert.ts";
import { InputError } from "../src/errors.ts";
import {
  conversionHint,
  detectFormats,
  externalDataFiles,
  type FileEntry,
  filesWithVariant,
  isOnnxFile,
  modalityFromPipelineTag,
  onnxFileRole,
  onnxVariants,
  optimumTaskFromPipelineTag,
  selectVariantFiles,
} from "../src/vocabulary/formats.ts";

const MB = 1_000_000;
const common: FileEntry[] = [
  { path: ".gitattributes", size: 1_519 },
  { path: "README.md", size: 2_000 },
  { path: "config.json", size: 700 },
  { path: "tokenizer.json", size: 711_000 },
  { path: "tokenizer_config.json", size: 1_200 },
];

/** Xenova/bert-base-uncased-style: one graph, every transformers.js dtype in onnx/. */
const xenovaBert: FileEntry[] = [
  ...common,
  { path: "onnx/model.onnx", size: 438 * MB },
  { path: "onnx/model_fp16.onnx", size: 219 * MB },
  { path: "onnx/model_quantized.onnx", size: 110 * MB },
  { path: "onnx/model_int8.onnx", size: 111 * MB },
  { path: "onnx/model_uint8.onnx", size: 112 * MB },
  { path: "onnx/model_q4.onnx", size: 140 * MB },
  { path: "onnx/model_q4f16.onnx", size: 90 * MB },
  { path: "onnx/model_bnb4.onnx", size: 135 * MB },
];

/** Xenova/whisper-tiny-style: encoder + decoder splits, with merged decoders. */
const xenovaWhisper: FileEntry[] = [
  ...common,
  { path: "generation_config.json", size: 1_000 },
  { path: "onnx/encoder_model.onnx", size: 33 * MB },
  { path: "onnx/encoder_model_fp16.onnx", size: 16 * MB },
  { path: "onnx/encoder_model_quantized.onnx", size: 10 * MB },
  { path: "onnx/decoder_model.onnx", size: 118 * MB },
  { path: "onnx/decoder_with_past_model.onnx", size: 113 * MB },
  { path: "onnx/decoder_model_merged.onnx", size: 119 * MB },
  { path: "onnx/decoder_model_merged_fp16.onnx", size: 60 * MB },
  { path: "onnx/decoder_model_merged_quantized.onnx", size: 30 * MB },
  { path: "onnx/decoder_model_quantized.onnx", size: 30 * MB },
  { path: "onnx/decoder_with_past_model_quantized.onnx", size: 29 * MB },
];

/** onnx-community LLM-style: external data shards, q4f16 without data. */
const communityLlm: FileEntry[] = [
  ...common,
  { path: "generation_config.json", size: 200 },
  { path: "onnx/model.onnx", size: 300_000 },
  { path: "onnx/model.onnx_data", size: 2_000 * MB },
  { path: "onnx/model.onnx_data_1", size: 1_500 * MB },
  { path: "onnx/model_fp16.onnx", size: 280_000 },
  { path: "onnx/model_fp16.onnx_data", size: 1_750 * MB },
  { path: "onnx/model_q4f16.onnx", size: 600 * MB },
  { path: "onnx/model_q4.onnx", size: 900 * MB },
];

Deno.test("formats: transformers.js layout lists every variant with sizes, fp32 by default", () => {
  const info = onnxVariants(xenovaBert);
  assertEquals(info.variants.map((v) => v.name), ["fp32", "fp16", "quantized", "int8", "uint8", "q4", "q4f16", "bnb4"]);
  const fp32 = info.variants[0];
  assertEquals(fp32.components, ["model"]);
  assertEquals(fp32.files, ["onnx/model.onnx"]);
  assertEquals(fp32.size, 438 * MB);
  assertEquals(info.variants.find((v) => v.name === "q4f16")!.files, ["onnx/model_q4f16.onnx"]);
  assertEquals(info.defaultVariant, "fp32");
  assertMatch(info.defaultReason!, /full precision/);
  assertEquals(detectFormats(xenovaBert), ["onnx"]);
});

Deno.test("formats: encoder/decoder splits group by variant; merged decoder replaces the unmerged pair", () => {
  const info = onnxVariants(xenovaWhisper);
  assertEquals(info.variants.map((v) => v.name), ["fp32", "fp16", "quantized"]);
  const [fp32, fp16, quantized] = info.variants;
  assertEquals(fp32.components, ["decoder_model_merged", "encoder_model"]);
  assertEquals(fp32.files, ["onnx/decoder_model_merged.onnx", "onnx/encoder_model.onnx"]);
  assertEquals(fp32.size, 119 * MB + 33 * MB);
  assertEquals(fp16.components, ["decoder_model_merged", "encoder_model"]);
  assertEquals(fp16.size, 60 * MB + 16 * MB);
  assertEquals(quantized.files, ["onnx/decoder_model_merged_quantized.onnx", "onnx/encoder_model_quantized.onnx"]);
  assertEquals(quantized.size, 40 * MB);
  assertEquals(info.defaultVariant, "fp32");
});

Deno.test("formats: without a merged decoder, every decoder component is part of the variant", () => {
  const files = [
    { path: "onnx/encoder_model.onnx", size: 10 },
    { path: "onnx/decoder_model.onnx", size: 20 },
    { path: "onnx/decoder_with_past_model.onnx", size: 30 },
  ];
  const [fp32] = onnxVariants(files).variants;
  assertEquals(fp32.components, ["decoder_model", "decoder_with_past_model", "encoder_model"]);
  assertEquals(fp32.size, 60);
});

Deno.test("formats: external data (.onnx_data, _N shards, .onnx.data) counts towards the variant", () => {
  const info = onnxVariants(communityLlm);
  assertEquals(info.variants.map((v) => v.name), ["fp32", "fp16", "q4", "q4f16"]);
  const [fp32, fp16] = info.variants;
  assertEquals(fp32.files, ["onnx/model.onnx", "onnx/model.onnx_data", "onnx/model.onnx_data_1"]);
  assertEquals(fp32.size, 300_000 + 3_500 * MB);
  assertEquals(fp16.files, ["onnx/model_fp16.onnx", "onnx/model_fp16.onnx_data"]);
  assertEquals(fp16.size, 280_000 + 1_750 * MB);

  const optimumRoot = [
    { path: "model.onnx", size: 1_000 },
    { path: "model.onnx.data", size: 5_000 },
    { path: "config.json", size: 10 },
  ];
  const root = onnxVariants(optimumRoot);
  assertEquals(root.variants, [{
    name: "fp32",
    components: ["model"],
    files: ["model.onnx", "model.onnx.data"],
    size: 6_000,
  }]);
  assertMatch(root.defaultReason!, /only ONNX variant/);
  assertEquals(detectFormats(optimumRoot), ["onnx"]);
});

Deno.test("formats: shards sort numerically and other files' data is not taken", () => {
  const paths = [
    "onnx/model.onnx",
    "onnx/model.onnx_data_10",
    "onnx/model.onnx_data_2",
    "onnx/model.onnx_data",
    "onnx/model_fp16.onnx_data",
    "other/model.onnx_data",
    "onnx/model.onnx_backup",
  ];
  assertEquals(externalDataFiles("onnx/model.onnx", paths), [
    "onnx/model.onnx_data",
    "onnx/model.onnx_data_2",
    "onnx/model.onnx_data_10",
  ]);
  assert(isOnnxFile("onnx/model.onnx_data_3"));
  assert(isOnnxFile("model.onnx.data"));
  assert(isOnnxFile("onnx/model_q4.onnx"));
  assert(!isOnnxFile("onnx/model.onnx_backup"));
  assert(!isOnnxFile("tokenizer.json"));
});

Deno.test("formats: without fp32 the default is the most precise class present, smallest first", () => {
  const noFp32 = xenovaBert.filter((f) => f.path !== "onnx/model.onnx");
  const a = onnxVariants(noFp32);
  assertEquals(a.defaultVariant, "fp16");
  assertMatch(a.defaultReason!, /no fp32 variant; fp16 is the most precise/);

  const only8bit = xenovaBert.filter((f) => /_(quantized|int8|uint8|q4)\.onnx$/.test(f.path));
  const b = onnxVariants(only8bit);
  assertEquals(b.defaultVariant, "quantized"); // 110 MB < 111 MB (int8) < 112 MB (uint8)
  assertMatch(
    b.defaultReason!,
    /smallest of the most precise ones present \(8-bit quantised: quantized, int8, uint8\)/,
  );

  const only4bit = xenovaBert.filter((f) => /_(q4|q4f16|bnb4)\.onnx$/.test(f.path));
  assertEquals(onnxVariants(only4bit).defaultVariant, "q4f16");
});

Deno.test("formats: sentence-transformers layout (O1-O4, qint8 per ISA, OpenVINO, safetensors, pytorch)", () => {
  const files: FileEntry[] = [
    ...common,
    { path: "model.safetensors", size: 90 * MB },
    { path: "pytorch_model.bin", size: 90 * MB },
    { path: "onnx/model.onnx", size: 90 * MB },
    { path: "onnx/model_O1.onnx", size: 90 * MB },
    { path: "onnx/model_O4.onnx", size: 45 * MB },
    { path: "onnx/model_qint8_avx512.onnx", size: 23 * MB },
    { path: "onnx/model_qint8_avx512_vnni.onnx", size: 23 * MB },
    { path: "onnx/model_quint8_avx2.onnx", size: 23 * MB },
    { path: "openvino/openvino_model.xml", size: 200_000 },
    { path: "openvino/openvino_model.bin", size: 90 * MB },
    { path: "openvino/openvino_model_qint8_quantized.xml", size: 300_000 },
    { path: "openvino/openvino_model_qint8_quantized.bin", size: 23 * MB },
  ];
  assertEquals(detectFormats(files), ["onnx", "safetensors", "pytorch", "openvino"]);
  const info = onnxVariants(files);
  assertEquals(info.variants.map((v) => v.name), [
    "fp32",
    "O1",
    "O4",
    "qint8_avx512",
    "qint8_avx512_vnni",
    "quint8_avx2",
  ]);
  assert(info.variants.every((v) => v.components.length === 1 && v.components[0] === "model"));
  assertEquals(info.defaultVariant, "fp32");
});

Deno.test("formats: graphs in several folders keep their folder in the component name", () => {
  const files: FileEntry[] = [
    { path: "model_index.json", size: 500 },
    { path: "unet/model.onnx", size: 1_000 },
    { path: "unet/weights.pb", size: 3_000 * MB },
    { path: "text_encoder/model.onnx", size: 400 * MB },
    { path: "vae_decoder/model.onnx", size: 100 * MB },
    { path: "vae_decoder/model_fp16.onnx", size: 50 * MB },
  ];
  const info = onnxVariants(files);
  assertEquals(info.variants[0].components, ["text_encoder/model", "unet/model", "vae_decoder/model"]);
  assertEquals(info.variants[1].components, ["vae_decoder/model"]);
  assertEquals(onnxFileRole("onnx/decoder_model_merged_q4f16.onnx"), {
    variant: "q4f16",
    key: "onnx/decoder_model_merged",
    dir: "onnx",
    component: "decoder_model_merged",
  });
  // a file named only after a suffix is a component, not a variant
  assertEquals(onnxFileRole("fp16.onnx")?.variant, "fp32");
  assertEquals(onnxFileRole("config.json"), undefined);
});

Deno.test("formats: every format is recognised, several at once", () => {
  const cases: [string[], string[]][] = [
    [["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"], [
      "safetensors",
    ]],
    [["model.safetensors.index.json"], ["safetensors"]],
    [["pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin"], ["pytorch"]],
    [["model.pt"], ["pytorch"]],
    [["weights/best.pth"], ["pytorch"]],
    [["training_args.bin", "optimizer.pt", "rng_state.pth", "model.safetensors"], ["safetensors"]],
    [["tf_model.h5"], ["tensorflow"]],
    [["saved_model/saved_model.pb", "saved_model/variables/variables.index"], ["tensorflow"]],
    [["model.keras"], ["tensorflow"]],
    [["model.tflite"], ["tflite"]],
    [["qwen2-0_5b-instruct-q4_k_m.gguf"], ["gguf"]],
    [["openvino_model.xml", "openvino_model.bin"], ["openvino"]],
    [["config.xml"], []],
    [["Model.mlmodel"], ["coreml"]],
    [["coreml/text-generation/float16_model.mlpackage/Data/com.apple.CoreML/model.mlmodel"], ["coreml"]],
    [["coreml/model.mlpackage/Manifest.json"], ["coreml"]],
    [["flax_model.msgpack", "README.md"], []],
    [["model.onnx", "model.safetensors", "tf_model.h5", "model.tflite", "model.gguf", "m.xml", "m.bin"], [
      "onnx",
      "safetensors",
      "tensorflow",
      "tflite",
      "gguf",
      "openvino",
    ]],
  ];
  for (const [paths, expected] of cases) {
    assertEquals(detectFormats(paths.map((path) => ({ path, size: 1 }))), expected, paths.join(", "));
  }
  assertEquals(onnxVariants([{ path: "model.safetensors", size: 1 }]), { variants: [] });
});

Deno.test("formats: selectVariantFiles returns the variant's graphs and data; unknown variants are InputErrors", () => {
  const files = communityLlm;
  assertEquals(selectVariantFiles(files, "fp32").map((f) => f.path), [
    "onnx/model.onnx",
    "onnx/model.onnx_data",
    "onnx/model.onnx_data_1",
  ]);
  assertEquals(selectVariantFiles(files, "q4f16"), [{ path: "onnx/model_q4f16.onnx", size: 600 * MB }]);
  assertEquals(
    selectVariantFiles(xenovaWhisper, "quantized").map((f) => f.path).sort(),
    ["onnx/decoder_model_merged_quantized.onnx", "onnx/encoder_model_quantized.onnx"],
  );
  const error = assertThrows(() => selectVariantFiles(files, "int8"), InputError);
  assertMatch(error.message, /no ONNX variant 'int8' \(it has: fp32, fp16, q4, q4f16\)/);
  assertEquals(error.exitCode, 2);
  assertThrows(() => selectVariantFiles(common, "fp32"), InputError, "no ONNX files");
});

Deno.test("formats: filesWithVariant keeps every non-ONNX file and only the chosen variant's weights", () => {
  const withFp16 = filesWithVariant(communityLlm, "fp16").map((f) => f.path);
  assertEquals(withFp16, [
    ...common.map((f) => f.path),
    "generation_config.json",
    "onnx/model_fp16.onnx",
    "onnx/model_fp16.onnx_data",
  ]);
  const withDefault = filesWithVariant(xenovaBert).map((f) => f.path);
  assertEquals(withDefault, [...common.map((f) => f.path), "onnx/model.onnx"]);
  assertEquals(filesWithVariant(common), common);
  assertThrows(() => filesWithVariant(xenovaBert, "nope"), InputError, "nope");
});

Deno.test("formats: modality from the pipeline tag", () => {
  assertEquals(modalityFromPipelineTag("text-classification"), "text");
  assertEquals(modalityFromPipelineTag("feature-extraction"), "text");
  assertEquals(modalityFromPipelineTag("image-classification"), "vision");
  assertEquals(modalityFromPipelineTag("object-detection"), "vision");
  assertEquals(modalityFromPipelineTag("automatic-speech-recognition"), "audio");
  assertEquals(modalityFromPipelineTag("voice-activity-detection"), "audio");
  assertEquals(modalityFromPipelineTag("image-text-to-text"), "multimodal");
  assertEquals(modalityFromPipelineTag("tabular-regression"), "tabular");
  assertEquals(modalityFromPipelineTag("reinforcement-learning"), "other");
  assertEquals(modalityFromPipelineTag(undefined), "other");
});

Deno.test("formats: Optimum task and the exact export command", () => {
  assertEquals(optimumTaskFromPipelineTag("text-classification"), "text-classification");
  assertEquals(optimumTaskFromPipelineTag("sentence-similarity"), "feature-extraction");
  assertEquals(optimumTaskFromPipelineTag("text-generation"), "text-generation-with-past");
  assertEquals(optimumTaskFromPipelineTag("translation"), "text2text-generation-with-past");
  assertEquals(optimumTaskFromPipelineTag("automatic-speech-recognition"), "automatic-speech-recognition-with-past");
  assertEquals(optimumTaskFromPipelineTag("reinforcement-learning"), "auto");
  assertEquals(optimumTaskFromPipelineTag(undefined), "auto");
  assertEquals(conversionHint("acme/tiny-bert", "text-classification"), {
    task: "text-classification",
    command: "optimum-cli export onnx --model acme/tiny-bert --task text-classification acme_tiny-bert_onnx/",
  });
  assertEquals(
    conversionHint("gpt2", undefined, "v1.0").command,
    "optimum-cli export onnx --model gpt2 --revision v1.0 --task auto gpt2_onnx/",
  );
  assertEquals(conversionHint("gpt2", "text-generation", "main").command.includes("--revision"), false);
});
