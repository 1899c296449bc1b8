/**
 * `gpux serve` answers encoder-decoder models: translation (Marian), captioning (VisionEncoderDecoder) and Whisper
 * on its own `/models/{name}/predict`, and Whisper on OpenAI's `/v1/audio/transcriptions` and
 * `/v1/audio/translations` through the real `openai` npm client, against `deno task gpux serve` (its exact
 * sandbox). Every answer is checked against the fixtures' PyTorch goldens and against what `gpux run` prints for the
 * same file (json, text, srt, vtt, verbose_json); limits, refusals in OpenAI's error shape, and a client that hangs
 * up cancelling its transcription (metrics).
 */
import OpenAI, { toFile } from "openai";
import { Buffer } from "node:buffer";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { readSeq2SeqGoldens, seq2seqFixture } from "./support/seq2seq_fixtures.ts";
import { readWhisperGoldens, whisperFixture } from "./support/whisper_fixtures.ts";
import { running, type ServeProcess, startServe } from "./support/serve_process.ts";
import { parsePrometheusText } from "../src/serve/metrics.ts";
import { startHubServer } from "./support/hub_server.ts";
import { loadWhisper } from "../src/generation/whisper_transcription.ts";
import { loadTokenizer } from "../src/processing/tokenizer.ts";

const WHISPER = await whisperFixture();
const MARIAN = await seq2seqFixture("marian");
const VIT = await seq2seqFixture("vit-gpt2");
const T5 = await seq2seqFixture("t5");
const whisperGoldens = await readWhisperGoldens();
const MAX = String(whisperGoldens.max_new_tokens);
const SPEECH = `${WHISPER}/audio/speech.wav`;
const speechBytes = await Deno.readFile(SPEECH);
const whisperCase = (id: string) => whisperGoldens.cases.find((c) => c.id === id)!;

let server: ServeProcess | undefined;
let tmp = "";

async function serve(): Promise<ServeProcess> {
  if (server) return server;
  tmp = await Deno.makeTempDir({ prefix: "gpux_s2s_" });
  server = running(
    await startServe(
      [`whisper=${WHISPER}`, `marian=${MARIAN}`, `captioner=${VIT}`, `t5=${T5}`, "-p", "cpu", "--port", "0", "--quiet"],
      { sandbox: "exact", cwd: tmp },
    ),
  );
  return server;
}

function openai(s: ServeProcess): OpenAI {
  return new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "unused", maxRetries: 0 });
}

async function speechFile() {
  return await toFile(speechBytes, "speech.wav", { type: "audio/wav" });
}

