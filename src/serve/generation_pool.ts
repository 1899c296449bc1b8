/**
 * One served text-generation model and a bounded queue in front of it. With `parallel` > 1 one Worker holds the
 * model (generation_worker.ts) and decodes up to `parallel` requests together, one batched step at a time
 * (continuous batching: a request joins at the next step, one that ends leaves without stalling the others); a
 * graph that cannot pad rows of different lengths (the worker's batching check says why) gets `parallel` Workers
 * instead, each holding its own copy and decoding one sequence at a time. A request's text deltas come back as the
 * worker decodes them; a request whose signal aborts (the client went away) leaves the queue, or its worker is
 * told to cancel it and it stops within one step. Metrics count every generation by how it ended, its tokens, its
 * time to first token, and every batched step's size.
 *
 * An encoder-decoder model (translation, summarization, text2text, image-to-text, Whisper) is served by the same
 * pool (`generator: "encoder-decoder"`): {@linkcode GenerationPool.answer} queues one input the same way, with the
 * same bounds, cancellation and timeout, and resolves with its task's document.
 *
 * @module
 */
import { InputError, RuntimeError } from "../errors.ts";
import type { ResolvedModel } from "../runtime/model_source.ts";
import type { ProviderFailure } from "../runtime/providers.ts";
import type { SessionOptions } from "../runtime/session.ts";
import type { TensorInfo } from "../runtime/tensors.ts";
import type {
  FromGenerationWorker,
  GenerationDone,
  GenerationLoaded,
  GenerationParams,
  GenerationPrompt,
  GeneratorKind,
  Seq2SeqJobInput,
  Seq2SeqJobParams,
  ToGenerationWorker,
  TokenLogprobs,
} from "./generation_protocol.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { PoolEvent } from "./model_pool.ts";
import {
  errorFromWorker,
  QueueFullError,
  RequestTimeoutError,
  ShuttingDownError,
  WorkerCrashedError,
} from "./serve_errors.ts";
import { releaseWorker } from "./worker_release.ts";

export type { GenerationDone, GenerationParams, GenerationPrompt, Seq2SeqJobInput, Seq2SeqJobParams, TokenLogprobs };

/** Options of {@linkcode GenerationPool.start}. */
export interface GenerationPoolOptions {
  /** Served name. */
  name: string;
  /** The model as the user named it (Hub id, folder). */
  spec: string;
  /** How it was resolved. */
  model?: ResolvedModel;
  /** ONNX variant. */
  variant?: string;
  /** Hub cache directory. */
  cacheDir?: string;
  /** What the workers load: a decoder-only text generator (default) or an encoder-decoder model (never batched). */
  generator?: GeneratorKind;
  /** Longest clip a Whisper model transcribes, seconds (`--max-audio-seconds`). */
  maxAudioSeconds?: number;
  /** Session options (provider, threads) of a worker decoding one sequence at a time. */
  session: Omit<SessionOptions, "model">;
  /** Session options of the one worker that decodes `parallel` sequences together (default `session`). */
  batchSession?: Omit<SessionOptions, "model">;
  /** Sequences generated at once (default 1): together in one batched step, else one Worker each. */
  parallel?: number;
  /** Most requests waiting; more answer 503 with Retry-After (default 256). */
  maxQueue?: number;
  /** Metrics to record into. */
  metrics?: ServerMetrics;
  /** Pool events (crashes). */
  onEvent?: (event: PoolEvent) => void;
}

/** Options of one {@linkcode GenerationPool.generate} call. */
export interface GenerateCallOptions {
  /** Each text delta as it is decoded (with its token's log-probabilities when asked; text may then be ""). */
  onDelta?: (text: string, logprobs?: TokenLogprobs) => void;
  /** Cancels the generation: it leaves the queue, or its worker stops within one step. */
  signal?: AbortSignal;
  /** Milliseconds before the generation is cancelled and fails with {@linkcode RequestTimeoutError} (0 = none). */
  timeoutMs?: number;
}

/** What a generation returns: the worker's result, and how long it waited for a worker. */
export interface GenerationAnswer extends GenerationDone {
  /** Milliseconds queued before a worker took it. */
  queueMs: number;
}

/** What a job asks its worker to do (the message, less its id). */
type Work =
  | { type: "generate"; prompt: GenerationPrompt; params: GenerationParams }
  | { type: "seq2seq"; input: Seq2SeqJobInput; params: Seq2SeqJobParams };

