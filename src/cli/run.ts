/**
 * `gpux run <model>`: one inference with inputs from JSON or .npy, outputs printed or written.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { InputError } from "../errors.ts";
import { readBounded } from "../bounded_read.ts";
import type { CliContext } from "./context.ts";
import type { Output } from "./output.ts";
import { loadModel } from "../runtime/load_model.ts";
import { type GpuxSession, setOrtLogLevel } from "../runtime/session.ts";
import {
  elementCount,
  formatShape,
  fromFloat16Bits,
  jsonValues,
  nest,
  quoteName,
  type TensorData,
  type TensorMap,
  tensorsToJson,
} from "../runtime/tensors.ts";
import {
  collect,
  DEFAULT_MAX_INPUT_MB,
  inputBytesLimit,
  loadOptions,
  pullOption,
  readFeeds,
  shapesArg,
  warnFallbacks,
  withRuntimeOptions,
  writeOutputs,
  writeWhole,
} from "./runtime_flags.ts";
import { writeNpy } from "../runtime/npy.ts";
import { resultImages } from "../processing/result_image.ts";
import { fallbacksJson, modelJson, runResultJson } from "../runtime/run_result.ts";
import { inputNames, resultJson, resultPictures } from "../processing/result_json.ts";
import { INT_FLAGS, intFlag } from "./int_flag.ts";
import { benchmarkJson, printBenchmark } from "./bench.ts";
import {
  DEFAULT_MAX_AUDIO_SECONDS,
  loadPipeline,
  type MediaFile,
  type PipelineInput,
  type TaskResult,
} from "../processing/pipeline.ts";
import { cosineSimilarity } from "../processing/feature_extraction.ts";
import { SEGMENTATION_SUBTASKS, type SegmentationSubtask } from "../processing/image_segmentation.ts";
import { GENERATION_OPTIONS } from "./generation_flags.ts";
import { runPrompt } from "./run_prompt.ts";
import { runWhisper, whisperOnlyFlags } from "./run_whisper.ts";
import { isWhisperModel } from "../generation/whisper_transcription.ts";
import { runSeq2Seq } from "./run_seq2seq.ts";
import { isSeq2SeqModel, isSeq2SeqTask, seq2seqTask } from "../generation/seq2seq_generation.ts";
import type { TaskSource } from "../processing/task_detection.ts";

/** Largest tensor printed in full on a terminal. */
const FULL_PRINT_LIMIT = 64;

