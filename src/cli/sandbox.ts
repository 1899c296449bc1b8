/**
 * The permission sandbox: from the environment and the actual command line, the narrowest Deno permission
 * flags each gpux command runs under. One source of truth for `deno task gpux` (through `src/cli/launch.ts`),
 * the installed `gpux` launcher, the tests (`tests/support/cli.ts`) and the README's permission table.
 *
 * Every path travels as data: one `--allow-write=<path>` flag per path, passed to the child process as one
 * argument, never through a shell. Deno splits a permission flag's value at commas and has no escape for them
 * (checked with Deno 2.9: `a,,b` is refused as an empty path), so a path containing a comma cannot be granted
 * exactly; {@linkcode denoPermissionFlags} refuses it with a {@linkcode SandboxError} instead of granting
 * something else.
 *
 * What a command may touch ({@linkcode COMMAND_NEEDS}):
 * - write: the cache in use (`--cache-dir`, else `HF_HUB_CACHE`, `HUGGINGFACE_HUB_CACHE`, `$HF_HOME/hub`), `pull
 *   --local-dir`'s folder, the
 *   token file's folder (login/logout only), the folder of each `--output` file (run/init; init without
 *   `--output`: the folder its `gpux.yml` goes to), gpux's state folder (`GPUX_HOME`, default `~/.gpux`) for the
 *   commands that keep state there;
 * - read: the same, the token files, and the paths named on the command line (the model, `--file`, `--input-npy`);
 * - net: the Hub endpoint's host, the Hub's hosts and CDN subdomains, loopback — only for commands that talk to
 *   the Hub (and `run`/`inspect`/`bench`/`init` with `--pull`);
 * - ffi: only for commands that load onnxruntime or pull (libc's `symlink(2)` for the snapshot's links), and then
 *   not path-scoped ({@linkcode ALL_LIBRARIES}): gpux finds
 *   GPU libraries the way the system loader does, by bare name (`libvulkan.so.1`, `libcudart.so.13`), which a
 *   path-scoped `--allow-ffi` cannot express;
 * - env: exactly {@linkcode ENV_VARS}; any other variable reads as unset (`--ignore-env`).
 *
 * A command this table does not know yet (one added on another branch) gets {@linkcode DEFAULT_NEEDS}; adding
 * one is one entry in {@linkcode COMMAND_NEEDS}.
 *
 * @module
 */
import { GpuxError } from "../errors.ts";
import { isHostSyntax } from "../serve/listen_address.ts";
import { type EnvReader, gpuxHome, hfHome, homeDir, hubCacheDir, hubEndpoint } from "../environment.ts";
import { parseModelArg } from "../serve/served_model.ts";

/** Every environment variable gpux (and the libraries it uses) reads; any other reads as unset. */
export const ENV_VARS: readonly string[] = [
  "HF_ENDPOINT",
  "HF_TOKEN",
  "HUGGING_FACE_HUB_TOKEN",
  "HF_TOKEN_PATH",
  "HF_HOME",
  "HF_HUB_CACHE",
  "HUGGINGFACE_HUB_CACHE",
  "HF_HUB_OFFLINE",
  "HF_HUB_ETAG_TIMEOUT",
  "HF_HUB_DOWNLOAD_TIMEOUT",
  "HF_HUB_DISABLE_SYMLINKS_WARNING",
  "XDG_CACHE_HOME",
  "HOME",
  "USERPROFILE",
  "GPUX_HOME",
  "GPUX_PULL_CHUNK_BYTES",
  "GPUX_PULL_RANGE_THRESHOLD",
  "GPUX_API_KEY",
  "GPUX_NPM_REGISTRY",
  "GPUX_NUGET_URL",
  "GPUX_DEBUG",
  "NO_COLOR",
  "FORCE_COLOR",
  "CLICOLOR_FORCE",
  "TERM",
];

/** The Hub's own hosts and the CDN subdomains downloads are redirected to. */
export const HUB_HOSTS: readonly string[] = ["huggingface.co", "*.huggingface.co", "hf.co", "*.hf.co"];
/** Loopback addresses (a local hub, a mirror, `gpux serve`). */
export const LOCAL_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

