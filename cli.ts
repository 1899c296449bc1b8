#!/usr/bin/env -S deno run
/**
 * The gpux command line. `deno task gpux <command> …` and the installed `gpux` run it through
 * `src/cli/launch.ts`, which starts it in the folder the user started in, under the sandbox of that command.
 *
 * @module
 */
if (import.meta.main) {
  if (Deno.args.length === 1 && (Deno.args[0] === "--version" || Deno.args[0] === "-V")) {
    // the one answer that needs no command tree: skip loading it
    const { VERSION } = await import("./src/version.ts");
    console.log(VERSION);
    Deno.exit(0);
  }
  const { main } = await import("./src/cli/main.ts");
  Deno.exit(await main(Deno.args));
}
