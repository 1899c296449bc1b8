/**
 * The real Python client, for interop tests: a virtual environment under `tests/.fixtures/venv` with
 * `huggingface_hub` installed by pip (once; later runs reuse it), and a runner for short Python scripts
 * against the local hub.
 *
 * When pip cannot install it, {@linkcode python} throws one clear line: the interop tests fail, they
 * never skip silently.
 *
 * @module
 */
import type { HubServer } from "./hub_server.ts";

const VENV = new URL("../.fixtures/venv", import.meta.url).pathname;
/** The venv's interpreter (call {@linkcode python} first to install the client). */
export const PYTHON = `${VENV}/bin/python`;
/** The venv's `hf` command line, huggingface_hub's own CLI (call {@linkcode python} first to install it). */
export const HF_CLI = `${VENV}/bin/hf`;

let ready: Promise<string> | undefined;

async function run(program: string, args: string[]): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder();
    return { ok: output.success, out: text.decode(output.stdout), err: text.decode(output.stderr) };
  } catch (e) {
    return { ok: false, out: "", err: (e as Error).message };
  }
}

async function install(): Promise<string> {
  const check = ["-c", "import huggingface_hub, sys; sys.stdout.write(huggingface_hub.__version__)"];
  const existing = await run(PYTHON, check);
  if (existing.ok) return existing.out;
  const venv = await run("python3", ["-m", "venv", VENV]);
  if (!venv.ok) throw new Error(`python interop: cannot create ${VENV}: ${venv.err.trim().split("\n").pop()}`);
  // --retries 0: where the default index is unreachable and a local one is configured, fail over at once
  const pip = await run(`${VENV}/bin/pip`, ["install", "--quiet", "--retries", "0", "huggingface_hub"]);
  const after = await run(PYTHON, check);
  if (!after.ok) {
    const why = (pip.err.trim().split("\n").filter((l) => !l.includes("is ignored")).pop() ?? "").trim();
    throw new Error(`python interop: pip could not install huggingface_hub into ${VENV} (${why || "no output"})`);
  }
  return after.out;
}

/** The installed huggingface_hub version (installing it first when needed). */
export function python(): Promise<string> {
  return ready ??= install();
}

/** The environment Python's client needs to talk to `hub` with the cache `cacheDir`. */
export function pythonEnv(hub: HubServer, cacheDir: string, home: string): Record<string, string> {
  return {
    // Python follows an LFS redirect only to another host name: the API on localhost, the CDN on 127.0.0.1
    HF_ENDPOINT: hub.url.replace("127.0.0.1", "localhost"),
    HF_HUB_CACHE: cacheDir,
    HF_HOME: home,
    HOME: home,
    HF_HUB_DISABLE_TELEMETRY: "1",
    HF_HUB_DISABLE_PROGRESS_BARS: "1",
    HF_HUB_DISABLE_XET: "1",
    HF_HUB_DISABLE_SYMLINKS_WARNING: "1",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  };
}

/** Runs `code` with the venv's Python (argv[1] is `JSON.stringify(arg)`); returns its stdout parsed as JSON. */
export async function runPython<T = unknown>(
  code: string,
  env: Record<string, string>,
  arg: unknown = null,
): Promise<T> {
  await python();
  const output = await new Deno.Command(PYTHON, {
    args: ["-c", code, JSON.stringify(arg)],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  const out = text.decode(output.stdout);
  if (!output.success) throw new Error(`python failed: ${text.decode(output.stderr)}`);
  return JSON.parse(out.trim().split("\n").pop() ?? "null") as T;
}

/** Starts `code` with the venv's Python without waiting; stdin piped, stdout/stderr piped. */
export async function spawnPython(
  code: string,
  env: Record<string, string>,
  arg: unknown = null,
): Promise<Deno.ChildProcess> {
  await python();
  return new Deno.Command(PYTHON, {
    args: ["-c", code, JSON.stringify(arg)],
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}
