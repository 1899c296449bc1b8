/**
 * Tiny random encoder-decoder models (Marian in the merged, split, int8 and float16 layouts; T5; BART with
 * bart-large-cnn's generation config; ViT + GPT-2) exported by `torch.onnx.export(dynamo=True)` to optimum's layout, with
 * PyTorch `generate` goldens (greedy, batch, beam 4): the fixtures the encoder-decoder engine is tested against.
 * {@linkcode seq2seqFixtures} builds them once with `scripts/build_seq2seq_fixtures.py` in the builders' venv
 * (`tests/.fixtures/venv-torch`, python_venv.ts) into `tests/.fixtures/seq2seq/`, and rebuilds
 * only when the script changes (its sha256 is in `manifest.json`). Nothing here is committed; a cold build
 * takes about 2.5 minutes on this loaded 2-core machine once the venv exists.
 *
 * When pip cannot provide the venv, {@linkcode seq2seqFixtures} throws one clear line: the tests fail, they
 * never skip silently.
 *
 * @module
 */
import { builtFixtures } from "./built_fixtures.ts";
import { torchPython } from "./python_venv.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = `${ROOT}tests/.fixtures/`;
/** Where the fixtures are built. */
export const SEQ2SEQ_DIR = `${FIXTURES}seq2seq`;
const SCRIPT = `${ROOT}scripts/build_seq2seq_fixtures.py`;

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

async function upToDate(dir: string, sha: string): Promise<boolean> {
  try {
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    return manifest.script_sha256 === sha &&
      SEQ2SEQ_FIXTURES.every((name) => (manifest.fixtures as string[]).includes(name));
  } catch {
    return false;
  }
}

function build(): Promise<string> {
  return builtFixtures({
    who: "seq2seq fixtures",
    script: SCRIPT,
    outDir: () => SEQ2SEQ_DIR,
    complete: upToDate,
    python: torchPython,
  });
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
