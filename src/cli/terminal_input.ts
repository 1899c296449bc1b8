/**
 * Keyboard input for `gpux chat` on a terminal: stdin in raw mode, read by one pump for the whole session, so
 * that Ctrl-C typed while an answer streams reaches the chat (which stops that answer) instead of becoming a
 * SIGINT that ends gpux, and a small line editor (typing, backspace, Ctrl-U, Ctrl-C to drop the line, Ctrl-D on
 * an empty line to leave). Without a terminal, stdin is read a line at a time.
 *
 * @module
 */

import { InputError } from "../errors.ts";

/** What the line editor hands back: a line, an interrupted line, or the end of input. */
export type LineEvent = { kind: "line"; text: string } | { kind: "interrupt" } | { kind: "eof" };

const CTRL_C = 3;
const CTRL_D = 4;
const CTRL_U = 21;
const BACKSPACE = 127;
const ESC = 27;

/** Raw-mode stdin: bytes queued by one background reader; Ctrl-C goes to `onInterrupt` while one is set. */
export class TerminalInput {
  #queue: number[] = [];
  #waiter?: () => void;
  #eof = false;
  #write: (text: string) => void;
  /** While set, Ctrl-C calls it instead of reaching the line editor (an answer is streaming). */
  onInterrupt?: () => void;

  /** `write` echoes what the user types (and redraws the line). */
  constructor(write: (text: string) => void) {
    this.#write = write;
    Deno.stdin.setRaw(true);
    this.#pump();
  }

  async #pump(): Promise<void> {
    const buffer = new Uint8Array(1024);
    while (true) {
      let n: number | null;
      try {
        n = await Deno.stdin.read(buffer);
      } catch {
        n = null;
      }
      if (n === null) {
        this.#eof = true;
        this.#wake();
        return;
      }
      for (let i = 0; i < n; i++) {
        if (buffer[i] === CTRL_C && this.onInterrupt) this.onInterrupt();
        else this.#queue.push(buffer[i]);
      }
      this.#wake();
    }
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  async #byte(): Promise<number | null> {
    while (!this.#queue.length) {
      if (this.#eof) return null;
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
    return this.#queue.shift()!;
  }

  /** Reads one line after showing `prompt`. */
  async readLine(prompt: string): Promise<LineEvent> {
    this.#write(prompt);
    const chars: string[] = [];
    const decoder = new TextDecoder();
    while (true) {
      const b = await this.#byte();
      if (b === null) return chars.length ? { kind: "line", text: chars.join("") } : { kind: "eof" };
      if (b === 13 || b === 10) {
        this.#write("\n");
        return { kind: "line", text: chars.join("") };
      }
      if (b === CTRL_C) {
        this.#write("^C\n");
        return { kind: "interrupt" };
      }
      if (b === CTRL_D) {
        if (!chars.length) {
          this.#write("\n");
          return { kind: "eof" };
        }
        continue;
      }
      if (b === BACKSPACE || b === 8) {
        if (chars.pop() !== undefined) this.#write("\b \b");
        continue;
      }
      if (b === CTRL_U) {
        this.#write("\b \b".repeat(chars.length));
        chars.length = 0;
        continue;
      }
      if (b === ESC) {
        // an escape sequence (arrows, function keys): skip it
        const next = await this.#byte();
        if (next === 91 || next === 79) {
          let c = await this.#byte();
          while (c !== null && !(c >= 64 && c <= 126)) c = await this.#byte();
        }
        continue;
      }
      if (b < 32) continue;
      // one UTF-8 character: the lead byte says how many follow
      const bytes = [b];
      const more = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : 0;
      for (let i = 0; i < more; i++) {
        const c = await this.#byte();
        if (c === null) break;
        bytes.push(c);
      }
      const ch = decoder.decode(Uint8Array.from(bytes));
      chars.push(ch);
      this.#write(ch);
    }
  }

  /** Gives the terminal back (cooked mode). */
  close(): void {
    try {
      Deno.stdin.setRaw(false);
    } catch { /* not a terminal any more */ }
  }
}

/** Longest line `gpux chat` reads from a stdin that is not a terminal. */
export const CHAT_LINE_LIMIT = 8 * 1024 * 1024;

/**
 * Lines of a stdin that is not a terminal, one at a time (the last one without a newline included).
 *
 * @throws {InputError} a line longer than {@linkcode CHAT_LINE_LIMIT} characters.
 */
export async function* stdinLines(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of Deno.stdin.readable) {
    pending += decoder.decode(chunk, { stream: true });
    if (pending.length > CHAT_LINE_LIMIT && !pending.includes("\n")) {
      throw new InputError(`a line on stdin is longer than ${CHAT_LINE_LIMIT / 1024 / 1024} Mi characters`, {
        hint: "one message per line; a message that long cannot fit any model's context",
      });
    }
    let at: number;
    while ((at = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, at).replace(/\r$/, "");
      pending = pending.slice(at + 1);
    }
  }
  pending += decoder.decode();
  if (pending) yield pending;
}
