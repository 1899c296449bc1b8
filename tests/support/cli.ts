/**
 * Runs the gpux CLI as a subprocess, the way a user does, and captures what it prints.
 *
 * @module
 */

/** What one CLI invocation printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/**
 * The permission flags `deno task gpux` grants (read from deno.json's `gpux` task), with its
 * `$(…)` command substitutions run as deno_task_shell runs them, in the environment `env`
 * (added to this process's), so the scoped `--allow-write`/`--allow-net` match what the task computes.
 */
export async function taskPermissions(env: Record<string, string> = {}): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(CONFIG));
  let task: string = typeof config.tasks.gpux === "string" ? config.tasks.gpux : config.tasks.gpux.command;
  for (const match of task.matchAll(/\$\(([^)]*)\)/g)) {
    const [program, ...args] = match[1].trim().split(/\s+/);
    const output = await new Deno.Command(program === "deno" ? Deno.execPath() : program, {
      args,
      cwd: new URL("../..", import.meta.url).pathname,
      env,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!output.success) throw new Error(`the gpux task's substitution failed: ${match[1]}`);
    task = task.replace(match[0], new TextDecoder().decode(output.stdout).trim());
  }
  return task.split(/\s+/).filter((part) =>
    part.startsWith("--allow-") || part.startsWith("--deny-") || part === "--no-prompt"
  );
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** Environment variables for the child; `NO_COLOR=1` is set unless overridden. */
  env?: Record<string, string>;
  /** Text written to the child's stdin (stdin is closed otherwise). */
  stdin?: string;
  /** Permission flags; default the ones `deno task gpux` grants. */
  permissions?: string[];
  /** Working directory. */
  cwd?: string;
}

/** Runs `gpux …args` as `deno run <permissions> cli.ts …args`. */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const permissions = options.permissions ?? await taskPermissions(options.env);
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", `--config=${CONFIG}`, ...permissions, CLI, ...args],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
  });
  const child = command.spawn();
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
