/**
 * gpux.yml: a full valid file, the list form, and each error naming its key and line.
 */
import { assertEquals, assertStringIncludes, assertThrows } from "./support/assert.ts";
import { InputError } from "../src/errors.ts";
import { configMismatches, parseGpuxConfig } from "../src/config/gpux_config.ts";
import { renderGpuxConfig } from "../src/config/config_writer.ts";

const FULL = `# a model directory's config
name: resnet50
version: 1.0.0
description: ImageNet classifier
model:
  source: hf:acme/resnet50@v2
  format: onnx
  variant: fp16
inputs:
  pixel_values:
    type: float32
    shape: [batch, 3, 224, 224]
    required: true
    description: RGB image
  "x.1":
    type: int64
    shape: [null, -1, "?"]
outputs:
  logits:
    type: float32
    shape: [batch, 3]
    labels: [cat, dog, bird]
runtime:
  gpu:
    backend: cuda
    memory: 2GB
    device_id: 1
  batch_size: 8
  timeout: 30
  graph_optimization: extended
  intra_op_threads: 2
  inter_op_threads: 1
serving:
  host: 127.0.0.1
  port: 8080
  batch_size: 16
  timeout: 5
  max_workers: 2
preprocessing:
  tokenizer: ./tokenizer.json
  max_length: 128
  resize: [224, 224]
  normalize: imagenet
`;

Deno.test("gpux.yml: every key parsed into typed fields", () => {
  const c = parseGpuxConfig(FULL);
  assertEquals(c.name, "resnet50");
  assertEquals(c.version, "1.0.0");
  assertEquals(c.model, { source: "hf:acme/resnet50@v2", format: "onnx", variant: "fp16" });
  assertEquals(c.inputs, [
    { name: "pixel_values", type: "float32", shape: ["batch", 3, 224, 224], required: true, description: "RGB image" },
    { name: "x.1", type: "int64", shape: [null, null, null] },
  ]);
  assertEquals(c.outputs, [{ name: "logits", type: "float32", shape: ["batch", 3], labels: ["cat", "dog", "bird"] }]);
  assertEquals(c.runtime, {
    gpu: { backend: "cuda", memory: "2GB", deviceId: 1 },
    batchSize: 8,
    timeout: 30,
    graphOptimization: "extended",
    intraOpThreads: 2,
    interOpThreads: 1,
  });
  assertEquals(c.serving, { host: "127.0.0.1", port: 8080, batchSize: 16, timeout: 5, maxWorkers: 2 });
  assertEquals(c.preprocessing, {
    tokenizer: "./tokenizer.json",
    maxLength: 128,
    resize: [224, 224],
    normalize: "imagenet",
  });
});

Deno.test("gpux.yml: minimal file gets defaults; inputs may be a list of {name, …}", () => {
  const c = parseGpuxConfig("name: m\nmodel:\n  source: ./model.onnx\ninputs:\n  - name: text\n    type: string\n");
  assertEquals(c.runtime, { gpu: { backend: "auto" } });
  assertEquals(c.model.format, "onnx");
  assertEquals(c.inputs, [{ name: "text", type: "string" }]);
  assertEquals(c.outputs, []);
});

