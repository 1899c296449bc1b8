/**
 * Text → token ids with Python `tokenizers`' semantics: the same ids, attention masks, type ids and
 * offsets for the same tokenizer.json, plus truncation (special tokens kept, `longest_first` for pairs)
 * and padding (side and pad token from tokenizer_config.json).
 *
 * The normalizers, pre-tokenizers and models (WordPiece, BPE incl. byte-level, Unigram) are
 * `@huggingface/tokenizers` (the JavaScript port maintained by Hugging Face, no dependencies, 648 KB):
 * it matches Python's ids but has no offsets, truncation or padding. Those are here: added tokens are
 * split on the original text, each section is normalized one character at a time so every normalized
 * character knows the original characters it came from, pre-tokens and tokens are walked along the
 * normalized text, and the post-processor (TemplateProcessing, BertProcessing, RobertaProcessing,
 * ByteLevel) is applied after truncation, as Python does.
 *
 * Offsets are UTF-16 indices into the original string (`text.slice(start, end)` is the token's text);
 * Python reports code-point indices, which differ only after characters outside the BMP (emoji).
 *
 * @module
 */
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { InputError, ModelNotFoundError, NotFoundError } from "../errors.ts";
import { ModelFiles } from "./model_files.ts";
import { denoEnv, type EnvReader, hubCacheDir } from "../environment.ts";
import { findCachedSnapshot } from "../vocabulary/cache_layout.ts";
import { parseModelId } from "../vocabulary/model_id.ts";
import { validateTokenizerJson } from "./tokenizer_schema.ts";
import type { TokenizerOverrides } from "./tokenizer_overrides.ts";
import { marianTokenizerParts } from "./marian_tokenizer.ts";

export type { TokenizerOverrides } from "./tokenizer_overrides.ts";

/** How a pair is cut down to `maxLength`. */
export type TruncationStrategy = "longest_first" | "only_first" | "only_second";

/** Options of {@linkcode TextTokenizer.encode} and {@linkcode TextTokenizer.encodeBatch}. */
export interface EncodeOptions {
  /** Second sequence (cross-encoders, NLI); for a batch, one per text. */
  pair?: string;
  /** Longest result, special tokens included (default the tokenizer's `model_max_length` when truncating). */
  maxLength?: number;
  /** Truncate to `maxLength` (default true when `maxLength` is given or known): `true` is `longest_first`. */
  truncation?: boolean | TruncationStrategy;
  /** Pad: `true`/`longest` to the batch's longest, `max_length` to `maxLength` (default false for one text, true for a batch). */
  padding?: boolean | "longest" | "max_length";
  /** Side padding goes to (default tokenizer_config.json `padding_side`, else right). */
  paddingSide?: "left" | "right";
  /** Add the model's special tokens ([CLS] … [SEP]) (default true). */
  addSpecialTokens?: boolean;
}

/** One encoded text (or pair). */
export interface Encoding {
  /** Token ids. */
  inputIds: number[];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[];
  /** Segment ids: 0 for the first sequence, 1 for the pair's second (as the post-processor says). */
  tokenTypeIds: number[];
  /** `[start, end)` UTF-16 offsets into the original text (or the pair's text); `[0, 0]` for special and pad tokens. */
  offsets: [number, number][];
  /** Token strings. */
  tokens: string[];
  /** Which sequence each token came from: 0, 1, or null for special and pad tokens. */
  sequenceIds: (number | null)[];
  /** 1 for special and pad tokens. */
  specialTokensMask: number[];
  /** The pre-tokenized word each token belongs to (counted within its sequence); null for special and pad tokens. */
  wordIds: (number | null)[];
}

/** A batch: one row per text, padded to a common length when asked. */
export interface BatchEncoding {
  /** Token ids per row. */
  inputIds: number[][];
  /** Attention masks per row. */
  attentionMask: number[][];
  /** Segment ids per row. */
  tokenTypeIds: number[][];
  /** Offsets per row. */
  offsets: [number, number][][];
  /** The full encodings. */
  encodings: Encoding[];
}

/** Options of {@linkcode TextTokenizer.decode}. */
export interface DecodeOptions {
  /** Leave out special tokens (default false). */
  skipSpecialTokens?: boolean;
  /**
   * Remove the space before punctuation (` .` → `.`) and contractions (default tokenizer_config.json's
   * `clean_up_tokenization_spaces`, else true as in transformers 4; transformers 5 defaults to false).
   */
  cleanUpTokenizationSpaces?: boolean;
}

interface RawSequence {
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
  words: number[];
  /** Words counted so far (the next word's index). */
  wordCount: number;
}

/** Options of {@linkcode TextTokenizer.encodeOverflowing}. */
export interface OverflowOptions {
  /** Longest window, special tokens and the first sequence included. */
  maxLength: number;
  /** Tokens of the second sequence two consecutive windows share. */
  stride: number;
}

type Json = Record<string, unknown>;

// GPT-2's byte ↔ printable-character table (byte-level BPE)
const BYTE_OF_CHAR = (() => {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map = new Map<number, number>();
  bs.forEach((b, i) => map.set(cs[i], b));
  return map;
})();

const WHITESPACE = /\s/u;
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const MARK = /^\p{M}$/u;
/** Normalizers whose output for a text is the concatenation of their outputs for its characters (with their marks). */
const LOCAL_NORMALIZERS = new Set([
  "BertNormalizer",
  "Lowercase",
  "StripAccents",
  "NFC",
  "NFD",
  "NFKC",
  "NFKD",
  "Sequence",
]);

function isLocalNormalizer(config: unknown): boolean {
  if (!config || typeof config !== "object") return true;
  const c = config as Json;
  if (!LOCAL_NORMALIZERS.has(String(c.type))) return false;
  return c.type !== "Sequence" || (Array.isArray(c.normalizers) && c.normalizers.every(isLocalNormalizer));
}

/** Each UTF-16 unit maps to its own code point. */
function identityAlignment(text: string, base: number): { normalized: string; from: Int32Array; to: Int32Array } {
  const from = new Int32Array(text.length), to = new Int32Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const w = c >= 0xd800 && c < 0xdc00 && i + 1 < text.length ? 2 : 1;
    from[i] = base + i;
    to[i] = base + i + w;
    if (w === 2) {
      from[i + 1] = base + i;
      to[i + 1] = base + i + 2;
      i++;
    }
  }
  return { normalized: text, from, to };
}

