/**
 * `gpux runtime install cuda` / `rm cuda`: fetches the CUDA execution-provider libraries built for exactly
 * the onnxruntime version in use, verifies the package, takes only the libraries out of it, and places them
 * with a copy of `libonnxruntime` in a runtime folder under `$GPUX_HOME/runtime` (see
 * `runtime/runtime_folder.ts`), which onnxruntime then loads from.
 *
 * This room sits beside `registry/`: it is the one place outside the Hub client that downloads (through the
 * transfer engine in `download/`: progress, resume, retries, hashing), and it writes what `runtime/` only reads.
 * Arrows: `cli/` → `runtime_install/` → (`download/`, `runtime/`); `runtime/` never imports it.
 *
 * @module
 */
import { denoEnv, type EnvReader, gpuxHome } from "../environment.ts";
import { CacheError, InputError, IntegrityError, NetworkError, NotFoundError, ProviderError } from "../errors.ts";
import { downloadBlob } from "../download/blob_download.ts";
import type { ExpectedContent } from "../download/content_hash.ts";
import { fetchWithRetry, type RetryInfo } from "../download/http.ts";
import { TransferProgress } from "../download/transfer_progress.ts";
import type { PullProgressEvent } from "../vocabulary/progress_events.ts";
import { ortBinaryDir } from "../runtime/providers.ts";
import { cudaRuntimesPresent } from "../runtime/gpu_presence.ts";
import {
  listRuntimeFolders,
  ORT_VERSION,
  ortLibraryName,
  populateRuntimeFolder,
  RUNTIME_MANIFEST,
  type RuntimeFileRecord,
  runtimeFolderName,
  type RuntimeFolderSpec,
  type RuntimeManifest,
  runtimeRoot,
} from "../runtime/runtime_folder.ts";
import { CUDA_PACKAGES, npmRegistry, nugetIndex, parseIntegrity, type ProviderPackage } from "./provider_packages.ts";
import { type EntrySelector, extractTarGz, extractZip } from "./archive.ts";
import { createHash } from "node:crypto";
import { pathExists } from "../path_exists.ts";

/** Providers `gpux runtime install` can add. */
export type InstallableProvider = "cuda";

/** Options of {@linkcode installProvider}. */
export interface InstallProviderOptions {
  /** CUDA major version (default: the newest CUDA runtime the loader finds here). */
  cuda?: number;
  /** `npm`, `nuget`, or a local folder or archive (`.tgz`, `.nupkg`, `.zip`) (default: the package for `cuda`). */
  from?: string;
  /** Replace an installed folder. */
  force?: boolean;
  /** Environment (`GPUX_HOME`, `GPUX_NPM_REGISTRY`, `GPUX_NUGET_URL`). */
  env?: EnvReader;
  /** The `fetch` to use. */
  fetch?: typeof fetch;
  /** Cancels the download (the partial file stays for resume). */
  signal?: AbortSignal;
  /** Download progress, as `gpux pull` reports it. */
  onProgress?: (event: PullProgressEvent) => void;
  /** The packages per CUDA version (default {@linkcode CUDA_PACKAGES}). */
  packages?: Readonly<Record<number, ProviderPackage>>;
  /** The `libonnxruntime` to copy into the folder (default onnxruntime-node's). */
  ortLibrary?: string;
  /** Transfer tuning (tests): retries and the first backoff delay. */
  retry?: { maxRetries?: number; baseDelayMs?: number };
  /** Platform (default the running one). */
  platform?: { os: string; arch: string };
}

/** What {@linkcode installProvider} did. */
export interface InstallProviderResult {
  /** The runtime folder. */
  folder: string;
  /** Its manifest. */
  manifest: RuntimeManifest;
  /** True when it was installed already and nothing was done (no `force`). */
  alreadyInstalled: boolean;
  /** Bytes downloaded now. */
  bytesDownloaded: number;
  /** Bytes of a partial download reused. */
  resumedFrom: number;
}