/** What one command may touch, before paths are resolved. */
export interface CommandNeeds {
  /** Write the Hub cache (else it is only read, when `readCache`). */
  writeCache?: boolean;
  /** Read the Hub cache. */
  readCache?: boolean;
  /** Read the token files. */
  readToken?: boolean;
  /** Write the token file's folder (login/logout). */
  writeToken?: boolean;
  /** Talk to the Hub. `"pull"`: only with `--pull`. */
  net?: boolean | "pull";
  /** Load onnxruntime (ffi to its files, read of the state folder's runtimes). */
  onnxruntime?: boolean;
  /** Write gpux's state folder (`GPUX_HOME`). */
  writeState?: boolean;
  /**
   * Read the paths named by positional arguments and these options. `positionals: "served"`: each positional is
   * `MODEL` or `NAME=MODEL` (`gpux serve`), and the path read is `MODEL`, split exactly as serve splits it.
   */
  readPaths?: { positionals?: boolean | "served"; options?: string[] };
  /** Write the folders of the files these options name (`NAME=path` values: the path). */
  writeOutputs?: string[];
  /** Write the folders these options name themselves (`pull --local-dir D`). */
  writeFolders?: string[];
  /** `init`: without `--output`, write beside the model (or the current folder for a Hub id). */
  writeBesideModel?: boolean;
  /** Options that take a value (so their value is not taken for a positional argument). */
  valueOptions?: string[];
  /** Talk to the package registries `gpux runtime install` downloads providers from (npm, NuGet). */
  packageNet?: boolean;
  /** Options naming an address to listen on (`serve --host`): that host is added to the network scope. */
  listen?: string[];
  /** `--allow-sys` names. */
  sys?: string[];
  /** Decodes images with the native decoder (sharp): see {@linkcode IMAGE_DECODER_NEEDS}. */
  decodesImages?: boolean;
  /** Subcommands (`cache prune`), each with its own needs. */
  subcommands?: Record<string, CommandNeeds>;
}

const RUNTIME_VALUE_OPTIONS = [
  "-i",
  "--input",
  "-f",
  "--file",
  "--input-npy",
  "-o",
  "--output",
  "-p",
  "--provider",
  "--device-id",
  "--variant",
  "--cache-dir",
  "--graph-optimization",
  "--intra-op-threads",
  "--inter-op-threads",
  "--runs",
  "--warmup",
  "--shape",
  "--batch",
  "--name",
  "--revision",
  "--token",
  // raw inputs of the task pipelines (the pipelines branch)
  "--text",
  "--text-pair",
  "--labels",
  "--image",
  "--audio",
  "--task",
  "-k",
  "--top-k",
  "--aggregation",
  // input bounds (run; serve takes --max-audio-seconds too)
  "--max-input-mb",
  "--max-audio-seconds",
  // fill-mask, question-answering, zero-shot (issue 20)
  "--hypothesis-template",
  "--question",
  "--context",
  "--targets",
  "--max-answer-length",
  "--max-seq-length",
  "--doc-stride",
  // generation (run --prompt, chat): values are text, never paths
  "--prompt",
  "--system",
  "--max-new-tokens",
  "--temperature",
  "--top-p",
  "--min-p",
  "--repetition-penalty",
  "--seed",
  "--stop",
  "--template-var",
  "--truncate",
];
const HUB_VALUE_OPTIONS = [
  "--revision",
  "--variant",
  "--include",
  "--exclude",
  "--concurrency",
  "--token",
  "--cache-dir",
  "--local-dir",
  "--task",
  "--library",
  "--author",
  "--sort",
  "--limit",
  "--older-than",
];

/**
 * What the native image decoder (sharp) needs to load, and nothing more: the CPU count (`os.cpus()`, its thread
 * pool) and `/usr/bin/ldd`, which detect-libc reads to tell glibc from musl — without it detect-libc asks for a
 * process report, which needs the network interfaces. Without these sharp never loaded under the sandbox, and CMYK
 * JPEGs and animated WebPs were refused there although they decode with `-A`.
 */
