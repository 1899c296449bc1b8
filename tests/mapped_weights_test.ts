/**
 * Inline weights mapped from the file (src/runtime/mapped_weights.ts): onnxruntime given the graph alone, with each
 * large initializer pointing at its own bytes inside the original file, must compute exactly what it computes from the
 * file itself — on real exporters' decoders (dynamo Llama/GPT-2/Qwen3, a merged decoder with `If` subgraphs, fp16,
 * int4 and int8 variants). What it saves in memory is measured by `deno task bench:generate` (its peak RSS column,
 * gpux against gpux-file), not asserted here: the peak of a small model moves by more than it saves.
 */
import { assert, assertEquals } from "./support/assert.ts";
import * as ort from "onnxruntime-node";
import { graphWithMappedWeights } from "../src/runtime/mapped_weights.ts";
import { createSession } from "../src/runtime/session.ts";
import { lastPositionLogits } from "../src/runtime/last_position_logits.ts";
import { loadTextGeneration } from "../src/generation/load_pipeline.ts";
import { RuntimeError } from "../src/errors.ts";
import { buildModel, externalDataModel, matmulChainModel, writeModel } from "./support/onnx_builder.ts";
import { generationFixture } from "./support/generation_fixtures.ts";

const ORT_THREADS = { intraOpNumThreads: 1, interOpNumThreads: 1 };

function zeros(type: string, dims: number[]): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  if (type === "float16") return new ort.Tensor("float16", new Uint16Array(n), dims);
  if (type === "float32") return new ort.Tensor("float32", new Float32Array(n), dims);
  throw new Error(`no zeros for ${type}`);
}

/** A prefill of 5 tokens on an empty past, built from the session's own input metadata. */
function decoderFeeds(session: ort.InferenceSession): Record<string, ort.Tensor> {
  const ids = [11, 5, 27, 3, 19];
  const i64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), [1, values.length]);
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new Error(`${meta.name} is not a tensor`);
    const name = meta.name;
    if (name === "input_ids") feeds[name] = i64(ids);
    else if (name === "attention_mask") feeds[name] = i64(ids.map(() => 1));
    else if (name === "position_ids") feeds[name] = i64(ids.map((_, i) => i));
    else if (name === "use_cache_branch") feeds[name] = new ort.Tensor("bool", Uint8Array.of(0), [1]);
    else if (name.startsWith("past_key_values.")) {
      const dims = meta.shape.map((d, i) => i === 0 ? 1 : i === 2 ? 0 : d as number);
      feeds[name] = zeros(meta.type, dims);
    } else throw new Error(`unexpected input ${name}`);
  }
  return feeds;
}

async function outputsOf(session: ort.InferenceSession): Promise<Record<string, number[]>> {
  const results = await session.run(decoderFeeds(session));
  return arrays(session, results);
}

function arrays(session: ort.InferenceSession, results: ort.InferenceSession.ReturnType): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const name of session.outputNames) out[name] = Array.from(results[name].data as ArrayLike<number>);
  return out;
}

/** onnxruntime on the graph bytes, its references relative to `folder`. */
function fromBytes(bytes: Uint8Array, folder: string, threads = 1): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: { session: { model_external_initializers_file_folder_path: folder } },
  });
}

const DECODERS = [
  ["llama", "onnx/model.onnx"],
  ["llama", "onnx/model_fp16.onnx"],
  ["llama", "onnx/model_q4.onnx"],
  ["llama", "onnx/model_quantized.onnx"],
  ["gpt2", "onnx/model.onnx"],
  ["qwen3", "onnx/model.onnx"],
  ["llama-merged", "onnx/decoder_model_merged.onnx"],
] as const;

for (const [fixture, file] of DECODERS) {
  Deno.test(`mapped weights: ${fixture} ${file} computes exactly what the file computes`, async () => {
    const path = `${await generationFixture(fixture)}/${file}`;
    const mapped = await graphWithMappedWeights(path, { minFileBytes: 0, minTensorBytes: 64 });
    assert(mapped, "the decoder's inline weights are mapped");
    assert(mapped.tensors > 0 && mapped.mappedBytes > 0);
    assert(mapped.bytes.length < (await Deno.stat(path)).size, "the graph holds fewer bytes than the file");
    const fromFile = await ort.InferenceSession.create(path, ORT_THREADS);
    const fromGraph = await ort.InferenceSession.create(mapped.bytes, {
      ...ORT_THREADS,
      extra: { session: { model_external_initializers_file_folder_path: mapped.folder } },
    });
    try {
      assertEquals(await outputsOf(fromGraph), await outputsOf(fromFile));
    } finally {
      await fromFile.release();
      await fromGraph.release();
    }
  });
}

