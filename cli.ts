#!/usr/bin/env -S deno run
/**
 * The gpux command line: `deno task gpux <command> …`.
 *
 * @module
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
