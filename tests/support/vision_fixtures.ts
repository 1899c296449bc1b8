/**
 * Tiny random vision models (DETR (detection and panoptic), YOLOS, RT-DETR, SegFormer, DPT, Depth Anything, OWL-ViT) exported to ONNX by Python transformers, with their real
 * preprocessor configs, a rendered scene and the goldens of transformers' own `pipeline()` on the same weights:
 * scripts/build_task_fixtures_vision.py run once in a venv under `tests/.fixtures/venv-vision` (torch CPU,
 * transformers, onnx; installed by pip from the configured index on first use) and cached under
 * `tests/.fixtures/vision-<hash of the script>/`.
 *
 * When pip or the export fails, {@linkcode visionFixtures} throws one clear line: the tests fail, never skip.
 *
 * @module
 */

const FIXTURES = new URL("../.fixtures/", import.meta.url).pathname;
const VENV = `${FIXTURES}venv-vision`;
const PYTHON = `${VENV}/bin/python`;
const SCRIPT = new URL("../../scripts/build_task_fixtures_vision.py", import.meta.url).pathname;
const PACKAGES = ["torch==2.13.0+cpu", "transformers==5.18.0", "onnx", "onnxruntime", "onnxscript", "pillow"];

/** Where the fixtures are, and the goldens Python wrote. */
export interface VisionFixtures {
  /** The folder holding `scene.png`, `detr/`, `yolos/`, `rtdetr/`, `detr-panoptic/`, `segformer/`, `dpt/`, `depth-anything/`, `owlvit/` and `goldens.json`. */
  dir: string;
  /** goldens.json, parsed. */
  goldens: VisionGoldens;
}

/** What transformers' pipelines answered (see the script). */
export interface VisionGoldens {
  image: [number, number];
  detr: {
    threshold: number;
    pipeline: { score: number; label: string; box: { xmin: number; ymin: number; xmax: number; ymax: number } }[];
    boxes: number[][];
    scores: number[];
    labels: string[];
  };
  segformer: { label: string; score: null; mask: number[] }[];
  yolos: {
    pixel_values_shape: number[];
    pipeline: { score: number; label: string; box: { xmin: number; ymin: number; xmax: number; ymax: number } }[];
    boxes: number[][];
  };
  rtdetr: {
    threshold: number;
    scores: number[];
    labels: string[];
    boxes: number[][];
    pipeline: { score: number; label: string; box: { xmin: number; ymin: number; xmax: number; ymax: number } }[];
  };
  detr_panoptic: { label: string; score: number; mask: number[] }[];
  dpt: { predicted_depth_shape: number[]; predicted_depth: number[]; depth: number[] };
  owlvit: {
    labels: string[];
    threshold: number;
    pipeline: { score: number; label: string; box: { xmin: number; ymin: number; xmax: number; ymax: number } }[];
    boxes: number[][];
    scores: number[];
    ids: number[][];
  };
  depth_anything: {
    pixel_values_shape: number[];
    predicted_depth_shape: number[];
    predicted_depth: number[];
    depth: number[];
  };
}

async function run(program: string, args: string[], env: Record<string, string> = {}) {
  try {
    const output = await new Deno.Command(program, { args, env, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder();
    return { ok: output.success, out: text.decode(output.stdout), err: text.decode(output.stderr) };
  } catch (e) {
    return { ok: false, out: "", err: (e as Error).message };
  }
}

async function installVenv(): Promise<void> {
  const check = ["-c", "import torch, transformers, onnx, PIL"];
  if ((await run(PYTHON, check)).ok) return;
  const venv = await run("python3", ["-m", "venv", VENV]);
  if (!venv.ok) throw new Error(`vision fixtures: cannot create ${VENV}: ${venv.err.trim().split("\n").pop()}`);
  // a local index configured as extra-index-url answers at once; the default one is unreachable offline
  const extra = (await run("pip", ["config", "get", "global.extra-index-url"])).out.trim().split(/\s+/)[0];
  const env: Record<string, string> = extra ? { PIP_INDEX_URL: extra } : {};
  const pip = await run(`${VENV}/bin/pip`, ["install", "--quiet", "--retries", "0", ...PACKAGES], env);
  if (!(await run(PYTHON, check)).ok) {
    const why = pip.err.trim().split("\n").filter((l) => !l.includes("is ignored")).pop() ?? "no output";
    throw new Error(`vision fixtures: pip could not install ${PACKAGES.join(" ")} into ${VENV} (${why})`);
  }
}

async function build(): Promise<VisionFixtures> {
  const script = await Deno.readFile(SCRIPT);
  const hash = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", script)).slice(0, 6))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const dir = `${FIXTURES}vision-${hash}`;
  try {
    return { dir, goldens: JSON.parse(await Deno.readTextFile(`${dir}/goldens.json`)) };
  } catch {
    // not built yet
  }
  await installVenv();
  const tmp = `${dir}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const result = await run(PYTHON, [SCRIPT, tmp], { PYTHONWARNINGS: "ignore", PATH: Deno.env.get("PATH") ?? "" });
  if (!result.ok) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new Error(`vision fixtures: ${SCRIPT} failed:\n${result.err.trim().split("\n").slice(-8).join("\n")}`);
  }
  await Deno.rename(tmp, dir).catch(async () => await Deno.remove(tmp, { recursive: true }));
  return { dir, goldens: JSON.parse(await Deno.readTextFile(`${dir}/goldens.json`)) };
}

let ready: Promise<VisionFixtures> | undefined;

/** The fixtures, built on first use (a minute or two; later runs reuse them). */
export function visionFixtures(): Promise<VisionFixtures> {
  return ready ??= build();
}
