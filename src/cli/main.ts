/**
 * Builds the command tree and maps errors to exit codes.
 *
 * @module
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { ExitCode, exitCodeOf, GpuxError, InterruptedError } from "../errors.ts";
import { type CliContext, createContext } from "./context.ts";
import { redactJson, safeText } from "./output.ts";
import { denoEnv, isTruthy } from "../environment.ts";
import { VERSION } from "../version.ts";
import { SandboxError } from "./sandbox.ts";
import { fallbackHint } from "./fallback_hint.ts";
import { COMMANDS, DESCRIPTION, NO_COMMAND_MESSAGE, selectedCommand, topLevelHelp, usageHint } from "./commands.ts";

/**
 * Builds the `gpux` program for one invocation: the command `args` runs, loaded in full, and the others as
 * name-and-summary stubs (enough for `gpux --help` and for commander's "unknown command" suggestions).
 */
export async function buildProgram(ctx: CliContext, args: string[] = []): Promise<Command> {
  // commander's own errors quote what was typed (`unknown option '--tokn=hf_…'`): redact and escape it
  const outputError = (text: string, write: (s: string) => void) =>
    write(text.split("\n").map((line) => safeText(line, ctx.secrets)).join("\n"));
  const program = new Command("gpux")
    .description(DESCRIPTION)
    .version(VERSION, "-V, --version")
    // commander's own usage errors (unknown option or command, missing argument, bad value) end with a hint line
    .showHelpAfterError(usageHint([]))
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void Deno.stdout.writeSync(new TextEncoder().encode(s)),
      writeErr: (s) => void Deno.stderr.writeSync(new TextEncoder().encode(s)),
      outputError,
    });
  const selected = selectedCommand(args);
  for (const entry of COMMANDS) {
    const command = entry === selected
      ? (await entry.load())(ctx)
      : new Command(entry.name).description(entry.summary).aliases(entry.aliases ?? []);
    command.exitOverride();
    command.configureOutput({ outputError });
    command.showHelpAfterError(usageHint([entry.name]));
    for (const sub of command.commands) {
      sub.configureOutput({ outputError });
      sub.showHelpAfterError(usageHint([entry.name, sub.name()]));
    }
    program.addCommand(command);
  }
  return program as unknown as Command;
}

/** How long a command may take to clean up after Ctrl-C or SIGTERM before the process ends anyway. */
export const INTERRUPT_GRACE_MS = 5_000;

/**
 * Runs the CLI with `args` (without the program name) and returns the exit code.
 * The first SIGINT aborts the running command (which cleans up and exits 130); a second one exits at once.
 * SIGTERM does the same (a pull releases its lock and keeps its partial files either way). A command that has
 * not ended {@linkcode INTERRUPT_GRACE_MS} after the first signal is ended then (exit 130), so nothing — a read
 * stuck on a FIFO, a native call's promise — keeps it alive; `serve` is left to its own drain, which has a deadline.
 */
export async function main(args: string[]): Promise<number> {
  if (args.length === 1 && ["--help", "-h", "help"].includes(args[0])) {
    // the same text without loading the command tree (the launcher prints it the same way)
    Deno.stdout.writeSync(new TextEncoder().encode(topLevelHelp()));
    return ExitCode.Ok;
  }
  if (args.length === 0) {
    // no command: the help on stderr, a usage error (as commander does), then the error and its hint
    Deno.stderr.writeSync(new TextEncoder().encode(topLevelHelp() + "\n" + NO_COMMAND_MESSAGE));
    return ExitCode.Usage;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const drains = selectedCommand(args)?.name === "serve";
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1) Deno.exit(ExitCode.Interrupted);
    controller.abort(new InterruptedError("interrupted"));
    if (!drains) Deno.unrefTimer(setTimeout(() => Deno.exit(ExitCode.Interrupted), INTERRUPT_GRACE_MS));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onInterrupt);
  const ctx = createContext(controller.signal, denoEnv, secretsOf(args));
  // a rejection or exception nobody awaited is reported like any other failure: one line, no trace
  const onStray = (event: PromiseRejectionEvent | ErrorEvent) => {
    event.preventDefault();
    Deno.exit(reportError("reason" in event ? event.reason : event.error, args, ctx, controller.signal));
  };
  globalThis.addEventListener("unhandledrejection", onStray);
  globalThis.addEventListener("error", onStray);
  try {
    await (await buildProgram(ctx, args)).parseAsync(args, { from: "user" });
    return ctx.exitCode ?? ExitCode.Ok;
  } catch (error) {
    return reportError(error, args, ctx, controller.signal);
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGTERM", onInterrupt);
    globalThis.removeEventListener("unhandledrejection", onStray);
    globalThis.removeEventListener("error", onStray);
  }
}