/** `gpux run`. */
export function runCommand(ctx: CliContext) {
  const command = new Command("run")
    .description("Run a model once and print its outputs; with --prompt, generate text with a language model")
    .argument("<model>", "an .onnx file, a directory with gpux.yml (or one .onnx), or a cached Hub id org/name[@rev]")
    .option("-i, --input <json>", `inputs as JSON: '{"name": [[1, 2]]}' or {"data", "shape", "dtype"} per input`)
    .option("-f, --file <path>", "read the --input JSON from a file (- for stdin)")
    .option("--input-npy <name=path>", "one input from a .npy file (repeatable)", collect)
    .option(
      "-o, --output <path>",
      "write outputs: out.json (all), out.npy (single output) or NAME=out.npy (repeatable)",
      collect,
    );
  return withRuntimeOptions(command)
    .addOption(pullOption())
    .option("--benchmark", "time repeated runs instead (same as gpux bench)")
    .option("--runs <n>", "with --benchmark: timed runs", intFlag("--runs", INT_FLAGS.runs), 100)
    .option("--warmup <n>", "with --benchmark: untimed runs first", intFlag("--warmup", INT_FLAGS.warmup), 10)
    .option("--shape <name=dims>", "with --benchmark: shape of a synthesised input, e.g. x=1x3x224x224", collect)
    .option("--batch <n>", "with --benchmark: size of a dynamic batch dimension", intFlag("--batch", INT_FLAGS.batch))
    .option("--text <text>", "raw text input (repeatable: a batch); the model's tokenizer makes the tensors", collect)
    .option(
      "--text-pair <text>",
      "second text for each --text (cross-encoders, NLI; one for all, or one per --text)",
      collect,
    )
    .option(
      "--labels <list>",
      "zero-shot classification (text or image), zero-shot-object-detection: candidate labels, comma-separated",
    )
    .option("--hypothesis-template <text>", "zero-shot: sentence around each label, {} marks it")
    .option("--question <text>", "question-answering: the question (repeatable, with --context)", collect)
    .option(
      "--context <text>",
      "question-answering: the text holding the answer (one for all, or one per --question)",
      collect,
    )
    .option("--targets <list>", "fill-mask: score only these words, comma-separated")
    .option(
      "--max-answer-length <n>",
      "question-answering: longest answer in tokens (default 15)",
      intFlag("--max-answer-length", INT_FLAGS.maxAnswerLength),
    )
    .option(
      "--max-seq-length <n>",
      "question-answering: tokens per window of a long context (default the model's, at most 384)",
      intFlag("--max-seq-length", INT_FLAGS.maxSeqLength),
    )
    .option(
      "--doc-stride <n>",
      "question-answering: context tokens consecutive windows share (default min(128, half a window))",
      intFlag("--doc-stride", INT_FLAGS.docStride),
    )
    .option("--image <path>", "image input: PNG, JPEG or WebP (repeatable; - for stdin)", collect)
    .option("--audio <path>", "audio input: WAV (repeatable; - for stdin)", collect)
    .option(
      "--max-input-mb <n>",
      `largest input file read (--image, --audio, --file, --input-npy), MiB (default ${DEFAULT_MAX_INPUT_MB})`,
      intFlag("--max-input-mb", INT_FLAGS.maxInputMb),
    )
    .option(
      "--max-audio-seconds <n>",
      `longest --audio clip accepted, seconds (default ${DEFAULT_MAX_AUDIO_SECONDS})`,
      intFlag("--max-audio-seconds", INT_FLAGS.maxAudioSeconds),
    )
    .option(
      "--task <name>",
      "task for raw inputs (default: gpux.yml task:, the model card's pipeline_tag, config.json); Whisper: transcribe or translate",
    )
    .option(
      "-k, --top-k <n>",
      "classification: labels per input (default 1; 5 for images); generation: sample from the k likeliest tokens",
      intFlag("--top-k", INT_FLAGS.topK),
    )
    .option("--prompt <text>", "generate text from this prompt (- for stdin); a chat model's user message")
    .option("--raw-prompt", "generation: feed --prompt as plain text, without the chat template")
    .option("--language <code>", "Whisper: spoken language code (en, de, …; default: detected and reported)")
    .option("--timestamps", "Whisper: print segments with their start and end times")
    .option(
      "--format <fmt>",
      "Whisper: the transcript as txt, srt, vtt or json (as whisper.cpp); --prompt: json, text or a JSON schema (file or inline)",
    )
    .addOption(GENERATION_OPTIONS.system())
    .addOption(GENERATION_OPTIONS.maxNewTokens())
    .addOption(GENERATION_OPTIONS.temperature())
    .addOption(GENERATION_OPTIONS.topP())
    .addOption(GENERATION_OPTIONS.minP())
    .addOption(GENERATION_OPTIONS.repetitionPenalty())
    .addOption(GENERATION_OPTIONS.seed())
    .addOption(GENERATION_OPTIONS.stop())
    .addOption(GENERATION_OPTIONS.templateVar())
    .addOption(GENERATION_OPTIONS.truncate())
    .addOption(GENERATION_OPTIONS.keepSpecialTokens())
    .addOption(GENERATION_OPTIONS.numBeams())
    .option("--aggregation <mode>", "token-classification: none, simple (default) or first", aggregationArg)
    .option("--multi-label", "zero-shot-classification: score each label on its own")
    .option(
      "--threshold <score>",
      "object-detection: keep boxes scoring above this (default 0.5; 0.1 zero-shot)",
      thresholdArg,
    )
    .option(
      "--subtask <kind>",
      "image-segmentation: panoptic, instance or semantic (default: panoptic where the model allows it)",
      subtaskArg,
    )
    .option("--raw", "with raw inputs: print the model's output tensors instead of the task's answer")
    .option("--json", "print one JSON document: {model, provider, outputs, timings} (with raw inputs: {task, result})")
    .option("-q, --quiet", "no progress or timing lines on stderr")
    .action(async (model, flags) => {
      const out = ctx.output({ json: flags.json, quiet: flags.quiet });
      await setOrtLogLevel("fatal");
      const started = performance.now();
      const generation = [
        flags.rawPrompt && "--raw-prompt",
        flags.system !== undefined && "--system",
        flags.maxNewTokens !== undefined && !flags.audio?.length && "--max-new-tokens",
        flags.temperature !== undefined && "--temperature",
        flags.topP !== undefined && "--top-p",
        flags.minP !== undefined && "--min-p",
        flags.repetitionPenalty !== undefined && "--repetition-penalty",
        flags.seed !== undefined && "--seed",
        flags.stop?.length && "--stop",
        flags.templateVar?.length && "--template-var",
        flags.truncate && "--truncate",
        flags.keepSpecialTokens && "--keep-special-tokens",
        flags.numBeams !== undefined && "--num-beams",
        flags.format !== undefined && !flags.audio?.length && "--format",
      ].filter((f): f is string => typeof f === "string");
      if (flags.prompt !== undefined) {
        const other = [
          flags.input !== undefined && "--input",
          flags.file !== undefined && "--file",
          flags.inputNpy?.length && "--input-npy",
          flags.text?.length && "--text",
          flags.image?.length && "--image",
          flags.audio?.length && "--audio",
          flags.question?.length && "--question",
          flags.benchmark && "--benchmark",
          flags.output?.length && "--output",
          flags.raw && "--raw",
        ].filter((f): f is string => typeof f === "string");
        if (other.length) {
          throw new InputError(`--prompt generates text; it does not go with ${other.join(", ")}`, {
            hint: `drop ${other.join(", ")}, or drop --prompt to run the model on those inputs`,
          });
        }
        await runPrompt(ctx, out, model, flags);
        return;
      }
      if ((flags.text?.length || flags.image?.length) && !flags.raw) {
        const route = await seq2seqRoute(ctx, model, flags);
        if (route) {
          const extra = [
            flags.textPair?.length && "--text-pair",
            flags.labels && "--labels",
            flags.audio?.length && "--audio",
            flags.question?.length && "--question",
            flags.benchmark && "--benchmark",
            (flags.input !== undefined || flags.file !== undefined || flags.inputNpy?.length) && "--input/--file",
          ].filter((f): f is string => typeof f === "string");
          if (extra.length || (flags.text?.length && flags.image?.length)) {
            throw new InputError(
              `an encoder-decoder model (${route.task}) takes --text or --image alone, not ${
                extra.length ? extra.join(", ") : "both"
              }`,
            );
          }
          const input = flags.text?.length
            ? { texts: flags.text }
            : { images: await readMedia(flags.image!, "--image", inputBytesLimit(flags.maxInputMb), ctx.signal) };
          await runSeq2Seq(ctx, out, model, flags, input, route.task, route.source);
          return;
        }
      }
      if (generation.length) {
        throw new InputError(`${generation.join(", ")} ${generation.length > 1 ? "go" : "goes"} with --prompt`, {
          hint:
            'gpux run MODEL --prompt "Hello" generates text with a language model (and --text/--image with an encoder-decoder model)',
        });
      }
      const rawInput = await readRawInput(flags, ctx.signal);
      if (rawInput) {
        if (flags.input !== undefined || flags.file !== undefined || flags.inputNpy?.length) {
          throw new InputError(
            "give raw inputs (--text, --image, --audio) or tensors (--input, --file, --input-npy), not both",
            {
              hint: "drop one of the two: raw inputs go through the model's pre-processing, tensors go in as they are",
            },
          );
        }
        if (flags.benchmark) {
          throw new InputError("--benchmark runs on tensors; drop --text/--image/--audio", {
            hint: "gpux bench MODEL times the model on synthesised (or --input) tensors",
          });
        }
        if (
          typeof rawInput === "object" && "kind" in rawInput && rawInput.kind === "audio" &&
          await isWhisperModel(model, loadOptions(ctx, flags, out))
        ) {
          await runWhisper(ctx, out, model, flags, rawInput.clips);
          return;
        }
        const whisperOnly = whisperOnlyFlags(flags);
        if (whisperOnly.length || (flags.maxNewTokens !== undefined)) {
          const given = flags.maxNewTokens !== undefined ? [...whisperOnly, "--max-new-tokens"] : whisperOnly;
          throw new InputError(`${given.join(", ")} ${given.length > 1 ? "go" : "goes"} with a Whisper model`, {
            hint: "gpux run WHISPER_MODEL --audio speech.wav --language en --timestamps",
          });
        }
        await runPipeline(ctx, out, model, flags, rawInput, started);
        return;
      }
      const session = await loadModel(model, loadOptions(ctx, flags, out));
      try {
        warnFallbacks(out, session);
        const feeds = await readFeeds(flags, session.inputs, ctx.signal) ??
          (session.inputs.length === 0 ? {} : undefined);
        if (flags.benchmark) {
          const result = await session.benchmark({
            runs: flags.runs,
            warmup: flags.warmup,
            batch: flags.batch,
            shapes: shapesArg(flags.shape),
            feeds,
            signal: ctx.signal,
          });
          if (out.json) out.printJson(benchmarkJson(model, session, result));
          else printBenchmark(out, model, session, result);
          return;
        }
        if (!feeds) {
          throw new InputError(
            `no inputs given; the model's inputs are ${
              session.inputs.map((i) => `${quoteName(i.name)} ${i.dtype}${formatShape(i.shape)}`).join(", ")
            }`,
            {
              hint: `pass --input '{"${
                session.inputs[0]?.name ?? "x"
              }": …}', --file input.json or --input-npy NAME=file.npy (gpux bench makes inputs up)`,
            },
          );
        }
        const loadMs = performance.now() - started;
        const t = performance.now();
        const outputs = await session.run(feeds);
        const runMs = performance.now() - t;
        const order = session.outputs.map((o) => o.name);
        const written = flags.output?.length ? await writeOutputs(flags.output, outputs, order) : [];
        const timings = { loadMs: round(loadMs), createMs: round(session.createMs), runMs: round(runMs) };
        if (out.json) {
          out.printJson(runResultJson(model, session, outputs, order, timings, written));
          return;
        }
        // with --output the files are the result (as `curl -o`): stdout stays empty
        if (!written.length) {
          for (const name of order) printTensor(out, name, outputs[name], labelsFor(session, name));
        }
        for (const path of written) out.info(`wrote ${path}`);
        out.info(`${session.provider} · load ${timings.loadMs} ms · run ${timings.runMs} ms`);
      } finally {
        await session.dispose();
      }
    });
}

