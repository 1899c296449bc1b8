/**
 * transformers.js (`@huggingface/transformers` 4.3.2, installed with npm under
 * `tests/.fixtures/transformersjs-vision`, its CUDA download skipped) as a second oracle for the vision tasks: its
 * own `pipeline()` run on the same ONNX files in a separate `node` process (its onnxruntime-node 1.30 cannot share
 * a process with gpux's 1.29). The fixture folders are staged as transformers.js reads a local model
 * (`onnx/model.onnx` beside the configs; the processor type without Python's `Pil` suffix).
 *
 * @module
 */
const FIXTURES = new URL("../.fixtures/", import.meta.url).pathname;
const PREFIX = `${FIXTURES}transformersjs-vision`;
const VERSION = "4.3.2";

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

async function installed(): Promise<string | undefined> {
  const pkg = `${PREFIX}/node_modules/@huggingface/transformers/package.json`;
  try {
    if (JSON.parse(await Deno.readTextFile(pkg)).version === VERSION) return undefined;
  } catch {
    // install below
  }
  const npm = await new Deno.Command("npm", {
    args: ["install", "--prefix", PREFIX, `@huggingface/transformers@${VERSION}`, "--no-audit", "--no-fund"],
    env: { ONNXRUNTIME_NODE_INSTALL_CUDA: "skip" },
    stdout: "piped",
    stderr: "piped",
  }).output().catch((e) => e as Error);
  if (npm instanceof Error || !npm.success) {
    const why = npm instanceof Error ? npm.message : new TextDecoder().decode(npm.stderr).trim().split("\n").pop();
    return `npm could not install @huggingface/transformers@${VERSION}: ${why}`;
  }
  return undefined;
}

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
  const problem = await installed();
  if (problem) return { skip: problem };
  const stage = await Deno.makeTempDir({ prefix: "gpux-tjs-stage-" });
  try {
    for (const model of new Set(calls.map((c) => c.model))) {
      await Deno.mkdir(`${stage}/${model}/onnx`, { recursive: true });
      for (const entry of Deno.readDirSync(`${fixtureDir}/${model}`)) {
        const from = `${fixtureDir}/${model}/${entry.name}`;
        if (entry.name === "model.onnx") await Deno.symlink(from, `${stage}/${model}/onnx/model.onnx`);
        else if (entry.name === "preprocessor_config.json") {
          const text = await Deno.readTextFile(from);
          await Deno.writeTextFile(
            `${stage}/${model}/${entry.name}`,
            text.replace(/ImageProcessorPil"/g, 'ImageProcessor"'),
          );
        } else await Deno.symlink(from, `${stage}/${model}/${entry.name}`);
      }
    }
    await Deno.writeTextFile(`${PREFIX}/run_vision.mjs`, SCRIPT);
    const node = await new Deno.Command("node", {
      args: [`${PREFIX}/run_vision.mjs`, stage, JSON.stringify(calls), String(runs)],
      cwd: PREFIX,
      stdout: "piped",
      stderr: "piped",
    }).output().catch((e) => e as Error);
    if (node instanceof Error) return { skip: `node is not available: ${node.message}` };
    if (!node.success) {
      throw new Error(`transformers.js failed:\n${new TextDecoder().decode(node.stderr).slice(-2000)}`);
    }
    return JSON.parse(new TextDecoder().decode(node.stdout).trim().split("\n").pop()!);
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}
