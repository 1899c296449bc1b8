/**
 * The server's parts on their own: batching (stack and split), metrics (rendered and parsed back),
 * served names and settings, KServe conversion, and the model pool with real Workers — batches split
 * back exactly, a model whose outputs do not follow dimension 0, and a worker that crashes.
 */
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "./support/assert.ts";
import { buildModel, identityModel, writeModel } from "./support/onnx_builder.ts";
import { batchingProof, batchKey, confirmBatching, rowsOf, splitOutputs, stackFeeds } from "../src/serve/batching.ts";
import { Counter, Histogram, parsePrometheusText, ServerMetrics } from "../src/serve/metrics.ts";
import { checkUniqueNames, parseModelArg, servedName, servingSettings } from "../src/serve/served_model.ts";
import { parseInferRequest } from "../src/serve/kserve.ts";
import { rawInputOf } from "../src/serve/raw_input.ts";
import { runCodec } from "../src/serve/codec_calls.ts";
import { JsonCodec } from "../src/serve/json_codec.ts";
import { ModelPool, type PoolEvent } from "../src/serve/model_pool.ts";
import { loadServedModels, planServedModels } from "../src/serve/load_models.ts";
import { startServer } from "../src/serve/server.ts";
import { WorkerCrashedError } from "../src/serve/serve_errors.ts";
import { InputError } from "../src/errors.ts";
import type { TensorInfo, TensorMap } from "../src/runtime/tensors.ts";
import { parseGpuxConfig } from "../src/config/gpux_config.ts";
import type { ResolvedModel } from "../src/runtime/model_source.ts";

const f32 = (shape: number[], values: number[]) => ({
  dtype: "float32" as const,
  shape,
  data: Float32Array.from(values),
});

Deno.test("batching: proven only when every input and output starts with the same named batch symbol, else the reason", () => {
  const t = (shape: TensorInfo["shape"], name = "t"): TensorInfo => ({ name, dtype: "float32", shape });
  const why = (inputs: TensorInfo[], outputs: TensorInfo[]) => {
    const v = batchingProof(inputs, outputs);
    return v.ok ? "ok" : v.reason;
  };
  assertEquals(why([t(["batch", 3], "x"), t(["batch", "seq"], "m")], [t(["batch", 2]), t(["batch"])]), "ok");
  assertEquals(
    why([t(["batch", 3], "x")], [t([null, 2], "y")]),
    'output "y" first dim is unnamed, not the batch "batch"',
  );
  assertEquals(
    why([t([null, 3], "x")], [t([null, 2])]),
    'input "x" first dim is unnamed, so it cannot be proven to be the batch',
  );
  assertEquals(
    why([t([1, 3], "x")], [t([1, 2])]),
    'input "x" first dim is fixed at 1, so it cannot be proven to be the batch',
  );
  assertEquals(
    why([t(["batch", 3], "x"), t([], "n")], [t(["batch"])]),
    'input "n" first dim is missing (a scalar), so it cannot be proven to be the batch',
  );
  assertEquals(
    why([t(["batch", 3], "x")], [t([2, 3], "y")]),
    'output "y" first dim is fixed at 2, not the batch "batch"',
  );
  assertEquals(
    why([t(["batch", 4], "x")], [t(["num_detections", 2], "boxes")]),
    'output "boxes" first dim is "num_detections", not the batch "batch"',
  );
  assertEquals(why([t(["b", 3], "x"), t(["n", 3], "m")], [t(["b"])]), 'input "m" first dim is "n", not the batch "b"');
  assertEquals(
    why([t(["batch", 3], "x")], [t(["batch", "batch"], "gram")]),
    'output "gram" uses the batch "batch" beyond its first dim',
  );
  assertMatch(
    why([t([2, null, 128], "state")], [t([null, 1])]),
    /"state" first dim is fixed at 2/,
    "Silero VAD's state",
  );
  assertEquals(why([], [t(["batch"])]), "the model has no inputs");
});

