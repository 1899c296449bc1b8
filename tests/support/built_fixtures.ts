/**
 * Fixtures built once by a Python script and cached under `tests/.fixtures/`, named (or stamped) by the sha256 of
 * the script and its other inputs, so that they are rebuilt exactly when the script changes. The script writes into
 * a temporary folder beside the result, which is moved into place only when it succeeded (a concurrent build that
 * finished first is kept), so a failed or interrupted build never leaves a half folder that looks current.
 *
 * When the build fails, {@linkcode builtFixtures} throws one clear line (the script's last error lines): the tests
 * that need the fixtures fail, they never skip silently.
 *
 * @module
 */
import { commandOutput, lastLines } from "./command_output.ts";
import { pathExists } from "./path_exists.ts";

/** How to build one fixture set. */
export interface FixtureBuild {
  /** Who builds, leading the error line. */
  who: string;
  /** The Python build script. */
  script: string;
  /** Other inputs whose change must rebuild, hashed after the script's text. */
  inputs?: string;
  /** The result's folder, given the hex sha256 of the script (and `inputs`). */
  outDir: (sha256: string) => string;
  /** Whether `dir` holds a complete build for `sha256` (default: `goldens.json` is there). */
  complete?: (dir: string, sha256: string) => Promise<boolean>;
  /** The interpreter to run the script with (creating its environment); asked only when building. */
  python: () => Promise<string>;
  /** Fills the temporary folder `tmp` with what the script reads; returns the script's arguments (default `[tmp]`). */
  prepare?: (tmp: string) => Promise<string[]>;
  /** The folder under `tmp` holding the result once the script succeeded, trimmed as needed (default `tmp`). */
  finish?: (tmp: string) => Promise<string>;
  /** Environment variables for the script. */
  env?: Record<string, string>;
}

async function sha256Hex(text: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", text);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The built folder: reused when complete for the current script, otherwise built now. */
export async function builtFixtures(build: FixtureBuild): Promise<string> {
  const complete = build.complete ?? ((dir: string) => pathExists(`${dir}/goldens.json`));
  const script = await Deno.readFile(build.script);
  const hashed = build.inputs === undefined
    ? script
    : new TextEncoder().encode(`${new TextDecoder().decode(script)}\n${build.inputs}`);
  const sha = await sha256Hex(hashed);
  const dir = build.outDir(sha);
  if (await complete(dir, sha)) return dir;
  const python = await build.python();
  const parent = dir.slice(0, dir.lastIndexOf("/"));
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: ".build-" });
  try {
    const args = build.prepare ? await build.prepare(tmp) : [tmp];
    const ran = await commandOutput(python, [build.script, ...args], { env: build.env });
    if (!ran.ok) throw new Error(`${build.who}: ${build.script} failed: ${lastLines(ran.err, 8)}`);
    const result = build.finish ? await build.finish(tmp) : tmp;
    if (await complete(dir, sha)) return dir; // a concurrent build finished first
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    try {
      await Deno.rename(result, dir);
    } catch (e) {
      if (!(await complete(dir, sha))) throw e; // a concurrent build finished first
    }
    return dir;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