/** For normalizers that are not character-local (Prepend, Strip, Replace of strings): a greedy character match. */
function greedyAlignment(
  text: string,
  whole: string,
  base: number,
): { normalized: string; from: Int32Array; to: Int32Array } {
  const from = new Int32Array(whole.length), to = new Int32Array(whole.length);
  let j = 0;
  for (let i = 0; i < whole.length; i++) {
    const c = whole[i];
    let k = j;
    while (k < text.length && k - j < 8 && text[k] !== c && text[k].toLowerCase() !== c.toLowerCase()) k++;
    const found = k < text.length && k - j < 8;
    if (found) j = k;
    const at = Math.min(j, Math.max(0, text.length - 1));
    from[i] = base + at;
    to[i] = base + Math.min(at + 1, text.length);
    if (found) j++;
  }
  return { normalized: whole, from, to };
}

function utf8Length(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

function hasType(config: unknown, type: string, listKey: string): boolean {
  if (!config || typeof config !== "object") return false;
  const c = config as Json;
  if (c.type === type) return true;
  const list = c[listKey];
  return Array.isArray(list) && list.some((x) => hasType(x, type, listKey));
}

function findType(config: unknown, type: string, listKey: string): Json | undefined {
  if (!config || typeof config !== "object") return undefined;
  const c = config as Json;
  if (c.type === type) return c;
  const list = c[listKey];
  if (Array.isArray(list)) {
    for (const x of list) {
      const found = findType(x, type, listKey);
      if (found) return found;
    }
  }
  return undefined;
}

interface TemplatePiece {
  special?: string;
  sequence?: "A" | "B";
  typeId: number;
}

/** The post-processor as templates (special tokens around the sequences), plus ByteLevel offset trimming. */
interface PostProcessor {
  single: TemplatePiece[];
  pair: TemplatePiece[];
  specials: Map<string, { ids: number[]; tokens: string[] }>;
  trimOffsets: boolean;
  /** The post-processor's `add_prefix_space` (a first token's single leading space is then kept). */
  addPrefixSpace: boolean;
}

function postProcessorOf(config: unknown): PostProcessor {
  const specials = new Map<string, { ids: number[]; tokens: string[] }>();
  const plain: PostProcessor = {
    single: [{ sequence: "A", typeId: 0 }],
    pair: [{ sequence: "A", typeId: 0 }, { sequence: "B", typeId: 1 }],
    specials,
    trimOffsets: false,
    addPrefixSpace: false,
  };
  const byteLevel = findType(config, "ByteLevel", "processors");
  const trimOffsets = byteLevel ? byteLevel.trim_offsets === true : false;
  const addPrefixSpace = byteLevel ? byteLevel.add_prefix_space === true : false;
  const template = findType(config, "TemplateProcessing", "processors");
  if (template) {
    const parse = (list: unknown): TemplatePiece[] =>
      (Array.isArray(list) ? list : []).map((item: Json) => {
        if (item.SpecialToken) {
          const s = item.SpecialToken as Json;
          return { special: String(s.id), typeId: Number(s.type_id ?? 0) };
        }
        const s = item.Sequence as Json;
        return { sequence: s.id === "B" ? "B" : "A", typeId: Number(s.type_id ?? 0) };
      });
    for (const [name, value] of Object.entries((template.special_tokens ?? {}) as Record<string, Json>)) {
      specials.set(name, { ids: (value.ids as number[]) ?? [], tokens: (value.tokens as string[]) ?? [] });
    }
    return { single: parse(template.single), pair: parse(template.pair), specials, trimOffsets, addPrefixSpace };
  }
  const bert = findType(config, "BertProcessing", "processors") ?? findType(config, "RobertaProcessing", "processors");
  if (bert) {
    const [sepToken, sepId] = bert.sep as [string, number];
    const [clsToken, clsId] = bert.cls as [string, number];
    specials.set(sepToken, { ids: [sepId], tokens: [sepToken] });
    specials.set(clsToken, { ids: [clsId], tokens: [clsToken] });
    const cls = { special: clsToken, typeId: 0 }, sep = { special: sepToken, typeId: 0 };
    if (bert.type === "BertProcessing") {
      return {
        single: [cls, { sequence: "A", typeId: 0 }, sep],
        pair: [cls, { sequence: "A", typeId: 0 }, sep, { sequence: "B", typeId: 1 }, { special: sepToken, typeId: 1 }],
        specials,
        trimOffsets,
        addPrefixSpace,
      };
    }
    return {
      single: [cls, { sequence: "A", typeId: 0 }, sep],
      pair: [cls, { sequence: "A", typeId: 0 }, sep, sep, { sequence: "B", typeId: 0 }, sep],
      specials,
      trimOffsets: bert.trim_offsets === true,
      addPrefixSpace: bert.add_prefix_space === true,
    };
  }
  return { ...plain, trimOffsets, addPrefixSpace };
}

/** What the tokenizer files say beyond the tokenizer.json pipeline. */
export interface TokenizerSettings {
  /** Longest input the model takes (tokenizer_config.json `model_max_length`, when sensible). */
  modelMaxLength?: number;
  /** Pad token id. */
  padId: number;
  /** Pad token string. */
  padToken: string;
  /** Padding side. */
  paddingSide: "left" | "right";
  /** Truncation side. */
  truncationSide: "left" | "right";
}

/**
 * A tokenizer loaded from a tokenizer.json (and tokenizer_config.json when present).
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "jsr:@gpux/gpux/processing";
 * const tokenizer = await loadTokenizer("acme/bert-sentiment");
 * const { inputIds, attentionMask } = tokenizer.encodeBatch(["I love this", "meh"], { maxLength: 128 });
 * console.log(inputIds.length, attentionMask[1], tokenizer.decode(inputIds[0], { skipSpecialTokens: true }));
 * ```
 */
export class TextTokenizer {
  /** Settings from tokenizer_config.json and tokenizer.json. */
  readonly settings: TokenizerSettings;
  #hf: HfTokenizer;
  #byteLevel: boolean;
  #post: PostProcessor;
  #wordPiecePrefix?: string;
  #bpePrefix?: string;
  #bpeSuffix?: string;
  #unkToken?: string;
  #unkId?: number;
  #modelType: string;
  #addedIds = new Map<string, number>();
  #addedById = new Map<number, { content: string; special: boolean }>();
  #segmentCache = new Map<string, string>();
  #asciiCache: string[] = [];
  #localNormalizer: boolean;
  // deno-lint-ignore no-explicit-any
  #hfAny: any;
  #overrides: TokenizerOverrides;
  #cleanUpDefault: boolean;

  /**
   * From parsed tokenizer.json and tokenizer_config.json objects; `overrides` replace parts of the tokenizer.json
   * (a Marian folder's sentencepiece models and vocab.json, see `loadTokenizer`).
   */
  constructor(tokenizerJson: Json, tokenizerConfig: Json = {}, overrides: TokenizerOverrides = {}) {
    validateTokenizerJson(tokenizerJson);
    try {
      this.#hf = new HfTokenizer(tokenizerJson, tokenizerConfig);
    } catch (error) {
      throw new InputError(`cannot load the tokenizer: ${(error as Error).message}`, {
        cause: error,
        hint: "check that tokenizer.json is a Hugging Face tokenizers file (re-download it with gpux pull)",
      });
    }
    this.#hfAny = this.#hf;
    this.#overrides = overrides;
    this.#cleanUpDefault = tokenizerConfig.clean_up_tokenization_spaces === true;
    if (overrides.normalize) this.#hfAny.normalizer = overrides.normalize;
    if (overrides.segment) {
      const segment = overrides.segment;
      this.#hfAny.model = (pieces: string[]) => pieces.flatMap((p) => segment(p));
    }
    fastByteLevel(this.#hfAny.pre_tokenizer);
    const model = (tokenizerJson.model ?? {}) as Json;
    this.#modelType = String(model.type ?? (model.vocab && Array.isArray(model.vocab) ? "Unigram" : "BPE"));
    this.#localNormalizer = !overrides.normalize && isLocalNormalizer(tokenizerJson.normalizer);
    this.#byteLevel = hasType(tokenizerJson.pre_tokenizer, "ByteLevel", "pretokenizers") ||
      hasType(tokenizerJson.decoder, "ByteLevel", "decoders");
    if (this.#modelType === "WordPiece") {
      this.#wordPiecePrefix = String(model.continuing_subword_prefix ?? "##");
    } else if (this.#modelType === "BPE") {
      this.#bpePrefix = (model.continuing_subword_prefix as string) || undefined;
      this.#bpeSuffix = (model.end_of_word_suffix as string) || undefined;
    }
    for (const t of (tokenizerJson.added_tokens ?? []) as Json[]) {
      this.#addedIds.set(String(t.content), Number(t.id));
      this.#addedById.set(Number(t.id), { content: String(t.content), special: t.special === true });
    }
    const unk = this.#modelType === "Unigram"
      ? (Array.isArray(model.vocab) && typeof model.unk_id === "number"
        ? (model.vocab[model.unk_id] as [string, number])[0]
        : undefined)
      : (model.unk_token as string | undefined);
    this.#unkToken = unk ?? undefined;
    this.#unkId = unk === undefined ? undefined : this.tokenToId(unk);
    this.#post = postProcessorOf(tokenizerJson.post_processor);
    this.settings = this.#settings(tokenizerJson, tokenizerConfig);
  }

  #settings(tokenizerJson: Json, config: Json): TokenizerSettings {
    const tokenText = (v: unknown): string | undefined =>
      typeof v === "string"
        ? v
        : v && typeof v === "object" && typeof (v as Json).content === "string"
        ? String((v as Json).content)
        : undefined;
    const padding = (tokenizerJson.padding ?? undefined) as Json | undefined;
    let padToken = tokenText(config.pad_token) ?? (padding?.pad_token as string | undefined);
    let padId = padToken !== undefined ? this.tokenToId(padToken) : (padding?.pad_id as number | undefined);
    if (padId === undefined) {
      for (const candidate of ["[PAD]", "<pad>", "<|pad|>", "<|endoftext|>"]) {
        const id = this.tokenToId(candidate);
        if (id !== undefined) {
          padToken = candidate;
          padId = id;
          break;
        }
      }
    }
    const maxLen = typeof config.model_max_length === "number" && config.model_max_length > 0 &&
        config.model_max_length < 1e7
      ? config.model_max_length
      : ((tokenizerJson.truncation as Json | null)?.max_length as number | undefined);
    const side = (v: unknown) => v === "left" ? "left" : "right";
    return {
      modelMaxLength: maxLen,
      padId: padId ?? 0,
      padToken: padToken ?? "",
      paddingSide: side(config.padding_side ?? (padding?.direction === "Left" ? "left" : undefined)),
      truncationSide: side(config.truncation_side),
    };
  }

  /** WordPiece's continuing-subword prefix (`##`), or BPE's when it has one. */
  get subwordPrefix(): string | undefined {
    return this.#wordPiecePrefix ?? this.#bpePrefix;
  }

  /** True for a byte-level BPE (GPT-2, Llama 3, Qwen): its token strings spell bytes in GPT-2's byte alphabet. */
  get byteLevel(): boolean {
    return this.#byteLevel;
  }

  /** The added tokens by id (`<|im_start|>`, …) with whether each is special — generation masks and byte tables need them. */
  get addedTokens(): ReadonlyMap<number, { content: string; special: boolean }> {
    return this.#addedById;
  }

  /** The id of a token string (added tokens included), or undefined. */
  tokenToId(token: string): number | undefined {
    const vocabulary = this.#overrides.vocabulary;
    return this.#addedIds.get(token) ?? (vocabulary ? vocabulary.get(token) : this.#hf.token_to_id(token));
  }

  /** The string of a token id, or undefined. */
  idToToken(id: number): string | undefined {
    if (this.#overrides.idToToken) return this.#addedById.get(id)?.content ?? this.#overrides.idToToken(id);
    return this.#hf.id_to_token(id);
  }

  /** Token ids back to text (the tokenizer's decoder). */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return "";
    if (this.#overrides.decode) {
      return this.#overrides.decode(
        ids,
        options.skipSpecialTokens ?? false,
        options.cleanUpTokenizationSpaces ?? this.#cleanUpDefault,
      );
    }
    return this.#hf.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      ...(options.cleanUpTokenizationSpaces !== undefined
        ? { clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces }
        : {}),
    });
  }

  /** Number of special tokens the post-processor adds to one text, or to a pair. */
  specialTokenCount(pair: boolean): number {
    let n = 0;
    for (const piece of pair ? this.#post.pair : this.#post.single) {
      if (piece.special !== undefined) n += this.#post.specials.get(piece.special)?.ids.length ?? 1;
    }
    return n;
  }

  /** Encodes one text (or a text and its pair). */
  encode(text: string, options: EncodeOptions = {}): Encoding {
    return this.encodeBatch([text], {
      ...options,
      padding: options.padding ?? false,
      pair: undefined,
    }, options.pair === undefined ? undefined : [options.pair]).encodings[0];
  }

  /**
   * Encodes a batch, padded to its longest row (unless `padding: false`) and truncated to `maxLength`.
   * `pairs` gives each text its second sequence (or pass `options.pair` for one shared second text).
   */
  encodeBatch(texts: readonly string[], options: EncodeOptions = {}, pairs?: readonly string[]): BatchEncoding {
    if (pairs && pairs.length !== texts.length) {
      throw new InputError(`${texts.length} texts but ${pairs.length} pair texts; give one pair per text`);
    }
    const addSpecial = options.addSpecialTokens ?? true;
    const maxLength = options.maxLength ??
      (options.truncation !== false && options.truncation !== undefined ? this.settings.modelMaxLength : undefined);
    const strategy: TruncationStrategy | undefined = options.truncation === false || maxLength === undefined
      ? undefined
      : typeof options.truncation === "string"
      ? options.truncation
      : "longest_first";
    const encodings: Encoding[] = [];
    for (let i = 0; i < texts.length; i++) {
      const pairText = pairs?.[i] ?? options.pair;
      const a = this.#encodeSequence(texts[i]);
      const b = pairText === undefined ? undefined : this.#encodeSequence(pairText);
      if (strategy && maxLength !== undefined) {
        this.#truncate(a, b, maxLength - (addSpecial ? this.specialTokenCount(b !== undefined) : 0), strategy);
      }
      encodings.push(this.#postProcess(a, b, addSpecial));
    }
    const padding = options.padding ?? texts.length > 1;
    if (padding) {
      const target = padding === "max_length" && maxLength !== undefined
        ? maxLength
        : encodings.reduce((n, e) => Math.max(n, e.inputIds.length), 0); // no spread: a batch can be long
      const side = options.paddingSide ?? this.settings.paddingSide;
      for (const e of encodings) this.#pad(e, target, side);
    }
    return {
      inputIds: encodings.map((e) => e.inputIds),
      attentionMask: encodings.map((e) => e.attentionMask),
      tokenTypeIds: encodings.map((e) => e.tokenTypeIds),
      offsets: encodings.map((e) => e.offsets),
      encodings,
    };
  }

  /**
   * A pair whose second sequence is too long, cut into overlapping windows as Python `tokenizers` does with
   * `truncation="only_second"`, `stride` and `return_overflowing_tokens`: every window holds the whole first
   * sequence and up to `maxLength` tokens in all; consecutive windows share `stride` tokens of the second
   * sequence. Extractive question answering reads long contexts this way (transformers' `doc_stride`).
   *
   * @throws {InputError} the first sequence leaves no room for the second, or `stride` is not below the room left.
   */
  encodeOverflowing(first: string, second: string, options: OverflowOptions): Encoding[] {
    const a = this.#encodeSequence(first);
    const b = this.#encodeSequence(second);
    const room = options.maxLength - this.specialTokenCount(true) - a.ids.length;
    if (room <= 0) {
      throw new InputError(
        `the first text takes ${a.ids.length} tokens: no room is left for the second within ${options.maxLength}`,
        { hint: "shorten the question or raise the maximum sequence length" },
      );
    }
    if (options.stride < 0 || options.stride >= room) {
      throw new InputError(
        `stride ${options.stride} must be below the ${room} tokens a window leaves for the second text`,
        { hint: "lower the stride or raise the maximum sequence length" },
      );
    }
    const windows: Encoding[] = [];
    const step = room - options.stride;
    for (let start = 0;; start += step) {
      const stop = Math.min(start + room, b.ids.length);
      const part: RawSequence = {
        ids: b.ids.slice(start, stop),
        tokens: b.tokens.slice(start, stop),
        offsets: b.offsets.slice(start, stop),
        words: b.words.slice(start, stop),
        wordCount: b.wordCount,
      };
      windows.push(this.#postProcess(a, part, true));
      if (stop >= b.ids.length) break;
    }
    return windows;
  }

  /** Pads encodings in place to the longest of them (or to `length`), on the tokenizer's padding side. */
  pad(encodings: Encoding[], length?: number): void {
    const target = length ?? Math.max(0, ...encodings.map((e) => e.inputIds.length));
    for (const e of encodings) this.#pad(e, target, this.settings.paddingSide);
  }

  #truncate(a: RawSequence, b: RawSequence | undefined, max: number, strategy: TruncationStrategy): void {
    const limit = Math.max(0, max);
    const cut = (s: RawSequence, n: number) => {
      if (s.ids.length <= n) return;
      if (this.settings.truncationSide === "left") {
        const from = s.ids.length - n;
        s.ids = s.ids.slice(from);
        s.tokens = s.tokens.slice(from);
        s.offsets = s.offsets.slice(from);
        s.words = s.words.slice(from);
      } else {
        s.ids.length = n;
        s.tokens.length = n;
        s.offsets.length = n;
        s.words.length = n;
      }
    };
    const n1 = a.ids.length, n2 = b?.ids.length ?? 0;
    if (n1 + n2 <= limit) return;
    if (!b) {
      cut(a, limit);
      return;
    }
    const toRemove = n1 + n2 - limit;
    if (strategy === "only_first" || strategy === "only_second") {
      const target = strategy === "only_first" ? a : b;
      if (target.ids.length <= toRemove) {
        throw new InputError(
          `cannot truncate the ${
            strategy === "only_first" ? "first" : "second"
          } sequence enough to fit ${max} tokens (it has ${target.ids.length}, ${toRemove} must go)`,
          { hint: "use longest_first truncation or a larger max length" },
        );
      }
      cut(target, target.ids.length - toRemove);
      return;
    }
    // longest_first, as tokenizers' truncate_encodings: the shorter keeps its length when it fits in half
    let short = Math.min(n1, n2), long = Math.max(n1, n2);
    const swap = n1 > n2;
    if (short > limit) long = short;
    else long = Math.max(short, limit - short);
    if (short + long > limit) {
      short = Math.floor(limit / 2);
      long = short + limit % 2;
    }
    const [m1, m2] = swap ? [long, short] : [short, long];
    cut(a, m1);
    cut(b, m2);
  }

  #postProcess(a: RawSequence, b: RawSequence | undefined, addSpecial: boolean): Encoding {
    const e: Encoding = {
      inputIds: [],
      attentionMask: [],
      tokenTypeIds: [],
      offsets: [],
      tokens: [],
      sequenceIds: [],
      specialTokensMask: [],
      wordIds: [],
    };
    const pushSeq = (s: RawSequence, typeId: number, seq: number) => {
      for (let i = 0; i < s.ids.length; i++) {
        e.inputIds.push(s.ids[i]);
        e.tokens.push(s.tokens[i]);
        e.offsets.push(s.offsets[i]);
        e.tokenTypeIds.push(typeId);
        e.attentionMask.push(1);
        e.sequenceIds.push(seq);
        e.specialTokensMask.push(0);
        e.wordIds.push(s.words[i]);
      }
    };
    if (!addSpecial) {
      pushSeq(a, 0, 0);
      if (b) pushSeq(b, 1, 1);
      return e;
    }
    for (const piece of b ? this.#post.pair : this.#post.single) {
      if (piece.sequence === "A") pushSeq(a, piece.typeId, 0);
      else if (piece.sequence === "B") {
        if (b) pushSeq(b, piece.typeId, 1);
      } else if (piece.special !== undefined) {
        const sp = this.#post.specials.get(piece.special) ??
          { ids: [this.tokenToId(piece.special) ?? 0], tokens: [piece.special] };
        for (let i = 0; i < sp.ids.length; i++) {
          e.inputIds.push(sp.ids[i]);
          e.tokens.push(sp.tokens[i] ?? piece.special);
          e.offsets.push([0, 0]);
          e.tokenTypeIds.push(piece.typeId);
          e.attentionMask.push(1);
          e.sequenceIds.push(null);
          e.specialTokensMask.push(1);
          e.wordIds.push(null);
        }
      }
    }
    return e;
  }

  #pad(e: Encoding, target: number, side: "left" | "right"): void {
    const n = target - e.inputIds.length;
    if (n <= 0) return;
    // no spread: a row padded by a million tokens would pass a million arguments (a RangeError)
    const fill = <T>(arr: T[], v: () => T) => {
      if (side === "right") {
        for (let i = 0; i < n; i++) arr.push(v());
        return;
      }
      const old = arr.length;
      arr.length = old + n;
      arr.copyWithin(n, 0, old);
      for (let i = 0; i < n; i++) arr[i] = v();
    };
    fill(e.inputIds, () => this.settings.padId);
    fill(e.attentionMask, () => 0);
    fill(e.tokenTypeIds, () => 0);
    fill(e.offsets, () => [0, 0] as [number, number]);
    fill(e.tokens, () => this.settings.padToken);
    fill(e.sequenceIds, () => null);
    fill(e.specialTokensMask, () => 1);
    fill(e.wordIds, () => null);
  }

  /** One sequence without special tokens: added tokens split off, then normalize → pre-tokenize → model, with offsets. */
  #encodeSequence(text: string): RawSequence {
    const out: RawSequence = { ids: [], tokens: [], offsets: [], words: [], wordCount: 0 };
    const hf = this.#hfAny;
    const sections: string[] = text.length ? hf.splitter_unnormalized.split(text) : [];
    const starts: number[] = [];
    let pos = 0;
    for (const s of sections) {
      starts.push(pos);
      pos += s.length;
    }
    // lstrip / rstrip of added tokens eat the whitespace beside them
    const bounds = sections.map((s, i) => ({ text: s, start: starts[i] }));
    bounds.forEach((section, i) => {
      const added = hf.added_tokens_map.get(section.text);
      if (!added) return;
      if (added.lstrip && i > 0) bounds[i - 1].text = bounds[i - 1].text.trimEnd();
      if (added.rstrip && i < bounds.length - 1) {
        const next = bounds[i + 1];
        const trimmed = next.text.trimStart();
        next.start += next.text.length - trimmed.length;
        next.text = trimmed;
      }
    });
    bounds.forEach((section, sectionIndex) => {
      if (section.text.length === 0) return;
      const added = hf.added_tokens_map.get(section.text);
      if (added) {
        out.ids.push(added.id);
        out.tokens.push(section.text);
        out.offsets.push([section.start, section.start + section.text.length]);
        out.words.push(out.wordCount++);
        return;
      }
      const lead = this.#overrides.leadingToken?.(section.text) ?? 0;
      if (lead > 0) { // Marian's language code (`>>de<<`): one token, `<unk>` when the vocabulary lacks it
        const code = section.text.slice(0, lead);
        const id = this.tokenToId(code) ?? this.#unkId;
        if (id !== undefined) {
          out.ids.push(id);
          out.tokens.push(code);
          out.offsets.push([section.start, section.start + lead]);
          out.words.push(out.wordCount++);
        }
        if (lead === section.text.length) return;
        this.#encodeSection(section.text.slice(lead), section.start + lead, sectionIndex, out);
        return;
      }
      this.#encodeSection(section.text, section.start, sectionIndex, out);
    });
    return out;
  }

  /** Normalizes `text` keeping, for each normalized UTF-16 unit, the original `[start, end)` it came from. */
  #normalize(text: string, base: number): { normalized: string; from: Int32Array; to: Int32Array } {
    const normalizer = this.#hf.normalizer;
    if (!normalizer) return identityAlignment(text, base);
    if (!this.#localNormalizer) {
      const whole = normalizer(text);
      if (whole === text) return identityAlignment(text, base);
      const aligned = this.#normalizeSegments(text, base, normalizer);
      return aligned.normalized === whole ? aligned : greedyAlignment(text, whole, base);
    }
    return this.#normalizeSegments(text, base, normalizer);
  }

  /**
   * Normalizes one segment at a time (a character with its combining marks): exact for the
   * character-local normalizers (BERT's, lowercase, accents, NFC/NFD/NFKC/NFKD), whose output for a
   * text is the concatenation of their outputs for its segments.
   */
  #normalizeSegments(
    text: string,
    base: number,
    normalizer: (s: string) => string,
  ): { normalized: string; from: Int32Array; to: Int32Array } {
    const parts: string[] = [];
    let from = new Int32Array(text.length + 8), to = new Int32Array(text.length + 8);
    let n = 0;
    let same = true;
    const cache = this.#segmentCache;
    const ascii = this.#asciiCache;
    for (let i = 0; i < text.length;) {
      const c = text.charCodeAt(i);
      let j = i + (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length ? 2 : 1);
      while (j < text.length) {
        const m = text.codePointAt(j)!;
        if (m < 0x300 || !MARK.test(String.fromCodePoint(m))) break;
        j += m > 0xffff ? 2 : 1;
      }
      let out: string | undefined;
      if (j === i + 1 && c < 128) out = ascii[c] ??= normalizer(text[i]);
      else {
        const segment = text.slice(i, j);
        out = cache.get(segment);
        if (out === undefined) {
          out = normalizer(segment);
          if (cache.size > 65536) cache.clear();
          cache.set(segment, out);
        }
      }
      if (same && (out.length !== j - i || !text.startsWith(out, i))) same = false;
      parts.push(out);
      if (n + out.length > from.length) {
        const bigger = Math.max(from.length * 2, n + out.length);
        const f2 = new Int32Array(bigger), t2 = new Int32Array(bigger);
        f2.set(from);
        t2.set(to);
        from = f2;
        to = t2;
      }
      for (let k = 0; k < out.length; k++) {
        from[n] = base + i;
        to[n++] = base + j;
      }
      i = j;
    }
    if (same) return identityAlignment(text, base);
    return { normalized: parts.join(""), from: from.subarray(0, n), to: to.subarray(0, n) };
  }

  #encodeSection(text: string, base: number, sectionIndex: number, out: RawSequence): void {
    const hf = this.#hfAny;
    const { normalized, from, to } = this.#normalize(text, base);
    if (normalized.length === 0) return;
    const subsections: string[] = hf.splitter_normalized.split(normalized);
    let subStart = 0;
    for (const sub of subsections) {
      const start = subStart;
      subStart += sub.length;
      if (sub.length === 0) continue;
      const added = hf.added_tokens_map.get(sub);
      if (added) {
        out.ids.push(added.id);
        out.tokens.push(sub);
        out.offsets.push([from[start], to[start + sub.length - 1]]);
        out.words.push(out.wordCount++);
        continue;
      }
      const pieces: string[] = this.#hf.pre_tokenizer
        ? this.#hf.pre_tokenizer(sub, { section_index: sectionIndex })
        : [sub];
      const spans = this.#byteLevel ? this.#byteLevelSpans(sub, pieces) : this.#charSpans(sub, pieces);
      for (let p = 0; p < pieces.length; p++) {
        const tokens: string[] = hf.model([pieces[p]]);
        const pieceSpans = spans[p];
        const tokenSpans = this.#byteLevel
          ? this.#byteTokenSpans(tokens, pieceSpans)
          : this.#tokenSpans(tokens, pieceSpans, pieces[p]);
        for (let t = 0; t < tokens.length; t++) {
          const token = tokens[t];
          const id = this.tokenToId(token) ?? this.#unkId;
          if (id === undefined) continue;
          const [s, e] = tokenSpans[t];
          let os: number, oe: number;
          if (e <= s) {
            const at = Math.min(start + s, start + sub.length - 1);
            os = from[at];
            oe = os;
          } else {
            os = from[start + s];
            oe = to[start + e - 1];
          }
          if (this.#post.trimOffsets) {
            [os, oe] = trimSpaces(token, os, oe, this.#post.addPrefixSpace && (out.ids.length === 0 || os === 0));
          }
          out.ids.push(id);
          out.tokens.push(token);
          out.offsets.push([os, oe]);
          out.words.push(out.wordCount);
        }
        out.wordCount++;
      }
    }
  }

  /** Per piece: for each UTF-16 unit of the piece, its `[start, end)` in `text` (start === end: not in the text). */
  #charSpans(text: string, pieces: string[]): [number, number][][] {
    const result: [number, number][][] = [];
    let cur = 0;
    for (const piece of pieces) {
      const spans: [number, number][] = [];
      for (let i = 0; i < piece.length;) {
        const ch = piece.codePointAt(i)!;
        const w = ch > 0xffff ? 2 : 1;
        let span: [number, number] | undefined;
        while (cur < text.length) {
          const n = text.codePointAt(cur)!;
          const nw = n > 0xffff ? 2 : 1;
          if (n === ch || (ch === 0x2581 && n === 0x20)) {
            span = [cur, cur + nw];
            cur += nw;
            break;
          }
          if (ch === 0x2581) {
            span = [cur, cur + nw]; // a prepended ▁ takes the offsets of the character it precedes (as Python)
            break;
          }
          if (WHITESPACE.test(String.fromCodePoint(n)) || n === 0 || n === 0xfffd) {
            cur += nw;
            continue;
          }
          span = [cur, cur + nw]; // transformed by the pre-tokenizer: take it as the same character
          cur += nw;
          break;
        }
        span ??= [text.length, text.length];
        for (let k = 0; k < w; k++) spans.push(span);
        i += w;
      }
      result.push(spans);
    }
    return result;
  }

  /** Token spans inside one piece, from the piece's character spans. */
  #tokenSpans(tokens: string[], pieceSpans: [number, number][], piece: string): [number, number][] {
    const surfaces = tokens.map((token, t) => {
      if (token === this.#unkToken) return { unk: true, length: 0, bytes: 0 };
      const byte = BYTE_TOKEN.exec(token);
      if (byte) return { unk: false, length: 0, bytes: 1 };
      let s = token;
      if (
        this.#wordPiecePrefix && t > 0 && s.startsWith(this.#wordPiecePrefix) && s.length > this.#wordPiecePrefix.length
      ) {
        s = s.slice(this.#wordPiecePrefix.length);
      }
      if (this.#bpePrefix && t > 0 && s.startsWith(this.#bpePrefix)) s = s.slice(this.#bpePrefix.length);
      if (this.#bpeSuffix && s.endsWith(this.#bpeSuffix)) s = s.slice(0, s.length - this.#bpeSuffix.length);
      return { unk: false, length: s.length, bytes: 0 };
    });
    const out: [number, number][] = [];
    const total = pieceSpans.length;
    let cur = 0;
    let pendingBytes = 0;
    const spanOf = (a: number, b: number): [number, number] => {
      if (b <= a || a >= total) {
        const at = pieceSpans[Math.min(a, total - 1)] ?? [0, 0];
        return [at[0], at[0]];
      }
      return [pieceSpans[a][0], pieceSpans[b - 1][1]];
    };
    for (let t = 0; t < surfaces.length; t++) {
      const s = surfaces[t];
      if (s.bytes) {
        // byte-fallback token: part of the character at `cur`
        const charWidth = cur < total ? 1 : 0;
        const cp = pieceSpans.length ? cur : 0;
        out.push(spanOf(cp, cp + charWidth));
        pendingBytes++;
        const ch = piece.codePointAt(cur) ?? 0x41;
        if (pendingBytes >= utf8Length(ch)) {
          cur += ch > 0xffff ? 2 : 1;
          pendingBytes = 0;
        }
        continue;
      }
      let length = s.length;
      if (s.unk) {
        if (this.#modelType === "WordPiece") length = total - cur;
        else {
          let rest = 0;
          for (let r = t + 1; r < surfaces.length; r++) rest += surfaces[r].length;
          length = Math.max(1, total - cur - rest);
        }
      }
      out.push(spanOf(cur, cur + length));
      cur += length;
    }
    return out;
  }

  /** Byte-level: per piece, for each piece character (= one byte), its character span in `text`. */
  #byteLevelSpans(text: string, pieces: string[]): [number, number][][] {
    // the UTF-8 bytes of text, each with its character's span
    const byteSpans: [number, number][] = [];
    const bytes: number[] = [];
    for (let i = 0; i < text.length;) {
      const cp = text.codePointAt(i)!;
      const w = cp > 0xffff ? 2 : 1;
      const span: [number, number] = [i, i + w];
      if (cp < 0x80) bytes.push(cp);
      else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
      else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
      else bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
      for (let k = utf8Length(cp); k > 0; k--) byteSpans.push(span);
      i += w;
    }
    const result: [number, number][][] = [];
    let cur = 0;
    for (const piece of pieces) {
      const spans: [number, number][] = [];
      for (let i = 0; i < piece.length; i++) {
        const b = BYTE_OF_CHAR.get(piece.charCodeAt(i));
        if (cur < bytes.length && b === bytes[cur]) {
          spans.push(byteSpans[cur]);
          cur++;
        } else {
          // a space the pre-tokenizer added (add_prefix_space) takes the span of the character it precedes, as Python
          spans.push(byteSpans[Math.min(cur, byteSpans.length - 1)] ?? [0, 0]);
        }
      }
      result.push(spans);
    }
    return result;
  }

  #byteTokenSpans(tokens: string[], pieceSpans: [number, number][]): [number, number][] {
    const out: [number, number][] = [];
    let cur = 0;
    for (const token of tokens) {
      const n = token.length;
      let s = -1, e = -1;
      for (let k = cur; k < cur + n && k < pieceSpans.length; k++) {
        const [a, b] = pieceSpans[k];
        if (b <= a) continue;
        if (s < 0) s = a;
        e = b;
      }
      if (s < 0) {
        const at = pieceSpans[Math.min(cur, pieceSpans.length - 1)] ?? [0, 0];
        out.push([at[0], at[0]]);
      } else out.push([s, e]);
      cur += n;
    }
    return out;
  }
}

/** Byte-level characters by byte (GPT-2's table). */
const CHAR_OF_BYTE: string[] = (() => {
  const out: string[] = new Array(256);
  for (const [cp, b] of BYTE_OF_CHAR) out[b] = String.fromCharCode(cp);
  return out;
})();

/** A string's UTF-8 bytes spelled with byte-level characters, without a TextEncoder call. */
function byteLevelChars(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const cp = text.codePointAt(i)!;
    if (cp < 0x80) out += CHAR_OF_BYTE[cp];
    else if (cp < 0x800) out += CHAR_OF_BYTE[0xc0 | (cp >> 6)] + CHAR_OF_BYTE[0x80 | (cp & 63)];
    else if (cp < 0x10000) {
      if (cp >= 0xd800 && cp < 0xe000) out += CHAR_OF_BYTE[0xef] + CHAR_OF_BYTE[0xbf] + CHAR_OF_BYTE[0xbd]; // lone surrogate: U+FFFD, as TextEncoder
      else {
        out += CHAR_OF_BYTE[0xe0 | (cp >> 12)] + CHAR_OF_BYTE[0x80 | ((cp >> 6) & 63)] + CHAR_OF_BYTE[0x80 | (cp & 63)];
      }
    } else {
      out += CHAR_OF_BYTE[0xf0 | (cp >> 18)] + CHAR_OF_BYTE[0x80 | ((cp >> 12) & 63)] +
        CHAR_OF_BYTE[0x80 | ((cp >> 6) & 63)] + CHAR_OF_BYTE[0x80 | (cp & 63)];
      i++;
    }
  }
  return out;
}

