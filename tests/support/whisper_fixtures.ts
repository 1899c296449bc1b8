/**
 * A tiny random Whisper (`WhisperForConditionalGeneration`, d_model 64, 2+2 layers, the real multilingual token
 * layout: BPE base ids, `<|endoftext|>`, `<|startoftranscript|>`, 99 language tokens, task/control tokens,
 * `<|notimestamps|>`, 1501 timestamp tokens) exported to optimum's layout (`onnx/encoder_model.onnx`,
 * `onnx/decoder_model.onnx`, `onnx/decoder_with_past_model.onnx`, `onnx/decoder_model_merged.onnx`), two espeak-ng
 * recordings (`audio/speech.wav`, one sentence; `audio/long.wav`, 75 s) and PyTorch goldens: the fixture the Whisper
 * tests run against. {@linkcode whisperFixture} builds it once with `scripts/build_whisper_fixtures.py` in the
 * builders' venv (`tests/.fixtures/venv-torch`, python_venv.ts) into `tests/.fixtures/whisper/`, and
 * rebuilds only when the script changes (its sha256 is in `manifest.json`). Nothing here is committed: the build
 * takes about a minute on this 2-core machine.
 *
 * The script's docstring holds the full contract; {@linkcode WhisperGoldens} below is its schema as TypeScript.
 * When pip or espeak-ng cannot provide what the build needs, {@linkcode whisperFixture} throws one clear line: the
 * Whisper tests fail, they never skip silently.
 *
 * @module
 */
import { builtFixtures } from "./built_fixtures.ts";
import { torchPython } from "./python_venv.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = `${ROOT}tests/.fixtures/`;
/** Where the fixture is built (`<dir>/whisper` is the model folder). */
export const WHISPER_DIR = `${FIXTURES}whisper`;
const SCRIPT = `${ROOT}scripts/build_whisper_fixtures.py`;

/** The special ids of the fixture's vocabulary (real Whisper: base 50257, endoftext 50257 ... vocab 51865). */
export interface WhisperVocabFacts {
  /** Number of BPE base ids (0 .. base-1). */
  base: number;
  /** `<|endoftext|>` (= base). */
  endoftext: number;
  /** `<|startoftranscript|>`. */
  startoftranscript: number;
  /** `<|translate|>`. */
  translate: number;
  /** `<|transcribe|>`. */
  transcribe: number;
  /** `<|startoflm|>`. */
  startoflm: number;
  /** `<|startofprev|>`. */
  startofprev: number;
  /** `<|nocaptions|>`. */
  nocaptions: number;
  /** `<|notimestamps|>`. */
  notimestamps: number;
  /** `<|0.00|>`; `<|t|>` is timestamp_begin + t / 0.02. */
  timestamp_begin: number;
  /** All ids. */
  vocab_size: number;
}

/** One short-form golden: one 30-second window decoded by PyTorch. */
export interface WhisperCase {
  /** `transcribe_en`, `timestamps_en`, `detect_language`, `translate_en`. */
  id: string;
  /** The WAV, relative to the fixture folder. */
  audio: string;
  /** The language asked for, or null (detected). */
  language: string | null;
  /** The task. */
  task: "transcribe" | "translate";
  /** Whether timestamps were asked for (no `<|notimestamps|>` in the prompt, timestamp rules on). */
  return_timestamps: boolean;
  /** The decoder prompt: `<|startoftranscript|><|lang|><|task|>` (+ `<|notimestamps|>`). */
  prompt_ids: number[];
  /**
   * The ids Whisper's `generate()` returns after the prompt, as the pipeline decodes a window: in passes (a pass that
   * ends inside a segment is decoded again from its last closed timestamp pair); EOS appended when the last pass
   * stopped on it.
   */
  new_ids: number[];
  /** One decoder pass over the clip (EOS included when it stopped on it): what transformers.js gives. */
  one_pass_ids: number[];
  /** `decode(new_ids, skip_special_tokens=True)`. */
  text: string;
  /** The language code detected (detect_language), else null. */
  detected_language: string | null;
  /** The tokenizer's offsets (timestamps case). */
  offsets: { text: string; timestamp: [number, number] }[] | null;
  /** Without timestamps: OpenAI verbose_json's figures for the window, as openai-whisper computes them. */
  stats: { avg_logprob: number; no_speech_prob: number; compression_ratio: number } | null;
  /** transformers' chunked pipeline on the clip: its text and, with timestamps, its chunks (an open end is null). */
  pipeline: { text: string; chunks: { text: string; timestamp: [number | null, number | null] }[] | null };
}

/** The windows transformers' `chunk_iter` cuts a recording into (30 s windows, 5 s strides, 16 kHz). */
export interface WhisperWindowCuts {
  /** The recording's length, seconds. */
  seconds: number;
  /** Its length in samples. */
  samples: number;
  /** Each window's `[start, end, left stride, right stride]`, samples. */
  windows: [number, number, number, number][];
}

/** One long-form run of transformers' chunked pipeline. */
export interface WhisperLongRun {
  /** The pipeline's text. */
  text: string;
  /** Each window's generated ids, as handed to the merge. */
  chunk_tokens: number[][];
  /** Each window's `[chunk, left, right]` stride in seconds. */
  strides: [number, number, number][];
  /** Whether each window equals one decoder pass over it (false: Whisper's generate() decoded one again). */
  windows_one_pass: boolean;
  /** One decoder pass per window: what an engine without the re-decode (transformers.js) merges. */
  one_pass_tokens: number[][];
  /** The timestamped chunks (timestamps run only); an open end is null. */
  chunks?: { text: string; timestamp: [number | null, number | null] }[];
}

/** The fixture's `goldens.json`. */
export interface WhisperGoldens {
  /** Versions that produced it. */
  torch: string;
  /** transformers version. */
  transformers: string;
  /** Python onnxruntime version. */
  onnxruntime: string;
  /** The special ids. */
  vocab: WhisperVocabFacts;
  /** The token budget of every case and window. */
  max_new_tokens: number;
  /** The short-form cases. */
  cases: WhisperCase[];
  /** The windows of recordings of several lengths. */
  window_cuts: WhisperWindowCuts[];
  /** The 75-second recording through `pipeline("automatic-speech-recognition", chunk_length_s=30, stride_length_s=5)`. */
  long: {
    audio: string;
    seconds: number;
    chunk_length_s: number;
    stride_length_s: [number, number];
    language: string;
    task: string;
    max_new_tokens: number;
    plain: WhisperLongRun;
    timestamps: WhisperLongRun;
    /** The same runs on the recording's first 30.5 and 50.1 s (a last window just past the previous one). */
    prefixes: { seconds: number; plain: WhisperLongRun; timestamps: WhisperLongRun }[];
  };
}

async function upToDate(dir: string, sha: string): Promise<boolean> {
  try {
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    return manifest.script_sha256 === sha;
  } catch {
    return false;
  }
}

async function build(): Promise<string> {
  const dir = await builtFixtures({
    who: "whisper fixture",
    script: SCRIPT,
    outDir: () => WHISPER_DIR,
    complete: upToDate,
    python: torchPython,
  });
  return `${dir}/whisper`;
}

let ready: Promise<string> | undefined;

/** The Whisper fixture's model folder (a Hub-like snapshot), built on first use. */
export function whisperFixture(): Promise<string> {
  return ready ??= build();
}

/** The fixture's goldens. */
export async function readWhisperGoldens(): Promise<WhisperGoldens> {
  return JSON.parse(await Deno.readTextFile(`${await whisperFixture()}/goldens.json`)) as WhisperGoldens;
}
