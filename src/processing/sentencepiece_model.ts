/**
 * Reads a sentencepiece model file (`source.spm`, `target.spm`, `spiece.model`): a protobuf `ModelProto` with the
 * pieces (text, score, type), the trainer's model type and the normalizer (rule name, precompiled charsmap,
 * whitespace rules). OPUS-MT / Marian repositories ship these instead of a tokenizer.json.
 *
 * Why our own wire-format reader: only six fields of three messages are read, and the file is untrusted — every
 * length and varint is checked against the bytes left, so a truncated or garbage file is one {@linkcode InputError}
 * (exit 2) naming it, never an out-of-range read. A generic protobuf library would add a dependency (and its
 * schema compiler) for ~50 lines of a documented wire format.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** A piece's type (sentencepiece's `SentencePiece.Type`). */
export type PieceType = "normal" | "unknown" | "control" | "user_defined" | "unused" | "byte";

/** One vocabulary entry. */
export interface SentencePiece {
  /** The piece's text (`▁the`, `s`, `<unk>`). */
  piece: string;
  /** Its log-probability (unigram); higher is likelier. */
  score: number;
  /** Its type. */
  type: PieceType;
}

/** The normalizer section (`NormalizerSpec`). */
export interface SentencePieceNormalizerSpec {
  /** Rule name (`nmt_nfkc`, `identity`, …). */
  name: string;
  /** The compiled normalization rules (a double-array trie and its replacement strings); empty: none. */
  precompiledCharsmap: Uint8Array;
  /** Put `▁` before the text (default true). */
  addDummyPrefix: boolean;
  /** Drop leading and trailing spaces and collapse runs (default true). */
  removeExtraWhitespaces: boolean;
  /** Write spaces as `▁` (default true). */
  escapeWhitespaces: boolean;
}

/** A parsed sentencepiece model. */
export interface SentencePieceModel {
  /** Pieces by id. */
  pieces: SentencePiece[];
  /** `unigram`, `bpe`, `word` or `char`. */
  modelType: "unigram" | "bpe" | "word" | "char";
  /** Id of the unknown piece. */
  unkId: number;
  /** Whether unknown characters become byte pieces (`<0x41>`). */
  byteFallback: boolean;
  /** Whether `▁` ends words instead of starting them. */
  treatWhitespaceAsSuffix: boolean;
  /** How text is normalized before segmentation. */
  normalizer: SentencePieceNormalizerSpec;
}

const PIECE_TYPES: Record<number, PieceType> = {
  1: "normal",
  2: "unknown",
  3: "control",
  4: "user_defined",
  5: "unused",
  6: "byte",
};
const MODEL_TYPES = { 1: "unigram", 2: "bpe", 3: "word", 4: "char" } as const;

class Truncated extends Error {}