/**
 * @huggingface/tokenizers' ByteLevel pre-tokenizer encodes each pre-token with a TextEncoder call and an
 * Array.from: a third of Qwen3's encode time. Same output, computed directly.
 */
// deno-lint-ignore no-explicit-any
function fastByteLevel(pre: any): void {
  if (!pre || (typeof pre !== "object" && typeof pre !== "function")) return;
  if (Array.isArray(pre.tokenizers)) { for (const p of pre.tokenizers) fastByteLevel(p); }
  if (pre.byte_encoder && typeof pre.pre_tokenize_text === "function") {
    pre.pre_tokenize_text = function (text: string): string[] {
      if (this.add_prefix_space && !text.startsWith(" ")) text = " " + text;
      const tokens: string[] = this.use_regex ? text.match(this.pattern) || [] : [text];
      return tokens.map(byteLevelChars);
    };
  }
}

/**
 * ByteLevel `trim_offsets`, as tokenizers' process_offsets: the spaces a token starts or ends with leave
 * its offsets (a token of spaces only becomes empty at its end); with `add_prefix_space`, the first
 * token keeps a single leading space (the one the pre-tokenizer added).
 */
function trimSpaces(token: string, start: number, end: number, keepOneLeading: boolean): [number, number] {
  const isSpace = (c: string) => c === "Ġ" || WHITESPACE.test(c);
  let lead = 0, trail = 0;
  for (let i = 0; i < token.length && isSpace(token[i]); i++) lead++;
  for (let i = token.length - 1; i >= 0 && isSpace(token[i]); i--) trail++;
  if (lead > 0) {
    if (keepOneLeading && lead === 1) lead = 0;
    start = Math.min(start + lead, end);
  }
  if (trail > 0 && end >= trail) end = Math.max(end - trail, start);
  return [start, end];
}

