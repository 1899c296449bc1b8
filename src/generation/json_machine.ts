/**
 * An incremental JSON recogniser over bytes (a pushdown automaton), optionally held to a compiled schema
 * ({@linkcode SchemaNode}): JSON mode feeds it each candidate token's bytes to learn whether the token may come
 * next, and the chosen token's bytes to advance. It works on bytes rather than characters because byte-level
 * tokens split UTF-8 characters; inside strings it checks that the bytes form valid UTF-8 and that escapes are
 * JSON's.
 *
 * It also knows the shortest way to finish ({@linkcode JsonMachine.completion}), so that a generation close to
 * its token budget can still close every string, array and object, and it bounds runs of whitespace between
 * tokens so that a model cannot loop on spaces.
 *
 * @module
 */
import { ANY, type SchemaNode, startClasses } from "./json_schema_subset.ts";

/** Whitespace bytes allowed in a row between structural characters (enough for indented pretty-printing). */
export const MAX_WHITESPACE_RUN = 24;
/** Characters a number may have. */
const MAX_NUMBER_LENGTH = 40;

type ObjectNode = Extract<SchemaNode, { kind: "object" }>;
type ArrayNode = Extract<SchemaNode, { kind: "array" }>;

interface StringState {
  /** 0: plain; 1: after a backslash; 2–5: hex digits of a \u escape still to come (5 = four). */
  esc: number;
  /** UTF-8 continuation bytes still to come. */
  cont: number;
  /** The range the next continuation byte must be in. */
  lo: number;
  hi: number;
}

type Frame =
  | { t: "value"; node: SchemaNode }
  | { t: "object"; node: ObjectNode; phase: "first" | "key" | "colon" | "after"; seen: string[]; key?: string }
  | { t: "key"; obj: ObjectNode; seen: readonly string[]; buf: number[]; s: StringState }
  | { t: "array"; node: ArrayNode; phase: "first" | "value" | "after"; count: number }
  | { t: "string"; s: StringState }
  | { t: "number"; integer: boolean; state: number; len: number }
  | { t: "literal"; texts: Uint8Array[]; alive: number[]; len: number };

// number states
const N_START = 0, N_SIGN = 1, N_ZERO = 2, N_INT = 3, N_DOT = 4, N_FRAC = 5, N_E = 6, N_ESIGN = 7, N_EXP = 8;
const NUMBER_ENDS = new Set([N_ZERO, N_INT, N_FRAC, N_EXP]);

const encoder = new TextEncoder();
const QUOTE = 0x22, BACKSLASH = 0x5c;
const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isHex = (b: number) => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);

function freshString(): StringState {
  return { esc: 0, cont: 0, lo: 0x80, hi: 0xbf };
}

/** Advances a string's state by a byte (not the closing quote); false when the byte cannot be there. */
function stringByte(s: StringState, b: number): boolean {
  if (s.cont > 0) {
    if (b < s.lo || b > s.hi) return false;
    s.cont--;
    s.lo = 0x80;
    s.hi = 0xbf;
    return true;
  }
  if (s.esc === 1) {
    if (b === 0x75) s.esc = 5;
    else if ([QUOTE, BACKSLASH, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74].includes(b)) s.esc = 0;
    else return false;
    return true;
  }
  if (s.esc >= 2) {
    if (!isHex(b)) return false;
    s.esc = s.esc === 2 ? 0 : s.esc - 1;
    return true;
  }
  if (b === BACKSLASH) {
    s.esc = 1;
    return true;
  }
  if (b < 0x20) return false;
  if (b < 0x80) return true;
  // a UTF-8 lead byte, with the range of its first continuation byte (no overlongs, no surrogates)
  if (b >= 0xc2 && b <= 0xdf) s.cont = 1;
  else if (b === 0xe0) [s.cont, s.lo] = [2, 0xa0];
  else if (b === 0xed) [s.cont, s.hi] = [2, 0x9f];
  else if (b >= 0xe1 && b <= 0xef) s.cont = 2;
  else if (b === 0xf0) [s.cont, s.lo] = [3, 0x90];
  else if (b === 0xf4) [s.cont, s.hi] = [3, 0x8f];
  else if (b >= 0xf1 && b <= 0xf3) s.cont = 3;
  else return false;
  return true;
}