Deno.test("batching: the warm-up check runs two different requests alone and stacked both ways, and refuses any mixing", async () => {
  const inputs: TensorInfo[] = [{ name: "x", dtype: "float32", shape: ["batch", 2] }];
  const one: TensorMap = { x: f32([1, 2], [1, 2]) };
  const rowwise = (feeds: TensorMap) => {
    const x = feeds.x.data as Float32Array;
    return Promise.resolve({ y: f32(feeds.x.shape, Array.from(x, (v) => v * 2)) });
  };
  assertEquals(await confirmBatching(one, inputs, rowwise), { ok: true });
  // rows that depend on the whole batch (normalisation over dimension 0)
  const centred = (feeds: TensorMap) => {
    const x = Array.from(feeds.x.data as Float32Array);
    const n = feeds.x.shape[0];
    const mean = [0, 1].map((c) => x.filter((_, i) => i % 2 === c).reduce((a, b) => a + b, 0) / n);
    return Promise.resolve({ y: f32(feeds.x.shape, x.map((v, i) => v - mean[i % 2])) });
  };
  const coupled = await confirmBatching(one, inputs, centred);
  assert(!coupled.ok);
  assertMatch(coupled.reason, /output "y" of requests run together differs from their runs alone/);
  // sorted by value: right in one order, wrong in the other
  const sorted = (feeds: TensorMap) => {
    const x = Array.from(feeds.x.data as Float32Array);
    const rows = Array.from({ length: feeds.x.shape[0] }, (_, r) => x.slice(r * 2, r * 2 + 2)).sort((a, b) =>
      a[0] - b[0]
    );
    return Promise.resolve({ y: f32(feeds.x.shape, rows.flat()) });
  };
  assert(!(await confirmBatching(one, inputs, sorted)).ok);
  // a fixed number of rows whatever the batch
  const fixed = () => Promise.resolve({ y: f32([2, 2], [0, 0, 0, 0]) });
  assertEquals(await confirmBatching(one, inputs, fixed), {
    ok: false,
    reason: 'the warm-up check failed: output "y" has 2 rows for a request of 1 row',
  });
  // float noise within tolerance is not mixing; integers are compared exactly
  const noisy = async (feeds: TensorMap) => {
    const out = await rowwise(feeds);
    if (feeds.x.shape[0] === 2) (out.y.data as Float32Array)[0] *= 1 + 1e-7;
    return out;
  };
  assertEquals(await confirmBatching(one, inputs, noisy), { ok: true });
});

Deno.test("batching: requests stack along dimension 0 and split back to exactly their rows, for every dtype", () => {
  const inputs: TensorInfo[] = [
    { name: "a", dtype: "float32", shape: ["batch", 2] },
    { name: "ids", dtype: "int64", shape: ["batch", null] },
    { name: "s", dtype: "string", shape: ["batch"] },
  ];
  const r1: TensorMap = {
    a: f32([1, 2], [1, 2]),
    ids: { dtype: "int64", shape: [1, 3], data: BigInt64Array.of(1n, 2n, 3n) },
    s: { dtype: "string", shape: [1], data: ["x"] },
  };
  const r2: TensorMap = {
    a: f32([2, 2], [3, 4, 5, 6]),
    ids: { dtype: "int64", shape: [2, 3], data: BigInt64Array.of(4n, 5n, 6n, 7n, 8n, 9n) },
    s: { dtype: "string", shape: [2], data: ["y", "z"] },
  };
  assertEquals([rowsOf(r1, inputs), rowsOf(r2, inputs)], [1, 2]);
  assertEquals(batchKey(r1, inputs), batchKey(r2, inputs));
  const longer = { ...r1, ids: { dtype: "int64" as const, shape: [1, 4], data: BigInt64Array.of(1n, 2n, 3n, 4n) } };
  assert(batchKey(longer, inputs) !== batchKey(r1, inputs), "different trailing shapes never share a run");
  assertEquals(rowsOf({ ...r1, a: f32([2, 2], [1, 2, 3, 4]) }, inputs), undefined, "inputs disagree on the rows");
  const stacked = stackFeeds([r1, r2], inputs);
  assertEquals(stacked.a.shape, [3, 2]);
  assertEquals(Array.from(stacked.a.data as Float32Array), [1, 2, 3, 4, 5, 6]);
  assertEquals(stacked.ids.data, BigInt64Array.of(1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n));
  assertEquals(stacked.s.data, ["x", "y", "z"]);
  const parts = splitOutputs(stacked, [1, 2])!;
  assertEquals(parts, [r1, r2]);
  assertEquals(splitOutputs({ y: f32([1, 2], [0, 0]) }, [1, 2]), undefined, "outputs that do not follow dimension 0");
});

