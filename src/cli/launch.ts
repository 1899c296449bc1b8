/**
 * The launcher of `deno task gpux` and of the installed `gpux` command: computes the sandbox of this exact
 * command line ({@linkcode commandSandbox}) and runs `cli.ts` under it in one child process of the same Deno
 * binary (`Deno.execPath()`), from the folder the user started in (`INIT_CWD` under `deno task`), so relative
 * paths mean what the user meant. Every path is one argument of the child: nothing is word-split by a shell.
 *
 * It imports only the sandbox and the command registry (no commander, no npm package), so it starts in a few
 * milliseconds. The launcher itself runs with `--allow-env --allow-read --allow-run`: it reads the environment and
 * resolves paths; gpux's commands run only in the sandboxed child. `gpux --version`, `gpux --help` and bare `gpux` touch no file,
 * host or library, so the launcher answers them itself (one process instead of two).
 *
 * @module
 */
import { denoEnv, type EnvReader } from "../environment.ts";
import { commandSandbox, denoPermissionFlags, SandboxError } from "./sandbox.ts";
import { VERSION } from "../version.ts";
import { NO_COMMAND_MESSAGE, topLevelHelp } from "./commands.ts";

/** Where the launched program lives: the repository (or installed copy) this file belongs to. */
const ROOT = new URL("../../", import.meta.url);

/** onnxruntime-node's native folder for this platform, and its real path, when installed beside gpux. */
export function onnxruntimeDirs(root: URL = ROOT): string[] {
  if (root.protocol !== "file:") return [];
  const os = Deno.build.os === "windows" ? "win32" : Deno.build.os;
  const arch = Deno.build.arch === "x86_64" ? "x64" : "arm64";
  const dir = fromFileUrl(new URL(`node_modules/onnxruntime-node/bin/napi-v6/${os}/${arch}`, root));
  const real = realPath(dir);
  return real && real !== dir ? [dir, real] : [dir];
}

function fromFileUrl(url: URL): string {
  const path = decodeURIComponent(url.pathname);
  return Deno.build.os === "windows" ? path.replace(/^\/([A-Za-z]:)/, "$1").replaceAll("/", "\\") : path;
}

function realPath(path: string): string | undefined {
  try {
    return Deno.realPathSync(path);
  } catch {
    return undefined; // not there yet (a cache pull creates), or not readable: grant the path as given
  }
}

/** The folder relative paths mean: where `deno task` was started (`INIT_CWD`), else the current one. */
export function startFolder(): string {
  const init = denoEnv("INIT_CWD");
  if (init) {
    try {
      if (Deno.statSync(init).isDirectory) return init;
    } catch { /* vanished: use the current folder */ }
  }
  return Deno.cwd();
}

/** The sandbox flags of `args` started in `cwd` (what {@linkcode launchArgs} passes). */
export function sandboxFlags(args: string[], cwd: string, env: EnvReader = denoEnv, root: URL = ROOT): string[] {
  // gpux's own code and its npm packages, which may read their own files (a Worker's module, a .wasm codec)
  const sourceDirs = root.protocol === "file:"
    ? [fromFileUrl(new URL("src", root)), fromFileUrl(new URL("node_modules", root))]
    : [];
  return denoPermissionFlags(
    commandSandbox(args, { env, cwd, onnxruntimeDirs: onnxruntimeDirs(root), sourceDirs, realPath }),
  );
}

/** The child's command line: `run <sandbox flags> cli.ts …args`. Exported for the tests, which spawn the same. */
export function launchArgs(args: string[], cwd: string, env: EnvReader = denoEnv, root: URL = ROOT): string[] {
  return [
    "run",
    "--quiet",
    `--config=${fromFileUrl(new URL("deno.json", root))}`,
    ...sandboxFlags(args, cwd, env, root),
    fromFileUrl(new URL("cli.ts", root)),
    ...args,
  ];
}

async function launch(args: string[]): Promise<number> {
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    Deno.stdout.writeSync(new TextEncoder().encode(`${VERSION}\n`));
    return 0;
  }
  if (args.length === 1 && ["--help", "-h", "help"].includes(args[0])) {
    Deno.stdout.writeSync(new TextEncoder().encode(topLevelHelp()));
    return 0;
  }
  if (args.length === 0) {
    Deno.stderr.writeSync(new TextEncoder().encode(topLevelHelp() + "\n" + NO_COMMAND_MESSAGE));
    return 2; // no command: a usage error, as main.ts says
  }
  const cwd = startFolder();
  let childArgs: string[];
  try {
    childArgs = launchArgs(args, cwd);
  } catch (e) {
    const [message, hint, code] = e instanceof SandboxError ? [e.message, e.hint, e.exitCode] : [
      `unexpected failure: ${e instanceof Error ? e.message : String(e)}`,
      "this is a bug in gpux; please report it with the command you ran",
      1,
    ];
    Deno.stderr.writeSync(new TextEncoder().encode(`error: ${message}\n${hint ? `hint: ${hint}\n` : ""}`));
    return code;
  }
  // Ctrl-C reaches the child through the terminal's process group: the launcher only waits for its exit code.
  // SIGTERM and SIGHUP (a service manager, a closed terminal) are passed on to the child.
  const child = new Deno.Command(Deno.execPath(), {
    args: childArgs,
    cwd,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const forwarded: [Deno.Signal, () => void][] = [["SIGINT", () => {}]];
  if (Deno.build.os !== "windows") {
    for (const signal of ["SIGTERM", "SIGHUP"] as const) {
      forwarded.push([signal, () => {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
      }]);
    }
  }
  for (const [signal, handler] of forwarded) Deno.addSignalListener(signal, handler);
  const status = await child.status;
  for (const [signal, handler] of forwarded) Deno.removeSignalListener(signal, handler);
  if (status.signal) return 128 + (SIGNALS[status.signal] ?? 1);
  return status.code;
}

const SIGNALS: Partial<Record<Deno.Signal, number>> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1 };

if (import.meta.main) {
  Deno.exit(await launch(Deno.args));
}