const stringOpen = (s: StringState) => s.esc !== 0 || s.cont > 0;

function stringFinish(s: StringState): number {
  if (s.cont > 0) return s.lo;
  if (s.esc === 1) return 0x6e; // \n
  if (s.esc >= 2) return 0x30;
  return QUOTE;
}

function numberNext(state: number, b: number, integer: boolean): number {
  const digit = isDigit(b);
  switch (state) {
    case N_START:
      return b === 0x2d ? N_SIGN : b === 0x30 ? N_ZERO : digit ? N_INT : -1;
    case N_SIGN:
      return b === 0x30 ? N_ZERO : digit ? N_INT : -1;
    case N_ZERO:
    case N_INT:
      if (digit) return state === N_INT ? N_INT : -1;
      if (integer) return -1;
      return b === 0x2e ? N_DOT : b === 0x65 || b === 0x45 ? N_E : -1;
    case N_DOT:
      return digit ? N_FRAC : -1;
    case N_FRAC:
      return digit ? N_FRAC : b === 0x65 || b === 0x45 ? N_E : -1;
    case N_E:
      return b === 0x2b || b === 0x2d ? N_ESIGN : digit ? N_EXP : -1;
    case N_ESIGN:
    case N_EXP:
      return digit ? N_EXP : -1;
  }
  return -1;
}

const minLengths = new WeakMap<SchemaNode, number>();

/** The length of the shortest JSON text a node accepts. */
function minLength(node: SchemaNode): number {
  const known = minLengths.get(node);
  if (known !== undefined) return known;
  let n: number;
  switch (node.kind) {
    case "any":
    case "number":
      n = 1;
      break;
    case "string":
      n = 2;
      break;
    case "boolean":
    case "null":
      n = 4;
      break;
    case "literal":
      n = Math.min(...node.texts.map((t) => encoder.encode(t).length));
      break;
    case "array":
      n = 2 + node.minItems * (minLength(node.items) + 1);
      break;
    case "object":
      n = 2;
      for (const k of node.required) {
        n += encoder.encode(JSON.stringify(k)).length + 2 + minLength(node.properties.get(k) ?? ANY);
      }
      break;
    case "union":
      n = Math.min(...node.options.map(minLength));
      break;
  }
  minLengths.set(node, n);
  return n;
}

function byteClass(b: number): string {
  return b === 0x2d || isDigit(b) ? "0" : String.fromCharCode(b);
}

const ANY_OBJECT: ObjectNode = { kind: "object", properties: new Map(), required: [], additional: ANY };
const ANY_ARRAY: ArrayNode = { kind: "array", items: ANY, minItems: 0, maxItems: Infinity };
const BOOLEAN_TEXTS = [encoder.encode("true"), encoder.encode("false")];
const NULL_TEXTS = [encoder.encode("null")];

/** The frame a value of `node` starting with byte `b` opens, and whether `b` was its first byte (consumed). */
function open(node: SchemaNode, b: number): [Frame, boolean] | undefined {
  switch (node.kind) {
    case "any": {
      if (b === 0x7b) return open(ANY_OBJECT, b);
      if (b === 0x5b) return open(ANY_ARRAY, b);
      if (b === QUOTE) return open({ kind: "string" }, b);
      if (b === 0x2d || isDigit(b)) return open({ kind: "number", integer: false }, b);
      if (b === 0x74 || b === 0x66) return open({ kind: "boolean" }, b);
      if (b === 0x6e) return open({ kind: "null" }, b);
      return undefined;
    }
    case "object":
      return b === 0x7b ? [{ t: "object", node, phase: "first", seen: [] }, true] : undefined;
    case "array":
      return b === 0x5b ? [{ t: "array", node, phase: "first", count: 0 }, true] : undefined;
    case "string":
      return b === QUOTE ? [{ t: "string", s: freshString() }, true] : undefined;
    case "number":
      return b === 0x2d || isDigit(b)
        ? [{ t: "number", integer: node.integer, state: N_START, len: 0 }, false]
        : undefined;
    case "boolean":
      return literal(BOOLEAN_TEXTS, b);
    case "null":
      return literal(NULL_TEXTS, b);
    case "literal":
      return literal(node.texts.map((t) => encoder.encode(t)), b);
    case "union": {
      const cls = byteClass(b);
      const option = node.options.find((o) => startClasses(o).has(cls));
      return option ? open(option, b) : undefined;
    }
  }
}

