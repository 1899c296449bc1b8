/**
 * A hostile soak of `deno task gpux serve` (bounded loops, loopback only, about a minute on 2 cores): concurrent
 * clients interleave good requests — tensors for a batching identity model, tensors for a detections model whose
 * outputs do not follow the batch (served with --max-batch 8, so it must run them one by one), KServe v2 requests and,
 * where the BERT fixture is at hand, texts for a classifier — with the shapes an attacker sends: huge lists (of texts, of v2 inputs),
 * a Content-Length larger than the limit,
 * one smaller than the body, one larger than the body followed by a hang-up, an endless chunked body, JSON nested a
 * million deep, an absurd tensor shape, malformed JSON. The server stays up, each hostile request gets its 4xx (or,
 * for a hang-up, nothing), every good request gets exactly its own answer, nothing stays reserved, queued or in
 * flight, and resident memory ends near where it started.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { identityModel, type ModelSpec, writeModel } from "./support/onnx_builder.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { classifierRepo } from "./support/text_models.ts";
import { writeRepo } from "./support/media_models.ts";
import { running, startServe } from "./support/serve_process.ts";
import { rawRequest, readResponse } from "./support/raw_http.ts";
import { parsePrometheusText } from "../src/serve/metrics.ts";

const TOTAL = 3000;
const CONCURRENCY = 12;
const MAX_BODY = 2 * 1024 * 1024;

const bert = await bertTokenizer();
if ("skip" in bert) console.warn(`the hostile soak runs without its text model: ${bert.skip}`);

const TEXTS = ["i love this", "this is bad", "the movie was fine", "terrible service", "great value for money"];

type Kind =
  | "good"
  | "goodDetections"
  | "goodText"
  | "goodV2"
  | "hugeList"
  | "hugeEntries"
  | "declaredTooLarge"
  | "shorterLength"
  | "hangUp"
  | "endlessChunked"
  | "deepArrays"
  | "deepObjects"
  | "hugeShape"
  | "malformed";

const HOSTILE: Kind[] = [
  "hugeList",
  "hugeEntries",
  "declaredTooLarge",
  "shorterLength",
  "hangUp",
  "endlessChunked",
  "deepArrays",
  "deepObjects",
  "hugeShape",
  "malformed",
];

/**
 * `x` f32[batch, 4] → NonZero → Transpose → `boxes` int64[num_detections, 2]: outputs that do not follow the batch.
 * Served with --max-batch 8, it must run each request alone (batching off), never hand one client another's rows.
 */
function detectionsModel(): ModelSpec {
  return {
    inputs: [{ name: "x", dtype: "float32", shape: ["batch", 4] }],
    outputs: [{ name: "boxes", dtype: "int64", shape: ["num_detections", 2] }],
    nodes: [
      { op: "NonZero", inputs: ["x"], outputs: ["nz"] },
      { op: "Transpose", inputs: ["nz"], outputs: ["boxes"], attributes: { perm: { ints: [1, 0] } } },
    ],
  };
}

function kindOf(i: number, withText: boolean): Kind {
  if (i % 6 !== 0) {
    return withText && i % 3 === 1 ? "goodText" : i % 6 === 5 ? "goodV2" : i % 6 === 3 ? "goodDetections" : "good";
  }
  return HOSTILE[(i / 6) % HOSTILE.length];
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return parsePrometheusText(text).filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
}

/** Sends `head` + `body` on a fresh connection and reads one response (undefined when the server hangs up). */
async function raw(url: string, bytes: Uint8Array, readBack = true): Promise<number | undefined> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(bytes).catch(() => {});
    if (!readBack) return undefined;
    return (await readResponse(conn))?.status;
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** Streams whitespace in 64 KiB chunks (at most 4× the body limit) until the server answers; its status. */
async function endlessChunked(url: string, path: string): Promise<number | undefined> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(
      rawRequest("POST", path, `${hostname}:${port}`, "", {
        "content-type": "application/json",
        "transfer-encoding": "chunked",
      }),
    );
    const answer = readResponse(conn);
    let answered = false;
    answer.finally(() => answered = true).catch(() => {});
    const chunk = new TextEncoder().encode(`10000\r\n${" ".repeat(0x10000)}\r\n`);
    for (let sent = 0; sent < 4 * MAX_BODY && !answered; sent += 0x10000) {
      if (!await conn.write(chunk).then(() => true, () => false)) break;
    }
    return (await answer)?.status;
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

