/**
 * Runtime folders: a copy of onnxruntime's shared library in a folder gpux owns, so that execution-provider
 * libraries placed beside it are found — and survive `npm ci`, which wipes `node_modules`.
 *
 * Why this works: onnxruntime looks for `libonnxruntime_providers_*.so` in the folder of the
 * `libonnxruntime` it was loaded from (it asks the dynamic loader where its own code lives). onnxruntime-node's
 * addon names its library only by SONAME (`NEEDED libonnxruntime.so.1`, `RUNPATH $ORIGIN`), and the dynamic
 * loader reuses an already loaded library of that SONAME. So {@linkcode preloadOnnxruntime} `Deno.dlopen`s
 * `<folder>/libonnxruntime.so.1` BEFORE onnxruntime-node is first imported (`ort_module.ts` imports it lazily),
 * the addon binds to that copy, and providers load from `<folder>`. `/proc/self/maps` then shows the folder's
 * library ({@linkcode loadedOrtLibrary}).
 *
 * Layout: `$GPUX_HOME/runtime/onnxruntime-<version>-<os>-<arch>[-cuda<N>]/` holding `libonnxruntime.so.1`,
 * the provider libraries and `gpux-runtime.json` (what was installed, from where, with which hashes).
 *
 * The same mechanism serves a `deno compile`d gpux, whose embedded `libonnxruntime.so.1` Deno does not
 * extract. Before anything imports onnxruntime-node: if {@linkcode listRuntimeFolders} +
 * {@linkcode chooseRuntimeFolder} find an installed folder, `loadOrt()` preloads it by itself (it holds its own
 * `libonnxruntime` copy); otherwise copy the embedded library out with {@linkcode populateRuntimeFolder} into
 * `runtimeFolderPath({ version: ORT_VERSION, os, arch })` (no `cuda`: a plain folder) and
 * {@linkcode preloadOnnxruntime} it. `loadOrt()` keeps a folder preloaded earlier.
 *
 * @example
 * ```ts
 * const env = (name: string) => name === "HOME" ? "/home/me" : undefined;
 * const dir = runtimeFolderPath({ version: ORT_VERSION, os: "linux", arch: "x86_64", cuda: 13 }, env);
 * // "/home/me/.gpux/runtime/onnxruntime-1.29.0-linux-x64-cuda13"
 * ```
 *
 * @module
 */
import { denoEnv, type EnvReader, gpuxHome } from "../environment.ts";
import { ProviderError } from "../errors.ts";

/** The onnxruntime version gpux runs (onnxruntime-node's, pinned in deno.json; a test keeps them equal). */
export const ORT_VERSION = "1.29.0";

/** The manifest file inside a runtime folder. */
export const RUNTIME_MANIFEST = "gpux-runtime.json";

/** What a runtime folder is for: an onnxruntime version on a platform, optionally built for a CUDA major version. */
export interface RuntimeFolderSpec {
  /** onnxruntime version, e.g. `1.29.0`. */
  version: string;
  /** Operating system as `Deno.build.os` spells it (`linux`, `windows`, `darwin`). */
  os: string;
  /** CPU architecture as `Deno.build.arch` spells it (`x86_64`, `aarch64`). */
  arch: string;
  /** CUDA major version the provider libraries were built for (absent: no CUDA provider). */
  cuda?: number;
}

/** One file a runtime folder holds, as recorded in its manifest. */
export interface RuntimeFileRecord {
  /** File name inside the folder. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Lowercase hex sha256 of the file. */
  sha256: string;
}

/** `gpux-runtime.json`: what a runtime folder holds and where it came from. */
export interface RuntimeManifest {
  /** Format version of this file (1). */
  format: 1;
  /** The execution provider the folder adds (`cuda`). */
  provider: string;
  /** onnxruntime version. */
  onnxruntime: string;
  /** Platform and CUDA major version. */
  os: string;
  /** CPU architecture. */
  arch: string;
  /** CUDA major version. */
  cuda?: number;
  /** Where the libraries came from. */
  source: {
    /** `npm`, `nuget` or `local`. */
    kind: string;
    /** Package name (npm, nuget) or the local path. */
    name: string;
    /** Package version. */
    version?: string;
    /** URL downloaded. */
    url?: string;
    /** sha256 of the package archive (hex). */
    sha256?: string;
    /** The integrity string the package was checked against (`sha512-…`, `sha256-…`). */
    integrity?: string;
    /** For a local source: the known package build whose library hashes it matches (`npm name@version`), if any. */
    matches?: string;
  };
  /** Provider libraries placed in the folder (libonnxruntime itself excluded). */
  files: RuntimeFileRecord[];
  /** ISO time of installation. */
  installedAt: string;
}

