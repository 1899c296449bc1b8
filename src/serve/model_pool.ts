/**
 * One served model: a pool of Workers each holding a session of it, a bounded queue in front of them,
 * and the dynamic batcher that stacks queued requests of the same trailing shapes into one run.
 *
 * A request is queued, then dispatched to an idle worker together with every queued request it can share
 * a run with (up to `maxBatch` rows); with `batchDelayMs` > 0 a partial batch waits that long for more.
 * A worker that crashes is terminated and replaced; the requests it held fail with
 * {@linkcode WorkerCrashedError}. Closing releases every session before terminating its worker
 * (onnxruntime leaks native memory otherwise).
 *
 * @module
 */
import { RuntimeError } from "../errors.ts";
import type { ResolvedModel } from "../runtime/model_source.ts";
import type { ProviderFailure } from "../runtime/providers.ts";
import type { SessionOptions } from "../runtime/session.ts";
import { type TensorInfo, type TensorMap, validateFeeds } from "../runtime/tensors.ts";
import { batchKey, misalignedOutput, rowsOf, splitOutputs, stackFeeds } from "./batching.ts";
import type { ServerMetrics } from "./metrics.ts";
import {
  errorFromWorker,
  QueueFullError,
  RequestTimeoutError,
  ShuttingDownError,
  WorkerCrashedError,
} from "./serve_errors.ts";
import { releaseWorker } from "./worker_release.ts";
import type { FromWorker, LoadedMessage, LoadMessage, RawInput, RawOptions, ToWorker } from "./worker_protocol.ts";

/** Something the pool reports (the CLI decides whether and how to show it). */
export type PoolEvent =
  | { type: "worker_crashed"; model: string; reason: string; requests: number }
  | { type: "worker_replaced"; model: string }
  | { type: "worker_replace_failed"; model: string; reason: string };

/** Options of {@linkcode ModelPool.start}. */
export interface ModelPoolOptions {
  /** Served name. */
  name: string;
  /** The `.onnx` file. */
  path: string;
  /** How it was resolved. */
  model?: ResolvedModel;
  /** Session options for every worker (provider, threads…). */
  session: Omit<SessionOptions, "model">;
  /** Number of workers; default one on a GPU provider, `defaultCpuWorkers` on cpu. */
  workers?: number;
  /** Workers on cpu when `workers` is not given (default 1). */
  defaultCpuWorkers?: number;
  /** Most rows stacked into one run; 1 turns batching off (default 1). */
  maxBatch?: number;
  /** How long a partial batch waits for more requests, in ms (default 0: batch only what is already queued). */
  batchDelayMs?: number;
  /** Most requests waiting; more are refused with {@linkcode QueueFullError} (default 256). */
  maxQueue?: number;
  /** Warm up each worker with one run on synthesized inputs (default true). */
  warmup?: boolean;
  /** Also host the model's pre-processing pipeline (raw inputs); see {@linkcode LoadMessage.pipeline}. */
  pipeline?: LoadMessage["pipeline"];
  /** The worker script (default `model_worker.ts`; tests pass a fault-injecting wrapper). */
  workerUrl?: URL;
  /** Metrics to record into. */
  metrics?: ServerMetrics;
  /** Pool events (crashes, replacements). */
  onEvent?: (event: PoolEvent) => void;
}

/** What a request got back. */
export interface InferenceResult {
  /** Its own outputs (its rows of a batched run); empty for raw input. */
  outputs: TensorMap;
  /** Raw input: the task result as JSON text (printed in the worker). */
  resultText?: string;
  /** Raw input: the tokens of each text, where the task counts them (embeddings). */
  tokenCounts?: number[];
  /** Milliseconds the run took in the worker. */
  runMs: number;
  /** Milliseconds it waited for a worker. */
  queueMs: number;
  /** Requests in the run that answered it. */
  batch: number;
}

/** Options of {@linkcode ModelPool.infer}. */
export interface InferOptions {
  /** Milliseconds before the request fails with {@linkcode RequestTimeoutError} (0 = none). */
  timeoutMs?: number;
  /** Aborts the request (a client that went away): it leaves the queue, or its result is dropped. */
  signal?: AbortSignal;
  /** Feeds were already validated against the inputs. */
  validated?: boolean;
}

