/**
 * Tool calls read back out of generated text, in the formats chat templates teach models to write them:
 *
 * - Hermes / Qwen2.5 / Qwen3: `<tool_call>\n{"name": "f", "arguments": {…}}\n</tool_call>` (several in a row);
 * - Llama 3.1 / 3.2: the whole answer is `{"name": "f", "parameters": {…}}` (optionally after `<|python_tag|>`,
 *   several separated by `;`);
 * - Mistral: `[TOOL_CALLS] [{"name": "f", "arguments": {…}, "id": "…"}]`, or v11's `[TOOL_CALLS]f[ARGS]{…}`.
 *
 * The OpenAI API returns a call's `arguments` as JSON text: here it is the exact text the model wrote for the
 * value, so streamed argument chunks concatenate to the same string. {@linkcode ToolCallStreamParser} is the
 * streaming form: it holds back text that may start a tool call (a `<tool_call>` split over tokens) and emits
 * OpenAI-style deltas — a call's id and name once, then its argument text in chunks as it is generated (Hermes
 * calls stream their arguments; the other formats emit each call's arguments once the call is complete).
 * {@linkcode parseToolCalls} is the same parser fed the whole text at once.
 *
 * @module
 */

/** A tool call as the OpenAI API returns it. */
export interface ToolCall {
  /** The call's id (`call_…`, or the one the model wrote). */
  id: string;
  /** The function's name. */
  name: string;
  /** The arguments as JSON text, exactly as generated. */
  arguments: string;
}

/** Generated text split into what is said and what is called. */
export interface ParsedToolCalls {
  /** The text outside tool calls (trimmed). */
  content: string;
  /** The calls, in order. */
  toolCalls: ToolCall[];
}

/** A tool-call format. */
export type ToolCallFormat = "hermes" | "llama3" | "mistral";

/** Options of the parsers. */
export interface ToolCallParseOptions {
  /** Formats to recognise (default: all). Without `llama3`, an answer that is bare JSON stays content. */
  formats?: readonly ToolCallFormat[];
  /** Makes a call id (default: `call_` and 24 random letters and digits). */
  makeId?: () => string;
}

/** One streamed piece: text content, a call starting (id and name), or a chunk of a call's arguments. */
export type ToolCallEvent =
  | { type: "content"; text: string }
  | { type: "tool_call"; index: number; id: string; name: string }
  | { type: "arguments"; index: number; text: string };

const HERMES_OPEN = "<tool_call>";
const HERMES_CLOSE = "</tool_call>";
const PYTHON_TAG = "<|python_tag|>";
const MISTRAL_TAG = "[TOOL_CALLS]";
const MISTRAL_ARGS = "[ARGS]";

/** The tool-call format a chat template writes, from its source (undefined: it shows none). */
export function toolCallFormatOf(templateSource: string): ToolCallFormat | undefined {
  if (templateSource.includes(HERMES_OPEN)) return "hermes";
  if (templateSource.includes(MISTRAL_TAG)) return "mistral";
  if (templateSource.includes(PYTHON_TAG) || templateSource.includes('"parameters"')) return "llama3";
  return undefined;
}

function randomId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return "call_" + Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

/**
 * Where the JSON value starting at `start` (after whitespace) ends: the index after it, or -1 while it is
 * incomplete, or -2 when `text` there cannot be a JSON value.
 */
function valueEnd(text: string, start: number): number {
  let i = start;
  while (i < text.length && /\s/.test(text[i])) i++;
  if (i >= text.length) return -1;
  const first = text[i];
  if (first === "{" || first === "[" || first === '"') {
    let depth = 0;
    let inString = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === "\\") i++;
        else if (c === '"') {
          inString = false;
          if (depth === 0) return i + 1;
        }
      } else if (c === '"') inString = true;
      else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
  if (!m) return -2;
  return i + m[0].length < text.length ? i + m[0].length : -1;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A call object's name and raw argument text (`arguments` or `parameters`), or undefined when it is not a call. */
