/**
 * Bounds on what a user's input may ask of gpux (issue 16): files that never end (`/dev/zero`, a FIFO), WAV
 * headers that lie, tensor shapes that cannot be, strings onnxruntime would cut, float16 rounding. Each case is
 * checked the way users meet it — `deno task gpux` as a subprocess under its sandbox, or the library function the
 * server calls — and answers with exit 2 (an InputError naming the input), never a hang, an allocation of
 * gigabytes or a wrong answer.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { cliCommand, type CliResult } from "./support/cli.ts";
import { buildModel, identityModel, writeModel } from "./support/onnx_builder.ts";
import { encodeWav, sine } from "./support/audio_fixtures.ts";
import { toneAudioClassifier, writeRepo } from "./support/media_models.ts";
import { fromFloat16Bits, tensorFromJson, toFloat16Bits } from "../src/runtime/tensors.ts";
import { readNpy, writeNpy } from "../src/runtime/npy.ts";
import { loadModel } from "../src/runtime/load_model.ts";
import { decodeWav } from "../src/processing/audio_wav.ts";
import { loadPipeline } from "../src/processing/pipeline.ts";
import { InputError } from "../src/errors.ts";

/** Exit `code`, an `error:` line matching `pattern` and a `hint:` line; no trace, no "bug" report. */
function assertInputError(r: CliResult, code: number, pattern: RegExp): void {
  const what = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  assertEquals(r.code, code, what);
  assertMatch(r.stderr, pattern, what);
  assertMatch(r.stderr, /(^|\n)error: [^\n]*\nhint: [^\n]*\n$/, `not one error line and a hint: ${what}`);
  assert(!r.stderr.includes("unexpected failure"), what);
}