interface Entry {
  feeds: TensorMap;
  /** Raw input for the worker's pipeline (never batched), instead of feeds. */
  raw?: { input: RawInput; options: RawOptions };
  rows: number | undefined;
  key: string;
  alone: boolean;
  enqueued: number;
  dispatched?: number;
  done: boolean;
  resolve(result: InferenceResult): void;
  reject(error: unknown): void;
  cleanup(): void;
}

interface Slot {
  worker: Worker;
  busy: boolean;
  batch?: { id: number; entries: Entry[]; started: number };
  dead: boolean;
}

const DEFAULT_WORKER_URL = new URL("./model_worker.ts", import.meta.url);

/** A served model and its workers. */
export class ModelPool {
  /** What the pool's workers host: sessions (tensors, task pipelines); a {@linkcode GenerationPool} says `generation`. */
  readonly kind = "session" as const;
  /** Served name. */
  readonly name: string;
  /** What the first worker reported: provider, fallbacks, inputs, outputs. */
  readonly loaded: LoadedMessage;
  /** How the model was resolved. */
  readonly model?: ResolvedModel;
  /** The `.onnx` file. */
  readonly path: string;
  #options: ModelPoolOptions;
  #slots: Slot[] = [];
  #queue: Entry[] = [];
  #nextId = 1;
  #batchable: boolean;
  #batchingOff: string | undefined;
  #maxBatch: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closing = false;
  #inflight = 0;
  #idleWaiters: (() => void)[] = [];

  private constructor(options: ModelPoolOptions, first: Slot, loaded: LoadedMessage) {
    this.name = options.name;
    this.path = options.path;
    this.model = options.model;
    this.loaded = loaded;
    this.#options = options;
    this.#slots.push(first);
    this.#maxBatch = Math.max(1, options.maxBatch ?? 1);
    const verdict = loaded.batching;
    this.#batchingOff = this.#maxBatch <= 1
      ? "the max batch is 1"
      : !verdict
      ? "warm-up is off, so batching could not be proven safe"
      : verdict.ok
      ? undefined
      : verdict.reason;
    this.#batchable = this.#batchingOff === undefined;
    this.#watch(first);
  }

