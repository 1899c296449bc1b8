/**
 * Pre-processing speed beside the models' own run time, in one process (medians of `--runs` runs,
 * after warm-up):
 * - tokenization (gpux `loadTokenizer`, Qwen3's real tokenizer.json) per short sentence and per batch of
 *   32 × 128 tokens, and Python `tokenizers` on the same texts in the same run (`--python`, default
 *   /tmp/venv/bin/python; skipped with a note when it is missing);
 * - image decode + pre-process (ViT-style: resize to 224², bilinear, normalize) of a 1024×768 JPEG, per
 *   decoder (native sharp, wasm @jsquash), split into decode and pre-process, and Python
 *   (Pillow + transformers' ViTImageProcessor, Pillow backend) on the same file;
 * - audio decode + resample of 10 s of 44.1 kHz stereo 16-bit WAV to 16 kHz mono, gpux's resampler beside
 *   @alexanderolsen/libsamplerate-js (SRC_SINC_FASTEST and SRC_SINC_BEST_QUALITY);
 * - model run times: PaddleOCR's orientation classifier (image, 1×3×48×192) and Silero VAD v5 over the same
 *   10 s (313 windows), both real models from npm.
 *
 * With `--tasks a,b` it measures whole task pipelines instead, gpux against transformers.js on the same files
 * (scripts/bench_tasks_text.ts: fill-mask, question-answering, sentence-similarity, zero-shot-image-classification).
 * With vision tasks in `--tasks` (object-detection, image-segmentation, depth-estimation, zero-shot-object-detection,
 * background-removal, and the variants `zero-shot-object-detection/owlv2`, `zero-shot-image-classification/towers`
 * and `/merged`, `image-segmentation/mask2former` and `/mask2former-panoptic`: see VISION_BENCHES) it measures those
 * pipelines on the tiny models of tests/support/vision_fixtures.ts and vision2_fixtures.ts (and the real ISNet of
 * imgly_isnet.ts) on the 160×120 scene: pre-processing, the model, the whole `Pipeline.run`, and transformers.js on
 * the same files, in the same run; `--rounds R` alternates gpux's whole call and transformers.js's R times (the
 * median of the rounds is reported, each round in the note), so a load change between the two shows up.
 *
 * Usage: deno task bench:processing [--runs N] [--python PATH] [--json] [--tasks a,b,…] [--rounds R]
 *
 * @module
 */
import { cpus, loadavg } from "node:os";
import { decodeImage, type ImageDecoderName } from "../src/processing/image_decode.ts";
import { imageSpecFromProcessorConfig, imagesToTensor, resizeAndCrop } from "../src/processing/image_preprocess.ts";
import { decodeWav, mixToMono } from "../src/processing/audio_wav.ts";
import { resample } from "../src/processing/audio_resample.ts";
import { logMelSpecFromConfig, logMelSpectrogram } from "../src/processing/audio_log_mel.ts";
import { loadTokenizer } from "../src/processing/tokenizer.ts";
import { loadModel } from "../src/runtime/load_model.ts";
import { encodeJpeg, photoLike } from "../tests/support/image_fixtures.ts";
import { encodeWav, sine } from "../tests/support/audio_fixtures.ts";
import { npmModel } from "../tests/support/npm_models.ts";
import { bertTokenizer, qwen3Tokenizer } from "../tests/support/tokenizer_files.ts";
import { classifierRepo, embedderRepo } from "../tests/support/text_models.ts";
import { loadPipeline } from "../src/processing/pipeline.ts";
import type { PipelineRunOptions } from "../src/processing/task_types.ts";
import { benchTextTasks, TEXT_BENCH_TASKS } from "./bench_tasks_text.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}
const RUNS = Number(arg("--runs", "30"));
const PYTHON = arg("--python", "/tmp/venv/bin/python");
const JSON_OUT = Deno.args.includes("--json");
/** With vision `--tasks`: how many times gpux's whole call and transformers.js's alternate (medians of rounds). */
const ROUNDS = Math.max(1, Number(arg("--rounds", "1")));
const TASKS = arg("--tasks", "").split(",").map((t) => t.trim()).filter((t) => t.length > 0);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timeIt(fn: () => unknown, runs = RUNS, warmup = 3): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

interface Row {
  area: string;
  what: string;
  ms: number;
  note?: string;
}
const rows: Row[] = [];
const add = (area: string, what: string, ms: number, note?: string) => rows.push({ area, what, ms, note });
const notes: string[] = [];

