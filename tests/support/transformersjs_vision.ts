/**
 * transformers.js (`@huggingface/transformers` 4.3.2, installed and run in a separate `node` process by
 * transformers_js_node.ts) as a second oracle for the vision tasks: its own `pipeline()` run on the same ONNX
 * files. The fixture folders are staged as transformers.js reads a local model
 * (`onnx/model.onnx` beside the configs; the processor type without Python's `Pil` suffix).
 *
 * @module
 */
import { runTransformersJsScript, transformersJsHome } from "./transformers_js_node.ts";

/** One call of a transformers.js pipeline: the task, the staged model, the image and the call's options. */
export interface JsCall {
  task: string;
  model: string;
  image: string;
  labels?: string[];
  options?: Record<string, unknown>;
}

const SCRIPT = `
import { pipeline, env, RawImage } from "@huggingface/transformers";
import { readFileSync } from "node:fs";
const [stage, callsJson, runsText] = process.argv.slice(2);
env.localModelPath = stage;
env.allowRemoteModels = false;
const runs = Number(runsText ?? 0);
const answers = [];
for (const call of JSON.parse(callsJson)) {
  const run = await pipeline(call.task, call.model, { dtype: "fp32" });
  const once = async () => {
    // from the file's bytes, as gpux's per-call figure starts from them
    const image = await RawImage.fromBlob(new Blob([readFileSync(call.image)]));
    return call.labels ? await run(image, call.labels, call.options) : await run(image, call.options);
  };
  if (runs > 0) {
    for (let i = 0; i < 3; i++) await once();
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await once();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    answers.push({ medianMs: times[times.length >> 1] });
    continue;
  }
  const out = await once();
  const plain = (v) => v && v.data && (v.dims || v.width)
    ? { dims: v.dims, width: v.width, height: v.height, channels: v.channels, data: Array.from(v.data) }
    : v;
  if (out && out.channels) {
    answers.push(plain(out));
    continue;
  }
  answers.push(Array.isArray(out) ? out.map((o) => ({ ...o, mask: plain(o.mask) })) : Object.fromEntries(
    Object.entries(out).map(([k, v]) => [k, plain(v)]),
  ));
}
console.log(JSON.stringify(answers));
`;

/**
 * Runs `calls` with transformers.js on the models of `fixtureDir` (folder names as model names); returns each
 * call's answer (with `runs` > 0: `{medianMs}`, the median per-call latency after 3 warm-up calls, the image
 * decoded from its file each call), or `{ skip }` when npm or node cannot be had.
 */
export async function transformersJs(
  fixtureDir: string,
  calls: JsCall[],
  runs = 0,
): Promise<unknown[] | { skip: string }> {
  try {
    await transformersJsHome();
  } catch (e) {
    return { skip: (e as Error).message };
  }
  const stage = await Deno.makeTempDir({ prefix: "gpux-tjs-stage-" });
  try {
    for (const model of new Set(calls.map((c) => c.model))) {
      await Deno.mkdir(`${stage}/${model}/onnx`, { recursive: true });
      for (const entry of Deno.readDirSync(`${fixtureDir}/${model}`)) {
        const from = `${fixtureDir}/${model}/${entry.name}`;
        if (entry.name === "model.onnx") await Deno.symlink(from, `${stage}/${model}/onnx/model.onnx`);
        else if (entry.name === "onnx" && entry.isDirectory) {
          // already laid out as transformers.js reads it (onnx/model.onnx, text_model.onnx, …)
          for (const file of Deno.readDirSync(from)) {
            await Deno.symlink(`${from}/${file.name}`, `${stage}/${model}/onnx/${file.name}`);
          }
        } else if (entry.name === "preprocessor_config.json") {
          const text = await Deno.readTextFile(from);
          await Deno.writeTextFile(
            `${stage}/${model}/${entry.name}`,
            text.replace(/ImageProcessorPil"/g, 'ImageProcessor"'),
          );
        } else await Deno.symlink(from, `${stage}/${model}/${entry.name}`);
      }
    }
    const node = await runTransformersJsScript("run_vision", SCRIPT, [stage, JSON.stringify(calls), String(runs)]);
    if (node.code === -1) return { skip: `node is not available: ${node.err}` };
    if (!node.ok) throw new Error(`transformers.js failed:\n${node.err.slice(-2000)}`);
    return JSON.parse(node.out.trim().split("\n").pop()!);
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}