/** A runtime folder found on disk. */
export interface RuntimeFolder {
  /** Absolute path of the folder. */
  path: string;
  /** What its name says it is for. */
  spec: RuntimeFolderSpec;
  /** Its manifest, when present and readable. */
  manifest?: RuntimeManifest;
  /** Why the folder cannot be used as it is (missing libonnxruntime, unreadable manifest), if so. */
  problem?: string;
}

function archName(arch: string): string {
  return arch === "x86_64" ? "x64" : arch === "aarch64" ? "arm64" : arch;
}

/**
 * The file name of onnxruntime's shared library on `os` (what the addon links against):
 * `libonnxruntime.so.1`, `libonnxruntime.1.29.0.dylib`, `onnxruntime.dll`.
 */
export function ortLibraryName(os: string, version: string = ORT_VERSION): string {
  if (os === "windows") return "onnxruntime.dll";
  if (os === "darwin") return `libonnxruntime.${version}.dylib`;
  return "libonnxruntime.so.1";
}

/**
 * A runtime folder's name: `onnxruntime-<version>-<os>-<arch>[-cuda<N>]`, arch as Node spells it (`x64`).
 *
 * @example
 * ```ts
 * runtimeFolderName({ version: "1.29.0", os: "linux", arch: "x86_64", cuda: 12 }); // "onnxruntime-1.29.0-linux-x64-cuda12"
 * ```
 */
export function runtimeFolderName(spec: RuntimeFolderSpec): string {
  return `onnxruntime-${spec.version}-${spec.os}-${archName(spec.arch)}${spec.cuda ? `-cuda${spec.cuda}` : ""}`;
}

/** The spec a folder name stands for, or `undefined` when the name is not a runtime folder's. */
export function parseRuntimeFolderName(name: string): RuntimeFolderSpec | undefined {
  const m = /^onnxruntime-(\d+\.\d+\.\d+)-([a-z]+)-([a-z0-9_]+?)(?:-cuda(\d{1,3}))?$/.exec(name);
  if (!m) return undefined;
  const arch = m[3] === "x64" ? "x86_64" : m[3] === "arm64" ? "aarch64" : m[3];
  return { version: m[1], os: m[2], arch, ...(m[4] ? { cuda: Number(m[4]) } : {}) };
}

/** `$GPUX_HOME/runtime`: the parent of every runtime folder. */
export function runtimeRoot(env: EnvReader = denoEnv): string {
  return `${gpuxHome(env)}/runtime`;
}

