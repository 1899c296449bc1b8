/**
 * Text pipelines end to end: small models built in code with a real BERT tokenizer, served by the
 * local hub, pulled with `gpux pull` and run from raw text through `gpux run --text` (a subprocess
 * with the task's permissions) and through `loadPipeline`. Expected logits and vectors are computed
 * here from the token ids, by hand.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { startHubServer } from "./support/hub_server.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { buildModel, f32Bytes, writeModel } from "./support/onnx_builder.ts";
import {
  classifierModel,
  classifierRepo,
  embedderModel,
  embedderRepo,
  expectedEmbedding,
  expectedLogits,
  HIDDEN,
  ROWS,
  tableValue,
} from "./support/text_models.ts";
import { loadPipeline } from "../src/processing/pipeline.ts";
import { loadTokenizer, TextTokenizer } from "../src/processing/tokenizer.ts";
import { NotFoundError } from "../src/errors.ts";
import { softmax } from "../src/processing/classification.ts";

const NLI_W = [0.5, -1, 1, 1, 0.2, -0.4, -0.3, 0.6, 0.9, 0.1, -0.8, 0.7];
const NLI_B = [0.1, 0, -0.1];

const bert = await bertTokenizer();
const skip = "skip" in bert ? bert.skip : undefined;
if (skip) console.warn(`skipping text pipeline tests: ${skip}`);
const files = "skip" in bert ? { tokenizer: {}, config: {} } : bert;

/** Token ids the way BERT's vocabulary spells simple lowercase words: [CLS] words [SEP]. */
function bertIds(text: string): number[] {
  const vocab = files.tokenizer.model as { vocab: Record<string, number> };
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  return [vocab.vocab["[CLS]"], ...words.map((w) => vocab.vocab[w]), vocab.vocab["[SEP]"]];
}

function close(actual: number, expected: number, what: string, eps = 1e-5): void {
  assert(Math.abs(actual - expected) <= eps, `${what}: got ${actual}, expected ${expected}`);
}

async function withHub(fn: (env: Record<string, string>, dir: string) => Promise<void>): Promise<void> {
  const hub = await startHubServer();
  const dir = await Deno.makeTempDir();
  try {
    hub.addRepo("acme/sentiment").commit(classifierRepo(files.tokenizer, files.config));
    hub.addRepo("acme/embedder").commit(embedderRepo(files.tokenizer, files.config));
    const nli = classifierRepo(files.tokenizer, files.config);
    nli["onnx/model.onnx"] = buildModel(classifierModel(NLI_W, NLI_B));
    nli["config.json"] = JSON.stringify({
      architectures: ["BertForSequenceClassification"],
      label2id: { contradiction: 0, neutral: 1, entailment: 2 },
    });
    nli["README.md"] = "---\npipeline_tag: zero-shot-classification\n---\n";
    hub.addRepo("acme/nli").commit(nli);
    const noTokenizer = classifierRepo(files.tokenizer, files.config);
    delete noTokenizer["tokenizer.json"];
    hub.addRepo("acme/no-tokenizer").commit(noTokenizer);
    const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir, HF_ENDPOINT: hub.url };
    for (const id of ["acme/sentiment", "acme/embedder", "acme/no-tokenizer", "acme/nli"]) {
      const pulled = await runCli(["pull", id, "--quiet"], { env });
      assertEquals(pulled.code, 0, pulled.stderr);
    }
    await fn(env, dir);
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "gpux run --text: a pulled classifier tokenizes a batch and prints labels with the softmax of the logits",
  ignore: skip !== undefined,
  fn: () =>
    withHub(async (env) => {
      const texts = ["I love this movie", "this is awful"];
      const r = await runCli([
        "run",
        "acme/sentiment",
        "-p",
        "cpu",
        "--json",
        "--top-k",
        "2",
        ...texts.flatMap((t) => ["--text", t]),
      ], {
        env,
      });
      assertEquals(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assertEquals(doc.task, "text-classification");
      assertEquals(doc.taskSource, "architectures");
      texts.forEach((text, i) => {
        const probs = softmax(expectedLogits(bertIds(text)));
        const row = doc.result[i];
        assertEquals(row.input, text);
        const best = probs[1] > probs[0] ? 1 : 0;
        assertEquals(row.labels[0].label, best ? "POSITIVE" : "NEGATIVE");
        close(row.labels[0].score, probs[best], `${text}: top score`);
        close(row.labels[1].score, probs[1 - best], `${text}: second score`);
      });

      const human = await runCli(["run", "acme/sentiment", "-p", "cpu", "--text", texts[0]], { env });
      assertEquals(human.code, 0, human.stderr);
      const probs = softmax(expectedLogits(bertIds(texts[0])));
      const best = probs[1] > probs[0] ? 1 : 0;
      assertEquals(human.stdout, `${best ? "POSITIVE" : "NEGATIVE"} ${probs[best].toFixed(4)}\n`);
      assertStringIncludes(human.stderr, "cpu · text-classification");

      const raw = await runCli(["run", "acme/sentiment", "-p", "cpu", "--raw", "--json", "--text", texts[0]], { env });
      assertEquals(raw.code, 0, raw.stderr);
      const rawDoc = JSON.parse(raw.stdout);
      assertEquals(rawDoc.inputs.input_ids, { dtype: "int64", shape: [1, 6], data: [bertIds(texts[0])] });
      const logits = expectedLogits(bertIds(texts[0]));
      rawDoc.outputs.logits.data[0].forEach((v: number, c: number) => close(v, logits[c], `logit ${c}`));
    }),
});