export const IMAGE_DECODER_NEEDS = { sys: ["cpus"], read: ["/usr/bin/ldd"] } as const;

const RUNTIME: CommandNeeds = {
  readCache: true,
  onnxruntime: true,
  net: "pull",
  readToken: true,
  readPaths: { positionals: true, options: ["-f", "--file", "--input-npy", "--image", "--audio"] },
  valueOptions: RUNTIME_VALUE_OPTIONS,
  sys: ["hostname"],
};

/**
 * What each command needs. A command missing here gets {@linkcode DEFAULT_NEEDS}; adding one is one line.
 */
export const COMMAND_NEEDS: Record<string, CommandNeeds> = {
  search: { readToken: true, net: true, valueOptions: HUB_VALUE_OPTIONS },
  info: { readToken: true, net: true, valueOptions: HUB_VALUE_OPTIONS },
  pull: {
    readCache: true,
    writeCache: true,
    readToken: true,
    net: true,
    writeFolders: ["--local-dir"],
    valueOptions: HUB_VALUE_OPTIONS,
    sys: ["hostname"],
  },
  ls: { readCache: true, valueOptions: HUB_VALUE_OPTIONS },
  list: { readCache: true, valueOptions: HUB_VALUE_OPTIONS },
  rm: { readCache: true, writeCache: true, valueOptions: HUB_VALUE_OPTIONS, sys: ["hostname"] },
  remove: { readCache: true, writeCache: true, valueOptions: HUB_VALUE_OPTIONS, sys: ["hostname"] },
  cache: {
    valueOptions: HUB_VALUE_OPTIONS,
    subcommands: {
      dir: { valueOptions: HUB_VALUE_OPTIONS },
      verify: { readCache: true, valueOptions: HUB_VALUE_OPTIONS },
      prune: { readCache: true, writeCache: true, valueOptions: HUB_VALUE_OPTIONS, sys: ["hostname"] },
    },
  },
  login: { readToken: true, writeToken: true, net: true, valueOptions: HUB_VALUE_OPTIONS },
  logout: { readToken: true, writeToken: true, valueOptions: HUB_VALUE_OPTIONS },
  whoami: { readToken: true, net: true, valueOptions: HUB_VALUE_OPTIONS },
  run: { ...RUNTIME, writeOutputs: ["-o", "--output"], decodesImages: true },
  inspect: RUNTIME,
  chat: RUNTIME,
  bench: RUNTIME,
  init: { ...RUNTIME, writeOutputs: ["-o", "--output"], writeBesideModel: true },
  doctor: { readCache: true, readToken: true, onnxruntime: true, sys: ["hostname", "osRelease"] },
  // what the commands without an entry get, but its models are `MODEL` or `NAME=MODEL`: read the MODEL part
  // (a getter: DEFAULT_NEEDS is defined below)
  get serve(): CommandNeeds {
    return { ...DEFAULT_NEEDS, readPaths: { ...DEFAULT_NEEDS.readPaths, positionals: "served" } };
  },
  // `gpux runtime …` (issue 12): provider libraries in runtime folders under GPUX_HOME
  runtime: {
    valueOptions: ["--cuda", "--from", "--device-id"],
    subcommands: {
      ls: { onnxruntime: true, valueOptions: ["--cuda", "--device-id"], sys: ["osRelease"] },
      install: {
        onnxruntime: true,
        writeState: true,
        packageNet: true,
        readPaths: { options: ["--from"] },
        valueOptions: ["--cuda", "--from"],
        sys: ["osRelease"],
      },
      rm: { onnxruntime: true, writeState: true, valueOptions: ["--cuda"] },
    },
  },
};

