/**
 * Turns `gpux serve`'s model arguments into loaded, warmed-up {@linkcode ServedModel}s: resolves each
 * one (Hub id, `.onnx`, folder, gpux.yml), names it, merges its settings, plans workers and threads, and
 * starts its {@linkcode ModelPool}.
 *
 * Default plan: one worker per model on a GPU; on cpu half the cores per model (at least one), with the
 * cores divided among all workers as onnxruntime intra-op threads.
 *
 * @module
 */
import type { EnvReader } from "../environment.ts";
import { type ResolvedModel, resolveModel } from "../runtime/model_source.ts";
import type { SessionOptions } from "../runtime/session.ts";
import { availableCores } from "../runtime/cpu_cores.ts";
import type { ServerMetrics } from "./metrics.ts";
import { ModelPool, type PoolEvent } from "./model_pool.ts";
import { GenerationPool } from "./generation_pool.ts";
import { ModelFiles } from "../processing/model_files.ts";
import { detectTask } from "../processing/task_detection.ts";
import { chooseGenerationVariant, listOnnxFiles } from "../generation/variant_choice.ts";
import { InputError } from "../errors.ts";
import { isSeq2SeqModel, modelRoot } from "../generation/seq2seq_generation.ts";
import { parseModelId } from "../vocabulary/model_id.ts";
import { checkUniqueNames, parseModelArg, servedName, type ServingFlags, servingSettings } from "./served_model.ts";
import type { ServedModel } from "./server.ts";

/** Options of {@linkcode loadServedModels}. */
export interface LoadServedModelsOptions extends ServingFlags {
  /** Session options for every model (provider, device, graph optimisation, threads). */
  session?: Omit<SessionOptions, "model">;
  /** ONNX variant for Hub ids and folders. */
  variant?: string;
  /** Hub cache directory. */
  cacheDir?: string;
  /** Environment (HF_HUB_CACHE…). */
  env?: EnvReader;
  /** Cancels resolution. */
  signal?: AbortSignal;
  /** Cores to plan for (default the cores this process may use: affinity and cgroup quota included). */
  cores?: number;
  /** Metrics the pools record into. */
  metrics?: ServerMetrics;
  /** Pool events. */
  onEvent?: (event: PoolEvent) => void;
  /** Called before each model starts loading. */
  onLoading?: (name: string, spec: string) => void;
  /** Sequences a text-generation model decodes at once, together in one batched step (`--parallel`, default 1). */
  parallel?: number;
  /** Worker script override (tests). */
  workerUrl?: URL;
  /** Longest audio clip the models' pipelines decode, seconds (`--max-audio-seconds`; the pipeline's default). */
  maxAudioSeconds?: number;
}

/** A model argument resolved and named, not loaded yet. */
export interface PlannedModel {
  name: string;
  spec: string;
  resolved: ResolvedModel;
  /** An encoder-decoder export (several graphs: translation, summarization, captioning, Whisper). */
  encoderDecoder?: boolean;
}

/**
 * Resolves and names every argument without loading anything.
 *
 * @throws {InputError} a malformed `NAME=MODEL` or two models with one name (exit 2).
 * @throws {NotFoundError} a model that is not there (exit 3).
 */
