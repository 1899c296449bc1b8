/**
 * Raw inputs in, answers out: the task pipeline that turns text, images or audio into feeds, runs the
 * model ({@linkcode GpuxSession}) and turns the outputs into a task result.
 *
 * ## Adding a task (note for handler authors)
 *
 * A task is a {@linkcode TaskHandler}: the input kinds it accepts, `setup` (load tokenizer / processor
 * files once, through `ctx.files`, and keep them in the returned state), `preprocess` (input → feeds,
 * plus any metadata postprocess needs) and `postprocess` (outputs → a {@linkcode TaskResult}). Write it
 * in its own file (e.g. `image_classification.ts`), export the handler object, and add it to the list in
 * `task_registry.ts` (one import, one array entry). A handler imports its types (`TaskHandler`,
 * `PipelineContext`, the inputs and results) from `task_types.ts`, never from this file: this file imports
 * the registry, which imports every handler, and the layer check forbids that cycle. Handlers never print; a missing file is
 * `ctx.files.require(name)` (a NotFoundError naming the file and the `gpux pull` that fetches it), bad
 * input an `InputError`. Reuse `classification.ts` (softmax, sigmoid, top-k with id2label) for labels.
 *
 * ```ts ignore
 * export const imageClassification: TaskHandler<ImageState> = {
 *   task: "image-classification",
 *   accepts: ["image"],
 *   async setup(ctx) { return { processor: await loadImageProcessor(ctx) }; },
 *   async preprocess(input, ctx, state) { return { feeds: { pixel_values: … } }; },
 *   postprocess(outputs, pre, ctx, state, options) {
 *     return { kind: "classification", task: ctx.task, predictions: classify(logits, ctx, options) };
 *   },
 * };
 * ```
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { loadModel, type LoadModelOptions } from "../runtime/load_model.ts";
import type { GpuxSession } from "../runtime/session.ts";
import { batchingProof } from "../runtime/batch_dimension.ts";
import { inputItems, joinItemResults } from "./item_runs.ts";
import { TASK_HANDLERS } from "./task_registry.ts";
import { detectTask, type TaskSource } from "./task_detection.ts";
import { ModelFiles } from "./model_files.ts";
import { DEFAULT_MAX_AUDIO_SECONDS } from "./audio_wav.ts";
import type {
  AudioInput,
  ImageInput,
  InputKind,
  PipelineContext,
  PipelineInput,
  PipelineRunOptions,
  Preprocessed,
  TaskHandler,
  TaskResult,
  TextInput,
} from "./task_types.ts";

export { ModelFiles };

export type {
  Answer,
  AudioInput,
  Entity,
  FillMaskCandidate,
  ImageInput,
  InputKind,
  LabelScore,
  MediaFile,
  PipelineContext,
  PipelineInput,
  PipelineRunOptions,
  Preprocessed,
  TaskHandler,
  TaskResult,
  TextInput,
} from "./task_types.ts";
export type { Box, DepthMap, DetectedObject, Segment } from "./task_types.ts";

/** Options of {@linkcode loadPipeline}: the task, and how to find and run the model. */
export interface PipelineOptions extends LoadModelOptions {
  /** Task to run; overrides gpux.yml `task:`, the README's `pipeline_tag` and config.json. */
  task?: string;
  /**
   * Longest audio clip accepted, in seconds (default {@linkcode DEFAULT_MAX_AUDIO_SECONDS}, 600): a longer WAV
   * is an {@linkcode InputError} found from its header, before any buffer is allocated
   * (`gpux run --max-audio-seconds`, `gpux serve --max-audio-seconds`).
   */
  maxAudioSeconds?: number;
}

export { DEFAULT_MAX_AUDIO_SECONDS };

