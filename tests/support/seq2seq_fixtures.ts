/**
 * Tiny random encoder-decoder models (Marian in the merged, split, int8 and float16 layouts; T5; BART with
 * bart-large-cnn's generation config; ViT + GPT-2) exported by `torch.onnx.export(dynamo=True)` to optimum's layout, with
 * PyTorch `generate` goldens (greedy, batch, beam 4): the fixtures the encoder-decoder engine is tested against.
 * {@linkcode seq2seqFixtures} builds them once with `scripts/build_seq2seq_fixtures.py` in the generation venv
 * (`tests/.fixtures/venv-gen`, shared with the decoder fixtures) into `tests/.fixtures/seq2seq/`, and rebuilds
 * only when the script changes (its sha256 is in `manifest.json`). Nothing here is committed; a cold build
 * takes about 2.5 minutes on this loaded 2-core machine once the venv exists.
 *
 * When pip cannot provide the venv, {@linkcode seq2seqFixtures} throws one clear line: the tests fail, they
 * never skip silently.
 *
 * @module
 */
import { GEN_PYTHON, GEN_VENV } from "./generation_fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = `${ROOT}tests/.fixtures/`;
/** Where the fixtures are built. */
export const SEQ2SEQ_DIR = `${FIXTURES}seq2seq`;
const SCRIPT = `${ROOT}scripts/build_seq2seq_fixtures.py`;
const VENV_SCRIPT = `${ROOT}scripts/generation_venv.sh`;

/** The fixtures the script builds by default. */
export const SEQ2SEQ_FIXTURES = ["marian", "marian-split", "t5", "bart", "vit-gpt2"] as const;
/** A fixture's folder name. */
export type Seq2SeqFixture = typeof SEQ2SEQ_FIXTURES[number];

/** One golden case (see the script's docstring). */
export interface Seq2SeqGoldenCase {
  /** Unique in its file. */
  id: string;
  /** Texts (text models). */
  inputs: string[] | null;
  /** Image files relative to the fixture (image models). */
  images: string[] | null;
  /** Encoder ids per text, special tokens included. */
  input_ids: number[][];
  /** generate() options. */
  options: {
    max_new_tokens: number;
    num_beams: number;
    length_penalty?: number;
    early_stopping?: boolean | "never";
    num_return_sequences?: number;
  };
  /** Generated ids after the decoder start, per input × num_return_sequences, cut after the first EOS. */
  sequences: number[][];
  /** decode(skip_special_tokens). */
  texts: string[];
  /** null: torch on the fp32 graphs' weights; "quantized"/"fp16": an onnxruntime greedy loop on those files. */
  file: null | "quantized" | "fp16";
}

/** A fixture's goldens.json. */
export interface Seq2SeqGoldens {
  /** Fixture name. */
  model: string;
  /** The decoder's start id. */
  decoder_start_token_id: number;
  /** EOS ids. */
  eos_token_id: number[];
  /** Pad id. */
  pad_token_id: number;
  /** Cases. */
  cases: Seq2SeqGoldenCase[];
}

async function sha256Hex(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function upToDate(dir: string, sha: string): Promise<boolean> {
  try {
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    return manifest.script_sha256 === sha &&
      SEQ2SEQ_FIXTURES.every((name) => (manifest.fixtures as string[]).includes(name));
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; err: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr) };
  } catch (e) {
    return { ok: false, err: (e as Error).message };
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) => !l.includes("is ignored") && !l.includes("Warning")).pop() ?? "";
}

async function build(): Promise<string> {
  const sha = await sha256Hex(SCRIPT);
  if (await upToDate(SEQ2SEQ_DIR, sha)) return SEQ2SEQ_DIR;
  const venv = await run("sh", [VENV_SCRIPT, GEN_VENV]);
  if (!venv.ok) {
    throw new Error(`seq2seq fixtures: cannot install torch/transformers/onnx into ${GEN_VENV}: ${lastLine(venv.err)}`);
  }
  await Deno.mkdir(FIXTURES, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: FIXTURES, prefix: ".seq2seq-" });
  try {
    const built = await run(GEN_PYTHON, [SCRIPT, tmp]);
    if (!built.ok) throw new Error(`seq2seq fixtures: ${SCRIPT} failed: ${lastLine(built.err)}`);
    await Deno.remove(SEQ2SEQ_DIR, { recursive: true }).catch(() => {});
    try {
      await Deno.rename(tmp, SEQ2SEQ_DIR);
    } catch (e) {
      if (!(await upToDate(SEQ2SEQ_DIR, sha))) throw e;
    }
    return SEQ2SEQ_DIR;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

let ready: Promise<string> | undefined;

/** The folder holding the fixtures, built on first use. */
export function seq2seqFixtures(): Promise<string> {
  return ready ??= build();
}

/** One fixture's folder. */
export async function seq2seqFixture(name: Seq2SeqFixture): Promise<string> {
  return `${await seq2seqFixtures()}/${name}`;
}

/** A fixture's goldens. */
export async function readSeq2SeqGoldens(name: Seq2SeqFixture): Promise<Seq2SeqGoldens> {
  return JSON.parse(await Deno.readTextFile(`${await seq2seqFixture(name)}/goldens.json`)) as Seq2SeqGoldens;
}
