/**
 * transformers.js (`@huggingface/transformers` 4.3) as a second oracle for the text-task pipelines, run by
 * transformers_js_node.ts in its own `node` process on the same model files, laid out as transformers.js reads them
 * (`<name>/onnx/model.onnx` beside the configs).
 *
 * @module
 */
import { runTransformersJsScript } from "./transformers_js_node.ts";

/** The Node.js side. */
const RUNNER =
  `// transformers.js (@huggingface/transformers 4.3, with its own onnxruntime-node 1.30) in a Node.js process of its
// own: reads a JSON request (argv[2]), runs its pipelines on the same files gpux runs, prints one JSON answer.
import { readFileSync } from "node:fs";
import { env, pipeline, RawImage } from "@huggingface/transformers";

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
env.allowRemoteModels = false;
env.localModelPath = request.root;
const out = {};
for (const job of request.jobs) {
  const pipe = await pipeline(job.task, job.model, { dtype: "fp32", device: "cpu" });
  const timings = [];
  let answer;
  for (let i = 0; i < (job.runs ?? 1); i++) {
    const t = performance.now();
    if (job.task === "fill-mask") answer = await pipe(job.text, { top_k: job.topK ?? 5 });
    else if (job.task === "question-answering") answer = await pipe(job.question, job.context, { top_k: job.topK ?? 1 });
    else if (job.task === "feature-extraction") {
      answer = (await pipe(job.texts, { pooling: "mean", normalize: true })).tolist();
    } else if (job.task === "zero-shot-image-classification") {
      const image = await RawImage.read(job.image);
      answer = await pipe(image, job.labels, job.hypothesisTemplate ? { hypothesis_template: job.hypothesisTemplate } : {});
    } else throw new Error("unknown task " + job.task);
    timings.push(performance.now() - t);
  }
  await pipe.dispose();
  out[job.id] = { answer, timings };
}
process.stdout.write(JSON.stringify(out));
`;

/** One pipeline call (or `runs` timed calls) for the runner. */
export interface TransformersJsJob {
  /** Key of its answer. */
  id: string;
  /** transformers.js task name. */
  task: "fill-mask" | "question-answering" | "feature-extraction" | "zero-shot-image-classification";
  /** Model folder name under the layout root. */
  model: string;
  // deno-lint-ignore no-explicit-any
  [option: string]: any;
}

/**
 * A transformers.js layout of gpux fixture folders (`models`: name → folder with model.onnx and its configs), in a
 * new temporary folder (links, not copies). Remove it when done.
 */
export async function transformersJsLayout(models: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "gpux-tjs-" });
  for (const [name, dir] of Object.entries(models)) {
    await Deno.mkdir(`${root}/${name}/onnx`, { recursive: true });
    for await (const entry of Deno.readDir(dir)) {
      const target = entry.name === "model.onnx" ? `${root}/${name}/onnx/model.onnx` : `${root}/${name}/${entry.name}`;
      await Deno.symlink(`${dir}/${entry.name}`, target);
    }
  }
  return root;
}

/** Runs the jobs in transformers.js; answers (and per-call milliseconds) by job id. */
export async function runTransformersJs(
  root: string,
  jobs: TransformersJsJob[],
  // deno-lint-ignore no-explicit-any
): Promise<Record<string, { answer: any; timings: number[] }>> {
  const request = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(request, JSON.stringify({ root, jobs }));
    const node = await runTransformersJsScript("runner_tasks", RUNNER, [request]);
    if (!node.ok) throw new Error(`transformers.js failed: ${node.err.trim()}`);
    return JSON.parse(node.out);
  } finally {
    await Deno.remove(request);
  }
}
