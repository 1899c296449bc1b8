/**
 * The entry point of a `deno compile`d gpux (`deno task compile`). Like `cli.ts`, with one step first: commands
 * that load onnxruntime get the runtime library the binary embeds copied out once (Deno extracts only the `.node`
 * addon) and preloaded, see `src/runtime/embedded_runtime.ts`.
 *
 * @module
 */
import { VERSION } from "../version.ts";

/** Commands that never load onnxruntime: no extraction for them. */
const WITHOUT_RUNTIME = new Set([
  "search",
  "info",
  "pull",
  "ls",
  "list",
  "rm",
  "remove",
  "cache",
  "login",
  "logout",
  "whoami",
  "help",
]);

if (import.meta.main) {
  const args = Deno.args;
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    console.log(VERSION);
    Deno.exit(0);
  }
  const command = args.find((a) => !a.startsWith("-"));
  const help = args.includes("--help") || args.includes("-h");
  if (command !== undefined && !WITHOUT_RUNTIME.has(command) && !help) {
    const { prepareEmbeddedRuntime } = await import("../runtime/embedded_runtime.ts");
    const { permissionRefusal } = await import("./main.ts");
    try {
      await prepareEmbeddedRuntime();
    } catch (error) {
      const e = permissionRefusal(error) ?? error;
      const message = e instanceof Error ? e.message : String(e);
      const hint = (e as { hint?: string }).hint;
      Deno.stderr.writeSync(new TextEncoder().encode(`error: ${message}\n${hint ? `hint: ${hint}\n` : ""}`));
      Deno.exit((e as { exitCode?: number }).exitCode ?? 1);
    }
  }
  const { main } = await import("./main.ts");
  Deno.exit(await main(args));
}
