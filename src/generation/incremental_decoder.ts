/**
 * Streams token ids out as text, a piece at a time, without ever printing half a character: a character
 * split across byte-level tokens (an emoji, CJK) decodes to U+FFFD until its last byte arrives, so the
 * new text is held back while the window ends with U+FFFD. Decoding a short window (the last emitted
 * token onwards) rather than everything keeps each step cheap, and slicing by the window's old text keeps
 * tokenizers' whitespace rules (SentencePiece's leading `▁`) exactly as a full decode applies them.
 *
 * @module
 */
import type { TextTokenizer } from "../processing/tokenizer.ts";

const REPLACEMENT = "\uFFFD";

/** Turns a growing list of ids into text deltas whose concatenation is the decoded text. */
export class IncrementalDecoder {
  #tokenizer: TextTokenizer;
  #skipSpecial: boolean;
  #ids: number[] = [];
  #prefix = 0;
  #read = 0;
  #text = "";

  /** `skipSpecialTokens` (default true) leaves out special tokens such as `<|im_end|>`. */
  constructor(tokenizer: TextTokenizer, options: { skipSpecialTokens?: boolean } = {}) {
    this.#tokenizer = tokenizer;
    this.#skipSpecial = options.skipSpecialTokens ?? true;
  }

  /** All the text emitted so far. */
  get text(): string {
    return this.#text;
  }

  /** Adds a token; returns the text it completes ("" while a character is still incomplete). */
  push(id: number): string {
    this.#ids.push(id);
    const options = { skipSpecialTokens: this.#skipSpecial };
    const before = this.#tokenizer.decode(this.#ids.slice(this.#prefix, this.#read), options);
    const after = this.#tokenizer.decode(this.#ids.slice(this.#prefix), options);
    if (after.length > before.length && !after.endsWith(REPLACEMENT) && after.startsWith(before)) {
      const delta = after.slice(before.length);
      this.#prefix = this.#read;
      this.#read = this.#ids.length;
      this.#text += delta;
      return delta;
    }
    return "";
  }

  /** At the end: whatever is still held back (an incomplete character stays U+FFFD, as a full decode shows it). */
  flush(): string {
    if (this.#read === this.#ids.length) return "";
    const options = { skipSpecialTokens: this.#skipSpecial };
    const before = this.#tokenizer.decode(this.#ids.slice(this.#prefix, this.#read), options);
    const after = this.#tokenizer.decode(this.#ids.slice(this.#prefix), options);
    this.#prefix = this.#read = this.#ids.length;
    const delta = after.startsWith(before) ? after.slice(before.length) : "";
    this.#text += delta;
    return delta;
  }
}