async function matches(path: string, expected: ExpectedContent): Promise<boolean> {
  if (expected.kind === "git-sha1") return false;
  try {
    if ((await Deno.stat(path)).size !== expected.size) return false;
  } catch {
    return false;
  }
  const hash = createHash(expected.kind);
  const file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex") === expected.hash;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** The CUDA major version to install for: the option, else the newest CUDA runtime found here. */
export function defaultCudaVersion(
  packages: Readonly<Record<number, ProviderPackage>> = CUDA_PACKAGES,
  present: readonly number[] = cudaRuntimesPresent(),
): number | undefined {
  return present.find((n) => packages[n]);
}

interface Fetched {
  kind: "npm" | "nuget" | "local";
  archive?: string;
  dir?: string;
  url?: string;
  sha256?: string;
  integrity?: string;
  name: string;
  version?: string;
  bytesDownloaded: number;
  resumedFrom: number;
}

async function getJson(url: string, what: string, o: InstallProviderOptions): Promise<Record<string, unknown>> {
  const response = await fetchWithRetry(url, { headers: { accept: "application/json" } }, {
    fetch: o.fetch,
    signal: o.signal,
    maxRetries: o.retry?.maxRetries,
    baseDelayMs: o.retry?.baseDelayMs,
  });
  if (response.status === 404) {
    await response.body?.cancel();
    throw new NotFoundError(`${what} not found (HTTP 404 from ${url})`, {
      hint: "check GPUX_NPM_REGISTRY / GPUX_NUGET_URL, or install from a local copy with --from <dir or archive>",
    });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new NetworkError(`${url} answered HTTP ${response.status} for ${what}`);
  }
  try {
    const value = await response.json();
    if (typeof value !== "object" || value === null) throw new Error("not an object");
    return value as Record<string, unknown>;
  } catch {
    throw new NetworkError(`${url} did not answer JSON for ${what}`);
  }
}

async function contentLength(url: string, o: InstallProviderOptions): Promise<number> {
  const response = await fetchWithRetry(url, { method: "HEAD" }, {
    fetch: o.fetch,
    signal: o.signal,
    maxRetries: o.retry?.maxRetries,
    baseDelayMs: o.retry?.baseDelayMs,
  });
  await response.body?.cancel();
  const n = Number(response.headers.get("content-length"));
  if (!response.ok || !Number.isSafeInteger(n) || n <= 0) {
    throw new NetworkError(`${url} did not say the package's size (HTTP ${response.status})`);
  }
  return n;
}

async function download(
  url: string,
  fileName: string,
  expected: ExpectedContent,
  o: InstallProviderOptions,
): Promise<{ path: string; bytesDownloaded: number; resumedFrom: number }> {
  const dir = `${gpuxHome(o.env ?? denoEnv)}/downloads`;
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw writeError(error, dir);
  }
  const path = `${dir}/${fileName}`;
  const progress = o.onProgress
    ? new TransferProgress([{ path: fileName, size: expected.size, cached: false }], o.onProgress)
    : undefined;
  o.onProgress?.({
    type: "plan",
    id: fileName,
    revision: "",
    sha: "",
    files: [{ path: fileName, size: expected.size, cached: false }],
    bytesTotal: expected.size,
    bytesCached: 0,
  });
  // a complete package left by an earlier run whose unpacking failed: reuse it when its bytes still match
  if (await matches(path, expected)) {
    progress?.start(fileName, expected.size);
    progress?.done(fileName, true);
    return { path, bytesDownloaded: 0, resumedFrom: expected.size };
  }
  const result = await downloadBlob({
    url,
    destination: path,
    expected,
    label: fileName,
    fetch: o.fetch,
    signal: o.signal,
    maxRetries: o.retry?.maxRetries,
    baseDelayMs: o.retry?.baseDelayMs,
    rangeThreshold: Infinity, // one stream: package hosts are CDNs that serve one connection fast
    onStart: (resumedFrom) => progress?.start(fileName, resumedFrom),
    onBytes: (n) => progress?.add(fileName, n),
    onRewind: (n) => progress?.rewind(fileName, n),
    onRetry: (info: RetryInfo) =>
      o.onProgress?.({
        type: "retry",
        path: fileName,
        attempt: info.attempt,
        delayMs: info.delayMs,
        reason: info.reason,
      }),
  });
  progress?.done(fileName, false);
  return { path, bytesDownloaded: result.bytesTransferred, resumedFrom: result.resumedFrom };
}