function readCall(objectText: string): { name: string; arguments: string; id?: string } | undefined {
  const value = parseJson(objectText) as Record<string, unknown> | undefined;
  if (!value || typeof value !== "object" || Array.isArray(value) || typeof value.name !== "string") return undefined;
  const key = "arguments" in value ? "arguments" : "parameters" in value ? "parameters" : undefined;
  let args = "{}";
  if (key) {
    const raw = rawMember(objectText, key);
    const v = value[key];
    // arguments written as a JSON string holding JSON: the inner text is the arguments
    args = typeof v === "string" ? v : raw ?? JSON.stringify(v);
  }
  return { name: value.name, arguments: args, ...(typeof value.id === "string" ? { id: value.id } : {}) };
}

/** The raw text of a top-level member's value in an object's JSON text. */
function rawMember(objectText: string, key: string): string | undefined {
  let i = objectText.indexOf("{") + 1;
  while (i > 0 && i < objectText.length) {
    const keyEnd = valueEnd(objectText, i);
    if (keyEnd < 0) return undefined;
    const name = parseJson(objectText.slice(i, keyEnd).trim());
    const colon = objectText.indexOf(":", keyEnd);
    if (colon < 0) return undefined;
    const end = valueEnd(objectText, colon + 1);
    if (end < 0) return undefined;
    if (name === key) return objectText.slice(colon + 1, end).trim();
    const comma = objectText.slice(end).search(/[,}]/);
    if (comma < 0 || objectText[end + comma] === "}") return undefined;
    i = end + comma + 1;
  }
  return undefined;
}

type Mode = "text" | "hermes" | "hermes-args" | "hermes-tail" | "bare" | "mistral";

/**
 * Streams tool calls out of text deltas: `push` each delta, then `end`; each returns the events it can
 * emit so far. Text that may begin a tool call is held back until it is clear.
 */
export class ToolCallStreamParser {
  #formats: Set<ToolCallFormat>;
  #makeId: () => string;
  #mode: Mode = "text";
  #pending = "";
  #said = false; // content other than whitespace was emitted
  #bareTried = false;
  #mistralBare = false; // a Mistral list without its [TOOL_CALLS] (a special token, left out of decoded text)
  #calls: ToolCall[] = [];
  #content = "";
  // hermes argument streaming
  #argDepth = 0;
  #argInString = false;
  #argEscape = false;
  #argStarted = false;

  /** `options.formats` limits the formats recognised. */
  constructor(options: ToolCallParseOptions = {}) {
    this.#formats = new Set(options.formats ?? ["hermes", "llama3", "mistral"]);
    this.#makeId = options.makeId ?? randomId;
  }

  /** The calls seen so far (complete ones have all their arguments). */
  get toolCalls(): readonly ToolCall[] {
    return this.#calls;
  }

