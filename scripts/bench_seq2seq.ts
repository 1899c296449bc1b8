/**
 * `deno task bench:generate --seq2seq`: Whisper's real time factor (seconds of compute per second of audio, lower is
 * faster) on random-weight models of whisper-tiny's and whisper-base's shape, built once by scripts/bench_seq2seq.py
 * into tests/.fixtures/bench-s2s/{tiny,base}/ (never committed), for 30 seconds and 5 minutes of audio, English,
 * transcribe, greedy, `--new` tokens at most per 30-second window (random weights rarely stop by themselves: every
 * engine decodes the same budget).
 *
 * Runners, each in its own process pinned with `taskset` and told the same thread count, on the same files:
 * - `gpux`: `loadWhisper` + `transcribeWav` (src/generation/whisper_transcription.ts),
 * - `transformers.js`: `@huggingface/transformers` 4.3's ASR pipeline, chunked the same way (in node),
 * - `torch`: transformers' chunked pipeline (`chunk_length_s=30`, `stride_length_s=5`) on the same weights.
 * Each runner decodes one second first (warm-up), then the file; the 1-minute load average when it started is
 * printed beside its row (this machine is shared: read the numbers beside it).
 *
 * Flags: `--shapes tiny,base` `--audio 30,300` `--threads 1` `--new 64` `--only gpux,transformers.js,torch`
 * `--rounds 1` (each runner repeated, order alternating; the fastest round is reported, with every round listed).
 *
 * @module
 */
import { loadWhisper } from "../src/generation/whisper_transcription.ts";
import { torchPython } from "../tests/support/python_venv.ts";
import { runTransformersJsScript } from "../tests/support/transformers_js_node.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const BENCH_DIR = `${ROOT}tests/.fixtures/bench-s2s`;
const PY_SCRIPT = `${ROOT}scripts/bench_seq2seq.py`;
const SELF = new URL(import.meta.url).pathname;
const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-ffi", "--allow-env", "--allow-sys", "--allow-run"];

interface Measured {
  seconds: number;
  audio_seconds: number;
  tokens: number;
}

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

async function run(cmd: string[], cwd = ROOT): Promise<string> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), cwd, stdout: "piped", stderr: "piped" }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  return stdout;
}

async function built(shape: string): Promise<string> {
  const dir = `${BENCH_DIR}/${shape}`;
  try {
    await Deno.stat(`${dir}/bench.json`);
    return dir;
  } catch { /* build it */ }
  console.error(`building the ${shape}-shaped model (a few minutes)…`);
  await run([await torchPython(), PY_SCRIPT, "build", dir, shape]);
  return dir;
}

function pin(threads: number): string[] {
  return ["taskset", "-c", Array.from({ length: threads }, (_, i) => i).join(",")];
}

function loadAverage(): number {
  return Deno.loadavg()[0];
}

/** transformers.js's ASR pipeline, chunked as transformers' (30 s windows, 5 s stride), on a 16-bit mono WAV. */
const TRANSFORMERS_JS_RUNNER = `// written by scripts/bench_seq2seq.ts
import { pipeline, env } from "@huggingface/transformers";
import { readFileSync } from "node:fs";
const [dir, wav, threads, maxNew] = process.argv.slice(2);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = "/";
const bytes = readFileSync(wav);
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
let o = 12, samples;
while (o + 8 <= bytes.length) {
  const id = bytes.toString("latin1", o, o + 4), size = view.getUint32(o + 4, true);
  if (id === "data") {
    samples = new Float32Array(size / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(o + 8 + 2 * i, true) / 32768;
    break;
  }
  o += 8 + size + (size & 1);
}
const asr = await pipeline("automatic-speech-recognition", dir, { local_files_only: true, dtype: "fp32",
  device: "cpu", session_options: { intraOpNumThreads: Number(threads), interOpNumThreads: 1 } });
const options = { chunk_length_s: 30, stride_length_s: 5, language: "en", task: "transcribe",
  max_new_tokens: Number(maxNew), return_timestamps: false };
await asr(new Float32Array(16000), options);
const start = performance.now();
const out = await asr(samples, options);
const seconds = (performance.now() - start) / 1000;
const tokens = asr.tokenizer.encode(out.text, { add_special_tokens: false }).length;
process.stdout.write(JSON.stringify({ seconds, audio_seconds: samples.length / 16000, tokens }) + "\\n");
`;

async function gpuxRunner(dir: string, wav: string, threads: number, maxNew: number): Promise<void> {
  const whisper = await loadWhisper(dir, { intraOpThreads: threads, interOpThreads: 1, provider: "cpu" });
  const bytes = await Deno.readFile(wav);
  const warm = new Float32Array(16000);
  await whisper.transcribe(warm, { language: "en", maxNewTokens: maxNew });
  const started = performance.now();
  const r = await whisper.transcribeWav(bytes, wav, { language: "en", maxNewTokens: maxNew });
  const seconds = (performance.now() - started) / 1000;
  const tokens = r.windows.reduce((n, w) => n + w.generatedIds.length, 0);
  console.log(JSON.stringify({ seconds, audio_seconds: r.seconds, tokens }));
  await whisper.dispose();
}

