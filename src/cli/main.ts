/**
 * Builds the command tree and maps errors to exit codes.
 *
 * @module
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { ExitCode, exitCodeOf, GpuxError, InterruptedError } from "../errors.ts";
import { type CliContext, createContext } from "./context.ts";
import { cacheCommand } from "./cache.ts";
import { lsCommand } from "./ls.ts";
import { rmCommand } from "./rm.ts";

import { VERSION } from "../version.ts";
import { searchCommand } from "./search.ts";
import { infoCommand } from "./info.ts";
import { pullCommand } from "./pull.ts";
import { loginCommand } from "./login.ts";
import { logoutCommand } from "./logout.ts";
import { whoamiCommand } from "./whoami.ts";
import { runCommand } from "./run.ts";
import { inspectCommand } from "./inspect.ts";
import { benchCommand } from "./bench.ts";
import { doctorCommand } from "./doctor.ts";
import { initCommand } from "./init.ts";
import { serveCommand } from "./serve.ts";

/** A command factory; each command has its own typed arguments and options. */
// deno-lint-ignore no-explicit-any
type CommandFactory = (ctx: CliContext) => Command<any, any, any>;

/** Every command, in the order `gpux --help` lists them. One file per command under src/cli/. */
const COMMANDS: CommandFactory[] = [
  searchCommand,
  infoCommand,
  pullCommand,
  lsCommand,
  rmCommand,
  cacheCommand,
  loginCommand,
  logoutCommand,
  whoamiCommand,
  runCommand,
  inspectCommand,
  benchCommand,
  serveCommand,
  initCommand,
  doctorCommand,
];

/** Builds the `gpux` program for one invocation. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command("gpux")
    .description(
      "Pull ONNX models from the Hugging Face Hub into the shared cache and run them on the best GPU you have.",
    )
    .version(VERSION, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void Deno.stdout.writeSync(new TextEncoder().encode(s)),
      writeErr: (s) => void Deno.stderr.writeSync(new TextEncoder().encode(s)),
    });
  for (const make of COMMANDS) {
    const command = make(ctx);
    command.exitOverride();
    program.addCommand(command);
  }
  return program as unknown as Command;
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit code.
 * The first SIGINT aborts the running command (which cleans up and exits 130); a second one exits at once.
 */
export async function main(args: string[]): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1) Deno.exit(ExitCode.Interrupted);
    controller.abort(new InterruptedError("interrupted"));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  const ctx = createContext(controller.signal);
  try {
    await buildProgram(ctx).parseAsync(args, { from: "user" });
    return ctx.exitCode ?? ExitCode.Ok;
  } catch (error) {
    return reportError(error, args, ctx, controller.signal);
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

function reportError(error: unknown, args: string[], ctx: CliContext, signal: AbortSignal): number {
  if (error instanceof CommanderError) {
    // help and version are "errors" in commander's exitOverride mode
    if (error.exitCode === 0) return ExitCode.Ok;
    return ExitCode.Usage;
  }
  if (signal.aborted && !(error instanceof GpuxError)) error = new InterruptedError("interrupted");
  const out = ctx.output({ json: args.includes("--json") });
  if (error instanceof GpuxError) {
    out.error(error.message, error.hint);
    if (out.json) out.printJson(error.toJSON());
    return error.exitCode;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  out.error(`unexpected failure: ${message}`, "this is a bug in gpux; please report it with the command you ran");
  if (out.json) out.printJson({ error: "UnexpectedError", code: "unexpected", message: String(error), exitCode: 1 });
  return exitCodeOf(error);
}
