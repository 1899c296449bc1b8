/**
 * A tiny ViT + GPT-2 captioner in the Hub's real VisionEncoderDecoder layout (optimum's export, as
 * `Xenova/vit-gpt2-image-captioning` ships it): the merged decoder takes only its self-attention past
 * `past_key_values.N.key/value` and `encoder_hidden_states` at every step, no cross-attention cache. Same shapes,
 * tokenizer and images as seq2seq_fixtures.ts' "vit-gpt2", built by `scripts/build_vit_gpt2_hub_fixture.py` (which
 * imports that builder, so the seq2seq fixtures keep their hash) into `tests/.fixtures/vit-gpt2-hub-<sha>/`, with
 * PyTorch `generate` goldens (greedy, batch, beam 4) in the seq2seq goldens' format. About 20 s once the venv exists.
 *
 * @module
 */
import { builtFixtures } from "./built_fixtures.ts";
import { torchPython } from "./python_venv.ts";
import type { Seq2SeqGoldens } from "./seq2seq_fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SCRIPT = `${ROOT}scripts/build_vit_gpt2_hub_fixture.py`;
const BASE = `${ROOT}scripts/build_seq2seq_fixtures.py`;

let ready: Promise<string> | undefined;

/** The fixture's folder (a model folder: config.json, onnx/, images/, goldens.json), built on first use. */
export function vitGpt2HubFixture(): Promise<string> {
  return ready ??= (async () =>
    builtFixtures({
      who: "vit-gpt2-hub fixture",
      script: SCRIPT,
      inputs: await Deno.readTextFile(BASE),
      outDir: (sha) => `${ROOT}tests/.fixtures/vit-gpt2-hub-${sha.slice(0, 12)}`,
      python: torchPython,
      finish: (tmp) => Promise.resolve(`${tmp}/vit-gpt2-hub`),
    }))();
}

/** The fixture's goldens. */
export async function readVitGpt2HubGoldens(): Promise<Seq2SeqGoldens> {
  return JSON.parse(await Deno.readTextFile(`${await vitGpt2HubFixture()}/goldens.json`)) as Seq2SeqGoldens;
}
