/**
 * onnxruntime inside a `deno compile`d gpux. Deno extracts a compiled binary's `.node` addon to a temporary folder
 * when it is loaded, but not the libraries beside it (`libonnxruntime.so.1`, `libonnxruntime.<v>.dylib`,
 * `onnxruntime.dll` and the provider libraries shipped with it), so the addon would fail to load. This module
 * copies those libraries out of the binary once, into a versioned runtime folder in gpux's state folder
 * (`$GPUX_HOME/runtime/onnxruntime-<version>-<os>-<arch>/`, the layout of `runtime_folder.ts`), checks each copy
 * against the embedded file (size, and sha256 when written), records them in the folder's manifest, and reuses the
 * folder afterwards. The folder is then preloaded with `Deno.dlopen` (`preloadOnnxruntime`) before onnxruntime-node
 * is imported, so the addon binds to that copy.
 *
 * Outside a compiled binary (or where nothing is embedded) it does nothing.
 *
 * @module
 */
import { denoEnv, type EnvReader } from "../environment.ts";
import { CacheError } from "../errors.ts";
import {
  chooseRuntimeFolder,
  listRuntimeFolders,
  ORT_VERSION,
  ortLibraryName,
  preloadOnnxruntime,
  RUNTIME_MANIFEST,
  type RuntimeFileRecord,
  runtimeFolderPath,
  type RuntimeManifest,
} from "./runtime_folder.ts";

/** Where an extracted runtime came from and what it holds. */
export interface EmbeddedRuntime {
  /** The runtime folder. */
  dir: string;
  /** Whether this call wrote files (false: an earlier extraction was reused). */
  extracted: boolean;
  /** The library and the provider libraries in the folder. */
  files: RuntimeFileRecord[];
}

/** Options of {@linkcode extractEmbeddedRuntime}. */
export interface ExtractOptions {
  /** The folder holding the embedded libraries (default: onnxruntime-node's native folder for this platform). */
  sourceDir?: string;
  /** Environment (`GPUX_HOME`, `HOME`) naming the state folder. */
  env?: EnvReader;
  /** Platform (default the running one). */
  os?: string;
  /** CPU architecture (default the running one). */
  arch?: string;
}

/** True inside a binary made by `deno compile` (its modules live in a virtual `deno-compile-…` folder). */
export function isCompiledBinary(url: string = import.meta.url): boolean {
  return /[\\/]deno-compile-[^\\/]+[\\/]/.test(decodeURIComponent(url));
}

/** onnxruntime-node's native folder (`…/bin/napi-v6/{os}/{arch}`) as this module resolves it. */
export function embeddedOrtDir(os: string = Deno.build.os, arch: string = Deno.build.arch): string | undefined {
  try {
    const index = new URL(import.meta.resolve("onnxruntime-node"));
    if (index.protocol !== "file:") return undefined;
    const o = os === "windows" ? "win32" : os;
    const a = arch === "x86_64" ? "x64" : arch === "aarch64" ? "arm64" : arch;
    const url = new URL(`../bin/napi-v6/${o}/${a}`, index);
    const path = decodeURIComponent(url.pathname);
    return os === "windows" ? path.replace(/^\/([A-Za-z]:)/, "$1") : path;
  } catch {
    return undefined;
  }
}

