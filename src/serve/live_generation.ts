/**
 * A generation as an HTTP handler streams it: started on a {@linkcode GenerationPool}, its deltas buffered until
 * the answer's stream reads them, cancellable (the client went away), and holding the server's drain until it
 * ends. The handler first awaits {@linkcode LiveGeneration.started} — the first delta or the end — so that a
 * request that fails before any token (a full queue, a prompt over the context) answers with its own status, not
 * a 200 stream that breaks.
 *
 * @module
 */
import type {
  GenerationAnswer,
  GenerationParams,
  GenerationPool,
  GenerationPrompt,
  TokenLogprobs,
} from "./generation_pool.ts";
import type { ServerState } from "./server_state.ts";
import { PushQueue } from "../push_queue.ts";

/** One streamed step: the text it let out (may be "") and its token's log-probabilities when asked. */
export interface LiveDelta {
  text: string;
  logprobs?: TokenLogprobs;
}

/** A running generation. */
export interface LiveGeneration extends AsyncIterable<LiveDelta> {
  /** Resolves at the first delta or the end; rejects when the generation failed before any delta. */
  readonly started: Promise<void>;
  /** The whole answer. */
  readonly result: Promise<GenerationAnswer>;
  /** Cancels it (the worker stops within one step). */
  cancel(): void;
  /** Milliseconds since the request started (for Ollama's `total_duration`). */
  readonly startedAt: number;
}

/** Starts a generation; the server's drain waits for it to end. */
export function startGeneration(
  state: ServerState,
  pool: GenerationPool,
  prompt: GenerationPrompt,
  params: GenerationParams,
  timeoutMs: number,
): LiveGeneration {
  state.checkOpen();
  const release = state.hold();
  const controller = new AbortController();
  const queue = new PushQueue<LiveDelta>();
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => markStarted = resolve);
  const startedAt = performance.now();
  const result = pool.generate(prompt, params, {
    signal: controller.signal,
    timeoutMs,
    onDelta: (text, logprobs) => {
      queue.push(logprobs ? { text, logprobs } : { text });
      markStarted();
    },
  });
  const finished = result.finally(() => {
    release();
    queue.end();
  });
  finished.catch(() => undefined);
  return {
    started: Promise.race([started, result.then(() => undefined)]),
    result,
    startedAt,
    cancel: () => controller.abort(),
    [Symbol.asyncIterator]: () => queue.drain(),
  };
}

/**
 * An answer stream of lines: `write` is called for each delta and then `end` with the result; a client that goes
 * away cancels the generation. `end` is not called when it was cancelled or failed after the first delta (the
 * failure is then written by `fail`, when given).
 */
export function generationStream(
  live: LiveGeneration,
  write: (delta: LiveDelta) => string,
  end: (answer: GenerationAnswer) => string,
  fail: (error: unknown) => string,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let closed = false;
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (text: string) => {
        if (!closed && text) controller.enqueue(encoder.encode(text));
      };
      try {
        for await (const delta of live) send(write(delta));
        const answer = await live.result;
        send(end(answer));
      } catch (error) {
        send(fail(error));
      }
      if (!closed) {
        closed = true;
        controller.close();
      }
    },
    cancel() {
      closed = true;
      live.cancel();
    },
  });
}

/**
 * A non-streamed answer that still notices a client that hangs up: the status and headers go out once the first
 * token is decoded (the handler awaited {@linkcode LiveGeneration.started}), the document when the generation ends,
 * and a client that leaves meanwhile cancels it (Deno cancels the body stream when the connection closes). A failure
 * after the first token is written as the API's error document.
 */
export function deferredAnswer(
  live: LiveGeneration,
  end: (answer: GenerationAnswer) => string,
  fail: (error: unknown) => string,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let closed = false;
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      let text: string;
      try {
        text = end(await live.result);
      } catch (error) {
        text = fail(error);
      }
      if (closed) return;
      closed = true;
      controller.enqueue(encoder.encode(text));
      controller.close();
    },
    cancel() {
      closed = true;
      live.cancel();
    },
  });
}