function thresholdArg(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InputError(`--threshold ${JSON.stringify(value)}: expected a score from 0 to 1`);
  }
  return n;
}

function subtaskArg(value: string): SegmentationSubtask {
  const known = SEGMENTATION_SUBTASKS as readonly string[];
  if (known.includes(value)) return value as SegmentationSubtask;
  throw new InputError(`--subtask ${JSON.stringify(value)}: expected ${SEGMENTATION_SUBTASKS.join(", ")}`);
}

function aggregationArg(value: string): "none" | "simple" | "first" {
  if (value === "none" || value === "simple" || value === "first") return value;
  throw new InputError(`--aggregation ${JSON.stringify(value)}: expected none, simple or first`, {
    hint: "token-classification groups word pieces with simple (the default) or first; none keeps every token",
  });
}

interface RawFlags {
  maxInputMb?: number;
  text?: string[];
  textPair?: string[];
  labels?: string;
  hypothesisTemplate?: string;
  question?: string[];
  context?: string[];
  image?: string[];
  audio?: string[];
}

async function readMedia(
  paths: string[],
  flag: string,
  maxBytes: number,
  signal: AbortSignal,
): Promise<MediaFile[]> {
  if (paths.filter((p) => p === "-").length > 1) {
    throw new InputError(`${flag} - (stdin) can be given once`, { hint: `give the other ${flag} inputs as files` });
  }
  const files: MediaFile[] = [];
  for (const path of paths) {
    const bytes = await readBounded(path, {
      maxBytes,
      label: `${flag} ${path}`,
      signal,
      allowStdin: true,
      tooBigHint: "raise the limit with --max-input-mb",
    });
    files.push({ name: path === "-" ? "stdin" : path, bytes });
  }
  return files;
}

