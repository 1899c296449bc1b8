/**
 * Presentation for the CLI: where text goes, colours, tables and human-readable numbers.
 * Only `src/cli/` prints; this is the one place that decides how.
 *
 * @module
 */
import { denoEnv, type EnvReader } from "../environment.ts";
import { redactToken } from "../registry/auth.ts";

const encoder = new TextEncoder();

/** Output settings shared by every command. */
export interface OutputOptions {
  /** `--json`: one JSON document on stdout, nothing else there. */
  json?: boolean;
  /** `--quiet`: nothing on stderr but errors. */
  quiet?: boolean;
  env?: EnvReader;
  /** Secrets known to this invocation (`--token`'s value, `HF_TOKEN`): never printed in a message. */
  secrets?: readonly string[];
}

/** Where and how the CLI writes. */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  /** stdout is a terminal. */
  readonly stdoutIsTTY: boolean;
  /** stderr is a terminal (progress bars are drawn only then). */
  readonly stderrIsTTY: boolean;
  /** Colours are used (stderr or stdout is a TTY and `NO_COLOR` is unset). */
  readonly color: boolean;
  /** Secrets redacted from warnings and errors, besides anything token-shaped. */
  readonly secrets: readonly string[];

  constructor(options: OutputOptions = {}) {
    const env = options.env ?? denoEnv;
    this.secrets = options.secrets ?? [];
    this.json = options.json ?? false;
    this.quiet = options.quiet ?? false;
    this.stdoutIsTTY = Deno.stdout.isTerminal();
    this.stderrIsTTY = Deno.stderr.isTerminal();
    const noColor = env("NO_COLOR");
    this.color = (noColor === undefined || noColor === "") && (this.stdoutIsTTY || this.stderrIsTTY) &&
      env("TERM") !== "dumb";
  }

  /** A line on stdout (suppressed in `--json` mode: use {@linkcode printJson}). */
  print(line = ""): void {
    if (!this.json) writeAll(Deno.stdout, displayText(line) + "\n");
  }

  /**
   * Streamed text on stdout as it comes, no newline added (suppressed in `--json` mode). On a terminal control
   * characters are escaped (a model's output must not move the cursor); into a pipe or file the text goes as it is.
   * `rawTerminal`: line breaks become CR LF, for a terminal in raw mode; `verbatim`: gpux's own echo and
   * cursor moves, written unescaped.
   */
  stream(text: string, options: { rawTerminal?: boolean; verbatim?: boolean } = {}): void {
    if (this.json || !text) return;
    let shown = this.stdoutIsTTY && !options.verbatim ? displayText(text) : text;
    // a terminal in raw mode (gpux chat) does not return the carriage on "\n"
    if (options.rawTerminal) shown = shown.replace(/\r?\n/g, "\r\n");
    writeAll(Deno.stdout, shown);
  }

  /** The one JSON document of `--json` mode, on stdout. */
  printJson(value: unknown): void {
    writeAll(Deno.stdout, JSON.stringify(value, null, 2) + "\n");
  }

  /** Informational line on stderr (retries, progress notes), silenced by `--quiet`; secrets redacted. */
  info(line: string): void {
    if (!this.quiet) writeAll(Deno.stderr, displayText(redactToken(line, ...this.secrets)) + "\n");
  }

  /** Raw text on stderr (progress redraws), silenced by `--quiet`. */
  progress(text: string): void {
    if (!this.quiet) writeAll(Deno.stderr, text);
  }

  /** `warning: …` on stderr, shown even with `--quiet`; secrets redacted, control characters escaped. */
  warn(message: string): void {
    writeAll(Deno.stderr, `${this.yellow("warning")}: ${safeText(message, this.secrets)}\n`);
  }

  /**
   * `error: …` (and the hint on its own line) on stderr. Secrets are redacted and control characters
   * escaped in both (a hint may span lines; the message is one line).
   */
  error(message: string, hint?: string): void {
    const hintText = hint ? `${this.dim("hint")}: ${safeText(hint, this.secrets, { newlines: true })}\n` : "";
    writeAll(Deno.stderr, `${this.red("error")}: ${safeText(message, this.secrets)}\n${hintText}`);
  }

  /** Diagnostic text on stderr (a stack trace under `GPUX_DEBUG=1`), secrets redacted, lines kept. */
  debug(text: string): void {
    writeAll(Deno.stderr, `${safeText(text, this.secrets, { newlines: true })}\n`);
  }

  bold(s: string): string {
    return this.paint(s, 1, 22);
  }
  dim(s: string): string {
    return this.paint(s, 2, 22);
  }
  red(s: string): string {
    return this.paint(s, 31, 39);
  }
  green(s: string): string {
    return this.paint(s, 32, 39);
  }
  yellow(s: string): string {
    return this.paint(s, 33, 39);
  }
  cyan(s: string): string {
    return this.paint(s, 36, 39);
  }

  private paint(s: string, open: number, close: number): string {
    return this.color ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  }
}

