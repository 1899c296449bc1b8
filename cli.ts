#!/usr/bin/env -S deno run
/**
 * The gpux command line: `deno task gpux <command> …`.
 *
 * @module
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  // `deno task` runs commands from deno.json's folder and says where the user started in INIT_CWD:
  // relative paths on the command line (models, --output, --file) mean that folder
  const startedFrom = Deno.env.get("INIT_CWD");
  if (startedFrom) {
    try {
      Deno.chdir(startedFrom);
    } catch { /* a folder that vanished: keep the current one */ }
  }
  Deno.exit(await main(Deno.args));
}