/** The encoder-decoder task to run `model` with, when `--task` names one or the model is such an export. */
async function seq2seqRoute(
  ctx: CliContext,
  model: string,
  flags: Parameters<typeof loadOptions>[1] & { task?: string },
): Promise<{ task: string; source: TaskSource } | undefined> {
  if (flags.task) return isSeq2SeqTask(flags.task) ? { task: flags.task, source: "option" } : undefined;
  const options = { ...loadOptions(ctx, flags), pull: undefined };
  if (!(await isSeq2SeqModel(model, options))) return undefined;
  const detected = await seq2seqTask(model, options);
  return isSeq2SeqTask(detected.task) ? detected : undefined;
}

/** The raw input of `--text`/`--image`/`--audio`, or undefined when none was given. */
async function readRawInput(flags: RawFlags, signal: AbortSignal): Promise<PipelineInput | undefined> {
  const kinds = [flags.text?.length, flags.image?.length, flags.audio?.length, flags.question?.length]
    .filter(Boolean).length;
  if (flags.context?.length && !flags.question?.length) {
    throw new InputError("--context goes with --question", {
      hint: 'gpux run MODEL --question "Where does Ada live?" --context "Ada lives in London."',
    });
  }
  if (kinds === 0) {
    if (flags.textPair?.length || flags.labels) {
      throw new InputError("--text-pair goes with --text, --labels with --text or --image", {
        hint: `add the text itself, e.g. --text "I loved it"${flags.labels ? " --labels positive,negative" : ""}`,
      });
    }
    return undefined;
  }
  if (kinds > 1) {
    throw new InputError("give one kind of raw input: --text, --question, --image or --audio", {
      hint: "run the command once per kind of input",
    });
  }
  const labels = flags.labels?.split(",").map((l) => l.trim()).filter((l) => l.length > 0);
  const zeroShot = {
    ...(labels?.length ? { candidateLabels: labels } : {}),
    ...(flags.hypothesisTemplate !== undefined ? { hypothesisTemplate: flags.hypothesisTemplate } : {}),
  };
  if (flags.question?.length) {
    if (flags.textPair?.length || labels?.length) {
      throw new InputError("--question takes --context, not --text-pair or --labels", {
        hint: 'gpux run MODEL --question "Where does Ada live?" --context "Ada lives in London."',
      });
    }
    const questions = flags.question;
    let contexts = flags.context ?? [];
    if (contexts.length === 1 && questions.length > 1) contexts = questions.map(() => contexts[0]);
    if (contexts.length !== questions.length) {
      throw new InputError(
        `${questions.length} --question but ${contexts.length} --context: give one context per question, or one for all`,
        { hint: 'gpux run MODEL --question "Where does Ada live?" --context "Ada lives in London."' },
      );
    }
    return { kind: "text", texts: questions, pairs: contexts };
  }
  if (flags.text?.length) {
    const texts = flags.text;
    let pairs = flags.textPair;
    if (pairs?.length === 1 && texts.length > 1) pairs = texts.map(() => pairs![0]);
    if (pairs && pairs.length !== texts.length) {
      throw new InputError(
        `${texts.length} --text but ${pairs.length} --text-pair: give one pair per text, or one for all`,
        { hint: "repeat --text-pair once per --text, in the same order, or give a single --text-pair" },
      );
    }
    return { kind: "text", texts, ...(pairs ? { pairs } : {}), ...zeroShot };
  }
  const maxBytes = inputBytesLimit(flags.maxInputMb);
  if (flags.image?.length) {
    return { kind: "image", images: await readMedia(flags.image, "--image", maxBytes, signal), ...zeroShot };
  }
  if (labels?.length || flags.hypothesisTemplate !== undefined) {
    throw new InputError("--labels and --hypothesis-template go with --text or --image, not --audio", {
      hint: "drop --labels and --hypothesis-template for audio models",
    });
  }
  return { kind: "audio", clips: await readMedia(flags.audio!, "--audio", maxBytes, signal) };
}