/**
 * Text safe to show on a terminal: secrets redacted ({@linkcode redactToken}, plus each of `secrets`) and
 * control characters escaped (`\n`, `\x1b`, …, and bidirectional overrides), so that a model id like
 * `$'org/na\x1b[2Jme'` cannot move the cursor, clear the screen or forge a line. With
 * `options.newlines`, line breaks are kept (other control characters are still escaped).
 */
export function safeText(text: string, secrets: readonly string[] = [], options: { newlines?: boolean } = {}): string {
  return escapeControl(redactToken(text, ...secrets), options.newlines ? "\n" : "");
}

/** Redacts secrets in every string of a JSON-able value (for `--json` error documents). */
export function redactJson<T>(value: T, secrets: readonly string[] = []): T {
  return JSON.parse(JSON.stringify(value, (_key, v) => typeof v === "string" ? redactToken(v, ...secrets) : v));
}

// C0 and C1 controls, DEL, and the Unicode bidirectional controls (line/paragraph separators too)
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from elsewhere (a model card, a search result, a folder name in the cache) made safe to print:
 * control characters escaped except line breaks, tabs (the column separator of piped tables) and the
 * colour codes {@linkcode Output} adds itself (`ESC [ … m`), so no cursor movement, screen clearing or
 * title change gets through.
 */
export function displayText(text: string): string {
  return String(text).replace(
    // deno-lint-ignore no-control-regex
    /\x1b\[[0-9;]*m|[^\x1b]+|\x1b/g,
    (part) => part.startsWith("\x1b[") && part.endsWith("m") ? part : escapeControl(part, "\n\t"),
  );
}

/** `text` with control characters escaped, except those in `keep`. */
function escapeControl(text: string, keep: string): string {
  return text.replace(CONTROL, (c) => {
    if (keep.includes(c)) return c;
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}

/** Visible width of a string (ANSI colour codes excluded). */
export function visibleWidth(s: string): number {
  // deno-lint-ignore no-control-regex
  return [...s.replace(/\x1b\[[0-9;]*m/g, "")].length;
}

/** Column alignment for {@linkcode renderTable}. */
export type Align = "left" | "right";

/**
 * Renders rows as an aligned plain-text table with a header row.
 *
 * @example
 * ```ts
 * renderTable(["ID", "SIZE"], [["org/a", "1.2 MB"]], ["left", "right"]);
 * ```
 */
export function renderTable(headers: string[], rows: string[][], align: Align[] = []): string {
  const widths = headers.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells.map((cell, i) => {
      const pad = " ".repeat(widths[i] - visibleWidth(cell));
      return align[i] === "right" ? pad + cell : (i === cells.length - 1 ? cell : cell + pad);
    }).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** `1.5 GB`, `12.3 MB`, `512 B` (decimal units, as the Hub shows sizes). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "?";
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let value = bytes;
  let i = 0;
  while (Math.abs(value) >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  // whole bytes: a rate such as 11.88118292400278 B/s reads 12 B/s
  return i === 0 ? `${Math.round(value)} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[i]}`;
}

/** `850ms`, `12s`, `3m05s`, `1h02m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** `1.2M`, `35.1k`, `950`. */
export function formatCount(n: number | undefined): string {
  if (n === undefined) return "-";
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** `2026-11-27` from an ISO date, or `-`. */
export function formatDate(iso: string | undefined): string {
  return iso ? iso.slice(0, 10) : "-";
}