Deno.test("mapped weights: a model with external data, a small model and a non-file load as they are", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-mapped-" });
  try {
    const external = externalDataModel(64);
    await Deno.writeFile(`${dir}/ext.onnx`, external.model);
    await Deno.writeFile(`${dir}/model.onnx_data`, external.data);
    assertEquals(await graphWithMappedWeights(`${dir}/ext.onnx`, { minFileBytes: 0 }), undefined);
    assertEquals(await graphWithMappedWeights(`${await generationFixture("llama-genai")}/model.onnx`), undefined);
    await writeModel(`${dir}/small.onnx`, matmulChainModel(64, 2));
    assertEquals(await graphWithMappedWeights(`${dir}/small.onnx`), undefined, "under 64 MiB by default");
    assert(await graphWithMappedWeights(`${dir}/small.onnx`, { minFileBytes: 0, minTensorBytes: 64 }));
    // a FIFO is not opened (that would wait for a writer), a directory and a missing file are not models
    await new Deno.Command("mkfifo", { args: [`${dir}/fifo.onnx`] }).output();
    assertEquals(await graphWithMappedWeights(`${dir}/fifo.onnx`, { minFileBytes: 0 }), undefined);
    assertEquals(await graphWithMappedWeights(dir, { minFileBytes: 0 }), undefined);
    assertEquals(await graphWithMappedWeights(`${dir}/missing.onnx`, { minFileBytes: 0 }), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mapped weights: a truncated or garbage file is left to onnxruntime, which names the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-mapped-" });
  try {
    const bytes = buildModel(matmulChainModel(64, 2));
    await Deno.writeFile(`${dir}/cut.onnx`, bytes.subarray(0, bytes.length - 100));
    assertEquals(await graphWithMappedWeights(`${dir}/cut.onnx`, { minFileBytes: 0 }), undefined);
    const garbage = new Uint8Array(4096).map((_, i) => (i * 131 + 7) % 256);
    await Deno.writeFile(`${dir}/garbage.onnx`, garbage);
    assertEquals(await graphWithMappedWeights(`${dir}/garbage.onnx`, { minFileBytes: 0 }), undefined);
    let error: unknown;
    try {
      await createSession(`${dir}/cut.onnx`, { provider: "cpu" });
    } catch (e) {
      error = e;
    }
    assert(error instanceof RuntimeError && error.message.includes("cut.onnx"), String(error));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A 75 MB model, the size from which `createSession` maps weights: 8 layers of a 1536 × 1536 weight. */
async function largeModel(dir: string): Promise<string> {
  return await writeModel(`${dir}/large.onnx`, matmulChainModel(1536, 8));
}

Deno.test("mapped weights: createSession maps a large file's weights when asked, with the same results", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-mapped-" });
  try {
    const path = await largeModel(dir);
    const x = {
      dtype: "float32" as const,
      shape: [2, 1536],
      data: new Float32Array(3072).map((_, i) => (i % 13) / 13),
    };
    const mapped = await createSession(path, { provider: "cpu", intraOpThreads: 1, mapWeights: true });
    const plain = await createSession(path, { provider: "cpu", intraOpThreads: 1 });
    try {
      assertEquals(mapped.mappedWeightBytes, 8 * 1536 * 1536 * 4);
      assertEquals(plain.mappedWeightBytes, 0, "by default a large file loads as it is");
      // an edit that would copy a large file's inline weights into the graph bytes is not made
      assertEquals(
        await graphWithMappedWeights(path, { edit: lastPositionLogits("h0"), minFileBytes: Infinity }),
        undefined,
      );
      assert(await graphWithMappedWeights(path, { edit: lastPositionLogits("h0") }), "mapped, it is");
      assertEquals(mapped.path, path, "errors and info still name the file");
      const a = await mapped.run({ x });
      const b = await plain.run({ x });
      assertEquals(Array.from(a.y.data as Float32Array), Array.from(b.y.data as Float32Array));
      // as in the Hub cache, the model is a link in one folder to a blob in another (onnxruntime refuses references
      // that resolve outside the folder it is given, so the link is resolved first)
      await Deno.mkdir(`${dir}/snapshot/onnx`, { recursive: true });
      await Deno.symlink("../../large.onnx", `${dir}/snapshot/onnx/model.onnx`);
      const linked = await createSession(`${dir}/snapshot/onnx/model.onnx`, {
        provider: "cpu",
        intraOpThreads: 1,
        mapWeights: true,
      });
      try {
        assertEquals(linked.mappedWeightBytes, 8 * 1536 * 1536 * 4);
        const c = await linked.run({ x });
        assertEquals(Array.from(c.y.data as Float32Array), Array.from(b.y.data as Float32Array));
      } finally {
        await linked.dispose();
      }
    } finally {
      await mapped.dispose();
      await plain.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Files whose logits come straight from a float MatMul projection. */
const PROJECTED = [
  ["llama", "onnx/model.onnx"],
  ["llama", "onnx/model_fp16.onnx"],
  ["gpt2", "onnx/model.onnx"],
  ["qwen3", "onnx/model.onnx"],
  ["llama-genai", "model.onnx"], // external data: its references are re-pointed at the file itself
] as const;

for (const [fixture, file] of PROJECTED) {
  Deno.test(`last-position logits: ${fixture} ${file} gives the last row of the file's logits, bit for bit`, async () => {
    const path = `${await generationFixture(fixture)}/${file}`;
    const edited = await graphWithMappedWeights(path, { edit: lastPositionLogits() });
    assert(edited?.edited, "the projection that produces logits is cut to the last position");
    for (const threads of [1, 2]) {
      const options = { intraOpNumThreads: threads, interOpNumThreads: 1 };
      const fromFile = await ort.InferenceSession.create(path, options);
      const cut: ort.InferenceSession = await fromBytes(edited.bytes, edited.folder, threads);
      try {
        const feeds = decoderFeeds(fromFile);
        const full = await fromFile.run(feeds);
        const last = await cut.run(feeds);
        const [batch, positions, vocab] = full.logits.dims as number[];
        assertEquals(last.logits.dims, [batch, 1, vocab]);
        const lastRow = Array.from(full.logits.data as ArrayLike<number>).slice((positions - 1) * vocab);
        assertEquals(Array.from(last.logits.data as ArrayLike<number>), lastRow);
        const { logits: _a, ...restFull } = arrays(fromFile, full);
        const { logits: _b, ...restLast } = arrays(cut, last);
        assertEquals(restLast, restFull, "the cache comes out the same");
      } finally {
        await fromFile.release();
        await cut.release();
      }
    }
  });
}

Deno.test("last-position logits: a graph whose logits are not a projection's output loads as it is", async () => {
  // the merged decoder computes logits inside its If branches; the int8 export through MatMulInteger and a Cast
  for (
    const [fixture, file] of [["llama-merged", "onnx/decoder_model_merged.onnx"], [
      "llama",
      "onnx/model_quantized.onnx",
    ]] as const
  ) {
    const path = `${await generationFixture(fixture)}/${file}`;
    assertEquals(await graphWithMappedWeights(path, { edit: lastPositionLogits() }), undefined, file);
  }
  // an output the graph does not have
  const path = `${await generationFixture("llama")}/onnx/model.onnx`;
  assertEquals(await graphWithMappedWeights(path, { edit: lastPositionLogits("scores") }), undefined);
});

Deno.test("last-position logits: the generation engine loads decoders with their logits cut", async () => {
  for (const fixture of ["llama", "gpt2", "qwen3"] as const) {
    const pipeline = await loadTextGeneration(await generationFixture(fixture), { provider: "cpu" });
    try {
      assert(pipeline.session.lastPositionOnly, fixture);
    } finally {
      await pipeline.dispose();
    }
  }
  const session = await createSession(`${await generationFixture("llama")}/onnx/model.onnx`, { provider: "cpu" });
  try {
    assertEquals(session.lastPositionOnly, false, "a plain session keeps every position");
  } finally {
    await session.dispose();
  }
});
