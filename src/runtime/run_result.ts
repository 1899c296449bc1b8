/**
 * The JSON document of one inference — what `gpux run --json` prints and `gpux serve`'s `/predict`
 * answers — and the parts of it other commands share (the model's description, provider fallbacks).
 * Built from plain facts about a model, so it does not need the session itself (the server's sessions
 * live in Workers).
 *
 * @module
 */
import type { ResolvedModel } from "./model_source.ts";
import type { ProviderFailure } from "./providers.ts";
import { type TensorJson, type TensorMap, tensorsToJson } from "./tensors.ts";

/** What the documents say about a loaded model (a {@linkcode GpuxSession} is one). */
export interface LoadedModelFacts {
  /** The model file. */
  readonly path: string;
  /** How it was resolved. */
  readonly model?: ResolvedModel;
  /** The provider it runs on. */
  readonly provider: string;
  /** Providers tried first and why they failed. */
  readonly fallbacks: readonly ProviderFailure[];
}

/** What `--json` says about the model: the spec typed, its file, Hub id, revision, commit, variant and gpux.yml. */
export function modelJson(spec: string, facts: LoadedModelFacts): Record<string, unknown> {
  const m = facts.model;
  return {
    spec,
    path: facts.path,
    ...(m?.repoId ? { repoId: m.repoId, revision: m.revision, sha: m.sha } : {}),
    ...(m?.variant ? { variant: m.variant } : {}),
    ...(m?.configPath ? { config: m.configPath } : {}),
  };
}

/** JSON description of provider fallbacks. */
export function fallbacksJson(facts: LoadedModelFacts): { provider: string; reason: string; hint: string }[] {
  return facts.fallbacks.map((f) => ({ provider: f.provider, reason: f.reason, hint: f.hint }));
}

/** The document of one run: `{model, provider, fallbacks?, outputs, written?, timings}`. */
export interface RunResultJson {
  model: Record<string, unknown>;
  provider: string;
  fallbacks?: { provider: string; reason: string; hint: string }[];
  outputs: Record<string, TensorJson>;
  written?: string[];
  timings: Record<string, number>;
}

/**
 * The document of one run, outputs in the model's order `order`.
 *
 * @example
 * ```ts
 * import { loadModel } from "jsr:@gpux/gpux";
 * const session = await loadModel("model.onnx");
 * const outputs = await session.run({ x: { dtype: "float32", shape: [1, 3], data: Float32Array.of(1, 2, 3) } });
 * const doc = runResultJson("model.onnx", session, outputs, session.outputs.map((o) => o.name), { runMs: 1.2 });
 * ```
 */
export function runResultJson(
  spec: string,
  facts: LoadedModelFacts,
  outputs: TensorMap,
  order: readonly string[],
  timings: Record<string, number>,
  written: string[] = [],
): RunResultJson {
  const ordered: TensorMap = {};
  for (const name of order) ordered[name] = outputs[name];
  return {
    model: modelJson(spec, facts),
    provider: facts.provider,
    ...(facts.fallbacks.length ? { fallbacks: fallbacksJson(facts) } : {}),
    outputs: tensorsToJson(ordered),
    ...(written.length ? { written } : {}),
    timings,
  };
}
