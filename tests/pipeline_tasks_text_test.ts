/**
 * fill-mask, question-answering (long contexts in strided windows), sentence-similarity and
 * zero-shot-image-classification (CLIP) against PyTorch transformers' own `pipeline()` on the same random
 * weights (tests/support/task_fixtures_text.ts builds the models and the goldens): the same tokens, labels
 * and character offsets, scores within 1e-4 — through `deno task gpux run`, `loadPipeline` and `gpux serve`; and
 * against transformers.js 4.3 (its own Node.js process) on the same files where its pipelines do the same thing.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { running, startServe } from "./support/serve_process.ts";
import { textTaskFixtures } from "./support/task_fixtures_text.ts";
import { runTransformersJs, transformersJsLayout } from "./support/transformers_js_tasks.ts";
import { photoLike, rgbPng } from "./support/image_fixtures.ts";
import { loadPipeline } from "../src/processing/pipeline.ts";
import { taskFromArchitectures, taskFromGraph } from "../src/processing/task_detection.ts";
import { loadTokenizer } from "../src/processing/tokenizer.ts";

const { dir: FIX, goldens: G } = await textTaskFixtures();
const SCORE_EPS = 1e-4;

function close(actual: number, expected: number, what: string, eps = SCORE_EPS): void {
  assert(Math.abs(actual - expected) <= eps, `${what}: got ${actual}, expected ${expected}`);
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** transformers' fill-mask answer (a list for one mask, a list of lists for several) against gpux's masks. */
function sameFill(masks: Json[][], golden: Json, what: string): void {
  const perMask: Json[][] = Array.isArray(golden[0]) ? golden : [golden];
  assertEquals(masks.length, perMask.length, `${what}: masks`);
  perMask.forEach((expected, m) => {
    assertEquals(masks[m].map((c: Json) => c.token), expected.map((c: Json) => c.token), `${what}: mask ${m} tokens`);
    expected.forEach((e: Json, i: number) => {
      const got = masks[m][i];
      close(got.score, e.score, `${what}: mask ${m} #${i} score`);
      assertEquals(got.tokenStr, e.token_str);
      assertEquals(got.sequence, e.sequence);
    });
  });
}

/** transformers' QA answer (a dict for top_k 1, else a list) against gpux's answers: offsets exact. */
function sameAnswers(answers: Json[], golden: Json, what: string): void {
  const expected: Json[] = Array.isArray(golden) ? golden : [golden];
  assertEquals(
    answers.map((a: Json) => [a.start, a.end, a.answer]),
    expected.map((a: Json) => [a.start, a.end, a.answer]),
    `${what}: spans`,
  );
  expected.forEach((e, i) => close(answers[i].score, e.score, `${what}: #${i} score`));
}

function sameLabels(labels: Json[], golden: Json[], what: string): void {
  assertEquals(labels.map((l: Json) => l.label), golden.map((l: Json) => l.label), `${what}: labels`);
  golden.forEach((g, i) => close(labels[i].score, g.score, `${what}: ${g.label}`));
}