interface Job {
  id: number;
  work: Work;
  options: GenerateCallOptions;
  enqueued: number;
  firstToken?: number;
  dispatched?: number;
  slot?: Slot;
  done: boolean;
  /** Set when the job was cancelled by a timeout (its answer is then a 504). */
  timedOut: boolean;
  resolve(answer: GenerationAnswer): void;
  reject(error: unknown): void;
  cleanup(): void;
}

interface Slot {
  worker: Worker;
  /** Generations it runs now (at most `capacity`). */
  jobs: Map<number, Job>;
  /** Sequences it decodes at once: `parallel` for the batching worker, else 1. */
  capacity: number;
  dead: boolean;
}

const WORKER_URL = new URL("./generation_worker.ts", import.meta.url);

/** A served text-generation model and its workers. */
export class GenerationPool {
  /** What the workers host. */
  readonly kind = "generation" as const;
  /** Served name. */
  readonly name: string;
  /** What the first worker reported. */
  readonly info: GenerationLoaded;
  /** The pool as `/info` and the ready line describe any pool: task, raw kinds, no load problems. */
  readonly loaded: {
    task: string;
    accepts: ("text" | "image" | "audio")[];
    pipelineError?: string;
    warmupError?: string;
  };
  #options: GenerationPoolOptions;
  /** Rows of the batching worker, or undefined when each worker decodes one sequence. */
  #batchRows: number | undefined;
  #batchingOff: string | undefined;
  #slots: Slot[] = [];
  #queue: Job[] = [];
  #nextId = 1;
  #closing = false;
  #inflight = 0;
  #idleWaiters: (() => void)[] = [];
  /** When the last generation ended (for keep-alive and `/api/ps`). */
  lastUsed = Date.now();

  private constructor(
    options: GenerationPoolOptions,
    slots: Slot[],
    info: GenerationLoaded,
    batchRows: number | undefined,
    batchingOff: string | undefined,
  ) {
    this.name = options.name;
    this.#options = options;
    this.#batchRows = batchRows;
    this.#batchingOff = batchingOff;
    this.info = info;
    this.loaded = { task: info.task ?? "text-generation", accepts: info.accepts ?? ["text"] };
    for (const slot of slots) {
      this.#slots.push(slot);
      this.#watch(slot);
    }
  }