Deno.test({
  name:
    "gpux run: an image for a text model is exit 2 naming what it takes; a missing tokenizer.json is exit 3 naming gpux pull",
  ignore: skip !== undefined,
  fn: () =>
    withHub(async (env, dir) => {
      await Deno.writeFile(`${dir}/cat.png`, new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
      const image = await runCli(["run", "acme/sentiment", "-p", "cpu", "--image", `${dir}/cat.png`], { env });
      assertEquals(image.code, 2, image.stderr);
      assertStringIncludes(image.stderr, "text-classification model: it takes text (--text), not image");
      const missing = await runCli(["run", "acme/no-tokenizer", "-p", "cpu", "--text", "hello"], { env });
      assertEquals(missing.code, 3, missing.stderr);
      assertStringIncludes(missing.stderr, "tokenizer.json is missing for acme/no-tokenizer");
      assertStringIncludes(missing.stderr, "gpux pull acme/no-tokenizer");
      const both = await runCli(["run", "acme/sentiment", "--text", "a", "--input", "{}"], { env });
      assertEquals(both.code, 2, both.stderr);
    }),
});

Deno.test({
  name:
    "loadPipeline: a sentence-transformers model is mean-pooled over the attention mask and L2-normalised (batch padded)",
  ignore: skip !== undefined,
  fn: () =>
    withHub(async (env, dir) => {
      const texts = ["a man is playing guitar", "hello", "the movie was great fun"];
      const pipeline = await loadPipeline("acme/embedder", { cacheDir: `${dir}/hub`, provider: "cpu" });
      try {
        assertEquals(pipeline.task, "feature-extraction");
        assertEquals(pipeline.taskSource, "pipeline_tag");
        const result = await pipeline.run(texts);
        assert(result.kind === "embedding");
        assertEquals(result.dimension, HIDDEN);
        assertEquals(result.normalized, true);
        texts.forEach((text, i) => {
          const expected = expectedEmbedding(bertIds(text));
          expected.forEach((v, h) => close(result.embeddings[i][h], v, `${text}[${h}]`));
        });
        const pre = await pipeline.preprocess(texts);
        assertEquals(Object.keys(pre.feeds).sort(), ["attention_mask", "input_ids", "token_type_ids"]);
        assertEquals(pre.feeds.input_ids.dtype, "int32");
        assertEquals(pre.feeds.input_ids.shape, [3, 7]);
      } finally {
        await pipeline.dispose();
      }
      const cli = await runCli(["run", "acme/embedder", "-p", "cpu", "--text", "hello"], { env });
      assertEquals(cli.code, 0, cli.stderr);
      const first = expectedEmbedding(bertIds("hello")).map((v) => v.toFixed(4)).join(", ");
      assertEquals(cli.stdout, `dimension ${HIDDEN} (mean pooling, normalized): ${first}\n`);
      const two = await runCli([
        "run",
        "acme/embedder",
        "-p",
        "cpu",
        "--json",
        "--text",
        "hello",
        "--text",
        "the movie",
      ], {
        env,
      });
      assertEquals(two.code, 0, two.stderr);
      const a = expectedEmbedding(bertIds("hello")), b = expectedEmbedding(bertIds("the movie"));
      close(JSON.parse(two.stdout).result.similarityToFirst[0], a.reduce((s, v, i) => s + v * b[i], 0), "cosine");
    }),
});

/** Per-token logits `[batch, tokens, 5]` = rows of a table picked by token id (labels O, B-PER, I-PER, B-LOC, I-LOC). */
function tokenClassifier(): Uint8Array {
  const values: number[] = [];
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < 5; c++) values.push(tableValue(r, c) * 3);
  return buildModel({
    opset: 13,
    inputs: [
      { name: "input_ids", dtype: "int64", shape: ["batch", "sequence"] },
      { name: "attention_mask", dtype: "int64", shape: ["batch", "sequence"] },
    ],
    outputs: [{ name: "logits", dtype: "float32", shape: ["batch", "sequence", 5] }],
    initializers: [
      { name: "rows", dtype: "int64", dims: [], data: new Uint8Array(BigInt64Array.of(BigInt(ROWS)).buffer) },
      { name: "table", dtype: "float32", dims: [ROWS, 5], data: f32Bytes(values) },
    ],
    nodes: [
      { op: "Mod", inputs: ["input_ids", "rows"], outputs: ["row"] },
      { op: "Gather", inputs: ["table", "row"], outputs: ["gathered"] },
      { op: "Identity", inputs: ["attention_mask"], outputs: ["unused"] },
      { op: "Identity", inputs: ["gathered"], outputs: ["logits"] },
    ],
  });
}