function literal(texts: Uint8Array[], b: number): [Frame, boolean] | undefined {
  const alive = texts.flatMap((t, i) => t[0] === b ? [i] : []);
  return alive.length ? [{ t: "literal", texts, alive: texts.map((_, i) => i), len: 0 }, false] : undefined;
}

function minimalStart(node: SchemaNode): number {
  switch (node.kind) {
    case "any":
    case "number":
      return 0x30;
    case "object":
      return 0x7b;
    case "array":
      return 0x5b;
    case "string":
      return QUOTE;
    case "boolean":
      return 0x74;
    case "null":
      return 0x6e;
    case "literal": {
      const shortest = node.texts.reduce((a, t) => encoder.encode(t).length < encoder.encode(a).length ? t : a);
      return encoder.encode(shortest)[0];
    }
    case "union": {
      const best = node.options.reduce((a, o) => minLength(o) < minLength(a) ? o : a);
      return minimalStart(best);
    }
  }
}

function cloneFrame(f: Frame): Frame {
  switch (f.t) {
    case "object":
      return { ...f, seen: f.seen.slice() };
    case "key":
      return { ...f, buf: f.buf.slice(), s: { ...f.s } };
    case "string":
      return { t: "string", s: { ...f.s } };
    case "literal":
      return { ...f, alive: f.alive.slice() };
    default:
      return { ...f };
  }
}

/** The byte texts a restricted key may still become (its JSON text after the opening quote). */
function keyCandidates(obj: ObjectNode, seen: readonly string[]): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  for (const k of obj.properties.keys()) {
    if (!seen.includes(k)) out.push([k, encoder.encode(JSON.stringify(k).slice(1))]);
  }
  return out;
}

