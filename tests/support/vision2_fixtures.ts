/**
 * Tiny random CLIP and SigLIP (merged graph and two towers, `onnx/text_model.onnx` + `onnx/vision_model.onnx`),
 * OWLv2, Mask2Former and MaskFormer models exported by Python transformers, with their real preprocessor configs, a rendered scene and the
 * goldens of transformers' own `pipeline()` on the same weights: scripts/build_task_fixtures_vision2.py run once in
 * the builders' venv (python_venv.ts) and cached under `tests/.fixtures/vision2-<hash of the script>/`. A script of
 * its own, so that adding these did not rebuild the other vision fixtures.
 *
 * When pip or the export fails, {@linkcode vision2Fixtures} throws one clear line: the tests fail, never skip.
 *
 * @module
 */
import { builtFixtures } from "./built_fixtures.ts";
import { torchPython } from "./python_venv.ts";

const FIXTURES = new URL("../.fixtures/", import.meta.url).pathname;
const SCRIPT = new URL("../../scripts/build_task_fixtures_vision2.py", import.meta.url).pathname;

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

/** One segment as transformers' pipeline answers it (the mask 0/255, row-major, at the image's size). */
export interface GoldenSegment {
  label: string;
  score: number | null;
  mask: number[];
}

/** What transformers answered (see the script). */
export interface Vision2Goldens {
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
    /** Owlv2ImageProcessor's pixel_values of the scene at other square sizes. */
    resized: { size: number; pixel_values: number[] }[];
  };
  mask2former: UniversalGoldens;
  maskformer: UniversalGoldens;
}

/** A MaskFormer / Mask2Former fixture's goldens. */
export interface UniversalGoldens {
  pixel_values_shape: number[];
  thresholds: { instance: number; panoptic: number; semantic: null };
  instance: GoldenSegment[];
  panoptic: GoldenSegment[];
  semantic: GoldenSegment[];
  /** post_process_instance_segmentation(return_binary_maps=True): each instance's own mask. */
  instance_binary: GoldenSegment[];
}

/** Where the fixtures are, and the goldens Python wrote. */
export interface Vision2Fixtures {
  /** The folder holding `scene.png`, `clip/`, `siglip/`, `owlv2/`, `mask2former/`, `maskformer/`, `goldens.json` and `summary.json`. */
  dir: string;
  /** goldens.json, parsed. */
  goldens: Vision2Goldens;
}

async function build(): Promise<Vision2Fixtures> {
  const dir = await builtFixtures({
    who: "vision2 fixtures",
    script: SCRIPT,
    outDir: (sha) => `${FIXTURES}vision2-${sha.slice(0, 12)}`,
    python: torchPython,
    env: { PYTHONWARNINGS: "ignore" },
  });
  return { dir, goldens: JSON.parse(await Deno.readTextFile(`${dir}/goldens.json`)) };
}

let ready: Promise<Vision2Fixtures> | undefined;

/** The fixtures, built on first use (about a minute; later runs reuse them). */
export function vision2Fixtures(): Promise<Vision2Fixtures> {
  return ready ??= build();
}
