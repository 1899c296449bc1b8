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
import { inputNames, resultJson } from "../processing/result_json.ts";
import { synthesizeInputs } from "../runtime/synthetic_inputs.ts";
import { batchingProof, type BatchingVerdict, confirmBatching } from "./batching.ts";
import { transferables } from "./codec_calls.ts";
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

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
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
  const batching = message.checkBatching ? await checkBatching(session) : undefined;
  post({
    type: "loaded",
    ...(batching ? { batching } : {}),
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

/** The static proof, then the warm-up confirmation, of batching.ts; a run that fails turns batching off. */
async function checkBatching(session: GpuxSession): Promise<BatchingVerdict> {
  const proof = batchingProof(session.inputs, session.outputs);
  if (!proof.ok) return proof;
  try {
    return await confirmBatching(synthesizeInputs(session.inputs, { batch: 1 }), session.inputs, (f) => session.run(f));
  } catch (error) {
    return {
      ok: false,
      reason: `the warm-up check could not run the model: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
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
        // the outputs' buffers move to the main thread rather than being copied (a big output twice in memory)
        post({ type: "result", id: message.id, outputs, runMs: performance.now() - started }, transferables(outputs));
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
        // printed here, in the model's Worker: a big result (a thousand embeddings) printed on the HTTP thread
        // would hold /health as long
        post({
          type: "processed",
          id: message.id,
          resultText: JSON.stringify(resultJson(result, inputNames(message.input))),
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