function startsWith(text: Uint8Array, prefix: readonly number[]): boolean {
  if (text.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (text[i] !== prefix[i]) return false;
  return true;
}

/** An incremental JSON recogniser (see the module doc). */
export class JsonMachine {
  #stack: Frame[];
  #ws = 0;
  #done = false;

  /** A recogniser of one JSON value accepted by `root` (default: any value). */
  constructor(root: SchemaNode = ANY, stack?: Frame[]) {
    this.#stack = stack ?? [{ t: "value", node: root }];
  }

  /** An independent copy (to try bytes on). */
  clone(): JsonMachine {
    const copy = new JsonMachine(ANY, this.#stack.map(cloneFrame));
    copy.#ws = this.#ws;
    copy.#done = this.#done;
    return copy;
  }

  /** True once a whole value has been read (only whitespace may follow). */
  get complete(): boolean {
    return this.#done;
  }

  /** True inside a string (or a free object key) with no escape or UTF-8 character half done: any plain text may follow. */
  get inPlainString(): boolean {
    const f = this.#stack[this.#stack.length - 1];
    return (f?.t === "string" || (f?.t === "key" && f.obj.additional !== false)) && !stringOpen(f.s);
  }

  /** True when the text so far is a whole value (also a top-level number that could still grow). */
  get canEnd(): boolean {
    if (this.#done) return true;
    if (this.#stack.length !== 1) return false;
    const f = this.#stack[0];
    if (f.t === "number") return NUMBER_ENDS.has(f.state);
    if (f.t === "literal") return f.alive.some((i) => f.texts[i].length === f.len);
    return false;
  }

  /** Feeds bytes; false as soon as one cannot come next (the machine is then unusable: feed a clone). */
  feedAll(bytes: Uint8Array): boolean {
    for (let i = 0; i < bytes.length; i++) if (!this.feed(bytes[i])) return false;
    return true;
  }

  #space(): boolean {
    if (this.#ws >= MAX_WHITESPACE_RUN) return false;
    this.#ws++;
    return true;
  }

  #pop(): void {
    this.#stack.pop();
    if (this.#stack.length === 0) this.#done = true;
  }

  /** Feeds one byte; false when it cannot come next. */
  feed(b: number): boolean {
    if (this.#done) return isWs(b) && this.#space();
    for (let guard = 0; guard < 64; guard++) {
      const f = this.#stack[this.#stack.length - 1];
      switch (f.t) {
        case "value": {
          if (isWs(b)) return this.#space();
          const opened = open(f.node, b);
          if (!opened) return false;
          this.#stack[this.#stack.length - 1] = opened[0];
          if (opened[1]) {
            this.#ws = 0;
            return true;
          }
          continue;
        }
        case "object":
          if (isWs(b)) return this.#space();
          this.#ws = 0;
          return this.#objectByte(f, b);
        case "key":
          return this.#keyByte(f, b);
        case "array": {
          if (isWs(b)) return this.#space();
          const node = f.node;
          if (f.phase === "after") {
            this.#ws = 0;
            if (b === 0x2c && f.count < node.maxItems) {
              f.phase = "value";
              return true;
            }
            if (b === 0x5d && f.count >= node.minItems) {
              this.#pop();
              return true;
            }
            return false;
          }
          if (f.phase === "first" && b === 0x5d) {
            if (node.minItems > 0) return false;
            this.#ws = 0;
            this.#pop();
            return true;
          }
          if (f.count >= node.maxItems) return false;
          f.count++;
          f.phase = "after";
          this.#stack.push({ t: "value", node: node.items });
          continue;
        }
        case "string":
          this.#ws = 0;
          if (b === QUOTE && !stringOpen(f.s)) {
            this.#pop();
            return true;
          }
          return stringByte(f.s, b);
        case "number": {
          const next = f.len < MAX_NUMBER_LENGTH ? numberNext(f.state, b, f.integer) : -1;
          if (next >= 0) {
            f.state = next;
            f.len++;
            this.#ws = 0;
            return true;
          }
          if (!NUMBER_ENDS.has(f.state)) return false;
          this.#pop();
          if (this.#done) return isWs(b) && this.#space();
          continue;
        }
        case "literal": {
          const alive = f.alive.filter((i) => f.texts[i][f.len] === b);
          if (alive.length) {
            f.alive = alive;
            f.len++;
            this.#ws = 0;
            if (alive.every((i) => f.texts[i].length === f.len)) this.#pop();
            return true;
          }
          if (!f.alive.some((i) => f.texts[i].length === f.len)) return false;
          this.#pop();
          if (this.#done) return isWs(b) && this.#space();
          continue;
        }
      }
    }
    return false;
  }

  #missingRequired(f: Extract<Frame, { t: "object" }>): string | undefined {
    return f.node.required.find((k) => !f.seen.includes(k));
  }

  #canAddKey(f: Extract<Frame, { t: "object" }>): boolean {
    if (f.node.additional !== false) return true;
    for (const k of f.node.properties.keys()) if (!f.seen.includes(k)) return true;
    return false;
  }

  #objectByte(f: Extract<Frame, { t: "object" }>, b: number): boolean {
    switch (f.phase) {
      case "first":
      case "key":
        if (b === QUOTE && this.#canAddKey(f)) {
          f.phase = "colon";
          this.#stack.push({ t: "key", obj: f.node, seen: f.seen, buf: [], s: freshString() });
          return true;
        }
        if (b === 0x7d && f.phase === "first" && !this.#missingRequired(f)) {
          this.#pop();
          return true;
        }
        return false;
      case "colon":
        if (b !== 0x3a) return false;
        f.phase = "after";
        this.#stack.push({
          t: "value",
          node: f.node.properties.get(f.key!) ?? (f.node.additional === false ? ANY : f.node.additional),
        });
        return true;
      case "after":
        if (b === 0x2c && this.#canAddKey(f)) {
          f.phase = "key";
          return true;
        }
        if (b === 0x7d && !this.#missingRequired(f)) {
          this.#pop();
          return true;
        }
        return false;
    }
  }

  #keyByte(f: Extract<Frame, { t: "key" }>, b: number): boolean {
    this.#ws = 0;
    const parent = this.#stack[this.#stack.length - 2] as Extract<Frame, { t: "object" }>;
    if (f.obj.additional === false) {
      const buf = [...f.buf, b];
      const matches = keyCandidates(f.obj, f.seen).filter(([, text]) => startsWith(text, buf));
      if (!matches.length) return false;
      f.buf = buf;
      const whole = matches.find(([, text]) => text.length === buf.length);
      if (whole) {
        parent.key = whole[0];
        parent.seen.push(whole[0]);
        this.#stack.pop();
      }
      return true;
    }
    if (b === QUOTE && !stringOpen(f.s)) {
      let key: string;
      try {
        key = JSON.parse(`"${new TextDecoder().decode(new Uint8Array(f.buf))}"`);
      } catch {
        return false;
      }
      if (parent.seen.includes(key)) return false; // no duplicate keys
      parent.key = key;
      parent.seen.push(key);
      this.#stack.pop();
      return true;
    }
    if (!stringByte(f.s, b)) return false;
    f.buf.push(b);
    return true;
  }

  /** The shortest bytes that finish the value from here ([] when it is whole). */
  completion(): number[] {
    const m = this.clone();
    const out: number[] = [];
    for (let guard = 0; guard < 100_000 && !m.#done && !(m.#stack.length === 1 && m.canEnd); guard++) {
      const next = m.#minimalNext();
      if (next === undefined) {
        m.#pop();
        continue;
      }
      if (!m.feed(next)) break; // cannot happen for a consistent schema; stop rather than loop
      out.push(next);
    }
    return out;
  }

  /** The byte that leads fastest to the end, or undefined when the top frame may end here. */
  #minimalNext(): number | undefined {
    const f = this.#stack[this.#stack.length - 1];
    switch (f.t) {
      case "value":
        return minimalStart(f.node);
      case "object": {
        const missing = this.#missingRequired(f);
        if (f.phase === "first") return missing !== undefined ? QUOTE : 0x7d;
        if (f.phase === "key") return QUOTE;
        if (f.phase === "colon") return 0x3a;
        return missing !== undefined ? 0x2c : 0x7d;
      }
      case "key": {
        if (stringOpen(f.s)) return stringFinish(f.s);
        const candidates = f.obj.additional === false
          ? keyCandidates(f.obj, f.seen)
          : f.obj.required.filter((k) => !f.seen.includes(k)).map((k) =>
            [k, encoder.encode(JSON.stringify(k).slice(1))] as [string, Uint8Array]
          );
        const required = f.obj.required;
        const target = candidates.find(([k, t]) => required.includes(k) && startsWith(t, f.buf)) ??
          candidates.find(([, t]) => startsWith(t, f.buf));
        if (target) return target[1][f.buf.length];
        // a free key: close it, unless that repeats a key
        const probe = this.clone();
        return probe.feed(QUOTE) ? QUOTE : 0x5f;
      }
      case "array":
        if (f.phase === "after") return f.count < f.node.minItems ? 0x2c : 0x5d;
        if (f.phase === "first" && f.node.minItems === 0) return 0x5d;
        return minimalStart(f.node.items);
      case "string":
        return stringFinish(f.s);
      case "number":
        return NUMBER_ENDS.has(f.state) ? undefined : 0x30;
      case "literal": {
        const alive = f.alive.filter((i) => f.texts[i].length >= f.len);
        if (alive.some((i) => f.texts[i].length === f.len)) return undefined;
        const shortest = alive.reduce((a, i) => f.texts[i].length < f.texts[a].length ? i : a);
        return f.texts[shortest][f.len];
      }
    }
  }
}