/**
 * Text pipelines on the test models (tests/support/text_models.ts, real BERT tokenizer), batch of 8
 * sentences: pre-processing (tokenize + feeds), the model, and the whole `Pipeline.run`.
 */
async function benchTextPipelines(dir: string): Promise<void> {
  const bert = await bertTokenizer();
  if ("skip" in bert) return void notes.push(`text pipelines skipped: ${bert.skip}`);
  const texts = Array.from(
    { length: 8 },
    (_, i) => `this is sentence number ${i} and it is about a movie I liked a lot`,
  );
  for (
    const [name, repo] of [
      ["text-classification", classifierRepo(bert.tokenizer, bert.config)],
      ["feature-extraction (mean pooling + L2)", embedderRepo(bert.tokenizer, bert.config)],
    ] as const
  ) {
    const root = `${dir}/text-${name.split(" ")[0]}`;
    for (const [path, content] of Object.entries(repo)) {
      const file = `${root}/${path}`;
      await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
      if (typeof content === "string") await Deno.writeTextFile(file, content);
      else await Deno.writeFile(file, content);
    }
    const pipeline = await loadPipeline(`${root}/onnx/model.onnx`, { provider: "cpu" });
    const pre = await pipeline.preprocess(texts);
    const model = await timeIt(() => pipeline.session.run(pre.feeds), RUNS * 10);
    const preMs = await timeIt(() => pipeline.preprocess(texts), RUNS * 10);
    const whole = await timeIt(() => pipeline.run(texts), RUNS * 10);
    add("text", `${name}, 8 sentences: pre-process (tokenize + feeds)`, preMs, "test model (4-wide embedding)");
    add("text", `${name}, 8 sentences: model`, model, "inference");
    add(
      "text",
      `${name}, 8 sentences: whole Pipeline.run`,
      whole,
      `post-process ≈ ${(whole - preMs - model).toFixed(3)} ms`,
    );
    await pipeline.dispose();
  }
}

/** One vision benchmark of `--tasks`: which fixture model runs which task, how, and what transformers.js runs. */
interface VisionBench {
  /** The pipeline's task. */
  task: string;
  /** The fixture set: tests/support/vision_fixtures.ts, vision2_fixtures.ts, or the real ISNet of imgly_isnet.ts. */
  set: "vision" | "vision2" | "isnet";
  /** The model folder (or file) under the set's folder, for gpux. */
  model: string;
  /** The folder transformers.js runs (under the set's folder), or why it cannot (no such model class there). */
  js: string | { none: string };
  labels?: string[];
  /** The run's options (gpux `Pipeline.run`; transformers.js gets `threshold` and `subtask`). */
  options?: PipelineRunOptions;
}

const OWL_LABELS = ["red box", "blue disc", "cat"];
const CLIP_LABELS = ["red square", "blue circle", "cat", "dog"];

/**
 * The vision benchmarks by `--tasks` name: the task name for the fixtures of issue 20's first round, `task/variant`
 * for later ones (two-tower CLIP, OWLv2, Mask2Former, the real ISNet).
 */
const VISION_BENCHES: Record<string, VisionBench> = {
  "object-detection": {
    task: "object-detection",
    set: "vision",
    model: "detr",
    js: "detr",
    options: { threshold: 0.3 },
  },
  "image-segmentation": { task: "image-segmentation", set: "vision", model: "segformer", js: "segformer" },
  "depth-estimation": { task: "depth-estimation", set: "vision", model: "dpt", js: "dpt" },
  "zero-shot-object-detection": {
    task: "zero-shot-object-detection",
    set: "vision",
    model: "owlvit",
    js: "owlvit",
    labels: OWL_LABELS,
    options: { threshold: 0.3 },
  },
  "zero-shot-object-detection/owlv2": {
    task: "zero-shot-object-detection",
    set: "vision2",
    model: "owlv2",
    js: "owlv2",
    labels: OWL_LABELS,
    options: { threshold: 0.3 },
  },
  "zero-shot-image-classification/towers": {
    task: "zero-shot-image-classification",
    set: "vision2",
    model: "clip",
    js: "clip",
    labels: CLIP_LABELS,
  },
  "zero-shot-image-classification/merged": {
    task: "zero-shot-image-classification",
    set: "vision2",
    model: "clip/onnx/model.onnx",
    js: "clip",
    labels: CLIP_LABELS,
  },
  "image-segmentation/mask2former": {
    task: "image-segmentation",
    set: "vision2",
    model: "mask2former",
    js: { none: "transformers.js 4.3.2 has no Mask2Former model class" },
    options: { subtask: "instance", threshold: 0.3 },
  },
  "image-segmentation/mask2former-panoptic": {
    task: "image-segmentation",
    set: "vision2",
    model: "mask2former",
    js: { none: "transformers.js 4.3.2 has no Mask2Former model class" },
    options: { threshold: 0.5 },
  },
  "background-removal": { task: "background-removal", set: "isnet", model: "", js: "" },
};