/** The npm registry and NuGet feed `gpux runtime install` uses (`GPUX_NPM_REGISTRY`, `GPUX_NUGET_URL`). */
export function packageHosts(env: EnvReader): string[] {
  const hosts: string[] = [];
  for (
    const url of [
      env("GPUX_NPM_REGISTRY")?.trim() || "https://registry.npmjs.org",
      env("GPUX_NUGET_URL")?.trim() || "https://api.nuget.org/v3/index.json",
    ]
  ) {
    try {
      hosts.push(new URL(url).host);
    } catch { /* the install reports an unparsable URL itself */ }
  }
  return hosts;
}

/**
 * `gpux serve`'s options that take a value: without them the value after `--cors` or `--api-key` would be taken
 * for a model path (granted as a read path, or refused when it holds a comma).
 */
const SERVE_VALUE_OPTIONS = [
  "--host",
  "--port",
  "--workers",
  "--max-batch",
  "--batch-delay-ms",
  "--max-queue",
  "--parallel",
  "--max-tokens-limit",
  "--keep-alive",
  "--timeout-ms",
  "--max-body-mb",
  "--api-key",
  "--cors",
  "--max-batch-items",
  "--max-text-chars",
  "--max-image-pixels",
  "--max-audio-seconds",
  "--max-tensor-elements",
  "--max-memory-mb",
];

/** Needs of a command {@linkcode COMMAND_NEEDS} does not list (one another branch adds): the common ground. */
export const DEFAULT_NEEDS: CommandNeeds = {
  readCache: true,
  writeCache: true,
  readToken: true,
  net: true,
  packageNet: true,
  onnxruntime: true,
  writeState: true,
  readPaths: { positionals: true, options: ["-f", "--file", "--config", "-c", "--image", "--audio", "--from"] },
  valueOptions: [
    ...new Set([...RUNTIME_VALUE_OPTIONS, ...HUB_VALUE_OPTIONS, ...SERVE_VALUE_OPTIONS, "--config", "-c"]),
  ],
  listen: ["--host"],
  // serve's default --max-memory-mb is a share of the machine's memory
  sys: ["hostname", "osRelease", "systemMemoryInfo"],
  decodesImages: true, // serve decodes the images of its requests
};

/** The resolved permissions of one invocation: absolute paths, host names, variable names. */
export interface Sandbox {
  /** The command (and subcommand) the scope was computed for; empty for `--help`/`--version`. */
  command: string[];
  read: string[];
  write: string[];
  net: string[];
  ffi: string[];
  env: string[];
  sys: string[];
}

/** A path the sandbox cannot express as a Deno permission (a comma in it), or no home folder. Exit code 6. */
export class SandboxError extends GpuxError {
  /** Stable machine-readable code. */
  override readonly code: string = "sandbox_error";
  /** Process exit code the CLI uses. */
  override readonly exitCode: number = 6;
}

/** Where things are, besides the environment. */
export interface SandboxContext {
  /** The environment gpux will run with. */
  env: EnvReader;
  /** The folder relative paths on the command line are resolved against. */
  cwd: string;
  /** onnxruntime-node's native folders (`…/bin/napi-v6/{os}/{arch}`), readable by the commands that load it. */
  onnxruntimeDirs?: string[];
  /**
   * gpux's own source and npm package folders (local installs): readable by every command that runs, since
   * `new Worker(url)` needs read access to the worker's module (`gpux serve` starts its models in Workers) and npm
   * packages read their own files (`@jsquash/png` its `.wasm`).
   */
  sourceDirs?: string[];
  /** `Deno.realPathSync`, to grant a symlinked folder's target too (default: none resolved). */
  realPath?: (path: string) => string | undefined;
}