Deno.test("metrics: counters, gauges and histograms render as Prometheus text that parses back", () => {
  const c = new Counter("gpux_test_total", "help");
  c.inc({ model: 'we"ird\\na\nme', status: "200" });
  c.inc({ model: 'we"ird\\na\nme', status: "200" }, 2);
  const h = new Histogram("gpux_test_seconds", "help", [0.1, 1]);
  h.observe({ model: "m" }, 0.05);
  h.observe({ model: "m" }, 0.5);
  h.observe({ model: "m" }, 5);
  const samples = parsePrometheusText(`${c.render()}\n${h.render()}\n`);
  assertEquals(samples[0], { name: "gpux_test_total", labels: { model: 'we"ird\\na\nme', status: "200" }, value: 3 });
  const buckets = samples.filter((s) => s.name === "gpux_test_seconds_bucket").map((s) => [s.labels.le, s.value]);
  assertEquals(buckets, [["0.1", 1], ["1", 2], ["+Inf", 3]]);
  assertEquals(samples.find((s) => s.name === "gpux_test_seconds_count")?.value, 3);
  assertEquals(samples.find((s) => s.name === "gpux_test_seconds_sum")?.value, 5.55);
  const all = new ServerMetrics();
  all.addModel({ name: "m", provider: "cpu", variant: "", queued: () => 2, workers: () => 1, inFlight: () => 3 });
  const text = all.render();
  assertMatch(text, /^# HELP gpux_requests_total /m);
  const parsed = parsePrometheusText(text);
  const value = (name: string) => parsed.find((s) => s.name === name)!;
  assertEquals(value("gpux_queue_depth").value, 2);
  assertEquals(value("gpux_model_loaded").labels, { model: "m", provider: "cpu", variant: "" });
  assert(value("gpux_process_resident_memory_bytes").value > 1e6);
  assertThrows(() => parsePrometheusText("not a sample"), SyntaxError);
});

Deno.test("served names: NAME=MODEL, gpux.yml name, Hub repository name, file stem; duplicates are usage errors", () => {
  assertEquals(parseModelArg("sent=acme/model"), { name: "sent", spec: "acme/model" });
  assertEquals(parseModelArg("acme/model"), { spec: "acme/model" });
  assertEquals(parseModelArg("./dir=odd/model.onnx"), { spec: "./dir=odd/model.onnx" });
  assertThrows(() => parseModelArg("=x.onnx"), InputError);
  assertThrows(() => parseModelArg("bad name=x.onnx"), InputError, "use letters");
  const file: ResolvedModel = { path: "/m/resnet-50.onnx", kind: "file" };
  assertEquals(servedName({ spec: "/m/resnet-50.onnx" }, file), "resnet-50");
  assertEquals(servedName({ name: "r", spec: "/m/resnet-50.onnx" }, file), "r");
  const hub: ResolvedModel = { path: "/c/x/onnx/model.onnx", kind: "hub", repoId: "acme-ai/sentiment-tiny" };
  assertEquals(servedName({ spec: "acme-ai/sentiment-tiny" }, hub), "sentiment-tiny");
  const config = parseGpuxConfig("name: tiny\nmodel:\n  source: ./m.onnx\n");
  assertEquals(servedName({ spec: "./dir" }, { path: "/d/m.onnx", kind: "directory", config }), "tiny");
  assertEquals(servedName({ spec: "./dir/" }, { path: "/d/m.onnx", kind: "directory" }), "dir");
  checkUniqueNames([{ name: "a", spec: "x" }, { name: "b", spec: "y" }]);
  const e = assertThrows(() => checkUniqueNames([{ name: "a", spec: "x" }, { name: "a", spec: "y" }]), InputError);
  assertEquals(e.exitCode, 2);
});

Deno.test("serving settings: flags over gpux.yml serving: over runtime.timeout over defaults", () => {
  const config = parseGpuxConfig(
    "name: m\nmodel:\n  source: m.onnx\nruntime:\n  timeout: 9\nserving:\n  batch_size: 4\n  batch_delay_ms: 3\n  max_queue: 5\n  max_workers: 2\n  max_body_mb: 1.5\n  cors: '*'\n",
  );
  assertEquals(config.serving, {
    batchSize: 4,
    batchDelayMs: 3,
    maxWorkers: 2,
    maxQueue: 5,
    maxBodyMb: 1.5,
    cors: "*",
  });
  const model: ResolvedModel = { path: "m.onnx", kind: "directory", config };
  assertEquals(servingSettings({}, model), { workers: 2, maxBatch: 4, batchDelayMs: 3, maxQueue: 5, timeoutMs: 9000 });
  assertEquals(servingSettings({ maxBatch: 1, timeoutMs: 0, workers: 1 }, model).maxBatch, 1);
  assertEquals(servingSettings({ timeoutMs: 0 }, model).timeoutMs, 0);
  assertEquals(servingSettings({}, { path: "m.onnx", kind: "file" }), {
    maxBatch: 32,
    batchDelayMs: 0,
    maxQueue: 256,
    timeoutMs: 30000,
  });
  assertThrows(
    () => parseGpuxConfig("name: m\nmodel:\n  source: m.onnx\nserving:\n  max_queue: 0\n"),
    InputError,
    "serving.max_queue: expected a whole number from 1 to 1000000",
  );
});

Deno.test("kserve: a request becomes checked feeds; flat or nested data; errors as gpux run words them", () => {
  const inputs: TensorInfo[] = [{ name: "x", dtype: "float16", shape: ["batch", 2] }];
  const outputs: TensorInfo[] = [{ name: "y", dtype: "float16", shape: ["batch", 2] }];
  const flat = parseInferRequest(
    { id: 7, inputs: [{ name: "x", shape: [1, 2], datatype: "FP16", data: [0.5, 1] }] },
    inputs,
    outputs,
  );
  const nested = parseInferRequest(
    { inputs: [{ name: "x", shape: [1, 2], datatype: "FP16", data: [[0.5, 1]] }] },
    inputs,
    outputs,
  );
  assertEquals(flat.id, "7");
  assertEquals(flat.feeds, nested.feeds);
  assertEquals(flat.feeds.x.data, Uint16Array.of(0x3800, 0x3c00));
  assertThrows(
    () =>
      parseInferRequest({ inputs: [{ name: "x", shape: [1, 2], datatype: "FP32", data: [1, 2] }] }, inputs, outputs),
    InputError,
    'input "x": expected dtype float16, received float32',
  );
  assertThrows(
    () =>
      parseInferRequest({ inputs: [{ name: "x", shape: [1, 2], datatype: "FP99", data: [1, 2] }] }, inputs, outputs),
    InputError,
    "unknown datatype",
  );
});

async function tempModels(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "gpux-pool-" });
  await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
  // declared as following the batch, but keeps only the rows whose first value is above -1 (Compress): the
  // warm-up's values all are, a request's may not be
  await writeModel(
    `${dir}/keep.onnx`,
    buildModel({
      inputs: [{ name: "x", dtype: "float32", shape: ["batch", 3] }],
      outputs: [{ name: "y", dtype: "float32", shape: ["batch", 3] }],
      nodes: [
        { op: "Gather", inputs: ["x", "zero"], outputs: ["first"], attributes: { axis: { int: 1 } } },
        { op: "Greater", inputs: ["first", "low"], outputs: ["keep"] },
        { op: "Compress", inputs: ["x", "keep"], outputs: ["y"], attributes: { axis: { int: 0 } } },
      ],
      initializers: [
        { name: "zero", dtype: "int64", dims: [], data: new Uint8Array(BigInt64Array.of(0n).buffer) },
        { name: "low", dtype: "float32", dims: [], data: new Uint8Array(Float32Array.of(-1).buffer) },
      ],
    }),
  );
  return dir;
}

