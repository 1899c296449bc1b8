/**
 * The tokenizer of an OPUS-MT / Marian repository that ships `source.spm`, `target.spm`, `vocab.json` and
 * tokenizer_config.json but no tokenizer.json (most `Helsinki-NLP/opus-mt-*` repositories), with transformers'
 * `MarianTokenizer` semantics:
 *
 * - encode: a leading language code (`>>de<<`) kept as one token; the rest normalized and segmented by
 *   **source.spm** (its charsmap and whitespace rules, unigram Viterbi), each piece mapped to its id through
 *   **vocab.json** (a piece it lacks → `<unk>`), `</s>` appended. `<unk>`, `</s>` and `<pad>` in the text are
 *   those tokens.
 * - decode: ids → pieces through vocab.json (target_vocab.json when `separate_vocabs`), special tokens left out
 *   when asked, pieces joined as sentencepiece's decoder does (a control piece is empty; `▁` is a space; the
 *   leading space dropped), as transformers 5 does it: with the source model's piece types for a shared
 *   vocabulary, the target's for separate ones.
 *
 * The result is a tokenizer.json-shaped object (the special tokens as added tokens, a `$A </s>` post-processor)
 * plus {@linkcode TokenizerOverrides} for what that format, as `@huggingface/tokenizers` 0.2.0 reads it, cannot
 * say exactly — its `Precompiled` normalizer ignores the charsmap (NFKC plus fixed rules instead) and its Unigram
 * matches control pieces (`<s>`) against the text — so normalization and segmentation
 * are sentencepiece's own (sentencepiece_normalizer.ts, sentencepiece_unigram.ts); `loadTokenizer` builds a
 * `TextTokenizer` from them.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { ModelFiles } from "./model_files.ts";
import { parseSentencePieceModel, type SentencePieceModel } from "./sentencepiece_model.ts";
import { sentencePieceNormalizer } from "./sentencepiece_normalizer.ts";
import { unigramSegmenter } from "./sentencepiece_unigram.ts";
import type { TokenizerOverrides } from "./tokenizer_overrides.ts";

type Json = Record<string, unknown>;

/** What a `TextTokenizer` is built from. */
export interface MarianTokenizerParts {
  /** A tokenizer.json-shaped object (model, added tokens, post-processor). */
  tokenizerJson: Json;
  /** tokenizer_config.json (or `{}`). */
  tokenizerConfig: Json;
  /** The sentencepiece normalizer, segmenter, vocab.json ids and decoder. */
  overrides: TokenizerOverrides;
}

const META = "\u2581";
/** Python's `str.strip()` whitespace (JavaScript's `trim` differs on U+001C–U+001F, U+0085 and U+FEFF). */
const PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, "g");

function tokenText(value: unknown, fallback: string): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as Json).content === "string") {
    return (value as Json).content as string;
  }
  return fallback;
}

async function readModel(files: ModelFiles, name: string, why: string): Promise<SentencePieceModel> {
  const bytes = await files.readBytesIfPresent(name);
  if (!bytes) throw files.missing(name, why);
  const model = parseSentencePieceModel(bytes, name);
  if (model.modelType !== "unigram") {
    throw new InputError(`${name} is a ${model.modelType.toUpperCase()} sentencepiece model; gpux reads unigram ones`, {
      hint: "Marian / OPUS-MT models use unigram sentencepiece; convert this tokenizer to a tokenizer.json " +
        "(transformers' AutoTokenizer.from_pretrained(...).save_pretrained) and put it beside the model",
    });
  }
  return model;
}

async function readVocab(files: ModelFiles, name: string): Promise<Map<string, number>> {
  const json = await files.readJson(name, "it maps Marian's sentencepiece pieces to the model's ids");
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new InputError(`${name} is not a map of pieces to ids`, {
      hint: "re-download the model (gpux pull --force) or replace the file with the repository's own",
    });
  }
  const vocab = new Map<string, number>();
  for (const [piece, id] of Object.entries(json as Json)) {
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) {
      throw new InputError(`${name}: the id of ${JSON.stringify(piece.slice(0, 30))} is not a whole number ≥ 0`, {
        hint: "re-download the model (gpux pull --force) or replace the file with the repository's own",
      });
    }
    vocab.set(piece, id);
  }
  return vocab;
}

