/**
 * Whisper against PyTorch on the same weights (tests/support/whisper_fixtures.ts): a tiny random
 * WhisperForConditionalGeneration with the real multilingual token layout, an espeak-ng sentence through gpux's WAV
 * reader, log-mel front end and the encoder-decoder loop gives PyTorch's ids for transcribe, timestamps, language
 * detection and translate; the long-form merge reproduces transformers' chunked pipeline on the windows it decoded;
 * srt/vtt/json are written as whisper.cpp writes them.
 */
import assert from "node:assert/strict";
import { InputError } from "../src/errors.ts";
import { loadTokenizer } from "../src/processing/tokenizer.ts";
import { decodeWav, mixToMono } from "../src/processing/audio_wav.ts";
import { WhisperLogitsRules } from "../src/generation/whisper_logits.ts";
import { mergeOverlapping, mergeWindows, timestampSegments, windowPass } from "../src/generation/whisper_segments.ts";
import { readWhisperTokens, whisperLanguage, whisperPrompt } from "../src/generation/whisper_tokens.ts";
import { createWhisper, loadWhisper, whisperWindows } from "../src/generation/whisper_transcription.ts";
import { loadSeq2SeqParts } from "../src/generation/seq2seq_generation.ts";
import { formatTimestamp, writeTranscript } from "../src/generation/whisper_writers.ts";
import { isWhisper, loadPipeline } from "../src/generation/load_pipeline.ts";
import { readWhisperGoldens, whisperFixture } from "./support/whisper_fixtures.ts";
import { runCli } from "./support/cli.ts";
import { startHubServer } from "./support/hub_server.ts";
import { type RepoFiles, toneCtcModel, writeRepo } from "./support/media_models.ts";

async function fixtureTokens() {
  const dir = await whisperFixture();
  const config = JSON.parse(await Deno.readTextFile(`${dir}/generation_config.json`));
  return { dir, tokens: readWhisperTokens(config) };
}

Deno.test("whisper: the decoder prompt and language codes come from generation_config.json", async () => {
  const { tokens } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  for (const c of goldens.cases.filter((c) => c.language !== null)) {
    assert.deepEqual(
      whisperPrompt(tokens, { language: c.language!, task: c.task, timestamps: c.return_timestamps }),
      c.prompt_ids,
      c.id,
    );
  }
  assert.equal(tokens.timestampBegin, goldens.vocab.timestamp_begin);
  assert.equal(tokens.languages.size, 99);
  assert.equal(whisperLanguage(tokens, "<|DE|>"), "de");
  assert.equal(whisperLanguage(tokens, "auto"), undefined);
  assert.throws(() => whisperLanguage(tokens, "klingon"), InputError);
});

/** The pipeline's chunks as gpux's segments: an unopened chunk starts where the previous one ended. */
function pipelineSegments(chunks: { text: string; timestamp: [number | null, number | null] }[]) {
  let previousEnd = 0;
  return chunks.map((c) => {
    const start = c.timestamp[0] ?? previousEnd;
    previousEnd = c.timestamp[1] ?? start;
    return { text: c.text, timestamp: [start, c.timestamp[1]] as [number, number | null] };
  });
}

Deno.test("whisper: espeak-ng speech gives PyTorch's ids (transcribe, timestamps, detection, translate)", async () => {
  const { dir, tokens } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const whisper = await loadWhisper(dir, { intraOpThreads: 1 });
  const tokenizer = await loadTokenizer(dir);
  try {
    const wav = await Deno.readFile(`${dir}/audio/speech.wav`);
    for (const c of goldens.cases) {
      const result = await whisper.transcribeWav(wav, "speech.wav", {
        language: c.language ?? undefined,
        task: c.task,
        timestamps: c.return_timestamps,
        maxNewTokens: goldens.max_new_tokens,
      });
      assert.equal(result.windows.length, 1);
      assert.deepEqual(result.windows[0].promptIds, c.prompt_ids, `${c.id}: prompt`);
      assert.deepEqual(result.windows[0].generatedIds, c.new_ids, `${c.id}: ids`);
      assert.equal(result.text, c.text, `${c.id}: text`);
      if (c.detected_language) {
        assert.equal(result.detected?.language, c.detected_language);
        assert.equal(result.language, c.detected_language);
      }
      if (c.offsets) {
        // the closed pairs are the tokenizer's offsets; text after the last pair is an open segment (end null)
        assert.ok(c.offsets.length > 0);
        assert.deepEqual(
          timestampSegments(c.new_ids, tokens, (ids) => tokenizer.decode(ids)).map((s) => s.text),
          c.offsets.map((o) => o.text),
        );
        // the segments are the chunked pipeline's chunks on the clip (its merge of every pass, not the offsets)
        assert.deepEqual(result.segments, pipelineSegments(c.pipeline.chunks!));
      }
      assert.equal(result.text, c.pipeline.text, `${c.id}: the pipeline's text`);
    }
  } finally {
    await whisper.dispose();
  }
  assert.ok(tokens.suppress.length > 0);
});