async function runJson(args: string[]): Promise<Json> {
  const r = await runCli(["run", ...args, "-p", "cpu", "--json"]);
  assertEquals(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Equal JSON, numbers within `eps`. */
function sameJson(actual: Json, expected: Json, path: string, eps = 1e-6): void {
  if (typeof expected === "number") return close(actual, expected, path, eps);
  if (expected === null || typeof expected !== "object") return assertEquals(actual, expected, path);
  assertEquals(Object.keys(actual ?? {}).sort(), Object.keys(expected).sort(), path);
  for (const k of Object.keys(expected)) sameJson(actual[k], expected[k], `${path}.${k}`, eps);
}

Deno.test("the fixtures' PyTorch answers are the committed goldens (tests/goldens/tasks_text.json)", async () => {
  const committed = JSON.parse(await Deno.readTextFile(new URL("./goldens/tasks_text.json", import.meta.url)));
  sameJson(G, committed, "goldens");
});

Deno.test("task detection: masked-LM, QA and CLIP architectures, and graphs with QA heads or two towers", () => {
  assertEquals(taskFromArchitectures(["BertForMaskedLM"]), "fill-mask");
  assertEquals(taskFromArchitectures(["RobertaForQuestionAnswering"]), "question-answering");
  assertEquals(taskFromArchitectures(["CLIPModel"]), "zero-shot-image-classification");
  assertEquals(taskFromArchitectures(["SiglipModel"]), "zero-shot-image-classification");
  assertEquals(taskFromArchitectures(["CLIPVisionModel"]), "image-feature-extraction");
  assertEquals(taskFromGraph({ inputs: ["input_ids"], outputs: ["start_logits", "end_logits"] }), "question-answering");
  assertEquals(
    taskFromGraph({ inputs: ["input_ids", "pixel_values", "attention_mask"], outputs: ["logits_per_image"] }),
    "zero-shot-image-classification",
  );
  assertEquals(taskFromGraph({ inputs: ["input_ids"], outputs: ["logits"] }), undefined);
});

Deno.test("gpux run fill-mask: top-5 tokens, scores and sequences as transformers (BERT one mask, two masks, --targets; RoBERTa)", async () => {
  const g = G["fill-mask"], fg = g;
  const doc = await runJson([`${FIX}/bert-fill-mask`, "--text", g.texts[0], "--text", g.texts[1]]);
  assertEquals(doc.task, "fill-mask");
  assertEquals(doc.taskSource, "pipeline_tag");
  sameFill(doc.result[0].masks, g.top5[0], "one mask");
  sameFill(doc.result[1].masks, g.top5[1], "two masks");
  const targeted = await runJson([
    `${FIX}/bert-fill-mask`,
    "--text",
    g.targets.text,
    "--targets",
    g.targets.targets.join(","),
  ]);
  sameFill(targeted.result[0].masks, g.targets.answer, "targets");

  const human = await runCli(["run", `${FIX}/bert-fill-mask`, "-p", "cpu", "--text", g.texts[0], "-k", "2"]);
  assertEquals(human.code, 0, human.stderr);
  const lines = g.top5[0].slice(0, 2).map((c: Json) =>
    `${c.token_str} ${c.score.toFixed(4)} ${JSON.stringify(c.sequence)}`
  );
  assertEquals(human.stdout, lines.join("\n") + "\n");

  // RoBERTa: byte-level BPE, a `<mask>` that takes the space before it, no token_type_ids
  const roberta = fg.roberta;
  const rdoc = await runJson([`${FIX}/roberta-fill-mask`, "--text", roberta.texts[0], "--text", roberta.texts[1]]);
  sameFill(rdoc.result[0].masks, roberta.top5[0], "roberta 1");
  sameFill(rdoc.result[1].masks, roberta.top5[1], "roberta 2");

  const noMask = await runCli(["run", `${FIX}/bert-fill-mask`, "-p", "cpu", "--text", "no mask here"]);
  assertEquals(noMask.code, 2, noMask.stderr);
  assertStringIncludes(noMask.stderr, "has no mask token");
  assertStringIncludes(noMask.stderr, "[MASK]");
});

Deno.test("gpux run question-answering: answers, scores and character offsets as transformers, long contexts in strided windows", async () => {
  const g = G["question-answering"];
  const qa = (...extra: string[]) =>
    runJson([`${FIX}/bert-qa`, "--question", g.question, "--context", g.context, ...extra]);
  const top3 = await qa("-k", "3");
  assertEquals(top3.task, "question-answering");
  sameAnswers(top3.result[0].answers, g.top3, "top 3");
  for (const a of top3.result[0].answers) assertEquals(g.context.slice(a.start, a.end), a.answer);
  sameAnswers((await qa("-k", "3", "--max-answer-length", "3")).result[0].answers, g.maxAnswer3, "max answer 3");
  const long = await runJson([
    `${FIX}/bert-qa`,
    "--question",
    g.question,
    "--context",
    g.long.context,
    "-k",
    "5",
    "--max-seq-length",
    String(g.long.maxSeqLen),
    "--doc-stride",
    String(g.long.docStride),
  ]);
  sameAnswers(long.result[0].answers, g.long.answer, "long context");
  // the best answers lie past the first window: the context was read to its end
  assert(long.result[0].answers.some((a: Json) => a.start > 400), JSON.stringify(long.result[0].answers));

  const human = await runCli(["run", `${FIX}/bert-qa`, "-p", "cpu", "--question", g.question, "--context", g.context]);
  assertEquals(human.code, 0, human.stderr);
  const best = g.top3[0];
  assertEquals(human.stdout, `${JSON.stringify(best.answer)} ${best.score.toFixed(4)} [${best.start}, ${best.end})\n`);

  const noContext = await runCli(["run", `${FIX}/bert-qa`, "-p", "cpu", "--question", g.question]);
  assertEquals(noContext.code, 2, noContext.stderr);
  assertStringIncludes(noContext.stderr, "--context");
  const pair = await runCli(["run", `${FIX}/bert-qa`, "-p", "cpu", "--question", g.question, "--text-pair", "x"]);
  assertEquals(pair.code, 2, pair.stderr);
  assertStringIncludes(pair.stderr, "--question takes --context");
  const stride = await runCli([
    "run",
    `${FIX}/bert-qa`,
    "-p",
    "cpu",
    "--question",
    g.question,
    "--context",
    g.context,
    "--max-seq-length",
    "16",
    "--doc-stride",
    "12",
  ]);
  assertEquals(stride.code, 2, stride.stderr);
  assertStringIncludes(stride.stderr, "stride 12 must be below");
});

Deno.test("gpux run --task sentence-similarity: cosine of each text with the first as sentence-transformers pooling gives", async () => {
  const g = G["sentence-similarity"];
  const texts = [g.source, ...g.candidates].flatMap((t: string) => ["--text", t]);
  const doc = await runJson([`${FIX}/bert-sentence`, "--task", "sentence-similarity", ...texts]);
  assertEquals(doc.task, "sentence-similarity");
  assertEquals(doc.result.source, g.source);
  assertEquals(doc.result.similarities.map((s: Json) => s.input), g.candidates);
  g.similarities.forEach((s: number, i: number) => close(doc.result.similarities[i].score, s, g.candidates[i]));
  const one = await runCli([
    "run",
    `${FIX}/bert-sentence`,
    "-p",
    "cpu",
    "--task",
    "sentence-similarity",
    "--text",
    "a",
  ]);
  assertEquals(one.code, 2, one.stderr);
  assertStringIncludes(one.stderr, "at least one text to compare");
});

Deno.test("gpux run zero-shot-image-classification (CLIP, one merged graph): softmax over the labels as transformers", async () => {
  const g = G["zero-shot-image-classification"];
  const doc = await runJson([`${FIX}/clip`, "--image", `${FIX}/scene.png`, "--labels", g.labels.join(",")]);
  assertEquals(doc.task, "zero-shot-image-classification");
  sameLabels(doc.result[0].labels, g.answer, "default template");
  const templated = await runJson([
    `${FIX}/clip`,
    "--image",
    `${FIX}/scene.png`,
    "--labels",
    g.labels.join(","),
    "--hypothesis-template",
    g.template.hypothesisTemplate,
  ]);
  sameLabels(templated.result[0].labels, g.template.answer, "custom template");
  const noLabels = await runCli(["run", `${FIX}/clip`, "-p", "cpu", "--image", `${FIX}/scene.png`]);
  assertEquals(noLabels.code, 2, noLabels.stderr);
  assertStringIncludes(noLabels.stderr, "--labels");
});

Deno.test("gpux run zero-shot-image-classification (SigLIP): independent sigmoids, texts padded to 64 tokens, as transformers", async () => {
  const g = G["zero-shot-image-classification"];
  const doc = await runJson([`${FIX}/siglip`, "--image", `${FIX}/scene.png`, "--labels", g.labels.join(",")]);
  sameLabels(doc.result[0].labels, g.siglip, "siglip");
  const sum = doc.result[0].labels.reduce((s: number, l: Json) => s + l.score, 0);
  assert(Math.abs(sum - 1) > 0.05, `independent sigmoids, not a softmax: they sum to ${sum}`);
  const raw = await runJson([
    `${FIX}/siglip`,
    "--image",
    `${FIX}/scene.png`,
    "--labels",
    g.labels.join(","),
    "--raw",
  ]);
  assertEquals(raw.inputs.input_ids.shape, [g.labels.length, 64]);
});

Deno.test("TextTokenizer.encodeOverflowing: a long context's windows as Python tokenizers 0.22 cuts them (ids, offsets, word and sequence ids)", async () => {
  const g = G["question-answering"];
  const tokenizer = await loadTokenizer(`${FIX}/bert-qa`);
  const windows = tokenizer.encodeOverflowing(g.question, g.long.context, {
    maxLength: g.long.maxSeqLen,
    stride: g.long.docStride,
  });
  assertEquals(windows.length, g.windows.length);
  windows.forEach((w, i) => {
    const expected = g.windows[i];
    assertEquals(w.inputIds, expected.ids, `window ${i} ids`);
    assertEquals(w.offsets, expected.offsets.map((o: number[]) => [o[0], o[1]]), `window ${i} offsets`);
    assertEquals(w.wordIds, expected.words, `window ${i} word ids`);
    assertEquals(w.sequenceIds, expected.sequences, `window ${i} sequence ids`);
  });
});

Deno.test("loadPipeline: the four tasks from the module, the same answers as the CLI", async () => {
  const fill = await loadPipeline(`${FIX}/bert-fill-mask`, { provider: "cpu" });
  try {
    const r = await fill.run(G["fill-mask"].texts[0]);
    assert(r.kind === "fill-mask");
    const c = r.masks[0][0][0];
    assertEquals(c.token, G["fill-mask"].top5[0][0].token);
  } finally {
    await fill.dispose();
  }
  const qa = await loadPipeline(`${FIX}/bert-qa`, { provider: "cpu" });
  try {
    const g = G["question-answering"];
    const r = await qa.run({ kind: "text", texts: [g.question, g.question], pairs: [g.context, g.long.context] }, {
      topK: 5,
      maxSeqLength: g.long.maxSeqLen,
      docStride: g.long.docStride,
    });
    assert(r.kind === "answers");
    sameAnswers(r.answers[1], g.long.answer, "batched long context");
  } finally {
    await qa.dispose();
  }
  const similarity = await loadPipeline(`${FIX}/bert-sentence`, { provider: "cpu", task: "sentence-similarity" });
  try {
    const g = G["sentence-similarity"];
    const r = await similarity.run([g.source, ...g.candidates]);
    assert(r.kind === "similarity");
    g.similarities.forEach((s: number, i: number) => close(r.similarities[i], s, g.candidates[i]));
  } finally {
    await similarity.dispose();
  }
  const clip = await loadPipeline(`${FIX}/clip`, { provider: "cpu" });
  try {
    const g = G["zero-shot-image-classification"];
    const scene = { name: "scene.png", bytes: await Deno.readFile(`${FIX}/scene.png`) };
    const r = await clip.run({ kind: "image", images: [scene, scene], candidateLabels: g.labels }, { topK: 2 });
    assert(r.kind === "zero-shot");
    assertEquals(r.predictions.length, 2);
    sameLabels(r.predictions[1], g.answer.slice(0, 2), "second image of a batch");
  } finally {
    await clip.dispose();
  }
});

Deno.test("gpux serve: fill-mask, question/context, sentence similarity and image + candidate_labels bodies answer as gpux run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-serve-tasks-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  try {
    // a gpux.yml picks sentence-similarity for the embedder (its model card says feature-extraction's twin)
    await Deno.mkdir(`${dir}/similar/1_Pooling`, { recursive: true });
    for (const f of ["model.onnx", "tokenizer.json", "tokenizer_config.json", "config.json", "modules.json"]) {
      await Deno.copyFile(`${FIX}/bert-sentence/${f}`, `${dir}/similar/${f}`);
    }
    await Deno.copyFile(`${FIX}/bert-sentence/1_Pooling/config.json`, `${dir}/similar/1_Pooling/config.json`);
    await Deno.writeTextFile(
      `${dir}/similar/gpux.yml`,
      "name: similar\nmodel:\n  source: ./model.onnx\ntask: sentence-similarity\n",
    );
    const server = running(
      await startServe([
        `${FIX}/bert-fill-mask`,
        `${FIX}/bert-qa`,
        `${dir}/similar`,
        `${FIX}/clip`,
        "--provider",
        "cpu",
        "--port",
        "0",
        "--quiet",
      ], { env }),
    );
    try {
      const info = await (await fetch(`${server.url}/info`)).json();
      const byTask = Object.fromEntries(info.models.map((m: Json) => [m.task, m.name]));
      assertEquals(Object.keys(byTask).sort(), [
        "fill-mask",
        "question-answering",
        "sentence-similarity",
        "zero-shot-image-classification",
      ]);
      const post = async (task: string, body: unknown) => {
        const res = await fetch(`${server.url}/models/${byTask[task]}/predict`, {
          method: "POST",
          body: JSON.stringify(body),
        });
        return { status: res.status, doc: await res.json() };
      };
      const fg = G["fill-mask"];
      const fill = await post("fill-mask", { text: fg.targets.text, targets: fg.targets.targets });
      assertEquals(fill.status, 200, JSON.stringify(fill.doc));
      sameFill(fill.doc.result[0].masks, fg.targets.answer, "serve targets");

      const qg = G["question-answering"];
      const qa = await post("question-answering", {
        question: qg.question,
        context: qg.long.context,
        top_k: 5,
        max_seq_length: qg.long.maxSeqLen,
        doc_stride: qg.long.docStride,
      });
      assertEquals(qa.status, 200, JSON.stringify(qa.doc));
      sameAnswers(qa.doc.result[0].answers, qg.long.answer, "serve long context");

      const sg = G["sentence-similarity"];
      const similar = await post("sentence-similarity", { text: [sg.source, ...sg.candidates] });
      assertEquals(similar.status, 200, JSON.stringify(similar.doc));
      sg.similarities.forEach((s: number, i: number) => close(similar.doc.result.similarities[i].score, s, "serve"));

      const zg = G["zero-shot-image-classification"];
      const png = await Deno.readFile(`${FIX}/scene.png`);
      let binary = "";
      for (const b of png) binary += String.fromCharCode(b);
      const clip = await post("zero-shot-image-classification", { image: btoa(binary), candidate_labels: zg.labels });
      assertEquals(clip.status, 200, JSON.stringify(clip.doc));
      sameLabels(clip.doc.result[0].labels, zg.answer, "serve clip");

      const wrong = await post("zero-shot-image-classification", { image: btoa(binary), targets: ["x"] });
      assertEquals(wrong.status, 400, JSON.stringify(wrong.doc));
      assertStringIncludes(wrong.doc.error, '"targets" goes with "text"');
      const noContext = await post("question-answering", { question: "where?" });
      assertEquals(noContext.status, 400, JSON.stringify(noContext.doc));
      assertStringIncludes(noContext.doc.error, '"context"');
      const bigStride = await post("question-answering", { question: "where?", context: "here", doc_stride: 5000 });
      assertEquals(bigStride.status, 400, JSON.stringify(bigStride.doc));
      assertStringIncludes(bigStride.doc.error, '"doc_stride" must be a whole number from 0 to 4096');
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("transformers.js on the same files: the same fill-mask tokens, similarities, CLIP labels and QA scores", async () => {
  const root = await transformersJsLayout({
    fill: `${FIX}/bert-fill-mask`,
    qa: `${FIX}/bert-qa`,
    sentence: `${FIX}/bert-sentence`,
    clip: `${FIX}/clip`,
  });
  try {
    // an image already at CLIP's 32×32: transformers.js resizes with sharp, not Pillow, so a downscaled picture differs
    // between it and transformers (gpux follows Pillow: see the goldens above)
    await Deno.writeFile(`${root}/photo.png`, await rgbPng(photoLike(32, 32, 7)));
    const fg = G["fill-mask"], qg = G["question-answering"], sg = G["sentence-similarity"];
    const labels = G["zero-shot-image-classification"].labels;
    const tjs = await runTransformersJs(root, [
      { id: "fill", task: "fill-mask", model: "fill", text: fg.texts[0] },
      { id: "qa", task: "question-answering", model: "qa", question: qg.question, context: qg.context, topK: 3 },
      { id: "sentence", task: "feature-extraction", model: "sentence", texts: [sg.source, ...sg.candidates] },
      // the template given: transformers.js' default has no full stop (transformers': `This is a photo of {}.`)
      {
        id: "clip",
        task: "zero-shot-image-classification",
        model: "clip",
        image: `${root}/photo.png`,
        labels,
        hypothesisTemplate: "This is a photo of {}.",
      },
    ]);

    const fill = await runJson([`${FIX}/bert-fill-mask`, "--text", fg.texts[0]]);
    sameFill(fill.result[0].masks, tjs.fill.answer, "transformers.js fill-mask");

    const texts = [sg.source, ...sg.candidates].flatMap((t: string) => ["--text", t]);
    const similar = await runJson([`${FIX}/bert-sentence`, "--task", "sentence-similarity", ...texts]);
    const vectors: number[][] = tjs.sentence.answer;
    const dot = (a: number[], b: number[]) => a.reduce((sum, x, i) => sum + x * b[i], 0);
    vectors.slice(1).forEach((v, i) => close(similar.result.similarities[i].score, dot(vectors[0], v), `cosine ${i}`));

    const clip = await runJson([`${FIX}/clip`, "--image", `${root}/photo.png`, "--labels", labels.join(",")]);
    sameLabels(clip.result[0].labels, tjs.clip.answer, "transformers.js CLIP");

    // transformers.js' QA has no answer-length limit, no word alignment and answers in decoded (lower-cased) tokens;
    // an answer both give has the same score
    const ours = (await runJson([`${FIX}/bert-qa`, "--question", qg.question, "--context", qg.context, "-k", "3"]))
      .result[0].answers;
    const shared = (tjs.qa.answer as Json[]).filter((a) => ours.some((o: Json) => o.answer.toLowerCase() === a.answer));
    assert(shared.length >= 1, JSON.stringify({ ours, tjs: tjs.qa.answer }));
    for (const a of shared) close(ours.find((o: Json) => o.answer.toLowerCase() === a.answer).score, a.score, a.answer);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
