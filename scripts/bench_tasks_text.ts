/**
 * Per-call latency of the text-task pipelines of issue 20 — fill-mask, question-answering (a short and a long
 * context), sentence-similarity and zero-shot-image-classification (CLIP) — gpux beside transformers.js 4.3 on the
 * same files and inputs in the same run (transformers.js in its own Node.js process, one after the other, never
 * at once). Models: the tiny random ones of scripts/build_task_fixtures_text.py (built on first use). For gpux the
 * call splits into pre-processing, the model and the rest (post-processing).
 *
 * Called by scripts/bench_processing.ts with `--tasks fill-mask,question-answering,…`.
 *
 * @module
 */
import { loadPipeline, type PipelineInput, type PipelineRunOptions } from "../src/processing/pipeline.ts";
import { textTaskFixtures } from "../tests/support/task_fixtures_text.ts";
import {
  runTransformersJs,
  type TransformersJsJob,
  transformersJsLayout,
} from "../tests/support/transformers_js_tasks.ts";

/** The tasks this bench covers. */
export const TEXT_BENCH_TASKS = [
  "fill-mask",
  "question-answering",
  "sentence-similarity",
  "zero-shot-image-classification",
] as const;

/** One measured case: gpux's split and transformers.js' whole call, in ms (medians). */
export interface TaskBenchRow {
  /** Task and input. */
  what: string;
  /** gpux pre-processing. */
  preMs: number;
  /** gpux model run. */
  modelMs: number;
  /** gpux whole `Pipeline.run`. */
  gpuxMs: number;
  /** transformers.js whole pipeline call. */
  transformersJsMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timeInterleaved(fns: (() => unknown)[], runs: number, warmup = 3): Promise<number[]> {
  for (let i = 0; i < warmup; i++) for (const fn of fns) await fn();
  const times: number[][] = fns.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (let f = 0; f < fns.length; f++) {
      const t = performance.now();
      await fns[f]();
      times[f].push(performance.now() - t);
    }
  }
  return times.map(median);
}

interface Case {
  what: string;
  task: (typeof TEXT_BENCH_TASKS)[number];
  folder: string;
  input: PipelineInput;
  options?: PipelineRunOptions;
  job: { task: TransformersJsJob["task"]; [option: string]: unknown };
}

/** Measures the `tasks` asked for (a subset of {@linkcode TEXT_BENCH_TASKS}), `runs` calls each. */
export async function benchTextTasks(tasks: readonly string[], runs: number): Promise<TaskBenchRow[]> {
  const { dir, goldens: G } = await textTaskFixtures();
  const fg = G["fill-mask"], qg = G["question-answering"], sg = G["sentence-similarity"];
  const zg = G["zero-shot-image-classification"];
  const scene = { name: "scene.png", bytes: await Deno.readFile(`${dir}/scene.png`) };
  const template = "This is a photo of {}.";
  const cases: Case[] = [
    {
      what: "fill-mask, 1 text, top 5 of 30,522 tokens",
      task: "fill-mask",
      folder: "bert-fill-mask",
      input: fg.texts[0],
      job: { task: "fill-mask", text: fg.texts[0] },
    },
    {
      what: `question-answering, ${qg.context.length}-character context`,
      task: "question-answering",
      folder: "bert-qa",
      input: { kind: "text", texts: [qg.question], pairs: [qg.context] },
      job: { task: "question-answering", question: qg.question, context: qg.context },
    },
    {
      what: `question-answering, ${qg.long.context.length}-character context (windows of 128 tokens)`,
      task: "question-answering",
      folder: "bert-qa",
      input: { kind: "text", texts: [qg.question], pairs: [qg.long.context] },
      job: { task: "question-answering", question: qg.question, context: qg.long.context },
    },
    {
      what: `sentence-similarity, 1 source + ${sg.candidates.length} candidates`,
      task: "sentence-similarity",
      folder: "bert-sentence",
      input: [sg.source, ...sg.candidates],
      job: { task: "feature-extraction", texts: [sg.source, ...sg.candidates] },
    },
    {
      what: `zero-shot-image-classification (CLIP), 96×64 PNG, ${zg.labels.length} labels`,
      task: "zero-shot-image-classification",
      folder: "clip",
      input: { kind: "image", images: [scene], candidateLabels: zg.labels, hypothesisTemplate: template },
      job: {
        task: "zero-shot-image-classification",
        image: `${dir}/scene.png`,
        labels: zg.labels,
        hypothesisTemplate: template,
      },
    },
  ].filter((c) => tasks.includes(c.task)) as Case[];
  const rows: TaskBenchRow[] = [];
  for (const c of cases) {
    const pipeline = await loadPipeline(`${dir}/${c.folder}`, { provider: "cpu" });
    try {
      const pre = await pipeline.preprocess(c.input, c.options);
      // interleaved, call by call, so that a busy machine's swings hit the three alike
      const [preMs, modelMs, gpuxMs] = await timeInterleaved([
        () => pipeline.preprocess(c.input, c.options),
        () => pipeline.session.run(pre.feeds),
        () => pipeline.run(c.input, c.options),
      ], runs);
      const windows = c.task === "question-answering" ? pre.feeds.input_ids.shape[0] : 0;
      const what = windows > 1 ? c.what.replace("windows", `${windows} windows`) : c.what;
      rows.push({ what, preMs, modelMs, gpuxMs, transformersJsMs: NaN });
    } finally {
      await pipeline.dispose();
    }
  }
  const folders = Object.fromEntries(cases.map((c) => [c.folder, `${dir}/${c.folder}`]));
  const root = await transformersJsLayout(folders);
  try {
    const jobs: TransformersJsJob[] = cases.map((c, i) => ({
      ...c.job,
      task: c.job.task,
      id: String(i),
      model: c.folder,
      runs: runs + 3,
    }));
    const answers = await runTransformersJs(root, jobs);
    cases.forEach((_, i) => rows[i].transformersJsMs = median(answers[String(i)].timings.slice(3)));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  return rows;
}