Deno.test("whisper: without suppress_tokens the ids differ (the rule is exercised)", async () => {
  const { dir } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const c = goldens.cases.find((c) => c.id === "transcribe_en")!;
  const config = JSON.parse(await Deno.readTextFile(`${dir}/generation_config.json`));
  const copy = await Deno.makeTempDir();
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile) await Deno.copyFile(`${dir}/${e.name}`, `${copy}/${e.name}`);
    }
    await Deno.mkdir(`${copy}/onnx`);
    for await (const e of Deno.readDir(`${dir}/onnx`)) {
      await Deno.copyFile(`${dir}/onnx/${e.name}`, `${copy}/onnx/${e.name}`);
    }
    await Deno.writeTextFile(`${copy}/generation_config.json`, JSON.stringify({ ...config, suppress_tokens: [] }));
    const whisper = await loadWhisper(copy, { intraOpThreads: 1 });
    try {
      const result = await whisper.transcribeWav(await Deno.readFile(`${dir}/audio/speech.wav`), "speech.wav", {
        language: "en",
        maxNewTokens: goldens.max_new_tokens,
      });
      assert.notDeepEqual(result.windows[0].generatedIds, c.new_ids);
    } finally {
      await whisper.dispose();
    }
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("whisper: timestamp rules — pairs, monotonic, initial timestamp, no <|notimestamps|>", async () => {
  const { tokens } = await fixtureTokens();
  const rules = new WhisperLogitsRules(tokens, { timestamps: true });
  const vocab = tokens.timestampBegin + 1501;
  const b = tokens.timestampBegin;
  // first step: only timestamps up to max_initial_timestamp_index
  let logits = new Float32Array(vocab).fill(1);
  rules.apply(logits, []);
  assert.equal(logits[5], -Infinity);
  assert.equal(logits[b], 1);
  assert.equal(logits[b + tokens.maxInitialTimestampIndex!], 1);
  assert.equal(logits[b + tokens.maxInitialTimestampIndex! + 1], -Infinity);
  assert.equal(logits[tokens.noTimestamps], -Infinity);
  // after <|1.00|> text: text or timestamps ≥ 1.00 + 1 step (a lone timestamp then text)
  logits = new Float32Array(vocab).fill(0);
  logits[5] = 50; // text much likelier than any timestamp
  rules.apply(logits, [b + 50, 5]);
  assert.equal(logits[b + 50], -Infinity);
  assert.equal(logits[b + 51], 0);
  // a lone timestamp after text: no text next (its pair or the end)
  logits = new Float32Array(vocab).fill(0);
  logits[tokens.endOfText] = 50;
  rules.apply(logits, [b + 50, 5, b + 60]);
  assert.equal(logits[5], -Infinity);
  assert.equal(logits[tokens.endOfText], 50);
  assert.equal(logits[b + 59], -Infinity);
  assert.equal(logits[b + 60], 0);
  // a closed pair: no timestamp next
  logits = new Float32Array(vocab).fill(0);
  rules.apply(logits, [b + 50, 5, b + 60, b + 60]);
  assert.equal(logits[b + 70], -Infinity);
  // the timestamps' total probability beats the best text token: text banned
  logits = new Float32Array(vocab).fill(0);
  logits[5] = 3; // e^3 ≈ 20 < 1451 timestamps of e^0
  rules.apply(logits, [b, 5]);
  assert.equal(logits[5], -Infinity);
});

Deno.test("whisper: the long-form merge reproduces transformers' chunked pipeline on its windows", async () => {
  const { dir, tokens } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const tokenizer = await loadTokenizer(dir);
  const decode = (ids: number[]) => tokenizer.decode(ids);
  for (const [key, timestamps] of [["plain", false], ["timestamps", true]] as const) {
    const run = goldens.long[key];
    assert.ok(run.chunk_tokens.length >= 3, "several windows");
    const merged = mergeWindows(
      run.chunk_tokens.map((ids, i) => ({ ids, stride: run.strides[i] })),
      tokens,
      decode,
      { timestamps },
    );
    assert.equal(merged.text, run.text, key);
    if (timestamps) {
      assert.deepEqual(
        merged.chunks.map((c) => ({ text: c.text, timestamp: c.timestamp })),
        run.chunks,
      );
    }
  }
});

