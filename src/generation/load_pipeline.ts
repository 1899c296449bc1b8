/**
 * `loadPipeline` for every task, text generation included: a model whose task is `text-generation`
 * (`--task`, gpux.yml, the card's `pipeline_tag`, `architectures` ending in `ForCausalLM`/`LMHeadModel`)
 * or whose graph takes `past_key_values.*` becomes a {@linkcode TextGenerationPipeline}; any other model
 * the task pipeline of `processing/`. It lives here, above `processing/`, because generation builds on
 * the tokenizer and the task pipeline cannot import what sits above it.
 *
 * With no `variant`, a model folder or Hub snapshot holding several ONNX variants runs the one that suits
 * the provider ({@linkcode chooseGenerationVariant}).
 *
 * @module
 */
import { loadModel } from "../runtime/load_model.ts";
import { resolveModel } from "../runtime/model_source.ts";
import { checkProvider, providerCandidates } from "../runtime/providers.ts";
import {
  loadPipeline as loadTaskPipeline,
  type Pipeline,
  type PipelineOptions,
  supportedTasks,
} from "../processing/pipeline.ts";
import { ModelFiles } from "../processing/model_files.ts";
import { type DetectedTask, detectTask } from "../processing/task_detection.ts";
import { hasPastInputs } from "./decoder_contract.ts";
import { createTextGeneration, type TextGenerationPipeline } from "./text_generation.ts";
import { isWhisperModel, loadWhisper, type WhisperPipeline } from "./whisper_transcription.ts";
import { chooseGenerationVariant, listOnnxFiles, type VariantChoice } from "./variant_choice.ts";
import {
  isSeq2SeqModel,
  isSeq2SeqTask,
  loadSeq2Seq,
  type Seq2SeqPipeline,
  type Seq2SeqTask,
  seq2seqTask,
} from "./seq2seq_generation.ts";

/**
 * What {@linkcode loadPipeline} returns: a task pipeline, a text-generation one, an encoder-decoder one (both have
 * `generate`), or Whisper's speech recognition (it has `whisper: true`).
 */
export type AnyPipeline = Pipeline | TextGenerationPipeline | Seq2SeqPipeline | WhisperPipeline;

/**
 * The pipeline {@linkcode loadPipeline} gives for an explicit `task`: the text-generation pipeline for
 * `"text-generation"`, a task pipeline for any other literal task, either for a task only known as a `string`.
 */
export type PipelineFor<T extends string> = string extends T ? AnyPipeline
  : T extends "text-generation" ? TextGenerationPipeline
  : T extends Seq2SeqTask ? Seq2SeqPipeline
  : T extends "automatic-speech-recognition" ? Pipeline | WhisperPipeline
  : Pipeline;

/** True for an encoder-decoder generation pipeline (narrows {@linkcode AnyPipeline}). */
export function isSeq2Seq(pipeline: AnyPipeline): pipeline is Seq2SeqPipeline {
  return isSeq2SeqTask(pipeline.task) && "decodeFeeds" in pipeline;
}

/** True for a text-generation pipeline (narrows {@linkcode AnyPipeline}). */
export function isTextGeneration(pipeline: AnyPipeline): pipeline is TextGenerationPipeline {
  return pipeline.task === "text-generation" && "generate" in pipeline;
}

/** True for Whisper's speech-recognition pipeline (narrows {@linkcode AnyPipeline}). */
export function isWhisper(pipeline: AnyPipeline): pipeline is WhisperPipeline {
  return "whisper" in pipeline && pipeline.whisper === true;
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "." : path.slice(0, i);
}

/** The folder whose `onnx/` and root hold the model's variants (a snapshot, or the directory given). */
function modelRoot(onnxPath: string): string {
  const dir = dirname(onnxPath);
  return /\/onnx$/.test(dir) ? dirname(dir) : dir;
}

function expectedProvider(options: PipelineOptions): string {
  const choice = options.provider ?? "auto";
  if (choice !== "auto") return choice;
  return providerCandidates("auto").find((p) => p === "cpu" || !checkProvider(p)) ?? "cpu";
}