  /** Adds generated text; returns what can be emitted. */
  push(text: string): ToolCallEvent[] {
    this.#pending += text;
    const events: ToolCallEvent[] = [];
    for (let guard = 0; guard < 10_000; guard++) {
      if (!this.#step(events, false)) break;
    }
    return events;
  }

  /** At the end of the generation: everything still held back (an unfinished call stays as it is). */
  end(): ToolCallEvent[] {
    const events: ToolCallEvent[] = [];
    for (let guard = 0; guard < 10_000; guard++) {
      if (!this.#step(events, true)) break;
    }
    if (this.#pending) {
      if (this.#mode === "hermes-args" || this.#mode === "hermes-tail") this.#pending = "";
      else this.#content_(events, this.#pending);
      this.#pending = "";
    }
    return events;
  }

  /** The whole parse so far: content (trimmed) and calls. */
  result(): ParsedToolCalls {
    return { content: this.#content.trim(), toolCalls: this.#calls.map((c) => ({ ...c })) };
  }

  #content_(events: ToolCallEvent[], text: string): void {
    if (!text) return;
    if (text.trim()) this.#said = true;
    this.#content += text;
    const last = events[events.length - 1];
    if (last?.type === "content") last.text += text;
    else events.push({ type: "content", text });
  }

  #start(events: ToolCallEvent[], name: string, id?: string): number {
    const index = this.#calls.length;
    const call = { id: id ?? this.#makeId(), name, arguments: "" };
    this.#calls.push(call);
    events.push({ type: "tool_call", index, id: call.id, name });
    return index;
  }

  #args(events: ToolCallEvent[], text: string): void {
    if (!text) return;
    const index = this.#calls.length - 1;
    this.#calls[index].arguments += text;
    const last = events[events.length - 1];
    if (last?.type === "arguments" && last.index === index) last.text += text;
    else events.push({ type: "arguments", index, text });
  }

  /** One transition; false when nothing more can happen until more text arrives. */
  #step(events: ToolCallEvent[], ending: boolean): boolean {
    const p = this.#pending;
    switch (this.#mode) {
      case "text": {
        if (!p) return false;
        const markers: [string, Mode][] = [];
        if (this.#formats.has("hermes")) markers.push([HERMES_OPEN, "hermes"]);
        if (this.#formats.has("llama3")) markers.push([PYTHON_TAG, "bare"]);
        if (this.#formats.has("mistral")) markers.push([MISTRAL_TAG, "mistral"]);
        let at = -1;
        let found: [string, Mode] | undefined;
        for (const m of markers) {
          const i = p.indexOf(m[0]);
          if (i >= 0 && (at < 0 || i < at)) [at, found] = [i, m];
        }
        if (found) {
          this.#content_(events, p.slice(0, at));
          this.#pending = p.slice(at + found[0].length);
          this.#mode = found[1];
          return true;
        }
        // Llama's bare JSON call: the answer itself starts with "{"
        if (this.#formats.has("llama3") && !this.#said && !this.#bareTried) {
          const lead = p.length - p.trimStart().length;
          if (lead === p.length && !ending) return false; // only whitespace so far
          if (p[lead] === "{") {
            this.#bareTried = true;
            this.#content_(events, p.slice(0, lead));
            this.#pending = p.slice(lead);
            this.#mode = "bare";
            return true;
          }
        }
        if (this.#formats.has("mistral") && !this.#said && !this.#bareTried) {
          const lead = p.length - p.trimStart().length;
          if (lead === p.length && !ending) return false;
          if (!ending && MISTRAL_TAG.startsWith(p.slice(lead))) return false; // may still be the tag
          if (p[lead] === "[") {
            this.#bareTried = true;
            this.#mistralBare = true;
            this.#content_(events, p.slice(0, lead));
            this.#pending = p.slice(lead);
            this.#mode = "mistral";
            return true;
          }
        }
        this.#bareTried = true;
        let hold = 0;
        if (!ending) {
          for (const [m] of markers) {
            for (let n = Math.min(m.length - 1, p.length); n > hold; n--) {
              if (p.endsWith(m.slice(0, n))) {
                hold = n;
                break;
              }
            }
          }
        }
        this.#content_(events, p.slice(0, p.length - hold));
        this.#pending = p.slice(p.length - hold);
        return false;
      }
      case "hermes": {
        const header = /^\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"arguments"\s*:/.exec(p);
        if (header) {
          this.#start(events, JSON.parse(header[1]));
          this.#pending = p.slice(header[0].length);
          this.#mode = "hermes-args";
          this.#argDepth = 0;
          this.#argInString = this.#argEscape = this.#argStarted = false;
          return true;
        }
        const close = p.indexOf(HERMES_CLOSE);
        if (close < 0 && !ending) return false;
        const body = close < 0 ? p : p.slice(0, close);
        const call = readCall(body.trim());
        if (call) {
          this.#start(events, call.name, call.id);
          this.#args(events, call.arguments);
        } else this.#content_(events, HERMES_OPEN + body + (close < 0 ? "" : HERMES_CLOSE));
        this.#pending = close < 0 ? "" : p.slice(close + HERMES_CLOSE.length);
        this.#mode = "text";
        return true;
      }
      case "hermes-args": {
        let i = 0;
        let from = 0;
        let done = false;
        for (; i < p.length && !done; i++) {
          const c = p[i];
          if (!this.#argStarted) {
            if (/\s/.test(c)) {
              from = i + 1;
              continue;
            }
            this.#argStarted = true;
          }
          if (this.#argInString) {
            if (this.#argEscape) this.#argEscape = false;
            else if (c === "\\") this.#argEscape = true;
            else if (c === '"') {
              this.#argInString = false;
              if (this.#argDepth === 0) done = true;
            }
          } else if (c === '"') this.#argInString = true;
          else if (c === "{" || c === "[") this.#argDepth++;
          else if (c === "}" || c === "]") {
            this.#argDepth--;
            if (this.#argDepth <= 0) done = true;
          } else if (this.#argDepth === 0 && /[,\s]/.test(c)) {
            i--; // a bare number/literal ended
            done = true;
          }
        }
        this.#args(events, p.slice(from, i));
        this.#pending = p.slice(i);
        if (done) {
          this.#calls[this.#calls.length - 1].arguments = this.#calls[this.#calls.length - 1].arguments.trim();
          this.#mode = "hermes-tail";
          return true;
        }
        return false;
      }
      case "hermes-tail": {
        const close = p.indexOf(HERMES_CLOSE);
        if (close < 0) return false;
        this.#pending = p.slice(close + HERMES_CLOSE.length);
        this.#mode = "text";
        return true;
      }
      case "bare": {
        // one or more objects separated by ";"
        const lead = p.length - p.trimStart().length;
        if (lead === p.length) return false;
        if (p[lead] === ";" && this.#calls.length > 0) {
          this.#pending = p.slice(lead + 1);
          return true;
        }
        if (p[lead] !== "{") {
          this.#mode = "text";
          return true;
        }
        const end = valueEnd(p, lead);
        if (end === -1 && !ending) return false;
        const call = end > 0 ? readCall(p.slice(lead, end)) : undefined;
        if (!call) {
          this.#mode = "text";
          this.#bareTried = true;
          this.#content_(events, p);
          this.#pending = "";
          return false;
        }
        this.#start(events, call.name);
        this.#args(events, call.arguments);
        this.#pending = p.slice(end);
        return this.#pending.length > 0;
      }
      case "mistral": {
        const lead = p.length - p.trimStart().length;
        if (lead === p.length) return false;
        if (p[lead] === "[") {
          const end = valueEnd(p, lead);
          if (end === -1 && !ending) return false;
          const list = end > 0 ? parseJson(p.slice(lead, end)) : undefined;
          const calls = Array.isArray(list) && list.length > 0 &&
            list.every((c) => c && typeof c === "object" && typeof (c as { name?: unknown }).name === "string");
          if (!calls) {
            this.#content_(events, (this.#mistralBare ? "" : MISTRAL_TAG) + p);
            this.#pending = "";
            this.#mode = "text";
            return false;
          }
          // walk the array's items to keep each one's raw argument text
          let i = lead + 1;
          for (const _ of list) {
            const itemEnd = valueEnd(p, i);
            const call = readCall(p.slice(i, itemEnd).trim());
            if (call) {
              this.#start(events, call.name, call.id);
              this.#args(events, call.arguments);
            }
            i = itemEnd + (/^\s*,/.exec(p.slice(itemEnd))?.[0].length ?? 0);
          }
          this.#pending = p.slice(end);
          this.#mode = "text";
          return true;
        }
        // v11: name[ARGS]{…}
        const args = p.indexOf(MISTRAL_ARGS);
        if (args < 0) {
          if (ending) {
            this.#content_(events, MISTRAL_TAG + p);
            this.#pending = "";
            this.#mode = "text";
          }
          return false;
        }
        const end = valueEnd(p, args + MISTRAL_ARGS.length);
        if (end === -1 && !ending) return false;
        const raw = end > 0 ? p.slice(args + MISTRAL_ARGS.length, end).trim() : p.slice(args + MISTRAL_ARGS.length);
        this.#start(events, p.slice(0, args).trim());
        this.#args(events, raw);
        this.#pending = end > 0 ? p.slice(end) : "";
        this.#mode = "text";
        return true;
      }
    }
  }
}

/** Splits a whole generated text into content and tool calls (the streaming parser fed all at once). */
export function parseToolCalls(text: string, options: ToolCallParseOptions = {}): ParsedToolCalls {
  const parser = new ToolCallStreamParser(options);
  parser.push(text);
  parser.end();
  return parser.result();
}
