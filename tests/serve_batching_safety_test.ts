/**
 * Dynamic batching never hands one client's results to another: `gpux serve` (a `deno task gpux` subprocess)
 * serves models whose outputs do not follow the batch — detections found by NonZero, a sequence-length first
 * dim, a fixed dim that equals the batch size, unnamed dims, rows coupled across the batch — with batching
 * asked for, and many concurrent clients with different inputs each get exactly the answer the same request
 * gets alone; `/info` and the ready line say batching is off and why. A well-formed model keeps batching, with
 * the same per-request results as without it.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { buildModel, type ModelSpec, writeModel } from "./support/onnx_builder.ts";
import { running, type ServeProcess, startServe } from "./support/serve_process.ts";
import { classifierModel, classifierRepo } from "./support/text_models.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { writeRepo } from "./support/media_models.ts";

const i64 = (...values: number[]) => new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);

/** `x` f32[batch, 4] → NonZero → Transpose → `boxes` int64[num_detections, 2] (row, column of each non-zero). */
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

/** `x` f32[batch, seq] → Transpose → `y` f32[seq, batch]: the first output dim is the sequence length. */
function sequenceModel(): ModelSpec {
  return {
    inputs: [{ name: "x", dtype: "float32", shape: ["batch", "seq"] }],
    outputs: [{ name: "y", dtype: "float32", shape: ["seq", "batch"] }],
    nodes: [{ op: "Transpose", inputs: ["x"], outputs: ["y"], attributes: { perm: { ints: [1, 0] } } }],
  };
}

/**
 * `x` f32[batch, 3] → `y` = [column sums; column maxima], always 2 rows: declared `[2, 3]`, or (`declared`
 * "batch") as if it followed the batch, which only the warm-up runs can catch (Compress hides the 2 from
 * onnxruntime's shape inference, which would otherwise report it).
 */
function pairModel(declared: number | string): ModelSpec {
  return {
    inputs: [{ name: "x", dtype: "float32", shape: ["batch", 3] }],
    outputs: [{ name: "y", dtype: "float32", shape: [declared, 3] }],
    initializers: [
      { name: "axes", dtype: "int64", dims: [1], data: i64(0) },
      { name: "keep", dtype: "bool", dims: [3], data: Uint8Array.of(1, 0, 1) },
    ],
    nodes: [
      { op: "ReduceSum", inputs: ["x", "axes"], outputs: ["sum"], attributes: { keepdims: { int: 1 } } },
      { op: "ReduceMin", inputs: ["x"], outputs: ["min"], attributes: { axes: { ints: [0] }, keepdims: { int: 1 } } },
      { op: "ReduceMax", inputs: ["x"], outputs: ["max"], attributes: { axes: { ints: [0] }, keepdims: { int: 1 } } },
      { op: "Concat", inputs: ["sum", "min", "max"], outputs: ["all"], attributes: { axis: { int: 0 } } },
      { op: "Compress", inputs: ["all", "keep"], outputs: ["y"], attributes: { axis: { int: 0 } } },
    ],
  };
}

/** `y = x - mean(x over dim 0)`: each row depends on every other row of the run. */
function coupledModel(first: string | null): ModelSpec {
  return {
    inputs: [{ name: "x", dtype: "float32", shape: [first, 3] }],
    outputs: [{ name: "y", dtype: "float32", shape: [first, 3] }],
    nodes: [
      { op: "ReduceMean", inputs: ["x"], outputs: ["mean"], attributes: { axes: { ints: [0] }, keepdims: { int: 1 } } },
      { op: "Sub", inputs: ["x", "mean"], outputs: ["y"] },
    ],
  };
}