Deno.test("whisper: recordings of 29.9 to 121.3 s (30.01, 70.01: a last window just past the previous) are cut into transformers' chunk_iter windows", async () => {
  const goldens = await readWhisperGoldens();
  const lengths = goldens.window_cuts.map((c) => c.seconds);
  for (const s of [29.9, 30, 45, 55, 70, 75, 90.5]) assert.ok(lengths.includes(s), `${s} s has a golden`);
  for (const c of goldens.window_cuts) {
    assert.deepEqual(whisperWindows(c.samples, 480000, 80000), c.windows, `${c.seconds} s`);
  }
  // a recording of one window or less: one window, no strides
  assert.deepEqual(goldens.window_cuts.find((c) => c.seconds === 29.9)!.windows, [[0, 478400, 0, 0]]);
  assert.ok(goldens.window_cuts.some((c) => c.windows.at(-1)![1] - c.windows.at(-1)![0] < 480000), "a short last");
});

Deno.test("whisper: a pass that ends inside a segment is cut at its last timestamp pair and decoded again from it", () => {
  const b = 100; // timestamp_begin: <|t|> is b + t / 0.02
  // no pair: everything kept, the window is done (single timestamps do not count)
  assert.deepEqual(windowPass([1, 2, b + 50, 3], b), { kept: [1, 2, b + 50, 3] });
  // a lone timestamp at the end (no speech after it): done
  assert.deepEqual(windowPass([b, 1, b + 10, b + 10, 2, b + 40], b), { kept: [b, 1, b + 10, b + 10, 2, b + 40] });
  // text after the last pair: dropped, decoded again from the pair's first timestamp
  assert.deepEqual(windowPass([b, 1, b + 10, b + 12, 2, 3], b), { kept: [b, 1, b + 10, b + 12], seekSteps: 10 });
  // ending on a pair: kept, decoded again from its first timestamp (as the 75 s recording's last window)
  assert.deepEqual(windowPass([1, 2, b + 1109, b + 455], b), { kept: [1, 2, b + 1109, b + 455], seekSteps: 1109 });
  assert.deepEqual(windowPass([], b), { kept: [] });
});

Deno.test("whisper: overlapping windows join on their longest common run, neither dropping nor repeating", () => {
  // "a b c d e" + "d e f g": the seam words d e appear once
  assert.deepEqual(mergeOverlapping([[1, 2, 3, 4, 5], [4, 5, 6, 7]]), [1, 2, 3, 4, 5, 6, 7]);
  // no overlap of two equal tokens: plain concatenation
  assert.deepEqual(mergeOverlapping([[1, 2], [3, 4]]), [1, 2, 3, 4]);
});

Deno.test("whisper: the 75 s recording is cut into the pipeline's windows and decoded end to end, with and without timestamps", async () => {
  const { dir } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const whisper = await loadWhisper(dir, { intraOpThreads: 1 });
  try {
    const wav = await Deno.readFile(`${dir}/audio/long.wav`);
    assert.equal(goldens.long.seconds, 75);
    for (const [key, timestamps] of [["plain", false], ["timestamps", true]] as const) {
      const run = goldens.long[key];
      const result = await whisper.transcribeWav(wav, "long.wav", {
        language: "en",
        timestamps,
        maxNewTokens: goldens.long.max_new_tokens,
      });
      assert.deepEqual(result.windows.map((w) => w.stride), run.strides, key);
      // the short last window (60-75 s) ends on a timestamp pair: Whisper's generate() decodes it again from there
      assert.ok(!run.windows_one_pass, `${key}: the golden re-decodes a window`);
      assert.ok(result.windows.some((w) => w.passes > 1), key);
      assert.deepEqual(
        result.windows.map((w) => w.generatedIds.filter((id) => id !== goldens.vocab.endoftext)),
        run.chunk_tokens,
        key,
      );
      assert.equal(result.text, run.text, key);
      if (timestamps) assert.deepEqual(result.segments, pipelineSegments(run.chunks!));
    }
  } finally {
    await whisper.dispose();
  }
});

