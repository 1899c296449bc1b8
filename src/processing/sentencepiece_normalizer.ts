/**
 * Sentencepiece's text normalization, exactly: the model's precompiled charsmap (a Darts double-array trie over
 * UTF-8 bytes whose values point at replacement strings; `nmt_nfkc` is NFKC plus whitespace and control-character
 * rules) applied longest match first, then its whitespace rules (leading and trailing spaces dropped, runs
 * collapsed, `▁` for a space, a `▁` prefix).
 *
 * Why not `@huggingface/tokenizers`' `Precompiled` normalizer: version 0.2.0 ignores the charsmap and runs
 * JavaScript's NFKC with a few fixed replacements, which is not what a model's own rules say (a custom or
 * case-folding charsmap, and NFKC version differences, would give other ids than the model was trained on).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { SentencePieceNormalizerSpec } from "./sentencepiece_model.ts";

const SPACE = 0x20;
const META = [0xe2, 0x96, 0x81]; // ▁ in UTF-8

/** The longest-match rule table of a precompiled charsmap. */
class CharsMap {
  #trie: Uint32Array;
  #strings: Uint8Array;

  constructor(blob: Uint8Array, label: string) {
    const bad = (why: string) =>
      new InputError(`${label} has a damaged normalization table (${why})`, {
        hint: "re-download the model (gpux pull --force) or replace the file with the repository's own",
      });
    if (blob.length < 4) throw bad("shorter than its header");
    const view = new DataView(blob.buffer, blob.byteOffset, blob.length);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || trieBytes === 0 || trieBytes > blob.length - 4) {
      throw bad(`its trie size ${trieBytes} does not fit its ${blob.length} bytes`);
    }
    this.#trie = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.#trie.length; i++) this.#trie[i] = view.getUint32(4 + i * 4, true);
    this.#strings = blob.subarray(4 + trieBytes);
  }

  /** The longest rule matching `input` at `pos`: [bytes consumed, replacement start in the string table], or undefined. */
  match(input: Uint8Array, pos: number): [number, number] | undefined {
    const trie = this.#trie;
    let node = 0;
    let unit = trie[0];
    node ^= offsetOf(unit);
    let best: [number, number] | undefined;
    for (let i = pos; i < input.length; i++) {
      const c = input[i];
      node ^= c;
      if (node >= trie.length) break;
      unit = trie[node];
      if ((unit & 0x800000ff) >>> 0 !== c) break; // label
      node ^= offsetOf(unit);
      if (node >= trie.length) break;
      if ((unit >>> 8) & 1) best = [i + 1 - pos, trie[node] & 0x7fffffff]; // has a leaf: its value
    }
    return best;
  }

  /** Appends the replacement string at `at` (NUL-terminated) to `out`. */
  replacement(at: number, out: number[]): void {
    const s = this.#strings;
    for (let i = at; i < s.length && s[i] !== 0; i++) out.push(s[i]);
  }
}

function offsetOf(unit: number): number {
  return ((unit >>> 10) << ((unit & (1 << 9)) >>> 6)) >>> 0;
}

/** Bytes of the UTF-8 character starting with `lead` (1 for a stray continuation byte). */
function charLength(lead: number): number {
  return lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/**
 * A sentencepiece model's normalizer: text → the string its segmenter sees (`"  Ｈｉ  there"` → `"▁Hi▁there"` for
 * `nmt_nfkc`).
 *
 * @param spec the model's normalizer section.
 * @param label names the model file in messages.
 * @throws {InputError} the charsmap is damaged.
 * @example
 * ```ts ignore
 * const normalize = sentencePieceNormalizer(model.normalizer, "source.spm");
 * normalize("Ｆｕｌｌ  width"); // "▁Full▁width"
 * ```
 */
export function sentencePieceNormalizer(
  spec: SentencePieceNormalizerSpec,
  label: string,
  whitespaceAsSuffix = false,
): (text: string) => string {
  const map = spec.precompiledCharsmap.length ? new CharsMap(spec.precompiledCharsmap, label) : undefined;
  const encoder = new TextEncoder(), decoder = new TextDecoder();
  return (text: string): string => {
    const input = encoder.encode(text); // lone surrogates become U+FFFD, as Python's would fail
    const out: number[] = [];
    const prefix = (pos: number, piece: number[]): number => {
      const m = map?.match(input, pos);
      if (m) {
        map!.replacement(m[1], piece);
        return m[0];
      }
      const n = Math.min(charLength(input[pos]), input.length - pos);
      for (let i = 0; i < n; i++) piece.push(input[pos + i]);
      return n;
    };
    let pos = 0;
    const piece: number[] = [];
    if (spec.removeExtraWhitespaces) {
      while (pos < input.length) {
        piece.length = 0;
        const n = prefix(pos, piece);
        if (piece.length !== 1 || piece[0] !== SPACE) break;
        pos += n;
      }
    }
    if (pos >= input.length) return "";
    const space = () => spec.escapeWhitespaces ? out.push(...META) : out.push(SPACE);
    if (!whitespaceAsSuffix && spec.addDummyPrefix) space();
    let prevSpace = spec.removeExtraWhitespaces;
    while (pos < input.length) {
      piece.length = 0;
      pos += prefix(pos, piece);
      let start = 0;
      while (prevSpace && start < piece.length && piece[start] === SPACE) start++;
      if (start < piece.length) {
        for (let i = start; i < piece.length; i++) {
          if (piece[i] === SPACE && spec.escapeWhitespaces) out.push(...META);
          else out.push(piece[i]);
        }
        prevSpace = piece[piece.length - 1] === SPACE;
      }
      if (!spec.removeExtraWhitespaces) prevSpace = false;
    }
    if (spec.removeExtraWhitespaces) {
      const tail = spec.escapeWhitespaces ? META : [SPACE];
      while (out.length >= tail.length && tail.every((b, i) => out[out.length - tail.length + i] === b)) {
        out.length -= tail.length;
      }
    }
    if (whitespaceAsSuffix && spec.addDummyPrefix) space();
    return decoder.decode(new Uint8Array(out));
  };
}
