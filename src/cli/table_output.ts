/**
 * Tables the way the CLI prints them: aligned columns with a bold header on a terminal, and
 * tab-separated lines (header first) when stdout is a pipe or a file, so `cut -f1` just works.
 *
 * @module
 */
import { type Align, type Output, renderTable } from "./output.ts";

/** Prints `rows` under `headers` on stdout, indented by `indent` on a terminal. */
export function printTable(out: Output, headers: string[], rows: string[][], align: Align[] = [], indent = ""): void {
  if (!out.stdoutIsTTY) {
    for (const row of [headers, ...rows]) out.print(row.map((cell) => cell.replace(/[\t\n]/g, " ")).join("\t"));
    return;
  }
  const table = renderTable(headers.map((h) => out.bold(h)), rows, align);
  for (const line of table.split("\n")) out.print(indent + line);
}