/** The shared libraries of a native folder: everything but the `.node` addon. */
function libraryNames(dir: string): string[] {
  return [...Deno.readDirSync(dir)]
    .filter((e) => (e.isFile || e.isSymlink) && !e.name.endsWith(".node") && /\.(so(\.\d+)*|dylib|dll)$/.test(e.name))
    .map((e) => e.name)
    .sort();
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function sizeOf(path: string): number | undefined {
  try {
    return Deno.statSync(path).size;
  } catch {
    return undefined;
  }
}

/**
 * Copies the embedded onnxruntime libraries into `$GPUX_HOME/runtime/onnxruntime-<version>-<os>-<arch>/` unless an
 * earlier extraction with the same files (names, sizes, manifest) is there. Each file is written under a temporary
 * name, hashed, compared with the embedded file's hash and renamed into place, so a reader never sees half a
 * library; the manifest is written last.
 *
 * @throws {CacheError} the state folder cannot be written (exit 6), or a written copy does not match.
 *
 * @example
 * ```ts
 * const runtime = await extractEmbeddedRuntime({ sourceDir: "/embedded/onnxruntime-node/bin/napi-v6/linux/x64" });
 * console.log(runtime.dir, runtime.extracted ? "extracted" : "reused");
 * ```
 */
export async function extractEmbeddedRuntime(options: ExtractOptions = {}): Promise<EmbeddedRuntime> {
  const os = options.os ?? Deno.build.os;
  const arch = options.arch ?? Deno.build.arch;
  const source = options.sourceDir ?? embeddedOrtDir(os, arch);
  if (!source) throw new CacheError("cannot find the embedded onnxruntime libraries");
  const dir = runtimeFolderPath({ version: ORT_VERSION, os, arch }, options.env ?? denoEnv);
  const names = libraryNames(source);
  if (!names.includes(ortLibraryName(os))) {
    throw new CacheError(`the embedded onnxruntime folder ${source} has no ${ortLibraryName(os)}`);
  }
  const previous = readManifest(dir);
  const reusable = previous !== undefined &&
    names.every((name) => {
      const record = previous.find((r) => r.name === name);
      const size = sizeOf(`${source}/${name}`);
      return record !== undefined && record.size === size && sizeOf(`${dir}/${name}`) === size;
    });
  if (reusable) return { dir, extracted: false, files: previous };

  const files: RuntimeFileRecord[] = [];
  try {
    await Deno.mkdir(dir, { recursive: true });
    for (const name of names) {
      const bytes = await Deno.readFile(`${source}/${name}`); // resolves a symlinked .dylib to its bytes
      const expected = await sha256(bytes);
      const target = `${dir}/${name}`;
      const tmp = `${target}.tmp-${crypto.randomUUID().slice(0, 8)}`;
      try {
        await Deno.writeFile(tmp, bytes, { mode: 0o755 });
        const written = await sha256(await Deno.readFile(tmp));
        if (written !== expected) {
          throw new CacheError(`the copy of ${name} in ${dir} does not match the embedded file`);
        }
        await Deno.rename(tmp, target);
      } finally {
        await Deno.remove(tmp).catch(() => {});
      }
      files.push({ name, size: bytes.length, sha256: expected });
    }
    const manifest: RuntimeManifest & { library: RuntimeFileRecord } = {
      format: 1,
      provider: "cpu",
      onnxruntime: ORT_VERSION,
      os,
      arch,
      source: { kind: "embedded", name: "onnxruntime-node bundled in the gpux binary", version: ORT_VERSION },
      files: files.filter((f) => f.name !== ortLibraryName(os)),
      library: files.find((f) => f.name === ortLibraryName(os))!,
      installedAt: new Date().toISOString(),
    };
    await Deno.writeTextFile(`${dir}/${RUNTIME_MANIFEST}`, JSON.stringify(manifest, null, 2) + "\n");
  } catch (error) {
    if (error instanceof CacheError) throw error;
    throw new CacheError(`cannot extract onnxruntime into ${dir}: ${(error as Error).message}`, {
      cause: error,
      hint: "gpux keeps its runtime in GPUX_HOME (default ~/.gpux): set GPUX_HOME to a writable folder",
    });
  }
  return { dir, extracted: true, files };
}

/** The files a runtime folder's manifest records (its provider libraries and, from gpux's extraction, the library). */
function readManifest(dir: string): RuntimeFileRecord[] | undefined {
  try {
    const value = JSON.parse(Deno.readTextFileSync(`${dir}/${RUNTIME_MANIFEST}`));
    if (value?.format !== 1 || !Array.isArray(value.files)) return undefined;
    return [...value.files, ...(value.library ? [value.library] : [])];
  } catch {
    return undefined;
  }
}

/**
 * In a compiled binary: extracts the embedded runtime (once) and preloads the runtime folder onnxruntime should
 * use (an installed CUDA one, else the extracted one), before onnxruntime-node is imported. Elsewhere: nothing.
 *
 * @returns the extraction, or `undefined` outside a compiled binary.
 */
export async function prepareEmbeddedRuntime(env: EnvReader = denoEnv): Promise<EmbeddedRuntime | undefined> {
  if (!isCompiledBinary()) return undefined;
  const runtime = await extractEmbeddedRuntime({ env });
  const chosen = chooseRuntimeFolder(listRuntimeFolders(env));
  preloadOnnxruntime(chosen?.path ?? runtime.dir);
  return runtime;
}
