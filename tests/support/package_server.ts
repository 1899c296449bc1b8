/**
 * A local package host for `gpux runtime install` tests: an npm registry (`GET /{name}/{version}`, the
 * tarball with `Range`) and a NuGet v3 feed (service index, registration leaf, catalog entry with
 * `packageHash`, the `.nupkg` from the flat container), serving synthetic packages built in code: a `.tgz`
 * and a `.nupkg` holding dummy provider "libraries" (bytes that are not ELF files, so the dynamic loader
 * refuses them with its real message). It can cut a body in the middle, once, to exercise resume.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** The dummy library contents (not ELF: `dlopen` answers "invalid ELF header"). */
export function dummyLibrary(name: string): Uint8Array {
  return new TextEncoder().encode(`gpux test dummy, not a shared library: ${name}\n`.repeat(200));
}

async function compress(bytes: Uint8Array, format: "gzip" | "deflate-raw"): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function tarHeader(name: string, size: number, type = "0"): Uint8Array {
  const h = new Uint8Array(512);
  const enc = new TextEncoder();
  const put = (text: string, offset: number) => h.set(enc.encode(text), offset);
  put(name.slice(0, 100), 0);
  put("0000755\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(size.toString(8).padStart(11, "0") + "\0", 124);
  put("00000000000\0", 136);
  put("        ", 148);
  put(type, 156);
  put("ustar\0" + "00", 257);
  const sum = h.reduce((s, b) => s + b, 0);
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return h;
}

/** A gzip'd tar of `files` (paths → bytes); names over 100 characters get a pax `path` record. */
export async function buildTgz(files: Record<string, Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const pad = (n: number) => new Uint8Array((512 - (n % 512)) % 512);
  for (const [name, data] of Object.entries(files)) {
    if (name.length > 100) {
      let record = ` path=${name}\n`;
      record = `${record.length + String(record.length).length}${record}`;
      const bytes = new TextEncoder().encode(record);
      parts.push(tarHeader("PaxHeader", bytes.length, "x"), bytes, pad(bytes.length));
    }
    parts.push(tarHeader(name, data.length), data, pad(data.length));
  }
  parts.push(new Uint8Array(1024));
  const tar = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    tar.set(p, o);
    o += p.length;
  }
  return await compress(tar, "gzip");
}

/** A zip of `files` (deflated entries), as a `.nupkg` is. */
export async function buildZip(files: Record<string, Uint8Array>): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const deflated = await compress(data, "deflate-raw");
    const nameBytes = enc.encode(name);
    const local = new Uint8Array(30 + nameBytes.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, 8, true);
    lv.setUint32(14, crc32(data), true);
    lv.setUint32(18, deflated.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    const central = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, 8, true);
    cv.setUint32(16, crc32(data), true);
    cv.setUint32(20, deflated.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    central.set(nameBytes, 46);
    locals.push(local, deflated);
    centrals.push(central);
    offset += local.length + deflated.length;
  }
  const dirSize = centrals.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, centrals.length, true);
  ev.setUint16(10, centrals.length, true);
  ev.setUint32(12, dirSize, true);
  ev.setUint32(16, offset, true);
  const all = [...locals, ...centrals, end];
  const zip = new Uint8Array(all.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of all) {
    zip.set(p, o);
    o += p.length;
  }
  return zip;
}

function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Hex sha256. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** `sha512-<base64>` (npm's integrity) and plain base64 (NuGet's packageHash). */
export function sha512(bytes: Uint8Array): { integrity: string; base64: string } {
  const base64 = createHash("sha512").update(bytes).digest("base64");
  return { integrity: `sha512-${base64}`, base64 };
}

/** An npm package the server offers. */
export interface NpmPackage {
  name: string;
  version: string;
  tarball: Uint8Array;
  /** The integrity the registry publishes (default the real one). */
  integrity?: string;
}

/** A NuGet package the server offers. */
export interface NugetPackage {
  id: string;
  version: string;
  nupkg: Uint8Array;
  /** Base64 sha512 the catalog publishes (default the real one). */
  packageHash?: string;
}

/** A running package server. */
export interface PackageServer {
  /** npm registry base URL (`GPUX_NPM_REGISTRY`). */
  npmUrl: string;
  /** NuGet service index URL (`GPUX_NUGET_URL`). */
  nugetUrl: string;
  /** Every request: method, path and `Range` header. */
  requests: { method: string; path: string; range: string | null }[];
  /** Cut the next download body of this path after this many bytes (once). */
  cutNext: Map<string, number>;
  close(): Promise<void>;
}