/** Walks one protobuf message: calls `field` with each field number, wire type, and a reader positioned at its value. */
class WireReader {
  #bytes: Uint8Array;
  #pos: number;
  #end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.#bytes = bytes;
    this.#pos = start;
    this.#end = end;
  }

  varint(): number {
    let value = 0, scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.#end) throw new Truncated("a number runs past the end");
      const b = this.#bytes[this.#pos++];
      value += (b & 0x7f) * scale; // exact up to 2^53; larger values (negative int32s) only get skipped
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Truncated("a number is longer than 10 bytes");
  }

  /** A length-delimited value's [start, end). */
  span(): [number, number] {
    const length = this.varint();
    if (length > this.#end - this.#pos) throw new Truncated("a field's length runs past the end");
    const start = this.#pos;
    this.#pos += length;
    return [start, this.#pos];
  }

  float32(): number {
    if (this.#end - this.#pos < 4) throw new Truncated("a score runs past the end");
    const value = new DataView(this.#bytes.buffer, this.#bytes.byteOffset + this.#pos, 4).getFloat32(0, true);
    this.#pos += 4;
    return value;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.span();
    else if (wireType === 1 || wireType === 5) {
      const n = wireType === 1 ? 8 : 4;
      if (this.#end - this.#pos < n) throw new Truncated("a field runs past the end");
      this.#pos += n;
    } else throw new Truncated(`wire type ${wireType} is not a field`);
  }

  fields(each: (field: number, wireType: number, reader: WireReader) => boolean | void): void {
    while (this.#pos < this.#end) {
      const key = this.varint();
      const field = Math.floor(key / 8), wireType = key % 8;
      if (field === 0) throw new Truncated("field number 0");
      if (each(field, wireType, this) !== true) this.skip(wireType);
    }
  }

  text([start, end]: [number, number]): string {
    return new TextDecoder("utf-8", { fatal: true }).decode(this.#bytes.subarray(start, end));
  }

  bytes([start, end]: [number, number]): Uint8Array {
    return this.#bytes.slice(start, end);
  }

  sub([start, end]: [number, number]): WireReader {
    return new WireReader(this.#bytes, start, end);
  }
}

/**
 * Parses a sentencepiece `ModelProto`.
 *
 * @param bytes the file's bytes.
 * @param label names the file in messages.
 * @throws {InputError} the bytes are not a sentencepiece model (truncated, garbage, no pieces, a bad unk id).
 * @example
 * ```ts ignore
 * const model = parseSentencePieceModel(await Deno.readFile("source.spm"), "source.spm");
 * model.pieces[model.unkId].piece; // "<unk>"
 * ```
 */
export function parseSentencePieceModel(bytes: Uint8Array, label: string): SentencePieceModel {
  const model: SentencePieceModel = {
    pieces: [],
    modelType: "unigram",
    unkId: 0,
    byteFallback: false,
    treatWhitespaceAsSuffix: false,
    normalizer: {
      name: "",
      precompiledCharsmap: new Uint8Array(0),
      addDummyPrefix: true,
      removeExtraWhitespaces: true,
      escapeWhitespaces: true,
    },
  };
  let trainerUnkId: number | undefined;
  let badModelType: number | undefined;
  try {
    new WireReader(bytes).fields((field, wire, r) => {
      if (field === 1 && wire === 2) { // SentencePiece
        const entry: SentencePiece = { piece: "", score: 0, type: "normal" };
        r.sub(r.span()).fields((f, w, p) => {
          if (f === 1 && w === 2) entry.piece = p.text(p.span());
          else if (f === 2 && w === 5) entry.score = p.float32();
          else if (f === 3 && w === 0) entry.type = PIECE_TYPES[p.varint()] ?? "normal";
          else return false;
          return true;
        });
        model.pieces.push(entry);
      } else if (field === 2 && wire === 2) { // TrainerSpec
        r.sub(r.span()).fields((f, w, t) => {
          if (w !== 0) return false;
          const v = t.varint();
          if (f === 3) {
            const type = MODEL_TYPES[v as keyof typeof MODEL_TYPES];
            if (type) model.modelType = type;
            else badModelType = v;
          } else if (f === 24) model.treatWhitespaceAsSuffix = v !== 0;
          else if (f === 35) model.byteFallback = v !== 0;
          else if (f === 40) trainerUnkId = v;
          return true;
        });
      } else if (field === 3 && wire === 2) { // NormalizerSpec
        const n = model.normalizer;
        r.sub(r.span()).fields((f, w, s) => {
          if (f === 1 && w === 2) n.name = s.text(s.span());
          else if (f === 2 && w === 2) n.precompiledCharsmap = s.bytes(s.span());
          else if (f === 3 && w === 0) n.addDummyPrefix = s.varint() !== 0;
          else if (f === 4 && w === 0) n.removeExtraWhitespaces = s.varint() !== 0;
          else if (f === 5 && w === 0) n.escapeWhitespaces = s.varint() !== 0;
          else return false;
          return true;
        });
      } else return false;
      return true;
    });
  } catch (error) {
    if (!(error instanceof Truncated) && !(error instanceof TypeError)) throw error;
    throw notAModel(label, error.message);
  }
  if (badModelType !== undefined) throw notAModel(label, `unknown model type ${badModelType}`);
  if (model.pieces.length === 0) throw notAModel(label, "it has no pieces");
  const unk = model.pieces.findIndex((p) => p.type === "unknown");
  model.unkId = unk >= 0 ? unk : trainerUnkId ?? 0;
  if (model.unkId >= model.pieces.length) {
    throw notAModel(label, `its unknown piece id ${model.unkId} is past its ${model.pieces.length} pieces`);
  }
  return model;
}

function notAModel(label: string, why: string): InputError {
  return new InputError(`${label} is not a sentencepiece model (${why})`, {
    hint: "re-download the model (gpux pull --force) or replace the file with the repository's own",
  });
}