/** Splits the command line into the command path, the options with values, and positionals. */
function parseArgs(
  args: string[],
): { command: string[]; needs: CommandNeeds | undefined; options: Map<string, string[]>; positionals: string[] } {
  const options = new Map<string, string[]>();
  const positionals: string[] = [];
  const command: string[] = [];
  let needs: CommandNeeds | undefined;
  let table: Record<string, CommandNeeds> | undefined = COMMAND_NEEDS;
  let valueOptions = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq > 0 ? arg.slice(0, eq) : arg;
      if (eq > 0) push(options, name, arg.slice(eq + 1));
      else if (valueOptions.has(name) && i + 1 < args.length) push(options, name, args[++i]);
      else push(options, name, "");
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      const name = arg.slice(0, 2);
      if (valueOptions.has(name)) {
        if (arg.length > 2) push(options, name, arg.slice(2));
        else if (i + 1 < args.length) push(options, name, args[++i]);
      } else push(options, name, "");
      continue;
    }
    if (table && (command.length === 0 || needs?.subcommands)) {
      if (command.length === 0 && arg === "help") {
        table = undefined; // `gpux help pull`: prints help only
        command.push(arg);
        continue;
      }
      const entry: CommandNeeds | undefined = table[arg] ?? (command.length === 0 ? DEFAULT_NEEDS : undefined);
      if (entry) {
        command.push(arg);
        needs = entry;
        valueOptions = new Set(entry.valueOptions ?? []);
        table = entry.subcommands;
        continue;
      }
    }
    positionals.push(arg);
  }
  return { command, needs, options, positionals };
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key) ?? [];
  list.push(value);
  map.set(key, list);
}

function isAbsolute(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\\\");
}

/** `path` made absolute against `cwd`, with `.`/`..` segments and repeated separators folded. */
export function absolutePath(path: string, cwd: string): string {
  const windows = /^[A-Za-z]:[\\/]/.test(path) || /^[A-Za-z]:[\\/]/.test(cwd);
  const sep = windows ? "\\" : "/";
  let full = isAbsolute(path) ? path : `${cwd}${sep}${path}`;
  if (windows) full = full.replaceAll("/", "\\");
  const root = windows ? full.slice(0, 3) : "/";
  const parts: string[] = [];
  for (const part of full.slice(root.length).split(sep)) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return root + parts.join(sep);
}

function parentOf(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (i <= 0) return path.slice(0, 1) || "/";
  if (/^[A-Za-z]:$/.test(path.slice(0, i))) return path.slice(0, i + 1);
  return path.slice(0, i);
}

function tokenFiles(env: EnvReader): { files: string[]; writeFolder: string } {
  const explicit = env("HF_TOKEN_PATH")?.trim();
  const home = hfHome(env);
  const files = [...(explicit ? [explicit] : []), `${home}/token`];
  try {
    files.push(`${homeDir(env)}/.cache/huggingface/token`);
  } catch { /* no home: the default token file does not exist either */ }
  return { files, writeFolder: explicit ? parentOf(explicit) : home };
}

/** `NAME=path` values name a path after some `=`; each reading is a candidate (tensor names may hold `=`). */
function pathCandidates(value: string): string[] {
  const out = [value];
  for (let i = value.indexOf("="); i >= 0; i = value.indexOf("=", i + 1)) out.push(value.slice(i + 1));
  return out.filter((p) => p !== "" && p !== "-");
}

/**
 * The permissions `args` (the command line after `gpux`) needs in the environment of `context`.
 *
 * @example
 * ```ts
 * import { envFrom } from "jsr:@gpux/gpux/registry";
 * const sandbox = commandSandbox(["pull", "acme/tiny", "--cache-dir", "/data/hf"], {
 *   env: envFrom({ HOME: "/home/me" }),
 *   cwd: "/home/me",
 * });
 * console.log(sandbox.write); // ["/data/hf"]
 * ```
 */
export function commandSandbox(args: string[], context: SandboxContext): Sandbox {
  try {
    return computeSandbox(args, context);
  } catch (error) {
    if (error instanceof GpuxError) throw error;
    // no HOME (and no HF_HOME / HF_HUB_CACHE / GPUX_HOME to stand in for it)
    throw new SandboxError(`cannot work out where gpux may write: ${(error as Error).message}`, {
      cause: error,
      hint: "set HOME, or HF_HOME (or HF_HUB_CACHE) and GPUX_HOME",
    });
  }
}