async function runPipeline(
  ctx: CliContext,
  out: Output,
  model: string,
  flags: Parameters<typeof loadOptions>[1] & RawFlags & {
    task?: string;
    topK?: number;
    aggregation?: "none" | "simple" | "first";
    multiLabel?: boolean;
    targets?: string;
    maxAnswerLength?: number;
    maxSeqLength?: number;
    docStride?: number;
    threshold?: number;
    subtask?: SegmentationSubtask;
    raw?: boolean;
    json?: boolean;
    output?: string[];
    maxAudioSeconds?: number;
  },
  input: PipelineInput,
  started: number,
): Promise<void> {
  const pipeline = await loadPipeline(model, {
    ...loadOptions(ctx, flags, out),
    task: flags.task,
    ...(flags.maxAudioSeconds !== undefined ? { maxAudioSeconds: flags.maxAudioSeconds } : {}),
  });
  try {
    const session = pipeline.session;
    warnFallbacks(out, session);
    const loadMs = performance.now() - started;
    const t = performance.now();
    if (flags.raw) {
      const pre = await pipeline.preprocess(input, qaOptions(flags));
      const outputs = await session.run(pre.feeds);
      const runMs = performance.now() - t;
      const order = session.outputs.map((o) => o.name);
      const written = flags.output?.length ? await writeOutputs(flags.output, outputs, order) : [];
      const timings = { loadMs: round(loadMs), createMs: round(session.createMs), runMs: round(runMs) };
      if (out.json) {
        const ordered: TensorMap = {};
        for (const name of order) ordered[name] = outputs[name];
        out.printJson({
          model: modelJson(model, session),
          provider: session.provider,
          task: pipeline.task,
          inputs: tensorsToJson(pre.feeds),
          outputs: tensorsToJson(ordered),
          ...(written.length ? { written } : {}),
          timings,
        });
        return;
      }
      if (!written.length) {
        for (const name of order) printTensor(out, name, outputs[name], labelsFor(session, name));
      }
      for (const path of written) out.info(`wrote ${path}`);
      out.info(`${session.provider} · ${pipeline.task} · load ${timings.loadMs} ms · run ${timings.runMs} ms`);
      return;
    }
    const isImage = typeof input === "object" && !Array.isArray(input) && input.kind === "image";
    const targets = flags.targets?.split(",").map((t) => t.trim()).filter((t) => t.length > 0);
    const result = await pipeline.run(input, {
      topK: flags.topK ??
        (isImage && !input.candidateLabels && !pipeline.task.endsWith("object-detection") ? 5 : undefined),
      aggregation: flags.aggregation,
      multiLabel: flags.multiLabel,
      ...(targets?.length ? { targets } : {}),
      ...qaOptions(flags),
      threshold: flags.threshold,
      ...(flags.subtask ? { subtask: flags.subtask } : {}),
    });
    const runMs = performance.now() - t;
    const timings = { loadMs: round(loadMs), createMs: round(session.createMs), runMs: round(runMs) };
    const names = inputNames(input);
    const written = flags.output?.length ? await writeResultFiles(flags.output, result, input) : [];
    if (out.json) {
      out.printJson({
        model: modelJson(model, session),
        provider: session.provider,
        ...(session.fallbacks.length ? { fallbacks: fallbacksJson(session) } : {}),
        task: pipeline.task,
        taskSource: pipeline.taskSource,
        result: resultJson(result, names, await resultPictures(result)),
        ...(written.length ? { written } : {}),
        timings,
      });
      return;
    }
    printResult(out, result, names);
    for (const path of written) out.info(`wrote ${path}`);
    out.info(`${session.provider} · ${pipeline.task} · load ${timings.loadMs} ms · run ${timings.runMs} ms`);
  } finally {
    await pipeline.dispose();
  }
}

