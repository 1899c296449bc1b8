/**
 * `deno task compile [--target T] [--out-dir D]`: a standalone `gpux` binary, `dist/gpux-<target>`, for
 * linux-x86_64, linux-aarch64, macos-x86_64, macos-aarch64 or windows-x86_64 (default: this machine's).
 *
 * - Embeds only that target's onnxruntime-node native folder (the others are excluded: ~45 MB instead of ~290 MB),
 *   and the sandbox flags gpux can fix at build time (below). At run time the binary copies the onnxruntime library
 *   out of itself once (src/runtime/embedded_runtime.ts), since Deno extracts only the `.node` addon.
 * - `deno compile` needs `denort`, the runtime it copies into the binary, which it downloads from dl.deno.land.
 *   Where that is not reachable, set `DENORT_BIN` to a denort of the same Deno version for the target; without one
 *   (and none cached in DENO_DIR), this stops with one line saying so.
 * - Pointing DENORT_BIN at the full `deno` builds a file that is Deno's REPL, not gpux: refused before building, and
 *   every binary this machine can run is started once (`--version`) and deleted unless it answers as gpux.
 *
 * Baked-in permissions: a compiled binary cannot compute per-command paths (its flags are fixed when it is built
 * and the paths it needs, such as the cache and GPUX_HOME, are only known on the user's machine), so it gets
 * `--no-prompt`, only gpux's environment variables (`--allow-env=<list> --ignore-env`), `--allow-sys=hostname,osRelease,systemMemoryInfo`,
 * and no subprocesses; files, network and native libraries are not path-scoped. `deno task gpux` and the installed
 * `gpux` keep the per-command sandbox.
 *
 * @module
 */
import { ENV_VARS } from "../src/cli/sandbox.ts";
import { VERSION } from "../src/version.ts";
import { pathExists } from "../src/path_exists.ts";

/** A build target: the name users see, Deno's target triple, onnxruntime-node's folder. */
export interface Target {
  name: string;
  triple: string;
  ort: string;
  exe: string;
}

/** Every target gpux builds. */
export const TARGETS: Target[] = [
  { name: "linux-x86_64", triple: "x86_64-unknown-linux-gnu", ort: "linux/x64", exe: "" },
  { name: "linux-aarch64", triple: "aarch64-unknown-linux-gnu", ort: "linux/arm64", exe: "" },
  { name: "macos-x86_64", triple: "x86_64-apple-darwin", ort: "darwin/x64", exe: "" },
  { name: "macos-aarch64", triple: "aarch64-apple-darwin", ort: "darwin/arm64", exe: "" },
  { name: "windows-x86_64", triple: "x86_64-pc-windows-msvc", ort: "win32/x64", exe: ".exe" },
];

const ROOT = new URL("..", import.meta.url).pathname;

/** This machine's target. */
export function hostTarget(): Target | undefined {
  const os = Deno.build.os === "darwin" ? "macos" : Deno.build.os;
  return TARGETS.find((t) => t.name === `${os}-${Deno.build.arch}`);
}

/** The permission flags baked into the binary. */
export function compiledPermissionFlags(): string[] {
  return [
    "--no-prompt",
    `--allow-env=${ENV_VARS.join(",")}`,
    "--ignore-env",
    "--allow-sys=hostname,osRelease,systemMemoryInfo",
    "--allow-read",
    "--allow-write",
    "--allow-net",
    "--allow-ffi",
  ];
}

/** A build that cannot or must not happen, said in one line. */
export class Refusal extends Error {}

async function output(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; text: string }> {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return { code: out.code, text: (decoder.decode(out.stdout) + decoder.decode(out.stderr)).trim() };
}

function denoDir(): string {
  const explicit = Deno.env.get("DENO_DIR");
  if (explicit) return explicit;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? "";
  if (Deno.build.os === "darwin") return `${home}/Library/Caches/deno`;
  if (Deno.build.os === "windows") return `${Deno.env.get("LOCALAPPDATA") ?? home}/deno`;
  return `${Deno.env.get("XDG_CACHE_HOME") ?? `${home}/.cache`}/deno`;
}

