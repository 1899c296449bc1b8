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
import { describeSyntheticValues, synthesizeInputs } from "../runtime/synthetic_inputs.ts";
import { type TextModelSizes, textModelSizes } from "../runtime/text_model_sizes.ts";
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
        ...(message.pipeline.maxAudioSeconds !== undefined
          ? { maxAudioSeconds: message.pipeline.maxAudioSeconds }
          : {}),
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
  let warmupError: string | undefined;
  // config.json's vocab_size / max_position_embeddings keep a BERT's synthesised ids inside its tables
  const sizes = await textModelSizes(message.path);
  if (message.warmup) {
    const started = performance.now();
    try {
      await session.run(synthesizeInputs(session.inputs, sizes));
      warmupMs = performance.now() - started;
    } catch (error) {
      // inputs synthesised from the metadata do not suit every model (Silero VAD's recurrent state must match the
      // batch of its audio): such a model is served cold, and a real request gets the model's own answer or error;
      // the reason, naming each input and what it held, is reported (serve prints it as a warning)
      const inputs = session.inputs.map((i) => `${JSON.stringify(i.name)} ${describeSyntheticValues(i, sizes)}`);
      warmupError = `${error instanceof Error ? error.message : String(error)} (inputs: ${inputs.join("; ")})`;
    }
  }
  const batching = message.checkBatching ? await checkBatching(session, sizes) : undefined;
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
    ...(warmupError ? { warmupError } : {}),
  });
}

/** The static proof, then the warm-up confirmation, of batching.ts; a run that fails turns batching off. */
async function checkBatching(session: GpuxSession, sizes: TextModelSizes): Promise<BatchingVerdict> {
  const proof = batchingProof(session.inputs, session.outputs);
  if (!proof.ok) return proof;
  try {
    const feeds = synthesizeInputs(session.inputs, { ...sizes, batch: 1 });
    return await confirmBatching(feeds, session.inputs, (f) => session.run(f));
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
          resultText: JSON.stringify(resultJson(result, inputNames(message.input), await resultPictures(result))),
          runMs: performance.now() - started,
          ...(result.kind === "embedding" && result.tokenCounts ? { tokenCounts: result.tokenCounts } : {}),
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
