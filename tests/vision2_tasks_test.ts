/**
 * zero-shot-image-classification with CLIP/SigLIP's two towers (`onnx/text_model.onnx` + `onnx/vision_model.onnx`,
 * picked from the files) and zero-shot-object-detection with OWLv2 (pad to a square, anti-aliased resize, boxes
 * relative to the square), on tiny random models exported by Python transformers (tests/support/vision2_fixtures.ts),
 * checked against transformers' own `pipeline()` on the same weights and against the merged graph: the same labels,
 * scores within 1e-4, boxes within 0.5 px, pixel values within 1e-4 — through `deno task gpux run`, loadPipeline and
 * `gpux serve`.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { withCliHub } from "./support/cli_hub.ts";
import { running, startServe } from "./support/serve_process.ts";
import { vision2Fixtures } from "./support/vision2_fixtures.ts";
import { loadPipeline } from "../src/processing/pipeline.ts";
import { resolveModel } from "../src/runtime/model_source.ts";
import { InputError } from "../src/errors.ts";
import { decodeImage } from "../src/processing/image_decode.ts";
import { photoLike, rgbPng } from "./support/image_fixtures.ts";
import { transformersJs } from "./support/transformersjs_vision.ts";

const fx = await vision2Fixtures();
const scene = `${fx.dir}/scene.png`;

// deno-lint-ignore no-explicit-any
type Json = any;

function close(actual: number, expected: number, what: string, eps = 1e-4): void {
  assert(Math.abs(actual - expected) <= eps, `${what}: got ${actual}, expected ${expected} (tolerance ${eps})`);
}

/** Same label → score (ties in the golden may come in either order). */
function sameScores(labels: Json[], golden: Json[], what: string): void {
  assertEquals(labels.length, golden.length, `${what}: how many labels`);
  const got = new Map(labels.map((l: Json) => [l.label, l.score]));
  for (const g of golden) close(got.get(g.label), g.score, `${what}: ${g.label}`);
  for (let i = 1; i < labels.length; i++) assert(labels[i - 1].score >= labels[i].score, `${what}: best first`);
}

