/**
 * What `gpux serve` is asked to serve: `MODEL` or `NAME=MODEL` arguments, the name each model is served
 * under, and the per-model settings (flags over gpux.yml `serving:` over defaults).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { ResolvedModel } from "../runtime/model_source.ts";

/** A `NAME=MODEL` argument split; `name` is undefined for a bare `MODEL`. */
export interface ModelArg {
  /** The explicit served name. */
  name?: string;
  /** The model: a Hub id, an `.onnx` path, a folder or a gpux.yml. */
  spec: string;
}

/** Characters a served name may hold (it appears in URL paths). */
export const SERVED_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Splits `NAME=MODEL`. The part before the first `=` is a name only when it is a valid served name and
 * holds no `/` (so paths and Hub ids with `=` later on stay whole).
 *
 * @throws {InputError} an empty name or model (`=model`, `name=`).
 */
export function parseModelArg(arg: string): ModelArg {
  const eq = arg.indexOf("=");
  if (eq < 0) return { spec: arg };
  const name = arg.slice(0, eq);
  const spec = arg.slice(eq + 1);
  if (name === "" || spec === "") {
    throw new InputError(`model ${JSON.stringify(arg)}: expected MODEL or NAME=MODEL`, {
      hint: "e.g. gpux serve sentiment=acme-ai/sentiment-tiny ./other.onnx",
    });
  }
  if (name.includes("/") || name.startsWith(".")) return { spec: arg };
  if (!SERVED_NAME.test(name)) {
    throw new InputError(
      `served name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-' (it appears in URLs)`,
    );
  }
  return { name, spec };
}

function stem(path: string): string {
  const base = path.replace(/[\\/]+$/, "").split(/[\\/]/).pop() ?? path;
  return base.replace(/\.(onnx|ya?ml)$/i, "");
}

/**
 * The name a model is served under: `NAME=` if given, else gpux.yml `name`, else the repository's name
 * without the organisation (`acme-ai/sentiment-tiny` → `sentiment-tiny`), else the file's stem
 * (a folder's name for a folder).
 */
export function servedName(arg: ModelArg, model: ResolvedModel): string {
  if (arg.name) return arg.name;
  if (model.config?.name) return model.config.name;
  if (model.repoId) return model.repoId.split("/").pop()!;
  if (model.kind === "directory") return stem(arg.spec === "." ? Deno.cwd() : arg.spec);
  return stem(model.path);
}

/**
 * Checks that no two models share a served name.
 *
 * @throws {InputError} naming the duplicate and the models behind it (exit 2).
 */
export function checkUniqueNames(models: readonly { name: string; spec: string }[]): void {
  const seen = new Map<string, string>();
  for (const m of models) {
    const other = seen.get(m.name);
    if (other !== undefined) {
      throw new InputError(`two models would be served as ${JSON.stringify(m.name)}: ${other} and ${m.spec}`, {
        hint: `give one of them another name: gpux serve other-name=${m.spec}`,
      });
    }
    seen.set(m.name, m.spec);
  }
}

/** Per-model serving settings after flags, gpux.yml `serving:` and defaults are merged. */
export interface ModelServingSettings {
  /** Workers (undefined: one on a GPU, half the cores on cpu). */
  workers?: number;
  /** Most rows per run (1 = no batching). */
  maxBatch: number;
  /** Milliseconds a partial batch waits. */
  batchDelayMs: number;
  /** Most queued requests. */
  maxQueue: number;
  /** Milliseconds one request may take (0 = no limit). */
  timeoutMs: number;
}

/** Defaults of {@linkcode ModelServingSettings}. */
export const SERVING_DEFAULTS: ModelServingSettings = {
  maxBatch: 32,
  batchDelayMs: 0,
  maxQueue: 256,
  timeoutMs: 30000,
};

/** The flags that override gpux.yml. */
export interface ServingFlags {
  workers?: number;
  maxBatch?: number;
  batchDelayMs?: number;
  maxQueue?: number;
  timeoutMs?: number;
}

/** Flags over gpux.yml `serving:` over {@linkcode SERVING_DEFAULTS}. */
export function servingSettings(flags: ServingFlags, model: ResolvedModel): ModelServingSettings {
  const yml = model.config?.serving ?? {};
  const workers = flags.workers ?? yml.maxWorkers;
  const seconds = yml.timeout ?? model.config?.runtime.timeout;
  return {
    ...(workers !== undefined ? { workers } : {}),
    maxBatch: flags.maxBatch ?? yml.batchSize ?? SERVING_DEFAULTS.maxBatch,
    batchDelayMs: flags.batchDelayMs ?? yml.batchDelayMs ?? SERVING_DEFAULTS.batchDelayMs,
    maxQueue: flags.maxQueue ?? yml.maxQueue ?? SERVING_DEFAULTS.maxQueue,
    timeoutMs: flags.timeoutMs ?? (seconds !== undefined ? Math.round(seconds * 1000) : undefined) ??
      SERVING_DEFAULTS.timeoutMs,
  };
}
