/**
 * `deno task install` / `deno task uninstall`: puts a `gpux` command on PATH (or removes it). Like
 * `deno install -g`, it writes into `$DENO_INSTALL_ROOT/bin` (default `~/.deno/bin`); unlike it, the command it
 * writes calls this Deno binary by its absolute path (a Deno that came from npm is often not on PATH) and runs
 * the launcher, which gives each command its own sandbox (src/cli/sandbox.ts):
 *
 * ```sh
 * exec '/path/to/deno' run --quiet --no-prompt --allow-env=<gpux's variables> --ignore-env --allow-read \
 *   --allow-run='/path/to/deno' --config='<repo>/deno.json' '<repo>/src/cli/launch.ts' "$@"
 * ```
 *
 * The launcher itself may read the environment variables gpux uses, read files (to resolve paths) and start only
 * this Deno binary; the command runs in that child under its own narrow flags.
 *
 * @module
 */
import { ENV_VARS } from "../src/cli/sandbox.ts";

const MARKER = "gpux launcher written by `deno task install`";
const ROOT = new URL("..", import.meta.url);

function fromFileUrl(url: URL): string {
  const path = decodeURIComponent(url.pathname);
  return Deno.build.os === "windows" ? path.replace(/^\/([A-Za-z]:)/, "$1").replaceAll("/", "\\") : path;
}

/** `$DENO_INSTALL_ROOT/bin`, else `~/.deno/bin`, as `deno install -g` chooses. */
export function binDir(): string {
  const root = Deno.env.get("DENO_INSTALL_ROOT")?.trim();
  if (root) return `${root.replace(/[\\/]+$/, "")}/bin`;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (!home) throw new Error("cannot find the home folder: set DENO_INSTALL_ROOT");
  return `${home}/.deno/bin`;
}

/** A word for `sh`: single-quoted, with `'` written as `'\''`. */
function shQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The launcher's own flags (not the commands': those the launcher computes per command line). */
export function launcherArgs(deno: string): string[] {
  for (const path of [deno, fromFileUrl(ROOT)]) {
    if (path.includes(",")) {
      throw new Error(`cannot install from ${path}: a path with a comma cannot be granted in a Deno permission flag`);
    }
  }
  return [
    "run",
    "--quiet",
    "--no-prompt",
    `--allow-env=${ENV_VARS.join(",")}`,
    "--ignore-env",
    "--allow-read",
    `--allow-run=${deno}`,
    `--config=${fromFileUrl(new URL("deno.json", ROOT))}`,
    fromFileUrl(new URL("src/cli/launch.ts", ROOT)),
  ];
}

/** The files the install writes: `gpux` (sh) and, on Windows, `gpux.cmd`. */
export function launcherFiles(deno: string): Record<string, string> {
  const args = launcherArgs(deno);
  const files: Record<string, string> = {
    gpux: `#!/bin/sh\n# ${MARKER}; remove with \`deno task uninstall\`\nexec ${shQuote(deno)} ${
      args.map(shQuote).join(" ")
    } "$@"\n`,
  };
  if (Deno.build.os === "windows") {
    const cmdQuote = (w: string) => `"${w.replaceAll('"', '""').replaceAll("%", "%%")}"`;
    files["gpux.cmd"] = `@echo off\r\nrem ${MARKER}\r\n${cmdQuote(deno)} ${args.map(cmdQuote).join(" ")} %*\r\n`;
  }
  return files;
}

async function install(): Promise<void> {
  const dir = binDir();
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(launcherFiles(Deno.execPath()))) {
    const path = `${dir}/${name}`;
    try {
      const existing = await Deno.readTextFile(path);
      if (!existing.includes(MARKER)) {
        console.error(`error: ${path} exists and was not written by deno task install; remove it first`);
        Deno.exit(1);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.writeTextFile(path, text, { mode: 0o755 });
    console.log(`installed ${path}`);
  }
  const onPath = (Deno.env.get("PATH") ?? "").split(Deno.build.os === "windows" ? ";" : ":").some((p) =>
    p.replace(/[\\/]+$/, "") === dir.replace(/[\\/]+$/, "")
  );
  if (!onPath) console.log(`add ${dir} to PATH to run gpux from anywhere, e.g. export PATH="${dir}:$PATH"`);
}

async function uninstall(): Promise<void> {
  const dir = binDir();
  let removed = 0;
  for (const name of ["gpux", "gpux.cmd"]) {
    const path = `${dir}/${name}`;
    try {
      if (!(await Deno.readTextFile(path)).includes(MARKER)) {
        console.error(`left ${path} alone: it was not written by deno task install`);
        continue;
      }
      await Deno.remove(path);
      console.log(`removed ${path}`);
      removed++;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  if (removed === 0) console.log(`no gpux installed in ${dir}`);
}

if (import.meta.main) {
  if (Deno.args.includes("--uninstall")) await uninstall();
  else await install();
}
