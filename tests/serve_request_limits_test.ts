/**
 * One request inside the body limit cannot take `gpux serve` down: three million (or one million) texts, a text
 * of two million characters, an image header declaring 10^10 pixels, a WAV declaring 1 Hz or 601 seconds, a tensor shaped
 * `[0, 1e15]`, arrays or objects nested a million deep — each is answered 413 (or 400) naming the limit and the
 * flag that raises it, before the work is done; the server stays up and answers a good request right after.
 * A lowered `--max-batch-items` / `--max-tensor-elements` is honoured, and `/info` lists the limits.
 *
 * Memory-hungry before the fix (three million texts ended the process with V8's out-of-memory): run this file
 * inside a memory-capped cgroup when checking that it fails without the fix.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { classifierRepo } from "./support/text_models.ts";
import { tinyImageClassifier, toneAudioClassifier, writeRepo } from "./support/media_models.ts";
import { rgbPng } from "./support/image_fixtures.ts";
import { encodeWav, sine } from "./support/audio_fixtures.ts";
import { running, startServe } from "./support/serve_process.ts";

const bert = await bertTokenizer();
const skip = "skip" in bert ? bert.skip : undefined;
if (skip) console.warn(`skipping the request limit tests: ${skip}`);

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + 0x8000)));
  }
  return btoa(binary);
}

/** A real PNG whose IHDR is rewritten to declare `width` × `height` (the header is all the server may read). */
async function pngDeclaring(width: number, height: number): Promise<Uint8Array> {
  const png = await rgbPng({ width: 4, height: 4, data: new Uint8Array(48).fill(128) });
  const view = new DataView(png.buffer, png.byteOffset);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return png;
}

/** A 16-bit mono WAV of `samples` samples whose header says `rate` Hz. */
function wavDeclaring(samples: number, rate: number): Uint8Array {
  const wav = encodeWav([new Float32Array(samples)], 16000, { encoding: "pcm16" });
  new DataView(wav.buffer, wav.byteOffset).setUint32(24, rate, true);
  new DataView(wav.buffer, wav.byteOffset).setUint32(28, rate * 2, true);
  return wav;
}

async function post(url: string, body: string): Promise<{ status: number; doc: { error?: string; hint?: string } }> {
  const r = await fetch(url, { method: "POST", body });
  const text = await r.text();
  try {
    return { status: r.status, doc: JSON.parse(text) };
  } catch {
    return { status: r.status, doc: { error: text } };
  }
}

