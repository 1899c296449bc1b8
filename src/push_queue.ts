/**
 * A queue that one side pushes to and the other drains as an async iterable: how a generation loop, which produces
 * text as it decodes, hands its deltas to whoever streams them (the module's `generate()` streams, the server's
 * answers). It lives at the top of `src/` because the generation room and the server both use it.
 *
 * @module
 */

/**
 * Items pushed while a consumer may or may not be waiting; {@linkcode PushQueue.drain} yields them in order and
 * returns once {@linkcode PushQueue.end} was called and nothing is left.
 *
 * @example
 * ```ts
 * const queue = new PushQueue<string>();
 * queue.push("Hel");
 * queue.push("lo");
 * queue.end();
 * for await (const text of queue.drain()) console.log(text); // "Hel", then "lo"
 * ```
 */
export class PushQueue<T> {
  #items: T[] = [];
  #wake: (() => void) | undefined;
  #ended = false;

  /** Adds an item and wakes a waiting consumer. */
  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  /** No more items will come: the consumer finishes once it has taken the rest. */
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  /** The items in order, waiting for more until {@linkcode PushQueue.end}. */
  async *drain(): AsyncGenerator<T> {
    while (true) {
      if (this.#items.length) {
        yield this.#items.shift()!;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }
}
