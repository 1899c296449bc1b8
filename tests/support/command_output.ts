/**
 * Runs a program to its end and collects its exit status, stdout and stderr as text — the way the test support
 * drives pip, npm, node and Python build scripts. A program that cannot even start (not installed) answers
 * `ok: false` with the reason in `err` instead of throwing, so callers turn every failure into one clear line.
 *
 * @module
 */

/** What a finished program gave back. */
export interface CommandOutput {
  /** It started and exited with status 0. */
  ok: boolean;
  /** Its exit status (-1 when it could not start). */
  code: number;
  /** Its stdout. */
  out: string;
  /** Its stderr (or why it could not start). */
  err: string;
}

/** Options of {@linkcode commandOutput}. */
export interface CommandOutputOptions {
  /** Variables added to the inherited environment (or the whole environment with `clearEnv`). */
  env?: Record<string, string>;
  /** Start with `env` only. */
  clearEnv?: boolean;
  /** Working folder. */
  cwd?: string;
  /** Text written to its stdin (closed after); without it stdin is null. */
  stdin?: string;
}

/** Runs `program args` to its end; never throws. */
export async function commandOutput(
  program: string,
  args: string[],
  options: CommandOutputOptions = {},
): Promise<CommandOutput> {
  try {
    const child = new Deno.Command(program, {
      args,
      env: options.env,
      clearEnv: options.clearEnv,
      cwd: options.cwd,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const output = await child.output();
    const text = new TextDecoder();
    return { ok: output.success, code: output.code, out: text.decode(output.stdout), err: text.decode(output.stderr) };
  } catch (e) {
    return { ok: false, code: -1, out: "", err: (e as Error).message };
  }
}

/** pip's and npm's chatter, left out of {@linkcode lastLines}. */
const NOISE = /is ignored|[Ww]arn|install-scripts|VerifyOutputSizes/;

/** The last `count` meaningful lines of a program's stderr (pip/npm warnings left out), for a one-line error. */
export function lastLines(text: string, count = 1): string {
  const lines = text.trim().split("\n").filter((l) => l.trim() !== "" && !NOISE.test(l));
  return lines.slice(-count).join("\n").trim() || "no output";
}