function computeSandbox(args: string[], context: SandboxContext): Sandbox {
  const { env, cwd } = context;
  const { command, needs, options, positionals } = parseArgs(args);
  const sandbox: Sandbox = { command, read: [], write: [], net: [], ffi: [], env: [...ENV_VARS], sys: [] };
  const helpOnly = !needs || command[0] === "help" || options.has("--help") || options.has("-h") ||
    (needs.subcommands !== undefined && command.length === 1);
  if (helpOnly) return finish(sandbox, context);
  const abs = (p: string) => absolutePath(p, cwd);
  const option = (names: string[] = []) => names.flatMap((n) => options.get(n) ?? []).filter((v) => v !== "");
  const pulling = needs.net === true || (needs.net === "pull" && options.has("--pull"));

  const cacheFlag = option(["--cache-dir"]).at(-1);
  if (needs.readCache || needs.writeCache || pulling) {
    const cache = abs(hubCacheDir(env, cacheFlag));
    sandbox.read.push(cache);
    if (needs.writeCache || (needs.net === "pull" && pulling)) sandbox.write.push(cache);
  }
  if (needs.readToken || needs.writeToken) {
    const token = tokenFiles(env);
    sandbox.read.push(...token.files.map(abs));
    if (needs.writeToken) sandbox.write.push(abs(token.writeFolder)); // where login writes, logout removes
  }
  const state = (() => {
    try {
      return abs(gpuxHome(env));
    } catch {
      return undefined;
    }
  })();
  if (state && (needs.onnxruntime || needs.writeState)) {
    sandbox.read.push(state);
    if (needs.writeState) sandbox.write.push(state);
  }
  if (needs.readPaths) {
    const served = (arg: string) => {
      try {
        return parseModelArg(arg).spec;
      } catch {
        return arg; // serve refuses it itself (exit 2)
      }
    };
    const named = [
      ...(needs.readPaths.positionals === "served"
        ? positionals.map(served)
        : needs.readPaths.positionals
        ? positionals
        : []),
      ...option(needs.readPaths.options).flatMap(pathCandidates),
    ];
    for (const path of named) {
      const full = abs(path);
      sandbox.read.push(full);
      // a model file's folder holds its external data and gpux.yml
      if (/\.(onnx|ya?ml|json|npy)$/i.test(path)) {
        sandbox.read.push(parentOf(full));
        // a Hub layout's onnx/model.onnx: its config.json, tokenizer and processor files are one folder up
        if (/\.onnx$/i.test(path) && /[\\/]onnx$/.test(parentOf(full))) sandbox.read.push(parentOf(parentOf(full)));
      }
    }
  }
  const outputs = option(needs.writeOutputs);
  for (const value of outputs) {
    for (const path of pathCandidates(value)) {
      const full = abs(path);
      sandbox.write.push(parentOf(full));
      sandbox.read.push(parentOf(full));
    }
  }
  for (const folder of option(needs.writeFolders)) sandbox.write.push(abs(folder));
  if (needs.writeBesideModel && outputs.length === 0) {
    const model = positionals[0];
    if (model !== undefined) {
      const full = abs(model);
      // a directory or an .onnx file: its gpux.yml goes beside it; a Hub id: ./gpux.yml
      const folder = /\.onnx$/i.test(model) ? parentOf(full) : full;
      sandbox.write.push(folder, abs("."));
      sandbox.read.push(folder, abs("."));
    }
  }
  if (pulling) {
    let endpointHost: string | undefined;
    try {
      endpointHost = new URL(hubEndpoint(env)).host;
    } catch {
      endpointHost = undefined; // gpux reports the malformed HF_ENDPOINT itself
    }
    sandbox.net.push(...(endpointHost ? [endpointHost] : []), ...HUB_HOSTS, ...LOCAL_HOSTS);
  }
  if (needs.packageNet) sandbox.net.push(...packageHosts(env), ...LOCAL_HOSTS);
  for (const host of option(needs.listen)) {
    // a malformed --host is not granted (Deno would refuse to start on it): `gpux serve` reports it with its hint
    if (!isHostSyntax(host)) continue;
    // the address to bind, as given (an IPv6 address in brackets, as Deno's --allow-net spells it)
    sandbox.net.push(host.includes(":") && !host.startsWith("[") ? `[${host}]` : host);
  }
  sandbox.read.push(...context.sourceDirs ?? []);
  if (needs.onnxruntime) {
    for (const dir of context.onnxruntimeDirs ?? []) sandbox.read.push(dir);
    sandbox.ffi.push(ALL_LIBRARIES);
  }
  // a pull writes its snapshot's relative symlinks with libc's symlink(2) (src/cache/libc_symlink.ts), which it
  // opens by bare name (`libc.so.6`), as only an unscoped --allow-ffi allows; the link paths are checked by gpux
  if (pulling && (needs.writeCache || needs.net === "pull")) sandbox.ffi.push(ALL_LIBRARIES);
  if (pulling || needs.writeCache) sandbox.sys.push("hostname");
  sandbox.sys.push(...needs.sys ?? []);
  if (needs.decodesImages) {
    sandbox.sys.push(...IMAGE_DECODER_NEEDS.sys);
    sandbox.read.push(...IMAGE_DECODER_NEEDS.read);
  }
  return finish(sandbox, context);
}