Deno.test("model pool: concurrent requests are batched into one run and each gets its own rows back", async () => {
  const dir = await tempModels();
  const metrics = new ServerMetrics();
  const pool = await ModelPool.start({
    name: "id",
    path: `${dir}/id.onnx`,
    session: { provider: "cpu" },
    workers: 1,
    maxBatch: 6,
    batchDelayMs: 60000, // dispatched when full, so the test does not depend on timing
    metrics,
  });
  try {
    assert(pool.batching);
    const requests = [1, 2, 3].map((rows, i) => f32([rows, 3], Array.from({ length: rows * 3 }, (_, k) => i * 10 + k)));
    const results = await Promise.all(requests.map((x) => pool.infer({ x })));
    results.forEach((r, i) => {
      assertEquals(r.batch, 3);
      assertEquals(r.outputs.y.shape, requests[i].shape);
      assertEquals(Array.from(r.outputs.y.data as Float32Array), Array.from(requests[i].data));
    });
    const samples = parsePrometheusText(metrics.render());
    assertEquals(samples.find((s) => s.name === "gpux_inferences_total")?.value, 1);
    await assertRejects(() => pool.infer({ x: f32([1, 2], [1, 2]) }), InputError, "dimension 1 must be 3");
  } finally {
    await pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model pool: a batched run whose outputs lose the row count is never split: its requests run alone, batching turns off with the reason", async () => {
  const dir = await tempModels();
  const pool = await ModelPool.start({
    name: "keep",
    path: `${dir}/keep.onnx`,
    session: { provider: "cpu" },
    workers: 1,
    maxBatch: 2,
    batchDelayMs: 60000,
  });
  try {
    assert(pool.batching, pool.batchingOff); // warm-up values all pass the filter
    const [a, b] = await Promise.all([
      pool.infer({ x: f32([1, 3], [1, 2, 3]) }),
      pool.infer({ x: f32([1, 3], [-5, 20, 30]) }),
    ]);
    assertEquals([a.outputs.y.shape, Array.from(a.outputs.y.data as Float32Array)], [[1, 3], [1, 2, 3]]);
    assertEquals([b.outputs.y.shape, Array.from(b.outputs.y.data as Float32Array)], [[0, 3], []]);
    assertEquals([a.batch, b.batch], [1, 1]);
    assert(!pool.batching);
    assertEquals(pool.batchingOff, 'a batched run\'s output "y" had 1 rows for 2 rows of requests');
  } finally {
    await pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a crashed worker is replaced: its request answers 500, the server stays up and serves the next one", async () => {
  const dir = await tempModels();
  const events: PoolEvent[] = [];
  let replaced!: () => void;
  const replacedOnce = new Promise<void>((r) => replaced = r);
  const metrics = new ServerMetrics();
  const planned = await planServedModels([`${dir}/id.onnx`]);
  const models = await loadServedModels(planned, {
    session: { provider: "cpu" },
    workers: 1,
    metrics,
    workerUrl: new URL("./support/crashing_worker.ts", import.meta.url),
    onEvent: (e) => {
      events.push(e);
      if (e.type === "worker_replaced") replaced();
    },
  });
  const server = await startServer({ models, port: 0, metrics });
  try {
    const post = (x: number[][]) =>
      fetch(`${server.url}/predict`, { method: "POST", body: JSON.stringify({ x }) }).then(async (r) => ({
        status: r.status,
        body: await r.json(),
      }));
    const crashed = await post([[-999, 0, 0]]);
    assertEquals(crashed.status, 500);
    assertMatch(crashed.body.error, /the worker running model "id" crashed: .*injected crash/);
    await replacedOnce;
    assertEquals(models[0].pool.workers, 1, "one worker, the replacement: none leaked");
    const ok = await post([[1, 2, 3]]);
    assertEquals([ok.status, ok.body.outputs.y.data], [200, [[1, 2, 3]]]);
    assertEquals(events.map((e) => e.type), ["worker_crashed", "worker_replaced"]);
    const samples = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
    assertEquals(samples.find((s) => s.name === "gpux_worker_restarts_total")?.value, 1);
    assertEquals(
      samples.find((s) => s.name === "gpux_requests_total" && s.labels.status === "500")?.labels,
      { model: "id", endpoint: "predict", status: "500" },
    );
    await assertRejects(() => models[0].pool.infer({ x: f32([1, 3], [-999, 0, 0]) }), WorkerCrashedError);
  } finally {
    await server.shutdown(1000);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("raw input: {text}, {image: base64}, {audio: [base64…]} with options; a model input named text stays a tensor", () => {
  const inputs: TensorInfo[] = [{ name: "input_ids", dtype: "int64", shape: ["batch", null] }];
  assertEquals(rawInputOf({ text: "hi", top_k: 2 }, inputs), {
    input: { kind: "text", texts: ["hi"] },
    options: { topK: 2 },
  });
  assertEquals(
    rawInputOf({ text: ["a", "b"], candidate_labels: ["x", "y"], multi_label: true }, inputs),
    { input: { kind: "text", texts: ["a", "b"], candidateLabels: ["x", "y"] }, options: { multiLabel: true } },
  );
  const png = rawInputOf({ image: "data:image/png;base64,iVBORw0KGgo=" }, inputs)!;
  assertEquals(png.input, {
    kind: "image",
    images: [{ name: "image[0]", bytes: Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10) }],
  });
  const wav = rawInputOf({ audio: ["UklGRg==", "UklGRg=="] }, inputs)!;
  assertEquals(wav.input.kind === "audio" && wav.input.clips.length, 2);
  assertEquals(rawInputOf({ input_ids: [[1, 2]] }, inputs), undefined);
  assertEquals(rawInputOf({ text: [[1, 2]] }, [{ name: "text", dtype: "int64", shape: ["batch", null] }]), undefined);
  assertThrows(() => rawInputOf({ text: 3 }, inputs), InputError, "must be a string");
  assertThrows(() => rawInputOf({ image: "%%%" }, inputs), InputError, "not valid base64");
  assertThrows(() => rawInputOf({ text: "a", image: "AA==" }, inputs), InputError, "not several");
  assertThrows(() => rawInputOf({ text: "a", topk: 1 }, inputs), InputError, 'unknown key "topk"');
});

Deno.test("json codec: the Worker decodes and encodes exactly as inline, and reports bad bodies as the same errors", async () => {
  const inputs: TensorInfo[] = [{ name: "x", dtype: "float32", shape: ["batch", 3] }];
  const x = Array.from({ length: 2000 }, (_, r) => [r, r + 0.5, -r - 1]);
  const text = JSON.stringify({ x });
  const codec = new JsonCodec();
  try {
    const inWorker = await codec.run({ op: "decodePredict", text, inputs });
    assertEquals(inWorker, runCodec({ op: "decodePredict", text, inputs }));
    const answer = {
      name: "m",
      spec: "m.onnx",
      facts: { path: "/m.onnx", provider: "cpu", fallbacks: [] },
      outputs: { y: f32([2000, 3], x.flat()) },
      order: ["y"],
      timings: { runMs: 1 },
    };
    const printed = await codec.run<string>({ op: "encodePredict", answer });
    assertEquals(printed, runCodec({ op: "encodePredict", answer }));
    assertEquals(JSON.parse(printed).outputs.y.data, x);
    await assertRejects(() => codec.run({ op: "decodePredict", text: "{oops", inputs }), Error, "not valid JSON");
    await assertRejects(
      () => codec.run({ op: "decodePredict", text: JSON.stringify({ x: [[1, 2]] }), inputs }),
      InputError,
      "dimension 1 must be 3",
    );
  } finally {
    codec.close();
  }
});