/** The absolute path of the runtime folder for `spec`. */
export function runtimeFolderPath(spec: RuntimeFolderSpec, env: EnvReader = denoEnv): string {
  return `${runtimeRoot(env)}/${runtimeFolderName(spec)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads and checks a folder's manifest; `undefined` when absent, an error message when unusable. */
export function readRuntimeManifest(dir: string): RuntimeManifest | string | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${dir}/${RUNTIME_MANIFEST}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    return `${RUNTIME_MANIFEST} is unreadable: ${(error as Error).message}`;
  }
  try {
    const value = JSON.parse(text);
    const files = isRecord(value) && Array.isArray(value.files) ? value.files : undefined;
    if (
      !isRecord(value) || value.format !== 1 || typeof value.provider !== "string" || !isRecord(value.source) ||
      !files || !files.every((f) =>
        isRecord(f) && typeof f.name === "string" && !/[/\\]/.test(f.name) && typeof f.size === "number" &&
        typeof f.sha256 === "string"
      )
    ) {
      return `${RUNTIME_MANIFEST} is not a gpux runtime manifest`;
    }
    return value as unknown as RuntimeManifest;
  } catch {
    return `${RUNTIME_MANIFEST} is not valid JSON`;
  }
}

/**
 * The runtime folders under `$GPUX_HOME/runtime` (all versions and platforms), sorted by name.
 * Folders whose name is not a runtime folder's (partial installs, other files) are left out; none when the folder
 * does not exist or neither `GPUX_HOME` nor `HOME` is set.
 */
export function listRuntimeFolders(env: EnvReader = denoEnv): RuntimeFolder[] {
  let root: string;
  let entries: Deno.DirEntry[];
  try {
    root = runtimeRoot(env); // throws without GPUX_HOME and HOME: then nothing can be installed
    entries = [...Deno.readDirSync(root)];
  } catch {
    return [];
  }
  const out: RuntimeFolder[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory) continue;
    const spec = parseRuntimeFolderName(entry.name);
    if (!spec) continue;
    const path = `${root}/${entry.name}`;
    const manifest = readRuntimeManifest(path);
    let problem = typeof manifest === "string" ? manifest : undefined;
    // a provider folder is written by an install, manifest last; a plain folder (an extracted libonnxruntime) has none
    if (!problem && !manifest && spec.cuda !== undefined) problem = `no ${RUNTIME_MANIFEST} (an interrupted install?)`;
    if (!problem) {
      try {
        Deno.statSync(`${path}/${ortLibraryName(spec.os, spec.version)}`);
      } catch {
        problem = `${ortLibraryName(spec.os, spec.version)} is missing`;
      }
    }
    out.push({
      path,
      spec,
      ...(typeof manifest === "object" ? { manifest } : {}),
      ...(problem ? { problem } : {}),
    });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Options of {@linkcode chooseRuntimeFolder}. */
export interface ChooseRuntimeOptions {
  /** onnxruntime version in use (default {@linkcode ORT_VERSION}). */
  version?: string;
  /** Platform (default the running one). */
  os?: string;
  /** CPU architecture (default the running one). */
  arch?: string;
  /** CUDA major versions whose runtime is present here, best first (a folder for one of them is preferred). */
  cudaPresent?: readonly number[];
}

/**
 * The runtime folder onnxruntime should load from: a usable folder for this version and platform; among
 * several, one built for a CUDA version present here (in `cudaPresent` order), else the highest CUDA version.
 * `undefined` when there is none (onnxruntime-node's own library is then used).
 */
export function chooseRuntimeFolder(
  folders: readonly RuntimeFolder[],
  options: ChooseRuntimeOptions = {},
): RuntimeFolder | undefined {
  const version = options.version ?? ORT_VERSION;
  const os = options.os ?? Deno.build.os;
  const arch = options.arch ?? Deno.build.arch;
  const usable = folders.filter((f) =>
    !f.problem && f.spec.version === version && f.spec.os === os && f.spec.arch === arch
  );
  for (const cuda of options.cudaPresent ?? []) {
    const match = usable.find((f) => f.spec.cuda === cuda);
    if (match) return match;
  }
  return [...usable].sort((a, b) => (b.spec.cuda ?? 0) - (a.spec.cuda ?? 0))[0];
}

/**
 * Puts a copy of onnxruntime's library (`source`, e.g. the one in onnxruntime-node's package, or one embedded
 * in a compiled binary) into `dir` as `name` (default {@linkcode ortLibraryName} of the running OS), unless a file
 * of the same size is already there. Written to a temporary name and renamed, so a reader never sees half a
 * library. Creates `dir`.
 *
 * @returns the library's path in `dir`.
 */
export async function populateRuntimeFolder(dir: string, source: string, name?: string): Promise<string> {
  const target = `${dir}/${name ?? ortLibraryName(Deno.build.os)}`;
  await Deno.mkdir(dir, { recursive: true });
  const size = (await Deno.stat(source)).size;
  try {
    if ((await Deno.stat(target)).size === size) return target;
  } catch {
    // not there yet
  }
  const tmp = `${target}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    // read + write rather than copyFile: a compiled binary's embedded files can be read, not always copied
    const bytes = await Deno.readFile(source);
    await Deno.writeFile(tmp, bytes, { mode: 0o755 });
    await Deno.rename(tmp, target);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  return target;
}

/** The preloaded runtime folder of this process. */
export interface PreloadedRuntime {
  /** The folder whose `libonnxruntime` was loaded. */
  dir: string;
  /** The library loaded. */
  library: string;
}

let preloaded: { dir: string; library: string; handle: Deno.DynamicLibrary<Record<string, never>> } | undefined;