async function fixtureDir(set: VisionBench["set"]): Promise<string> {
  if (set === "vision") return (await (await import("../tests/support/vision_fixtures.ts")).visionFixtures()).dir;
  if (set === "vision2") return (await (await import("../tests/support/vision2_fixtures.ts")).vision2Fixtures()).dir;
  const isnet = await (await import("../tests/support/imgly_isnet.ts")).imglyIsnet();
  if ("skip" in isnet) throw new Error(`the ISNet model cannot be had: ${isnet.skip}`);
  return isnet.dir;
}

/**
 * The vision pipelines (`--tasks`): pre-processing, model and whole run on the fixture models and the 160×120
 * scene, and transformers.js's pipeline on the same files and image, in the same run.
 */
async function benchVisionTasks(names: string[]): Promise<void> {
  const { transformersJs } = await import("../tests/support/transformersjs_vision.ts");
  for (const name of names) {
    const bench = VISION_BENCHES[name];
    const dir = await fixtureDir(bench.set);
    // the ISNet folder is the model; its scene is the vision fixtures'
    const root = bench.set === "isnet" ? dir.slice(0, dir.lastIndexOf("/")) : dir;
    const sceneDir = bench.set === "isnet" ? await fixtureDir("vision2") : dir;
    const scenePath = `${sceneDir}/scene.png`;
    const scene = { name: "scene.png", bytes: await Deno.readFile(scenePath) };
    const input = {
      kind: "image" as const,
      images: [scene],
      ...(bench.labels ? { candidateLabels: bench.labels } : {}),
    };
    const modelPath = bench.set === "isnet" ? dir : `${dir}/${bench.model}`;
    const pipeline = await loadPipeline(modelPath, { provider: "cpu", task: bench.task });
    const options = bench.options ?? {};
    const pre = await pipeline.preprocess(input, options);
    const preMs = await timeIt(() => pipeline.preprocess(input, options));
    const modelMs = await timeIt(() => pipeline.session.run(pre.feeds));
    const what = `${name} (${bench.set === "isnet" ? "ISNet 1024²" : bench.model})`;
    add("vision", `${what}, 160×120 PNG: pre-process`, preMs);
    add("vision", `${what}: model`, modelMs, "inference");
    // gpux's whole call and transformers.js's alternate, `--rounds` times, so a change in the machine's load
    // between the two sides shows as rounds that disagree instead of as a ratio
    const wholes: number[] = [], jsRuns: number[] = [];
    const jsModel = bench.set === "isnet" ? dir.slice(dir.lastIndexOf("/") + 1) : bench.js;
    for (let round = 0; round < ROUNDS; round++) {
      wholes.push(await timeIt(() => pipeline.run(input, options), RUNS, round === 0 ? 3 : 1));
      if (typeof jsModel !== "string") continue;
      const js = await transformersJs(root, [{
        task: bench.task,
        model: jsModel,
        image: scenePath,
        ...(bench.labels ? { labels: bench.labels } : {}),
        ...(bench.options?.threshold !== undefined ? { options: { threshold: bench.options.threshold } } : {}),
      }], RUNS);
      if ("skip" in js) {
        notes.push(`${name}: transformers.js skipped: ${js.skip}`);
        break;
      }
      jsRuns.push((js[0] as { medianMs: number }).medianMs);
    }
    await pipeline.dispose();
    const whole = median(wholes);
    add("vision", `${what}: whole Pipeline.run`, whole, `post-process ≈ ${(whole - preMs - modelMs).toFixed(3)} ms`);
    if (typeof bench.js !== "string") {
      notes.push(`${name}: no transformers.js figure (${bench.js.none})`);
      continue;
    }
    if (jsRuns.length === 0) continue;
    const jsMs = median(jsRuns);
    const perRound = ROUNDS > 1
      ? ` (rounds: ${wholes.map((w, i) => `${w.toFixed(2)}/${jsRuns[i]?.toFixed(2)}`).join(", ")})`
      : "";
    add(
      "vision",
      `${what}: transformers.js pipeline, same file`,
      jsMs,
      `gpux/tjs ${(whole / jsMs).toFixed(2)}×${perRound}`,
    );
  }
}