async function fetchNpm(pkg: ProviderPackage, o: InstallProviderOptions): Promise<Fetched> {
  const registry = npmRegistry(o.env ?? denoEnv);
  const meta = await getJson(`${registry}/${pkg.name}/${pkg.version}`, `npm package ${pkg.name}@${pkg.version}`, o);
  const dist = meta.dist as Record<string, unknown> | undefined;
  const tarball = typeof dist?.tarball === "string" ? dist.tarball : undefined;
  const integrity = typeof dist?.integrity === "string" ? dist.integrity : undefined;
  if (!tarball) throw new NetworkError(`${registry} gave no tarball URL for ${pkg.name}@${pkg.version}`);
  if (pkg.pinned?.integrity && integrity && integrity !== pkg.pinned.integrity) {
    throw new IntegrityError(
      `${registry} publishes integrity ${integrity} for ${pkg.name}@${pkg.version}, not the ${pkg.pinned.integrity} gpux pins`,
      {
        hint:
          "the package on this registry is not the one gpux was built against: use the public registry or --from a verified copy",
      },
    );
  }
  let expected: ExpectedContent;
  if (pkg.pinned) {
    expected = { kind: "sha256", hash: pkg.pinned.sha256, size: pkg.pinned.size };
    // a different size is a different package: refuse before downloading it
    const size = await contentLength(tarball, o).catch(() => undefined);
    if (size !== undefined && size !== pkg.pinned.size) {
      throw new IntegrityError(
        `${registry} serves ${size} bytes for ${pkg.name}@${pkg.version}; the pinned package has ${pkg.pinned.size}`,
        {
          hint:
            "the package on this registry is not the one gpux was built against: use the public registry or --from a verified copy",
        },
      );
    }
  } else {
    const parsed = integrity ? parseIntegrity(integrity) : undefined;
    if (!parsed) throw new IntegrityError(`${registry} publishes no usable integrity for ${pkg.name}@${pkg.version}`);
    expected = { kind: parsed.kind, hash: parsed.hex, size: await contentLength(tarball, o) };
  }
  const fileName = `${pkg.name}-${pkg.version}.tgz`;
  const got = await download(tarball, fileName, expected, o);
  return {
    kind: "npm",
    archive: got.path,
    url: tarball,
    name: pkg.name,
    version: pkg.version,
    ...(expected.kind === "sha256" ? { sha256: expected.hash } : {}),
    ...(integrity ? { integrity } : {}),
    bytesDownloaded: got.bytesDownloaded,
    resumedFrom: got.resumedFrom,
  };
}

async function fetchNuget(pkg: ProviderPackage, o: InstallProviderOptions): Promise<Fetched> {
  const indexUrl = nugetIndex(o.env ?? denoEnv);
  const index = await getJson(indexUrl, "the NuGet service index", o);
  const resources = Array.isArray(index.resources) ? index.resources as Record<string, unknown>[] : [];
  const resource = (prefix: string) =>
    resources.filter((r) => typeof r["@type"] === "string" && (r["@type"] as string).startsWith(prefix))
      .map((r) => String(r["@id"]).replace(/\/+$/, ""));
  const flat = resource("PackageBaseAddress")[0];
  const registrations = resource("RegistrationsBaseUrl");
  // the semver2 hive (3.6.0) has every package; plain fetch undoes its gzip
  const registration = registrations.find((u) => /semver2/.test(u)) ?? registrations[0];
  if (!flat || !registration) {
    throw new NetworkError(`${indexUrl} lists no PackageBaseAddress or RegistrationsBaseUrl resource`);
  }
  const id = pkg.name.toLowerCase();
  const version = pkg.version.toLowerCase();
  const what = `NuGet package ${pkg.name} ${pkg.version}`;
  const leaf = await getJson(`${registration}/${id}/${version}.json`, what, o);
  const catalogUrl = typeof leaf.catalogEntry === "string"
    ? leaf.catalogEntry
    : (leaf.catalogEntry as Record<string, unknown> | undefined)?.["@id"];
  if (typeof catalogUrl !== "string") throw new NetworkError(`the NuGet registration of ${what} has no catalog entry`);
  const catalog = await getJson(catalogUrl, `the catalog entry of ${what}`, o);
  const hash = typeof catalog.packageHash === "string" ? catalog.packageHash : undefined;
  const algorithm = String(catalog.packageHashAlgorithm ?? "").toLowerCase();
  const size = Number(catalog.packageSize);
  const parsed = hash && (algorithm === "sha512" || algorithm === "sha256")
    ? parseIntegrity(`${algorithm}-${hash}`)
    : undefined;
  if (!parsed || !Number.isSafeInteger(size) || size <= 0) {
    throw new IntegrityError(`NuGet publishes no usable hash and size for ${what}`, {
      hint: "install from a verified local copy with --from <file.nupkg>",
    });
  }
  const url = typeof leaf.packageContent === "string"
    ? leaf.packageContent
    : `${flat}/${id}/${version}/${id}.${version}.nupkg`;
  const fileName = `${id}.${version}.nupkg`;
  const got = await download(url, fileName, { kind: parsed.kind, hash: parsed.hex, size }, o);
  return {
    kind: "nuget",
    archive: got.path,
    url,
    name: pkg.name,
    version: pkg.version,
    integrity: `${algorithm}-${hash}`,
    bytesDownloaded: got.bytesDownloaded,
    resumedFrom: got.resumedFrom,
  };
}

