/**
 * gpux: run ONNX models from the Hugging Face Hub — classify, embed, transcribe, generate and serve them — on the
 * best execution provider the machine has, with the models kept in the cache Python's `huggingface_hub` uses.
 *
 * This module is the story in the order you meet it: **pull** a model, **load** it with its task pipeline and run
 * it on raw text, images or audio, **generate** text with a language model, **serve** models over HTTP (gpux, KServe
 * v2, OpenAI and Ollama APIs), look after the **cache**, and **catch** gpux's typed errors. Everything else lives in
 * subpaths, one per room of the source tree:
 *
 * | import                           | what it holds                                                                  |
 * | -------------------------------- | ------------------------------------------------------------------------------ |
 * | `jsr:@gpux/gpux/registry`        | the Hub client's parts, tokens, file formats and variants, the download engine |
 * | `jsr:@gpux/gpux/cache`           | cache scan, removal plans, prune, verify, file hashes                          |
 * | `jsr:@gpux/gpux/runtime`         | sessions, tensors and `.npy`, providers, runtime folders, benchmarks, gpux.yml |
 * | `jsr:@gpux/gpux/runtime_install` | installing execution-provider libraries (`gpux runtime install`)               |
 * | `jsr:@gpux/gpux/processing`      | task pipelines' inputs and answers, task detection, the tokenizer              |
 * | `jsr:@gpux/gpux/generation`      | text generation, seq2seq (translation, summaries), Whisper transcription       |
 * | `jsr:@gpux/gpux/serve`           | `serve()` with its events, model directories and served-model facts            |
 *
 * Nothing here prints, exits or reads the environment behind your back: progress arrives through callbacks,
 * failures as {@linkcode GpuxError}s with a stable `code`, an exit code and a hint.
 *
 * @example
 * ```ts
 * import { HuggingFaceManager, loadPipeline } from "jsr:@gpux/gpux";
 * await new HuggingFaceManager().pullModel("Xenova/distilbert-base-uncased-finetuned-sst-2-english");
 * await using classifier = await loadPipeline("Xenova/distilbert-base-uncased-finetuned-sst-2-english");
 * const answer = await classifier.run("I love this");
 * if (answer.kind === "classification") console.log(answer.predictions[0][0]);
 * // prints: { label: "POSITIVE", score: 0.9998 }
 * ```
 *
 * @module
 */

// 1. Pull: a model from the Hub into the shared cache.

/**
 * The Hugging Face Hub as a {@linkcode ModelManager}: model info, search, file lists and pulls, with gpux's retries
 * and typed errors on every request. `HF_ENDPOINT`, `HF_TOKEN` and `HF_HUB_OFFLINE` are honoured.
 *
 * @example
 * ```ts
 * import { HuggingFaceManager } from "jsr:@gpux/gpux";
 * const hub = new HuggingFaceManager();
 * const info = await hub.getModelInfo("Xenova/bert-base-uncased");
 * console.log(info.formats, info.onnx.defaultVariant); // prints: [ "onnx", "safetensors" ] fp32
 * ```
 */
export { HuggingFaceManager } from "./src/registry/huggingface.ts";
/**
 * Pulling a model into the Hugging Face cache: the revision is resolved to a commit, only the chosen ONNX variant and
 * the small files a run needs are fetched, and only what the cache lacks is downloaded — verified, resumable and in
 * parallel. `pullModel(source, id, options)` takes any {@linkcode ModelManager}-like source; it is what
 * `HuggingFaceManager.pullModel` and `gpux pull` run.
 *
 * @example
 * ```ts
 * import { HuggingFaceManager, pullModel } from "jsr:@gpux/gpux";
 * const pulled = await pullModel(new HuggingFaceManager(), "Xenova/bert-base-uncased", {
 *   variant: "q4",
 *   onProgress: (event) => event.type === "progress" && console.log(event.path, event.bytesDone),
 * });
 * console.log(pulled.variant, pulled.files.length, pulled.bytesDownloaded);
 * // prints: q4 6 116236388
 * ```
 */
export { pullModel } from "./src/registry/pull.ts";
export type { ModelManager, PullOptions, PullProgressEvent, PullResult } from "./src/registry/manager.ts";

// 2. Load and run: raw inputs in, answers out.

/**
 * A model with its task pipeline. The task comes from `task`, else gpux.yml `task:`, else the model card's
 * `pipeline_tag`, else config.json `architectures`; text is tokenized with the repository's tokenizer.json into
 * exactly the inputs the model declares, images and audio are decoded and resized or resampled as its processor
 * config says. A language model gets a {@linkcode TextGenerationPipeline}, an encoder-decoder a seq2seq pipeline
 * (`jsr:@gpux/gpux/generation`). Dispose it when done (`await using` does).
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * await using classifier = await loadPipeline("acme/sentiment", { provider: "auto" });
 * const result = await classifier.run(["I love this", "I hate this"], { topK: 1 });
 * if (result.kind === "classification") {
 *   for (const [best] of result.predictions) console.log(best.label, best.score.toFixed(2));
 * }
 * // prints: POSITIVE 0.98
 * //         NEGATIVE 0.97
 * ```
 */
export { loadPipeline } from "./src/generation/load_pipeline.ts";
export type { Pipeline, PipelineOptions, TaskResult } from "./src/processing/pipeline.ts";
/**
 * One ONNX model as a session, tensors in and out, for models no task pipeline fits: an `.onnx` path, a folder with
 * gpux.yml, a cached Hub id or model bytes, on the best execution provider (falling back out loud:
 * `session.fallbacks` says which providers failed and why). The session's types live in `jsr:@gpux/gpux/runtime`.
 *
 * @example
 * ```ts
 * import { loadModel } from "jsr:@gpux/gpux";
 * await using session = await loadModel("./model.onnx", { provider: "auto" });
 * const outputs = await session.run({ x: { dtype: "float32", shape: [1, 3], data: Float32Array.of(1, 2, 3) } });
 * console.log(session.provider, outputs.y.shape, outputs.y.data); // prints: cpu [ 1, 3 ] Float32Array(3) [ 2, 4, 6 ]
 * ```
 */