Deno.test("hostile soak: huge lists, lying lengths, endless and deep bodies among good requests; each 4xx, answers exact, server up, memory back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-hostile-soak-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
  await writeModel(`${dir}/any.onnx`, identityModel("float32", ["batch", null]));
  await writeModel(`${dir}/detections.onnx`, detectionsModel());
  const withText = !("skip" in bert);
  if (!("skip" in bert)) await writeRepo(`${dir}/sentiment`, classifierRepo(bert.tokenizer, bert.config));
  const server = running(
    await startServe([
      `${dir}/id.onnx`,
      `${dir}/any.onnx`,
      `${dir}/detections.onnx`,
      ...(withText ? [`${dir}/sentiment`] : []),
      "--provider",
      "cpu",
      "--port",
      "0",
      "--quiet",
      "--workers",
      "1",
      "--max-batch",
      "8",
      "--max-body-mb",
      String(MAX_BODY / 1024 / 1024),
    ], { env }),
  );
  try {
    const url = server.url;
    const { hostname, port } = new URL(url);
    const host = `${hostname}:${port}`;
    // the right answer of each text, asked once, alone, before the soak
    const expected = new Map<string, string>();
    if (withText) {
      for (const t of TEXTS) {
        const r = await fetch(`${url}/models/sentiment/predict`, { method: "POST", body: JSON.stringify({ text: t }) });
        assertEquals(r.status, 200);
        expected.set(t, JSON.stringify((await r.json()).result));
      }
    }
    const counts: Partial<Record<Kind, number>> = {};
    const wrong: string[] = [];
    const expect = (i: number, kind: Kind, got: number | undefined, want: number[], detail = "") => {
      if (got === undefined || !want.includes(got)) wrong.push(`#${i} ${kind}: ${got} (want ${want}) ${detail}`);
    };
    const one = async (i: number) => {
      const kind = kindOf(i, withText);
      counts[kind] = (counts[kind] ?? 0) + 1;
      const idPath = "/models/id/predict";
      switch (kind) {
        case "good": {
          const x = Array.from({ length: 1 + (i % 3) }, (_, r) => [i, r, i + r + 0.5]);
          const r = await fetch(`${url}${idPath}`, { method: "POST", body: JSON.stringify({ x }) });
          const doc = await r.json();
          if (r.status !== 200) wrong.push(`#${i} good: ${r.status} ${JSON.stringify(doc)}`);
          else if (JSON.stringify(doc.outputs.y.data) !== JSON.stringify(x)) {
            wrong.push(`#${i}: got ${JSON.stringify(doc.outputs.y.data)} for ${JSON.stringify(x)}`);
          }
          return;
        }
        case "goodDetections": {
          // one row whose non-zero columns are the bits of i: the answer is exactly those (row 0, column) pairs
          const x = [[0, 1, 2, 3].map((b) => (i >> b) & 1)];
          const want = [0, 1, 2, 3].filter((b) => (i >> b) & 1).map((b) => [0, b]);
          const r = await fetch(`${url}/models/detections/predict`, { method: "POST", body: JSON.stringify({ x }) });
          const doc = await r.json();
          if (r.status !== 200) wrong.push(`#${i} goodDetections: ${r.status} ${JSON.stringify(doc)}`);
          else if (JSON.stringify(doc.outputs.boxes.data) !== JSON.stringify(want)) {
            wrong.push(`#${i}: detections got ${JSON.stringify(doc.outputs.boxes.data)} for ${JSON.stringify(x)}`);
          }
          return;
        }
        case "goodV2": {
          const data = [i, -i, i / 4];
          const r = await fetch(`${url}/v2/models/any/infer`, {
            method: "POST",
            body: JSON.stringify({ id: `r${i}`, inputs: [{ name: "x", shape: [1, 3], datatype: "FP32", data }] }),
          });
          const doc = await r.json();
          if (r.status !== 200) wrong.push(`#${i} goodV2: ${r.status} ${JSON.stringify(doc)}`);
          else if (doc.id !== `r${i}` || JSON.stringify(doc.outputs[0].data) !== JSON.stringify(data)) {
            wrong.push(`#${i}: v2 got ${JSON.stringify(doc)} for ${JSON.stringify(data)}`);
          }
          return;
        }
        case "goodText": {
          const t = TEXTS[i % TEXTS.length];
          const r = await fetch(`${url}/models/sentiment/predict`, {
            method: "POST",
            body: JSON.stringify({ text: t }),
          });
          const doc = await r.json();
          if (r.status !== 200) wrong.push(`#${i} goodText: ${r.status} ${JSON.stringify(doc)}`);
          else if (JSON.stringify(doc.result) !== expected.get(t)) {
            wrong.push(`#${i}: ${JSON.stringify(t)} got ${JSON.stringify(doc.result)}, alone ${expected.get(t)}`);
          }
          return;
        }
        case "hugeList": {
          // 300,000 texts in 1.5 MB (inside the body limit): refused on the count, before any text is touched
          const body = `{"text": [${'"a",'.repeat(299_999)}"a"]}`;
          const path = withText ? "/models/sentiment/predict" : "/models/any/predict";
          const r = await fetch(`${url}${path}`, { method: "POST", body });
          await r.body?.cancel();
          return expect(i, kind, r.status, [413]);
        }
        case "hugeEntries": {
          // 12,000 v2 input entries (0.7 MB) for a one-input model: refused before each is looked up by name
          const inputs = Array.from(
            { length: 12_000 },
            (_, k) => ({ name: `x${k}`, shape: [1], datatype: "FP32", data: [1] }),
          );
          const body = JSON.stringify({ inputs });
          const r = await fetch(`${url}/v2/models/any/infer`, { method: "POST", body });
          return expect(i, kind, r.status, [400], `${body.length} ${await r.text()}`);
        }
        case "declaredTooLarge":
          // claims a gigabyte, sends a few bytes: refused on the header
          return expect(
            i,
            kind,
            await raw(
              url,
              rawRequest("POST", idPath, host, '{"x": [[1, 2, 3]]}', { "content-length": String(1024 ** 3) }),
            ),
            [413],
          );
        case "shorterLength":
          // claims 5 bytes, sends a whole document: the first 5 are not JSON
          return expect(
            i,
            kind,
            await raw(url, rawRequest("POST", idPath, host, '{"x": [[1, 2, 3]]}', { "content-length": "5" })),
            [400],
          );
        case "hangUp":
          // claims 1,000 bytes, sends 12, hangs up: no answer to wait for
          await raw(url, rawRequest("POST", idPath, host, '{"x": [[1, 2', { "content-length": "1000" }), false);
          return;
        case "endlessChunked":
          return expect(i, kind, await endlessChunked(url, idPath), [413]);
        case "deepArrays": {
          const r = await fetch(`${url}/models/any/predict`, {
            method: "POST",
            body: `{"x": ${"[".repeat(500_000)}1${"]".repeat(500_000)}}`,
          });
          await r.body?.cancel();
          return expect(i, kind, r.status, [400]);
        }
        case "deepObjects": {
          const r = await fetch(`${url}/models/any/predict`, {
            method: "POST",
            body: `{"x": ${'{"a":'.repeat(300_000)}1${"}".repeat(300_000)}}`,
          });
          await r.body?.cancel();
          return expect(i, kind, r.status, [400]);
        }
        case "hugeShape": {
          const r = await fetch(`${url}/v2/models/any/infer`, {
            method: "POST",
            body: JSON.stringify({ inputs: [{ name: "x", shape: [0, 1e15], datatype: "FP32", data: [] }] }),
          });
          await r.body?.cancel();
          // 413 (--max-tensor-elements), or 400 where the tensor checks bound shapes first
          return expect(i, kind, r.status, [400, 413]);
        }
        case "malformed": {
          const r = await fetch(`${url}${idPath}`, { method: "POST", body: `{"x": [[${i}, 1,` });
          await r.body?.cancel();
          return expect(i, kind, r.status, [400]);
        }
      }
    };
    const run = async (from: number, to: number) => {
      let next = from;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < to) await one(next++);
      }));
    };
    await run(0, 200); // warm up: the allocator and JIT settle before the baseline
    const rssStart = await metric(url, "gpux_process_resident_memory_bytes");
    await run(200, TOTAL);
    assertEquals(wrong, []);
    for (const kind of HOSTILE) assert((counts[kind] ?? 0) >= 10, `${kind}: ${JSON.stringify(counts)}`);
    const health = await fetch(`${url}/health`);
    assertEquals([health.status, (await health.json()).status], [200, "ok"]);
    assertEquals(await metric(url, "gpux_queue_depth"), 0);
    assertEquals(await metric(url, "gpux_requests_in_flight"), 0);
    assertEquals(await metric(url, "gpux_workers"), withText ? 4 : 3);
    assert((counts.goodDetections ?? 0) >= 100, JSON.stringify(counts));
    assertEquals((await (await fetch(`${url}/info`)).json()).memory.reservedBytes, 0);
    const rssEnd = await metric(url, "gpux_process_resident_memory_bytes");
    assert(
      rssEnd < rssStart * 1.5 + 128 * 1024 * 1024,
      `resident memory grew from ${Math.round(rssStart / 1e6)} MB to ${Math.round(rssEnd / 1e6)} MB`,
    );
    assertEquals(await server.stop("SIGTERM"), 0);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
