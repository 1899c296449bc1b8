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
  // run directly under a task or an npm script, relative paths mean the folder it was started from (INIT_CWD);
  // the launcher starts gpux there already and does not let it read INIT_CWD
  const startedFrom = (() => {
    try {
      return Deno.env.get("INIT_CWD");
    } catch {
      return undefined;
    }
  })();
  if (startedFrom) {
    try {
      Deno.chdir(startedFrom);
    } catch { /* a folder that vanished, or not readable: keep the current one */ }
  }
  const { main } = await import("./src/cli/main.ts");
  Deno.exit(await main(Deno.args));
}
