/**
 * Task selection (--task > gpux.yml task: > README pipeline_tag > modules.json > config.json
 * architectures), gpux.yml `preprocessing:` for a model directory without Hub configs, multi-label
 * sigmoid scores and zero-shot classification with an NLI head — expected values computed by hand.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { buildModel, writeModel } from "./support/onnx_builder.ts";
import { classifierModel, expectedLogits } from "./support/text_models.ts";
import { loadPipeline } from "../src/processing/pipeline.ts";
import { detectTask, pipelineTagOf, taskFromArchitectures } from "../src/processing/task_detection.ts";
import { ModelFiles } from "../src/processing/model_files.ts";
import { sigmoid, softmax } from "../src/processing/classification.ts";
import { TextTokenizer } from "../src/processing/tokenizer.ts";
import { InputError, NotFoundError } from "../src/errors.ts";

const bert = await bertTokenizer();
const skip = "skip" in bert ? bert.skip : undefined;
const files = "skip" in bert ? { tokenizer: {}, config: {} } : bert;

function close(actual: number, expected: number, what: string, eps = 1e-5): void {
  assert(Math.abs(actual - expected) <= eps, `${what}: got ${actual}, expected ${expected}`);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("task detection: architectures and model-card front matter map to tasks", () => {
  assertEquals(taskFromArchitectures(["DistilBertForSequenceClassification"]), "text-classification");
  assertEquals(taskFromArchitectures(["BertForTokenClassification"]), "token-classification");
  assertEquals(taskFromArchitectures(["ViTForImageClassification"]), "image-classification");
  assertEquals(taskFromArchitectures(["Wav2Vec2ForAudioClassification"]), "audio-classification");
  assertEquals(taskFromArchitectures(["Wav2Vec2ForCTC"]), "automatic-speech-recognition");
  assertEquals(taskFromArchitectures(["BertModel"]), "feature-extraction");
  assertEquals(taskFromArchitectures(["SomethingElse"]), undefined);
  assertEquals(taskFromArchitectures("BertModel"), undefined);
  assertEquals(pipelineTagOf("---\nlicense: mit\npipeline_tag: text-classification\n---\n# x"), "text-classification");
  assertEquals(pipelineTagOf("# no front matter\npipeline_tag: text-classification"), undefined);
});

Deno.test("task detection: --task beats gpux.yml, which beats the README's pipeline_tag, which beats architectures", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/README.md`, "---\npipeline_tag: sentiment-analysis\n---\n");
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ architectures: ["BertForTokenClassification"] }));
    const modelFiles = new ModelFiles([dir]);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    assertEquals(await detectTask({ override: "ner", gpuxTask: "feature-extraction", files: modelFiles, config }), {
      task: "token-classification",
      source: "option",
    });
    assertEquals(await detectTask({ gpuxTask: "feature-extraction", files: modelFiles, config }), {
      task: "feature-extraction",
      source: "gpux.yml",
    });
    assertEquals(await detectTask({ files: modelFiles, config }), {
      task: "text-classification",
      source: "pipeline_tag",
    });
    await Deno.remove(`${dir}/README.md`);
    assertEquals(await detectTask({ files: new ModelFiles([dir]), config }), {
      task: "token-classification",
      source: "architectures",
    });
  });
});

Deno.test({
  name:
    "gpux.yml: task and preprocessing (tokenizer path, max_length, labels) drive a model directory without config.json; multi-label scores are sigmoids",
  ignore: skip !== undefined,
  fn: () =>
    withDir(async (dir) => {
      const w = [1, -1, 0.5, -0.5, 0.25, 2, -1, 0.5, 1, 0.3, -0.2, 0.1];
      const b = [0, 0.2, -0.2];
      await writeModel(`${dir}/model.onnx`, buildModel(classifierModel(w, b)));
      await Deno.mkdir(`${dir}/tok`);
      await Deno.writeTextFile(`${dir}/tok/my_tokenizer.json`, JSON.stringify(files.tokenizer));
      await Deno.writeTextFile(
        `${dir}/gpux.yml`,
        "name: tags\nmodel:\n  source: ./model.onnx\ntask: text-classification\npreprocessing:\n" +
          "  tokenizer: ./tok/my_tokenizer.json\n  max_length: 4\n  labels: [red, green, blue]\n",
      );
      const pipeline = await loadPipeline(dir, { provider: "cpu" });
      try {
        assertEquals([pipeline.task, pipeline.taskSource], ["text-classification", "gpux.yml"]);
        const tokenizer = new TextTokenizer(files.tokenizer, files.config);
        const text = "the quick brown fox jumps";
        const ids = tokenizer.encode(text, { maxLength: 4, truncation: true }).inputIds;
        assertEquals(ids.length, 4); // [CLS] the quick [SEP]
        const probs = softmax(expectedLogits(ids, w, b));
        const result = await pipeline.run(text, { topK: 3 });
        assert(result.kind === "classification");
        const order = [0, 1, 2].sort((x, y) => probs[y] - probs[x]);
        assertEquals(result.predictions[0].map((p) => p.label), order.map((i) => ["red", "green", "blue"][i]));
        result.predictions[0].forEach((p, k) => close(p.score, probs[order[k]], p.label));
      } finally {
        await pipeline.dispose();
      }
      // multi-label: config.json's problem_type switches softmax to sigmoid
      await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ problem_type: "multi_label_classification" }));
      const multi = await loadPipeline(dir, { provider: "cpu" });
      try {
        const tokenizer = new TextTokenizer(files.tokenizer, files.config);
        const ids = tokenizer.encode("hello", { maxLength: 4, truncation: true }).inputIds;
        const expected = sigmoid(expectedLogits(ids, w, b));
        const result = await multi.run("hello", { topK: Infinity });
        assert(result.kind === "classification");
        for (const p of result.predictions[0]) {
          close(p.score, expected[["red", "green", "blue"].indexOf(p.label)], p.label);
        }
      } finally {
        await multi.dispose();
      }
    }),
});

Deno.test({
  name:
    "zero-shot-classification: each label's hypothesis is paired with the text; entailment softmax across labels, or per label with multiLabel",
  ignore: skip !== undefined,
  fn: () =>
    withDir(async (dir) => {
      const w = [0.5, -1, 1, 1, 0.2, -0.4, -0.3, 0.6, 0.9, 0.1, -0.8, 0.7];
      const b = [0.1, 0, -0.1];
      await writeModel(`${dir}/model.onnx`, buildModel(classifierModel(w, b)));
      await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(files.tokenizer));
      await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(files.config));
      await Deno.writeTextFile(
        `${dir}/config.json`,
        JSON.stringify({
          architectures: ["BertForSequenceClassification"],
          label2id: { contradiction: 0, neutral: 1, entailment: 2 },
          id2label: { "0": "contradiction", "1": "neutral", "2": "entailment" },
        }),
      );
      const text = "the match ended in a draw";
      const labels = ["sports", "politics", "cooking"];
      const tokenizer = new TextTokenizer(files.tokenizer, files.config);
      const logits = labels.map((l) =>
        expectedLogits(tokenizer.encode(text, { pair: `This example is ${l}.` }).inputIds, w, b)
      );
      const pipeline = await loadPipeline(`${dir}/model.onnx`, { provider: "cpu", task: "zero-shot-classification" });
      try {
        const single = await pipeline.run({ kind: "text", texts: [text], candidateLabels: labels });
        assert(single.kind === "zero-shot");
        const p = softmax(logits.map((l) => l[2]));
        for (const s of single.predictions[0]) close(s.score, p[labels.indexOf(s.label)], s.label);
        assert(single.predictions[0][0].score >= single.predictions[0][1].score, "sorted best first");
        const multi = await pipeline.run({ kind: "text", texts: [text], candidateLabels: labels }, {
          multiLabel: true,
        });
        assert(multi.kind === "zero-shot");
        for (const s of multi.predictions[0]) {
          const l = logits[labels.indexOf(s.label)];
          close(s.score, softmax([l[0], l[2]])[1], s.label);
        }
        let error: unknown;
        await pipeline.run(text).catch((e) => error = e);
        assert(error instanceof InputError, String(error));
        assertStringIncludes((error as InputError).hint ?? "", "--labels");
      } finally {
        await pipeline.dispose();
      }
    }),
});

Deno.test("loadPipeline: a text task without tokenizer.json is a NotFoundError naming the file", async () => {
  await withDir(async (dir) => {
    await writeModel(`${dir}/model.onnx`, buildModel(classifierModel()));
    let error: unknown;
    await loadPipeline(`${dir}/model.onnx`, { provider: "cpu", task: "text-classification" }).catch((e) => error = e);
    assert(error instanceof NotFoundError, String(error));
    assertStringIncludes((error as Error).message, "tokenizer.json is missing");
    let unknown: unknown;
    await loadPipeline(`${dir}/model.onnx`, { provider: "cpu", task: "no-such-task" }).catch((e) => unknown = e);
    assert(unknown instanceof InputError, String(unknown));
    assertStringIncludes((unknown as InputError).hint ?? "", "text-classification");
  });
});

Deno.test({
  name: "gpux.yml outputs.<name>.labels name the classes when config.json has no id2label",
  ignore: skip !== undefined,
  fn: () =>
    withDir(async (dir) => {
      await writeModel(`${dir}/model.onnx`, buildModel(classifierModel()));
      await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(files.tokenizer));
      await Deno.writeTextFile(
        `${dir}/gpux.yml`,
        "name: s\nmodel:\n  source: ./model.onnx\ntask: text-classification\noutputs:\n  logits:\n    labels: [neg, pos]\n",
      );
      const pipeline = await loadPipeline(dir, { provider: "cpu" });
      try {
        const result = await pipeline.run("hello", { topK: 2 });
        assert(result.kind === "classification");
        assertEquals(result.predictions[0].map((p) => p.label).sort(), ["neg", "pos"]);
      } finally {
        await pipeline.dispose();
      }
    }),
});