/** A model that batches: `x`, `m` f32[batch, 3] → `y` = x·m + 0.5 f32[batch, 3], `k` = argmax(x) int64[batch]. */
function goodModel(): ModelSpec {
  return {
    inputs: [
      { name: "x", dtype: "float32", shape: ["batch", 3] },
      { name: "m", dtype: "float32", shape: ["batch", 3] },
    ],
    outputs: [
      { name: "y", dtype: "float32", shape: ["batch", 3] },
      { name: "k", dtype: "int64", shape: ["batch"] },
    ],
    initializers: [{ name: "half", dtype: "float32", dims: [], data: new Uint8Array(Float32Array.of(0.5).buffer) }],
    nodes: [
      { op: "Mul", inputs: ["x", "m"], outputs: ["p"] },
      { op: "Add", inputs: ["p", "half"], outputs: ["y"] },
      { op: "ArgMax", inputs: ["x"], outputs: ["k"], attributes: { axis: { int: 1 }, keepdims: { int: 0 } } },
    ],
  };
}

interface Served {
  name: string;
  spec: ModelSpec;
  /** Client `i`'s request (one row; every client's differs). */
  request(i: number): Record<string, unknown>;
  /** Why batching is off (undefined: it stays on). */
  off?: string;
}

const MODELS: Served[] = [
  {
    name: "detections",
    spec: detectionsModel(),
    request: (i) => ({ x: [[0, 1, 2, 3].map((c) => c === i % 4 ? i + 1 : 0)] }),
    off: 'output "boxes" first dim is "num_detections", not the batch "batch"',
  },
  {
    name: "sequence",
    spec: sequenceModel(),
    request: (i) => ({ x: [[1, 2, 3, 4].map((v) => i * 10 + v)] }),
    off: 'output "y" first dim is "seq", not the batch "batch"',
  },
  {
    name: "pairfixed",
    spec: pairModel(2),
    request: (i) => ({ x: [[i + 1, -(i + 1), i * 2]] }),
    off: 'output "y" first dim is fixed at 2, not the batch "batch"',
  },
  {
    name: "pair",
    spec: pairModel("batch"),
    request: (i) => ({ x: [[i + 1, -(i + 1), i * 2]] }),
    off: 'the warm-up check failed: output "y" has 2 rows for a request of 1 row',
  },
  {
    name: "unnamed",
    spec: coupledModel(null),
    request: (i) => ({ x: [[i, i * 2, -i]] }),
    off: 'input "x" first dim is unnamed, so it cannot be proven to be the batch',
  },
  {
    name: "coupled",
    spec: coupledModel("batch"),
    request: (i) => ({ x: [[i, i * 2, -i]] }),
    off: 'the warm-up check failed: output "y" of requests run together differs from their runs alone',
  },
  {
    name: "good",
    spec: goodModel(),
    request: (i) => ({ x: [[i * 0.1, 1 - i * 0.2, (i % 3) * 0.3]], m: [[1 + i, -0.5 * i, 0.25]] }),
  },
];

/** Concurrent clients per model: two full batches of `--max-batch 4`. */
const CLIENTS = 8;