function qaOptions(flags: { maxAnswerLength?: number; maxSeqLength?: number; docStride?: number }) {
  return {
    ...(flags.maxAnswerLength !== undefined ? { maxAnswerLength: flags.maxAnswerLength } : {}),
    ...(flags.maxSeqLength !== undefined ? { maxSeqLength: flags.maxSeqLength } : {}),
    ...(flags.docStride !== undefined ? { docStride: flags.docStride } : {}),
  };
}

/**
 * `--output` with a vision task's answer: FILE.png the picture of each input (boxes drawn, segments tinted,
 * the cut-out, the depth map; FILE-1.png, FILE-2.png … for the later images of a batch), FILE.npy the raw
 * depth (depth-estimation, first image).
 */
async function writeResultFiles(specs: string[], result: TaskResult, input: PipelineInput): Promise<string[]> {
  const images = typeof input === "object" && !Array.isArray(input) && input.kind === "image" ? input : undefined;
  const written: string[] = [];
  for (const spec of specs) {
    const lower = spec.toLowerCase();
    if (lower.endsWith(".npy") && result.kind === "depth") {
      const d = result.depths[0];
      await writeWhole(
        spec,
        writeNpy({ dtype: "float32", shape: [d.height, d.width], data: d.predictedDepth }),
        "--output",
      );
      written.push(spec);
    } else if (lower.endsWith(".png") && images) {
      const pngs = await resultImages(result, images);
      for (let i = 0; i < pngs.length; i++) {
        const path = i === 0 ? spec : spec.replace(/(\.png)$/i, `-${i}$1`);
        await writeWhole(path, pngs[i], "--output");
        written.push(path);
      }
    } else if (!images) {
      throw new InputError(
        `--output ${spec}: ${result.task} answers are printed (or --json); --output writes the pictures of image tasks`,
        { hint: "--raw --output writes the model's tensors" },
      );
    } else {
      throw new InputError(
        `--output ${spec}: with --image, give FILE.png (the answer as a picture)${
          result.kind === "depth" ? " or FILE.npy (the raw depth)" : ""
        }`,
        { hint: "--json prints the whole answer; --raw --output writes the model's tensors" },
      );
    }
  }
  return written;
}