export async function planServedModels(
  args: readonly string[],
  options: { variant?: string; cacheDir?: string; env?: EnvReader; signal?: AbortSignal; provider?: string } = {},
): Promise<PlannedModel[]> {
  const planned: PlannedModel[] = [];
  for (const raw of args) {
    const arg = parseModelArg(raw);
    const resolve = (variant: string | undefined) =>
      resolveModel(arg.spec, {
        ...(variant ? { variant } : {}),
        ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
        ...(options.env ? { env: options.env } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    let resolved: ResolvedModel;
    try {
      resolved = await resolve(options.variant);
    } catch (error) {
      // an encoder-decoder export holds several graphs, which the one-graph resolver refuses: recognised by its files
      const encoderDecoder = await encoderDecoderModel(arg.spec, options);
      if (encoderDecoder) {
        planned.push({
          name: servedName(arg, encoderDecoder),
          spec: arg.spec,
          resolved: encoderDecoder,
          encoderDecoder: true,
        });
        continue;
      }
      // a folder of a language model with several variants: the one that suits the provider, as `gpux run --prompt`
      // picks it (any other folder with several .onnx files still needs --variant)
      const choice = !options.variant && error instanceof InputError
        ? await generationVariant(arg.spec, options.provider)
        : undefined;
      if (!choice) throw error;
      resolved = await resolve(choice);
      if (!(await generatesText(resolved))) throw error;
    }
    planned.push({ name: servedName(arg, resolved), spec: arg.spec, resolved });
  }
  checkUniqueNames(planned);
  return planned;
}

/** Loads and warms up every planned model; on a failure the ones already started are closed. */
export async function loadServedModels(
  planned: readonly PlannedModel[],
  options: LoadServedModelsOptions = {},
): Promise<ServedModel[]> {
  const cores = Math.max(1, options.cores ?? availableCores().cores);
  const cpuWorkers = Math.max(1, Math.floor(cores / 2));
  const served: ServedModel[] = [];
  try {
    for (const p of planned) {
      const settings = servingSettings(options, p.resolved);
      const runtime = p.resolved.config?.runtime;
      const planWorkers = settings.workers ?? cpuWorkers;
      const session: Omit<SessionOptions, "model"> = {
        provider: options.session?.provider ?? runtime?.gpu.backend,
        deviceId: options.session?.deviceId ?? runtime?.gpu.deviceId,
        graphOptimizationLevel: options.session?.graphOptimizationLevel ?? runtime?.graphOptimization,
        intraOpThreads: options.session?.intraOpThreads ?? runtime?.intraOpThreads ??
          Math.max(1, Math.floor(cores / (planWorkers * planned.length))),
        interOpThreads: options.session?.interOpThreads ?? runtime?.interOpThreads,
        // idle workers must not spin on the cores the HTTP loop needs (/health while busy)
        allowSpinning: options.session?.allowSpinning ?? false,
      };
      for (const k of Object.keys(session) as (keyof typeof session)[]) {
        if (session[k] === undefined) delete session[k];
      }
      options.onLoading?.(p.name, p.spec);
      if (p.encoderDecoder || await generatesText(p.resolved)) {
        const parallel = Math.max(1, options.parallel ?? 1);
        const pool = await GenerationPool.start({
          name: p.name,
          spec: p.spec,
          model: p.resolved,
          ...(options.variant ? { variant: options.variant } : {}),
          ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
          ...(p.encoderDecoder ? { generator: "encoder-decoder" as const } : {}),
          ...(p.encoderDecoder && options.maxAudioSeconds !== undefined
            ? { maxAudioSeconds: options.maxAudioSeconds }
            : {}),
          session: {
            ...session,
            intraOpThreads: options.session?.intraOpThreads ?? runtime?.intraOpThreads ??
              Math.max(1, Math.floor(cores / (parallel * planned.length))),
          },
          // one worker decodes the `parallel` sequences together: it gets the model's share of the cores
          batchSession: {
            ...session,
            intraOpThreads: options.session?.intraOpThreads ?? runtime?.intraOpThreads ??
              Math.max(1, Math.floor(cores / planned.length)),
          },
          parallel,
          maxQueue: settings.maxQueue,
          ...(options.metrics ? { metrics: options.metrics } : {}),
          ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        });
        served.push({ name: p.name, spec: p.spec, pool, timeoutMs: settings.timeoutMs });
        continue;
      }
      const pool = await ModelPool.start({
        name: p.name,
        path: p.resolved.path,
        model: p.resolved,
        session,
        ...(settings.workers !== undefined ? { workers: settings.workers } : {}),
        defaultCpuWorkers: cpuWorkers,
        maxBatch: settings.maxBatch,
        batchDelayMs: settings.batchDelayMs,
        maxQueue: settings.maxQueue,
        pipeline: {
          spec: p.spec,
          ...(options.variant ? { variant: options.variant } : {}),
          ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
          ...(options.maxAudioSeconds !== undefined ? { maxAudioSeconds: options.maxAudioSeconds } : {}),
        },
        ...(options.metrics ? { metrics: options.metrics } : {}),
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        ...(options.workerUrl ? { workerUrl: options.workerUrl } : {}),
      });
      served.push({ name: p.name, spec: p.spec, pool, timeoutMs: settings.timeoutMs });
    }
  } catch (error) {
    await Promise.all(served.map((s) => s.pool.close()));
    throw error;
  }
  return served;
}

/**
 * The model as an encoder-decoder export (a folder, or a cached Hub snapshot, in optimum's layout), or undefined.
 * Its `path` is the folder: the workers load every graph in it.
 */
async function encoderDecoderModel(
  spec: string,
  options: { variant?: string; cacheDir?: string; env?: EnvReader },
): Promise<ResolvedModel | undefined> {
  const load = {
    ...(options.variant ? { variant: options.variant } : {}),
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.env ? { env: options.env } : {}),
  };
  if (!(await isSeq2SeqModel(spec, load))) return undefined;
  const root = await modelRoot(spec, load);
  let isFolder = false;
  try {
    isFolder = (await Deno.stat(spec)).isDirectory;
  } catch { /* a Hub id */ }
  if (isFolder) return { path: root, kind: "directory", ...(options.variant ? { variant: options.variant } : {}) };
  const ref = parseModelId(spec);
  return {
    path: root,
    kind: "hub",
    repoId: ref.id,
    revision: ref.revision ?? "main",
    sha: root.split("/").pop()!,
    ...(options.variant ? { variant: options.variant } : {}),
  };
}

/** The generation variant `loadTextGeneration` would pick in a folder (undefined: not a folder, or one variant). */
async function generationVariant(spec: string, provider: string | undefined): Promise<string | undefined> {
  try {
    if (!(await Deno.stat(spec)).isDirectory) return undefined;
  } catch {
    return undefined;
  }
  return chooseGenerationVariant(await listOnnxFiles(spec), provider ?? "cpu")?.variant;
}

/**
 * Whether a model is a text generator (as `loadPipeline` detects it: gpux.yml, the card, config.json), or an
 * onnxruntime-genai export, whose folder has `genai_config.json` and often no config.json or card to say so.
 */
async function generatesText(model: ResolvedModel): Promise<boolean> {
  const files = await ModelFiles.forModel(model, model.path);
  const config = (await files.readJsonIfPresent("config.json") ?? {}) as Record<string, unknown>;
  const detected = await detectTask({ gpuxTask: model.config?.task, files, config });
  if (detected) return detected.task === "text-generation";
  return await files.find("genai_config.json") !== undefined;
}
