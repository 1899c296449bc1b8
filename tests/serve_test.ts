/**
 * `gpux serve` over real HTTP: a `deno task gpux serve` subprocess (the task's permission sandbox) on a
 * free port, driven with fetch. Endpoints, KServe v2, errors and their statuses, the API key, batching,
 * limits, /health while every worker is busy, and a graceful stop.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { fixedShapeModel, identityModel, multiIoModel, writeModel } from "./support/onnx_builder.ts";
import { allDtypesModel, busyModel } from "./support/serve_models.ts";
import { running, type ServeProcess, startServe } from "./support/serve_process.ts";
import { CacheFixture, commitSha } from "./support/hf_cache.ts";
import { parsePrometheusText, type Sample } from "../src/serve/metrics.ts";

interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

async function call(url: string, init: RequestInit & { json?: unknown } = {}): Promise<Reply> {
  const { json, ...rest } = init;
  const response = await fetch(url, {
    ...rest,
    ...(json !== undefined ? { method: rest.method ?? "POST", body: JSON.stringify(json) } : {}),
  });
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON (metrics) */ }
  return { status: response.status, headers: response.headers, body, text };
}

function samples(text: string, name: string, labels: Record<string, string> = {}): Sample[] {
  return parsePrometheusText(text).filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
}

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  return samples(text, name, labels).reduce((n, s) => n + s.value, 0);
}

