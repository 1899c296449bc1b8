/**
 * Runs `gpux serve` as a subprocess the way a user does (`deno task gpux`'s permissions), waits for its
 * ready line, and gives its URL, its stderr so far, and ways to stop it.
 *
 * @module
 */
import { cliCommand, spawnCli } from "./cli.ts";

/** A running `gpux serve`. */
export interface ServeProcess {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** The ready line (or JSON ready document with --json-log). */
  ready: string;
  /** Everything printed on stdout after the ready line, and on stderr, so far. */
  stdout(): string;
  stderr(): string;
  /** Sends `signal` and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** The exit status (resolves when the process ends by itself). */
  status: Promise<Deno.CommandStatus>;
}

/** What happened when the server exited before it was ready. */
export interface ServeFailure {
  code: number;
  stdout: string;
  stderr: string;
}

function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }, onText?: () => void): Promise<void> {
  return stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        sink.text += chunk;
        onText?.();
      },
    }),
  );
}

/**
 * Starts `gpux serve …args` (add `--port 0` yourself) and resolves when it prints its ready line, or with
 * a {@linkcode ServeFailure} when it exits first.
 *
 * `sandbox: "exact"` runs it exactly as `deno task gpux serve …args` does (the launcher's per-command sandbox, in
 * `cwd` or `INIT_CWD`, with this process's environment under `env`); the default is the older, wider grant (every
 * file readable) the first serve tests were written against.
 */
export async function startServe(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; sandbox?: "exact" } = {},
): Promise<ServeProcess | ServeFailure> {
  const child = options.sandbox === "exact"
    ? cliCommand(["serve", ...args], { env: options.env ?? {}, ...(options.cwd ? { cwd: options.cwd } : {}) }).spawn()
    : await spawnCli(["serve", ...args], { env: options.env, cwd: options.cwd });
  return watchServe(child);
}

/**
 * Follows a started `gpux serve` process (stdout and stderr piped), wherever it runs — as a subprocess here or
 * inside a container whose runner passes its output through: resolves when it prints its ready line, or with a
 * {@linkcode ServeFailure} when it exits first.
 */
export async function watchServe(child: Deno.ChildProcess): Promise<ServeProcess | ServeFailure> {
  const out = { text: "" }, err = { text: "" };
  let onReady: (() => void) | undefined;
  const outDone = collect(child.stdout, out, () => onReady?.());
  const errDone = collect(child.stderr, err);
  const status = child.status.then(async (s) => {
    await Promise.all([outDone, errDone]).catch(() => {});
    return s;
  });
  const readyLine = await new Promise<string | undefined>((resolve) => {
    const check = () => {
      const nl = out.text.indexOf("\n");
      if (nl >= 0) resolve(out.text.slice(0, nl));
    };
    onReady = check;
    check();
    status.then(() => resolve(undefined));
  });
  if (readyLine === undefined) {
    const s = await status;
    return { code: s.code, stdout: out.text, stderr: err.text };
  }
  const url = readyLine.match(/http:\/\/[^\s",]+/)?.[0];
  if (!url) throw new Error(`no URL in the ready line: ${readyLine}`);
  return {
    url,
    ready: readyLine,
    stdout: () => out.text.slice(readyLine.length + 1),
    stderr: () => err.text,
    status,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
      return (await status).code;
    },
  };
}

/** Asserts that {@linkcode startServe} gave a running server. */
export function running(result: ServeProcess | ServeFailure): ServeProcess {
  if ("url" in result) return result;
  throw new Error(`gpux serve exited with ${result.code} before it was ready:\n${result.stderr}`);
}