/**
 * Loads `<dir>/libonnxruntime.so.1` (see {@linkcode ortLibraryName}) into the process so that onnxruntime-node,
 * imported afterwards, binds to it and loads execution providers from `dir`. The library stays loaded for the
 * life of the process. Must run before the first `import("onnxruntime-node")` (`loadOrt()` calls it): once the
 * addon is bound to another copy, this changes nothing. Calling it again with the same folder is a no-op.
 *
 * @throws {ProviderError} the library cannot be loaded (exit 7), with the loader's message.
 * @throws {ProviderError} another folder was preloaded already.
 */
export function preloadOnnxruntime(dir: string, os: string = Deno.build.os): PreloadedRuntime {
  if (preloaded) {
    if (preloaded.dir === dir) return { dir, library: preloaded.library };
    throw new ProviderError(`onnxruntime was already loaded from ${preloaded.dir}; cannot switch to ${dir}`);
  }
  const library = `${dir}/${ortLibraryName(os)}`;
  try {
    preloaded = { dir, library, handle: Deno.dlopen(library, {}) };
  } catch (error) {
    throw new ProviderError(
      `cannot load onnxruntime from ${dir}: ${(error as Error).message.replace(/^(Could not open library: )+/, "")}`,
      { hint: "remove the folder (`gpux runtime rm cuda`) and install it again (`gpux runtime install cuda`)" },
    );
  }
  return { dir, library };
}

/** The folder {@linkcode preloadOnnxruntime} loaded onnxruntime from in this process, if any. */
export function preloadedRuntime(): PreloadedRuntime | undefined {
  return preloaded ? { dir: preloaded.dir, library: preloaded.library } : undefined;
}

/**
 * The path of the onnxruntime library the process has loaded (Linux): asked of the dynamic loader itself
 * (`dlopen(RTLD_NOLOAD)` + `dlinfo(RTLD_DI_LINKMAP)` through libc, since Deno grants `/proc/self/maps` only
 * to `--allow-all`), else read from `/proc/self/maps`. `undefined` when none is loaded yet or elsewhere than on
 * Linux. The ground truth of which copy onnxruntime-node uses.
 */
export function loadedOrtLibrary(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  return loaderPath(ortLibraryName("linux")) ?? mapsPath();
}

function loaderPath(soname: string): string | undefined {
  let libc:
    | Deno.DynamicLibrary<{
      dlopen: { parameters: ["buffer", "i32"]; result: "pointer" };
      dlinfo: { parameters: ["pointer", "i32", "buffer"]; result: "i32" };
      dlclose: { parameters: ["pointer"]; result: "i32" };
    }>
    | undefined;
  try {
    libc = Deno.dlopen("libc.so.6", {
      dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
      dlinfo: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
      dlclose: { parameters: ["pointer"], result: "i32" },
    });
    const RTLD_LAZY = 1, RTLD_NOLOAD = 4, RTLD_DI_LINKMAP = 2;
    const handle = libc.symbols.dlopen(new TextEncoder().encode(`${soname}\0`), RTLD_LAZY | RTLD_NOLOAD);
    if (!handle) return undefined;
    try {
      const out = new BigUint64Array(1);
      if (libc.symbols.dlinfo(handle, RTLD_DI_LINKMAP, new Uint8Array(out.buffer)) !== 0) return undefined;
      const linkMap = Deno.UnsafePointer.create(out[0]);
      if (!linkMap) return undefined;
      const name = new Deno.UnsafePointerView(linkMap).getPointer(8); // struct link_map { l_addr; char *l_name; … }
      return name ? Deno.UnsafePointerView.getCString(name) || undefined : undefined;
    } finally {
      libc.symbols.dlclose(handle);
    }
  } catch {
    return undefined; // not glibc, or no --allow-ffi
  } finally {
    libc?.close();
  }
}

function mapsPath(): string | undefined {
  try {
    for (const line of Deno.readTextFileSync("/proc/self/maps").split("\n")) {
      const path = line.slice(line.indexOf("/"));
      if (line.includes("/") && /\/libonnxruntime\.so[.\d]*$/.test(path)) return path;
    }
  } catch {
    // /proc not readable (Deno asks for --allow-all)
  }
  return undefined;
}
