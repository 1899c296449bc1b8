/**
 * Every error path of the CLI says what happened and what to do: this test walks the command tree (src/cli/commands.ts,
 * loaded as `gpux` loads it, so a new command, subcommand or option is covered without touching this file), runs each
 * error case under `deno task gpux`'s own sandbox, and fails on any `error:` line not followed by a `hint:` line, on a
 * stack trace, on an "unexpected failure" (a bug), and on an exit code other than the documented one (README: Exit
 * codes — 2 usage or bad input, 3 not found, 5 network).
 *
 * The cases, per command and subcommand: missing required arguments; an unknown option; each value-taking option with
 * its value missing; each option whose parser refuses a bad value, with that value; an unknown subcommand; a missing
 * file for each path the command reads (positional model, --file, --image, …); a malformed model id; and for the
 * commands that talk to the Hub or a package registry, an unreachable one (a closed loopback port).
 */
import { assert } from "./support/assert.ts";
import { cliCommand, type CliResult } from "./support/cli.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";
import { COMMANDS } from "../src/cli/commands.ts";
import { createContext } from "../src/cli/context.ts";
import { COMMAND_NEEDS, type CommandNeeds, DEFAULT_NEEDS } from "../src/cli/sandbox.ts";
import { envFrom } from "../src/environment.ts";
import type { Command, Option } from "@commander-js/extra-typings";

/** One error case: the command line, the exit codes the README documents for it, and why it must fail. */
interface ErrorCase {
  args: string[];
  codes: number[];
  why: string;
  env?: Record<string, string>;
}

const USAGE = [2];
const NOT_FOUND = [3];
const NETWORK = [5];
/** Every exit code the README documents for a failure (130: interrupted). */
const DOCUMENTED = [1, 2, 3, 4, 5, 6, 7];

/** A free loopback port with nothing listening on it (an unreachable Hub). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A placeholder for a required positional argument: a model file for the runtime commands, else a word. */
function placeholder(name: string, model: string): string {
  if (/model/.test(name)) return model;
  if (name === "provider") return "cuda";
  return "x";
}

/** Whether the option's parser refuses `value` (so commander or the parser reports it before anything runs). */
function refuses(option: Option, value: string): boolean {
  // deno-lint-ignore no-explicit-any
  const parse = (option as any).parseArg as ((v: string, prev: unknown) => unknown) | undefined;
  if (!parse) return false;
  try {
    parse(value, undefined);
    return false;
  } catch {
    return true;
  }
}

function needsOf(path: string[]): CommandNeeds {
  const top = COMMAND_NEEDS[path[0]] ?? DEFAULT_NEEDS;
  return path.length > 1 ? top.subcommands?.[path[1]] ?? top : top;
}

/** The error cases of `cmd` (reached as `gpux …path`), and of its subcommands. */
// deno-lint-ignore no-explicit-any
function casesOf(cmd: Command<any, any, any>, path: string[], model: string, dir: string): ErrorCase[] {
  const cases: ErrorCase[] = [];
  // deno-lint-ignore no-explicit-any
  const subs = cmd.commands as Command<any, any, any>[];
  if (subs.length) {
    cases.push({ args: [...path, "no-such-subcommand"], codes: USAGE, why: "unknown subcommand" });
    for (const sub of subs) cases.push(...casesOf(sub, [...path, sub.name()], model, dir));
    return cases;
  }
  const required = cmd.registeredArguments.filter((a) => a.required);
  const positionals = required.map((a) => placeholder(a.name(), model));
  if (required.length) cases.push({ args: path, codes: USAGE, why: "missing required argument" });
  cases.push({ args: [...path, ...positionals, "--no-such-option"], codes: USAGE, why: "unknown option" });
  const valueOptions = (cmd.options as Option[]).filter((o) => o.required);
  // commander reports a missing value the same way for every option: once per command
  if (valueOptions[0]) {
    const flag = valueOptions[0].long ?? valueOptions[0].short!;
    cases.push({ args: [...path, ...positionals, flag], codes: USAGE, why: `${flag} without its value` });
  }
  for (const option of valueOptions) {
    const flag = option.long ?? option.short!;
    const refused = ["bogus", "-1", "99999999999"].find((bad) => refuses(option, bad));
    if (refused) {
      cases.push({ args: [...path, ...positionals, flag, refused], codes: USAGE, why: `${flag} ${refused}` });
    } else if (path[0] !== "serve") {
      // a value only the command checks (or one any value suits): whatever happens, a failure has its hint;
      // offline, so that a command that would go to the Hub fails at once (a server would run: serve is left out)
      cases.push({
        args: [...path, ...positionals, flag, "bogus"],
        codes: [0, ...DOCUMENTED],
        why: `${flag} bogus`,
        env: { HF_HUB_OFFLINE: "1" },
      });
    }
  }
  // files the command reads: a positional model path and the path-taking options
  const needs = needsOf(path);
  if (needs.readPaths?.positionals && required.length) {
    cases.push({
      args: [...path, `${dir}/missing/model.onnx`, ...positionals.slice(1)],
      codes: NOT_FOUND,
      why: "missing model file",
    });
  }
  for (const flag of needs.readPaths?.options ?? []) {
    if (!(cmd.options as Option[]).some((o) => o.long === flag || o.short === flag)) continue;
    if (!flag.startsWith("--")) continue;
    const value = flag === "--input-npy" ? `x=${dir}/missing.npy` : `${dir}/missing.bin`;
    // README: a missing or unreadable input file is bad input (2); a missing model is not found (3)
    cases.push({ args: [...path, ...positionals, flag, value], codes: USAGE, why: `${flag} names a missing file` });
  }
  // a malformed Hub model id where the command takes one
  if (required[0] && /model/.test(required[0].name()) && path.length === 1) {
    cases.push({ args: [...path, "acme/bad/id@"], codes: [...USAGE, ...NOT_FOUND], why: "malformed model id" });
  }
  return cases;
}