Deno.test("whisper: a last window that reaches just past the previous one (30.5 and 50.1 s) gives the pipeline's ids, text and chunks", async () => {
  const { dir } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const whisper = await loadWhisper(dir, { intraOpThreads: 1 });
  try {
    const samples = mixToMono(decodeWav(await Deno.readFile(`${dir}/audio/long.wav`), "long.wav"));
    assert.deepEqual(goldens.long.prefixes.map((p) => p.seconds), [30.5, 50.1]);
    for (const prefix of goldens.long.prefixes) {
      const part = samples.subarray(0, Math.round(prefix.seconds * 16000));
      for (const [key, timestamps] of [["plain", false], ["timestamps", true]] as const) {
        const run = prefix[key];
        const label = `${prefix.seconds} s ${key}`;
        const result = await whisper.transcribe(part, {
          language: "en",
          timestamps,
          maxNewTokens: goldens.long.max_new_tokens,
        });
        assert.deepEqual(result.windows.map((w) => w.stride), run.strides, label);
        assert.ok(run.strides.at(-1)![0] < 11, `${label}: a short last window`);
        assert.deepEqual(
          result.windows.map((w) => w.generatedIds.filter((id) => id !== goldens.vocab.endoftext)),
          run.chunk_tokens,
          label,
        );
        assert.equal(result.text, run.text, label);
        if (timestamps) assert.deepEqual(result.segments, pipelineSegments(run.chunks!), label);
      }
    }
  } finally {
    await whisper.dispose();
  }
});

Deno.test("whisper: srt, vtt, txt and json as whisper.cpp writes them", () => {
  const segments = [
    { text: " Hello there.", timestamp: [0, 1.5] as [number, number] },
    { text: " General Kenobi!", timestamp: [3661.25, 3662.004] as [number, number] },
  ];
  assert.equal(formatTimestamp(3661.25, ","), "01:01:01,250");
  assert.equal(
    writeTranscript(segments, "srt"),
    "1\n00:00:00,000 --> 00:00:01,500\n Hello there.\n\n2\n01:01:01,250 --> 01:01:02,004\n General Kenobi!\n\n",
  );
  assert.equal(
    writeTranscript(segments, "vtt"),
    "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n Hello there.\n\n01:01:01.250 --> 01:01:02.004\n General Kenobi!\n\n",
  );
  assert.equal(writeTranscript(segments, "txt"), " Hello there.\n General Kenobi!\n");
  const json = JSON.parse(writeTranscript(segments, "json", { language: "en" }));
  assert.equal(json.result.language, "en");
  assert.deepEqual(json.transcription[1], {
    timestamps: { from: "01:01:01,250", to: "01:01:02,004" },
    offsets: { from: 3661250, to: 3662004 },
    text: " General Kenobi!",
  });
});

Deno.test("whisper: loadPipeline detects Whisper (not the CTC path) and run() transcribes", async () => {
  const { dir } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const c = goldens.cases.find((c) => c.id === "transcribe_en")!;
  for (const task of [undefined, "automatic-speech-recognition"] as const) {
    await using pipeline = await loadPipeline(dir, { intraOpThreads: 1, ...(task ? { task } : {}) });
    assert.ok(isWhisper(pipeline), `task ${task}`);
    const result = await pipeline.run(await Deno.readFile(`${dir}/audio/speech.wav`), {
      language: "en",
      maxNewTokens: goldens.max_new_tokens,
    });
    assert.equal(result.kind, "whisper");
    assert.deepEqual(result.windows[0].generatedIds, c.new_ids);
    await assert.rejects(() => pipeline.run("not audio"), InputError);
  }
});