function row(shape: string, audio: string, runner: string, threads: number, m: Measured, load: number): string {
  const rtf = m.seconds / m.audio_seconds;
  return `| whisper-${shape} | ${audio} s | ${runner} | ${threads} | ${m.seconds.toFixed(2)} | ${
    rtf.toFixed(3)
  } | ${m.tokens} | ${load.toFixed(1)} |`;
}

/** The benchmark (or, with `--runner`, one gpux run in this process). */
export async function main(): Promise<void> {
  const runnerAt = Deno.args.indexOf("--runner");
  if (runnerAt >= 0) {
    const [, dir, wav, threads, maxNew] = Deno.args.slice(runnerAt + 1);
    return await gpuxRunner(dir, wav, Number(threads), Number(maxNew));
  }
  const shapes = flag("shapes", "tiny,base").split(",");
  const audio = flag("audio", "30,300").split(",");
  const threads = Number(flag("threads", "1"));
  const maxNew = Number(flag("new", "64"));
  const only = flag("only", "gpux,transformers.js,torch").split(",");
  const rounds = Number(flag("rounds", "1"));
  const runs: { shape: string; seconds: string; runner: string; m: Measured; load: number }[] = [];
  for (const shape of shapes) {
    const dir = await built(shape);
    for (const seconds of audio) {
      const wav = `${dir}/audio/${seconds}s.wav`;
      for (let round = 0; round < rounds; round++) {
        // odd rounds run the runners in reverse order, so that a busy spell on the shared machine hits different ones
        for (const runner of round % 2 ? [...only].reverse() : only) {
          const load = loadAverage();
          let m: Measured;
          if (runner === "transformers.js") {
            const out = await runTransformersJsScript("bench_whisper", TRANSFORMERS_JS_RUNNER, [
              dir,
              wav,
              `${threads}`,
              `${maxNew}`,
            ], { wrapper: pin(threads) });
            if (!out.ok) throw new Error(`transformers.js failed: ${out.err.slice(-2000)}`);
            m = JSON.parse(out.out.trim().split("\n").at(-1)!);
          } else {
            const cmd = runner === "gpux"
              ? [
                ...pin(threads),
                Deno.execPath(),
                "run",
                ...PERMISSIONS,
                SELF,
                "--runner",
                "gpux",
                dir,
                wav,
                `${threads}`,
                `${maxNew}`,
              ]
              : [...pin(threads), await torchPython(), PY_SCRIPT, "torch", dir, wav, `${threads}`, `${maxNew}`];
            m = JSON.parse((await run(cmd)).trim().split("\n").at(-1)!) as Measured;
          }
          runs.push({ shape, seconds, runner, m, load });
          console.error(row(shape, seconds, runner, threads, m, load));
        }
      }
    }
  }
  // each runner's fastest round (and the mean load over its rounds), then each round's seconds
  console.log(
    `best of ${rounds} round(s); load average at the end ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}\n`,
  );
  console.log("| shape | audio | runner | threads | seconds | real time factor | tokens¹ | load avg |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  const best = new Map<string, Measured>();
  for (const shape of shapes) {
    for (const seconds of audio) {
      for (const runner of only) {
        const mine = runs.filter((r) => r.shape === shape && r.seconds === seconds && r.runner === runner);
        const fastest = mine.reduce((a, r) => r.m.seconds < a.m.seconds ? r : a);
        best.set(`${shape}/${seconds}/${runner}`, fastest.m);
        const load = mine.reduce((a, r) => a + r.load, 0) / mine.length;
        console.log(row(shape, seconds, runner, threads, fastest.m, load));
      }
    }
  }
  console.log("\n¹ gpux: ids decoded over all windows; transformers.js and torch: tokens of the merged text.");
  if (rounds > 1) {
    console.log("\nseconds of each round:");
    for (const shape of shapes) {
      for (const seconds of audio) {
        for (const runner of only) {
          const each = runs.filter((r) => r.shape === shape && r.seconds === seconds && r.runner === runner);
          console.log(
            `  whisper-${shape} ${seconds} s ${runner}: ${each.map((r) => r.m.seconds.toFixed(2)).join(" / ")}`,
          );
        }
      }
    }
  }
  for (const shape of shapes) {
    for (const seconds of audio) {
      const gpux = best.get(`${shape}/${seconds}/gpux`), tjs = best.get(`${shape}/${seconds}/transformers.js`);
      if (gpux && tjs) {
        console.log(
          `whisper-${shape} ${seconds} s: gpux = ${
            (gpux.seconds / tjs.seconds).toFixed(2)
          }x transformers.js's time (goal <= 0.8)`,
        );
      }
    }
  }
}

if (import.meta.main) await main();
