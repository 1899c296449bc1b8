/**
 * JSON mode: the output is held to valid JSON (to a schema where one is given) by masking tokens during
 * decoding, never by hoping. Each candidate token's bytes (from {@linkcode tokenByteTable}, built once per
 * tokenizer) are fed to a copy of the row's {@linkcode JsonMachine}; the sampler asks about its best candidates
 * first (greedy: in descending logit order; sampling: its top-k window), and only when none is allowed is the
 * whole vocabulary masked — visiting only the tokens whose first byte may come next.
 *
 * The row ends (finish reason `stop`) as soon as the value is complete; an EOS id is allowed only then (or
 * after a top-level number). Near the end of the token budget, a token is allowed only if the value can still
 * be closed in the tokens left (one byte per token at worst), so a row cut by its budget is still valid JSON.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TextTokenizer } from "../processing/tokenizer.ts";
import type { SequenceConstraint } from "./decode_loop.ts";
import { JsonMachine } from "./json_machine.ts";
import { anyObject, compileJsonSchema, type SchemaNode } from "./json_schema_subset.ts";
import { type TokenByteTable, tokenByteTable } from "./token_bytes.ts";

/** The answer's format: free text, any JSON object, or JSON following a schema (the OpenAI/Ollama shapes). */
export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; schema: Record<string, unknown> | boolean };

/** Near the end of the budget (this many bytes of completion or fewer to spare) every candidate's completion is checked. */
const BUDGET_MARGIN = 128;

/** The vocabulary sorted by bytes, with each token's common prefix length with the one before: a trie, flat. */
interface SortedVocabulary {
  order: Int32Array;
  lcp: Int32Array;
}

const sortedVocabularies = new WeakMap<TokenByteTable, SortedVocabulary>();
const plainTables = new WeakMap<TokenByteTable, Uint8Array>();

/** Tokens that are plain string text: whole UTF-8 characters, no quote, backslash or control byte. */
function plainTokens(table: TokenByteTable): Uint8Array {
  let plain = plainTables.get(table);
  if (plain) return plain;
  plain = new Uint8Array(table.bytes.length);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  table.bytes.forEach((bytes, id) => {
    if (!bytes || !bytes.length || bytes.some((b) => b < 0x20 || b === 0x22 || b === 0x5c)) return;
    try {
      decoder.decode(bytes);
      plain![id] = 1;
    } catch { /* half a character */ }
  });
  plainTables.set(table, plain);
  return plain;
}

/** Near the end of the budget, a full scan keeps at most this many tokens (the best by logit) that can still close. */
const CLOSING_WINDOW = 64;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Built once per table: a full scan then walks shared prefixes once and skips every token under a rejected prefix. */
function sortedVocabulary(table: TokenByteTable): SortedVocabulary {
  let v = sortedVocabularies.get(table);
  if (v) return v;
  const ids: number[] = [];
  table.bytes.forEach((bytes, id) => {
    if (bytes && bytes.length) ids.push(id);
  });
  ids.sort((a, b) => compareBytes(table.bytes[a]!, table.bytes[b]!));
  const lcp = new Int32Array(ids.length);
  for (let i = 1; i < ids.length; i++) {
    const a = table.bytes[ids[i - 1]]!, b = table.bytes[ids[i]]!;
    let n = 0;
    while (n < a.length && n < b.length && a[n] === b[n]) n++;
    lcp[i] = n;
  }
  v = { order: Int32Array.from(ids), lcp };
  sortedVocabularies.set(table, v);
  return v;
}

/**
 * The schema node of a response format, or undefined for free text.
 *
 * @throws {InputError} an unknown format type, or a schema keyword JSON mode cannot enforce.
 */
export function responseFormatNode(format: ResponseFormat | undefined): SchemaNode | undefined {
  if (!format || format.type === "text") return undefined;
  if (format.type === "json_object") return anyObject();
  if (format.type === "json_schema") return compileJsonSchema(format.schema);
  throw new InputError(`unknown response format ${JSON.stringify((format as { type: unknown }).type)}`, {
    hint: 'use {"type": "text"}, {"type": "json_object"} or {"type": "json_schema", "schema": {...}}',
  });
}

/** A JSON constraint for one row. */
class JsonConstraint implements SequenceConstraint {
  #machine: JsonMachine;
  #table: TokenByteTable;
  #eos: ReadonlySet<number>;
  #remaining = Infinity;
  #needed = 0;
  #broken = false;
  #relaxed = false; // the budget cannot be met whatever is chosen: best effort

  constructor(root: SchemaNode, table: TokenByteTable, eos: ReadonlySet<number>) {
    this.#machine = new JsonMachine(root);
    this.#table = table;
    this.#eos = eos;
  }