Deno.test("whisper CLI: gpux run --audio prints PyTorch's text; --language, --task, --timestamps, --format", async () => {
  const { dir } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const wav = `${dir}/audio/speech.wav`;
  const max = String(goldens.max_new_tokens);
  const byId = (id: string) => goldens.cases.find((c) => c.id === id)!;

  const plain = await runCli(["run", dir, "--audio", wav, "--language", "en", "--max-new-tokens", max, "-p", "cpu"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, `${byId("transcribe_en").text.trim()}\n`);

  const translate = await runCli([
    "run",
    dir,
    "--audio",
    wav,
    "--language",
    "en",
    "--task",
    "translate",
    "--max-new-tokens",
    max,
    "-p",
    "cpu",
  ]);
  assert.equal(translate.code, 0, translate.stderr);
  assert.equal(translate.stdout, `${byId("translate_en").text.trim()}\n`);

  const detect = await runCli(["run", dir, "--audio", wav, "--max-new-tokens", max, "-p", "cpu"]);
  assert.equal(detect.code, 0, detect.stderr);
  assert.equal(detect.stdout, `${byId("detect_language").text.trim()}\n`);
  assert.match(detect.stderr, new RegExp(`detected language ${byId("detect_language").detected_language} `));

  // the chunked pipeline's chunks on the clip; an open last one ends with the recording
  const tsCase = byId("timestamps_en");
  const seconds = ((await Deno.stat(wav)).size - 44) / 2 / 16000; // 16 kHz pcm16 after a 44-byte header
  const expected = pipelineSegments(tsCase.pipeline.chunks!).map((s) => ({
    text: s.text,
    timestamp: [s.timestamp[0], s.timestamp[1] ?? seconds] as [number, number],
  }));
  const timed = await runCli(["run", dir, "--audio", wav, "--language", "en", "--timestamps", "--max-new-tokens", max]);
  assert.equal(timed.code, 0, timed.stderr);
  assert.equal(
    timed.stdout,
    expected.map((o) =>
      `[${formatTimestamp(o.timestamp[0], ".")} --> ${formatTimestamp(o.timestamp[1], ".")}]  ${o.text.trim()}\n`
    ).join(""),
  );

  const srt = await runCli([
    "run",
    dir,
    "--audio",
    wav,
    "--language",
    "en",
    "--format",
    "srt",
    "--max-new-tokens",
    max,
  ]);
  assert.equal(srt.code, 0, srt.stderr);
  assert.equal(srt.stdout, writeTranscript(expected, "srt"));
  const vtt = await runCli([
    "run",
    dir,
    "--audio",
    wav,
    "--language",
    "en",
    "--format",
    "vtt",
    "--max-new-tokens",
    max,
  ]);
  assert.equal(vtt.stdout, writeTranscript(expected, "vtt"));
  assert.ok(vtt.stdout.startsWith("WEBVTT\n\n00:00:0"));

  const json = await runCli(["run", dir, "--audio", wav, "--language", "en", "--json", "--max-new-tokens", max]);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout).text, byId("transcribe_en").text);

  const badTask = await runCli(["run", dir, "--audio", wav, "--task", "summarize"]);
  assert.equal(badTask.code, 2);
  assert.match(badTask.stderr, /a Whisper model transcribes or translates/);
  const badFormat = await runCli(["run", dir, "--audio", wav, "--format", "docx"]);
  assert.equal(badFormat.code, 2);
  assert.match(badFormat.stderr, /expected txt, srt, vtt, json/);
  const badLanguage = await runCli(["run", dir, "--audio", wav, "--language", "klingon"]);
  assert.equal(badLanguage.code, 2);
  assert.match(badLanguage.stderr, /unknown Whisper language "klingon"/);
});

/** The fixture's files (audio and goldens left out), for a Hub repository or a copied folder. */
async function repoFiles(dir: string, skip: (path: string) => boolean = () => false): Promise<RepoFiles> {
  const files: RepoFiles = {};
  for (const sub of ["", "onnx/"]) {
    for await (const e of Deno.readDir(`${dir}/${sub}`)) {
      const path = `${sub}${e.name}`;
      if (e.isFile && path !== "goldens.json" && !skip(path)) files[path] = await Deno.readFile(`${dir}/${path}`);
    }
  }
  return files;
}

