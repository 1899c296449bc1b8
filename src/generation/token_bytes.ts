/**
 * The bytes each token id stands for, built once per tokenizer: what logprobs report as `bytes` (OpenAI's
 * field, which survives a token that holds half a UTF-8 character), and what the JSON constraint feeds its
 * automaton when it checks whether a token may come next. Decoding 151,936 ids one by one through the tokenizer
 * would take seconds; reading the vocabulary's token strings does not.
 *
 * Byte-level BPE (GPT-2, Llama 3, Qwen) spells each byte as one character of GPT-2's byte alphabet; a
 * SentencePiece vocabulary spells a space as `▁` and a raw byte as `<0xHH>`. Special added tokens
 * (`<|im_end|>`) have no bytes: they are never text.
 *
 * @module
 */
import type { TextTokenizer } from "../processing/tokenizer.ts";

/** Every token's bytes (special and unknown ids: `undefined`). */
export interface TokenByteTable {
  /** Bytes by id (length = the vocabulary the table was built for). */
  readonly bytes: readonly (Uint8Array | undefined)[];
  /** Ids of special added tokens. */
  readonly special: ReadonlySet<number>;
}

const tables = new WeakMap<TextTokenizer, Map<number, TokenByteTable>>();
const encoder = new TextEncoder();

/** GPT-2's byte alphabet reversed: a character of a byte-level token string to its byte. */
function byteLevelDecoder(): Map<number, number> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map = new Map<number, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.includes(b)) map.set(b, b);
    else map.set(256 + extra++, b);
  }
  return map;
}

function byteLevelBytes(token: string, alphabet: Map<number, number>): Uint8Array | undefined {
  const out = new Uint8Array(token.length);
  let n = 0;
  for (const ch of token) {
    const b = alphabet.get(ch.codePointAt(0)!);
    if (b === undefined) return encoder.encode(token); // not in the alphabet: an added token's own text
    out[n++] = b;
  }
  return out.subarray(0, n);
}

function sentencePieceBytes(token: string): Uint8Array {
  const raw = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
  if (raw) return Uint8Array.of(parseInt(raw[1], 16));
  return encoder.encode(token.replaceAll("\u2581", " "));
}

/** The byte table of `tokenizer` for a vocabulary of `size` ids (the logits' width), built on first use. */
export function tokenByteTable(tokenizer: TextTokenizer, size: number): TokenByteTable {
  let bySize = tables.get(tokenizer);
  if (!bySize) tables.set(tokenizer, bySize = new Map());
  const cached = bySize.get(size);
  if (cached) return cached;
  const alphabet = tokenizer.byteLevel ? byteLevelDecoder() : undefined;
  const added = tokenizer.addedTokens;
  const special = new Set<number>();
  const bytes: (Uint8Array | undefined)[] = new Array(size);
  for (let id = 0; id < size; id++) {
    const a = added.get(id);
    if (a) {
      if (a.special) special.add(id);
      else bytes[id] = encoder.encode(a.content);
      continue;
    }
    const token = tokenizer.idToToken(id);
    if (token === undefined) continue;
    bytes[id] = alphabet ? byteLevelBytes(token, alphabet) : sentencePieceBytes(token);
  }
  const table = { bytes, special };
  bySize.set(size, table);
  return table;
}
