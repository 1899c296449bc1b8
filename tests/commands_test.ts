/**
 * The command registry (src/cli/commands.ts): `gpux --help` printed without loading any command is exactly the help
 * commander prints for the full tree, and each summary is its command's own description.
 */
import { assertEquals } from "./support/assert.ts";
import { COMMANDS, topLevelHelp } from "../src/cli/commands.ts";
import { buildProgram } from "../src/cli/main.ts";
import { createContext } from "../src/cli/context.ts";

Deno.test("gpux --help without the command tree is commander's help for the full tree", async () => {
  const program = await buildProgram(createContext(new AbortController().signal), []);
  program.configureHelp({ helpWidth: 80 });
  assertEquals(topLevelHelp(80), program.helpInformation());
});

Deno.test("each registered command's summary is its own description", async () => {
  const ctx = createContext(new AbortController().signal);
  for (const entry of COMMANDS) {
    const command = (await entry.load())(ctx);
    assertEquals(command.name(), entry.name);
    assertEquals(entry.summary, command.description(), `summary of ${entry.name}`);
    assertEquals(command.aliases(), entry.aliases ?? []);
  }
});