Deno.test({
  name:
    "gpux serve: hostile requests within the body limit get 413/400 naming the limit and its flag; the server stays up",
  ignore: skip !== undefined,
  fn: async () => {
    if ("skip" in bert) return;
    const dir = await Deno.makeTempDir({ prefix: "gpux-limits-" });
    const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
    await writeRepo(`${dir}/sentiment`, classifierRepo(bert.tokenizer, bert.config));
    await writeRepo(`${dir}/colours`, tinyImageClassifier());
    await writeRepo(`${dir}/tone`, toneAudioClassifier());
    await writeModel(`${dir}/any.onnx`, identityModel("float32", ["batch", null]));
    const server = running(
      await startServe([
        `${dir}/sentiment`,
        `${dir}/colours`,
        `${dir}/tone`,
        `${dir}/any.onnx`,
        "--provider",
        "cpu",
        "--port",
        "0",
        "--workers",
        "1",
        "--quiet",
      ], { env }),
    );
    try {
      const url = (name: string) => `${server.url}/models/${name}/predict`;
      const refused = async (
        name: string,
        body: string,
        status: number,
        error: RegExp,
        hint: RegExp,
      ) => {
        const r = await post(url(name), body);
        assertEquals(r.status, status, `${body.slice(0, 80)}…: ${JSON.stringify(r.doc).slice(0, 300)}`);
        assertMatch(r.doc.error ?? "", error);
        assertMatch(r.doc.hint ?? "", hint);
        // the server is still up and still right
        const good = await post(url("sentiment"), JSON.stringify({ text: ["i love this"] }));
        assertEquals(good.status, 200, JSON.stringify(good.doc));
      };
      const items = /start the server with a larger --max-batch-items/;

      // the exact bodies of the report: 3,000,000 and 1,000,000 one-letter texts (15 MB and 5 MB)
      const three = `{"text": [${'"a",'.repeat(2_999_999)}"a"]}`;
      assert(three.length < 16 * 1024 * 1024, "inside the default body limit");
      await refused("sentiment", three, 413, /3,000,000 text items; the limit is 256/, items);
      await refused("sentiment", `{"text": [${'"a",'.repeat(999_999)}"a"]}`, 413, /1,000,000 text items/, items);
      await refused("sentiment", JSON.stringify({ text: Array(257).fill("ok") }), 413, /257 text items/, items);
      await refused(
        "sentiment",
        JSON.stringify({ text: "word ".repeat(400_000) }),
        413,
        /2,000,000 characters of text; the limit is 1,000,000/,
        /--max-text-chars/,
      );
      await refused(
        "colours",
        JSON.stringify({ image: base64(await pngDeclaring(100_000, 100_000)) }),
        413,
        /image\[0\] is 10,000,000,000 pixels; the limit is 89,478,485/,
        /--max-image-pixels/,
      );
      // 40 KB that declares 1 Hz (twenty thousand seconds, which resampling to 16 kHz would make gigabytes of): a rate
      // no recording has is refused as such, from the header
      await refused(
        "tone",
        JSON.stringify({ audio: base64(wavDeclaring(20_000, 1)) }),
        400,
        /audio\[0\]: the header declares a sampling rate of 1 Hz, outside the 1–384 kHz of real recordings/,
        /re-export it/,
      );
      // ten minutes and a second at 1 kHz (1.2 MB): over the default --max-audio-seconds, refused from the header
      await refused(
        "tone",
        JSON.stringify({ audio: base64(wavDeclaring(601_000, 1000)) }),
        413,
        /audio\[0\] is 601 seconds long; the limit is 600/,
        /--max-audio-seconds/,
      );
      // an empty tensor of absurd shape: refused naming the elements limit (a 413 for --max-tensor-elements, or the
      // 400 of the tensor checks when they bound shapes first), never run
      for (
        const [path, body] of [
          [url("any"), JSON.stringify({ x: { data: [], shape: [0, 1e15] } })],
          [
            `${server.url}/v2/models/any/infer`,
            JSON.stringify({ inputs: [{ name: "x", shape: [0, 1e15], datatype: "FP32", data: [] }] }),
          ],
        ]
      ) {
        const r = await post(path, body);
        assert([400, 413].includes(r.status), `${path}: ${r.status} ${JSON.stringify(r.doc)}`);
        assertMatch(r.doc.error ?? "", /1000000000000000.*elements|elements.*1000000000000000/);
        assert(r.status === 400 || /--max-tensor-elements/.test(r.doc.hint ?? ""), JSON.stringify(r.doc));
      }
      // a v2 body with thousands of entries for a one-input model: refused before each is looked up
      const entries = await post(
        `${server.url}/v2/models/any/infer`,
        JSON.stringify({
          inputs: Array.from(
            { length: 200_000 },
            (_, i) => ({ name: `x${i}`, shape: [1], datatype: "FP32", data: [1] }),
          ),
        }),
      );
      assertEquals(entries.status, 400, JSON.stringify(entries.doc).slice(0, 300));
      assertMatch(entries.doc.error ?? "", /"inputs" has 200,000 entries; the model has 1 input/);
      // nested a million deep, arrays and objects: 400, not a crashed parser or a stack overflow
      for (
        const body of [
          `{"x": ${"[".repeat(1_000_000)}1${"]".repeat(1_000_000)}}`,
          `{"x": ${'{"a":'.repeat(1_000_000)}1${"}".repeat(1_000_000)}}`,
          `{"text": ${"[".repeat(1_000_000)}"a"${"]".repeat(1_000_000)}}`,
        ]
      ) {
        const r = await post(url("any"), body);
        assertEquals(r.status, 400, `${body.slice(0, 20)}: ${JSON.stringify(r.doc).slice(0, 300)}`);
      }
      const health = await fetch(`${server.url}/health`);
      assertEquals([health.status, (await health.json()).status], [200, "ok"]);
      const ok = await post(url("any"), JSON.stringify({ x: [[1, 2, 3]] }));
      assertEquals(ok.status, 200);
      const info = await (await fetch(`${server.url}/info`)).json();
      assertEquals(info.limits.maxBatchItems, 256);
      assertEquals(info.limits.maxTensorElements, 2 ** 26);
      assert(info.memory.budgetBytes > info.memory.baselineBytes, JSON.stringify(info.memory));
      assertEquals(await server.stop("SIGTERM"), 0);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("gpux serve --max-batch-items / --max-tensor-elements lowered: the new bound is the one enforced and named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-limits-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  await writeModel(`${dir}/any.onnx`, identityModel("float32", ["batch", null]));
  await writeRepo(`${dir}/tone`, toneAudioClassifier());
  const server = running(
    await startServe([
      `${dir}/any.onnx`,
      `${dir}/tone`,
      "--provider",
      "cpu",
      "--port",
      "0",
      "--quiet",
      "--max-tensor-elements",
      "1000",
      "--max-batch-items",
      "2",
      "--max-audio-seconds",
      "2",
    ], { env }),
  );
  try {
    const big = await post(`${server.url}/models/any/predict`, JSON.stringify({ x: [Array(1001).fill(1)] }));
    assertEquals(big.status, 413);
    assertMatch(big.doc.error ?? "", /spans 1,001 elements; the limit is 1,000/);
    const empty = await post(`${server.url}/models/any/predict`, JSON.stringify({ x: { data: [], shape: [0, 1001] } }));
    assertEquals(empty.status, 413);
    assertMatch(empty.doc.error ?? "", /input "x" of shape \[0, 1001\] spans 1,001 elements; the limit is 1,000/);
    assertMatch(empty.doc.hint ?? "", /start the server with a larger --max-tensor-elements/);
    const fits = await post(`${server.url}/models/any/predict`, JSON.stringify({ x: [Array(1000).fill(1)] }));
    assertEquals(fits.status, 200);
    const clip = base64(encodeWav([sine(440, 16000, 1)], 16000, { encoding: "pcm16" }));
    const three = await post(`${server.url}/models/tone/predict`, JSON.stringify({ audio: [clip, clip, clip] }));
    assertEquals(three.status, 413);
    assertMatch(three.doc.error ?? "", /3 audio items; the limit is 2/);
    const long = base64(encodeWav([sine(440, 16000, 3)], 16000, { encoding: "pcm16" }));
    const tooLong = await post(`${server.url}/models/tone/predict`, JSON.stringify({ audio: long }));
    assertEquals(tooLong.status, 413);
    assertMatch(tooLong.doc.error ?? "", /audio\[0\] is 3 seconds long; the limit is 2/);
    const two = await post(`${server.url}/models/tone/predict`, JSON.stringify({ audio: [clip, clip] }));
    assertEquals(two.status, 200, JSON.stringify(two.doc));
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gpux serve --max-audio-seconds raised: a clip between the default and the new bound runs, one past it is 413", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-limits-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  await writeRepo(`${dir}/tone`, toneAudioClassifier());
  const server = running(
    await startServe([`${dir}/tone`, "--provider", "cpu", "--port", "0", "--quiet", "--max-audio-seconds", "700"], {
      env,
    }),
  );
  try {
    // 650 s at 1 kHz (1.3 MB): past the default of 600, inside 700 — the pipeline must take the same bound
    const long = await post(
      `${server.url}/models/tone/predict`,
      JSON.stringify({ audio: base64(wavDeclaring(650_000, 1000)) }),
    );
    assertEquals(long.status, 200, JSON.stringify(long.doc));
    const over = await post(
      `${server.url}/models/tone/predict`,
      JSON.stringify({ audio: base64(wavDeclaring(701_000, 1000)) }),
    );
    assertEquals(over.status, 413, JSON.stringify(over.doc));
    assertMatch(over.doc.error ?? "", /audio\[0\] is 701 seconds long; the limit is 700/);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gpux.yml serving: max_tensor_elements / max_batch_items are the bounds when no flag is given; a flag still wins", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-limits-yml-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  await Deno.mkdir(`${dir}/m`);
  await writeModel(`${dir}/m/model.onnx`, identityModel("float32", ["batch", null]));
  await Deno.writeTextFile(
    `${dir}/m/gpux.yml`,
    "name: any\nmodel:\n  source: ./model.onnx\nserving:\n  max_tensor_elements: 1000\n  max_batch_items: 2\n",
  );
  const start = (extra: string[]) =>
    startServe([`${dir}/m`, "--provider", "cpu", "--port", "0", "--quiet", ...extra], { env, sandbox: "exact" });
  let server = running(await start([]));
  try {
    const big = await post(`${server.url}/models/any/predict`, JSON.stringify({ x: [Array(1001).fill(1)] }));
    assertEquals(big.status, 413);
    assertMatch(big.doc.error ?? "", /spans 1,001 elements; the limit is 1,000/);
    const fits = await post(`${server.url}/models/any/predict`, JSON.stringify({ x: [Array(1000).fill(1)] }));
    assertEquals(fits.status, 200);
    const info = await (await fetch(`${server.url}/info`)).json();
    assertEquals(info.limits.maxBatchItems, 2, JSON.stringify(info.limits));
  } finally {
    await server.stop();
  }
  server = running(await start(["--max-tensor-elements", "2000"]));
  try {
    const big = await post(`${server.url}/models/any/predict`, JSON.stringify({ x: [Array(1001).fill(1)] }));
    assertEquals(big.status, 200);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
