/**
 * The shape a tokenizer.json must have before gpux loads it: the `model` section of each kind (BPE,
 * WordPiece, WordLevel, Unigram) and `added_tokens`.
 *
 * Why it exists: the JavaScript tokenizer library accepts a vocabulary of the wrong shape (a list where a map
 * `{token: id}` belongs, a missing `merges`) and then maps every word to nothing, so a damaged file gave
 * confident answers on empty input. Python `tokenizers` refuses such files; this check refuses the same ones,
 * naming the field, with exit 2. It follows `tokenizers`' serialization, and is lenient only where that library
 * has a documented default (WordPiece's `unk_token`, `continuing_subword_prefix`, `max_input_chars_per_word`; an
 * added token's flags).
 *
 * @module
 */
import { InputError } from "../errors.ts";

type Json = Record<string, unknown>;

const MODEL_TYPES = ["BPE", "WordPiece", "WordLevel", "Unigram"] as const;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "string") {
    return `the string ${JSON.stringify(value.length > 30 ? `${value.slice(0, 30)}…` : value)}`;
  }
  return `${typeof value} ${String(value)}`;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const isU32 = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/**
 * Checks a parsed tokenizer.json's model section and added tokens.
 *
 * @param label names the file in messages (`tokenizer.json`, or its path).
 * @throws {InputError} naming the first field with the wrong shape (exit 2).
 * @example
 * ```ts
 * validateTokenizerJson({ model: { type: "WordLevel", vocab: { a: 0, "[UNK]": 1 }, unk_token: "[UNK]" } });
 * ```
 */
export function validateTokenizerJson(json: unknown, label = "tokenizer.json"): void {
  const fail = (field: string, what: string): never => {
    throw new InputError(`${label}: ${field} ${what}`, {
      hint: "the file is damaged or not a Hugging Face tokenizers file: re-download it (gpux pull --force) or " +
        "re-save it with Python's tokenizers (tokenizer.save)",
    });
  };
  if (!isObject(json)) return fail("the file", `must be a JSON object, got ${describe(json)}`);
  const model = json.model;
  if (model === undefined) fail("model", "is missing");
  if (!isObject(model)) return fail("model", `must be a map, got ${describe(model)}`);
  let type = model.type;
  if (type === undefined) {
    // as tokenizers does for a model without "type": the first kind whose fields it has
    type = Array.isArray(model.vocab)
      ? "Unigram"
      : "merges" in model
      ? "BPE"
      : "unk_token" in model && !("continuing_subword_prefix" in model)
      ? "WordLevel"
      : "WordPiece";
  }
  if (typeof type !== "string" || !(MODEL_TYPES as readonly string[]).includes(type)) {
    fail("model.type", `must be one of ${MODEL_TYPES.join(", ")}, got ${describe(type)}`);
  }
  if (type === "Unigram") checkUnigram(model, fail);
  else checkVocabMap(model, type as string, fail);
  if (type === "BPE") checkMerges(model, fail);
  if (type === "WordLevel" && typeof model.unk_token !== "string") {
    fail("model.unk_token", `must be a string for a WordLevel model, got ${describe(model.unk_token)}`);
  }
  if (type === "WordPiece") {
    if (model.unk_token !== undefined && typeof model.unk_token !== "string") {
      fail("model.unk_token", `must be a string, got ${describe(model.unk_token)}`);
    }
    if (model.continuing_subword_prefix !== undefined && typeof model.continuing_subword_prefix !== "string") {
      fail("model.continuing_subword_prefix", `must be a string, got ${describe(model.continuing_subword_prefix)}`);
    }
    if (model.max_input_chars_per_word !== undefined && !isU32(model.max_input_chars_per_word)) {
      fail("model.max_input_chars_per_word", `must be a whole number, got ${describe(model.max_input_chars_per_word)}`);
    }
  }
  checkAddedTokens(json.added_tokens, fail);
}

type Fail = (field: string, what: string) => never;