export { loadModel } from "./src/runtime/load_model.ts";

// 3. Generate: language models, streamed.

/**
 * What `loadPipeline` returns for a decoder-only language model: `generate` streams text deltas (never half a
 * character), `run` answers one prompt or a batch, `chat` keeps a conversation and its KV cache between turns.
 * Greedy by default; `temperature`, `topK`, `topP`, `minP`, `repetitionPenalty` and a `seed` sample reproducibly.
 *
 * @example
 * ```ts
 * import { type ChatMessage, type GenerationResult, loadPipeline } from "jsr:@gpux/gpux";
 * await using llm = await loadPipeline("onnx-community/Qwen3-0.6B-ONNX", { task: "text-generation" });
 * const messages: ChatMessage[] = [{ role: "user", content: "Name three rivers." }];
 * const stream = llm.generate(messages, { maxNewTokens: 32, templateVariables: { enable_thinking: false } });
 * for await (const text of stream) console.log(text); // prints the answer as it comes: "The", " Nile", ",", …
 * const result: GenerationResult = await stream.result;
 * console.log(result.sequences[0].finishReason, result.usage.generatedTokens); // prints: stop 9
 * ```
 */
export type {
  ChatMessage,
  GenerateOptions,
  GenerationResult,
  TextGenerationPipeline,
} from "./src/generation/text_generation.ts";

// 4. Serve: the same models over HTTP.

/**
 * `gpux serve` in-process: loads the models into Workers and answers the gpux, KServe v2, OpenAI and Ollama APIs until
 * shut down. Loading and the access log arrive as events; the handle says where it listens.
 *
 * @example
 * ```ts
 * import { serve } from "jsr:@gpux/gpux";
 * await using server = await serve({ models: ["sentiment=./models/sentiment"], port: 0 });
 * const response = await fetch(`${server.url}/models/sentiment/predict`, {
 *   method: "POST",
 *   body: JSON.stringify({ text: "I love this" }),
 * });
 * console.log((await response.json()).result[0].labels[0]); // prints: { label: "POSITIVE", score: 0.98 }
 * ```
 */
export { type GpuxServer, serve, type ServeOptions } from "./src/serve/serve.ts";

// 5. The cache: what is there, what to remove, whether it is intact.

/**
 * Every model in the Hub cache (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`) — the one
 * Python's huggingface_hub reads — with its revisions, refs and size on disk.
 *
 * @example
 * ```ts
 * import { scanCache } from "jsr:@gpux/gpux";
 * const scan = await scanCache();
 * for (const m of scan.models) console.log(m.id, m.sizeOnDisk); // prints: Xenova/bert-base-uncased 116236388
 * ```
 */
export { scanCache } from "./src/cache/scan.ts";
/**
 * Removes a model, or one revision of it, from the cache (blobs another revision still uses are kept); `dryRun` only
 * plans.
 *
 * @example
 * ```ts
 * import { removeFromCache } from "jsr:@gpux/gpux";
 * const removed = await removeFromCache("Xenova/bert-base-uncased", { dryRun: true });
 * console.log(removed.removed, removed.revisions.length); // prints: false 1
 * ```
 */
export { removeFromCache } from "./src/cache/remove.ts";
/**
 * Deletes what no ref points at and partial downloads older than a day (`dryRun` lists them).
 *
 * @example
 * ```ts
 * import { pruneCache } from "jsr:@gpux/gpux";
 * console.log((await pruneCache({ dryRun: true })).freedBytes); // prints: 0
 * ```
 */
export { pruneCache } from "./src/cache/prune.ts";
/**
 * Re-hashes cached files against their sha256 (or git blob sha1) and reports every mismatch, missing blob and broken
 * link.
 *
 * @example
 * ```ts
 * import { verifyCache } from "jsr:@gpux/gpux";
 * const { ok, filesChecked } = await verifyCache({ models: ["Xenova/bert-base-uncased"] });
 * console.log(ok, filesChecked); // prints: true 6
 * ```
 */
export { verifyCache } from "./src/cache/verify.ts";

// 6. Errors: one hierarchy, a stable code, an exit code and a hint.

/**
 * Every failure gpux raises on purpose is a {@linkcode GpuxError}: a stable `code`, the CLI's `exitCode` and a
 * `hint` saying what to do next. The subclasses you meet first are here ({@linkcode InputError} for bad input,
 * {@linkcode NotFoundError} and {@linkcode ModelNotFoundError}, {@linkcode InterruptedError} when a signal aborts);
 * the others live with the room that throws them (`jsr:@gpux/gpux/registry` for authentication and network errors,
 * `/cache` for integrity and cache errors, `/runtime` for provider and runtime errors).
 *
 * @example
 * ```ts
 * import { exitCodeOf, GpuxError, loadPipeline, ModelNotFoundError } from "jsr:@gpux/gpux";
 * try {
 *   await loadPipeline("acme/not-pulled-yet");
 * } catch (error) {
 *   if (error instanceof GpuxError) console.log(error.code, exitCodeOf(error), error instanceof ModelNotFoundError);
 *   // prints: model_not_found 3 true
 * }
 * ```
 */
export {
  ExitCode,
  exitCodeOf,
  GpuxError,
  type GpuxErrorOptions,
  InputError,
  InterruptedError,
  ModelNotFoundError,
  NotFoundError,
} from "./src/errors.ts";