/** `gpux run WHISPER --audio speech.wav …` (stdout), as a user runs it. */
async function runWhisper(...flags: string[]): Promise<string> {
  const r = await runCli(["run", WHISPER, "--audio", SPEECH, "--max-new-tokens", MAX, "-p", "cpu", ...flags]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout;
}

async function metric(s: ServeProcess, name: string, labels: Record<string, string>): Promise<number> {
  const samples = parsePrometheusText(await (await fetch(`${s.url}/metrics`)).text());
  return samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value ??
    0;
}

/** A silent 16-bit mono WAV. */
function silentWav(rate: number, seconds: number): Uint8Array<ArrayBuffer> {
  const data = rate * seconds * 2;
  const bytes = new Uint8Array(44 + data);
  const view = new DataView(bytes.buffer);
  const tag = (o: number, s: string) => [...s].forEach((c, i) => bytes[o + i] = c.charCodeAt(0));
  tag(0, "RIFF");
  view.setUint32(4, 36 + data, true);
  tag(8, "WAVE");
  tag(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  tag(36, "data");
  view.setUint32(40, data, true);
  return bytes;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/** A JSON answer, read field by field against the goldens. */
// deno-lint-ignore no-explicit-any
type Doc = any;

async function predict(s: ServeProcess, model: string, body: unknown): Promise<{ status: number; doc: Doc }> {
  const r = await fetch(`${s.url}/models/${model}/predict`, { method: "POST", body: JSON.stringify(body) });
  return { status: r.status, doc: await r.json() };
}

Deno.test({
  name: "serve whisper: the openai SDK's transcriptions equal gpux run --audio (json, text, srt, vtt, verbose_json)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await serve();
    const client = openai(s);
    // no language: detected, as gpux run does; the text is PyTorch's
    const detect = whisperCase("detect_language");
    const json = await client.audio.transcriptions.create({
      file: await speechFile(),
      model: "whisper",
      response_format: "json",
      max_new_tokens: whisperGoldens.max_new_tokens,
    } as OpenAI.Audio.TranscriptionCreateParamsNonStreaming<"json">);
    assertEquals(json.text, detect.text);
    assertEquals(`${json.text.trim()}\n`, await runWhisper());
    const text = await client.audio.transcriptions.create({
      file: await speechFile(),
      model: "whisper",
      language: "en",
      response_format: "text",
      max_new_tokens: whisperGoldens.max_new_tokens,
    } as OpenAI.Audio.TranscriptionCreateParamsNonStreaming<"text">);
    assertEquals(text, await runWhisper("--language", "en"));
    assertEquals(text, `${whisperCase("transcribe_en").text.trim()}\n`);
    for (const format of ["srt", "vtt"] as const) {
      const body = await client.audio.transcriptions.create({
        file: await speechFile(),
        model: "whisper",
        language: "en",
        response_format: format,
        max_new_tokens: whisperGoldens.max_new_tokens,
      } as OpenAI.Audio.TranscriptionCreateParamsNonStreaming<typeof format>);
      assertEquals(body, await runWhisper("--language", "en", "--format", format), format);
    }
    // verbose_json: the segments gpux run --json gives (PyTorch's timestamp offsets), the open last one closed
    const verbose = await client.audio.transcriptions.create({
      file: await speechFile(),
      model: "whisper",
      language: "en",
      response_format: "verbose_json",
      timestamp_granularities: ["segment"],
      max_new_tokens: whisperGoldens.max_new_tokens,
    } as OpenAI.Audio.TranscriptionCreateParamsNonStreaming<"verbose_json">);
    const cli = JSON.parse(await runWhisper("--language", "en", "--timestamps", "--json"));
    assertEquals(verbose.language, "english", "OpenAI answers the language by name");
    assertEquals(verbose.text, cli.text);
    assertEquals(verbose.duration, cli.seconds);
    assertEquals(
      verbose.segments!.map((x) => [x.text, x.start, x.end]),
      cli.segments.map((x: { text: string; timestamp: [number, number | null] }) => [
        x.text,
        x.timestamp[0],
        x.timestamp[1] ?? cli.seconds,
      ]),
    );
    // the segments of transformers' chunked pipeline on the clip
    const chunks = whisperCase("timestamps_en").pipeline.chunks!;
    assert(chunks.length > 0);
    chunks.forEach((o, i) => {
      assertEquals(verbose.segments![i].text, o.text);
      if (o.timestamp[0] !== null) assert(Math.abs(verbose.segments![i].start - o.timestamp[0]) < 1e-9);
    });
    // OpenAI's per-segment figures: the window's avg_logprob, compression_ratio and no_speech_prob (one window here),
    // the frame its window starts at, and the segment's text token ids
    const whisper = await loadWhisper(WHISPER, { provider: "cpu" });
    try {
      const own = await whisper.transcribeWav(speechBytes, "speech.wav", {
        language: "en",
        timestamps: true,
        stats: true,
        maxNewTokens: whisperGoldens.max_new_tokens,
      });
      const stats = own.windows[0].stats!;
      assert(stats.avgLogprob < 0 && stats.noSpeechProb > 0 && stats.noSpeechProb < 1 && stats.compressionRatio > 0);
      const tokenizer = await loadTokenizer(WHISPER);
      for (const segment of verbose.segments!) {
        const figures = segment as unknown as Record<string, number>;
        assertEquals(
          [segment.seek, figures.avg_logprob, figures.compression_ratio, figures.no_speech_prob],
          [0, stats.avgLogprob, stats.compressionRatio, stats.noSpeechProb],
        );
        assertEquals(segment.tokens.length > 0, segment.text !== "", JSON.stringify(segment.text));
        assertEquals(tokenizer.decode(segment.tokens), segment.text);
      }
    } finally {
      await whisper.dispose();
    }
    // translations: the task token is <|translate|>, as gpux run --task translate
    const translated = await client.audio.translations.create({
      file: await speechFile(),
      model: "whisper",
      response_format: "json",
      max_new_tokens: whisperGoldens.max_new_tokens,
    } as OpenAI.Audio.TranslationCreateParams);
    assertEquals(`${translated.text.trim()}\n`, await runWhisper("--task", "translate"));
  },
});

Deno.test({
  name: "serve seq2seq: /models/{name}/predict translates, captions and transcribes as PyTorch's goldens",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await serve();
    const marian = await readSeq2SeqGoldens("marian");
    for (const id of ["greedy_batch", "beam4", "beam4_return2"]) {
      const c = marian.cases.find((x) => x.id === id)!;
      const { status, doc } = await predict(s, "marian", {
        text: c.inputs,
        max_new_tokens: c.options.max_new_tokens,
        num_beams: c.options.num_beams,
        ...(c.options.num_return_sequences ? { num_return_sequences: c.options.num_return_sequences } : {}),
      });
      assertEquals(status, 200, JSON.stringify(doc));
      assertEquals(doc.task, "translation");
      assertEquals(doc.name, "marian");
      assertEquals(doc.provider, "cpu");
      assertEquals(doc.results.map((r: { generatedIds: number[] }) => r.generatedIds), c.sequences, id);
      assertEquals(doc.results.map((r: { text: string }) => r.text), c.texts, id);
      assert(doc.usage.generatedTokens > 0);
    }
    // the same document as gpux run --json (less the load timing and the server's own facts)
    const c = marian.cases.find((x) => x.id === "greedy")!;
    const run = await runCli(["run", MARIAN, "--text", c.inputs![0], "--max-new-tokens", "12", "-p", "cpu", "--json"]);
    assertEquals(run.code, 0, run.stderr);
    const cli = JSON.parse(run.stdout);
    const served = (await predict(s, "marian", { text: c.inputs![0], max_new_tokens: 12 })).doc;
    assertEquals(served.results, cli.results);
    assertEquals(served.usage, cli.usage);
    assertEquals(served.taskSource, cli.taskSource);

    // T5 (text2text-generation, relative positions): beams with early stopping and a length penalty
    const t5 = (await readSeq2SeqGoldens("t5")).cases.find((x) => x.id === "beam3_true_lp2")!;
    const t5Doc = (await predict(s, "t5", {
      text: t5.inputs,
      max_new_tokens: t5.options.max_new_tokens,
      num_beams: t5.options.num_beams,
      length_penalty: t5.options.length_penalty,
      early_stopping: t5.options.early_stopping,
    })).doc;
    assertEquals(t5Doc.task, "text2text-generation");
    assertEquals(t5Doc.results.map((r: { generatedIds: number[] }) => r.generatedIds), t5.sequences);

    const vit = await readSeq2SeqGoldens("vit-gpt2");
    const caption = vit.cases.find((x) => x.id === "greedy")!;
    const image = await Deno.readFile(`${VIT}/${caption.images![0]}`);
    const captioned = await predict(s, "captioner", { image: base64(image), max_new_tokens: 12 });
    assertEquals(captioned.status, 200, JSON.stringify(captioned.doc));
    assertEquals(captioned.doc.task, "image-to-text");
    assertEquals(captioned.doc.results[0].generatedIds, caption.sequences[0]);

    const en = whisperCase("transcribe_en");
    const heard = await predict(s, "whisper", { audio: base64(speechBytes), language: "en", max_new_tokens: 24 });
    assertEquals(heard.status, 200, JSON.stringify(heard.doc));
    assertEquals(heard.doc.task, "automatic-speech-recognition");
    assertEquals(heard.doc.text, en.text);
    assertEquals(heard.doc.language, "en");
    const detected = await predict(s, "whisper", { audio: base64(speechBytes), max_new_tokens: 24 });
    assertEquals(detected.doc.detected_language.language, whisperCase("detect_language").detected_language);
    const info = await (await fetch(`${s.url}/info`)).json();
    assertEquals(
      info.models.map((m: { name: string; task: string; accepts: string[] }) => [m.name, m.task, m.accepts]),
      [
        ["whisper", "automatic-speech-recognition", ["audio"]],
        ["marian", "translation", ["text"]],
        ["captioner", "image-to-text", ["image"]],
        ["t5", "text2text-generation", ["text"]],
      ],
    );
  },
});

Deno.test({
  name: "serve seq2seq: refusals name the field and the limit (OpenAI's error shape on /v1/audio)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await serve();
    const client = openai(s);
    const refused = async (params: Record<string, unknown>) => {
      try {
        await client.audio.transcriptions.create(
          { file: await speechFile(), model: "whisper", ...params } as OpenAI.Audio.TranscriptionCreateParams,
        );
      } catch (error) {
        assert(error instanceof OpenAI.APIError, String(error));
        return error;
      }
      throw new Error(`accepted ${JSON.stringify(params)}`);
    };
    const format = await refused({ response_format: "xml" });
    assertEquals(format.status, 400);
    assertEquals(format.param, "response_format");
    assertEquals((await refused({ prompt: "previously" })).param, "prompt");
    assertEquals((await refused({ temperature: 0.4 })).param, "temperature");
    assertEquals(
      (await refused({ timestamp_granularities: ["word"], response_format: "verbose_json" })).param,
      "timestamp_granularities[]",
    );
    const notWhisper = await refused({ model: "marian" });
    assertEquals([notWhisper.status, notWhisper.param], [400, "model"]);
    assertMatch(notWhisper.message, /does not transcribe speech/);
    const missing = await refused({ model: "nope" });
    assertEquals(missing.status, 404);
    // not a WAV: the pipeline's reason, as a 400
    const form = new FormData();
    form.set("file", new File([new TextEncoder().encode("hello")], "note.txt"));
    form.set("model", "whisper");
    const notWav = await fetch(`${s.url}/v1/audio/transcriptions`, { method: "POST", body: form });
    assertEquals(notWav.status, 400);
    assertMatch((await notWav.json()).error.message, /not a WAV file/);
    // ten minutes and a second at 1 kHz (1.2 MB): over the default --max-audio-seconds, refused from its header
    const long = silentWav(1000, 601);
    const big = new FormData();
    big.set("file", new File([long], "long.wav"));
    big.set("model", "whisper");
    const tooLong = await fetch(`${s.url}/v1/audio/transcriptions`, { method: "POST", body: big });
    assertEquals(tooLong.status, 413);
    assertMatch((await tooLong.json()).error.message, /--max-audio-seconds/);
    // gpux API: over --max-tokens-limit, a kind the model does not take, an unknown key
    assertEquals((await predict(s, "marian", { text: "hi", max_new_tokens: 100000 })).status, 400);
    assertMatch((await predict(s, "marian", { audio: base64(speechBytes) })).doc.error, /takes text, not audio/);
    assertMatch((await predict(s, "marian", { text: "hi", bogus: 1 })).doc.error, /unknown key "bogus"/);
    // a text generator's chat endpoints refuse an encoder-decoder model
    const chat = await fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "marian", messages: [{ role: "user", content: "hi" }] }),
    });
    assertEquals(chat.status, 400);
    assertMatch((await chat.json()).error.message, /predict/);
  },
});