/** Options of {@linkcode loadTokenizer}. */
export interface LoadTokenizerOptions {
  /** The tokenizer file's name in the folder (default `tokenizer.json`). */
  file?: string;
  /** Hub cache directory for a Hub id (default `HF_HUB_CACHE` / `$HF_HOME/hub`). */
  cacheDir?: string;
  /** Where environment variables are read from (default `Deno.env`). */
  env?: EnvReader;
}

/** The cached snapshot of a Hub id `org/name[@rev]` (a tokenizer-only repository needs no .onnx). */
async function hubFiles(spec: string, options: LoadTokenizerOptions): Promise<ModelFiles> {
  let ref: { id: string; revision?: string };
  try {
    ref = parseModelId(spec);
  } catch (error) {
    throw new NotFoundError(
      `${spec} is neither an existing path nor a valid Hub model id (${(error as Error).message})`,
      {
        hint: "pass a folder holding tokenizer.json, a tokenizer.json path, or a Hub id like org/name",
      },
    );
  }
  const revision = ref.revision ?? "main";
  const cacheDir = hubCacheDir(options.env ?? denoEnv, options.cacheDir);
  const snapshot = await findCachedSnapshot(cacheDir, ref.id, revision);
  if (!snapshot) {
    throw new ModelNotFoundError(`${spec} is not in the cache (looked for revision ${revision} in ${cacheDir})`, {
      hint: `download it first with \`gpux pull ${spec}\``,
    });
  }
  return new ModelFiles([snapshot.path], {
    path: snapshot.path,
    kind: "hub",
    repoId: ref.id,
    revision,
    sha: snapshot.sha,
  });
}

