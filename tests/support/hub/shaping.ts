/**
 * Traffic shaping of the local hub and the streaming of every response body: a delay before the first
 * byte (the headers) of every response, a bandwidth cap per connection (per response: HTTP/1.1 carries
 * one at a time), and the body faults (`drop`, `stall`, `corrupt`) applied while streaming. Closing a
 * body short of its Content-Length makes Deno cut the connection, so the client sees an error (drop,
 * stall at close, server closing), never a clean end.
 *
 * @module
 */
import type { BodyFault } from "./faults.ts";
import { type RecordedRequest, type ReplyBody, sleep } from "./http.ts";

/** Traffic shaping, applied to both origins. */
export interface ShapingOptions {
  /** Wait before the first byte (the headers) of every response, ms. */
  firstByteDelayMs?: number;
  /** Body bytes per second, per connection (per response: HTTP/1.1 carries one at a time). */
  bytesPerSecond?: number;
}

/** The shaping of one hub and the bodies it is streaming (so that closing can cut them). */
export class Shaping {
  #options: ShapingOptions;
  #open = new Set<() => void>();

  constructor(options: ShapingOptions = {}) {
    this.#options = { ...options };
  }

  /** Replaces the shaping (`{}` turns it off). */
  set(options: ShapingOptions): void {
    this.#options = { ...options };
  }

  /** Waits the first-byte delay; resolves early when `signal` aborts. */
  firstByte(signal: AbortSignal): Promise<void> {
    return sleep(this.#options.firstByteDelayMs ?? 0, signal);
  }

  /** Cuts every body still streaming (the server is closing). */
  cutAll(): void {
    for (const cut of [...this.#open]) cut();
  }

  /**
   * Streams `body` at the bandwidth cap with an optional body fault, counting bytes sent in
   * `record.bytesSent`; `signal` (the server closing) cuts it.
   */
  stream(
    body: ReplyBody,
    record: RecordedRequest,
    fault: BodyFault | undefined,
    signal: AbortSignal,
  ): ReadableStream<Uint8Array> {
    const rate = this.#options.bytesPerSecond;
    const chunkSize = rate ? Math.max(1024, Math.min(256 * 1024, Math.floor(rate / 20))) : 256 * 1024;
    const stall = fault?.kind === "stall";
    const limit = fault?.kind === "drop" || fault?.kind === "stall"
      ? Math.min(body.size, Math.max(0, fault.afterBytes ?? 0))
      : body.size;
    const bodies = this.#open;
    const started = performance.now();
    let sent = 0;
    let ended = false;
    let wake: (() => void) | undefined;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const end = (): void => {
      if (ended) return;
      ended = true;
      bodies.delete(cut);
      signal.removeEventListener("abort", cut);
      wake?.();
    };
    const cut = (): void => {
      if (ended) return;
      end();
      try {
        controller.close();
      } catch { /* already closed or errored */ }
    };
    const wait = (ms: number | undefined) =>
      new Promise<void>((resolve) => {
        const timer = ms === undefined ? undefined : setTimeout(() => {
          wake = undefined;
          resolve();
        }, ms);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
      });
    return new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
        bodies.add(cut);
        signal.addEventListener("abort", cut, { once: true });
      },
      async pull(c) {
        if (ended) return;
        if (sent >= limit) {
          if (stall && sent < body.size) return await wait(undefined); // until the client goes or we close
          end();
          c.close();
          return;
        }
        if (rate) {
          const ms = started + (sent / rate) * 1000 - performance.now();
          if (ms > 1) {
            await wait(ms);
            if (ended) return;
          }
        }
        const n = Math.min(chunkSize, limit - sent);
        const chunk = body.read(sent, sent + n);
        if (fault?.kind === "corrupt") { for (let i = 0; i < chunk.length; i++) chunk[i] ^= 0xa5; }
        sent += n;
        record.bytesSent = sent;
        c.enqueue(chunk);
        if (sent >= body.size) {
          end();
          c.close();
        }
      },
      cancel() {
        end();
      },
    }, { highWaterMark: 0 });
  }
}