/** `gpux …args` as `deno task gpux` runs it, stdin empty, killed after `timeoutMs` (a command that should fail). */
async function runWithin(
  args: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs = 60_000,
): Promise<CliResult> {
  const command = cliCommand(args, { env, cwd, stdin: "" });
  const child = command.spawn();
  await child.stdin.close();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** Why `r` is not a clean error with a hint and one of `codes`; undefined when it is. */
function problem(r: CliResult, codes: number[]): string | undefined {
  if (!codes.includes(r.code)) return `exit ${r.code}, documented ${codes.join(" or ")}`;
  if (r.code === 0) return undefined;
  if (r.code === 1) return "exit 1: an unexpected failure (a bug)";
  const lines = r.stderr.split("\n");
  const errors = lines.flatMap((line, i) => line.startsWith("error: ") ? [i] : []);
  if (!errors.length) return "no error: line";
  for (const i of errors) {
    if (!lines[i + 1]?.startsWith("hint: ") || lines[i + 1].trim() === "hint:") return `no hint after '${lines[i]}'`;
  }
  if (/^\s+at /m.test(r.stderr)) return "stack trace";
  if (r.stderr.includes("unexpected failure")) return "an unexpected failure (a bug)";
  return undefined;
}

Deno.test("every CLI error path prints an error line and a hint, with the documented exit code (walks the command tree)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux_hints_" });
  try {
    const model = `${dir}/id.onnx`;
    await writeModel(model, identityModel("float32", ["batch", 3]));
    const port = closedPort();
    const env = {
      HOME: dir,
      HF_HOME: `${dir}/hf`,
      HF_HUB_CACHE: `${dir}/hub`,
      GPUX_HOME: `${dir}/gpux`,
      HF_ENDPOINT: `http://127.0.0.1:${port}`,
      GPUX_NPM_REGISTRY: `http://127.0.0.1:${port}`,
      GPUX_NUGET_URL: `http://127.0.0.1:${port}/v3/index.json`,
      HF_TOKEN: "",
      HF_TOKEN_PATH: "",
      INIT_CWD: dir,
    };
    const ctx = createContext(new AbortController().signal, envFrom(env), []);
    const cases: ErrorCase[] = [
      { args: [], codes: USAGE, why: "no command" },
      { args: ["no-such-command"], codes: USAGE, why: "unknown command" },
      { args: ["help", "no-such-command"], codes: USAGE, why: "help for an unknown command" },
    ];
    for (const entry of COMMANDS) {
      cases.push(...casesOf((await entry.load())(ctx), [entry.name], model, dir));
    }
    // an unreachable Hub (a closed loopback port) for every command that talks to it, and an unreachable registry
    const token = "hf_unreachable0000000000000";
    const reach: ErrorCase[] = [
      { args: ["search", "bert"], codes: NETWORK, why: "unreachable hub" },
      { args: ["info", "acme/tiny"], codes: NETWORK, why: "unreachable hub" },
      { args: ["pull", "acme/tiny"], codes: NETWORK, why: "unreachable hub" },
      { args: ["whoami"], codes: NETWORK, why: "unreachable hub", env: { HF_TOKEN: token } },
      { args: ["login", "--token", token], codes: NETWORK, why: "unreachable hub" },
      { args: ["run", "acme/tiny", "--pull"], codes: NETWORK, why: "unreachable hub" },
      { args: ["runtime", "install", "cuda"], codes: NETWORK, why: "unreachable package registry" },
    ];
    for (const c of reach) {
      assert(COMMANDS.some((e) => e.name === c.args[0]), `${c.args[0]} is no longer a command: update this list`);
    }
    cases.push(...reach);
    assert(cases.length > 100, `only ${cases.length} cases: the walk lost commands`);
    const failures: string[] = [];
    await inBatches(cases, 3, async (c) => {
      const r = await runWithin(c.args, { ...env, ...c.env }, dir);
      const why = problem(r, c.codes);
      if (why) {
        failures.push(
          `gpux ${c.args.join(" ")} (${c.why}): ${why}\n${r.stderr.trim().split("\n").slice(-3).join("\n")}`,
        );
      }
    });
    assert(failures.length === 0, `${failures.length} of ${cases.length} error paths:\n\n${failures.join("\n\n")}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