/**
 * The `ffi` entry meaning "any native library" (`--allow-ffi` without paths). With a path-scoped `--allow-ffi`, Deno
 * resolves a bare library name against the current folder and hands that path to the loader (checked with Deno 2.9:
 * granting `/tmp/libc.so.6` turns `Deno.dlopen("libc.so.6")` into a failed open of `/tmp/libc.so.6`), so the GPU
 * probes (`libcuda.so.1`, `libvulkan.so.1`, … which the system loader finds in its own folders) would always fail
 * and the webgpu provider would never be tried. Scoping buys little here anyway: onnxruntime's addon, once loaded,
 * is native code with the process's full rights. Commands that do not load onnxruntime get no ffi at all.
 */
export const ALL_LIBRARIES = "*";

function finish(sandbox: Sandbox, context: SandboxContext): Sandbox {
  const withReal = (paths: string[]) => {
    const out: string[] = [];
    for (const p of paths) {
      out.push(p);
      const real = context.realPath?.(p);
      if (real && real !== p) out.push(real);
    }
    return [...new Set(out)];
  };
  sandbox.write = withReal(sandbox.write);
  sandbox.read = withReal([...sandbox.read, ...sandbox.write]); // what may be written may be read back
  sandbox.ffi = [...new Set(sandbox.ffi)];
  sandbox.net = [...new Set(sandbox.net)];
  sandbox.sys = [...new Set(sandbox.sys)];
  return sandbox;
}

/**
 * Deno's flags for `sandbox`: one flag per path (Deno accumulates repeated `--allow-*` flags), `--no-prompt`
 * (a refused access is an error, never a question), `--ignore-env` (other variables read as unset).
 *
 * @throws {SandboxError} a path contains a comma, which a Deno permission flag cannot express.
 */
export function denoPermissionFlags(sandbox: Sandbox): string[] {
  const flags = ["--no-prompt"];
  const each = (flag: string, values: string[]) => {
    for (const value of values) {
      if (value.includes(",")) {
        throw new SandboxError(
          `cannot grant ${flag.slice(8)} access to ${JSON.stringify(value)}: it contains a comma`,
          {
            hint:
              "Deno's permission flags split paths at commas and cannot escape them: use a path without a comma (for the cache: HF_HUB_CACHE or --cache-dir)",
          },
        );
      }
      flags.push(`${flag}=${value}`);
    }
  };
  each("--allow-read", sandbox.read);
  each("--allow-write", sandbox.write);
  if (sandbox.ffi.includes(ALL_LIBRARIES)) flags.push("--allow-ffi");
  else each("--allow-ffi", sandbox.ffi);
  if (sandbox.net.length) flags.push(`--allow-net=${sandbox.net.join(",")}`);
  flags.push(`--allow-env=${sandbox.env.join(",")}`, "--ignore-env");
  if (sandbox.sys.length) flags.push(`--allow-sys=${sandbox.sys.join(",")}`);
  return flags;
}