  get complete(): boolean {
    return this.#machine.complete || this.#broken;
  }

  prepare(remaining: number): void {
    this.#remaining = remaining;
    this.#needed = this.#machine.completion().length;
  }

  allows(id: number): boolean {
    if (this.#eos.has(id)) return this.#machine.canEnd;
    const bytes = this.#table.bytes[id];
    if (!bytes || bytes.length === 0) return false;
    if (this.#machine.inPlainString && plainTokens(this.#table)[id] && !this.#nearEnd()) return true;
    const next = this.#machine.clone();
    return next.feedAll(bytes) && this.#fitsBudget(next);
  }

  #nearEnd(): boolean {
    return !this.#relaxed && this.#remaining - 1 - this.#needed <= BUDGET_MARGIN;
  }

  /** Near the end of the budget: the value can still be closed in the tokens left (one byte per token at worst). */
  #fitsBudget(next: JsonMachine): boolean {
    const left = this.#remaining - 1;
    if (this.#relaxed || left - this.#needed > BUDGET_MARGIN || next.complete) return true;
    return next.completion().length <= left;
  }

  maskAll(logits: Float32Array): void {
    const keep = this.#allowed(logits.length);
    if (this.#nearEnd()) {
      // only the best few that can still close in time: checking every token's completion would take seconds
      const ids: number[] = [];
      for (let i = 0; i < keep.length; i++) if (keep[i]) ids.push(i);
      ids.sort((a, b) => logits[b] - logits[a]);
      keep.fill(0);
      let found = 0;
      for (const id of ids) {
        if (found >= CLOSING_WINDOW) break;
        const bytes = this.#table.bytes[id];
        if (this.#eos.has(id) || !bytes) {
          keep[id] = 1;
          found++;
          continue;
        }
        const next = this.#machine.clone();
        if (next.feedAll(bytes) && this.#fitsBudget(next)) {
          keep[id] = 1;
          found++;
        }
      }
      // no token leaves room to close the value in the budget (the schema needs more): best effort
      if (found === 0) {
        this.#relaxed = true;
        for (const id of ids) keep[id] = 1;
      }
    }
    for (let i = 0; i < logits.length; i++) if (!keep[i]) logits[i] = -Infinity;
  }

  /** Every token the grammar allows next (the budget aside). */
  #allowed(vocab: number): Uint8Array {
    const keep = new Uint8Array(vocab);
    if (this.#machine.inPlainString) {
      const plain = plainTokens(this.#table);
      for (let id = 0; id < vocab; id++) {
        if (plain[id]) keep[id] = 1;
        else if (this.#table.bytes[id]?.length && this.#machine.clone().feedAll(this.#table.bytes[id]!)) keep[id] = 1;
      }
      return keep;
    }
    const { order, lcp } = sortedVocabulary(this.#table);
    // states[d]: the machine after the first d bytes of the current token
    const states: JsonMachine[] = [this.#machine];
    for (let i = 0; i < order.length;) {
      const id = order[i];
      const bytes = this.#table.bytes[id]!;
      let d = Math.min(lcp[i], states.length - 1);
      states.length = d + 1;
      let rejected = false;
      for (; d < bytes.length; d++) {
        const next = states[d].clone();
        if (!next.feed(bytes[d])) {
          rejected = true;
          break;
        }
        states.push(next);
      }
      i++;
      if (rejected) {
        while (i < order.length && lcp[i] > d) i++; // every token starting with the rejected prefix
        continue;
      }
      if (id < keep.length) keep[id] = 1;
    }
    for (const id of this.#eos) if (id < keep.length && this.#machine.canEnd) keep[id] = 1;
    return keep;
  }

  accept(id: number): void {
    if (this.#eos.has(id)) return;
    const bytes = this.#table.bytes[id];
    // a token no rule allowed (every logit masked): stop rather than emit more
    if (!bytes || !this.#machine.feedAll(bytes)) this.#broken = true;
  }
}

/**
 * A factory of per-row JSON constraints for the decode loop (`vocab`: the logits' width), or undefined for text.
 *
 * @throws {InputError} the format or schema cannot be enforced.
 */
export function jsonConstraintFactory(
  format: ResponseFormat | undefined,
  tokenizer: TextTokenizer,
  eosTokenIds: readonly number[],
): ((vocab: number) => SequenceConstraint) | undefined {
  const root = responseFormatNode(format);
  if (!root) return undefined;
  const eos = new Set(eosTokenIds);
  return (vocab) => new JsonConstraint(root, tokenByteTable(tokenizer, vocab), eos);
}