/** Resolves the model and, when no variant was named and several are present, picks the provider's. */
async function resolveWithVariant(model: string, options: PipelineOptions) {
  if (options.variant) return { options, choice: undefined };
  let root: string | undefined;
  try {
    const stat = await Deno.stat(model);
    if (stat.isDirectory) root = model.replace(/\/+$/, "");
  } catch {
    root = undefined;
  }
  if (root !== undefined) {
    for (const name of ["gpux.yml", "gpux.yaml"]) {
      try {
        if ((await Deno.stat(`${root}/${name}`)).isFile) return { options, choice: undefined };
      } catch { /* absent */ }
    }
  } else {
    try {
      const stat = await Deno.stat(model);
      if (stat.isFile) return { options, choice: undefined };
    } catch { /* a Hub id */ }
    const resolved = await resolveModel(model, options);
    if (resolved.kind !== "hub") return { options, choice: undefined };
    root = modelRoot(resolved.path);
  }
  const choice: VariantChoice | undefined = chooseGenerationVariant(
    await listOnnxFiles(root),
    expectedProvider(options),
  );
  return { options: choice ? { ...options, variant: choice.variant } : options, choice };
}

/** Options of {@linkcode loadTextGeneration}: how to find and run the model. */
export type TextGenerationOptions = Omit<PipelineOptions, "task">;

/**
 * Loads a decoder-only language model for generation: its session, tokenizer, chat template and
 * generation config.
 *
 * @throws {NotFoundError} the model or its tokenizer.json is missing (exit 3).
 * @throws {InputError} the graph is not a decoder gpux can drive — the message names what is missing (exit 2).
 */
export async function loadTextGeneration(
  model: string,
  options: TextGenerationOptions = {},
): Promise<TextGenerationPipeline> {
  const { options: resolved, choice } = await resolveWithVariant(model, options);
  return await loadGeneration(model, resolved, choice, { task: "text-generation", source: "option" });
}

async function loadGeneration(
  model: string,
  resolved: PipelineOptions,
  choice: VariantChoice | undefined,
  detected: DetectedTask | undefined,
): Promise<TextGenerationPipeline> {
  // the engine reads the last position's logits only: a plain export stops projecting the others (a quarter of a
  // 128-token prefill on SmolLM2-135M's shape), with the same numbers for that position
  const session = await loadModel(model, { lastPositionOutput: "logits", ...resolved });
  const files = await ModelFiles.forModel(session.model, session.path);
  const pipeline = await createTextGeneration({ session, files, taskSource: detected?.source ?? "none" });
  if (choice && session.model && !session.model.variantReason) {
    (session.model as { variantReason?: string }).variantReason = choice.reason;
  }
  return pipeline;
}

/**
 * Loads a model with its pipeline: a text-generation model gets `generate`/`run`/`chat`; any other model
 * its task pipeline (raw text, images or audio in, task results out). Never prints.
 *
 * @throws {NotFoundError} the model, or a file it needs, is missing (exit 3).
 * @throws {InputError} the task is unknown, or a generation graph does not fit (exit 2).
 */
export async function loadPipeline<T extends string>(
  model: string,
  options: PipelineOptions & { task: T },
): Promise<PipelineFor<T>>;
/** Loads a model with its pipeline (see above). */
export async function loadPipeline(model: string, options?: PipelineOptions): Promise<AnyPipeline>;
export async function loadPipeline(model: string, options: PipelineOptions = {}): Promise<AnyPipeline> {
  if (options.task === "text-generation") return await loadTextGeneration(model, options);
  if (isSeq2SeqTask(options.task)) return await loadSeq2Seq(model, { ...options, taskSource: "option" });
  if (
    (options.task === undefined || options.task === "automatic-speech-recognition") &&
    await isWhisperModel(model, options)
  ) {
    return await loadWhisper(model, options);
  }
  if (options.task) return await loadTaskPipeline(model, options);
  // an encoder-decoder export holds several graphs: recognised by its file names before anything resolves one
  if (await isSeq2SeqModel(model, options)) {
    const detected = await seq2seqTask(model, options);
    if (isSeq2SeqTask(detected.task)) {
      return await loadSeq2Seq(model, { ...options, task: detected.task, taskSource: detected.source });
    }
  }
  const { options: resolved, choice } = await resolveWithVariant(model, options);
  // detect from the files first, so that a generation model is loaded once
  const probe = await resolveModel(model, resolved);
  const files = await ModelFiles.forModel(probe, probe.path);
  const config = (await files.readJsonIfPresent("config.json") ?? {}) as Record<string, unknown>;
  const detected = await detectTask({ gpuxTask: probe.config?.task, files, config });
  if (detected?.task === "text-generation") return await loadGeneration(model, resolved, choice, detected);
  // other tasks keep the task pipeline's own default variant (fp32), whatever the provider
  if (detected && supportedTasks().includes(detected.task)) return await loadTaskPipeline(model, options);
  const session = await loadModel(model, resolved);
  if (hasPastInputs(session.inputs)) {
    const files = await ModelFiles.forModel(session.model, session.path);
    return await createTextGeneration({ session, files, taskSource: "none" });
  }
  await session.dispose();
  return await loadTaskPipeline(model, options);
}