/** Each invalid file and the exact `file:line: key: problem` it must produce. */
const ERRORS: [string, string, string][] = [
  ["name: m\nmodel:\n  source: a.onnx\nbogus: 1\n", "gpux.yml:4: bogus: unknown key", "expected one of: name, version"],
  [
    "name: m\nmodel:\n  source: a.onnx\n  weights: b\n",
    "gpux.yml:4: model.weights: unknown key",
    "source, format, variant",
  ],
  ["model:\n  source: a.onnx\n", "gpux.yml:1: name: is required", ""],
  ["name: m\nmodel:\n  format: onnx\n", "gpux.yml:3: model.source: is required", ""],
  ["name: m\nmodel:\n  source: a.onnx\n  format: tflite\n", "gpux.yml:4: model.format: expected one of onnx", "tflite"],
  ["name: m\nmodel:\n  source: hf:not a repo\n", "gpux.yml:3: model.source: expected hf:org/name[@revision]", ""],
  [
    "name: m\nmodel:\n  source: a.onnx\nruntime:\n  gpu:\n    backend: vulkan\n",
    "gpux.yml:6: runtime.gpu.backend: expected auto or one of cuda, tensorrt, dml, coreml, webgpu, cpu",
    '"vulkan"',
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\nruntime:\n  gpu:\n    memory: lots\n",
    "gpux.yml:6: runtime.gpu.memory: expected a size",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\nruntime:\n  batch_size: 0\n",
    "gpux.yml:5: runtime.batch_size: expected a whole number from 1 to 65536",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\ninputs:\n  x:\n    type: float8\n",
    "gpux.yml:6: inputs.x.type: expected one of float32, float16",
    '"float8"',
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\ninputs:\n  x:\n    shape: [1, 2.5]\n",
    "gpux.yml:6: inputs.x.shape[1]: expected a size, a symbolic name or null",
    "2.5",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\noutputs:\n  y:\n    required: true\n",
    "gpux.yml:6: outputs.y.required: only inputs have `required`",
    "",
  ],
  [
    'name: m\nmodel:\n  source: a.onnx\ninputs:\n  "onnx::x":\n    dtype: float32\n',
    'gpux.yml:6: inputs."onnx::x".dtype: unknown key',
    "type, shape, required",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\nserving:\n  port: 70000\n",
    "gpux.yml:5: serving.port: expected a whole number from 0 to 65535",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\nmodel:\n  source: b.onnx\n",
    "gpux.yml:4: invalid YAML: Map keys must be unique",
    "",
  ],
  ["name: m\nmodel: [a\n", "gpux.yml:3: invalid YAML: Flow sequence", ""],
  ["", "gpux.yml: (document): the file is empty", ""],
  ["name: m\nmodel: ./a.onnx\n", "gpux.yml:2: model: expected a mapping", '"./a.onnx"'],
  ["name: m\nmodel:\n  source: a.onnx\nversion:\n", "gpux.yml:4: version: has no value", ""],
  [
    "name: m\nmodel:\n  source: a.onnx\npreprocessing:\n  max_length: 0\n",
    "gpux.yml:5: preprocessing.max_length: expected a whole number from 1 to 1048576",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\npreprocessing:\n  resize: [224, 224, 3]\n",
    "gpux.yml:5: preprocessing.resize: expected a size or [width, height]",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\npreprocessing:\n  crop: [224, -1]\n",
    "gpux.yml:5: preprocessing.crop[1]: expected a whole number from 1 to 16384",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\npreprocessing:\n  mean: [0.5, 0.5]\n",
    "gpux.yml:5: preprocessing.mean: expected one number or three (one per channel), got 2",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\npreprocessing:\n  std:\n    - 0.2\n    - 0\n    - 0.2\n",
    "gpux.yml:7: preprocessing.std[1]: expected a positive number",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\npreprocessing:\n  layout: chw\n",
    "gpux.yml:5: preprocessing.layout: expected one of nchw, nhwc",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\npreprocessing:\n  sampling_rate: 16k\n",
    "gpux.yml:5: preprocessing.sampling_rate: expected a whole number from 1000 to 384000",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\npreprocessing:\n  labels: negative\n",
    "gpux.yml:5: preprocessing.labels: expected a list of strings",
    "",
  ],
  [
    "name: m\nmodel:\n  source: a.onnx\npreprocessing:\n  resample: bilinear\n",
    "gpux.yml:5: preprocessing.resample: unknown key",
    "tokenizer, max_length, resize, crop, mean, std",
  ],
  ["name: m\nmodel:\n  source: a.onnx\ntask: Text Classification\n", "gpux.yml:4: task: expected a task name", ""],
];