/** A model ready to take raw inputs. Dispose it when done. */
export interface Pipeline {
  /** The task it runs. */
  readonly task: string;
  /** Where the task name came from. */
  readonly taskSource: TaskSource;
  /** Input kinds it accepts. */
  readonly accepts: readonly InputKind[];
  /** The underlying session (for its inputs, outputs, provider). */
  readonly session: GpuxSession;
  /** Runs raw input through pre-processing, the model and post-processing. */
  run(input: PipelineInput, options?: PipelineRunOptions): Promise<TaskResult>;
  /** Pre-processing only: the feeds the model would get (options that shape them: QA windows). */
  preprocess(input: PipelineInput, options?: PipelineRunOptions): Promise<Preprocessed>;
  /** Releases the session. */
  dispose(): Promise<void>;
  /** `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The handler registered for `task`, if any. */
export function taskHandler(task: string): TaskHandler | undefined {
  return TASK_HANDLERS.find((h) => h.task === task) as TaskHandler | undefined;
}

/** Names of the tasks with a handler. */
export function supportedTasks(): string[] {
  return TASK_HANDLERS.map((h) => h.task);
}

/** Turns the loose input forms into a typed input. */
export function normalizeInput(input: PipelineInput): TextInput | ImageInput | AudioInput {
  if (typeof input === "string") return { kind: "text", texts: [input] };
  if (Array.isArray(input)) return { kind: "text", texts: input };
  return input;
}

function describeKinds(kinds: readonly InputKind[]): string {
  return kinds.map((k) => k === "text" ? "text (--text)" : k === "image" ? "an image (--image)" : "audio (--audio)")
    .join(" or ");
}

/** Tensor-only handler for tasks gpux has no post-processing for: the caller must give tensors. */
const TENSORS_ONLY: readonly InputKind[] = [];

/**
 * Loads a model with its task pipeline: raw text, images or audio in, task results out.
 *
 * The task comes from `options.task`, else gpux.yml `task:`, else the repository's README
 * `pipeline_tag`, else config.json `architectures`. Never prints.
 *
 * @throws {NotFoundError} the model, or a tokenizer/processor file it needs, is missing (exit 3).
 * @throws {InputError} the task is unknown or the input is of a kind the task does not take (exit 2).
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * const classifier = await loadPipeline("acme/sentiment");
 * const result = await classifier.run(["I love this", "I hate this"], { topK: 2 });
 * if (result.kind === "classification") console.log(result.predictions[0][0].label);
 * await classifier.dispose();
 * ```
 */
export async function loadPipeline(model: string, options: PipelineOptions = {}): Promise<Pipeline> {
  const session = await loadModel(model, options);
  try {
    const resolved = session.model;
    const files = await ModelFiles.forModel(resolved, session.path);
    const config = (await files.readJsonIfPresent("config.json")) as Record<string, unknown> | undefined ?? {};
    const detected = await detectTask({
      override: options.task,
      gpuxTask: resolved?.config?.task,
      files,
      config,
      graph: { inputs: session.inputs.map((i) => i.name), outputs: session.outputs.map((o) => o.name) },
    });
    const handler = detected ? taskHandler(detected.task) : undefined;
    if (options.task && !handler) {
      throw new InputError(`gpux has no pipeline for task ${JSON.stringify(options.task)}`, {
        hint: `use one of: ${supportedTasks().join(", ")} — or --raw with --input to run on tensors`,
      });
    }
    const ctx: PipelineContext = {
      task: detected?.task ?? "tensors",
      taskSource: detected?.source ?? "none",
      session,
      files,
      config,
      preprocessing: resolved?.config?.preprocessing,
      model: resolved,
      maxAudioSeconds: options.maxAudioSeconds ?? DEFAULT_MAX_AUDIO_SECONDS,
    };
    const state = handler ? await handler.setup(ctx) : undefined;
    const accepts = handler?.accepts ?? TENSORS_ONLY;
    const preprocess = async (input: PipelineInput, runOptions: PipelineRunOptions = {}): Promise<Preprocessed> => {
      const typed = normalizeInput(input);
      if (!handler) {
        throw new InputError(
          `gpux does not know which task ${model} performs${
            detected ? ` (${detected.task}, from ${detected.source}, has no pipeline)` : ""
          }, so it cannot turn ${typed.kind} into its inputs`,
          {
            hint: `pass --task (one of: ${
              supportedTasks().join(", ")
            }), set task: in gpux.yml, or give tensors with --input`,
          },
        );
      }
      if (!accepts.includes(typed.kind)) {
        const expected = session.inputs.map((i) => i.name).join(", ");
        throw new InputError(
          `${model} is ${/^[aeiou]/.test(ctx.task) ? "an" : "a"} ${ctx.task} model: it takes ${
            describeKinds(accepts)
          }, not ${typed.kind} (inputs: ${expected})`,
          { hint: `give it ${describeKinds(accepts)}` },
        );
      }
      return await handler.preprocess(typed, ctx, state, runOptions);
    };
    const batchable = batchingProof(session.inputs, session.outputs).ok;
    let disposed = false;
    const pipeline: Pipeline = {
      task: ctx.task,
      taskSource: ctx.taskSource,
      accepts,
      session,
      preprocess,
      async run(input, runOptions = {}) {
        const items = batchable ? [] : inputItems(normalizeInput(input));
        if (items.length > 1) {
          // the outputs cannot be proven to follow the batch: never split them by rows, run each item alone
          const parts: TaskResult[] = [];
          for (const item of items) parts.push(await pipeline.run(item, runOptions));
          return joinItemResults(parts);
        }
        const pre = await preprocess(input, runOptions);
        const outputs = await session.run(pre.feeds);
        return await handler!.postprocess(outputs, pre, ctx, state, runOptions);
      },
      async dispose() {
        if (disposed) return;
        disposed = true;
        try {
          if (state !== undefined) await handler?.dispose?.(state);
        } finally {
          await session.dispose();
        }
      },
      [Symbol.asyncDispose]() {
        return pipeline.dispose();
      },
    };
    return pipeline;
  } catch (error) {
    await session.dispose();
    throw error;
  }
}