/**
 * Loads the tokenizer of a model: `modelOrDir` is a folder holding tokenizer.json (a model
 * directory, a snapshot folder), a path to a tokenizer.json, a Hub id `org/name[@rev]` in the cache
 * (its snapshot; no .onnx needed), or a {@linkcode ModelFiles}.
 * tokenizer_config.json beside it supplies the pad token, padding side and `model_max_length`.
 * A folder without tokenizer.json but with Marian's `source.spm` (OPUS-MT repositories) gets a tokenizer built from
 * `source.spm`, `target.spm` and `vocab.json` with transformers' `MarianTokenizer` semantics (marian_tokenizer.ts).
 *
 * @throws {NotFoundError} no tokenizer.json there (exit 3), naming the file and how to fetch it.
 * @throws {InputError} the file is not a tokenizer.json gpux can read, or a Marian `.spm` is damaged (exit 2).
 * @example
 * ```ts
 * import { loadTokenizer } from "jsr:@gpux/gpux/processing";
 * const tokenizer = await loadTokenizer("./models/bert");
 * const encoding = tokenizer.encode("Hello world!", { maxLength: 16 });
 * console.log(encoding.inputIds, encoding.offsets);
 * ```
 */
export async function loadTokenizer(
  modelOrDir: string | ModelFiles,
  options: LoadTokenizerOptions = {},
): Promise<TextTokenizer> {
  let files: ModelFiles;
  let name = options.file ?? "tokenizer.json";
  if (typeof modelOrDir === "string") {
    let stat: Deno.FileInfo | undefined;
    try {
      stat = await Deno.stat(modelOrDir);
    } catch {
      stat = undefined;
    }
    if (stat?.isFile) {
      const i = modelOrDir.lastIndexOf("/");
      files = new ModelFiles([i < 0 ? "." : modelOrDir.slice(0, i) || "/"]);
      name = modelOrDir.slice(i + 1);
    } else if (stat?.isDirectory) {
      files = new ModelFiles([modelOrDir.replace(/\/+$/, "") || "/"]);
      if (/\/onnx$/.test(files.dirs[0])) files = new ModelFiles([...files.dirs, files.dirs[0].slice(0, -5)]);
    } else {
      files = await hubFiles(modelOrDir, options);
    }
  } else files = modelOrDir;
  if (options.file === undefined && await files.find(name) === undefined) {
    const marian = await marianTokenizerParts(files);
    if (marian) return new TextTokenizer(marian.tokenizerJson, marian.tokenizerConfig, marian.overrides);
  }
  const json = await files.readJson(name, "the tokenizer turns text into token ids") as Json;
  const config = (await files.readJsonIfPresent("tokenizer_config.json") ?? {}) as Json;
  return new TextTokenizer(json, config);
}