/** Checks that a denort is available for `target`; returns the environment for `deno compile`. */
async function denortFor(target: Target): Promise<Record<string, string>> {
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    if (!pathExists(denort)) throw new Refusal(`DENORT_BIN=${denort} does not exist`);
    const probe = await output(denort, ["--version"], 15_000).catch(() => ({ code: -1, text: "" }));
    if (/^deno \d+\.\d+\.\d+/.test(probe.text)) {
      throw new Refusal(
        `DENORT_BIN=${denort} is the full deno (it answers --version), not denort: the binary would be Deno's REPL, not gpux; set DENORT_BIN to denort ${Deno.version.deno} for ${target.triple}`,
      );
    }
    return { DENORT_BIN: denort };
  }
  const cached = `${denoDir()}/dl/release/v${Deno.version.deno}/denort-${target.triple}.zip`;
  if (pathExists(cached)) return {};
  throw new Refusal(
    `deno compile needs denort ${Deno.version.deno} for ${target.triple} and none is cached (it downloads it from dl.deno.land, unreachable here): set DENORT_BIN=/path/to/denort`,
  );
}

/** `--exclude` flags for every other platform's onnxruntime-node folder and the npm-installed deno binaries. */
function excludes(target: Target): string[] {
  const ortBin = Deno.realPathSync(`${ROOT}node_modules/onnxruntime-node/bin/napi-v6`);
  const out: string[] = [];
  for (const os of Deno.readDirSync(ortBin)) {
    for (const arch of Deno.readDirSync(`${ortBin}/${os.name}`)) {
      if (`${os.name}/${arch.name}` !== target.ort) out.push(`--exclude=${ortBin}/${os.name}/${arch.name}`);
    }
  }
  for (
    const path of ["node_modules/.bin", "node_modules/deno", "node_modules/@deno", "tests", "scripts", "docs", "dist"]
  ) {
    if (pathExists(`${ROOT}${path}`)) out.push(`--exclude=${ROOT}${path}`);
  }
  return out;
}

/**
 * Starts a freshly built binary once with `--version` (stdin closed, 20 s at most) and deletes it unless it answers
 * exactly as gpux: a binary built on the full deno instead of denort starts Deno's REPL instead.
 */
export async function verifyBinary(path: string, target: Target): Promise<void> {
  const check = await output(path, ["--version"], 20_000).catch((e) => ({ code: -1, text: String(e) }));
  if (check.code === 0 && check.text === VERSION) return;
  await Deno.remove(path).catch(() => {});
  throw new Refusal(
    `the binary built for ${target.name} does not answer as gpux ${VERSION} (got ${
      JSON.stringify(check.text.slice(0, 80))
    }): DENORT_BIN is probably not denort; deleted it`,
  );
}

/** `deno compile`'s arguments for `target`, writing `out`. */
export function compileArgs(target: Target, out: string): string[] {
  return [
    "compile",
    "--quiet",
    `--config=${ROOT}deno.json`,
    `--target=${target.triple}`,
    `--output=${out}`,
    ...excludes(target),
    ...compiledPermissionFlags(),
    `${ROOT}src/cli/compiled_entry.ts`,
  ];
}

/** Builds the binary for `target` into `outDir`; returns its path. */
export async function compile(target: Target, outDir: string): Promise<string> {
  if (!pathExists(`${ROOT}node_modules/onnxruntime-node/bin/napi-v6/${target.ort}`)) {
    throw new Refusal(
      `onnxruntime-node 1.29.0 ships no native library for ${target.name} (bin/napi-v6/${target.ort}): this target cannot run models`,
    );
  }
  const env = await denortFor(target);
  await Deno.mkdir(outDir, { recursive: true });
  const out = `${outDir}/gpux-${target.name}${target.exe}`;
  const args = compileArgs(target, out);
  const built = await new Deno.Command(Deno.execPath(), { args, env, stdout: "inherit", stderr: "inherit" }).output();
  if (!built.success) throw new Refusal(`deno compile failed for ${target.name} (exit code ${built.code})`);
  if (target === hostTarget()) await verifyBinary(out, target);
  return out;
}

if (import.meta.main) {
  const flag = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : Deno.args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  };
  const wanted = flag("--target");
  const outDir = flag("--out-dir") ?? `${ROOT}dist`;
  const targets = wanted === "all" ? TARGETS : [TARGETS.find((t) => t.name === wanted || t.triple === wanted)];
  if (wanted === undefined) targets[0] = hostTarget();
  if (targets.some((t) => t === undefined)) {
    console.error(
      `error: unknown target ${JSON.stringify(wanted ?? Deno.build.target)}; one of ${
        TARGETS.map((t) => t.name).join(", ")
      }, or all`,
    );
    Deno.exit(2);
  }
  let failed = 0;
  for (const target of targets as Target[]) {
    try {
      console.log(`built ${await compile(target, outDir)}`);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      console.error(`error: ${e.message}`);
      failed++;
    }
  }
  Deno.exit(failed ? 1 : 0);
}
