/**
 * transformers.js (`@huggingface/transformers`, pinned in transformers_js_node.ts) as the peer oracle for
 * encoder-decoder generation: its own tokenizers, processors, `generate()` and automatic-speech-recognition pipeline
 * on the very fixture folders gpux and PyTorch run (seq2seq_fixtures.ts, whisper_fixtures.ts), all jobs in one `node`
 * process. A job that transformers.js cannot run, or a pipeline call that throws, answers `{ error }` (its first line)
 * instead of failing the others, so a test can assert what it does not support.
 *
 * @module
 */
import { runTransformersJsScript } from "./transformers_js_node.ts";

/** The Node.js side: reads a JSON request (argv[2]), prints one JSON answer keyed by job id. */
const RUNNER = `// transformers.js encoder-decoder oracle (written by tests/support/transformers_js_seq2seq.ts)
import { readFileSync } from "node:fs";
import { env, AutoTokenizer, AutoProcessor, AutoModelForSeq2SeqLM, AutoModelForVision2Seq,
  WhisperForConditionalGeneration, pipeline, RawImage } from "@huggingface/transformers";

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = "/";
const request = JSON.parse(readFileSync(process.argv[2], "utf8"));

// a 16-bit PCM WAV's samples as float32 (the fixtures are 16 kHz mono)
function wav(path) {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let o = 12; o + 8 <= bytes.length;) {
    const id = bytes.toString("latin1", o, o + 4), size = view.getUint32(o + 4, true);
    if (id === "data") {
      const samples = new Float32Array(size / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(o + 8 + 2 * i, true) / 32768;
      return samples;
    }
    o += 8 + size + (size & 1);
  }
  throw new Error("no data chunk in " + path);
}
const ids = (t) => t.tolist().map((row) => row.map(Number));
const LOAD = { dtype: "fp32", device: "cpu", session_options: { intraOpNumThreads: 1, interOpNumThreads: 1 } };
const out = {};
for (const job of request.jobs) {
  try {
    const answers = {};
    if (job.kind === "text") {
      const tokenizer = await AutoTokenizer.from_pretrained(job.dir);
      const model = await AutoModelForSeq2SeqLM.from_pretrained(job.dir, LOAD);
      for (const c of job.cases) {
        const inputs = await tokenizer(c.inputs, { padding: true });
        const mask = ids(inputs.attention_mask);
        answers[c.id] = {
          input_ids: ids(inputs.input_ids).map((row, i) => row.filter((_, j) => mask[i][j] === 1)),
          sequences: ids(await model.generate({ ...inputs, ...c.options })),
        };
      }
      await model.dispose();
    } else if (job.kind === "image") {
      const processor = await AutoProcessor.from_pretrained(job.dir);
      const model = await AutoModelForVision2Seq.from_pretrained(job.dir, LOAD);
      for (const c of job.cases) {
        const images = await Promise.all(c.images.map((f) => RawImage.read(job.dir + "/" + f)));
        const { pixel_values } = await processor(images);
        answers[c.id] = { sequences: ids(await model.generate({ pixel_values, ...c.options })) };
      }
      await model.dispose();
    } else if (job.kind === "whisper") {
      const processor = await AutoProcessor.from_pretrained(job.dir);
      const model = await WhisperForConditionalGeneration.from_pretrained(job.dir, LOAD);
      for (const c of job.cases) {
        const { input_features } = await processor(wav(job.dir + "/" + c.audio));
        answers[c.id] = { sequences: ids(await model.generate({ inputs: input_features, ...c.options })) };
      }
      await model.dispose();
      const asr = await pipeline("automatic-speech-recognition", job.dir, LOAD);
      for (const c of job.pipeline) {
        try {
          answers[c.id] = await asr(wav(job.dir + "/" + c.audio), c.options);
        } catch (e) {
          answers[c.id] = { error: String(e?.message ?? e).split("\\n")[0] };
        }
      }
      await asr.dispose();
    } else throw new Error("unknown job kind " + job.kind);
    out[job.id] = answers;
  } catch (e) {
    out[job.id] = { error: String(e?.message ?? e).split("\\n")[0] };
  }
}
process.stdout.write(JSON.stringify(out));
`;

/** One `generate()` call (text or image jobs) or one `WhisperForConditionalGeneration.generate()` (whisper jobs). */
export interface TransformersJsGenerateCase {
  /** Key of its answer. */
  id: string;
  /** Texts (text jobs). */
  inputs?: string[];
  /** Image files relative to the model folder (image jobs). */
  images?: string[];
  /** WAV relative to the model folder (whisper jobs). */
  audio?: string;
  /** generate() options in transformers' names (`max_new_tokens`, `num_beams`, `language`, `return_timestamps`…). */
  options: Record<string, unknown>;
}

/** One model folder and what to run on it. */
export interface TransformersJsSeq2SeqJob {
  /** Key of its answers. */
  id: string;
  /** text: AutoModelForSeq2SeqLM; image: AutoModelForVision2Seq; whisper: WhisperForConditionalGeneration + ASR pipeline. */
  kind: "text" | "image" | "whisper";
  /** The model folder (optimum's layout: configs beside `onnx/`). */
  dir: string;
  /** generate() calls. */
  cases: TransformersJsGenerateCase[];
  /** ASR pipeline calls (whisper jobs): `{ id, audio, options }` with the pipeline's options. */
  pipeline?: { id: string; audio: string; options: Record<string, unknown> }[];
}

/** A generate() answer: full sequences (decoder prompt included) and, for text jobs, the unpadded encoder ids. */
export interface TransformersJsGenerated {
  /** The encoder's ids per text (text jobs). */
  input_ids?: number[][];
  /** generate()'s rows, decoder start / prompt included. */
  sequences: number[][];
}

/** An ASR pipeline answer (or the first line of the error it threw). */
export interface TransformersJsTranscript {
  /** Set when the pipeline threw: its first line. */
  error?: string;
  /** The text. */
  text: string;
  /** The timestamped chunks (with `return_timestamps`). */
  chunks?: { text: string; timestamp: [number | null, number | null] }[];
}

/** A job's answers by case id, or the first line of the error that stopped it. */
export type TransformersJsSeq2SeqAnswer =
  | { error: string }
  | Record<string, TransformersJsGenerated | TransformersJsTranscript>;

/** Runs every job in one transformers.js process; answers by job id. */
export async function runTransformersJsSeq2Seq(
  jobs: TransformersJsSeq2SeqJob[],
): Promise<Record<string, TransformersJsSeq2SeqAnswer>> {
  const request = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(request, JSON.stringify({ jobs }));
    const node = await runTransformersJsScript("runner_seq2seq", RUNNER, [request]);
    if (!node.ok) throw new Error(`transformers.js failed: ${node.err.trim().slice(-2000)}`);
    return JSON.parse(node.out);
  } finally {
    await Deno.remove(request);
  }
}