async function withTemp(fn: (dir: string, env: Record<string, string>) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gpux_bounds_" });
  try {
    await fn(dir, { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir, GPUX_HOME: `${dir}/gpux` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `gpux …args`, killed (and the test failed) if it runs past `limitMs`: a regression must not read forever. */
async function runBounded(args: string[], env: Record<string, string>, limitMs = 30_000): Promise<CliResult> {
  const child = cliCommand(args, { env }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, limitMs);
  const out = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  assert(!killed, `gpux ${args.join(" ")} still ran after ${limitMs} ms: ${decoder.decode(out.stderr)}`);
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

// ---- endless inputs --------------------------------------------------------------------------------------------

Deno.test("gpux run: /dev/zero, a FIFO or a folder as --image, --audio, --file, --input-npy is exit 2 at once", async () => {
  await withTemp(async (dir, env) => {
    await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
    const fifo = `${dir}/pipe`;
    assertEquals((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
    for (const source of ["/dev/zero", fifo]) {
      for (const flag of ["--image", "--audio", "--file"]) {
        const r = await runBounded(["run", "id.onnx", flag, source], env);
        assertInputError(r, 2, new RegExp(`${flag} ${source}: not a regular file`));
      }
      const npy = await runBounded(["run", "id.onnx", "--input-npy", `x=${source}`], env);
      assertInputError(npy, 2, /--input-npy "x" .*: not a regular file/);
    }
    const folder = await runBounded(["run", "id.onnx", "--image", dir], env);
    assertInputError(folder, 2, /--image .*: is a directory/);
  });
});

Deno.test("gpux runtime install --from /dev/zero (or a FIFO) is exit 2 at once", async () => {
  await withTemp(async (dir, env) => {
    const fifo = `${dir}/pkg.tgz`;
    assertEquals((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
    for (const source of ["/dev/zero", fifo]) {
      const r = await runBounded(["runtime", "install", "cuda", "--cuda", "13", "--from", source], env);
      assertInputError(r, 2, /--from .*: not a regular file or a folder/);
    }
  });
});

Deno.test("gpux run: an input file over --max-input-mb is exit 2 naming the limit; the flag raises it", async () => {
  await withTemp(async (dir, env) => {
    await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
    const big = JSON.stringify({ x: [[1, 2, 3]], pad: "x".repeat(1024 * 1024 + 10) });
    await Deno.writeTextFile(`${dir}/big.json`, big);
    const r = await runBounded(["run", "id.onnx", "--file", "big.json", "--max-input-mb", "1"], env);
    assertInputError(r, 2, /--file big\.json: larger than the limit of 1 MiB/);
    assertMatch(r.stderr, /--max-input-mb/);
    // within a raised limit the same file is read (and then refused for its unknown input, not its size)
    const raised = await runBounded(["run", "id.onnx", "--file", "big.json", "--max-input-mb", "2"], env);
    assertEquals(raised.code, 2, raised.stderr);
    assertMatch(raised.stderr, /unknown input "pad"/);
    const bad = await runBounded(["run", "id.onnx", "--file", "big.json", "--max-input-mb", "0"], env);
    assertEquals(bad.code, 2, bad.stderr);
  });
});

Deno.test({
  name: "gpux run --audio - fed slowly through a pipe: SIGTERM ends it promptly (exit 130), the pipe still open",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withTemp(async (dir, env) => {
      await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
      const child = cliCommand(["run", "id.onnx", "--audio", "-"], { env, stdin: "" }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new Uint8Array(16)); // the read has begun; the writer never closes
      const stderr = child.stderr.getReader();
      // give the child time to start and block in its read
      await new Promise((r) => setTimeout(r, 3000));
      const sent = performance.now();
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const status = await child.status;
      clearTimeout(timer);
      const waited = performance.now() - sent;
      await writer.close().catch(() => {});
      await stderr.cancel();
      await child.stdout.cancel();
      assertEquals(status.signal, null, "killed by the test's SIGKILL: SIGTERM did not stop it");
      assertEquals(status.code, 130);
      assert(waited < 10_000, `took ${waited} ms after SIGTERM`);
    });
  },
});

// ---- WAV headers -----------------------------------------------------------------------------------------------

/** A mono 16-bit WAV of `samples` zeros whose header says `rate` Hz. */
function wavAt(rate: number, samples: number): Uint8Array {
  return encodeWav([new Float32Array(samples)], rate);
}

Deno.test("a WAV declaring 1 Hz (40 KB or 400 KB) or 1 MHz is refused naming its rate, before resampling", async () => {
  for (const [rate, samples] of [[1, 20_000], [1, 200_000], [999, 20_000], [1_000_000, 20_000]]) {
    let error: unknown;
    try {
      decodeWav(wavAt(rate, samples), "odd.wav");
    } catch (e) {
      error = e;
    }
    assert(error instanceof InputError, `${rate} Hz: ${error}`);
    assertMatch(error.message, new RegExp(`odd\\.wav: the header declares a sampling rate of ${rate} Hz`));
  }
  // the edges are real rates
  assertEquals(decodeWav(wavAt(1_000, 10), "lo.wav").sampleRate, 1_000);
  assertEquals(decodeWav(wavAt(384_000, 10), "hi.wav").sampleRate, 384_000);
  await withTemp(async (dir, env) => {
    await writeRepo(`${dir}/cls`, toneAudioClassifier());
    await Deno.writeFile(`${dir}/slow.wav`, wavAt(1, 200_000)); // 400 KB: 3.2 G samples at 16 kHz
    const r = await runBounded(["run", "cls/model.onnx", "--audio", "slow.wav", "-p", "cpu"], env);
    assertInputError(r, 2, /error: slow\.wav: the header declares a sampling rate of 1 Hz/);
  });
});

Deno.test("a WAV whose header lies about its data length is refused; a clip over --max-audio-seconds is too", async () => {
  const wav = wavAt(16_000, 16_000);
  const lying = wav.slice();
  new DataView(lying.buffer).setUint32(40, 0x7fff_fff0, true); // the data chunk claims 2 GB
  let error: unknown;
  try {
    decodeWav(lying, "lying.wav");
  } catch (e) {
    error = e;
  }
  assert(error instanceof InputError);
  assertMatch(error.message, /lying\.wav: truncated: the data chunk declares 2147483632 bytes but 32000 follow/);

  await withTemp(async (dir, env) => {
    await writeRepo(`${dir}/cls`, toneAudioClassifier());
    await Deno.writeFile(`${dir}/three.wav`, encodeWav([sine(440, 8_000, 3)], 8_000));
    await Deno.writeFile(`${dir}/lying.wav`, lying);
    const liar = await runBounded(["run", "cls/model.onnx", "--audio", "lying.wav", "-p", "cpu"], env);
    assertInputError(liar, 2, /lying\.wav: truncated/);
    const long = await runBounded(
      ["run", "cls/model.onnx", "--audio", "three.wav", "-p", "cpu", "--max-audio-seconds", "2"],
      env,
    );
    assertInputError(long, 2, /three\.wav: 3\.0 s of audio is longer than the limit of 2 s/);
    const ok = await runBounded(["run", "cls/model.onnx", "--audio", "three.wav", "-p", "cpu", "--json"], env);
    assertEquals(ok.code, 0, ok.stderr);
    // the library (and the server, through it) takes the same bound as a pipeline option
    const pipe = await loadPipeline(`${dir}/cls/model.onnx`, { provider: "cpu", maxAudioSeconds: 2 });
    try {
      const clip = { name: "three.wav", bytes: await Deno.readFile(`${dir}/three.wav`) };
      let refused: unknown;
      await pipe.run({ kind: "audio", clips: [clip] }).catch((e) => refused = e);
      assert(refused instanceof InputError, String(refused));
    } finally {
      await pipe.dispose();
    }
  });
});

// ---- tensors ---------------------------------------------------------------------------------------------------

Deno.test("tensor shapes: [0, 1e15], 2^40 elements, negative or fractional dims are exit 2 naming the input", async () => {
  await withTemp(async (dir, env) => {
    await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", "n"]));
    const cases: [string, RegExp][] = [
      ['{"x": {"data": [], "shape": [0, 1e15]}}', /input "x": shape \[0, 1000000000000000\] asks for more than/],
      ['{"x": {"data": [], "shape": [1048576, 1048576, 0]}}', /input "x": shape .* asks for more than 268,435,456/],
      ['{"x": {"data": [], "shape": [0, -1]}}', /input "x": dimension 1 is -1/],
      ['{"x": {"data": [], "shape": [0, 1.5]}}', /input "x": dimension 1 is 1\.5/],
    ];
    for (const [input, pattern] of cases) {
      assertInputError(await runBounded(["run", "id.onnx", "--input", input], env), 2, pattern);
    }
    // a .npy header with the same shape is refused by its reader too
    const npy = writeNpy({ dtype: "float32", shape: [0, 3], data: new Float32Array(0) });
    const header = new TextDecoder().decode(npy.subarray(10)).replace("(0, 3),", "(0, 999999999999999),");
    const lying = new Uint8Array([...npy.subarray(0, 10), ...new TextEncoder().encode(header)]);
    new DataView(lying.buffer).setUint16(8, lying.length - 10, true);
    await Deno.writeFile(`${dir}/x.npy`, lying);
    assertInputError(
      await runBounded(["run", "id.onnx", "--input-npy", "x=x.npy"], env),
      2,
      /x\.npy: shape .* asks for more than/,
    );
  });
  // the library's own run checks the same before onnxruntime sees it (the server's path)
  const session = await loadModel(buildModel(identityModel("float32", ["batch", "n"])), { provider: "cpu" });
  try {
    let error: unknown;
    await session.run({ x: { dtype: "float32", shape: [0, 1e15], data: new Float32Array(0) } }).catch((e) => error = e);
    assert(error instanceof InputError, String(error));
    // the fixed dims and the rank of the model's declaration are checked too
    const fixed = await loadModel(buildModel(identityModel("float32", [2, 3])), { provider: "cpu" });
    try {
      for (const shape of [[2, 4], [2, 3, 1], [0, 3]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        let e2: unknown;
        await fixed.run({ x: { dtype: "float32", shape, data: new Float32Array(n) } }).catch((e) => e2 = e);
        assert(e2 instanceof InputError, `${shape}: ${e2}`);
      }
    } finally {
      await fixed.dispose();
    }
  } finally {
    await session.dispose();
  }
});

Deno.test('strings with a NUL, which onnxruntime-node would cut ("a\\0b" → "a"), are refused naming the input', async () => {
  // the premise: onnxruntime-node really does cut at the NUL (if a release keeps it, this check can go)
  const session = await loadModel(buildModel(identityModel("string", ["batch"])), { provider: "cpu" });
  try {
    const cut = await session.run({ x: { dtype: "string", shape: [1], data: ["a\u0000b"] } }, { validate: false });
    assertEquals(cut.y.data, ["a"]);
    let error: unknown;
    await session.run({ x: { dtype: "string", shape: [2], data: ["ok", "a\u0000b"] } }).catch((e) => error = e);
    assert(error instanceof InputError, String(error));
    assertMatch(error.message, /input "x": element 1 holds a NUL character/);
  } finally {
    await session.dispose();
  }
  await withTemp(async (dir, env) => {
    await writeModel(`${dir}/s.onnx`, identityModel("string", ["batch"]));
    assertInputError(
      await runBounded(["run", "s.onnx", "--input", '{"x": ["a\\u0000b"]}'], env),
      2,
      /input "x": element 0 holds a NUL character/,
    );
    // a .npy keeps a NUL inside a string (numpy drops only the trailing padding), so it is refused too
    const npy = writeNpy({ dtype: "string", shape: [1], data: ["a\u0000b"] });
    assertEquals(readNpy(npy).data, ["a\u0000b"]);
    await Deno.writeFile(`${dir}/s.npy`, npy);
    assertInputError(
      await runBounded(["run", "s.onnx", "--input-npy", "x=s.npy"], env),
      2,
      /input "x": element 0 holds a NUL character/,
    );
    const ok = await runBounded(["run", "s.onnx", "--input", '{"x": ["a b", "é"]}', "--json"], env);
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(JSON.parse(ok.stdout).outputs.y.data, ["a b", "é"]);
  });
});

/**
 * numpy 2.4.6's `numpy.array([v], dtype=numpy.float64).astype(numpy.float16).view(numpy.uint16)` for each `v`:
 * ties, values one ulp of a double off a tie, the largest half, the overflow edge, subnormals.
 */
const NUMPY_FLOAT16: [number, number][] = [
  [2049.0000000000005, 26625],
  [2049.0, 26624],
  [2051.0, 26626],
  [1.00048828125, 15360],
  [1.0004882812509095, 15361],
  [1.0004882812500002, 15361],
  [65504.0, 31743],
  [65519.99999999999, 31743],
  [65520.0, 31744],
  [1000000.0, 31744],
  [5.960464477539063e-08, 1],
  [2.9802322387695312e-08, 0],
  [2.9802322388562674e-08, 1],
  [4.470348358154297e-08, 1],
  [6.097555160522461e-05, 1023],
  [0.1, 11878],
  [0.3333333333333333, 13653],
  [-2049.0000000000005, 59393],
  [1e-10, 0],
  [3.05175790344947e-05, 512],
];

Deno.test("float16 from JSON is rounded once, from the double, as numpy rounds it (2049.0000000000005 → 2050)", async () => {
  assertEquals(
    Array.from(toFloat16Bits(NUMPY_FLOAT16.map(([v]) => v))),
    NUMPY_FLOAT16.map(([, bits]) => bits),
  );
  const t = tensorFromJson("x", NUMPY_FLOAT16.map(([v]) => v), {
    info: { name: "x", dtype: "float16", shape: ["n"] },
  });
  assertEquals(Array.from(t.data as Uint16Array), NUMPY_FLOAT16.map(([, bits]) => bits));
  assertEquals(Array.from(toFloat16Bits([NaN, -0, -Infinity])), [0x7e00, 0x8000, 0xfc00]);
  await withTemp(async (dir, env) => {
    await writeModel(`${dir}/h.onnx`, identityModel("float16", ["n"]));
    const r = await runBounded(["run", "h.onnx", "--input", '{"x": [2049.0000000000005, 0.1]}', "--json"], env);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.stdout).outputs.y.data, [2050, 0.1]);
    assertEquals(fromFloat16Bits(Uint16Array.of(26625))[0], 2050);
  });
});

// ---- tokenizer.json --------------------------------------------------------------------------------------------

const WORDS = { "[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, good: 4, bad: 5, film: 6 };

/** A WordLevel tokenizer.json with `model` replaced, and `extra` top-level fields. */
function tokenizerWith(model: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: "Whitespace" },
    post_processor: null,
    decoder: null,
    model,
    ...extra,
  };
}

/**
 * Malformed tokenizer.json files and the field gpux names. Python `tokenizers` 0.23.2
 * (`Tokenizer.from_str`) refuses every one of them too (checked once by hand: "invalid type: sequence, expected a
 * map", "Missing vocab/merges", "missing field `id`", "UnkIdNotInVocabulary", …).
 */
const MALFORMED_TOKENIZERS: [string, Record<string, unknown>, RegExp][] = [
  [
    "WordLevel vocabulary as a list",
    tokenizerWith({ type: "WordLevel", vocab: Object.keys(WORDS), unk_token: "[UNK]" }),
    /model\.vocab must be a map \{token: id\} for a WordLevel model, got a list/,
  ],
  [
    "WordLevel without vocab",
    tokenizerWith({ type: "WordLevel", unk_token: "[UNK]" }),
    /model\.vocab is missing/,
  ],
  [
    "WordLevel without unk_token",
    tokenizerWith({ type: "WordLevel", vocab: WORDS }),
    /model\.unk_token must be a string/,
  ],
  [
    "BPE vocabulary as a list",
    tokenizerWith({ type: "BPE", vocab: ["a", "b"], merges: [] }),
    /model\.vocab must be a map/,
  ],
  ["BPE without merges", tokenizerWith({ type: "BPE", vocab: { a: 0, b: 1, ab: 2 } }), /model\.merges is missing/],
  [
    "BPE merge of a token not in the vocabulary",
    tokenizerWith({ type: "BPE", vocab: { a: 0, b: 1 }, merges: ["a c"] }),
    /model\.merges\[0\] uses "c", which is not in model\.vocab/,
  ],
  [
    "BPE ids as strings",
    tokenizerWith({ type: "BPE", vocab: { a: "0" }, merges: [] }),
    /model\.vocab\["a"\] must be a token id/,
  ],
  [
    "WordPiece vocabulary as a list",
    tokenizerWith({ type: "WordPiece", vocab: ["a"], unk_token: "[UNK]" }),
    /model\.vocab must be a map/,
  ],
  [
    "Unigram vocabulary as a map",
    tokenizerWith({ type: "Unigram", vocab: { a: 0 }, unk_id: 0 }),
    /model\.vocab must be a list of \[token, score\] pairs/,
  ],
  [
    "Unigram unk_id outside the vocabulary",
    tokenizerWith({ type: "Unigram", vocab: [["a", -1]], unk_id: 5 }),
    /model\.unk_id must be an index into model\.vocab/,
  ],
  ["an unknown model type", tokenizerWith({ type: "Foo", vocab: {} }), /model\.type must be one of BPE/],
  ["no model", { version: "1.0", added_tokens: [] }, /tokenizer\.json: model is missing/],
  [
    "added_tokens as strings",
    tokenizerWith({ type: "WordLevel", vocab: WORDS, unk_token: "[UNK]" }, { added_tokens: ["[CLS]"] }),
    /added_tokens\[0\] must be a map/,
  ],
  [
    "an added token without id",
    tokenizerWith({ type: "WordLevel", vocab: WORDS, unk_token: "[UNK]" }, {
      added_tokens: [{ content: "[CLS]", special: true }],
    }),
    /added_tokens\[0\]\.id must be a token id/,
  ],
];

Deno.test("a tokenizer.json of the wrong shape (a list for a map, missing merges, …) is refused naming the field", async () => {
  const { loadTokenizer } = await import("../src/processing/tokenizer.ts");
  await withTemp(async (dir, env) => {
    const good = tokenizerWith({ type: "WordLevel", vocab: WORDS, unk_token: "[UNK]" });
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(good));
    const tokenizer = await loadTokenizer(`${dir}/tokenizer.json`);
    assertEquals(tokenizer.tokenToId("film"), 6);
    for (const [what, json, pattern] of MALFORMED_TOKENIZERS) {
      await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
      let error: unknown;
      await loadTokenizer(`${dir}/tokenizer.json`).catch((e) => error = e);
      assert(error instanceof InputError, `${what}: loaded (${error})`);
      assertMatch(error.message, pattern, what);
    }
    // through the CLI: a text classifier whose tokenizer has its vocabulary as a list
    const { classifierRepo } = await import("./support/text_models.ts");
    const repo = classifierRepo(MALFORMED_TOKENIZERS[0][1], {});
    await writeRepo(`${dir}/cls`, repo);
    const r = await runBounded(["run", "cls/onnx/model.onnx", "--text", "good film", "-p", "cpu"], env);
    assertInputError(r, 2, /tokenizer\.json: model\.vocab must be a map \{token: id\}/);
  });
});

// ---- preprocessor_config.json ----------------------------------------------------------------------------------

Deno.test("a preprocessor size of 100000×100000, or a resize of a thin image past 8192², is exit 2 naming it", async () => {
  const { tinyImageClassifier } = await import("./support/media_models.ts");
  const { rgbPng } = await import("./support/image_fixtures.ts");
  await withTemp(async (dir, env) => {
    const solid = (width: number, height: number) => ({ width, height, data: new Uint8Array(width * height * 3) });
    await Deno.writeFile(`${dir}/dot.png`, await rgbPng(solid(9, 9)));
    await Deno.writeFile(`${dir}/thin.png`, await rgbPng(solid(1, 10)));
    const repo = tinyImageClassifier();
    const processor = JSON.parse(repo["preprocessor_config.json"] as string);
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ size: { height: 100000, width: 100000 } }, "dot.png", /size\.width is 100000 pixels, more than the 8192/],
      [{ size: { shortest_edge: 100000 } }, "dot.png", /size\.shortest_edge is 100000 pixels/],
      [{ crop_size: { height: 50000, width: 8 } }, "dot.png", /crop_size\.height is 50000 pixels/],
      [{ size: { shortest_edge: 224 }, crop_pct: 1e-9 }, "dot.png", /size \/ crop_pct is 224000000000 pixels/],
      [{ size: { shortest_edge: 224 }, crop_pct: 0 }, "dot.png", /crop_pct must be a fraction in \(0, 1\]/],
      [{ size: { shortest_edge: 8192 } }, "thin.png", /would be resized to 8192×81920 pixels, more than the 8192×8192/],
    ];
    for (const [change, image, pattern] of cases) {
      await writeRepo(`${dir}/img`, {
        ...repo,
        "preprocessor_config.json": JSON.stringify({ ...processor, ...change }),
      });
      const r = await runBounded(["run", "img/onnx/model.onnx", "--image", image, "-p", "cpu"], env);
      assertInputError(r, 2, pattern);
    }
  });
});

// ---- the native image decoder under the sandbox ----------------------------------------------------------------

Deno.test("under deno task gpux, the native decoder loads: a CMYK JPEG and an animated WebP are classified", async () => {
  const { tinyImageClassifier } = await import("./support/media_models.ts");
  const sharp = (await import("sharp")).default;
  await withTemp(async (dir, env) => {
    await writeRepo(`${dir}/img`, tinyImageClassifier());
    const red = { create: { width: 12, height: 9, channels: 3 as const, background: { r: 240, g: 10, b: 10 } } };
    await Deno.writeFile(`${dir}/cmyk.jpg`, await sharp(red).toColourspace("cmyk").jpeg().toBuffer());
    const frames = [
      await sharp(red).png().toBuffer(),
      await sharp({ create: { ...red.create, background: "blue" } }).png().toBuffer(),
    ];
    // two frames, red then blue: the first frame is the image, as Pillow opens it
    await Deno.writeFile(
      `${dir}/anim.webp`,
      await sharp(frames, { join: { animated: true } }).webp({ loop: 0, lossless: true }).toBuffer(),
    );
    assertEquals((await sharp(`${dir}/anim.webp`).metadata()).pages, 2);
    for (const image of ["cmyk.jpg", "anim.webp"]) {
      const r = await runBounded(["run", "img/onnx/model.onnx", "--image", image, "-p", "cpu", "--top-k", "1"], env);
      assertEquals(r.code, 0, `${image}: ${r.stderr}`);
      assertMatch(r.stdout, /^red 0\.\d+/, image);
    }
  });
});

// ---- package archives (runtime install --from) -----------------------------------------------------------------

Deno.test("archives whose headers lie (zip directory past the end, a deflate bomb, a 8 GiB tar entry) are refused", async () => {
  const { buildTgz, buildZip } = await import("./support/package_server.ts");
  const { extractTarGz, extractZip } = await import("../src/runtime_install/archive.ts");
  const { IntegrityError } = await import("../src/errors.ts");
  await withTemp(async (dir) => {
    const refused = async (run: () => Promise<unknown>, pattern: RegExp) => {
      let error: unknown;
      await run().catch((e) => error = e);
      assert(error instanceof IntegrityError, String(error));
      assertMatch(error.message, pattern);
    };
    const take = (e: string) => e === "lib.so" ? "lib.so" : undefined;
    const zip = await buildZip({ "lib.so": new Uint8Array(4 * 1024 * 1024) }); // 4 MiB of zeros deflate to ~4 KB
    const eocd = zip.length - 22;
    // the end record claims a 2 GB central directory
    const bigDir = zip.slice();
    new DataView(bigDir.buffer).setUint32(eocd + 12, 0x7fff_ffff, true);
    await Deno.writeFile(`${dir}/dir.zip`, bigDir);
    await refused(() => extractZip(`${dir}/dir.zip`, take, dir), /central directory lies beyond the end of the file/);
    // the entry says it inflates to 100 bytes: extraction stops there, not after 4 MiB
    const bomb = zip.slice();
    const central = new DataView(bomb.buffer).getUint32(eocd + 16, true);
    new DataView(bomb.buffer).setUint32(central + 24, 100, true);
    await Deno.writeFile(`${dir}/bomb.zip`, bomb);
    await refused(() => extractZip(`${dir}/bomb.zip`, take, dir), /inflates to more than the 100 bytes it declares/);
    const written = await Deno.stat(`${dir}/lib.so`).then((s) => s.size, () => 0);
    assert(written <= 1024 * 1024, `${written} bytes were written`);
    // a tar header claiming an 8 GiB entry
    const tgz = await buildTgz({ "package/lib.so": new Uint8Array(512) });
    const tar = new Uint8Array(
      await new Response(
        new Blob([tgz as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip")),
      ).arrayBuffer(),
    );
    tar.set(new TextEncoder().encode("77777777777\0"), 124);
    let sum = 0;
    tar.fill(0x20, 148, 156);
    for (let i = 0; i < 512; i++) sum += tar[i];
    tar.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    const regz = new Uint8Array(
      await new Response(new Blob([tar]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
    );
    await Deno.writeFile(`${dir}/big.tgz`, regz);
    await refused(() => extractTarGz(`${dir}/big.tgz`, () => "x", dir), /declares 8589934591 bytes, more than/);
  });
});

Deno.test("gpux login reads at most 64 KiB of token from stdin (login < /dev/zero ends, exit 2)", async () => {
  await withTemp(async (dir, env) => {
    const child = cliCommand(["login"], { env: { ...env, HF_TOKEN_PATH: `${dir}/token` }, stdin: "" }).spawn();
    const writer = child.stdin.getWriter();
    // an endless stream, as /dev/zero: keep writing until the child stops reading
    const feeding = (async () => {
      for (let i = 0; i < 10_000; i++) await writer.write(new Uint8Array(64 * 1024));
    })().catch(() => {});
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const out = await child.output();
    clearTimeout(timer);
    await feeding;
    const stderr = new TextDecoder().decode(out.stderr);
    assertInputError(
      { code: out.code, stdout: "", stderr },
      2,
      /the token on stdin: larger than the limit of 64 KiB/,
    );
  });
});

Deno.test("the resampler keeps kernels for a few rate pairs only (a server fed many odd rates does not grow)", async () => {
  const { cachedKernelCount, resample } = await import("../src/processing/audio_resample.ts");
  for (let rate = 44_001; rate < 44_041; rate += 2) resample(new Float32Array(100), rate, 16_000);
  assert(cachedKernelCount() <= 8, `${cachedKernelCount()} kernels cached`);
  // and a cached pair still gives the same samples
  const clip = sine(440, 44_100, 0.05);
  assertEquals(resample(clip, 44_100, 16_000), resample(clip, 44_100, 16_000));
});

Deno.test("gpux serve answers the same inputs with 400 naming the problem, and stays up", async () => {
  const { running, startServe } = await import("./support/serve_process.ts");
  await withTemp(async (dir, env) => {
    await writeRepo(`${dir}/tones`, toneAudioClassifier());
    await writeRepo(`${dir}/id`, { "model.onnx": buildModel(identityModel("float32", ["batch", "n"])) });
    await writeRepo(`${dir}/s`, { "model.onnx": buildModel(identityModel("string", ["batch"])) });
    const server = running(
      await startServe([`${dir}/tones`, `${dir}/id`, `${dir}/s`, "--provider", "cpu", "--port", "0", "--quiet"], {
        env,
      }),
    );
    try {
      const post = async (model: string, body: unknown) => {
        const r = await fetch(`${server.url}/models/${model}/predict`, { method: "POST", body: JSON.stringify(body) });
        return { status: r.status, text: await r.text() };
      };
      const b64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
      const slow = await post("tones", { audio: b64(wavAt(1, 20_000)) });
      assertEquals(slow.status, 400, slow.text);
      assertMatch(slow.text, /sampling rate of 1 Hz/);
      const huge = await post("id", { x: { data: [], shape: [0, 1e15] } });
      assertEquals(huge.status, 400, huge.text);
      assertMatch(huge.text, /asks for more than 268,435,456 elements/);
      const nul = await post("s", { x: ["a\u0000b"] });
      assertEquals(nul.status, 400, nul.text);
      assertMatch(nul.text, /NUL character/);
      const good = await post("tones", { audio: b64(encodeWav([sine(1500, 16_000, 0.5)], 16_000)) });
      assertEquals(good.status, 200, good.text);
      assertMatch(good.text, /high tone/);
    } finally {
      await server.stop();
    }
  });
});

Deno.test({
  name: "a command stuck where it cannot see the signal (a cache ref that is a FIFO) still ends 5 s after SIGTERM",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withTemp(async (dir, env) => {
      // a hostile cache: refs/main of org/stuck is a FIFO, which opening blocks on until a writer comes
      const repo = `${dir}/hub/models--org--stuck`;
      await Deno.mkdir(`${repo}/refs`, { recursive: true });
      await Deno.mkdir(`${repo}/snapshots`, { recursive: true });
      assertEquals((await new Deno.Command("mkfifo", { args: [`${repo}/refs/main`] }).output()).code, 0);
      const child = cliCommand(["run", "org/stuck", "--input", '{"x": [[1, 2, 3]]}'], { env }).spawn();
      await new Promise((r) => setTimeout(r, 3000)); // started, and blocked opening the FIFO
      const sent = performance.now();
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const out = await child.output();
      clearTimeout(timer);
      const waited = performance.now() - sent;
      assertEquals(out.signal, null, `killed by the test's SIGKILL: ${new TextDecoder().decode(out.stderr)}`);
      assertEquals(out.code, 130);
      assert(waited < 12_000, `took ${waited} ms after SIGTERM`);
    });
  },
});

Deno.test("a model's audio settings are bounded as a file's are: sampling_rate, n_fft, n_samples", async () => {
  const { logMelSpecFromConfig } = await import("../src/processing/audio_log_mel.ts");
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ sampling_rate: 1_000_000_000 }, /sampling_rate is 1000000000 Hz, outside the 1–384 kHz/],
    [{ n_fft: 10_000_000 }, /n_fft is 10000000, more than the 65536/],
    [{ chunk_length: 100_000 }, /n_samples \(chunk_length × sampling_rate\) is 1600000000, more than/],
    [{ n_samples: 1e12 }, /n_samples .* is 1000000000000, more than/],
  ];
  for (const [config, pattern] of cases) {
    let error: unknown;
    try {
      logMelSpecFromConfig({ feature_extractor_type: "WhisperFeatureExtractor", ...config });
    } catch (e) {
      error = e;
    }
    assert(error instanceof InputError, `${JSON.stringify(config)}: ${error}`);
    assertMatch(error.message, pattern);
  }
  assertEquals(logMelSpecFromConfig({}).nSamples, 480_000); // Whisper's defaults pass
  // a wav2vec2-style processor declaring 1 GHz: the CLI refuses it before any clip is resampled
  await withTemp(async (dir, env) => {
    const repo = toneAudioClassifier();
    const processor = JSON.parse(repo["preprocessor_config.json"] as string);
    await writeRepo(`${dir}/cls`, {
      ...repo,
      "preprocessor_config.json": JSON.stringify({ ...processor, sampling_rate: 1_000_000_000 }),
    });
    await Deno.writeFile(`${dir}/a.wav`, encodeWav([sine(440, 16_000, 0.1)], 16_000));
    const r = await runBounded(["run", "cls/model.onnx", "--audio", "a.wav", "-p", "cpu"], env);
    assertInputError(r, 2, /preprocessor_config\.json: sampling_rate is 1000000000 Hz/);
  });
});

Deno.test("a batch padded by 300,000 tokens, or of many clips, is built without spreading them as arguments", async () => {
  const { loadTokenizer } = await import("../src/processing/tokenizer.ts");
  await withTemp(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/tokenizer.json`,
      JSON.stringify(tokenizerWith({ type: "WordLevel", vocab: WORDS, unk_token: "[UNK]" })),
    );
    const tokenizer = await loadTokenizer(`${dir}/tokenizer.json`);
    const long = "good ".repeat(300_000);
    for (const side of ["right", "left"] as const) {
      const batch = tokenizer.encodeBatch([long, "bad film"], { padding: true, paddingSide: side });
      assertEquals(batch.inputIds[1].length, 300_000);
      const row = batch.inputIds[1];
      const mask = batch.attentionMask[1];
      const real = side === "right" ? [0, 1] : [299_998, 299_999];
      assertEquals(real.map((i) => row[i]), [5, 6], side);
      assertEquals(mask.reduce((a, b) => a + b, 0), 2);
      assertEquals(batch.offsets[1][real[1]], [4, 8]);
    }
  });
  // 200,000 clips in one batch (as a server request could carry): no RangeError from Math.max(...lengths)
  const { audioFeeds } = await import("../src/processing/audio_features.ts");
  const wav = encodeWav([new Float32Array(2)], 16_000);
  const clips = Array.from({ length: 200_000 }, (_, i) => ({ name: `c${i}.wav`, bytes: wav }));
  const state = {
    spec: { samplingRate: 16_000, normalize: false, paddingValue: 0 },
    input: { name: "input_values", dtype: "float32" as const, shape: ["batch", "samples"] },
  };
  const { feeds } = audioFeeds({ kind: "audio", clips }, state);
  assertEquals(feeds.input_values.shape, [200_000, 2]);
});