/** Starts a package server on 127.0.0.1 offering `npm` and `nuget` packages. */
export function startPackageServer(options: { npm?: NpmPackage[]; nuget?: NugetPackage[] }): PackageServer {
  const controller = new AbortController();
  const requests: PackageServer["requests"] = [];
  const cutNext = new Map<string, number>();
  let base = "";
  const serveBytes = (req: Request, path: string, bytes: Uint8Array): Response => {
    const range = req.headers.get("range");
    let start = 0;
    let status = 200;
    const headers: Record<string, string> = { "accept-ranges": "bytes" };
    const m = range && /^bytes=(\d+)-$/.exec(range);
    if (m) {
      start = Number(m[1]);
      status = 206;
      headers["content-range"] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    }
    const body = bytes.subarray(start);
    headers["content-length"] = String(body.length);
    if (req.method === "HEAD") return new Response(null, { status, headers });
    const cut = cutNext.get(path);
    if (cut === undefined) return new Response(body as BodyInit, { status, headers });
    cutNext.delete(path);
    // send `cut` bytes of the announced length, then end: the client sees the connection drop mid-body
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(body.slice(0, cut));
        c.close();
      },
    });
    return new Response(stream, { status, headers });
  };
  const json = (value: unknown) => Response.json(value);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen: () => {},
  }, (req) => {
    const url = new URL(req.url);
    const path = decodeURIComponent(url.pathname);
    requests.push({ method: req.method, path, range: req.headers.get("range") });
    for (const p of options.npm ?? []) {
      const file = `/npm/${p.name}/-/${p.name}-${p.version}.tgz`;
      if (path === `/npm/${p.name}/${p.version}`) {
        return json({
          name: p.name,
          version: p.version,
          dist: { tarball: `${base}${file}`, integrity: p.integrity ?? sha512(p.tarball).integrity },
        });
      }
      if (path === file) return serveBytes(req, path, p.tarball);
    }
    if (path === "/nuget/v3/index.json") {
      return json({
        version: "3.0.0",
        resources: [
          { "@id": `${base}/nuget/flat/`, "@type": "PackageBaseAddress/3.0.0" },
          { "@id": `${base}/nuget/registration-semver2/`, "@type": "RegistrationsBaseUrl/3.6.0" },
        ],
      });
    }
    for (const p of options.nuget ?? []) {
      const id = p.id.toLowerCase();
      const nupkg = `/nuget/flat/${id}/${p.version}/${id}.${p.version}.nupkg`;
      if (path === `/nuget/registration-semver2/${id}/${p.version}.json`) {
        return json({
          catalogEntry: `${base}/nuget/catalog/${id}.${p.version}.json`,
          packageContent: `${base}${nupkg}`,
        });
      }
      if (path === `/nuget/catalog/${id}.${p.version}.json`) {
        return json({
          id: p.id,
          version: p.version,
          packageHash: p.packageHash ?? sha512(p.nupkg).base64,
          packageHashAlgorithm: "SHA512",
          packageSize: p.nupkg.length,
        });
      }
      if (path === nupkg) return serveBytes(req, path, p.nupkg);
    }
    return new Response("not found", { status: 404 });
  });
  base = `http://127.0.0.1:${server.addr.port}`;
  return {
    npmUrl: `${base}/npm`,
    nugetUrl: `${base}/nuget/v3/index.json`,
    requests,
    cutNext,
    close: async () => {
      controller.abort();
      await server.finished;
    },
  };
}

/** The synthetic CUDA 13 npm package (same layout as com.github.asus4.onnxruntime.linux-x64-gpu). */
export function syntheticNpmPackage(): Promise<Uint8Array> {
  const dir = "package/Plugins/Linux/x64";
  return buildTgz({
    "package/package.json": new TextEncoder().encode('{"name":"synthetic"}'),
    [`${dir}/libonnxruntime_providers_cuda.so`]: dummyLibrary("cuda"),
    [`${dir}/libonnxruntime_providers_shared.so`]: dummyLibrary("shared"),
    [`${dir}/libonnxruntime_providers_tensorrt.so`]: dummyLibrary("tensorrt"),
    [`${dir}/libonnxruntime_providers_cuda.so.meta`]: new TextEncoder().encode("unity meta"),
  });
}

/** The synthetic CUDA 12 NuGet package (same layout as Microsoft.ML.OnnxRuntime.Gpu.Linux). */
export function syntheticNupkg(): Promise<Uint8Array> {
  const dir = "runtimes/linux-x64/native";
  return buildZip({
    "Microsoft.ML.OnnxRuntime.Gpu.Linux.nuspec": new TextEncoder().encode("<package/>"),
    [`${dir}/libonnxruntime.so`]: dummyLibrary("onnxruntime (not taken: gpux keeps onnxruntime-node's)"),
    [`${dir}/libonnxruntime_providers_cuda.so`]: dummyLibrary("cuda 12"),
    [`${dir}/libonnxruntime_providers_shared.so`]: dummyLibrary("shared 12"),
  });
}
