/**
 * The transfer engine (src/download/) against the local hub: verified downloads, parallel ranges,
 * resume, retries, stalls, integrity failures.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./support/assert.ts";
import { type HubServer, startHubServer } from "./support/hub_server.ts";
import { type BlobDownloadOptions, downloadBlob, partialPaths } from "../src/download/blob_download.ts";
import { IntegrityError, InterruptedError, NetworkError } from "../src/errors.ts";
import { createHash } from "node:crypto";

const REPO = "acme/engine";
const MB = 1024 * 1024;

interface Fixture {
  hub: HubServer;
  dir: string;
}

async function withHub(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const hub = await startHubServer();
  const dir = await Deno.makeTempDir({ prefix: "gpux-download-" });
  try {
    await fn({ hub, dir });
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function options(f: Fixture, path: string, extra: Partial<BlobDownloadOptions> = {}): BlobDownloadOptions {
  const info = f.hub.fileInfo(REPO, path);
  const hash = info.sha256 ?? info.oid;
  return {
    url: `${f.hub.url}/${REPO}/resolve/main/${path}`,
    destination: `${f.dir}/${hash}`,
    expected: { size: info.size, hash, kind: info.sha256 ? "sha256" : "git-sha1" },
    label: path,
    baseDelayMs: 10,
    maxDelayMs: 200,
    ...extra,
  };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("engine: a small git file (git blob sha1) and an LFS file over the CDN, verified", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "config.json": '{"a":1}', "onnx/model.onnx": { size: 3 * MB + 7, seed: 3 } });
    const small = options(f, "config.json");
    let counted = 0;
    const r1 = await downloadBlob({ ...small, onBytes: (n) => counted += n });
    assertEquals(r1, { bytesTransferred: 7, resumedFrom: 0, ranged: false });
    assertEquals(counted, 7);
    assertEquals(await Deno.readTextFile(small.destination), '{"a":1}');
    const big = options(f, "onnx/model.onnx");
    await downloadBlob(big);
    assertEquals(await sha256File(big.destination), big.expected.hash);
    assert(f.hub.requests.some((r) => r.origin === "cdn" && r.path.includes("model.onnx")), "LFS comes from the CDN");
    assertEquals(listDir(f.dir), [small.expected.hash, big.expected.hash].sort(), "no partial files left");
  });
});

Deno.test("engine: a 150 MB file is fetched as parallel byte ranges straight from the CDN", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "model.onnx_data": { size: 150 * 1000 * 1000, seed: 9 } });
    const o = options(f, "model.onnx_data");
    let bytes = 0;
    const result = await downloadBlob({
      ...o,
      chunkSize: 16 * MB,
      fastStreamBytesPerSecond: Infinity,
      onBytes: (n) => bytes += n,
    });
    assert(result.ranged);
    assertEquals(bytes, o.expected.size);
    assertEquals(await sha256File(o.destination), o.expected.hash);
    const ranges = f.hub.requests.filter((r) => r.origin === "cdn" && r.method === "GET").map((r) => r.range);
    assertEquals(ranges.length, Math.ceil(o.expected.size / (16 * MB)));
    assertEquals(ranges[0], `bytes=0-${16 * MB - 1}`);
    assert(ranges.includes(`bytes=${16 * MB}-${32 * MB - 1}`));
    // only the first request went through the Hub's redirect; the others reused the CDN URL
    assertEquals(f.hub.requests.filter((r) => r.origin === "hub").length, 1);
    assertEquals(listDir(f.dir), [o.expected.hash]);
  });
});

Deno.test("engine: a dropped connection mid-file resumes with Range from the bytes written", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "weights.bin": { size: 5 * MB, seed: 4 } });
    f.hub.addFault({ match: { path: "weights.bin", origin: "cdn" }, kind: "drop", afterBytes: 2 * MB });
    const o = options(f, "weights.bin");
    const retries: string[] = [];
    const result = await downloadBlob({ ...o, rangeThreshold: Infinity, onRetry: (i) => retries.push(i.reason) });
    assertEquals(await sha256File(o.destination), o.expected.hash);
    assertEquals(retries.length, 1);
    assertMatch(retries[0], /connection/);
    const cdn = f.hub.requests.filter((r) => r.origin === "cdn");
    assertEquals(cdn[0].range, undefined);
    assertMatch(cdn[1].range ?? "", /^bytes=\d+-$/);
    const from = Number(/bytes=(\d+)-/.exec(cdn[1].range!)![1]);
    assert(from > 0 && from <= 2 * MB, `resumed at ${from}`);
    assertEquals(result.bytesTransferred, o.expected.size, "no byte fetched twice");
  });
});

Deno.test("engine: an .incomplete left by an earlier run continues with Range and counts as done", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "weights.bin": { size: 3 * MB, seed: 5 } });
    const o = options(f, "weights.bin");
    await Deno.writeFile(partialPaths(o.destination).sequential, f.hub.fileBytes(REPO, "weights.bin", "main", 0, MB));
    let resumedFrom = -1;
    const result = await downloadBlob({ ...o, onStart: (n) => resumedFrom = n });
    assertEquals(resumedFrom, MB);
    assertEquals(result, { bytesTransferred: 2 * MB, resumedFrom: MB, ranged: false });
    assertEquals(f.hub.requests.find((r) => r.origin === "cdn")?.range, `bytes=${MB}-`);
    assertEquals(await sha256File(o.destination), o.expected.hash);
  });
});

Deno.test("engine: a server that ignores Range restarts the file cleanly", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "weights.bin": { size: 3 * MB, seed: 6 } });
    f.hub.addFault({ match: { path: "weights.bin", origin: "cdn" }, kind: "ignoreRange", times: Infinity });
    const o = options(f, "weights.bin");
    await Deno.writeFile(partialPaths(o.destination).sequential, f.hub.fileBytes(REPO, "weights.bin", "main", 0, MB));
    let rewound = 0;
    const result = await downloadBlob({ ...o, onRewind: (n) => rewound += n });
    assertEquals(rewound, MB);
    assertEquals(result.bytesTransferred, 3 * MB);
    assertEquals(await sha256File(o.destination), o.expected.hash);
  });
});

Deno.test("engine: a large file on a server without Range support is streamed sequentially", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "model.onnx_data": { size: 40 * MB, seed: 8 } });
    f.hub.addFault({ match: { path: "model.onnx_data", origin: "cdn" }, kind: "ignoreRange", times: Infinity });
    const o = options(f, "model.onnx_data");
    const result = await downloadBlob({ ...o, chunkSize: 8 * MB, rangeThreshold: 16 * MB });
    assertEquals(result.ranged, false);
    assertEquals(result.bytesTransferred, 40 * MB);
    assertEquals(await sha256File(o.destination), o.expected.hash);
    assertEquals(f.hub.requests.filter((r) => r.origin === "cdn").length, 1, "the 200 answer was used, not re-fetched");
    assertEquals(listDir(f.dir), [o.expected.hash]);
  });
});

Deno.test("engine: wrong bytes raise IntegrityError and leave nothing behind", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "a.bin": { size: MB, seed: 1 }, "big.onnx_data": { size: 20 * MB, seed: 2 } });
    f.hub.addFault({ match: { origin: "cdn" }, kind: "corrupt", times: Infinity });
    for (
      const [path, extra] of [["a.bin", {}], ["big.onnx_data", { chunkSize: 4 * MB, rangeThreshold: 8 * MB }]] as const
    ) {
      const o = options(f, path, extra);
      const error = await assertRejects(() => downloadBlob(o), IntegrityError);
      assertMatch(
        error.message,
        new RegExp(`'${path.replace(".", "\\.")}' is corrupt: its sha256 is [0-9a-f]{64}, expected`),
      );
      assertEquals(error.exitCode, 6);
    }
    assertEquals(listDir(f.dir), []);
  });
});

Deno.test("engine: 429 with Retry-After, then success; persistent 500s end in NetworkError naming the file", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "a.bin": { size: 1000, seed: 1 }, "b.bin": { size: 1000, seed: 2 } });
    f.hub.addFault({ match: { path: "a.bin" }, kind: "rateLimit", retryAfter: 1 });
    const delays: number[] = [];
    await downloadBlob({ ...options(f, "a.bin"), maxDelayMs: 5000, onRetry: (i) => delays.push(i.delayMs) });
    assertEquals(delays.length, 1);
    assert(delays[0] >= 1000, "Retry-After is honoured");
    f.hub.addFault({ match: { path: "b.bin" }, kind: "status", status: 503, times: Infinity });
    const error = await assertRejects(() => downloadBlob({ ...options(f, "b.bin"), maxRetries: 2 }), NetworkError);
    assertMatch(error.message, /b\.bin/);
    assertMatch(error.message, /HTTP 503/);
  });
});

Deno.test("engine: a stalled connection is aborted and resumed", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "weights.bin": { size: 2 * MB, seed: 7 } });
    f.hub.addFault({ match: { path: "weights.bin", origin: "cdn" }, kind: "stall", afterBytes: 100_000 });
    const reasons: string[] = [];
    const o = options(f, "weights.bin");
    await downloadBlob({ ...o, stallTimeoutMs: 300, onRetry: (i) => reasons.push(i.reason) });
    assertEquals(reasons.length, 1);
    assertMatch(reasons[0], /stalled/);
    assertEquals(await sha256File(o.destination), o.expected.hash);
    assertMatch(f.hub.requests.filter((r) => r.origin === "cdn")[1].range ?? "", /^bytes=[1-9]\d*-$/);
  });
});

Deno.test("engine: parallel ranges interrupted by the signal resume from the sidecar", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "model.onnx_data": { size: 64 * MB, seed: 11 } });
    f.hub.setShaping({ bytesPerSecond: 40 * MB });
    const o = options(f, "model.onnx_data", { chunkSize: 8 * MB, rangeThreshold: 16 * MB, maxConnections: 4 });
    const controller = new AbortController();
    let seen = 0;
    await assertRejects(
      () =>
        downloadBlob({
          ...o,
          signal: controller.signal,
          onBytes: (n) => {
            seen += n;
            if (seen > 20 * MB) controller.abort();
          },
        }),
      InterruptedError,
    );
    const partial = partialPaths(o.destination);
    assertEquals(listDir(f.dir), [partial.rangedState, partial.ranged].map((p) => p.slice(f.dir.length + 1)).sort());
    const state = JSON.parse(await Deno.readTextFile(partial.rangedState));
    const saved = state.done.reduce((a: number, b: number) => a + b, 0);
    assert(saved > 0, "the sidecar records the bytes on disk");
    f.hub.setShaping({});
    f.hub.clearRequests();
    let resumedFrom = 0;
    const result = await downloadBlob({ ...o, onStart: (n) => resumedFrom = n });
    assertEquals(resumedFrom, saved);
    assertEquals(result.bytesTransferred, 64 * MB - saved);
    assertEquals(await sha256File(o.destination), o.expected.hash);
    assertEquals(listDir(f.dir), [o.expected.hash]);
    assert(!f.hub.requests.some((r) => r.range === `bytes=0-${8 * MB - 1}`), "finished ranges are not fetched again");
  });
});

Deno.test("engine: a sequential .incomplete of a large file (e.g. Python's) becomes the first bytes of the ranges", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "model.onnx_data": { size: 40 * MB, seed: 12 } });
    const o = options(f, "model.onnx_data", { chunkSize: 8 * MB, rangeThreshold: 16 * MB });
    const prefix = 12 * MB + 5;
    await Deno.writeFile(
      partialPaths(o.destination).sequential,
      f.hub.fileBytes(REPO, "model.onnx_data", "main", 0, prefix),
    );
    let resumedFrom = 0;
    const result = await downloadBlob({ ...o, onStart: (n) => resumedFrom = n });
    assert(result.ranged);
    assertEquals(resumedFrom, prefix);
    assertEquals(result.bytesTransferred, 40 * MB - prefix);
    assertEquals(await sha256File(o.destination), o.expected.hash);
    const ranges = f.hub.requests.filter((r) => r.origin === "cdn").map((r) => r.range);
    assert(!ranges.includes(`bytes=0-${8 * MB - 1}`), "the first range came from disk");
    assert(ranges.includes(`bytes=${prefix}-${16 * MB - 1}`), `${ranges}`);
    assertEquals(listDir(f.dir), [o.expected.hash]);
  });
});

Deno.test("engine: a corrupt or hostile ranges sidecar is ignored and the file fetched afresh", async () => {
  await withHub(async (f) => {
    f.hub.addRepo(REPO).commit({ "model.onnx_data": { size: 20 * MB, seed: 13 } });
    const o = options(f, "model.onnx_data", { chunkSize: 8 * MB, rangeThreshold: 16 * MB });
    const partial = partialPaths(o.destination);
    const hostile = [
      "null",
      "{",
      JSON.stringify({ size: 20 * MB, chunkSize: 2.5, hash: o.expected.hash, done: [] }),
      JSON.stringify({ size: 20 * MB, chunkSize: 8 * MB, hash: o.expected.hash, done: [8 * MB, 9 * MB, 0] }),
    ];
    for (const text of hostile) {
      await Deno.writeFile(partial.ranged, new Uint8Array(20 * MB).fill(7));
      await Deno.writeTextFile(partial.rangedState, text);
      let resumedFrom = -1;
      const result = await downloadBlob({ ...o, onStart: (n) => resumedFrom = n });
      assert(result.ranged, text);
      assertEquals([resumedFrom, result.bytesTransferred], [0, 20 * MB], text);
      assertEquals(await sha256File(o.destination), o.expected.hash);
      assertEquals(listDir(f.dir), [o.expected.hash]);
      await Deno.remove(o.destination);
    }
  });
});