function score(v: number): string {
  return v.toFixed(4);
}

/** Human output: `LABEL 0.9812` lines, one block per input when there are several. */
function printResult(out: Output, result: TaskResult, names: string[]): void {
  const header = (i: number) => {
    if (names.length > 1) out.print(out.bold(names[i].length > 70 ? `${names[i].slice(0, 69)}…` : names[i]));
  };
  switch (result.kind) {
    case "classification":
    case "zero-shot":
      result.predictions.forEach((labels, i) => {
        header(i);
        for (const l of labels) out.print(`${l.label} ${score(l.score)}`);
      });
      return;
    case "embedding":
      result.embeddings.forEach((v, i) => {
        header(i);
        const first = Array.from(v.slice(0, 8), (x) => x.toFixed(4)).join(", ");
        out.print(
          `dimension ${result.dimension} (${result.pooling} pooling${
            result.normalized ? ", normalized" : ""
          }): ${first}${v.length > 8 ? ", …" : ""}`,
        );
      });
      if (result.embeddings.length > 1) {
        // sentence similarity, as the Hub's widget shows it: each text against the first
        const similarity = result.embeddings.slice(1).map((v) => cosineSimilarity(result.embeddings[0], v).toFixed(4));
        out.print(`cosine similarity to the first: ${similarity.join(", ")}`);
      }
      out.info("the whole vectors: --json");
      return;
    case "entities":
      result.entities.forEach((entities, i) => {
        header(i);
        if (entities.length === 0) out.print(out.dim("(no entities)"));
        for (const e of entities) {
          out.print(`${e.label} ${score(e.score)} ${JSON.stringify(e.word)} [${e.start}, ${e.end})`);
        }
      });
      return;
    case "transcription":
      result.texts.forEach((text, i) => {
        header(i);
        out.print(text);
      });
      return;
    case "fill-mask":
      // `paris 0.4316 "the capital of france is paris."`, one block per mask when a text has several
      result.masks.forEach((masks, i) => {
        header(i);
        masks.forEach((candidates, m) => {
          if (masks.length > 1) out.print(out.dim(`mask ${m + 1}`));
          for (const c of candidates) out.print(`${c.tokenStr} ${score(c.score)} ${JSON.stringify(c.sequence)}`);
        });
      });
      return;
    case "answers":
      // `London 0.9731 [13, 19)`: the answer, its score and its characters in the context
      result.answers.forEach((answers, i) => {
        header(i);
        if (answers.length === 0) out.print(out.dim("(no answer)"));
        for (const a of answers) out.print(`${JSON.stringify(a.answer)} ${score(a.score)} [${a.start}, ${a.end})`);
      });
      return;
    case "similarity":
      // `0.8311 a man eats bread.`: each text against the first
      result.similarities.forEach((s, i) => out.print(`${score(s)} ${names[i + 1]}`));
      return;
    case "detection":
      result.objects.forEach((objects, i) => {
        header(i);
        if (objects.length === 0) out.print(out.dim("(no objects above the threshold)"));
        for (const o of objects) {
          const b = o.box;
          out.print(
            `${o.label} ${score(o.score)} [${[b.xmin, b.ymin, b.xmax, b.ymax].map((v) => v.toFixed(1)).join(", ")}]`,
          );
        }
      });
      out.info("boxes: xmin, ymin, xmax, ymax in pixels; --output FILE.png draws them");
      return;
    case "segmentation":
      result.segments.forEach((segments, i) => {
        header(i);
        const size = result.sizes[i].width * result.sizes[i].height;
        for (const s of segments) {
          let on = 0;
          for (const v of s.mask) on += v / 255;
          out.print(
            `${s.label}${s.score === null ? "" : ` ${score(s.score)}`} ${(100 * on / size).toFixed(1)}% of pixels`,
          );
        }
      });
      out.info("the masks: --output FILE.png (a picture) or --json (base64 PNGs)");
      return;
    case "depth":
      result.depths.forEach((d, i) => {
        header(i);
        let min = Infinity, max = -Infinity;
        for (const v of d.predictedDepth) {
          if (v < min) min = v;
          if (v > max) max = v;
        }
        out.print(`depth ${d.width}×${d.height} · min ${fmt(min)} · max ${fmt(max)}`);
      });
      out.info("the depth map: --output FILE.png (a picture), FILE.npy (raw) or --json");
      return;
    case "tensors":
      for (const [name, t] of Object.entries(result.outputs)) printTensor(out, name, t);
      return;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function labelsFor(session: GpuxSession, name: string): string[] | undefined {
  return session.model?.config?.outputs.find((o) => o.name === name)?.labels;
}

function numbersOf(t: TensorData): number[] | undefined {
  if (t.dtype === "string" || t.dtype === "bool") return undefined;
  if (t.dtype === "float16") return Array.from(fromFloat16Bits(t.data as Uint16Array));
  if (t.dtype === "int64" || t.dtype === "uint64") return Array.from(t.data as BigInt64Array, Number);
  return Array.from(t.data as Float32Array);
}

/** Prints one output: in full when small or when stdout is not a terminal, else a summary. */
function printTensor(out: Output, name: string, t: TensorData, labels?: string[]): void {
  const n = elementCount(t.shape);
  out.print(`${out.bold(quoteName(name))} ${t.dtype}${formatShape(t.shape)}`);
  if (n <= FULL_PRINT_LIMIT || !out.stdoutIsTTY) {
    out.print(JSON.stringify(nest(jsonValues(t), t.shape)));
  } else {
    const values = jsonValues(t);
    out.print(`  first: ${JSON.stringify(values.slice(0, 8)).slice(1, -1)}, … (${n} values)`);
    const nums = numbersOf(t);
    if (nums) {
      let min = Infinity, max = -Infinity, sum = 0;
      for (const v of nums) {
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
      }
      out.print(
        `  min ${fmt(min)} · max ${fmt(max)} · mean ${fmt(sum / nums.length)}  (full data: --json or --output)`,
      );
    }
  }
  const nums = labels ? numbersOf(t) : undefined;
  if (labels && nums && t.shape.length >= 1 && t.shape[t.shape.length - 1] === labels.length) {
    const row = nums.slice(0, labels.length);
    const top = row.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
    out.print(`  top: ${top.map(([v, i]) => `${labels[i]} ${fmt(v)}`).join(", ")}`);
  }
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(5);
}
