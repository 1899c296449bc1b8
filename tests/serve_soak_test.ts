/**
 * A short soak of `gpux serve` (a few thousand requests, bounded loops, seconds on 2 cores): a tenth of
 * them malformed, oversized, of the wrong shape, or cancelled mid-body. Every good request gets exactly
 * its answer, every bad one its 4xx, the server stays up with no leaked worker or queued request, and its
 * memory (read from /metrics) ends near where it started.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";
import { running, startServe } from "./support/serve_process.ts";
import { parsePrometheusText } from "../src/serve/metrics.ts";

const TOTAL = 3000;
const CONCURRENCY = 16;

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return parsePrometheusText(text).filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
}

/** Sends headers promising `declared` bytes, part of the body, then hangs up. */
async function cancelMidBody(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const head =
    `POST /predict HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n`;
  await conn.write(new TextEncoder().encode(head + '{"x": [[1, 2'));
  conn.close();
}

type Kind = "good" | "malformed" | "oversized" | "shape" | "cancelled";

function kindOf(i: number): Kind {
  if (i % 10 !== 0) return "good";
  return (["malformed", "oversized", "shape", "cancelled"] as const)[(i / 10) % 4];
}

Deno.test("soak: thousands of requests, a tenth of them bad or cancelled; answers exact, server up, memory back near the start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-soak-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
  const server = running(
    await startServe([`${dir}/id.onnx`, "--provider", "cpu", "--port", "0", "--quiet", "--max-body-mb", "0.1"], {
      env,
    }),
  );
  try {
    const url = server.url;
    const counts: Record<Kind, number> = { good: 0, malformed: 0, oversized: 0, shape: 0, cancelled: 0 };
    const wrong: string[] = [];
    const one = async (i: number) => {
      const kind = kindOf(i);
      counts[kind]++;
      if (kind === "cancelled") return await cancelMidBody(url);
      // every 20th good request is big (1,600 rows: a 40 kB body, 4,800 values back): decoded and printed
      // in the codec Worker while the server is busy
      const rows = i % 20 === 7 ? 1600 : 1 + (i % 3);
      const x = Array.from({ length: rows }, (_, r) => [i, r, i + r + 0.5]);
      const body = kind === "malformed"
        ? `{"x": [[${i}, 1,`
        : kind === "oversized"
        ? JSON.stringify({ x, pad: "p".repeat(200_000) })
        : kind === "shape"
        ? JSON.stringify({ x: [[i, 1]] })
        : JSON.stringify({ x });
      const response = await fetch(`${url}/predict`, { method: "POST", body });
      const doc = await response.json();
      const expected = { good: 200, malformed: 400, oversized: 413, shape: 400 }[kind];
      if (response.status !== expected) wrong.push(`#${i} ${kind}: ${response.status} ${JSON.stringify(doc)}`);
      else if (kind === "good" && JSON.stringify(doc.outputs.y.data) !== JSON.stringify(x)) {
        wrong.push(`#${i}: got ${JSON.stringify(doc.outputs.y.data)} for ${JSON.stringify(x)}`);
      }
    };
    const run = async (from: number, to: number) => {
      let next = from;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < to) await one(next++);
      }));
    };
    await run(0, 300); // warm up: the allocator and JIT settle before the baseline
    const rssStart = await metric(url, "gpux_process_resident_memory_bytes");
    await run(300, TOTAL);
    assertEquals(wrong, []);
    assert(counts.cancelled >= TOTAL / 50 && counts.oversized >= TOTAL / 50, JSON.stringify(counts));
    assertEquals((await fetch(`${url}/health`).then((r) => r.json())).status, "ok");
    assertEquals(await metric(url, "gpux_workers"), 1);
    assertEquals(await metric(url, "gpux_queue_depth"), 0);
    assertEquals(await metric(url, "gpux_requests_in_flight"), 0);
    const rssEnd = await metric(url, "gpux_process_resident_memory_bytes");
    assert(
      rssEnd < rssStart * 1.25 + 32 * 1024 * 1024,
      `resident memory grew from ${Math.round(rssStart / 1e6)} MB to ${Math.round(rssEnd / 1e6)} MB`,
    );
    assert(!/POST \/predict/.test(server.stderr()), "--quiet: no access log");
    assertEquals(await server.stop("SIGTERM"), 0);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