const CLEANUPS: [string, string][] = [
  [" .", "."],
  [" ?", "?"],
  [" !", "!"],
  [" ,", ","],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

/**
 * The tokenizer parts of a Marian folder, or undefined when it has no `source.spm` (then it needs a tokenizer.json).
 *
 * @throws {InputError} a damaged or non-unigram `.spm`, a vocab.json that is not `{piece: id}`, no `<unk>` in it.
 * @throws {NotFoundError} `source.spm` is there but `target.spm` or `vocab.json` is not (exit 3).
 * @example
 * ```ts ignore
 * const parts = await marianTokenizerParts(new ModelFiles(["./opus-mt-en-de"]));
 * ```
 */
export async function marianTokenizerParts(files: ModelFiles): Promise<MarianTokenizerParts | undefined> {
  if (await files.find("source.spm") === undefined) return undefined;
  const config = (await files.readJsonIfPresent("tokenizer_config.json") ?? {}) as Json;
  const source = await readModel(files, "source.spm", "Marian's source sentencepiece model");
  const target = await readModel(files, "target.spm", "Marian's target sentencepiece model");
  const vocab = await readVocab(files, "vocab.json");
  const separate = config.separate_vocabs === true;
  const targetVocab = separate
    ? await readVocab(
      files,
      typeof config.target_vocab_file === "string" &&
        /^[\w.-]+$/.test(config.target_vocab_file)
        ? config.target_vocab_file
        : "target_vocab.json",
    )
    : vocab;
  const unk = tokenText(config.unk_token, "<unk>");
  const eos = tokenText(config.eos_token, "</s>");
  const pad = tokenText(config.pad_token, "<pad>");
  const unkId = vocab.get(unk);
  if (unkId === undefined) {
    throw new InputError(`vocab.json has no ${unk} (the unknown token MarianTokenizer requires)`, {
      hint: "re-download the model (gpux pull --force), or set unk_token in tokenizer_config.json",
    });
  }
  const specials = [unk, eos, pad];
  const specialIds = new Set(specials.map((t) => vocab.get(t) ?? unkId));
  const byId = new Map<number, string>();
  for (const [piece, id] of targetVocab) if (!byId.has(id)) byId.set(id, piece);
  // the pieces' types as the decoding sentencepiece model knows them
  const decodeModel = separate ? target : source;
  const pieceType = new Map(decodeModel.pieces.map((p) => [p.piece, p.type]));
  const decodePieces = (pieces: string[]): string => {
    let text = "";
    for (const piece of pieces) {
      const type = pieceType.get(piece);
      if (type === "control") continue;
      const known = type !== undefined && type !== "unknown";
      text += known && text === "" && piece.startsWith(META) ? piece.slice(1) : piece;
    }
    return text;
  };
  const decode = (ids: readonly number[], skipSpecial: boolean, cleanUp: boolean): string => {
    let out = "";
    let run: string[] = [];
    for (const id of ids) {
      if (skipSpecial && specialIds.has(id)) continue;
      const token = byId.get(id) ?? decodeModel.pieces[id]?.piece ?? unk;
      if (specials.includes(token)) {
        out += decodePieces(run) + token + " ";
        run = [];
      } else run.push(token);
    }
    out += decodePieces(run);
    let text = out.replaceAll(META, " ").replace(PY_STRIP, "");
    if (cleanUp) { for (const [from, to] of CLEANUPS) text = text.replaceAll(from, to); }
    return text;
  };
  const eosId = vocab.get(eos) ?? unkId;
  const added = specials
    .filter((t, i) => specials.indexOf(t) === i && vocab.has(t))
    .map((t) => ({
      id: vocab.get(t)!,
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }));
  const tokenizerJson: Json = {
    version: "1.0",
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
      pair: [
        { Sequence: { id: "A", type_id: 0 } },
        { Sequence: { id: "B", type_id: 0 } },
        { SpecialToken: { id: eos, type_id: 0 } },
      ],
      special_tokens: { [eos]: { id: eos, ids: [eosId], tokens: [eos] } },
    },
    decoder: null,
    // the segmenter and vocabulary overrides replace the model: only its unknown token is read (building the
    // library's Unigram over an OPUS-MT vocabulary's ~60k pieces would cost ~0.3 s a load for nothing)
    model: { type: "Unigram", unk_id: 0, vocab: [[unk, 0]], byte_fallback: false },
  };
  return {
    tokenizerJson,
    tokenizerConfig: config,
    overrides: {
      normalize: sentencePieceNormalizer(source.normalizer, "source.spm", source.treatWhitespaceAsSuffix),
      segment: unigramSegmenter(source),
      vocabulary: vocab,
      idToToken: (id) => byId.get(id),
      leadingToken: (text) => {
        const end = text.startsWith(">>") ? text.indexOf("<<") : -1;
        return end < 0 ? 0 : end + 2;
      },
      decode,
    },
  };
}