Deno.test("gpux.yml: task and every preprocessing key parsed (sizes as a number or a pair, per-channel or single mean/std)", () => {
  const c = parseGpuxConfig(
    "name: m\nmodel:\n  source: a.onnx\ntask: image-classification\npreprocessing:\n  resize: 256\n  crop: [224, 200]\n" +
      "  mean: 0.5\n  std: [0.229, 0.224, 0.225]\n  layout: nhwc\n  sampling_rate: 16000\n  labels: [cat, dog]\n",
  );
  assertEquals(c.task, "image-classification");
  assertEquals(c.preprocessing, {
    resize: 256,
    crop: [224, 200],
    mean: [0.5],
    std: [0.229, 0.224, 0.225],
    layout: "nhwc",
    samplingRate: 16000,
    labels: ["cat", "dog"],
  });
});

Deno.test("gpux.yml: each error names the file, line and key (unknown keys are errors)", () => {
  for (const [text, prefix, detail] of ERRORS) {
    const e = assertThrows(() => parseGpuxConfig(text), InputError);
    assertStringIncludes(e.message, prefix, `for ${JSON.stringify(text)}`);
    if (detail) assertStringIncludes(e.message, detail);
    assertEquals(e.exitCode, 2);
  }
});

Deno.test("gpux init's writer produces a gpux.yml that parses back, odd names and symbolic dims included", () => {
  const text = renderGpuxConfig({
    name: "demo: v1",
    source: "./model.onnx",
    inputs: [
      { name: "x.1", dtype: "float32", shape: ["p2o.DynamicDimension.0", 3, null] },
      { name: "42", dtype: "int64", shape: [] },
    ],
    outputs: [{ name: 'we"ird: name', dtype: "bool", shape: [1] }],
  });
  const c = parseGpuxConfig(text);
  assertEquals(c.name, "demo: v1");
  assertEquals(c.inputs, [
    { name: "x.1", type: "float32", shape: ["p2o.DynamicDimension.0", 3, null], required: true },
    { name: "42", type: "int64", shape: [], required: true },
  ]);
  assertEquals(c.outputs, [{ name: 'we"ird: name', type: "bool", shape: [1] }]);
  assertEquals(c.runtime.gpu.backend, "auto");
  assertEquals(c.runtime.batchSize, 1);
});

Deno.test("gpux.yml inputs/outputs are checked against the model: unknown names, other types, other shapes", () => {
  const config = parseGpuxConfig(
    "name: m\nmodel:\n  source: a.onnx\ninputs:\n  x: { type: int64, shape: [batch, 4] }\n  y: { type: float32 }\n" +
      "outputs:\n  out: { type: float32, shape: [1, 3] }\n",
  );
  const model = {
    inputs: [{ name: "x", dtype: "float32", shape: ["n", 4] }],
    outputs: [{ name: "out", dtype: "float32", shape: [1, 2] }],
  };
  assertEquals(configMismatches(config, model), [
    'gpux.yml inputs."x": type int64, but the model says float32',
    'gpux.yml inputs."y": the model has no such input (it has "x")',
    'gpux.yml outputs."out": shape [1, 3], but the model says [1, 2]',
  ]);
  assertEquals(
    configMismatches(config, {
      inputs: [{ name: "x", dtype: "int64", shape: [null, 4] }, { name: "y", dtype: "float32", shape: [] }],
      outputs: [{ name: "out", dtype: "float32", shape: [1, 3] }],
    }),
    [],
  );
});

Deno.test("the gpux.yml example in docs/cli.md parses", async () => {
  const page = await Deno.readTextFile(new URL("../docs/cli.md", import.meta.url));
  const block = /### gpux\.yml\s+```yaml\n([\s\S]*?)```/.exec(page)?.[1];
  assertEquals(typeof block, "string");
  const config = parseGpuxConfig(block!, "docs/cli.md");
  assertEquals([config.name, config.model.variant, config.runtime.gpu.memory], ["resnet50", "fp16", "2GB"]);
});