async function runJson(args: string[]): Promise<Json> {
  const r = await runCli(["run", ...args, "-p", "cpu", "--json"]);
  assertEquals(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function copyWithout(from: string, to: string, skip: (rel: string) => boolean, rel = ""): Promise<void> {
  await Deno.mkdir(`${to}${rel}`, { recursive: true });
  for await (const entry of Deno.readDir(`${from}${rel}`)) {
    const path = `${rel}/${entry.name}`;
    if (skip(path.slice(1))) continue;
    if (entry.isDirectory) await copyWithout(from, to, skip, path);
    else await Deno.copyFile(`${from}${path}`, `${to}${path}`);
  }
}

Deno.test("vision2 fixtures: the builder reproduces the committed goldens (tests/goldens/vision2_tasks.json)", async () => {
  const committed = JSON.parse(await Deno.readTextFile(new URL("./goldens/vision2_tasks.json", import.meta.url)));
  const built = JSON.parse(await Deno.readTextFile(`${fx.dir}/summary.json`));
  if (committed.torch !== built.torch || committed.transformers !== built.transformers) {
    console.warn(
      `goldens made with torch ${committed.torch}, here ${built.torch}: the committed record is not compared`,
    );
    return;
  }
  assertEquals(built, committed);
});

for (const name of ["clip", "siglip"] as const) {
  Deno.test(`zero-shot-image-classification: ${name}'s two towers, picked from the folder, answer as transformers and as the merged graph`, async () => {
    const g = fx.goldens[name];
    const labels = ["--labels", g.labels.join(",")];
    const towers = await runJson([`${fx.dir}/${name}`, "--image", scene, ...labels]);
    assertEquals(towers.task, "zero-shot-image-classification");
    assert(
      towers.model.path.endsWith("onnx/vision_model.onnx"),
      `the folder runs the vision tower: ${towers.model.path}`,
    );
    sameScores(towers.result[0].labels, g.answer, `${name} towers`);
    const merged = await runJson([`${fx.dir}/${name}/onnx/model.onnx`, "--image", scene, ...labels]);
    sameScores(merged.result[0].labels, g.answer, `${name} merged`);
    towers.result[0].labels.forEach((l: Json, i: number) =>
      close(l.score, merged.result[0].labels.find((m: Json) => m.label === l.label).score, `towers = merged ${i}`, 1e-5)
    );
    const templated = await runJson([
      `${fx.dir}/${name}/onnx/vision_model.onnx`,
      "--image",
      scene,
      ...labels,
      "--hypothesis-template",
      g.template.hypothesisTemplate,
    ]);
    sameScores(templated.result[0].labels, g.template.answer, `${name} template`);
  });
}

Deno.test("zero-shot-image-classification towers: the text tower runs once per label set (cached), the vision tower per image", async () => {
  const g = fx.goldens.clip;
  await using clip = await loadPipeline(`${fx.dir}/clip`, { provider: "cpu" });
  assert(clip.session.path.endsWith("vision_model.onnx"));
  const image = { name: "scene.png", bytes: await Deno.readFile(scene) };
  const input = { kind: "image" as const, images: [image, image], candidateLabels: g.labels };
  const first = await clip.preprocess(input);
  const again = await clip.preprocess(input);
  const other = await clip.preprocess({ ...input, candidateLabels: g.labels.slice(0, 2) });
  assertEquals(Object.keys(first.feeds), ["pixel_values"], "only the image goes to the session");
  assertEquals(first.feeds.pixel_values.shape[0], 2);
  const embeds = (pre: Json) => pre.meta.textEmbeds;
  assert(embeds(first) === embeds(again), "the same labels reuse the text tower's embeddings");
  assert(embeds(first) !== embeds(other) && embeds(other).length === 2, "other labels run the text tower");
  const result = await clip.run(input);
  assert(result.kind === "zero-shot");
  result.predictions.forEach((p, i) => sameScores(p, g.answer, `image ${i}`));
});

Deno.test("zero-shot-image-classification towers: the learned scale comes from model.safetensors; without it CLIP's 100, SigLIP refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-towers-" });
  try {
    const g = fx.goldens.clip;
    assert(Math.abs(g.logit_scale - 100) > 1, "the fixture's scale is not the fallback");
    await copyWithout(
      `${fx.dir}/clip`,
      `${dir}/clip`,
      (rel) => rel === "model.safetensors" || rel === "onnx/model.onnx",
    );
    const doc = await runJson([`${dir}/clip`, "--image", scene, "--labels", g.labels.join(",")]);
    // logits = scale * cos: at scale 100 instead of s, softmax(100 cos) = p^(100/s) normalised
    const power = 100 / g.logit_scale;
    const total = g.answer.reduce((sum: number, a: Json) => sum + a.score ** power, 0);
    sameScores(
      doc.result[0].labels,
      g.answer.map((a: Json) => ({ ...a, score: a.score ** power / total })),
      "scale 100",
    );

    await copyWithout(`${fx.dir}/siglip`, `${dir}/siglip`, (rel) => rel === "model.safetensors");
    const siglip = await runCli(["run", `${dir}/siglip`, "-p", "cpu", "--image", scene, "--labels", "cat"]);
    assertEquals(siglip.code, 3, siglip.stderr);
    assertStringIncludes(siglip.stderr, "model.safetensors");
    assertStringIncludes(siglip.stderr, `run the merged graph beside them instead: ${dir}/siglip/onnx/model.onnx`);

    await copyWithout(`${fx.dir}/clip`, `${dir}/vision-only`, (rel) => rel.startsWith("onnx/text_model"));
    const alone = await runCli([
      "run",
      `${dir}/vision-only/onnx/vision_model.onnx`,
      "-p",
      "cpu",
      "--image",
      scene,
      "--labels",
      "cat",
    ]);
    assertEquals(alone.code, 3, alone.stderr);
    assertStringIncludes(alone.stderr, "text_model.onnx");
    assert(!alone.stderr.includes("    at "), alone.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gpux serve: a two-tower CLIP folder answers image + candidate_labels as gpux run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-serve-towers-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  try {
    const server = running(
      await startServe([`${fx.dir}/clip`, "--provider", "cpu", "--port", "0", "--quiet"], { env }),
    );
    try {
      const info = await (await fetch(`${server.url}/info`)).json();
      assertEquals(info.models.map((m: Json) => m.task), ["zero-shot-image-classification"]);
      const bytes = await Deno.readFile(scene);
      const image = btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${server.url}/models/${info.models[0].name}/predict`, {
          method: "POST",
          body: JSON.stringify({ image, candidate_labels: fx.goldens.clip.labels }),
        });
        const doc = await res.json();
        assertEquals(res.status, 200, JSON.stringify(doc));
        sameScores(doc.result[0].labels, fx.goldens.clip.answer, `serve ${i}`);
      }
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("zero-shot-object-detection: OWLv2's pixels (pad to a square, anti-aliased resize) equal transformers' within 1e-4", async () => {
  const g = fx.goldens.owlv2;
  await using detector = await loadPipeline(`${fx.dir}/owlv2`, { provider: "cpu" });
  const pre = await detector.preprocess({
    kind: "image",
    images: [{ name: "scene.png", bytes: await Deno.readFile(scene) }],
    candidateLabels: g.labels,
  });
  const pixels = pre.feeds.pixel_values;
  assertEquals(pixels.shape, g.pixel_values_shape);
  let worst = 0;
  (pixels.data as Float32Array).forEach((v, i) => worst = Math.max(worst, Math.abs(v - g.pixel_values[i])));
  assert(worst <= 1e-4, `largest pixel difference ${worst}`);
  // other sizes: a milder blur read at fractional positions (48²), and upsampling without blur (100²)
  const dir = await Deno.makeTempDir({ prefix: "gpux-owlv2-" });
  try {
    await copyWithout(`${fx.dir}/owlv2`, dir, () => false);
    const config = JSON.parse(await Deno.readTextFile(`${fx.dir}/owlv2/preprocessor_config.json`));
    for (const { size, pixel_values } of g.resized) {
      await Deno.writeTextFile(
        `${dir}/preprocessor_config.json`,
        JSON.stringify({ ...config, size: { height: size, width: size } }),
      );
      await using resized = await loadPipeline(dir, { provider: "cpu" });
      const feeds = (await resized.preprocess({
        kind: "image",
        images: [{ name: "scene.png", bytes: await Deno.readFile(scene) }],
        candidateLabels: g.labels,
      })).feeds;
      assertEquals(feeds.pixel_values.shape, [1, 3, size, size]);
      let off = 0;
      (feeds.pixel_values.data as Float32Array).forEach((v, i) => off = Math.max(off, Math.abs(v - pixel_values[i])));
      assert(off <= 1e-4, `${size}²: largest pixel difference ${off}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("zero-shot-object-detection: OWLv2 finds transformers' labels, scores (1e-4) and boxes (0.5 px, relative to the padded square)", async () => {
  const g = fx.goldens.owlv2;
  assert(g.pipeline.length >= 1, "the fixture should find something");
  const doc = await runJson([
    `${fx.dir}/owlv2`,
    "--image",
    scene,
    "--labels",
    g.labels.join(","),
    "--threshold",
    String(g.threshold),
  ]);
  assertEquals(doc.task, "zero-shot-object-detection");
  const objects = doc.result[0].objects as Json[];
  assertEquals(objects.length, g.scores.length);
  objects.forEach((o, i) => {
    close(o.score, g.scores[i], `score ${i}`);
    assertEquals(o.label, g.pipeline[i].label);
    const [xmin, ymin, xmax, ymax] = g.boxes[i];
    for (const [k, v] of Object.entries({ xmin, ymin, xmax, ymax })) close(o.box[k], v, `box ${i} ${k}`, 0.5);
  });
  assert(objects.some((o) => o.box.ymax > fx.goldens.image[1] * 0.9), "boxes scale by the longer side");
});

Deno.test("model resolution: a folder of CLIP towers (with the merged graph and variants beside them) runs the vision tower", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-towers-pick-" });
  try {
    await Deno.mkdir(`${dir}/onnx`);
    for (const base of ["model", "text_model", "vision_model"]) {
      for (const suffix of ["", "_quantized"]) {
        await Deno.writeFile(`${dir}/onnx/${base}${suffix}.onnx`, new Uint8Array(1));
      }
    }
    assertEquals((await resolveModel(dir, { variant: "quantized" })).path, `${dir}/onnx/vision_model_quantized.onnx`);
    assertEquals((await resolveModel(dir, { variant: "fp32" })).path, `${dir}/onnx/vision_model.onnx`);
    // two variants and none named: still gpux's usual refusal to guess for a local folder
    await assertRejects(() => resolveModel(dir), InputError, "will not guess");
    // a folder of other components is not taken for towers
    await Deno.remove(`${dir}/onnx`, { recursive: true });
    await Deno.mkdir(`${dir}/onnx`);
    for (const base of ["encoder_model", "vision_model"]) {
      await Deno.writeFile(`${dir}/onnx/${base}.onnx`, new Uint8Array(1));
    }
    await assertRejects(() => resolveModel(dir), InputError, "will not guess");
  } finally {
    await Deno.remove(`${dir}`, { recursive: true });
  }
});

/** The grey channel of a base64 PNG mask. */
async function maskOf(png: string): Promise<Uint8Array> {
  const image = await decodeImage(Uint8Array.from(atob(png), (c) => c.charCodeAt(0)), "mask.png");
  return Uint8Array.from({ length: image.width * image.height }, (_, i) => image.data[i * 3]);
}

function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

async function segmentJson(
  subtask: string | undefined,
  threshold: number | null,
  model = "mask2former",
): Promise<Json[]> {
  const doc = await runJson([
    `${fx.dir}/${model}`,
    "--image",
    scene,
    ...(subtask ? ["--subtask", subtask] : []),
    ...(threshold === null ? [] : ["--threshold", String(threshold)]),
  ]);
  assertEquals(doc.task, "image-segmentation");
  return doc.result[0].segments;
}

for (const [name, title] of [["mask2former", "Mask2Former"], ["maskformer", "MaskFormer"]] as const) {
  Deno.test(`image-segmentation: ${title}'s resize (shortest edge, then each edge up to a multiple of 32) equals transformers'`, async () => {
    await using segmenter = await loadPipeline(`${fx.dir}/${name}`, { provider: "cpu" });
    const pre = await segmenter.preprocess({
      kind: "image",
      images: [{ name: "scene.png", bytes: await Deno.readFile(scene) }],
    });
    assertEquals(pre.feeds.pixel_values.shape, fx.goldens[name].pixel_values_shape);
  });

  Deno.test(`image-segmentation --subtask instance: ${title}'s instances, scores (1e-4) and own masks (>= 99.9%) equal PyTorch's`, async () => {
    const g = fx.goldens[name];
    assert(g.instance_binary.length >= 3, "the fixture should find several instances");
    const segments = await segmentJson("instance", g.thresholds.instance, name);
    // gpux lists them best first; transformers in torch's unsorted top-k order
    const expected = [...g.instance_binary].sort((a, b) => b.score! - a.score!);
    assertEquals(segments.map((s) => s.label), expected.map((s) => s.label));
    for (let i = 0; i < segments.length; i++) {
      close(segments[i].score, expected[i].score!, `score ${i}`);
      const mask = await maskOf(segments[i].mask);
      const same = agreement(mask, expected[i].mask);
      assert(same >= 0.999, `instance ${i} (${expected[i].label}): ${(same * 100).toFixed(3)}% of pixels agree`);
      // the pipeline's mask is this instance's, less what instances painted after it covered
      const painted = g.instance.find((p) =>
        p.label === expected[i].label && Math.abs(p.score! - expected[i].score!) < 1e-6
      )!;
      let inside = 0, total = 0;
      painted.mask.forEach((v, k) => {
        if (v) {
          total++;
          if (mask[k]) inside++;
        }
      });
      assert(total === 0 || inside / total >= 0.999, `the pipeline's mask ${i} lies in gpux's`);
    }
    // a stricter threshold keeps fewer
    const strict = await segmentJson("instance", 0.6, name);
    assertEquals(strict.length, expected.filter((s) => s.score! >= 0.6).length);
  });

  Deno.test(`image-segmentation: ${title} panoptic (the default subtask) and semantic equal transformers' pipeline (masks >= 99.9%)`, async () => {
    const g = fx.goldens[name];
    assert(g.panoptic.length >= 2, "the fixture should give several panoptic segments");
    for (
      const [subtask, golden, threshold] of [
        [undefined, g.panoptic, g.thresholds.panoptic],
        ["semantic", g.semantic, null],
      ] as const
    ) {
      const segments = await segmentJson(subtask, threshold, name);
      assertEquals(segments.map((s) => s.label), golden.map((s) => s.label), `${subtask ?? "panoptic"} labels`);
      for (let i = 0; i < segments.length; i++) {
        if (golden[i].score === null) assertEquals(segments[i].score, null);
        else close(segments[i].score, golden[i].score!, `${subtask ?? "panoptic"} score ${i}`);
        const same = agreement(await maskOf(segments[i].mask), golden[i].mask);
        assert(same >= 0.999, `${subtask ?? "panoptic"} segment ${i}: ${(same * 100).toFixed(3)}% of pixels agree`);
      }
    }
    const bad = await runCli(["run", `${fx.dir}/${name}`, "-p", "cpu", "--image", scene, "--subtask", "amodal"]);
    assertEquals(bad.code, 2, bad.stderr);
    assertStringIncludes(bad.stderr, "panoptic, instance, semantic");
  });
}

Deno.test("gpux serve: image-segmentation takes subtask in the body and answers as gpux run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-serve-m2f-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  try {
    const server = running(
      await startServe([`${fx.dir}/mask2former`, "--provider", "cpu", "--port", "0", "--quiet"], { env }),
    );
    try {
      const info = await (await fetch(`${server.url}/info`)).json();
      const bytes = await Deno.readFile(scene);
      const image = btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
      const post = async (body: Json) => {
        const res = await fetch(`${server.url}/models/${info.models[0].name}/predict`, {
          method: "POST",
          body: JSON.stringify({ image, ...body }),
        });
        return { status: res.status, doc: await res.json() };
      };
      const threshold = fx.goldens.mask2former.thresholds.instance;
      const served = await post({ subtask: "instance", threshold });
      assertEquals(served.status, 200, JSON.stringify(served.doc));
      const ran = await segmentJson("instance", threshold);
      assertEquals(
        served.doc.result[0].segments.map((s: Json) => [s.label, s.score, s.mask]),
        ran.map((s) => [s.label, s.score, s.mask]),
      );
      const wrong = await post({ subtask: "amodal" });
      assertEquals(wrong.status, 400, JSON.stringify(wrong.doc));
      assertStringIncludes(JSON.stringify(wrong.doc), "subtask");
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("zero-shot-image-classification towers: gpux's two towers give transformers.js's scores (its merged graph, same files)", async () => {
  const root = await Deno.makeTempDir({ prefix: "gpux-towers-tjs-" });
  try {
    // an image already at CLIP's 32×32: transformers.js resizes with sharp, not Pillow
    await Deno.writeFile(`${root}/photo.png`, await rgbPng(photoLike(32, 32, 7)));
    const labels = fx.goldens.clip.labels;
    const js = await transformersJs(fx.dir, [{
      task: "zero-shot-image-classification",
      model: "clip",
      image: `${root}/photo.png`,
      labels,
      // transformers.js's default template has no full stop (transformers': `This is a photo of {}.`)
      options: { hypothesis_template: "This is a photo of {}." },
    }]);
    if ("skip" in js) throw new Error(`transformers.js cannot run here: ${js.skip}`);
    const doc = await runJson([`${fx.dir}/clip`, "--image", `${root}/photo.png`, "--labels", labels.join(",")]);
    assert(doc.model.path.endsWith("vision_model.onnx"));
    sameScores(doc.result[0].labels, js[0] as Json[], "transformers.js");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("zero-shot-image-classification towers from the Hub: gpux pull (safetensors left out) then gpux run picks the towers, CLIP's scale 100", async () => {
  await withCliHub("gpux-towers-hub-", async (f) => {
    const files: Record<string, Uint8Array> = {};
    const add = async (rel: string, as = rel) => files[as] = await Deno.readFile(`${fx.dir}/clip/${rel}`);
    for (
      const rel of ["config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "README.md"]
    ) {
      await add(rel);
    }
    for (const base of ["model", "text_model", "vision_model"]) {
      await add(`onnx/${base}.onnx`);
      await add(`onnx/${base}.onnx`, `onnx/${base}_quantized.onnx`); // a second variant, as Xenova repositories have
    }
    await add("model.safetensors");
    f.hub.addRepo("acme/clip", { pipelineTag: "zero-shot-image-classification" }).commit(files);
    const pull = await runCli(["pull", "acme/clip", "--json"], { env: f.env });
    assertEquals(pull.code, 0, pull.stderr);
    const pulled = JSON.parse(pull.stdout).files.map((x: Json) => x.path).sort();
    assert(pulled.includes("onnx/text_model.onnx") && pulled.includes("onnx/vision_model.onnx"), pulled.join(", "));
    assert(!pulled.includes("model.safetensors") && !pulled.includes("onnx/vision_model_quantized.onnx"));
    const g = fx.goldens.clip;
    const run = await runCli(
      ["run", "acme/clip", "-p", "cpu", "--json", "--image", scene, "--labels", g.labels.join(",")],
      { env: f.env },
    );
    assertEquals(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert(doc.model.path.endsWith("onnx/vision_model.onnx"), doc.model.path);
    const power = 100 / g.logit_scale;
    const total = g.answer.reduce((sum: number, a: Json) => sum + a.score ** power, 0);
    sameScores(doc.result[0].labels, g.answer.map((a: Json) => ({ ...a, score: a.score ** power / total })), "hub");
  });
});