/** Finds `names` in a folder (at the top or anywhere below it). */
async function findInDir(dir: string, names: readonly string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const walk = async (path: string, depth: number) => {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      if (entry.isFile && names.includes(entry.name) && !found.has(entry.name)) found.set(entry.name, full);
      else if (entry.isDirectory && depth < 8) await walk(full, depth + 1);
    }
  };
  await walk(dir, 0);
  return found;
}

/**
 * Installs the CUDA execution provider into `$GPUX_HOME/runtime/onnxruntime-<version>-linux-x64-cuda<N>/`.
 *
 * @example
 * ```ts
 * const { folder } = await installProvider("cuda", { cuda: 13 });
 * ```
 *
 * @throws {InputError} no CUDA version given and none found here, or an unknown `from`.
 * @throws {IntegrityError} the package does not match its pinned or published hash (nothing is installed).
 * @throws {NetworkError} the package host kept failing (a partial download stays for resume).
 * @throws {ProviderError} the platform has no such provider build, or the package lacks a library.
 */
export async function installProvider(
  provider: InstallableProvider,
  options: InstallProviderOptions = {},
): Promise<InstallProviderResult> {
  const env = options.env ?? denoEnv;
  const platform = options.platform ?? { os: Deno.build.os, arch: Deno.build.arch };
  const packages = options.packages ?? CUDA_PACKAGES;
  if (provider !== "cuda") {
    throw new InputError(`unknown provider ${provider}: gpux can install cuda`, {
      hint: "gpux runtime install cuda; the other providers come with onnxruntime-node or not at all",
    });
  }
  if (platform.os !== "linux" || platform.arch !== "x86_64") {
    throw new ProviderError(`gpux runtime install cuda supports Linux x64, not ${platform.os} ${platform.arch}`, {
      hint: platform.os === "windows"
        ? "on Windows, DirectML (--provider dml) needs no install"
        : platform.os === "darwin"
        ? "on macOS, use --provider coreml (built in)"
        : "use --provider cpu or webgpu on this platform",
    });
  }
  const cuda = options.cuda ?? defaultCudaVersion(packages);
  if (cuda === undefined) {
    throw new InputError(
      "no CUDA runtime found here (libcudart.so.13 or libcudart.so.12), so which build to install is unclear",
      {
        hint: `say which: --cuda ${
          Object.keys(packages).sort().reverse().join(" or --cuda ")
        } (the CUDA major version you will install)`,
      },
    );
  }
  const pkg = packages[cuda];
  const from = options.from ?? pkg?.kind;
  if (!pkg && (from === "npm" || from === "nuget" || from === undefined)) {
    throw new InputError(`no provider package known for CUDA ${cuda}`, {
      hint: `use --cuda ${Object.keys(packages).join(" or ")}, or --from a local folder or archive`,
    });
  }
  const spec: RuntimeFolderSpec = { version: ORT_VERSION, os: platform.os, arch: platform.arch, cuda };
  let root: string;
  try {
    root = runtimeRoot(env);
  } catch {
    throw new InputError("cannot tell where gpux keeps its state: neither GPUX_HOME nor HOME is set", {
      hint: "set GPUX_HOME to a writable folder",
    });
  }
  const folder = `${root}/${runtimeFolderName(spec)}`;
  const existing = listRuntimeFolders(env).find((f) => f.path === folder);
  if (existing?.manifest && !existing.problem && !options.force) {
    return { folder, manifest: existing.manifest, alreadyInstalled: true, bytesDownloaded: 0, resumedFrom: 0 };
  }
  const ortLibrary = options.ortLibrary ?? `${ortBinaryDir()}/${ortLibraryName(platform.os)}`;
  if (!pathExists(ortLibrary)) {
    throw new ProviderError(`onnxruntime's library was not found at ${ortLibrary}`, {
      hint: "reinstall the dependencies (npm ci, or deno install)",
    });
  }
  const libraries = pkg?.libraries ?? CUDA_PACKAGES[13].libraries;

  let fetched: Fetched;
  if (from === "npm" || from === "nuget") {
    const source = pkg!;
    if (source.kind !== from) {
      throw new InputError(`CUDA ${cuda} provider builds come from ${source.kind}, not ${from}`, {
        hint: `drop --from, or use --cuda ${Object.entries(packages).find(([, p]) => p.kind === from)?.[0] ?? "…"}`,
      });
    }
    fetched = from === "npm" ? await fetchNpm(source, options) : await fetchNuget(source, options);
  } else {
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(from!);
    } catch {
      throw new InputError(`--from ${from}: expected npm, nuget, or an existing folder or archive`, {
        hint: "check the path of the downloaded provider package (.tgz, .nupkg or its unpacked folder), or drop --from",
      });
    }
    if (!stat.isDirectory && !stat.isFile) {
      // a device (/dev/zero) or a FIFO would be hashed and read forever
      throw new InputError(`--from ${from}: not a regular file or a folder (a device, a pipe or a socket)`, {
        hint: "give the package archive (.tgz, .nupkg) or the folder holding the provider libraries",
      });
    }
    fetched = stat.isDirectory
      ? { kind: "local", dir: from, name: from!, bytesDownloaded: 0, resumedFrom: 0 }
      : { kind: "local", archive: from, name: from!, bytesDownloaded: 0, resumedFrom: 0 };
    if (fetched.archive) fetched.sha256 = await fileSha256(fetched.archive);
  }

  const staging = `${root}/.${runtimeFolderName(spec)}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.mkdir(root, { recursive: true });
    await Deno.mkdir(staging);
  } catch (error) {
    throw writeError(error, root);
  }
  try {
    if (fetched.dir) {
      const found = await findInDir(fetched.dir, libraries);
      for (const [name, path] of found) await Deno.copyFile(path, `${staging}/${name}`);
    } else {
      const archive = fetched.archive!;
      const prefix = fetched.kind === "local" ? undefined : `${pkg!.libraryDir}/`;
      const taken = new Set<string>();
      const select: EntrySelector = (entry) => {
        const base = entry.slice(entry.lastIndexOf("/") + 1);
        if (!libraries.includes(base) || taken.has(base)) return undefined;
        if (prefix !== undefined && entry !== `${prefix}${base}`) return undefined;
        taken.add(base);
        return base;
      };
      const isZip = /\.(nupkg|zip)$/i.test(archive);
      if (isZip) await extractZip(archive, select, staging);
      else if (/\.(tgz|tar\.gz)$/i.test(archive)) await extractTarGz(archive, select, staging);
      else {
        throw new InputError(`--from ${archive}: expected a folder, a .tgz (npm) or a .nupkg/.zip (NuGet)`, {
          hint: "give the provider package as downloaded (.tgz from npm, .nupkg from NuGet) or its unpacked folder",
        });
      }
    }
    const missing = libraries.filter((l) => !pathExists(`${staging}/${l}`));
    if (missing.length) {
      throw new ProviderError(
        `${fetched.name} has no ${missing.join(" or ")}${
          pkg && fetched.kind !== "local" ? ` in ${pkg.libraryDir}` : ""
        }`,
        {
          hint: "give a package or folder that holds the Linux x64 CUDA provider libraries for onnxruntime " +
            ORT_VERSION,
        },
      );
    }
    const files: RuntimeFileRecord[] = [];
    for (const name of libraries) {
      const path = `${staging}/${name}`;
      files.push({ name, size: (await Deno.stat(path)).size, sha256: await fileSha256(path) });
    }
    // a local copy is trusted as given; say when it is byte for byte a build gpux knows
    const known = fetched.kind === "local" && pkg?.librarySha256 &&
        files.every((f) => pkg.librarySha256?.[f.name] === f.sha256)
      ? `${pkg.kind} ${pkg.name}@${pkg.version}`
      : undefined;
    await populateRuntimeFolder(staging, ortLibrary, ortLibraryName(platform.os));
    const manifest: RuntimeManifest = {
      format: 1,
      provider,
      onnxruntime: ORT_VERSION,
      os: platform.os,
      arch: platform.arch,
      cuda,
      source: {
        kind: fetched.kind,
        name: fetched.name,
        ...(fetched.version ? { version: fetched.version } : {}),
        ...(fetched.url ? { url: fetched.url } : {}),
        ...(fetched.sha256 ? { sha256: fetched.sha256 } : {}),
        ...(fetched.integrity ? { integrity: fetched.integrity } : {}),
        ...(known ? { matches: known } : {}),
      },
      files,
      installedAt: new Date().toISOString(),
    };
    await Deno.writeTextFile(`${staging}/${RUNTIME_MANIFEST}`, JSON.stringify(manifest, null, 2) + "\n");
    // swap in: the old folder (with --force) goes aside first, so a failure leaves one complete folder
    const old = `${folder}.old-${crypto.randomUUID().slice(0, 8)}`;
    const hadOld = pathExists(folder);
    if (hadOld) await Deno.rename(folder, old);
    await Deno.rename(staging, folder);
    if (hadOld) await Deno.remove(old, { recursive: true }).catch(() => {});
    if (fetched.kind !== "local" && fetched.archive) await Deno.remove(fetched.archive).catch(() => {});
    return {
      folder,
      manifest,
      alreadyInstalled: false,
      bytesDownloaded: fetched.bytesDownloaded,
      resumedFrom: fetched.resumedFrom,
    };
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw writeError(error, root);
  }
}

/** A refused or failed write (permission, read-only, disk full) as a {@linkcode CacheError} (exit 6); others as they are. */
function writeError(error: unknown, root: string): unknown {
  if (
    error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable ||
    (error instanceof Error && /No space left|Read-only file system|os error (28|30)\b/.test(error.message))
  ) {
    return new CacheError(`cannot write to ${root}: ${error.message}`, {
      cause: error,
      hint:
        "free some space, or set GPUX_HOME to a writable folder (under deno task gpux, GPUX_HOME is the folder it may write)",
    });
  }
  return error;
}

/** Options of {@linkcode removeProvider}. */
export interface RemoveProviderOptions {
  /** Only the folder for this CUDA major version (default every CUDA folder of this onnxruntime version). */
  cuda?: number;
  /** Environment (`GPUX_HOME`). */
  env?: EnvReader;
}

/**
 * Removes the runtime folders that add `provider` (all onnxruntime versions and platforms, or one CUDA version).
 *
 * @returns the folders removed.
 * @throws {NotFoundError} none is installed.
 */
export async function removeProvider(
  provider: InstallableProvider,
  options: RemoveProviderOptions = {},
): Promise<string[]> {
  const env = options.env ?? denoEnv;
  const folders = listRuntimeFolders(env).filter((f) =>
    f.spec.cuda !== undefined && (options.cuda === undefined || f.spec.cuda === options.cuda) &&
    (f.manifest?.provider ?? provider) === provider
  );
  if (!folders.length) {
    throw new NotFoundError(
      `no ${provider}${options.cuda ? ` (CUDA ${options.cuda})` : ""} runtime is installed in ${runtimeRoot(env)}`,
      { hint: "`gpux runtime ls` lists what is installed" },
    );
  }
  const removed: string[] = [];
  for (const f of folders) {
    await Deno.remove(f.path, { recursive: true });
    removed.push(f.path);
  }
  return removed;
}