// ---- --tasks: whole task pipelines against transformers.js on the same files (instead of the sections below) ----
const VISION_BENCH_TASKS = Object.keys(VISION_BENCHES);
if (TASKS.length) {
  const unknown = TASKS.filter((t) =>
    !(TEXT_BENCH_TASKS as readonly string[]).includes(t) && !VISION_BENCH_TASKS.includes(t)
  );
  if (unknown.length) {
    console.error(
      `--tasks: no benchmark for ${unknown.join(", ")}; have ${
        [...TEXT_BENCH_TASKS, ...VISION_BENCH_TASKS].join(", ")
      }`,
    );
    Deno.exit(2);
  }
  const textTasks = TASKS.filter((t) => (TEXT_BENCH_TASKS as readonly string[]).includes(t));
  const visionTasks = TASKS.filter((t) => VISION_BENCH_TASKS.includes(t));
  if (visionTasks.length) {
    await benchVisionTasks(visionTasks);
    report();
  }
  const taskRows = textTasks.length ? await benchTextTasks(textTasks, RUNS) : [];
  if (JSON_OUT) console.log(JSON.stringify({ runs: RUNS, tasks: taskRows }, null, 2));
  else if (taskRows.length) {
    console.log(
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load ${
        loadavg().map((l) => l.toFixed(2)).join(" ")
      }; medians of ${RUNS} calls, ms`,
    );
    const w = Math.max(...taskRows.map((r) => r.what.length));
    console.log(
      `${"task, input".padEnd(w)}  ${"gpux".padStart(8)} ${"pre".padStart(7)} ${"model".padStart(7)} ${
        "post".padStart(7)
      } ${"tjs".padStart(8)}  gpux/tjs`,
    );
    for (const r of taskRows) {
      const post = r.gpuxMs - r.preMs - r.modelMs;
      console.log(
        `${r.what.padEnd(w)}  ${r.gpuxMs.toFixed(2).padStart(8)} ${r.preMs.toFixed(2).padStart(7)} ${
          r.modelMs.toFixed(2).padStart(7)
        } ${post.toFixed(2).padStart(7)} ${r.transformersJsMs.toFixed(2).padStart(8)}  ${
          (r.gpuxMs / r.transformersJsMs).toFixed(2)
        }×`,
      );
    }
  }
  Deno.exit(0);
}

const tmp = await Deno.makeTempDir({ prefix: "gpux-bench-processing-" });
try {
  // ---- tokenization -----------------------------------------------------------------------------
  const qwen = await qwen3Tokenizer();
  const sentence = "The quick brown fox jumps over the lazy dog.";
  const long = Array.from({ length: 32 }, (_, i) =>
    `Document ${i}: ` +
    "Pre-processing should cost less than the model itself, and a tokenizer in TypeScript can be as fast as one in Rust when it avoids needless copies. "
      .repeat(8));
  if ("skip" in qwen) notes.push(`tokenization skipped: ${qwen.skip}`);
  else {
    await Deno.mkdir(`${tmp}/qwen3`);
    await Deno.writeTextFile(`${tmp}/qwen3/tokenizer.json`, JSON.stringify(qwen.tokenizer));
    await Deno.writeTextFile(`${tmp}/qwen3/tokenizer_config.json`, JSON.stringify(qwen.config));
    const tokenizer = await loadTokenizer(`${tmp}/qwen3`);
    const perSentence = await timeIt(() => {
      for (let i = 0; i < 100; i++) tokenizer.encode(sentence);
    }) / 100;
    add("text", "tokenize 1 short sentence (Qwen3 BPE)", perSentence, "gpux loadTokenizer");
    const batch = await timeIt(() => tokenizer.encodeBatch(long, { maxLength: 128, truncation: true, padding: true }));
    const lengths = tokenizer.encodeBatch(long, { maxLength: 128, truncation: true, padding: true }).inputIds.map((r) =>
      r.length
    );
    add("text", `tokenize batch 32 × ${lengths[0]} tokens (truncated, padded)`, batch, "gpux loadTokenizer");
    await Deno.writeTextFile(`${tmp}/texts.json`, JSON.stringify({ sentence, long, runs: RUNS }));
  }
  await benchTextPipelines(tmp);

  // ---- images -----------------------------------------------------------------------------------
  const jpeg = await encodeJpeg(photoLike(1024, 768, 11), 90);
  await Deno.writeFile(`${tmp}/photo.jpg`, jpeg);
  const vit = {
    do_resize: true,
    size: { height: 224, width: 224 },
    resample: 2,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
  };
  const spec = imageSpecFromProcessorConfig(vit);
  for (const decoder of ["native", "wasm"] as ImageDecoderName[]) {
    const decodeMs = await timeIt(() => decodeImage(jpeg, "photo.jpg", { decoder }));
    const decoded = await decodeImage(jpeg, "photo.jpg", { decoder });
    const preMs = await timeIt(() => imagesToTensor([resizeAndCrop(decoded, spec)], spec, "nchw"));
    const totalMs = await timeIt(async () => {
      const image = await decodeImage(jpeg, "photo.jpg", { decoder });
      imagesToTensor([resizeAndCrop(image, spec)], spec, "nchw");
    });
    add(
      "image",
      `1024×768 JPEG → 1×3×224×224, ${decoder} decoder: total`,
      totalMs,
      `decode ${decodeMs.toFixed(1)} + pre-process ${preMs.toFixed(1)}`,
    );
  }

  // ---- audio ------------------------------------------------------------------------------------
  const tenSeconds = sine(440, 44100, 10, 0.3);
  const wav = encodeWav([tenSeconds, tenSeconds], 44100);
  const decodeWavMs = await timeIt(() => mixToMono(decodeWav(wav, "clip.wav")));
  const mono = mixToMono(decodeWav(wav, "clip.wav"));
  const resampleMs = await timeIt(() => resample(mono, 44100, 16000));
  /** Signal-to-noise ratio (dB) of a resampled 440 Hz sine against the exact sine at 16 kHz, edges excluded. */
  const snr = (y: Float32Array) => {
    let signal = 0, noise = 0;
    for (let n = 1600; n < Math.min(y.length, 160000) - 1600; n++) {
      const exact = 0.3 * Math.sin(2 * Math.PI * 440 * n / 16000);
      signal += exact * exact;
      noise += (y[n] - exact) ** 2;
    }
    return 10 * Math.log10(signal / noise);
  };
  notes.push(
    `resampled 440 Hz sine, SNR against the exact sine: gpux ${snr(resample(mono, 44100, 16000)).toFixed(1)} dB`,
  );
  add(
    "audio",
    "10 s 44.1 kHz stereo WAV → 16 kHz mono: total",
    decodeWavMs + resampleMs,
    `decode+mix ${decodeWavMs.toFixed(1)} + resample ${resampleMs.toFixed(1)} (gpux, torchaudio's Hann sinc)`,
  );
  try {
    const { create, ConverterType } = (await import("@alexanderolsen/libsamplerate-js")).default;
    for (
      const [name, type] of [["SINC_FASTEST", ConverterType.SRC_SINC_FASTEST], [
        "SINC_BEST_QUALITY",
        ConverterType.SRC_SINC_BEST_QUALITY,
      ]] as const
    ) {
      const src = await create(1, 44100, 16000, { converterType: type });
      const ms = await timeIt(() => src.simple(mono), Math.min(RUNS, 10), 1);
      notes.push(
        `resampled 440 Hz sine, SNR against the exact sine: libsamplerate-js ${name} ${
          snr(src.simple(mono)).toFixed(1)
        } dB`,
      );
      src.destroy();
      add("audio", `  resample only, libsamplerate-js ${name}`, ms, "baseline");
    }
  } catch (error) {
    notes.push(`libsamplerate-js baseline skipped: ${(error as Error).message}`);
  }

  const at16k = resample(mono, 44100, 16000);
  await Deno.writeFile(`${tmp}/clip16k.f32`, new Uint8Array(at16k.buffer, at16k.byteOffset, at16k.byteLength));
  const whisper = logMelSpecFromConfig({});
  add(
    "audio",
    "Whisper log-mel 80×3000 of the 10 s (padded to 30 s)",
    await timeIt(() => logMelSpectrogram(at16k, whisper), Math.min(RUNS, 10), 1),
    "gpux (padding frames skip the FFT)",
  );

  // ---- models -----------------------------------------------------------------------------------
  const cls = await npmModel("ocrClassifier");
  if ("skip" in cls) notes.push(`image model skipped: ${cls.skip}`);
  else {
    const session = await loadModel(cls.path, { provider: "cpu" });
    const x = { dtype: "float32" as const, shape: [1, 3, 48, 192], data: new Float32Array(3 * 48 * 192).fill(0.1) };
    add(
      "image",
      "model: PP-OCR orientation classifier, 1×3×48×192",
      await timeIt(() => session.run({ x })),
      "inference",
    );
    await session.dispose();
  }
  const vad = await npmModel("sileroVadV5");
  if ("skip" in vad) notes.push(`audio model skipped: ${vad.skip}`);
  else {
    const session = await loadModel(vad.path, { provider: "cpu" });
    const clip = resample(mono, 44100, 16000);
    const run10s = async () => {
      let state: Float32Array = new Float32Array(256);
      for (let start = 0; start + 512 <= clip.length; start += 512) {
        const input = new Float32Array(576);
        input.set(clip.subarray(Math.max(0, start - 64), start + 512), start >= 64 ? 0 : 64 - start);
        const out = await session.run({
          input: { dtype: "float32", shape: [1, 576], data: input },
          state: { dtype: "float32", shape: [2, 1, 128], data: state },
          sr: { dtype: "int64", shape: [], data: BigInt64Array.of(16000n) },
        });
        state = out.stateN.data as Float32Array;
      }
    };
    add(
      "audio",
      "model: Silero VAD v5 over the same 10 s (312 windows)",
      await timeIt(run10s, Math.min(RUNS, 10), 1),
      "inference",
    );
    await session.dispose();
  }

  // ---- Python, same run ------------------------------------------------------------------------
  const script = new URL("./bench_processing.py", import.meta.url).pathname;
  try {
    const py = await new Deno.Command(PYTHON, {
      args: [script, tmp, String(RUNS)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!py.success) throw new Error(new TextDecoder().decode(py.stderr).trim().split("\n").pop());
    const result = JSON.parse(new TextDecoder().decode(py.stdout)) as Record<string, number> & { image_error?: string };
    if (result.tokenize_sentence_ms !== undefined) {
      add("text", "tokenize 1 short sentence (Qwen3 BPE)", result.tokenize_sentence_ms, "Python tokenizers");
      add(
        "text",
        "tokenize batch 32 × 128 tokens (truncated, padded)",
        result.tokenize_batch_ms,
        "Python tokenizers encode_batch",
      );
    }
    if (result.image_ms !== undefined) {
      add(
        "image",
        "1024×768 JPEG → 1×3×224×224: total",
        result.image_ms,
        "Python Pillow + ViTImageProcessor (Pillow backend)",
      );
    } else notes.push(`Python image baseline skipped (${PYTHON}): ${result.image_error}`);
    if (result.log_mel_ms !== undefined) {
      add(
        "audio",
        "Whisper log-mel 80×3000 of the 10 s (padded to 30 s)",
        result.log_mel_ms,
        "Python WhisperFeatureExtractor",
      );
    }
  } catch (error) {
    notes.push(`Python baselines skipped (${PYTHON}): ${(error as Error).message}`);
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}

report();

function report(): void {
  if (JSON_OUT) {
    console.log(JSON.stringify({ runs: RUNS, rows, notes }, null, 2));
  } else {
    const order = ["text", "image", "audio", "vision"];
    rows.sort((a, b) => order.indexOf(a.area) - order.indexOf(b.area));
    const w = Math.max(...rows.map((r) => r.what.length));
    console.log(
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load ${
        loadavg().map((l) => l.toFixed(2)).join(" ")
      }; medians of ${RUNS} runs`,
    );
    console.log(`${"area".padEnd(6)} ${"what".padEnd(w)} ${"ms".padStart(9)}  note`);
    for (const r of rows) {
      const ms = r.ms < 0.1 ? r.ms.toFixed(4) : r.ms.toFixed(2);
      console.log(`${r.area.padEnd(6)} ${r.what.padEnd(w)} ${ms.padStart(9)}  ${r.note ?? ""}`);
    }
    for (const n of notes) console.log(`note: ${n}`);
  }
}