Deno.test({
  name: "serve whisper: a client that hangs up cancels its transcription (metrics count it)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await serve();
    try {
      const labels = { model: "whisper", reason: "cancelled" };
      const before = await metric(s, "gpux_generations_total", labels);
      const leaving = new AbortController();
      const form = new FormData();
      form.set("file", new File([await Deno.readFile(`${WHISPER}/audio/long.wav`)], "long.wav"));
      form.set("model", "whisper");
      form.set("max_new_tokens", "400");
      // the status comes once the worker has read the clip and begun decoding; the client leaves then
      const r = await fetch(`${s.url}/v1/audio/transcriptions`, { method: "POST", body: form, signal: leaving.signal });
      assertEquals(r.status, 200);
      leaving.abort();
      let cancelled = before;
      for (let i = 0; i < 100 && cancelled === before; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        cancelled = await metric(s, "gpux_generations_total", labels);
      }
      assertEquals(cancelled, before + 1);
    } finally {
      if (server) assertEquals(await server.stop(), 0, server.stderr());
      server = undefined;
      if (tmp) await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "serve whisper: a cached Hub id of an encoder-decoder export is served under its repository's name",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const hub = await startHubServer();
    const home = await Deno.makeTempDir({ prefix: "gpux_s2s_hub_" });
    let s: ServeProcess | undefined;
    try {
      const files: Record<string, Uint8Array> = {};
      for (const sub of ["", "onnx/"]) {
        for await (const e of Deno.readDir(`${WHISPER}/${sub}`)) {
          const path = `${sub}${e.name}`;
          if (e.isFile && path !== "goldens.json") files[path] = await Deno.readFile(`${WHISPER}/${path}`);
        }
      }
      hub.addRepo("acme/whisper-tiny-random").commit(files);
      const env = { HF_HUB_CACHE: `${home}/hub`, HF_HOME: `${home}/hf`, INIT_CWD: home, HF_ENDPOINT: hub.url };
      const pull = await runCli(["pull", "acme/whisper-tiny-random", "--quiet"], { env });
      assertEquals(pull.code, 0, pull.stderr);
      s = running(
        await startServe(["acme/whisper-tiny-random", "-p", "cpu", "--port", "0", "--quiet"], {
          sandbox: "exact",
          cwd: home,
          env,
        }),
      );
      const info = await (await fetch(`${s.url}/info`)).json();
      assertEquals(info.models[0].name, "whisper-tiny-random");
      assertEquals(info.models[0].repoId, "acme/whisper-tiny-random");
      assertEquals(info.models[0].task, "automatic-speech-recognition");
      const text = await openai(s).audio.transcriptions.create({
        file: await speechFile(),
        model: "whisper-tiny-random",
        language: "en",
        response_format: "text",
        max_new_tokens: whisperGoldens.max_new_tokens,
      } as OpenAI.Audio.TranscriptionCreateParamsNonStreaming<"text">);
      assertEquals(text, `${whisperCase("transcribe_en").text.trim()}\n`);
    } finally {
      if (s) assertEquals(await s.stop(), 0, s.stderr());
      await hub.close();
      await Deno.remove(home, { recursive: true });
    }
  },
});