async function predict(server: ServeProcess, model: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.url}/models/${model}/predict`, { method: "POST", body: JSON.stringify(body) });
  const text = await response.text();
  assertEquals(response.status, 200, `${model}: ${text}`);
  return JSON.parse(text);
}

Deno.test("gpux serve: batching never mixes clients: models whose outputs do not follow the batch run one by one, every client gets its own answer, /info and the ready line say why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-batch-safety-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  const servers: ServeProcess[] = [];
  try {
    const args: string[] = [];
    for (const m of MODELS) args.push(`${m.name}=${await writeModel(`${dir}/${m.name}.onnx`, buildModel(m.spec))}`);
    const common = [...args, "--provider", "cpu", "--workers", "1", "--port", "0"];
    // batching asked for, and batches dispatched only when full (so requests do meet in one run when allowed)
    const batched = running(
      await startServe([...common, "--max-batch", "4", "--batch-delay-ms", "60000"], { env }),
    );
    servers.push(batched);
    const alone = running(await startServe([...common, "--max-batch", "1"], { env }));
    servers.push(alone);

    // every client's own answer, each request run alone
    const expected = new Map<string, unknown[]>();
    for (const m of MODELS) {
      const answers = [];
      for (let i = 0; i < CLIENTS; i++) answers.push((await predict(alone, m.name, m.request(i))).outputs);
      expected.set(m.name, answers);
    }
    assertEquals((expected.get("detections")![1] as { boxes: { data: unknown } }).boxes.data, [[0, 1]]);

    // all clients of all models at once
    const replies = await Promise.all(
      MODELS.flatMap((m) =>
        Array.from({ length: CLIENTS }, async (_, i) => ({ m, i, doc: await predict(batched, m.name, m.request(i)) }))
      ),
    );
    const wrong: string[] = [];
    for (const { m, i, doc } of replies) {
      if (JSON.stringify(doc.outputs) !== JSON.stringify(expected.get(m.name)![i])) {
        wrong.push(
          `${m.name} client ${i}: ${JSON.stringify(doc.outputs)} (alone: ${JSON.stringify(expected.get(m.name)![i])})`,
        );
      }
    }
    assertEquals(wrong, [], "clients got another answer than their request alone");
    for (const { m, i, doc } of replies) {
      const batch = (doc.timings as { batch: number }).batch;
      assertEquals(batch, m.off ? 1 : 4, `${m.name}: client ${i} ran in a batch of ${batch}`);
    }
    for (const m of MODELS) {
      if (m.off) assertMatch(batched.ready, new RegExp(`${m.name} \\(cpu, 1 worker, batching: off \\(`));
      else assertMatch(batched.ready, new RegExp(`${m.name} \\(cpu, 1 worker, batching\\)`));
    }
    assert(batched.ready.includes(`batching: off (${MODELS[0].off})`), batched.ready);
    const info = await (await fetch(`${batched.url}/info`)).json() as {
      models: { name: string; batching: boolean; batchingReason?: string }[];
    };
    for (const m of MODELS) {
      const described = info.models.find((d) => d.name === m.name)!;
      assertEquals(described.batching, m.off === undefined, m.name);
      if (m.off) assert(described.batchingReason?.startsWith(m.off), `${m.name}: ${described.batchingReason}`);
      else assertEquals(described.batchingReason, undefined);
    }
  } finally {
    for (const s of servers) assertEquals(await s.stop("SIGTERM"), 0, s.stderr());
    await Deno.remove(dir, { recursive: true });
  }
});

const bert = await bertTokenizer();

Deno.test({
  name:
    "gpux serve: several texts in one request to a model whose outputs are not led by the batch run one by one: each text gets its answer alone",
  ignore: "skip" in bert,
  fn: async () => {
    if ("skip" in bert) return;
    const dir = await Deno.makeTempDir({ prefix: "gpux-batch-safety-" });
    const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
    try {
      // the classifier with its logits transposed: [classes, batch], which reads as [rows, classes] with 2 texts
      const spec = classifierModel();
      spec.nodes = spec.nodes.map((n) => n.outputs[0] === "logits" ? { ...n, outputs: ["raw"] } : n);
      spec.nodes.push({
        op: "Transpose",
        inputs: ["raw"],
        outputs: ["logits"],
        attributes: { perm: { ints: [1, 0] } },
      });
      spec.outputs = [{ name: "logits", dtype: "float32", shape: [2, "batch"] }];
      await writeRepo(`${dir}/sideways`, {
        ...classifierRepo(bert.tokenizer, bert.config),
        "onnx/model.onnx": buildModel(spec),
      });
      await writeRepo(`${dir}/sentiment`, classifierRepo(bert.tokenizer, bert.config));
      const server = running(
        await startServe([`${dir}/sideways`, `${dir}/sentiment`, "--provider", "cpu", "--port", "0"], { env }),
      );
      try {
        const texts = ["i love this", "this is bad", "meh"];
        for (const model of ["sideways", "sentiment"]) {
          const ask = async (text: string[]) => {
            const r = await fetch(`${server.url}/models/${model}/predict`, {
              method: "POST",
              body: JSON.stringify({ text, top_k: 2 }),
            });
            const doc = await r.json();
            assertEquals(r.status, 200, JSON.stringify(doc));
            return doc.result as unknown[];
          };
          const together = await ask(texts);
          const alone = [];
          for (const t of texts) alone.push(...await ask([t]));
          assertEquals(together, alone, `${model}: a text's answer depends on the texts beside it`);
        }
      } finally {
        assertEquals(await server.stop("SIGTERM"), 0, server.stderr());
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
