/**
 * Draws `gpux pull` progress from {@linkcode PullProgressEvent}s.
 *
 * On a terminal (stderr), like `ollama pull`: one line per file in flight with a bar, percent, bytes,
 * speed and time left, plus an overall line, redrawn in place; a finished file leaves one permanent
 * line. Elsewhere (a pipe, CI logs): one line per file when it completes. Nothing with `--quiet` or
 * `--json` (warnings still appear).
 *
 * @module
 */
import type { PullProgressEvent } from "../registry/manager.ts";
import { denoEnv, type EnvReader, isTruthy } from "../environment.ts";
import { formatBytes, formatDuration, type Output, safeText } from "./output.ts";

interface FileLine {
  path: string;
  size: number;
  done: number;
  started: number;
  resumedFrom: number;
}

const REDRAW_MS = 100;

/** Renders pull progress on stderr. */
export class PullProgressRenderer {
  readonly #out: Output;
  readonly #tty: boolean;
  readonly #silent: boolean;
  readonly #active = new Map<string, FileLine>();
  #drawn = 0;
  #lastDraw = 0;
  #total = { done: 0, total: 0, files: 0, filesTotal: 0, rate: 0, eta: undefined as number | undefined };
  #cachedShown = false;

  #env: EnvReader;

  constructor(out: Output, env: EnvReader = denoEnv) {
    this.#out = out;
    this.#env = env;
    this.#silent = out.quiet || out.json;
    this.#tty = out.stderrIsTTY && !this.#silent;
  }

  /** Feeds one event. */
  handle(event: PullProgressEvent): void {
    switch (event.type) {
      case "warning":
        this.#clear();
        this.#out.warn(event.message);
        this.#draw(true);
        return;
      case "notice":
        // Python's huggingface_hub convention for silencing its own symlink warning
        if (this.#silent || isTruthy(this.#env("HF_HUB_DISABLE_SYMLINKS_WARNING"))) return;
        this.#clear();
        this.#out.info(this.#out.dim(`note: ${event.message}`));
        this.#draw(true);
        return;
      case "retry":
        if (this.#silent) return;
        this.#clear();
        this.#out.info(
          `${this.#out.yellow("retry")} ${event.path ?? ""} in ${
            formatDuration(event.delayMs / 1000)
          } (${event.reason})`,
        );
        this.#draw(true);
        return;
    }
    if (this.#silent) return;
    switch (event.type) {
      case "plan": {
        this.#total.total = event.bytesTotal;
        this.#total.filesTotal = event.files.length;
        const cached = event.files.filter((f) => f.cached).length;
        if (cached > 0 && cached < event.files.length) {
          this.#out.info(
            this.#out.dim(
              `${cached} of ${event.files.length} files (${formatBytes(event.bytesCached)}) already cached`,
            ),
          );
          this.#cachedShown = true;
        }
        return;
      }
      case "file-start":
        this.#active.set(event.path, {
          path: safeText(event.path), // drawn raw on the terminal: a name from the Hub must not carry escapes
          size: event.size,
          done: event.resumedFrom,
          started: performance.now(),
          resumedFrom: event.resumedFrom,
        });
        if (event.resumedFrom > 0 && !this.#tty) {
          this.#out.info(`resuming ${event.path} from ${formatBytes(event.resumedFrom)}`);
        }
        this.#draw(false);
        return;
      case "progress": {
        const line = this.#active.get(event.path);
        if (line) line.done = event.fileBytes;
        this.#total = {
          done: event.bytesDone,
          total: event.bytesTotal,
          files: event.filesDone,
          filesTotal: event.filesTotal,
          rate: event.rate,
          eta: event.eta,
        };
        this.#draw(false);
        return;
      }
      case "file-done": {
        const line = this.#active.get(event.path);
        this.#active.delete(event.path);
        if (event.cached && this.#cachedShown) return;
        this.#clear();
        const seconds = line ? (performance.now() - line.started) / 1000 : 0;
        const moved = line ? line.size - line.resumedFrom : 0;
        const speed = !event.cached && seconds > 0.05 && moved >= 1_000_000
          ? `  ${formatBytes(Math.round(moved / seconds))}/s`
          : "";
        const state = event.cached ? this.#out.dim("cached") : this.#out.green("done");
        this.#out.info(`${state} ${event.path}  ${formatBytes(event.size)}${speed}`);
        this.#draw(true);
        return;
      }
    }
  }

  /** Removes the in-place lines (before the summary or an error). */
  stop(): void {
    this.#clear();
  }

  #clear(): void {
    if (!this.#tty || this.#drawn === 0) return;
    this.#out.progress(`\x1b[${this.#drawn}A\r\x1b[J`);
    this.#drawn = 0;
  }

  #draw(force: boolean): void {
    if (!this.#tty) return;
    const now = performance.now();
    if (!force && now - this.#lastDraw < REDRAW_MS) return;
    this.#lastDraw = now;
    const width = terminalWidth();
    const lines: string[] = [];
    const active = [...this.#active.values()].slice(0, 12);
    const nameWidth = Math.min(40, Math.max(8, ...active.map((l) => l.path.length)));
    for (const line of active) {
      const pct = line.size > 0 ? line.done / line.size : 1;
      const seconds = (now - line.started) / 1000;
      const speed = seconds > 0.2 ? (line.done - line.resumedFrom) / seconds : 0;
      const tail = speed > 0
        ? `  ${formatBytes(Math.round(speed))}/s  ${formatDuration((line.size - line.done) / speed)} left`
        : "";
      const text = this.#bar(truncate(line.path, nameWidth).padEnd(nameWidth), pct, line.done, line.size, width) + tail;
      lines.push(text.length >= width ? text.slice(0, width - 1) : text);
    }
    if (this.#active.size > active.length) {
      lines.push(this.#out.dim(`  … and ${this.#active.size - active.length} more`));
    }
    const t = this.#total;
    if (t.total > 0) {
      const rate = t.rate > 0 ? `${formatBytes(Math.round(t.rate))}/s` : "";
      const eta = t.eta !== undefined ? `${formatDuration(t.eta)} left` : "";
      const head = `total ${Math.round((t.done / t.total) * 100)}%`;
      const rest = `  ${formatBytes(t.done)}/${formatBytes(t.total)}  files ${t.files}/${t.filesTotal}  ${rate}  ${eta}`
        .trimEnd().slice(0, Math.max(0, width - 1 - head.length));
      lines.push(this.#out.bold(head) + rest);
    }
    this.#clear();
    if (lines.length === 0) return;
    this.#out.progress(lines.join("\n") + "\n");
    this.#drawn = lines.length;
  }

  #bar(name: string, pct: number, done: number, total: number, width: number): string {
    const percent = `${String(Math.floor(pct * 100)).padStart(3)}%`;
    const bytes = `${formatBytes(done)}/${formatBytes(total)}`;
    const barWidth = Math.max(10, Math.min(30, width - name.length - bytes.length - 16));
    const filled = Math.round(pct * barWidth);
    const bar = "█".repeat(filled) + " ".repeat(barWidth - filled);
    return `${name} ${percent} ▕${bar}▏ ${bytes}`;
  }
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : "…" + s.slice(s.length - n + 1);
}

function terminalWidth(): number {
  try {
    const columns = Deno.consoleSize().columns;
    return columns >= 40 ? columns : 100;
  } catch {
    return 100;
  }
}