/** A temp dir with models, HF_HUB_CACHE inside it, removed afterwards. */
async function withDir(fn: (dir: string, env: Record<string, string>) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gpux-serve-" });
  try {
    await fn(dir, { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function serve(args: string[], env: Record<string, string>): Promise<ServeProcess> {
  return running(await startServe([...args, "--port", "0"], { env }));
}

async function stopped(server: ServeProcess): Promise<void> {
  const code = await server.stop("SIGTERM");
  assertEquals(code, 0, server.stderr());
}

const MULTI_INPUT = { "x.1": [[1, 2, 3, 4]], "onnx::Flatten_0": [[1, 1, 1, 1]] };

Deno.test("gpux serve: ready line with address, models and providers; /health, /info and the v2 metadata endpoints", async () => {
  await withDir(async (dir, env) => {
    await writeModel(`${dir}/multi.onnx`, multiIoModel());
    await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
    const server = await serve([`${dir}/multi.onnx`, `ident=${dir}/id.onnx`, "--provider", "cpu"], env);
    try {
      // multi's second input has an unnamed first dim: nothing proves it is the batch, so no batching
      const multiOff = 'input "onnx::Flatten_0" first dim is unnamed, so it cannot be proven to be the batch';
      assertStringIncludes(
        server.ready,
        ` · multi (cpu, 1 worker, batching: off (${multiOff})) · ident (cpu, 1 worker, batching)`,
      );
      assertMatch(server.ready, /ready on http:\/\/127\.0\.0\.1:\d+ · multi \(cpu/);
      assertEquals((await call(`${server.url}/health`)).body, { status: "ok", models: ["multi", "ident"] });
      const info = (await call(`${server.url}/info`)).body as { models: Record<string, unknown>[] };
      assertEquals(info.models.map((m) => [m.name, m.provider, m.batching, m.batchingReason]), [
        ["multi", "cpu", false, multiOff],
        ["ident", "cpu", true, undefined],
      ]);
      assertEquals(info.models[1].inputs, [{ name: "x", dtype: "float32", shape: ["batch", 3] }]);
      assertEquals((await call(`${server.url}/v2`)).body, { name: "gpux", version: "0.1.0", extensions: [] });
      assertEquals((await call(`${server.url}/v2/health/live`)).status, 200);
      assertEquals((await call(`${server.url}/v2/health/ready`)).status, 200);
      assertEquals((await call(`${server.url}/v2/models/ident/ready`)).body, { name: "ident", ready: true });
      const meta = (await call(`${server.url}/v2/models/ident`)).body as Record<string, unknown>;
      assertEquals(meta.inputs, [{ name: "x", datatype: "FP32", shape: [-1, 3] }]);
      assertEquals(meta.platform, "onnxruntime_onnx");
      const versioned = await call(`${server.url}/v2/models/ident/versions/1/infer`, {
        json: { inputs: [{ name: "x", shape: [1, 3], datatype: "FP32", data: [1, 2, 3] }] },
      });
      assertEquals((versioned.body as { outputs: { data: number[] }[] }).outputs[0].data, [1, 2, 3]);
      const head = await call(`${server.url}/health`, { method: "HEAD" });
      assertEquals([head.status, head.text], [200, ""]);
    } finally {
      await stopped(server);
    }
  });
});

Deno.test("gpux serve: /predict answers what gpux run --json prints; errors are 400 with run's message, 404, 405, 413", async () => {
  await withDir(async (dir, env) => {
    await writeModel(`${dir}/multi.onnx`, multiIoModel());
    const server = await serve([`${dir}/multi.onnx`, "--provider", "cpu", "--max-body-mb", "0.001"], env);
    try {
      const run = await runCli([
        "run",
        `${dir}/multi.onnx`,
        "--provider",
        "cpu",
        "--json",
        "--input",
        JSON.stringify(MULTI_INPUT),
      ], {
        env,
      });
      assertEquals(run.code, 0, run.stderr);
      const expected = JSON.parse(run.stdout);
      for (const path of ["/predict", "/models/multi/predict"]) {
        const r = await call(`${server.url}${path}`, { json: MULTI_INPUT });
        assertEquals(r.status, 200, r.text);
        const doc = r.body as Record<string, unknown>;
        assertEquals(doc.outputs, expected.outputs);
        assertEquals(doc.model, expected.model);
        assertEquals(doc.provider, expected.provider);
        assertEquals(Object.keys(doc.timings as object), ["queueMs", "runMs", "totalMs", "batch"]);
      }
      // a wrong input gets exactly the message gpux run gives
      const badInput = { "x.1": [[1, 2, 3]], "onnx::Flatten_0": [[1, 1, 1, 1]] };
      const runBad = await runCli([
        "run",
        `${dir}/multi.onnx`,
        "--provider",
        "cpu",
        "--input",
        JSON.stringify(badInput),
      ], {
        env,
      });
      assertEquals(runBad.code, 2);
      const message = runBad.stderr.match(/^error: (.*)$/m)![1];
      let r = await call(`${server.url}/predict`, { json: badInput });
      assertEquals([r.status, (r.body as { error: string }).error], [400, message]);
      r = await call(`${server.url}/predict`, { json: { nope: [[1]] } });
      assertEquals(r.status, 400);
      assertMatch((r.body as { error: string }).error, /^unknown input "nope"; the model's inputs are "x\.1"/);
      r = await call(`${server.url}/predict`, { json: { text: "hello" } });
      assertEquals(r.status, 400);
      assertMatch((r.body as { error: string }).error, /^model "multi" takes tensors, not text; its inputs are "x\.1"/);
      r = await call(`${server.url}/predict`, { method: "POST", body: "{not json" });
      assertEquals(r.status, 400);
      assertMatch((r.body as { error: string }).error, /not valid JSON/);
      r = await call(`${server.url}/models/nope/predict`, { json: MULTI_INPUT });
      assertEquals(r.status, 404);
      assertMatch((r.body as { error: string }).error, /no model "nope" is served; the models are "multi"/);
      assertEquals((await call(`${server.url}/nowhere`)).status, 404);
      r = await call(`${server.url}/predict`);
      assertEquals([r.status, r.headers.get("allow")], [405, "POST"]);
      assertEquals((await call(`${server.url}/health`, { method: "POST" })).status, 405);
      r = await call(`${server.url}/predict`, { method: "POST", body: JSON.stringify({ pad: "x".repeat(4000) }) });
      assertEquals(r.status, 413);
      // the server is still fine
      assertEquals((await call(`${server.url}/predict`, { json: MULTI_INPUT })).status, 200);
      const metrics = (await call(`${server.url}/metrics`)).text;
      assertEquals(
        metricValue(metrics, "gpux_requests_total", { model: "multi", endpoint: "predict", status: "200" }),
        3,
      );
      assertEquals(metricValue(metrics, "gpux_requests_total", { status: "413" }), 1);
      assertMatch(server.stderr(), /POST \/predict 200 [\d.]+ms model=multi batch=1/);
      assertMatch(server.stderr(), /POST \/predict 413 /);
    } finally {
      await stopped(server);
    }
  });
});

Deno.test("gpux serve: KServe v2 infer with every datatype, flat or nested data, FP16, BYTES, and the outputs filter", async () => {
  await withDir(async (dir, env) => {
    await writeModel(`${dir}/all.onnx`, allDtypesModel());
    const server = await serve([`all=${dir}/all.onnx`, "--provider", "cpu"], env);
    try {
      const values: Record<string, [string, unknown, unknown[]]> = {
        bool: ["BOOL", [[true, false], [false, true]], [true, false, false, true]],
        uint8: ["UINT8", [0, 255, 7, 8], [0, 255, 7, 8]],
        uint16: ["UINT16", [[0, 65535], [1, 2]], [0, 65535, 1, 2]],
        uint32: ["UINT32", [0, 4294967295, 3, 4], [0, 4294967295, 3, 4]],
        uint64: ["UINT64", [0, 1, 2, 3], [0, 1, 2, 3]],
        int8: ["INT8", [-128, 127, 0, 1], [-128, 127, 0, 1]],
        int16: ["INT16", [[-32768, 32767], [5, 6]], [-32768, 32767, 5, 6]],
        int32: ["INT32", [-1, 2, -3, 4], [-1, 2, -3, 4]],
        int64: ["INT64", [[-9007199254740991, 2], [3, 4]], [-9007199254740991, 2, 3, 4]],
        float16: ["FP16", [0.5, -1.5, 65504, 0.099975586], [0.5, -1.5, 65504, 0.1]],
        float32: ["FP32", [[0.1, 2.5], [-3, 4]], [0.1, 2.5, -3, 4]],
        float64: ["FP64", [0.1, 1e300, -3, 4], [0.1, 1e300, -3, 4]],
        string: ["BYTES", [["a", "héllo"], ["", "z"]], ["a", "héllo", "", "z"]],
      };
      const inputs = Object.entries(values).map(([d, [datatype, data]]) => ({
        name: `x_${d}`,
        shape: [2, 2],
        datatype,
        data,
      }));
      let r = await call(`${server.url}/v2/models/all/infer`, { json: { id: "req-1", inputs } });
      assertEquals(r.status, 200, r.text);
      const doc = r.body as {
        model_name: string;
        id: string;
        outputs: { name: string; shape: number[]; datatype: string; data: unknown[] }[];
      };
      assertEquals([doc.model_name, doc.id], ["all", "req-1"]);
      assertEquals(doc.outputs.map((o) => o.name), Object.keys(values).map((d) => `y_${d}`));
      for (const o of doc.outputs) {
        const [datatype, , expected] = values[o.name.slice(2)];
        assertEquals([o.datatype, o.shape, o.data], [datatype, [2, 2], expected], o.name);
      }
      r = await call(`${server.url}/v2/models/all/infer`, {
        json: { inputs, outputs: [{ name: "y_float16" }, { name: "y_string" }] },
      });
      assertEquals((r.body as typeof doc).outputs.map((o) => o.name), ["y_float16", "y_string"]);
      r = await call(`${server.url}/v2/models/all/infer`, { json: { inputs, outputs: [{ name: "nope" }] } });
      assertEquals(r.status, 400);
      assertMatch((r.body as { error: string }).error, /unknown output "nope"/);
      // wrong datatype, shape and data count, and a missing input: 400 with the messages gpux run gives
      const swap = inputs.map((i) => i.name === "x_float32" ? { ...i, datatype: "INT64", data: [1, 2, 3, 4] } : i);
      r = await call(`${server.url}/v2/models/all/infer`, { json: { inputs: swap } });
      assertEquals([r.status, (r.body as { error: string }).error], [
        400,
        'input "x_float32": expected dtype float32, received int64',
      ]);
      const short = inputs.map((i) => i.name === "x_int32" ? { ...i, data: [1, 2, 3] } : i);
      r = await call(`${server.url}/v2/models/all/infer`, { json: { inputs: short } });
      assertEquals(r.status, 400);
      assertMatch(
        (r.body as { error: string }).error,
        /input "x_int32": shape \[2, 2\] holds 4 elements, but data has 3/,
      );
      r = await call(`${server.url}/v2/models/all/infer`, { json: { inputs: inputs.slice(1) } });
      assertEquals(r.status, 400);
      assertMatch((r.body as { error: string }).error, /missing input "x_bool"/);
      r = await call(`${server.url}/v2/models/all/infer`, { json: { nothing: true } });
      assertEquals(r.status, 400);
      assertEquals((await call(`${server.url}/v2/models/other/infer`, { json: { inputs } })).status, 404);
    } finally {
      await stopped(server);
    }
  });
});

Deno.test("gpux serve: --api-key / GPUX_API_KEY guards every endpoint but health; binding beyond loopback without a key warns", async () => {
  await withDir(async (dir, env) => {
    await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
    const server = await serve([`${dir}/id.onnx`, "--provider", "cpu"], { ...env, GPUX_API_KEY: "s3cret" });
    try {
      for (const path of ["/health", "/v2/health/live", "/v2/health/ready", "/v2/models/id/ready"]) {
        assertEquals((await call(`${server.url}${path}`)).status, 200, path);
      }
      const body = { x: [[1, 2, 3]] };
      let r = await call(`${server.url}/predict`, { json: body });
      assertEquals([r.status, r.headers.get("www-authenticate")], [401, 'Bearer realm="gpux"']);
      r = await call(`${server.url}/predict`, { json: body, headers: { authorization: "Bearer wrong" } });
      assertEquals(r.status, 401);
      assertEquals((await call(`${server.url}/metrics`)).status, 401);
      assertEquals((await call(`${server.url}/info`, { headers: { authorization: "Bearer s3cret" } })).status, 200);
      r = await call(`${server.url}/predict`, { json: body, headers: { authorization: "Bearer s3cret" } });
      assertEquals(r.status, 200);
      assert(!server.stderr().includes("s3cret"), "the key is never echoed");
      assert(!server.stderr().includes("without an API key"));
    } finally {
      await stopped(server);
    }
    const open = await serve([
      `${dir}/id.onnx`,
      "--provider",
      "cpu",
      "--host",
      "0.0.0.0",
      "--quiet",
      "--cors",
      "https://app.example",
    ], env);
    try {
      assertMatch(open.ready, /ready on http:\/\/0\.0\.0\.0:\d+/);
      assertStringIncludes(open.stderr(), "warning: listening on 0.0.0.0 without an API key");
      const url = open.url.replace("0.0.0.0", "127.0.0.1");
      const preflight = await call(`${url}/predict`, { method: "OPTIONS" });
      assertEquals(
        [
          preflight.status,
          preflight.headers.get("access-control-allow-origin"),
          preflight.headers.get("access-control-allow-headers"),
        ],
        [204, "https://app.example", "authorization, content-type"],
      );
      const r = await call(`${url}/predict`, { json: { x: [[1, 2, 3]] } });
      assertEquals([r.status, r.headers.get("access-control-allow-origin")], [200, "https://app.example"]);
    } finally {
      assertEquals(await open.stop("SIGINT"), 0, "Ctrl-C drains and exits 0 too");
    }
  });
});

Deno.test("gpux serve: /health and /metrics answer while the only worker is busy with long inferences", async () => {
  await withDir(async (dir, env) => {
    await writeModel(`${dir}/busy.onnx`, busyModel(512, 1024, 16));
    const server = await serve([`${dir}/busy.onnx`, "--provider", "cpu", "--workers", "1", "--quiet"], env);
    try {
      const x = { x: [Array.from({ length: 16 }, (_, i) => i / 16)] };
      let finished = 0;
      const inferences = Array.from({ length: 3 }, () =>
        call(`${server.url}/predict`, { json: x }).then((r) => {
          finished++;
          return r;
        }));
      // wait until the worker is running one inference and the others queue behind it
      for (;;) {
        const m = (await call(`${server.url}/metrics`)).text;
        if (metricValue(m, "gpux_queue_depth", { model: "busy" }) >= 1) break;
      }
      for (let i = 0; i < 5; i++) {
        const health = await call(`${server.url}/health`);
        assertEquals(health.status, 200);
        const metrics = await call(`${server.url}/metrics`);
        assertEquals(metrics.status, 200);
      }
      assert(finished < 3, "five /health and /metrics round trips completed while inferences were still running");
      const replies = await Promise.all(inferences);
      assertEquals(replies.map((r) => r.status), [200, 200, 200]);
    } finally {
      await stopped(server);
    }
  });
});

Deno.test("gpux serve: a full queue answers 503 with Retry-After, a slow request 504, and SIGTERM drains in-flight requests then exits 0", async () => {
  await withDir(async (dir, env) => {
    await writeModel(`${dir}/busy.onnx`, busyModel(512, 1024, 16));
    const x = { x: [Array.from({ length: 16 }, () => 0.25)] };
    let server = await serve([`${dir}/busy.onnx`, "--provider", "cpu", "--workers", "1", "--max-queue", "1"], env);
    try {
      const first = call(`${server.url}/predict`, { json: x });
      for (;;) {
        const m = (await call(`${server.url}/metrics`)).text;
        if (metricValue(m, "gpux_requests_in_flight", { model: "busy" }) >= 1) break;
      }
      const second = call(`${server.url}/predict`, { json: x });
      for (;;) {
        const m = (await call(`${server.url}/metrics`)).text;
        if (metricValue(m, "gpux_queue_depth", { model: "busy" }) >= 1) break;
      }
      const third = await call(`${server.url}/predict`, { json: x });
      assertEquals([third.status, third.headers.get("retry-after")], [503, "1"]);
      assertMatch((third.body as { error: string }).error, /queue of model "busy" is full/);
      // SIGTERM while two requests are queued or running: both still get their answers, then exit 0
      const code = server.stop("SIGTERM");
      assertEquals([(await first).status, (await second).status], [200, 200]);
      assertEquals(await code, 0);
      assertMatch(server.stderr(), /shutting down: finishing 2 requests in flight…/);
      assertMatch(server.stderr(), /stopped/);
    } finally {
      await server.stop();
    }
    server = await serve([`${dir}/busy.onnx`, "--provider", "cpu", "--timeout-ms", "1"], env);
    try {
      const r = await call(`${server.url}/predict`, { json: x });
      assertEquals(r.status, 504);
      assertMatch((r.body as { error: string }).error, /did not answer within 1 ms/);
      assertEquals((await call(`${server.url}/health`)).status, 200);
    } finally {
      await stopped(server);
    }
  });
});

Deno.test("gpux serve: dynamic batching stacks concurrent requests, gives each exactly its rows, never mixes trailing shapes", async () => {
  await withDir(async (dir, env) => {
    await writeModel(`${dir}/rows.onnx`, identityModel("float32", ["batch", null]));
    await writeModel(`${dir}/fixed.onnx`, fixedShapeModel());
    // batches are dispatched when full (the delay is long): 4 requests of 2 rows fill two batches of 4
    const server = await serve([
      `${dir}/rows.onnx`,
      `${dir}/fixed.onnx`,
      "--provider",
      "cpu",
      "--max-batch",
      "4",
      "--batch-delay-ms",
      "60000",
    ], env);
    try {
      assertMatch(server.ready, /rows \(cpu, 1 worker, batching\)/);
      assertStringIncludes(
        server.ready,
        'fixed (cpu, 1 worker, batching: off (input "image" first dim is fixed at 1, so it cannot be proven to be the batch))',
      );
      const request = (i: number, width: number) => ({
        x: [
          Array.from({ length: width }, (_, j) => i * 100 + j + 1),
          Array.from({ length: width }, (_, j) => -(i * 100 + j + 1)),
        ],
      });
      const sent = [[0, 3], [1, 5], [2, 3], [3, 5]] as const;
      const replies = await Promise.all(
        sent.map(([i, w]) => call(`${server.url}/models/rows/predict`, { json: request(i, w) })),
      );
      replies.forEach((r, k) => {
        assertEquals(r.status, 200, r.text);
        const doc = r.body as { outputs: { y: { shape: number[]; data: number[][] } }; timings: { batch: number } };
        assertEquals(doc.outputs.y.data, request(sent[k][0], sent[k][1]).x);
        assertEquals(doc.timings.batch, 2);
      });
      const metrics = (await call(`${server.url}/metrics`)).text;
      assertEquals(metricValue(metrics, "gpux_inferences_total", { model: "rows" }), 2);
      assertEquals(metricValue(metrics, "gpux_inference_requests_total", { model: "rows" }), 4);
      assertEquals(metricValue(metrics, "gpux_batch_size_bucket", { model: "rows", le: "1" }), 0);
      assertEquals(metricValue(metrics, "gpux_batch_size_bucket", { model: "rows", le: "2" }), 2);
      const info = (await call(`${server.url}/info`)).body as { models: { name: string; batching: boolean }[] };
      assertEquals(info.models.map((m) => m.batching), [true, false]);
      const image = {
        image: [[[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]], [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [
          0,
          0,
          0,
          0,
        ]], [[2, 2, 2, 2], [2, 2, 2, 2], [2, 2, 2, 2], [2, 2, 2, 2]]]],
      };
      const fixed = await call(`${server.url}/models/fixed/predict`, { json: image });
      assertEquals((fixed.body as { outputs: { pooled: { data: unknown } } }).outputs.pooled.data, [[[[2.5]], [[0]], [[
        2,
      ]]]]);
    } finally {
      await stopped(server);
    }
  });
});

Deno.test("gpux serve: served names from NAME=, gpux.yml and the Hub id; duplicates exit 2; gpux.yml serving: gives defaults", async () => {
  await withDir(async (dir, env) => {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await writeModel(`${dir}/a/model.onnx`, identityModel("float32", ["batch", 3]));
    await writeModel(`${dir}/b/model.onnx`, identityModel("float32", ["batch", 3]));
    let failed = await startServe([`${dir}/a/model.onnx`, `${dir}/b/model.onnx`, "--port", "0"], { env });
    assert(!("url" in failed));
    assertEquals(failed.code, 2);
    assertMatch(failed.stderr, /two models would be served as "model"/);
    failed = await startServe([`m=${dir}/a/model.onnx`, `m=${dir}/b/model.onnx`, "--port", "0"], { env });
    assert(!("url" in failed));
    assertEquals(failed.code, 2);
    await Deno.writeTextFile(
      `${dir}/a/gpux.yml`,
      "name: tiny\nmodel:\n  source: ./model.onnx\nserving:\n  port: 0\n  batch_size: 1\n  max_queue: 7\n",
    );
    const cache = new CacheFixture(`${dir}/hub`, "acme-ai/sentiment-tiny");
    const sha = commitSha("sentiment");
    await cache.addRevision(sha, { "model.onnx": { content: await Deno.readFile(`${dir}/b/model.onnx`), lfs: true } });
    await cache.setRef("main", sha);
    const server = running(
      await startServe([`${dir}/a`, "acme-ai/sentiment-tiny", "--provider", "cpu", "--json-log"], { env }),
    );
    try {
      const ready = JSON.parse(server.ready);
      assertEquals(ready.event, "ready");
      assertEquals(ready.models.map((m: { name: string; batching: boolean }) => [m.name, m.batching]), [
        ["tiny", false],
        [
          "sentiment-tiny",
          true,
        ],
      ]);
      const info = (await call(`${server.url}/info`)).body as {
        models: { name: string; sha: string; repoId: string }[];
      };
      assertEquals([info.models[1].repoId, info.models[1].sha], ["acme-ai/sentiment-tiny", sha]);
      assertEquals(
        (await call(`${server.url}/models/sentiment-tiny/predict`, { json: { x: [[1, 2, 3]] } })).status,
        200,
      );
      const line = server.stderr().trim().split("\n").map((l) => JSON.parse(l)).find((l) =>
        l.path === "/models/sentiment-tiny/predict"
      );
      assertEquals([line.method, line.status, line.model, line.batch], ["POST", 200, "sentiment-tiny", 1]);
      assert(typeof line.ms === "number");
    } finally {
      await stopped(server);
    }
  });
});
