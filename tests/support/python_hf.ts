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
import { commandOutput } from "./command_output.ts";
import type { HubServer } from "./hub_server.ts";
import { pythonVenv, venvDir, venvPython } from "./python_venv.ts";

const VENV = venvDir("venv");
/** The venv's interpreter (call {@linkcode python} first to install the client). */
export const PYTHON = venvPython("venv");
/** The venv's `hf` command line, huggingface_hub's own CLI (call {@linkcode python} first to install it). */
export const HF_CLI = `${VENV}/bin/hf`;

/** The venv's interpreter, installing huggingface_hub first when needed. */
export function python(): Promise<string> {
  return pythonVenv({
    name: "venv",
    installs: [["huggingface_hub"]],
    check: "import huggingface_hub",
    who: "python interop",
  });
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
  const ran = await commandOutput(PYTHON, ["-c", code, JSON.stringify(arg)], { env, clearEnv: true });
  if (!ran.ok) throw new Error(`python failed: ${ran.err}`);
  return JSON.parse(ran.out.trim().split("\n").pop() ?? "null") as T;
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
