/**
 * The Worker that hosts one model for `gpux serve`: onnxruntime's `session.run` blocks the thread it runs
 * on, so sessions live here and the HTTP event loop stays free. Speaks {@linkcode ToWorker} /
 * {@linkcode FromWorker}; never prints. Started by the model pool with `new Worker(url, { type: "module" })`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { GpuxError, InputError } from "../errors.ts";
import { createSession, type GpuxSession, setOrtLogLevel } from "../runtime/session.ts";
import { loadPipeline, type Pipeline } from "../processing/pipeline.ts";
import { inputNames, resultJson, resultPictures } from "../processing/result_json.ts";
import { synthesizeInputs } from "../runtime/synthetic_inputs.ts";
import type { FromWorker, LoadMessage, ToWorker, WorkerErrorData } from "./worker_protocol.ts";

/** What a worker hosts: a session, and the pipeline around it when the model has one. */
interface ModelHost {
  session: GpuxSession;
  pipeline?: Pipeline;
  dispose(): Promise<void>;
}

let host: ModelHost | undefined;

function errorData(error: unknown): WorkerErrorData {
  if (error instanceof GpuxError) {
    return { name: error.name, code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  }
  return { name: "Error", message: error instanceof Error ? error.message : String(error) };
}

function post(message: FromWorker): void {
  self.postMessage(message);
}

async function load(message: LoadMessage): Promise<void> {
  await setOrtLogLevel("fatal");
  let pipeline: Pipeline | undefined;
  let pipelineError: string | undefined;
  if (message.pipeline) {
    try {
      pipeline = await loadPipeline(message.pipeline.spec, {
        ...message.options,
        ...(message.pipeline.variant ? { variant: message.pipeline.variant } : {}),
        ...(message.pipeline.cacheDir ? { cacheDir: message.pipeline.cacheDir } : {}),
      });
    } catch (error) {
      // a tokenizer or processor file missing must not keep the model from serving tensors
      if (!(error instanceof GpuxError) || error.name === "ProviderError") throw error;
      pipelineError = error.message;
    }
  }
  const session = pipeline?.session ?? await createSession(message.path, { ...message.options, model: message.model });
  host = {
    session,
    ...(pipeline ? { pipeline } : {}),
    dispose: () => pipeline ? pipeline.dispose() : session.dispose(),
  };
  let warmupMs: number | undefined;
  if (message.warmup) {
    const started = performance.now();
    try {
      await session.run(synthesizeInputs(session.inputs));
      warmupMs = performance.now() - started;
    } catch {
      // inputs synthesised from the metadata do not suit every model (Silero VAD's recurrent state must match the
      // batch of its audio): such a model is served cold, and a real request gets the model's own answer or error
    }
  }
  post({
    type: "loaded",
    provider: session.provider,
    fallbacks: [...session.fallbacks],
    inputs: [...session.inputs],
    outputs: [...session.outputs],
    createMs: session.createMs,
    ...(warmupMs !== undefined ? { warmupMs } : {}),
    ...(pipeline && pipeline.accepts.length ? { task: pipeline.task } : {}),
    accepts: pipeline ? [...pipeline.accepts] : [],
    ...(pipelineError ? { pipelineError } : {}),
  });
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "load":
      try {
        await load(message);
      } catch (error) {
        post({ type: "load_failed", error: errorData(error) });
      }
      return;
    case "run": {
      const session = host?.session;
      try {
        if (!session) throw new Error("the worker has no model loaded");
        const started = performance.now();
        const outputs = await session.run(message.feeds);
        post({ type: "result", id: message.id, outputs, runMs: performance.now() - started });
      } catch (error) {
        post({ type: "run_failed", id: message.id, error: errorData(error) });
      }
      return;
    }
    case "process": {
      try {
        const pipeline = host?.pipeline;
        if (!pipeline || pipeline.accepts.length === 0) {
          throw new InputError(
            "this model is served without a pre-processing pipeline: send tensors keyed by input name",
          );
        }
        const started = performance.now();
        const result = await pipeline.run(message.input, message.options ?? {});
        post({
          type: "processed",
          id: message.id,
          result: resultJson(result, inputNames(message.input), await resultPictures(result)),
          runMs: performance.now() - started,
        });
      } catch (error) {
        post({ type: "run_failed", id: message.id, error: errorData(error) });
      }
      return;
    }
    case "close":
      try {
        await host?.dispose();
      } finally {
        host = undefined;
        post({ type: "closed" });
      }
      return;
  }
};
