/**
 * `loadModel`: resolve `<model>` (file, directory with gpux.yml, cached Hub id) and create a session
 * with the options from the call, else from gpux.yml's `runtime` section, else the defaults.
 *
 * @module
 */
import { resolveModel, type ResolveOptions } from "./model_source.ts";
import { createSession, type GpuxSession, type SessionOptions } from "./session.ts";

/** Options of {@linkcode loadModel}: how to find the model and how to run it. */
export interface LoadModelOptions extends SessionOptions, ResolveOptions {}

/**
 * Loads a model on the best available execution provider.
 *
 * `source` is a path to an `.onnx` file, a directory with `gpux.yml` (or a single `.onnx`), a Hub id
 * `org/name[@rev]` in the cache, or the model's bytes. With `provider: "auto"` (the default) the
 * platform's GPU providers are tried in order and cpu last; each one that failed is listed in
 * `session.fallbacks` with the reason — nothing is printed.
 *
 * @throws {NotFoundError} the model is not there (exit 3). {@linkcode InputError} ambiguous model (exit 2).
 * @throws {ProviderError} an explicitly requested provider cannot load (exit 7).
 * @example
 * ```ts
 * import { loadModel } from "jsr:@gpux/gpux";
 * const session = await loadModel("./model.onnx", { provider: "auto" });
 * if (session.fallbacks.length) console.warn(session.fallbacks[0].reason);
 * const out = await session.run({ x: { dtype: "float32", shape: [1, 4], data: new Float32Array(4) } });
 * await session.dispose();
 * ```
 */
export async function loadModel(source: string | Uint8Array, options: LoadModelOptions = {}): Promise<GpuxSession> {
  if (source instanceof Uint8Array) return await createSession(source, options);
  const model = await resolveModel(source, options);
  const runtime = model.config?.runtime;
  return await createSession(model.path, {
    ...options,
    provider: options.provider ?? runtime?.gpu.backend,
    deviceId: options.deviceId ?? runtime?.gpu.deviceId,
    graphOptimizationLevel: options.graphOptimizationLevel ?? runtime?.graphOptimization,
    intraOpThreads: options.intraOpThreads ?? runtime?.intraOpThreads,
    interOpThreads: options.interOpThreads ?? runtime?.interOpThreads,
    model,
  });
}
