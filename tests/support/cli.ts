/**
 * Runs the gpux CLI as a subprocess, the way a user does, and captures what it prints.
 *
 * @module
 */
import { envFrom } from "../../src/environment.ts";
import { launchArgs, sandboxFlags } from "../../src/cli/launch.ts";
import { commandSandbox, denoPermissionFlags } from "../../src/cli/sandbox.ts";

/** What one CLI invocation printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** The environment the child sees: this process's, `NO_COLOR=1`, then `env`. */
function childEnv(env: Record<string, string> = {}): Record<string, string> {
  return { ...Deno.env.toObject(), NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env };
}

/**
 * The permission flags `deno task gpux …args` runs the CLI with (src/cli/sandbox.ts, through the launcher), in the
 * environment `env` (added to this process's), for a command line started in `cwd`.
 *
 * Without `args` (callers written before per-command sandboxes): the flags the task used to grant every command —
 * any file readable; the cache, the token folder, `GPUX_HOME` and `INIT_CWD` writable; the Hub, the package hosts,
 * loopback and `0.0.0.0` reachable; any native library; gpux's variables and `INIT_CWD` readable. Pass the command line instead to
 * test a command under exactly its sandbox.
 */
export function taskPermissions(env: Record<string, string> = {}, args?: string[], cwd = Deno.cwd()): string[] {
  const merged = childEnv(env);
  if (args) return sandboxFlags(args, cwd, envFrom(merged));
  const common = commandSandbox(["(any command)"], { env: envFrom(merged), cwd });
  const tokenFolder = commandSandbox(["login"], { env: envFrom(merged), cwd }).write;
  const initCwd = merged.INIT_CWD;
  return denoPermissionFlags({
    ...common,
    read: [],
    write: [...new Set([...common.write, ...tokenFolder, ...(initCwd ? [initCwd] : [])])],
    net: [...common.net, "0.0.0.0"], // the old task let a server bind every interface
    env: [...common.env, "INIT_CWD"],
  }).filter((flag) => !flag.startsWith("--allow-read")).concat("--allow-read");
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** Environment variables for the child; `NO_COLOR=1` is set unless overridden. */
  env?: Record<string, string>;
  /** Text written to the child's stdin (stdin is closed otherwise). */
  stdin?: string;
  /** Permission flags; default exactly the ones `deno task gpux …args` grants this command line. */
  permissions?: string[];
  /** Working directory (where relative paths on the command line start). */
  cwd?: string;
}

/**
 * The child process `deno task gpux …args` starts (the launcher's `launchArgs`): `deno run <sandbox> cli.ts …args`,
 * or with `permissions` instead of the sandbox.
 */
export function cliCommand(args: string[], options: RunCliOptions = {}): Deno.Command {
  const env = childEnv(options.env);
  // as the launcher does: relative paths start where `deno task` was started (INIT_CWD), else the current folder
  const cwd = options.cwd ?? env.INIT_CWD ?? Deno.cwd();
  const argv = options.permissions
    ? ["run", "--quiet", `--config=${CONFIG}`, ...options.permissions, CLI, ...args]
    : launchArgs(args, cwd, envFrom(env));
  return new Deno.Command(Deno.execPath(), {
    args: argv,
    env,
    cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `gpux …args` as `deno task gpux` does: `deno run <this command line's sandbox> cli.ts …args`. */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const child = cliCommand(args, options).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Starts `gpux …args` like {@linkcode runCli} without waiting: stdout and stderr piped, stdin closed. */
export async function spawnCli(args: string[], options: RunCliOptions = {}): Promise<Deno.ChildProcess> {
  const permissions = options.permissions ?? await taskPermissions(options.env);
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", `--config=${CONFIG}`, ...permissions, CLI, ...args],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
  }).spawn();
}
