#!/usr/bin/env -S deno run
/**
 * The gpux command line. `deno task gpux <command> …` and the installed `gpux` run it through
 * `src/cli/launch.ts`, which starts it in the folder the user started in, under the sandbox of that command.
 *
 * @module
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
