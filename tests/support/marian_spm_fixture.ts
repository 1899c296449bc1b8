/**
 * A tiny OPUS-MT-shaped Marian repository whose tokenizer is sentencepiece files (`source.spm`, `target.spm`,
 * `vocab.json`, tokenizer_config.json; no tokenizer.json), with goldens from transformers' `MarianTokenizer` and
 * PyTorch `generate` on the exported graphs' weights. {@linkcode marianSpmFixture} builds it once with
 * `scripts/build_marian_spm_fixture.py` (which trains the sentencepiece models offline and exports the model with
 * `scripts/build_seq2seq_fixtures.py`'s helpers) into `tests/.fixtures/marian-spm-<sha>/`, named by the sha256 of
 * both scripts, so it is rebuilt exactly when either changes. About 25 s cold once the builders' venv exists.
 *
 * When the build fails, {@linkcode marianSpmFixture} throws one clear line: the tests fail, they never skip.
 *
 * @module
 */
import { builtFixtures } from "./built_fixtures.ts";
import { torchPython } from "./python_venv.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SCRIPT = `${ROOT}scripts/build_marian_spm_fixture.py`;
const HELPERS = `${ROOT}scripts/build_seq2seq_fixtures.py`;

/** One tokenizer golden: MarianTokenizer's ids for a text, and its decode(skip_special_tokens) of them. */
export interface MarianSpmTokenizerCase {
  /** The text. */
  text: string;
  /** `tokenizer(text)["input_ids"]` (`</s>` included). */
  input_ids: number[];
  /** `decode(input_ids, skip_special_tokens=True)`; null with separate vocabularies. */
  decoded: string | null;
  /** `decode(input_ids)` (special tokens kept); null with separate vocabularies. */
  decoded_with_specials: string | null;
}

/** One decode golden: MarianTokenizer's decode of random ids, without and with the special tokens. */
export interface MarianSpmDecodeCase {
  /** The ids. */
  ids: number[];
  /** `decode(ids, skip_special_tokens=True)`. */
  text: string;
  /** `decode(ids)`. */
  text_with_specials: string;
}

/** The fixture's goldens.json (see the script's docstring). */
export interface MarianSpmGoldens {
  /** Shared vocabulary (vocab.json). */
  tokenizer: MarianSpmTokenizerCase[];
  /** decode(skip_special_tokens=True) and decode() of random id sequences. */
  decode: MarianSpmDecodeCase[];
  /** The same with `separate_vocabs` (vocab.json + target_vocab.json). */
  separate: { tokenizer: MarianSpmTokenizerCase[]; decode: MarianSpmDecodeCase[] };
  /** PyTorch generate on the exported model. */
  generation: {
    decoder_start_token_id: number;
    eos_token_id: number;
    pad_token_id: number;
    cases: {
      id: string;
      inputs: string[];
      input_ids: number[][];
      options: { max_new_tokens: number; num_beams: number };
      sequences: number[][];
      texts: string[];
    }[];
  };
}

let ready: Promise<string> | undefined;

/** The folder holding `marian-spm/`, `marian-spm-separate/`, `bpe.spm` and `goldens.json`, built on first use. */
export function marianSpmFixture(): Promise<string> {
  return ready ??= (async () =>
    builtFixtures({
      who: "Marian sentencepiece fixture",
      script: SCRIPT,
      inputs: await Deno.readTextFile(HELPERS),
      outDir: (sha) => `${ROOT}tests/.fixtures/marian-spm-${sha.slice(0, 12)}`,
      python: torchPython,
    }))();
}

/** The fixture's goldens. */
export async function readMarianSpmGoldens(): Promise<MarianSpmGoldens> {
  return JSON.parse(await Deno.readTextFile(`${await marianSpmFixture()}/goldens.json`)) as MarianSpmGoldens;
}
