/**
 * Where execution-provider libraries for onnxruntime come from: the packages, the files in them, the
 * hashes gpux knows in advance, and the package hosts' base URLs (configurable, so that a mirror — or a
 * test's local server — can stand in).
 *
 * - CUDA 12: NuGet `Microsoft.ML.OnnxRuntime.Gpu.Linux` at exactly the onnxruntime version, the package
 *   onnxruntime-node's own install script uses; `runtimes/linux-x64/native/`. Its sha512 comes from the NuGet
 *   catalog (`packageHash`), since nuget.org is not reachable where this was written.
 * - CUDA 13: npm `com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9` (a CUDA 13 build of onnxruntime 1.29.0);
 *   `package/Plugins/Linux/x64/`. Its sha256 and size are pinned here (computed from `npm pack` of that
 *   version), and the registry's published `integrity` must agree.
 *
 * @module
 */
import { denoEnv, type EnvReader } from "../environment.ts";
import { ORT_VERSION } from "../runtime/runtime_folder.ts";

/** Default npm registry. */
export const DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org";
/** Default NuGet v3 service index. */
export const DEFAULT_NUGET_INDEX = "https://api.nuget.org/v3/index.json";

/** The libraries the CUDA execution provider needs beside `libonnxruntime` (Linux). */
export const CUDA_PROVIDER_LIBRARIES: readonly string[] = [
  "libonnxruntime_providers_cuda.so",
  "libonnxruntime_providers_shared.so",
];

/** A package that carries provider libraries. */
export interface ProviderPackage {
  /** `npm` or `nuget`. */
  kind: "npm" | "nuget";
  /** Package name (npm) or id (NuGet). */
  name: string;
  /** Exact version. */
  version: string;
  /** Folder inside the archive holding the libraries (no trailing slash). */
  libraryDir: string;
  /** The libraries to take out. */
  libraries: readonly string[];
  /** sha256 (hex) and size of the archive, when known in advance: the download must match. */
  pinned?: { sha256: string; size: number; integrity?: string };
  /** sha256 (hex) of each library as shipped, when known (recorded; used to recognise a local copy). */
  librarySha256?: Record<string, string>;
}

/** The provider packages per CUDA major version. */
export const CUDA_PACKAGES: Readonly<Record<number, ProviderPackage>> = {
  12: {
    kind: "nuget",
    name: "Microsoft.ML.OnnxRuntime.Gpu.Linux",
    version: ORT_VERSION,
    libraryDir: "runtimes/linux-x64/native",
    libraries: CUDA_PROVIDER_LIBRARIES,
  },
  13: {
    kind: "npm",
    name: "com.github.asus4.onnxruntime.linux-x64-gpu",
    version: "0.4.9",
    libraryDir: "package/Plugins/Linux/x64",
    libraries: CUDA_PROVIDER_LIBRARIES,
    pinned: {
      sha256: "2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412",
      size: 179_145_956,
      integrity: "sha512-FopIhNE/Ng+v2X65wVc9clPCBCvhvA53Hxo2U0Kf5fGdVsC7iCA+mZ0KLWggcQAj7TIZ6pNidR4AC10g74Xo6w==",
    },
    librarySha256: {
      "libonnxruntime_providers_cuda.so": "56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037",
      "libonnxruntime_providers_shared.so": "c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772",
    },
  },
};

function baseUrl(value: string | undefined, fallback: string): string {
  const v = value?.trim();
  return (v ? v : fallback).replace(/\/+$/, "");
}

/** The npm registry: `GPUX_NPM_REGISTRY`, else https://registry.npmjs.org. */
export function npmRegistry(env: EnvReader = denoEnv): string {
  return baseUrl(env("GPUX_NPM_REGISTRY"), DEFAULT_NPM_REGISTRY);
}

/** The NuGet v3 service index: `GPUX_NUGET_URL`, else https://api.nuget.org/v3/index.json. */
export function nugetIndex(env: EnvReader = denoEnv): string {
  return baseUrl(env("GPUX_NUGET_URL"), DEFAULT_NUGET_INDEX);
}

/** The hosts (`host[:port]`) `gpux runtime install` may connect to (for the permission sandbox). */
export function packageHosts(env: EnvReader = denoEnv): string[] {
  const hosts: string[] = [];
  for (const url of [npmRegistry(env), nugetIndex(env)]) {
    try {
      hosts.push(new URL(url).host);
    } catch {
      // an unparsable URL: the install reports it
    }
  }
  return [...new Set(hosts)];
}

/** An SRI integrity string (`sha512-<base64>`) as an algorithm and a hex digest; `undefined` when unusable. */
export function parseIntegrity(integrity: string): { kind: "sha256" | "sha512"; hex: string } | undefined {
  const m = /^(sha256|sha512)-([A-Za-z0-9+/]+=*)$/.exec(integrity.trim().split(/\s+/).pop() ?? "");
  if (!m) return undefined;
  try {
    const bytes = Uint8Array.from(atob(m[2]), (c) => c.charCodeAt(0));
    if (bytes.length !== (m[1] === "sha256" ? 32 : 64)) return undefined;
    return { kind: m[1] as "sha256" | "sha512", hex: [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("") };
  } catch {
    return undefined;
  }
}