Deno.test({
  name:
    "loadPipeline token-classification: entities carry labels, mean scores and character offsets; simple and first aggregation",
  ignore: skip !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await writeModel(`${dir}/model.onnx`, tokenClassifier());
      const labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];
      await Deno.writeTextFile(
        `${dir}/config.json`,
        JSON.stringify({
          architectures: ["BertForTokenClassification"],
          id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
        }),
      );
      await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(files.tokenizer));
      await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(files.config));
      const text = "Wolfgang lives in Berlin with unbelievable friends";
      const tokenizer = new TextTokenizer(files.tokenizer, files.config);
      const enc = tokenizer.encode(text);
      // by hand: each word token's argmax label and score, then transformers' grouping
      const tokens = enc.inputIds.map((id, t) => {
        const row = Array.from({ length: 5 }, (_, c) => tableValue(id % ROWS, c) * 3);
        const p = softmax(row);
        let best = 0;
        for (let c = 1; c < 5; c++) if (p[c] > p[best]) best = c;
        return { label: labels[best], score: p[best], probs: p, offsets: enc.offsets[t], token: enc.tokens[t] };
      }).filter((_, t) => enc.sequenceIds[t] === 0);
      const expectSimple: { label: string; start: number; end: number; score: number }[] = [];
      let group: typeof tokens = [];
      const tag = (l: string) => l.startsWith("B-") || l.startsWith("I-") ? [l[0], l.slice(2)] : ["I", l];
      const flush = () => {
        if (!group.length) return;
        const label = tag(group[0].label)[1];
        if (label !== "O") {
          expectSimple.push({
            label,
            start: group[0].offsets[0],
            end: group[group.length - 1].offsets[1],
            score: group.reduce((s, g) => s + g.score, 0) / group.length,
          });
        }
        group = [];
      };
      for (const t of tokens) {
        if (group.length && !(tag(t.label)[1] === tag(group[group.length - 1].label)[1] && tag(t.label)[0] !== "B")) {
          flush();
        }
        group.push(t);
      }
      flush();

      assert(expectSimple.length >= 2, `the table gives ${expectSimple.length} entities; the test needs some`);
      const pipeline = await loadPipeline(`${dir}/model.onnx`, { provider: "cpu" });
      try {
        assertEquals(pipeline.task, "token-classification");
        const simple = await pipeline.run(text);
        assert(simple.kind === "entities");
        assertEquals(
          simple.entities[0].map((e) => [e.label, e.start, e.end]),
          expectSimple.map((e) => [e.label, e.start, e.end]),
        );
        simple.entities[0].forEach((e, i) => {
          close(e.score, expectSimple[i].score, `entity ${i} score`);
          assertEquals(e.word, text.slice(e.start, e.end));
        });
        const first = await pipeline.run(text, { aggregation: "first" });
        assert(first.kind === "entities");
        // with `first`, an entity never starts or ends inside a word
        for (const e of first.entities[0]) {
          assert(e.start === 0 || text[e.start - 1] === " ", `${e.word} starts inside a word`);
          assert(e.end === text.length || text[e.end] === " ", `${e.word} ends inside a word`);
        }
        const none = await pipeline.run(text, { aggregation: "none" });
        assert(none.kind === "entities");
        assertEquals(none.entities[0].length, tokens.filter((t) => t.label !== "O").length);
      } finally {
        await pipeline.dispose();
      }
      const cli = await runCli(["run", `${dir}/model.onnx`, "-p", "cpu", "--text", text], {
        env: { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir },
      });
      assertEquals(cli.code, 0, cli.stderr);
      assertEquals(
        cli.stdout,
        expectSimple.map((e) =>
          `${e.label} ${e.score.toFixed(4)} ${JSON.stringify(text.slice(e.start, e.end))} [${e.start}, ${e.end})\n`
        ).join("") || "(no entities)\n",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "gpux run: zero-shot labels from --labels (sorted, scores from the entailment logits); --text-pair reaches a cross-encoder",
  ignore: skip !== undefined,
  fn: () =>
    withHub(async (env) => {
      const text = "the match ended in a draw";
      const labels = ["sports", "politics", "cooking"];
      const r = await runCli(["run", "acme/nli", "-p", "cpu", "--text", text, "--labels", labels.join(",")], { env });
      assertEquals(r.code, 0, r.stderr);
      const tokenizer = new TextTokenizer(files.tokenizer, files.config);
      const entail = labels.map((l) =>
        expectedLogits(tokenizer.encode(text, { pair: `This example is ${l}.` }).inputIds, NLI_W, NLI_B)[2]
      );
      const p = softmax(entail);
      const expected = labels.map((l, i) => ({ l, s: p[i] })).sort((a, b) => b.s - a.s);
      assertEquals(r.stdout, expected.map((e) => `${e.l} ${e.s.toFixed(4)}\n`).join(""));

      const noLabels = await runCli(["run", "acme/nli", "-p", "cpu", "--text", text], { env });
      assertEquals(noLabels.code, 2, noLabels.stderr);
      assertStringIncludes(noLabels.stderr, "candidate labels");

      const pair = await runCli(
        ["run", "acme/sentiment", "-p", "cpu", "--json", "--raw", "--text", "hello", "--text-pair", "the movie"],
        { env },
      );
      assertEquals(pair.code, 0, pair.stderr);
      const ids = JSON.parse(pair.stdout).inputs.input_ids.data[0];
      assertEquals(ids, tokenizer.encode("hello", { pair: "the movie" }).inputIds);
    }),
});

