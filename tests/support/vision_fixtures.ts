/**
 * Tiny random vision models (DETR (detection and panoptic), YOLOS, RT-DETR, SegFormer, DPT, Depth Anything, OWL-ViT) exported to ONNX by Python transformers, with their real
 * preprocessor configs, a rendered scene and the goldens of transformers' own `pipeline()` on the same weights:
 * scripts/build_task_fixtures_vision.py run once in the builders' venv (python_venv.ts: `tests/.fixtures/venv-torch`;
 * torch CPU, transformers, onnx; installed by pip from the local mirror on first use) and cached under
 * `tests/.fixtures/vision-<hash of the script>/`.
 *
 * When pip or the export fails, {@linkcode visionFixtures} throws one clear line: the tests fail, never skip.
 *
 * @module
 */
import { builtFixtures } from "./built_fixtures.ts";
import { torchPython } from "./python_venv.ts";

const FIXTURES = new URL("../.fixtures/", import.meta.url).pathname;
const SCRIPT = new URL("../../scripts/build_task_fixtures_vision.py", import.meta.url).pathname;

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

async function build(): Promise<VisionFixtures> {
  const dir = await builtFixtures({
    who: "vision fixtures",
    script: SCRIPT,
    outDir: (sha) => `${FIXTURES}vision-${sha.slice(0, 12)}`,
    python: torchPython,
    env: { PYTHONWARNINGS: "ignore" },
  });
  return { dir, goldens: JSON.parse(await Deno.readTextFile(`${dir}/goldens.json`)) };
}

let ready: Promise<VisionFixtures> | undefined;

/** The fixtures, built on first use (a minute or two; later runs reuse them). */
export function visionFixtures(): Promise<VisionFixtures> {
  return ready ??= build();
}
