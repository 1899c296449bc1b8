/**
 * Large answers leave the HTTP thread free and memory behind them: they are printed by the codec Worker a chunk
 * at a time and streamed (answer_stream.ts), byte for byte what the whole-string printer gives. Over real HTTP
 * (`deno task gpux serve` as a subprocess), a model answering sixteen million floats streams its answer while
 * `/health` keeps answering, the answer is exact, and the server's memory afterwards stays near where it was.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { buildModel, writeModel } from "./support/onnx_builder.ts";
import { running, startServe } from "./support/serve_process.ts";
import { answerChunks, answerPieces } from "../src/serve/answer_stream.ts";
import { runCodec } from "../src/serve/codec_calls.ts";
import { JsonCodec } from "../src/serve/json_codec.ts";
import type { TensorData, TensorMap } from "../src/runtime/tensors.ts";

const FACTS = { path: "/m.onnx", provider: "cpu", fallbacks: [] };

function floats(shape: number[], scale = 0.1): TensorData {
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    dtype: "float32",
    shape,
    data: Float32Array.from({ length: n }, (_, i) => i === 5 ? NaN : i === 6 ? -Infinity : i * scale),
  };
}

/** Outputs of every dtype, small and beyond one block (65,536 values), nested up to four deep, odd names. */
function assortedOutputs(): TensorMap {
  const big = 70_000;
  return {
    sum: floats([2, 5, 7_000]),
    "42": floats([3, 2]),
    wide: floats([1, 1, 200_000], 0.5),
    deep: floats([2, 3, 4, 3_000], 0.25),
    text: { dtype: "string", shape: [2, 2], data: ["a,b", 'c"', "", "x\u0000y"] },
    texts: { dtype: "string", shape: [big], data: Array.from({ length: big }, (_, i) => `s,${i}`) },
    half: { dtype: "float16", shape: [big], data: Uint16Array.from({ length: big }, (_, i) => 0x3555 + (i % 7)) },
    half_small: { dtype: "float16", shape: [2], data: Uint16Array.of(0x3555, 0x7c00) },
    ids: {
      dtype: "int64",
      shape: [350, 200],
      data: BigInt64Array.from({ length: big }, (_, i) => BigInt(i) * 10_000_000_000_000n - 5n),
    },
    flags: { dtype: "bool", shape: [big, 1], data: Uint8Array.from({ length: big }, (_, i) => i % 3 ? 1 : 0) },
    doubles: { dtype: "float64", shape: [big], data: Float64Array.from({ length: big }, (_, i) => i / 3) },
    bytes: { dtype: "uint8", shape: [big], data: Uint8Array.from({ length: big }, (_, i) => i % 256) },
    empty: { dtype: "float32", shape: [2, 0, 3], data: new Float32Array(0) },
    scalar: { dtype: "float64", shape: [], data: Float64Array.of(Infinity) },
  };
}

Deno.test("answer stream: the pieces of a /predict and a v2 answer join to exactly what the whole-string printer gives, for every dtype and shape", () => {
  const outputs = assortedOutputs();
  const order = Object.keys(outputs).reverse();
  const predict = { name: "m", spec: "m.onnx", facts: FACTS, outputs, order, timings: { runMs: 1.5 } };
  const pieces = [...answerPieces({ op: "encodePredict", answer: predict })];
  assert(pieces.length > 10, "a large answer comes in many pieces");
  assertEquals(pieces.join(""), runCodec({ op: "encodePredict", answer: predict }));
  for (const request of [{ id: "7" }, { id: "8", outputs: ["wide", "text", "42"] }]) {
    const infer = { name: "m", outputs, order, request, version: "abc" };
    assertEquals(
      [...answerPieces({ op: "encodeInfer", answer: infer })].join(""),
      runCodec({ op: "encodeInfer", answer: infer }),
    );
  }
  const chunks = [...answerChunks({ op: "encodePredict", answer: predict }, 64 * 1024)];
  assert(chunks.length > 10);
  assert(chunks.slice(0, -1).every((c) => c.byteLength >= 64 * 1024));
  const joined = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    joined.set(c, at);
    at += c.byteLength;
  }
  assertEquals(new TextDecoder().decode(joined), runCodec({ op: "encodePredict", answer: predict }));
});

Deno.test("json codec: a streamed answer comes from the Worker chunk by chunk, and cancelling it ends it there", async () => {
  const codec = new JsonCodec();
  try {
    const answer = () => ({
      name: "m",
      spec: "m.onnx",
      facts: FACTS,
      outputs: { y: floats([4, 1_000_000], 0.5) },
      order: ["y"],
      timings: { runMs: 1 },
    });
    const expected = runCodec({ op: "encodePredict", answer: answer() }) as string;
    const stream = codec.stream({ op: "encodePredict", answer: answer() });
    assertEquals(codec.pending, 1);
    let reads = 0;
    const text = await new Response(stream.pipeThrough(
      new TransformStream({
        transform(chunk, controller) {
          reads++;
          controller.enqueue(chunk);
        },
      }),
    )).text();
    assert(reads > 4, `${reads} chunks`);
    assertEquals(text, expected);
    assertEquals(codec.pending, 0);
    const cancelled = codec.stream({ op: "encodePredict", answer: answer() });
    const reader = cancelled.getReader();
    assert(!(await reader.read()).done);
    await reader.cancel();
    assertEquals(codec.pending, 0);
  } finally {
    codec.close();
  }
});

