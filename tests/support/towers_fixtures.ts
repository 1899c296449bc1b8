/**
 * Tiny random CLIP and SigLIP (merged graph and two towers, `onnx/text_model.onnx` + `onnx/vision_model.onnx`) and
 * OWLv2 models exported by Python transformers, with their real preprocessor configs, a rendered scene and the
 * goldens of transformers' own `pipeline()` on the same weights: scripts/build_task_fixtures_towers.py run once in
 * the builders' venv (python_venv.ts) and cached under `tests/.fixtures/towers-<hash of the script>/`. A script of
 * its own, so that adding these did not rebuild the other vision fixtures.
 *
 * When pip or the export fails, {@linkcode towersFixtures} throws one clear line: the tests fail, never skip.
 *
 * @module
 */
import { builtFixtures } from "./built_fixtures.ts";
import { torchPython } from "./python_venv.ts";

const FIXTURES = new URL("../.fixtures/", import.meta.url).pathname;
const SCRIPT = new URL("../../scripts/build_task_fixtures_towers.py", import.meta.url).pathname;

interface Scored {
  label: string;
  score: number;
}

interface PixelBox {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

/** One zero-shot-image-classification model's goldens. */
export interface TowerGoldens {
  labels: string[];
  answer: Scored[];
  template: { hypothesisTemplate: string; answer: Scored[] };
  logit_scale: number;
  logit_bias?: number;
}

/** What transformers answered (see the script). */
export interface TowersGoldens {
  image: [number, number];
  clip: TowerGoldens;
  siglip: TowerGoldens;
  owlv2: {
    labels: string[];
    threshold: number;
    pipeline: { score: number; label: string; box: PixelBox }[];
    boxes: number[][];
    scores: number[];
    pixel_values_shape: number[];
    pixel_values: number[];
  };
}

/** Where the fixtures are, and the goldens Python wrote. */
export interface TowersFixtures {
  /** The folder holding `scene.png`, `clip/`, `siglip/`, `owlv2/`, `goldens.json` and `summary.json`. */
  dir: string;
  /** goldens.json, parsed. */
  goldens: TowersGoldens;
}

async function build(): Promise<TowersFixtures> {
  const dir = await builtFixtures({
    who: "towers fixtures",
    script: SCRIPT,
    outDir: (sha) => `${FIXTURES}towers-${sha.slice(0, 12)}`,
    python: torchPython,
    env: { PYTHONWARNINGS: "ignore" },
  });
  return { dir, goldens: JSON.parse(await Deno.readTextFile(`${dir}/goldens.json`)) };
}

let ready: Promise<TowersFixtures> | undefined;

/** The fixtures, built on first use (well under a minute; later runs reuse them). */
export function towersFixtures(): Promise<TowersFixtures> {
  return ready ??= build();
}