  /**
   * Loads the model: with `parallel` > 1 in one Worker that batches, when its check passes; else (or with
   * `parallel` 1) in `parallel` Workers decoding one sequence each. Resolves when all are ready.
   *
   * @throws the model's load error as the worker reported it (not a decoder, no tokenizer…).
   */
  static async start(options: GenerationPoolOptions): Promise<GenerationPool> {
    const count = Math.max(1, options.parallel ?? 1);
    let first: { slot: Slot; loaded: GenerationLoaded } | undefined;
    let batchingOff: string | undefined;
    // an encoder-decoder model is never batched across requests: `parallel` workers, one request each
    if (count > 1 && options.generator !== "encoder-decoder") {
      first = await GenerationPool.#spawn(options, count);
      const verdict = first.loaded.batching;
      if (verdict?.ok) return new GenerationPool(options, [first.slot], first.loaded, count, undefined);
      batchingOff = `${verdict?.reason ?? "the worker did not check batching"}: ${count} workers, one sequence each`;
      // the batching worker had every thread: load the one-sequence workers with their share instead
      const threads = (o?: Omit<SessionOptions, "model">) => o?.intraOpThreads;
      if (options.batchSession && threads(options.batchSession) !== threads(options.session)) {
        await closeWorker(first.slot);
        first = undefined;
      }
    }
    first ??= await GenerationPool.#spawn(options, undefined);
    const slots = [first.slot];
    try {
      const more = await Promise.all(
        Array.from({ length: count - 1 }, () => GenerationPool.#spawn(options, undefined)),
      );
      slots.push(...more.map((m) => m.slot));
    } catch (error) {
      await Promise.all(slots.map((s) => closeWorker(s)));
      throw error;
    }
    batchingOff ??= "1 sequence at once: --parallel";
    return new GenerationPool(options, slots, first.loaded, undefined, batchingOff);
  }

  static #spawn(
    options: GenerationPoolOptions,
    batchRows: number | undefined,
  ): Promise<{ slot: Slot; loaded: GenerationLoaded }> {
    const worker = new Worker(WORKER_URL, { type: "module" });
    const slot: Slot = { worker, jobs: new Map(), capacity: batchRows ?? 1, dead: false };
    return new Promise((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<FromGenerationWorker>) => {
        const m = event.data;
        if (m.type === "loaded") {
          if (batchRows !== undefined && !m.batching?.ok) slot.capacity = 1;
          resolve({ slot, loaded: m });
        } else if (m.type === "load_failed") {
          worker.terminate();
          reject(errorFromWorker(m.error));
        }
      };
      worker.onerror = (event) => {
        event.preventDefault();
        worker.terminate();
        reject(new RuntimeError(`the worker for ${options.name} failed while loading: ${event.message}`));
      };
      worker.postMessage(
        {
          type: "load",
          spec: options.spec,
          ...(options.variant ? { variant: options.variant } : {}),
          ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
          ...(options.generator ? { generator: options.generator } : {}),
          ...(options.maxAudioSeconds !== undefined ? { maxAudioSeconds: options.maxAudioSeconds } : {}),
          options: batchRows !== undefined ? options.batchSession ?? options.session : options.session,
          ...(batchRows !== undefined ? { batchRows } : {}),
        } satisfies ToGenerationWorker,
      );
    });
  }

  /** The provider the model runs on. */
  get provider(): string {
    return this.info.provider;
  }
  /** Providers tried first and why they failed. */
  get fallbacks(): ProviderFailure[] {
    return this.info.fallbacks;
  }
  /** How the model was resolved. */
  get model(): ResolvedModel | undefined {
    return this.info.model ?? this.#options.model;
  }
  /** The `.onnx` file. */
  get path(): string {
    return this.info.path;
  }
  /** The decoder's inputs. */
  get inputs(): TensorInfo[] {
    return this.info.inputs;
  }
  /** The decoder's outputs. */
  get outputs(): TensorInfo[] {
    return this.info.outputs;
  }
  /** The context length, when known. */
  get contextLength(): number | undefined {
    return this.info.contextLength;
  }
  /** Sequences decoded at once. */
  get parallel(): number {
    return Math.max(1, this.#options.parallel ?? 1);
  }
  /** Whether `parallel` sequences are decoded together in one batched step (continuous batching). */
  get batching(): boolean {
    return this.#batchRows !== undefined;
  }
  /** Why sequences are not decoded together (undefined when they are). */
  get batchingOff(): string | undefined {
    return this.#batchingOff;
  }
  /** Requests waiting for a worker. */
  get queued(): number {
    return this.#queue.length;
  }
  /** Live workers. */
  get workers(): number {
    return this.#slots.filter((s) => !s.dead).length;
  }
  /** Generations queued or running. */
  get pending(): number {
    return this.#inflight;
  }

  /**
   * Tensors in, tensors out is for session pools: a text generator refuses it (as `ModelPool.infer` is
   * called on any served model's pool).
   *
   * @throws {InputError} always, naming the endpoints that take prompts.
   */
  infer(_feeds: unknown, _options?: unknown): Promise<never> {
    return Promise.reject(this.#promptsOnly());
  }

  /** Raw task input is for session pools: a text generator refuses it. @throws {InputError} always. */
  process(_input: unknown, _rawOptions?: unknown, _options?: unknown): Promise<never> {
    return Promise.reject(this.#promptsOnly());
  }

  /** Whether the workers host an encoder-decoder model (answered by {@linkcode GenerationPool.answer}). */
  get encoderDecoder(): boolean {
    return this.#options.generator === "encoder-decoder";
  }

  #promptsOnly(): InputError {
    if (this.encoderDecoder) {
      return new InputError(
        `model ${JSON.stringify(this.name)} is an encoder-decoder model (${this.loaded.task}): use POST /models/${
          encodeURIComponent(this.name)
        }/predict${this.loaded.task === "automatic-speech-recognition" ? " or /v1/audio/transcriptions" : ""}`,
      );
    }
    return new InputError(
      `model ${
        JSON.stringify(this.name)
      } generates text: use POST /v1/chat/completions, /v1/completions, /api/chat or /api/generate`,
    );
  }

  /**
   * Generates for one prompt on the next free worker, streaming deltas to `onDelta`.
   *
   * @throws {QueueFullError} the queue holds `maxQueue` requests (503 + Retry-After).
   * @throws {ContextLengthExceededError} the prompt and the tokens asked for do not fit the context.
   * @throws {RequestTimeoutError} it took longer than `timeoutMs` (it was cancelled).
   */
  generate(
    prompt: GenerationPrompt,
    params: GenerationParams,
    options: GenerateCallOptions = {},
  ): Promise<GenerationAnswer> {
    if (this.encoderDecoder) return Promise.reject(this.#promptsOnly());
    return this.#enqueue({ type: "generate", prompt, params }, options);
  }

  /**
   * Answers one encoder-decoder input on the next free worker: the answer's `result` is the task's document;
   * `onDelta` is called once (with "") when the worker has read the input and begun decoding.
   *
   * @throws {InputError} the model is a decoder-only text generator (it takes prompts), or the input does not suit it.
   * @throws {QueueFullError} the queue holds `maxQueue` requests (503 + Retry-After).
   * @throws {RequestTimeoutError} it took longer than `timeoutMs` (it was cancelled).
   */
  answer(
    input: Seq2SeqJobInput,
    params: Seq2SeqJobParams,
    options: GenerateCallOptions = {},
  ): Promise<GenerationAnswer> {
    if (!this.encoderDecoder) {
      return Promise.reject(
        new InputError(`model ${JSON.stringify(this.name)} generates text from prompts, not from ${input.kind} input`, {
          hint: "use POST /v1/chat/completions, /v1/completions, /api/chat or /api/generate",
        }),
      );
    }
    return this.#enqueue({ type: "seq2seq", input, params }, options);
  }

  #enqueue(work: Work, options: GenerateCallOptions): Promise<GenerationAnswer> {
    if (this.#closing) return Promise.reject(new ShuttingDownError("the server is shutting down"));
    if (this.#queue.length >= (this.#options.maxQueue ?? 256)) {
      return Promise.reject(
        new QueueFullError(`the queue of model ${JSON.stringify(this.name)} is full (${this.#queue.length} waiting)`, {
          hint: "retry later, or start the server with a larger --max-queue or --parallel",
        }),
      );
    }
    return new Promise<GenerationAnswer>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => this.#cancel(job, false);
      const job: Job = {
        id: this.#nextId++,
        work,
        options,
        enqueued: performance.now(),
        done: false,
        timedOut: false,
        resolve,
        reject,
        cleanup: () => {
          if (timer !== undefined) clearTimeout(timer);
          options.signal?.removeEventListener("abort", onAbort);
          this.#inflight--;
          this.lastUsed = Date.now();
          if (this.#inflight === 0) { for (const w of this.#idleWaiters.splice(0)) w(); }
        },
      };
      this.#inflight++;
      if (options.timeoutMs) timer = setTimeout(() => this.#cancel(job, true), options.timeoutMs);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(job);
      this.#pump();
    });
  }

  #cancel(job: Job, timedOut: boolean): void {
    if (job.done) return;
    job.timedOut = timedOut;
    if (job.slot) {
      // running: the worker stops it within one step and answers `done` with finish reason `cancelled`
      job.slot.worker.postMessage({ type: "cancel", id: job.id } satisfies ToGenerationWorker);
      return;
    }
    const i = this.#queue.indexOf(job);
    if (i >= 0) this.#queue.splice(i, 1);
    this.#options.metrics?.generations.inc({ model: this.name, reason: "cancelled" });
    this.#finish(job, undefined, this.#cancelError(job));
  }

  #cancelError(job: Job): Error {
    return job.timedOut
      ? new RequestTimeoutError(
        `model ${JSON.stringify(this.name)} did not finish within ${job.options.timeoutMs} ms`,
        { hint: "ask for fewer tokens, retry later or raise --timeout-ms" },
      )
      : new RuntimeError("the generation was cancelled: the client went away");
  }

  #finish(job: Job, answer: GenerationAnswer | undefined, error?: unknown): void {
    if (job.done) return;
    job.done = true;
    job.cleanup();
    if (answer) job.resolve(answer);
    else job.reject(error);
  }

  #pump(): void {
    for (const slot of this.#slots) {
      while (!slot.dead && slot.jobs.size < slot.capacity) {
        const job = this.#queue.shift();
        if (!job) return;
        job.slot = slot;
        job.dispatched = performance.now();
        slot.jobs.set(job.id, job);
        this.#options.metrics?.queueSeconds.observe({ model: this.name }, (performance.now() - job.enqueued) / 1000);
        slot.worker.postMessage({ ...job.work, id: job.id } satisfies ToGenerationWorker);
      }
    }
  }

  #watch(slot: Slot): void {
    slot.worker.onmessage = (event: MessageEvent<FromGenerationWorker>) => this.#onMessage(slot, event.data);
    slot.worker.onerror = (event) => {
      event.preventDefault();
      this.#onCrash(slot, event.message || "uncaught error");
    };
    slot.worker.onmessageerror = () => this.#onCrash(slot, "a message could not be deserialized");
  }

  #onMessage(slot: Slot, m: FromGenerationWorker): void {
    const metrics = this.#options.metrics;
    const model = { model: this.name };
    if (m.type === "batch_step") {
      metrics?.inferences.inc(model);
      metrics?.inferenceItems.inc(model, m.rows);
      metrics?.batchSize.observe(model, m.rows);
      return;
    }
    if (m.type !== "delta" && m.type !== "done" && m.type !== "failed") return;
    const job = slot.jobs.get(m.id);
    if (!job) return;
    if (m.type === "delta") {
      if (job.firstToken === undefined && !this.encoderDecoder) {
        job.firstToken = performance.now();
        metrics?.timeToFirstToken.observe(model, (job.firstToken - job.enqueued) / 1000);
      }
      if (!job.done) job.options.onDelta?.(m.text, m.logprobs);
      return;
    }
    slot.jobs.delete(m.id);
    if (m.type === "done") {
      metrics?.generations.inc({ model: this.name, reason: m.finishReason });
      metrics?.generatedTokens.inc(model, m.generatedTokens);
      metrics?.promptTokens.inc(model, m.promptTokens);
      metrics?.inferenceSeconds.observe(model, m.totalMs / 1000);
      if (m.finishReason === "cancelled" && job.timedOut) this.#finish(job, undefined, this.#cancelError(job));
      else {
        this.#finish(job, { ...m, queueMs: (job.dispatched ?? job.enqueued) - job.enqueued });
      }
    } else {
      metrics?.generations.inc({ model: this.name, reason: "error" });
      this.#finish(job, undefined, errorFromWorker(m.error));
    }
    this.#pump();
  }

  #onCrash(slot: Slot, reason: string): void {
    if (slot.dead) return;
    slot.dead = true;
    const jobs = [...slot.jobs.values()];
    slot.jobs.clear();
    try {
      slot.worker.terminate();
    } catch { /* already gone */ }
    this.#slots = this.#slots.filter((s) => s !== slot);
    this.#options.metrics?.workerRestarts.inc({ model: this.name });
    this.#options.onEvent?.({ type: "worker_crashed", model: this.name, reason, requests: jobs.length });
    for (const job of jobs) {
      this.#finish(
        job,
        undefined,
        new WorkerCrashedError(`the worker generating with model ${JSON.stringify(this.name)} crashed: ${reason}`, {
          hint: "the worker is being replaced; retry the request",
        }),
      );
    }
    if (this.#closing) return;
    GenerationPool.#spawn(this.#options, this.#batchRows).then(({ slot: fresh }) => {
      if (this.#closing) return void closeWorker(fresh);
      this.#slots.push(fresh);
      this.#watch(fresh);
      this.#options.onEvent?.({ type: "worker_replaced", model: this.name });
      this.#pump();
    }, (error) => {
      this.#options.onEvent?.({
        type: "worker_replace_failed",
        model: this.name,
        reason: error instanceof Error ? error.message : String(error),
      });
      if (this.workers === 0) {
        for (const j of this.#queue.splice(0)) this.#finish(j, undefined, new WorkerCrashedError("no worker left"));
      }
    });
  }

  /** Resolves when no generation is queued or running. */
  drained(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Fails what still waits, releases every pipeline and terminates the workers. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const j of this.#queue.splice(0)) {
      this.#finish(j, undefined, new ShuttingDownError("the server is shutting down"));
    }
    for (const slot of this.#slots) {
      for (const job of slot.jobs.values()) {
        this.#finish(job, undefined, new ShuttingDownError("the server is shutting down"));
      }
    }
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((slot) => closeWorker(slot)));
  }
}

/** Asks the worker to release its pipeline, waits for it (bounded), then terminates it. */
function closeWorker(slot: Slot, waitMs = 5000): Promise<void> {
  if (slot.dead) return Promise.resolve();
  slot.dead = true;
  return releaseWorker(slot.worker, waitMs);
}
