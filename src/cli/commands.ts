/**
 * The command registry: every command's name, aliases, one-line summary and how to load it. It imports no command
 * module and not commander (types only), so the launcher and `gpux --help` can list the commands without loading
 * any of them; src/cli/main.ts loads the one that runs.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";

/** What `gpux --help` says gpux is. */
export const DESCRIPTION =
  "Pull ONNX models from the Hugging Face Hub into the shared cache and run them on the best GPU you have.";

/** A command factory; each command has its own typed arguments and options. */
// deno-lint-ignore no-explicit-any
export type CommandFactory = (ctx: CliContext) => Command<any, any, any>;

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
    summary: "Run a model once and print its outputs; with --prompt, generate text with a language model",
    load: async () => (await import("./run.ts")).runCommand,
  },
  {
    name: "chat",
    summary: "Chat with a language model in the terminal: streamed answers, history kept (like ollama run)",
    load: async () => (await import("./chat.ts")).chatCommand,
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
    name: "serve",
    summary:
      "Serve models over HTTP: gpux API, KServe v2 (Open Inference Protocol), OpenAI- and Ollama-compatible APIs, Prometheus metrics",
    load: async () => (await import("./serve.ts")).serveCommand,
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
  {
    name: "runtime",
    summary: "onnxruntime and its execution providers: ls, install cuda, rm cuda",
    load: async () => (await import("./runtime.ts")).runtimeCommand,
  },
];

/** What `gpux` without a command prints after the help (on stderr, exit 2): a usage error says so, with a hint. */
export const NO_COMMAND_MESSAGE =
  "error: no command given\nhint: pick one of the commands above, e.g. gpux pull org/name (gpux COMMAND --help shows its options)\n";

/** The hint commander's own usage errors (unknown option, missing argument, bad value) get for `gpux …path`. */
export function usageHint(path: string[]): string {
  return path.length
    ? `hint: run 'gpux ${path.join(" ")} --help' for its arguments and options`
    : "hint: run 'gpux --help' for the list of commands";
}

/** The entry `args` runs (the first argument that is not an option, or the one after `help`), if any. */
export function selectedCommand(args: string[]): CommandEntry | undefined {
  const words = args.filter((a) => !a.startsWith("-"));
  const name = words[0] === "help" ? words[1] : words[0];
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name ?? ""));
}

/**
 * `gpux --help`, laid out as commander lays it out (usage, description, options, commands with their summaries),
 * wrapped to `width` columns (default: the terminal's, else 80).
 */
export function topLevelHelp(width: number = terminalWidth()): string {
  const terms: [string, string][] = [
    ...COMMANDS.map((c): [string, string] => [[c.name, ...(c.aliases ?? [])].join("|"), c.summary]),
    ["help [command]", "display help for command"],
  ];
  const options: [string, string][] = [["-V, --version", "output the version number"], [
    "-h, --help",
    "display help for command",
  ]];
  const pad = Math.max(...[...terms, ...options].map(([t]) => t.length)) + 2;
  const item = ([term, text]: [string, string]) => {
    const lines = wrap(text, Math.max(20, width - pad - 2));
    return `  ${term.padEnd(pad)}${lines[0]}\n${lines.slice(1).map((l) => `${" ".repeat(pad + 2)}${l}\n`).join("")}`;
  };
  return `Usage: gpux [options] [command]\n\n${wrap(DESCRIPTION, width).join("\n")}\n\nOptions:\n${
    options.map(item).join("")
  }\nCommands:\n${terms.map(item).join("")}`;
}

function terminalWidth(): number {
  try {
    return Deno.stdout.isTerminal() ? Deno.consoleSize().columns : 80;
  } catch {
    return 80;
  }
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines;
}