/**
 * `x` f32[batch, 1], `n` int64 scalar → `y` = x · [0, 1, …, n-1] f32[batch, n]: a tiny request, an answer of
 * any size.
 */
function rampModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: "x", dtype: "float32", shape: ["batch", 1] }, { name: "n", dtype: "int64", shape: [] }],
    outputs: [{ name: "y", dtype: "float32", shape: ["batch", "n"] }],
    initializers: [
      { name: "zero", dtype: "float32", dims: [], data: new Uint8Array(Float32Array.of(0).buffer) },
      { name: "one", dtype: "float32", dims: [], data: new Uint8Array(Float32Array.of(1).buffer) },
    ],
    nodes: [
      { op: "Cast", inputs: ["n"], outputs: ["nf"], attributes: { to: { int: 1 } } },
      { op: "Range", inputs: ["zero", "nf", "one"], outputs: ["ramp"] },
      { op: "Mul", inputs: ["x", "ramp"], outputs: ["y"] },
    ],
  });
}

const BIG = 16_000_000;

async function rss(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(text.match(/^gpux_process_resident_memory_bytes(?:\{\})? (\S+)$/m)![1]);
}

Deno.test("gpux serve: an answer of sixteen million floats is streamed exactly while /health answers, and memory returns near where it was", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-large-answer-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  const server = running(
    await startServe([
      `ramp=${await writeModel(`${dir}/ramp.onnx`, rampModel())}`,
      "--provider",
      "cpu",
      "--workers",
      "1",
      "--max-batch",
      "1",
      "--port",
      "0",
    ], { env }),
  );
  try {
    const predict = (n: number, x = 0.5) =>
      fetch(`${server.url}/predict`, { method: "POST", body: JSON.stringify({ x: [[x]], n }) });
    // a small answer first: the server is warm and its memory settled
    assertEquals((await (await predict(10)).json()).outputs.y.data, [[0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5]]);
    const before = await rss(server.url);

    const response = await predict(BIG);
    assertEquals(response.status, 200);
    assertEquals(response.headers.get("content-length"), null, "a large answer is streamed, not sent as one string");
    const chunks: Uint8Array[] = [];
    let first = false, last = false, healthBetween = 0, healthMaxMs = 0;
    const health = (async () => {
      while (!last) {
        const started = performance.now();
        const r = await fetch(`${server.url}/health`);
        assertEquals(r.status, 200);
        await r.body?.cancel();
        healthMaxMs = Math.max(healthMaxMs, performance.now() - started);
        if (first && !last) healthBetween++;
      }
    })();
    for await (const chunk of response.body!) {
      chunks.push(chunk);
      first = true;
    }
    last = true;
    await health;
    assert(healthBetween >= 1, "/health answered while the big answer was streaming");

    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of chunks.splice(0)) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    const text = new TextDecoder().decode(bytes);
    const doc = JSON.parse(text);
    assertEquals(doc.outputs.y.shape, [1, BIG]);
    const row = doc.outputs.y.data[0] as number[];
    assertEquals(row.length, BIG);
    let wrong = 0;
    for (let i = 0; i < BIG; i++) if (row[i] !== Math.fround(i * 0.5)) wrong++;
    assertEquals(wrong, 0);
    // byte-correct: exactly the canonical JSON the whole-string printer writes for the same document
    assert(JSON.stringify(doc) === text, "the streamed text is the printer's text");

    // the v2 answer streams too: flat data
    const v2 = await fetch(`${server.url}/v2/models/ramp/infer`, {
      method: "POST",
      body: JSON.stringify({
        id: "big",
        inputs: [
          { name: "x", shape: [1, 1], datatype: "FP32", data: [0.25] },
          { name: "n", shape: [], datatype: "INT64", data: [100_000] },
        ],
      }),
    });
    assertEquals(v2.headers.get("content-length"), null);
    const v2doc = await v2.json();
    assertEquals([v2doc.id, v2doc.outputs[0].shape], ["big", [1, 100_000]]);
    assertEquals(v2doc.outputs[0].data[99_999], Math.fround(99_999 * 0.25));

    // memory: a few more big answers, read and dropped
    for (let k = 0; k < 3; k++) {
      const r = await predict(BIG, k + 1);
      let size = 0;
      for await (const c of r.body!) size += c.byteLength;
      assert(size > BIG * 2);
    }
    // workers' heaps give their pages back once idle (V8's memory reducer, seconds later): poll, bounded
    const settled = await rss(server.url);
    let after = settled;
    // generous (onnxruntime's arena keeps the largest run's tensors, Workers their heaps), but far below what
    // printing whole strings left behind (1.1 GiB above the start after these four answers, measured)
    const bound = before + bytes.byteLength * 4;
    for (let i = 0; i < 20 && after > bound; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      after = await rss(server.url);
    }
    const mb = (n: number) => Math.round(n / 2 ** 20);
    console.log(
      `rss before ${mb(before)} MiB; after 4 answers of ${BIG} floats (${mb(bytes.byteLength)} MiB of JSON each) ${
        mb(settled)
      } MiB, ${mb(after)} MiB once idle; /health slowest ${
        Math.round(healthMaxMs)
      } ms while streaming (${healthBetween} answered)`,
    );
    assert(after <= bound, `rss stayed ${mb(after - before)} MiB above where it was`);
  } finally {
    assertEquals(await server.stop("SIGTERM"), 0, server.stderr());
    await Deno.remove(dir, { recursive: true });
  }
});
