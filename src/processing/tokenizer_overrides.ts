/**
 * Parts of a tokenizer that replace what a tokenizer.json would say, for tokenizers rebuilt from other files:
 * OPUS-MT / Marian repositories ship sentencepiece models and a vocab.json whose ids differ from the pieces' own,
 * so their normalizer, segmenter, id mapping and decoder are given here and the rest (added tokens, the `</s>`
 * post-processor, truncation, padding, offsets) stays {@linkcode TextTokenizer}'s.
 *
 * Its own file so that the builders of such parts need not import the tokenizer (no file cycle).
 *
 * @module
 */

/** What replaces the tokenizer.json's own parts (each one optional). */
export interface TokenizerOverrides {
  /** Text → the string the segmenter sees (replaces the normalizer and the pre-tokenizer's rewriting). */
  normalize?: (text: string) => string;
  /** Normalized text → token strings (replaces the pre-tokenizer and the model). */
  segment?: (normalized: string) => string[];
  /** Token string → id (replaces the model's vocabulary; added tokens still come first). */
  vocabulary?: ReadonlyMap<string, number>;
  /** Id → token string (replaces the model's). */
  idToToken?: (id: number) => string | undefined;
  /** Length of a token at the start of a text that is kept whole (Marian's `>>de<<` language code); 0: none. */
  leadingToken?: (text: string) => number;
  /** Ids → text (replaces the decoder). */
  decode?: (ids: readonly number[], skipSpecialTokens: boolean, cleanUpTokenizationSpaces: boolean) => string;
}