Deno.test("whisper: the split layout (decoder_model + decoder_with_past_model) gives the same ids", async () => {
  const { dir } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const c = goldens.cases.find((c) => c.id === "timestamps_en")!;
  const copy = await Deno.makeTempDir();
  try {
    await writeRepo(copy, await repoFiles(dir, (p) => p.startsWith("onnx/decoder_model_merged")));
    await using whisper = await loadWhisper(copy, { intraOpThreads: 1 });
    const result = await whisper.transcribeWav(await Deno.readFile(`${dir}/audio/speech.wav`), "speech.wav", {
      language: "en",
      timestamps: true,
      maxNewTokens: goldens.max_new_tokens,
    });
    assert.deepEqual(result.windows[0].generatedIds, c.new_ids);
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("whisper CLI: a cached Hub id is detected as Whisper; Whisper flags on a CTC model are exit 2", async () => {
  const { dir } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const hub = await startHubServer();
  const tmp = await Deno.makeTempDir();
  try {
    hub.addRepo("acme/whisper-tiny-random").commit(await repoFiles(dir));
    const env = { HF_HUB_CACHE: `${tmp}/hub`, HF_HOME: `${tmp}/hf`, INIT_CWD: tmp, HF_ENDPOINT: hub.url };
    const pull = await runCli(["pull", "acme/whisper-tiny-random", "--quiet"], { env });
    assert.equal(pull.code, 0, pull.stderr);
    await Deno.copyFile(`${dir}/audio/speech.wav`, `${tmp}/speech.wav`);
    const run = await runCli([
      "run",
      "acme/whisper-tiny-random",
      "--audio",
      "speech.wav",
      "--language",
      "en",
      "--max-new-tokens",
      String(goldens.max_new_tokens),
      "-p",
      "cpu",
    ], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${goldens.cases.find((c) => c.id === "transcribe_en")!.text.trim()}\n`);

    await writeRepo(`${tmp}/ctc`, toneCtcModel());
    const ctc = await runCli(["run", "ctc/model.onnx", "--audio", "speech.wav", "--language", "en", "-p", "cpu"], {
      env,
    });
    assert.equal(ctc.code, 2, ctc.stderr);
    assert.match(ctc.stderr, /--language goes with a Whisper model/);
  } finally {
    await hub.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("whisper: without a language the encoder runs once per decoder pass (detection reuses the first), same language and text", async () => {
  const { dir } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const c = goldens.cases.find((x) => x.id === "detect_language")!;
  const parts = await loadSeq2SeqParts(dir, { intraOpThreads: 1 });
  // a counter on the real encoder session: every encoder pass goes through its run()
  const encoder = parts.sessions.encoder;
  const run = encoder.run.bind(encoder);
  let encoderRuns = 0;
  Object.defineProperty(encoder, "run", {
    value: (...args: Parameters<typeof run>) => {
      encoderRuns++;
      return run(...args);
    },
  });
  const whisper = await createWhisper(parts);
  try {
    const result = await whisper.transcribeWav(await Deno.readFile(`${dir}/audio/speech.wav`), "speech.wav", {
      task: c.task,
      timestamps: c.return_timestamps,
      maxNewTokens: goldens.max_new_tokens,
    });
    assert.equal(result.language, c.detected_language);
    assert.deepEqual(result.windows[0].generatedIds, c.new_ids);
    assert.equal(result.text, c.text);
    assert.equal(encoderRuns, 1, "one encoder pass for detection and transcription");
    encoderRuns = 0;
    const long = await whisper.transcribeWav(await Deno.readFile(`${dir}/audio/long.wav`), "long.wav", {
      maxNewTokens: goldens.long.max_new_tokens,
    });
    assert.ok(long.windows.length > 1);
    const passes = long.windows.reduce((n, w) => n + w.passes, 0);
    assert.equal(encoderRuns, passes, "one encoder pass a decoder pass");
  } finally {
    await whisper.dispose();
  }
});

Deno.test("whisper: a long recording's windows decoded as one batch give the ids of one window at a time", async () => {
  const { dir } = await fixtureTokens();
  const goldens = await readWhisperGoldens();
  const parts = await loadSeq2SeqParts(dir, { intraOpThreads: 1 });
  // a counter on the real decoder session: every decoder step goes through its run()
  const decoder = parts.sessions.decoder;
  const run = decoder.run.bind(decoder);
  let decoderRuns = 0;
  Object.defineProperty(decoder, "run", {
    value: (...args: Parameters<typeof run>) => {
      decoderRuns++;
      return run(...args);
    },
  });
  const whisper = await createWhisper(parts);
  try {
    const wav = await Deno.readFile(`${dir}/audio/long.wav`);
    // timestamps (per-window rules) and detection (per-window prompts) as well as plain English
    for (const options of [{ language: "en" }, { timestamps: true }]) {
      const base = { ...options, maxNewTokens: goldens.long.max_new_tokens };
      decoderRuns = 0;
      const one = await whisper.transcribeWav(wav, "long.wav", { ...base, batchSize: 1 });
      const oneRuns = decoderRuns;
      decoderRuns = 0;
      const batched = await whisper.transcribeWav(wav, "long.wav", { ...base, batchSize: 8 });
      assert.ok(one.windows.length >= 3, "several windows");
      assert.deepEqual(batched.windows, one.windows);
      assert.equal(batched.text, one.text);
      assert.deepEqual(batched.segments, one.segments);
      assert.ok(decoderRuns < oneRuns, `batched: ${decoderRuns} decoder runs, one at a time: ${oneRuns}`);
    }
    await assert.rejects(
      () => whisper.transcribeWav(wav, "long.wav", { language: "en", batchSize: 0 }),
      /batchSize/,
    );
  } finally {
    await whisper.dispose();
  }
});