function checkVocabMap(model: Json, type: string, fail: Fail): void {
  const vocab = model.vocab;
  if (vocab === undefined) fail("model.vocab", `is missing (a ${type} model needs a map {token: id})`);
  if (!isObject(vocab)) {
    return fail("model.vocab", `must be a map {token: id} for a ${type} model, got ${describe(vocab)}`);
  }
  for (const token in vocab) {
    const id = vocab[token];
    if (!isU32(id)) {
      fail(`model.vocab[${JSON.stringify(token)}]`, `must be a token id (a whole number >= 0), got ${describe(id)}`);
    }
  }
}

function checkMerges(model: Json, fail: Fail): void {
  const merges = model.merges;
  if (merges === undefined) fail("model.merges", "is missing (a BPE model needs its merges, [] for none)");
  if (!Array.isArray(merges)) return fail("model.merges", `must be a list of merges, got ${describe(merges)}`);
  const vocab = model.vocab as Json;
  const prefix = typeof model.continuing_subword_prefix === "string" ? model.continuing_subword_prefix : "";
  for (let i = 0; i < merges.length; i++) {
    const m = merges[i];
    let pair: unknown[];
    if (typeof m === "string") pair = m.split(" ");
    else if (Array.isArray(m)) pair = m;
    else return fail(`model.merges[${i}]`, `must be "a b" or ["a", "b"], got ${describe(m)}`);
    if (pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string" || !pair[0] || !pair[1]) {
      fail(`model.merges[${i}]`, `must be two tokens, "a b" or ["a", "b"], got ${JSON.stringify(m).slice(0, 60)}`);
    }
    const [a, b] = pair as [string, string];
    const merged = a + (prefix && b.startsWith(prefix) ? b.slice(prefix.length) : b);
    for (const token of [a, b, merged]) {
      if (!Object.hasOwn(vocab, token)) {
        fail(`model.merges[${i}]`, `uses ${JSON.stringify(token)}, which is not in model.vocab`);
      }
    }
  }
}

function checkUnigram(model: Json, fail: Fail): void {
  const vocab = model.vocab;
  if (vocab === undefined) fail("model.vocab", "is missing (a Unigram model needs a list of [token, score] pairs)");
  if (!Array.isArray(vocab)) {
    return fail("model.vocab", `must be a list of [token, score] pairs for a Unigram model, got ${describe(vocab)}`);
  }
  for (let i = 0; i < vocab.length; i++) {
    const entry = vocab[i];
    if (
      !Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" || typeof entry[1] !== "number"
    ) {
      fail(`model.vocab[${i}]`, `must be a [token, score] pair, got ${JSON.stringify(entry)?.slice(0, 60)}`);
    }
  }
  const unk = model.unk_id;
  if (unk !== undefined && unk !== null && !(isU32(unk) && (unk as number) < vocab.length)) {
    fail("model.unk_id", `must be an index into model.vocab (0 to ${vocab.length - 1}), got ${describe(unk)}`);
  }
}

function checkAddedTokens(added: unknown, fail: Fail): void {
  if (added === undefined || added === null) return;
  if (!Array.isArray(added)) return fail("added_tokens", `must be a list of tokens, got ${describe(added)}`);
  for (let i = 0; i < added.length; i++) {
    const t = added[i];
    if (!isObject(t)) return fail(`added_tokens[${i}]`, `must be a map {id, content, …}, got ${describe(t)}`);
    if (!isU32(t.id)) fail(`added_tokens[${i}].id`, `must be a token id (a whole number >= 0), got ${describe(t.id)}`);
    if (typeof t.content !== "string") {
      fail(`added_tokens[${i}].content`, `must be a string, got ${describe(t.content)}`);
    }
    for (const flag of ["single_word", "lstrip", "rstrip", "normalized", "special"]) {
      if (t[flag] !== undefined && typeof t[flag] !== "boolean") {
        fail(`added_tokens[${i}].${flag}`, `must be true or false, got ${describe(t[flag])}`);
      }
    }
  }
}