  /**
   * Starts the pool: loads and warms up the first worker, then the others, and resolves when all are ready.
   *
   * @throws the model's load error (RuntimeError, ProviderError, …) as the worker reported it.
   */
  static async start(options: ModelPoolOptions): Promise<ModelPool> {
    // only the first worker proves batching: the others load the same file
    const first = await ModelPool.#spawn(options, (options.maxBatch ?? 1) > 1 && (options.warmup ?? true));
    const pool = new ModelPool(options, first.slot, first.loaded);
    const count = options.workers ?? (first.loaded.provider === "cpu" ? (options.defaultCpuWorkers ?? 1) : 1);
    try {
      const more = await Promise.all(
        Array.from({ length: Math.max(0, count - 1) }, () => ModelPool.#spawn(options)),
      );
      for (const { slot } of more) {
        pool.#slots.push(slot);
        pool.#watch(slot);
      }
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  static #spawn(options: ModelPoolOptions, checkBatching = false): Promise<{ slot: Slot; loaded: LoadedMessage }> {
    const worker = new Worker(options.workerUrl ?? DEFAULT_WORKER_URL, { type: "module" });
    const slot: Slot = { worker, busy: false, dead: false };
    return new Promise((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const m = event.data;
        if (m.type === "loaded") resolve({ slot, loaded: m });
        else if (m.type === "load_failed") {
          worker.terminate();
          reject(errorFromWorker(m.error));
        }
      };
      worker.onerror = (event) => {
        event.preventDefault();
        worker.terminate();
        reject(new RuntimeError(`the worker for ${options.name} failed while loading: ${event.message}`));
      };
      const message: ToWorker = {
        type: "load",
        kind: "session",
        path: options.path,
        ...(options.model ? { model: options.model } : {}),
        options: options.session,
        warmup: options.warmup ?? true,
        ...(options.pipeline ? { pipeline: options.pipeline } : {}),
        ...(checkBatching ? { checkBatching } : {}),
      };
      worker.postMessage(message);
    });
  }

  /** The provider the model runs on. */
  get provider(): string {
    return this.loaded.provider;
  }
  /** Providers tried first and why they failed. */
  get fallbacks(): ProviderFailure[] {
    return this.loaded.fallbacks;
  }
  /** Declared inputs. */
  get inputs(): TensorInfo[] {
    return this.loaded.inputs;
  }
  /** Declared outputs. */
  get outputs(): TensorInfo[] {
    return this.loaded.outputs;
  }
  /** Whether concurrent requests are stacked into one run. */
  get batching(): boolean {
    return this.#batchable;
  }
  /** Why requests run one by one (undefined while batching is on), for `/info` and the ready line. */
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
  /** Requests queued or running. */
  get pending(): number {
    return this.#inflight;
  }

  /**
   * Runs `feeds` (checked against the inputs unless `validated`) on the next free worker, batched with
   * other queued requests when the model allows it.
   *
   * @throws {InputError} feeds that do not match the inputs (before queueing).
   * @throws {QueueFullError} the queue holds `maxQueue` requests.
   * @throws {RequestTimeoutError} the request took longer than `timeoutMs`.
   * @throws {WorkerCrashedError} the worker died while running it.
   */
  infer(feeds: TensorMap, options: InferOptions = {}): Promise<InferenceResult> {
    if (this.#closing) return Promise.reject(new ShuttingDownError("the server is shutting down"));
    if (!options.validated) validateFeeds(feeds, this.inputs);
    const rows = this.#batchable ? rowsOf(feeds, this.inputs) : undefined;
    return this.#enqueue(feeds, undefined, rows, options);
  }

  /**
   * Runs raw input (text, image or audio) through the worker's pipeline: pre-processing, the model and
   * post-processing. Never batched.
   *
   * @throws {InputError} the model has no pipeline, or the input is of a kind its task does not take.
   */
  process(input: RawInput, rawOptions: RawOptions = {}, options: InferOptions = {}): Promise<InferenceResult> {
    if (this.#closing) return Promise.reject(new ShuttingDownError("the server is shutting down"));
    return this.#enqueue({}, { input, options: rawOptions }, undefined, options);
  }

  #enqueue(
    feeds: TensorMap,
    raw: { input: RawInput; options: RawOptions } | undefined,
    rows: number | undefined,
    options: InferOptions,
  ): Promise<InferenceResult> {
    if (this.#queue.length >= (this.#options.maxQueue ?? 256)) {
      return Promise.reject(
        new QueueFullError(`the queue of model ${JSON.stringify(this.name)} is full (${this.#queue.length} waiting)`, {
          hint: "retry later, or start the server with a larger --max-queue or more --workers",
        }),
      );
    }
    return new Promise<InferenceResult>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => this.#fail(entry, options.signal?.reason ?? new Error("cancelled"));
      const entry: Entry = {
        feeds,
        ...(raw ? { raw } : {}),
        rows,
        key: rows === undefined ? "" : batchKey(feeds, this.inputs),
        alone: rows === undefined,
        enqueued: performance.now(),
        done: false,
        resolve,
        reject,
        cleanup: () => {
          if (timer !== undefined) clearTimeout(timer);
          options.signal?.removeEventListener("abort", onAbort);
          this.#inflight--;
          if (this.#inflight === 0) { for (const w of this.#idleWaiters.splice(0)) w(); }
        },
      };
      this.#inflight++;
      if (options.timeoutMs) {
        timer = setTimeout(() => {
          this.#fail(
            entry,
            new RequestTimeoutError(
              `model ${JSON.stringify(this.name)} did not answer within ${options.timeoutMs} ms`,
              { hint: "retry later or raise --timeout-ms" },
            ),
          );
        }, options.timeoutMs);
      }
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(entry);
      this.#pump();
    });
  }

