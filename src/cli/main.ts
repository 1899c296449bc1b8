/**
 * Builds the command tree and maps errors to exit codes.
 *
 * @module
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { ExitCode, exitCodeOf, GpuxError, InterruptedError } from "../errors.ts";
import { type CliContext, createContext } from "./context.ts";
import { VERSION } from "../version.ts";
import { SandboxError } from "./sandbox.ts";

/** A command factory; each command has its own typed arguments and options. */
// deno-lint-ignore no-explicit-any
type CommandFactory = (ctx: CliContext) => Command<any, any, any>;

/** One command: its name, one line for `gpux --help`, and how to load it (only when it runs). */
export interface CommandEntry {
  /** The command's name (what the user types after `gpux`). */
  name: string;
  /** Other names it answers to. */
  aliases?: string[];
  /** The line `gpux --help` shows. */
  summary: string;
  /** Imports the command's module and returns its factory. */
  load: () => Promise<CommandFactory>;
}

/**
 * Every command, in the order `gpux --help` lists them; one file per command under src/cli/, imported only when
 * that command runs (start-up pays for one command's modules, `--help` and `--version` for none). Adding a
 * command is one line here (and one in `COMMAND_NEEDS` of sandbox.ts for its permissions).
 */
export const COMMANDS: CommandEntry[] = [
  {
    name: "search",
    summary: "Search models on the Hugging Face Hub (e.g. gpux search bert --library onnx)",
    load: async () => (await import("./search.ts")).searchCommand,
  },
  {
    name: "info",
    summary: "Show a model's metadata, formats, ONNX variants and files (e.g. gpux info org/name@main)",
    load: async () => (await import("./info.ts")).infoCommand,
  },
  {
    name: "pull",
    summary: "Download a model into the Hugging Face cache (resumable, verified, parallel)",
    load: async () => (await import("./pull.ts")).pullCommand,
  },
  {
    name: "ls",
    aliases: ["list"],
    summary: "List the models in the Hugging Face cache (also those downloaded by Python)",
    load: async () => (await import("./ls.ts")).lsCommand,
  },
  {
    name: "rm",
    aliases: ["remove"],
    summary: "Remove a model, or one revision of it (org/name@rev), from the cache",
    load: async () => (await import("./rm.ts")).rmCommand,
  },
  {
    name: "cache",
    summary: "Manage the Hugging Face cache: prune, verify, dir (list models with `gpux ls`)",
    load: async () => (await import("./cache.ts")).cacheCommand,
  },
  {
    name: "login",
    summary:
      "Save a Hugging Face token after checking it with the Hub (read from stdin without --token; hidden on a terminal)",
    load: async () => (await import("./login.ts")).loginCommand,
  },
  {
    name: "logout",
    summary: "Remove the saved Hugging Face token (the file `gpux login` and `hf auth login` write)",
    load: async () => (await import("./logout.ts")).logoutCommand,
  },
  {
    name: "whoami",
    summary: "Show the Hugging Face account of the current token",
    load: async () => (await import("./whoami.ts")).whoamiCommand,
  },
  {
    name: "run",
    summary: "Run a model once on the best execution provider and print its outputs",
    load: async () => (await import("./run.ts")).runCommand,
  },
  {
    name: "inspect",
    summary: "Show a model's inputs, outputs, opset, producer, metadata and the provider it would run on",
    load: async () => (await import("./inspect.ts")).inspectCommand,
  },
  {
    name: "bench",
    summary: "Time a model: session creation, first run, latency percentiles and throughput",
    load: async () => (await import("./bench.ts")).benchCommand,
  },
  {
    name: "init",
    summary: "Write a gpux.yml from a model's actual inputs and outputs",
    load: async () => (await import("./init.ts")).initCommand,
  },
  {
    name: "doctor",
    summary: "Check which execution providers load here, GPU libraries, cache and token",
    load: async () => (await import("./doctor.ts")).doctorCommand,
  },
];

/** The entry `args` runs (the first argument that is not an option, or the one after `help`), if any. */
export function selectedCommand(args: string[]): CommandEntry | undefined {
  const words = args.filter((a) => !a.startsWith("-"));
  const name = words[0] === "help" ? words[1] : words[0];
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name ?? ""));
}

/**
 * Builds the `gpux` program for one invocation: the command `args` runs, loaded in full, and the others as
 * name-and-summary stubs (enough for `gpux --help` and for commander's "unknown command" suggestions).
 */
export async function buildProgram(ctx: CliContext, args: string[] = []): Promise<Command> {
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
  const selected = selectedCommand(args);
  for (const entry of COMMANDS) {
    const command = entry === selected
      ? (await entry.load())(ctx)
      : new Command(entry.name).description(entry.summary).aliases(entry.aliases ?? []);
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
    await (await buildProgram(ctx, args)).parseAsync(args, { from: "user" });
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
  const refused = permissionRefusal(error);
  if (refused) {
    out.error(refused.message, refused.hint);
    if (out.json) out.printJson(refused.toJSON());
    return refused.exitCode;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  out.error(`unexpected failure: ${message}`, "this is a bug in gpux; please report it with the command you ran");
  if (out.json) out.printJson({ error: "UnexpectedError", code: "unexpected", message: String(error), exitCode: 1 });
  return exitCodeOf(error);
}

/**
 * A sandbox refusal (Deno's `NotCapable`, possibly as the cause of another error) as one clear error naming the
 * permission and the fix; `undefined` for anything else.
 */
export function permissionRefusal(error: unknown): SandboxError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (!(e instanceof Deno.errors.NotCapable)) continue;
    const match = /Requires (\w+) access to (.+?), (?:run again|specify)/.exec(e.message);
    const kind = match?.[1] ?? "this";
    const what = match?.[2] ?? "a resource";
    return new SandboxError(`the sandbox refused ${kind} access to ${what}`, {
      cause: e,
      hint: HINTS[kind] ?? HINTS.default,
    });
  }
  return undefined;
}

const HINTS: Record<string, string> = {
  write:
    "each command may write only its own folders (README: Permissions): the cache in use (--cache-dir, HF_HUB_CACHE or HF_HOME), --output's folder, GPUX_HOME; name the path on the command line or point one of those variables at it",
  read:
    "each command may read only the cache in use (--cache-dir, HF_HUB_CACHE or HF_HOME), the token files, GPUX_HOME and the paths on its command line (README: Permissions): name the path on the command line",
  net:
    "gpux connects only to the Hub (HF_ENDPOINT's host, huggingface.co, hf.co and their CDN hosts) and loopback: set HF_ENDPOINT to the server to use",
  env: "gpux reads only the variables listed in the README's Environment section",
  ffi: "native libraries load only from onnxruntime-node's folder and $GPUX_HOME/runtime",
  default: "the command needs a permission its sandbox does not grant (README: Permissions)",
};
