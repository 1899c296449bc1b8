/**
 * The runtime flags (`--provider`, `--device-id`, `--variant`, `--cache-dir`, `--graph-optimization`, threads) are
 * declared once (src/cli/runtime_flags.ts): every command that takes one takes them all, with the same help text
 * and the same parsing.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { COMMANDS } from "../src/cli/commands.ts";
import { createContext } from "../src/cli/context.ts";
import { RUNTIME_OPTIONS } from "../src/cli/runtime_flags.ts";

/** The runtime flags as declared: long flag and help text. */
const DECLARED = Object.values(RUNTIME_OPTIONS).map((make) => {
  const option = make();
  return { flags: option.flags, description: option.description };
});

async function loadedCommands() {
  const ctx = createContext(new AbortController().signal);
  return await Promise.all(COMMANDS.map(async (entry) => (await entry.load())(ctx)));
}

Deno.test("runtime flags: every command taking one offers the same set with the same help text", async () => {
  const long = new Set(DECLARED.map((d) => d.flags.split(/[ ,]+/).find((f) => f.startsWith("--"))));
  // --variant and --cache-dir are Hub flags too (pull, ls, …) and doctor tries a --device-id: a command takes the
  // runtime flags when it offers one only a session reads
  const sessionOnly = ["--provider", "--graph-optimization", "--intra-op-threads", "--inter-op-threads"];
  const taking: string[] = [];
  for (const command of await loadedCommands()) {
    if (!command.options.some((o) => sessionOnly.includes(o.long ?? ""))) continue;
    const offered = command.options
      .filter((o) => long.has(o.long))
      .map((o) => ({ flags: o.flags, description: o.description }));
    taking.push(command.name());
    assertEquals(offered, DECLARED, `gpux ${command.name()}'s runtime flags`);
  }
  // the commands that load a model: the test would pass vacuously without them
  for (const name of ["run", "inspect", "bench", "chat", "serve"]) {
    assert(taking.includes(name), `gpux ${name} offers no runtime flags (offered by: ${taking.join(", ")})`);
  }
});

Deno.test("runtime flags: parsed alike by every command, and refused alike", async () => {
  const argv = [
    "-p",
    "cpu",
    "--device-id",
    "1",
    "--variant",
    "q4",
    "--cache-dir",
    "/tmp/hf",
    "--graph-optimization",
    "basic",
    "--intra-op-threads",
    "2",
    "--inter-op-threads",
    "3",
  ];
  const expected = {
    provider: "cpu",
    deviceId: 1,
    variant: "q4",
    cacheDir: "/tmp/hf",
    graphOptimization: "basic",
    intraOpThreads: 2,
    interOpThreads: 3,
  };
  for (const name of ["run", "inspect", "bench", "chat", "serve"]) {
    const command = (await loadedCommands()).find((c) => c.name() === name)!;
    command.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    command.parseOptions(argv);
    const opts = command.opts() as Record<string, unknown>;
    const got = Object.fromEntries(Object.keys(expected).map((k) => [k, opts[k]]));
    assertEquals(got, expected, `gpux ${name}`);
    const refused = (await loadedCommands()).find((c) => c.name() === name)!;
    refused.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    let message = "";
    try {
      refused.parseOptions(["--graph-optimization", "most"]);
    } catch (error) {
      message = (error as Error).message;
    }
    assert(message.includes("expected disabled, basic, extended or all"), `gpux ${name}: ${message}`);
  }
});