function reportError(error: unknown, args: string[], ctx: CliContext, signal: AbortSignal): number {
  if (error instanceof CommanderError) {
    // help and version are "errors" in commander's exitOverride mode
    if (error.exitCode === 0) return ExitCode.Ok;
    if (error.code === "commander.help") {
      // commander showed a help on stderr instead of running anything: `gpux runtime` without its subcommand,
      // `gpux help nosuch`; say what was wrong and what to do, as for every usage error
      const words = args.filter((a) => !a.startsWith("-"));
      const entry = selectedCommand(args);
      const message = words[0] === "help" && !entry
        ? `unknown command '${words[1] ?? ""}'`
        : `'gpux ${entry?.name ?? words[0] ?? ""}' needs a subcommand`;
      const hint = words[0] === "help" && !entry
        ? usageHint([]).slice("hint: ".length)
        : "pick one of the commands listed above";
      ctx.output({ json: false }).error(message, hint);
    }
    // commander printed the message; --json still gets its one document
    if (args.includes("--json")) {
      ctx.output({ json: true }).printJson(
        redactJson(
          {
            error: "UsageError",
            code: "usage",
            message: error.message,
            hint: usageHint(selectedCommand(args) ? [selectedCommand(args)!.name] : []).slice("hint: ".length),
            exitCode: ExitCode.Usage,
          },
          ctx.secrets,
        ),
      );
    }
    return ExitCode.Usage;
  }
  if (signal.aborted && !(error instanceof GpuxError)) error = new InterruptedError("interrupted");
  const out = ctx.output({ json: args.includes("--json") });
  if (error instanceof GpuxError) {
    // every error line gets its hint: the error's own, else one from its family and the command (fallback_hint.ts)
    const hint = fallbackHint(error, selectedCommand(args)?.name);
    out.error(error.message, hint);
    if (out.json) out.printJson(redactJson({ ...error.toJSON(), hint }, ctx.secrets));
    return error.exitCode;
  }
  const refused = permissionRefusal(error);
  if (refused) {
    out.error(refused.message, refused.hint);
    if (out.json) out.printJson(redactJson(refused.toJSON(), ctx.secrets));
    return refused.exitCode;
  }
  const report = unexpectedErrorReport(error, isTruthy(ctx.env("GPUX_DEBUG")));
  out.error(report.message, report.hint);
  if (report.trace) out.debug(report.trace);
  if (out.json) out.printJson(redactJson(report.json, ctx.secrets));
  return exitCodeOf(error);
}

/** What the CLI prints for an error that is not a {@linkcode GpuxError} (a bug). */
export interface UnexpectedErrorReport {
  /** The one `error:` line. */
  message: string;
  /** The `hint:` line. */
  hint: string;
  /** The stack trace, only when `debug` (GPUX_DEBUG=1) asked for it. */
  trace?: string;
  /** The `--json` error document. */
  json: { error: string; code: string; message: string; exitCode: number };
}

/**
 * One line saying what failed and how to report it — never a stack trace unless `debug`
 * (`GPUX_DEBUG=1`), and never one in the `--json` document.
 */
export function unexpectedErrorReport(error: unknown, debug: boolean): UnexpectedErrorReport {
  const text = (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).split("\n")[0];
  return {
    message: `unexpected failure: ${text}`,
    hint: "this is a bug in gpux; please report it with the command you ran" +
      (debug ? "" : " (GPUX_DEBUG=1 adds the stack trace)"),
    ...(debug && error instanceof Error && error.stack ? { trace: error.stack } : {}),
    json: { error: "UnexpectedError", code: "unexpected", message: text, exitCode: ExitCode.Unexpected },
  };
}

/**
 * The secrets given to this invocation, to redact from everything printed: `--token`'s value (also
 * `--token=…`) and `HF_TOKEN` / `HUGGING_FACE_HUB_TOKEN`.
 */
function secretsOf(args: string[]): string[] {
  const out: string[] = [];
  args.forEach((arg, i) => {
    if (arg === "--token" && i + 1 < args.length) out.push(args[i + 1]);
    else if (arg.startsWith("--token=")) out.push(arg.slice("--token=".length));
  });
  for (const name of ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"]) {
    const value = denoEnv(name);
    if (value) out.push(value);
  }
  return out.map((s) => s.trim()).filter((s) => s.length >= 4);
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