  #fail(entry: Entry, error: unknown): void {
    if (entry.done) return;
    entry.done = true;
    const i = this.#queue.indexOf(entry);
    if (i >= 0) this.#queue.splice(i, 1);
    entry.cleanup();
    entry.reject(error);
  }

  #succeed(entry: Entry, result: InferenceResult): void {
    if (entry.done) return;
    entry.done = true;
    entry.cleanup();
    entry.resolve(result);
  }

  /** Takes the head of the queue and every queued request that can share its run. */
  #takeBatch(): Entry[] | undefined {
    const head = this.#queue[0];
    if (!head) return undefined;
    if (!this.#batchable || head.alone || head.rows === undefined || head.rows >= this.#maxBatch) {
      return this.#queue.splice(0, 1);
    }
    const chosen = [0];
    let rows = head.rows;
    for (let i = 1; i < this.#queue.length && rows < this.#maxBatch; i++) {
      const e = this.#queue[i];
      if (e.alone || e.key !== head.key || e.rows === undefined || rows + e.rows > this.#maxBatch) continue;
      chosen.push(i);
      rows += e.rows;
    }
    const delay = this.#options.batchDelayMs ?? 0;
    const waited = performance.now() - head.enqueued;
    if (rows < this.#maxBatch && delay > 0 && waited < delay && !this.#closing) {
      if (this.#timer === undefined) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#pump();
        }, Math.max(0, delay - waited));
      }
      return undefined;
    }
    const entries = chosen.map((i) => this.#queue[i]);
    for (let k = chosen.length - 1; k >= 0; k--) this.#queue.splice(chosen[k], 1);
    return entries;
  }

  #pump(): void {
    for (const slot of this.#slots) {
      if (slot.busy || slot.dead) continue;
      const entries = this.#takeBatch();
      if (!entries) return;
      this.#dispatch(slot, entries);
    }
  }

  #dispatch(slot: Slot, entries: Entry[]): void {
    const id = this.#nextId++;
    const now = performance.now();
    for (const e of entries) e.dispatched = now;
    slot.busy = true;
    slot.batch = { id, entries, started: now };
    const raw = entries[0].raw;
    const feeds = entries.length === 1 ? entries[0].feeds : stackFeeds(entries.map((e) => e.feeds), this.inputs);
    const message: ToWorker = raw
      ? { type: "process", id, input: raw.input, options: raw.options }
      : { type: "run", id, feeds };
    slot.worker.postMessage(message);
  }

  #watch(slot: Slot): void {
    slot.worker.onmessage = (event: MessageEvent<FromWorker>) => this.#onMessage(slot, event.data);
    slot.worker.onerror = (event) => {
      event.preventDefault(); // an uncaught error in a worker must not take the server down
      this.#onCrash(slot, event.message || "uncaught error");
    };
    slot.worker.onmessageerror = () => this.#onCrash(slot, "a message could not be deserialized");
  }

  #onMessage(slot: Slot, m: FromWorker): void {
    if (m.type !== "result" && m.type !== "processed" && m.type !== "run_failed") return;
    const batch = slot.batch;
    if (!batch || batch.id !== m.id) return;
    slot.batch = undefined;
    slot.busy = false;
    const metrics = this.#options.metrics;
    const model = { model: this.name };
    if (m.type === "processed") {
      metrics?.inferences.inc(model);
      metrics?.inferenceItems.inc(model);
      metrics?.batchSize.observe(model, 1);
      metrics?.inferenceSeconds.observe(model, m.runMs / 1000);
      const e = batch.entries[0];
      const queueMs = (e.dispatched ?? e.enqueued) - e.enqueued;
      metrics?.queueSeconds.observe(model, queueMs / 1000);
      this.#succeed(e, {
        outputs: {},
        resultText: m.resultText,
        ...(m.tokenCounts ? { tokenCounts: m.tokenCounts } : {}),
        runMs: m.runMs,
        queueMs,
        batch: 1,
      });
    } else if (m.type === "result") {
      metrics?.inferences.inc(model);
      metrics?.inferenceItems.inc(model, batch.entries.length);
      metrics?.batchSize.observe(model, batch.entries.length);
      metrics?.inferenceSeconds.observe(model, m.runMs / 1000);
      const rows = batch.entries.map((e) => e.rows!);
      const misaligned = batch.entries.length === 1 ? undefined : misalignedOutput(m.outputs, rows);
      const parts = misaligned === undefined
        ? (batch.entries.length === 1 ? [m.outputs] : splitOutputs(m.outputs, rows))
        : undefined;
      if (!parts) {
        // an output without one row per stacked row cannot be split without handing one request's rows to
        // another: stop batching this model and run these requests again, one by one
        const shape = m.outputs[misaligned!]?.shape;
        this.#batchable = false;
        this.#batchingOff = `a batched run's output ${JSON.stringify(misaligned)} had ${
          shape?.length ? shape[0] : "no"
        } rows for ${rows.reduce((a, b) => a + b, 0)} rows of requests`;
        this.#requeue(batch.entries);
      } else {
        batch.entries.forEach((e, i) => {
          metrics?.queueSeconds.observe(model, ((e.dispatched ?? e.enqueued) - e.enqueued) / 1000);
          const result = {
            outputs: parts[i],
            runMs: m.runMs,
            queueMs: (e.dispatched ?? e.enqueued) - e.enqueued,
            batch: batch.entries.length,
          };
          // one answer per macrotask: each request's JSON is formatted by its handler when its promise
          // resolves, and a batch of 32 formatted in one go would hold the event loop (and /health) that long
          if (i === 0) this.#succeed(e, result);
          else setTimeout(() => this.#succeed(e, result), 0);
        });
      }
    } else if (batch.entries.length > 1) {
      // one bad request must not fail its neighbours: run each alone
      this.#requeue(batch.entries);
    } else {
      this.#fail(batch.entries[0], errorFromWorker(m.error));
    }
    this.#pump();
  }

  #requeue(entries: Entry[]): void {
    const live = entries.filter((e) => !e.done);
    for (const e of live) e.alone = true;
    this.#queue.unshift(...live);
  }

  #onCrash(slot: Slot, reason: string): void {
    if (slot.dead) return;
    slot.dead = true;
    const entries = slot.batch?.entries ?? [];
    slot.batch = undefined;
    try {
      slot.worker.terminate();
    } catch { /* already gone */ }
    this.#slots = this.#slots.filter((s) => s !== slot);
    this.#options.metrics?.workerRestarts.inc({ model: this.name });
    this.#options.onEvent?.({ type: "worker_crashed", model: this.name, reason, requests: entries.length });
    for (const e of entries) {
      this.#fail(
        e,
        new WorkerCrashedError(`the worker running model ${JSON.stringify(this.name)} crashed: ${reason}`, {
          hint: "the worker was replaced; retry the request",
        }),
      );
    }
    if (this.#closing) return;
    ModelPool.#spawn({ ...this.#options, warmup: false }).then(({ slot: fresh }) => {
      if (this.#closing) {
        fresh.worker.postMessage({ type: "close" } satisfies ToWorker);
        setTimeout(() => fresh.worker.terminate(), 1000);
        return;
      }
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
        for (const e of this.#queue.splice(0)) this.#fail(e, new WorkerCrashedError("no worker left for this model"));
      }
    });
  }

  /** Resolves when no request is queued or running (immediately when idle). */
  drained(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops taking requests, fails the queued ones that are still waiting with {@linkcode ShuttingDownError},
   * releases every session and terminates the workers. Call after {@linkcode drained} for a graceful stop.
   */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const e of this.#queue.splice(0)) this.#fail(e, new ShuttingDownError("the server is shutting down"));
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((slot) => closeWorker(slot)));
  }
}

/** Asks the worker to release its session, waits for it (bounded), then terminates it. */
function closeWorker(slot: Slot, waitMs = 5000): Promise<void> {
  if (slot.dead) return Promise.resolve();
  slot.dead = true;
  for (const e of slot.batch?.entries ?? []) {
    if (!e.done) {
      e.done = true;
      e.cleanup();
      e.reject(new ShuttingDownError("the server is shutting down"));
    }
  }
  return releaseWorker(slot.worker, waitMs);
}