Deno.test({
  name:
    "loadTokenizer: a cached Hub id (a tokenizer-only repository), a folder, a tokenizer.json path; an id not cached is exit 3 naming gpux pull",
  ignore: skip !== undefined,
  fn: async () => {
    const hub = await startHubServer();
    const dir = await Deno.makeTempDir();
    try {
      hub.addRepo("acme/just-a-tokenizer").commit({
        "tokenizer.json": JSON.stringify(files.tokenizer),
        "tokenizer_config.json": JSON.stringify({ ...files.config, model_max_length: 5 }),
      });
      const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir, HF_ENDPOINT: hub.url };
      const pulled = await runCli(["pull", "acme/just-a-tokenizer", "--quiet"], { env });
      assertEquals(pulled.code, 0, pulled.stderr);
      const fromHub = await loadTokenizer("acme/just-a-tokenizer", { cacheDir: `${dir}/hub` });
      assertEquals(fromHub.settings.modelMaxLength, 5);
      assertEquals(fromHub.encode("i love this movie").inputIds, bertIds("i love this movie"));
      await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(files.tokenizer));
      const fromDir = await loadTokenizer(dir);
      const fromPath = await loadTokenizer(`${dir}/tokenizer.json`);
      assertEquals(fromDir.encode("hello").inputIds, fromPath.encode("hello").inputIds);
      let error: unknown;
      await loadTokenizer("acme/absent", { cacheDir: `${dir}/hub` }).catch((e) => error = e);
      assert(error instanceof NotFoundError, String(error));
      assertEquals((error as NotFoundError).exitCode, 3);
      assertStringIncludes((error as NotFoundError).hint ?? "", "gpux pull acme/absent");
    } finally {
      await hub.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "loadPipeline: a text model whose only output is a sentence embedding [batch, dim] gives it as is (no pooling)",
  ignore: skip !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      // the embedder with its token embeddings averaged inside the graph: one [batch, HIDDEN] output
      const spec = embedderModel();
      spec.outputs = [{ name: "sentence_embedding", dtype: "float32", shape: ["batch", HIDDEN] }];
      spec.nodes = spec.nodes.map((n) =>
        n.outputs[0] === "last_hidden_state" ? { ...n, outputs: ["token_embeddings"] } : n
      );
      spec.nodes.push({
        op: "ReduceMean",
        inputs: ["token_embeddings"],
        outputs: ["sentence_embedding"],
        attributes: { axes: { ints: [1] }, keepdims: { int: 0 } },
      });
      await Deno.writeFile(`${dir}/model.onnx`, buildModel(spec));
      await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(files.tokenizer));
      await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(files.config));
      const pipeline = await loadPipeline(dir, { task: "feature-extraction", provider: "cpu" });
      try {
        const result = await pipeline.run(["the movie was great fun"]);
        assert(result.kind === "embedding");
        assertEquals([result.pooling, result.dimension, result.normalized], ["none", HIDDEN, false]);
        const ids = bertIds("the movie was great fun");
        for (let h = 0; h < HIDDEN; h++) {
          const mean = ids.reduce((sum, id) => sum + tableValue(id % ROWS, h), 0) / ids.length;
          close(result.embeddings[0][h], mean, `[${h}]`);
        }
      } finally {
        await pipeline.dispose();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
