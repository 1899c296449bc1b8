/**
 * Stop strings (`--stop`), checked on the decoded text rather than on tokens, so that a stop string
 * split across several tokens still stops, and never emitted: text that could be the start of a stop
 * string is held back until the next token shows whether it is.
 *
 * @module
 */

/** What {@linkcode StopStringMatcher.push} lets out. */
export interface StopCheck {
  /** Text safe to emit now. */
  text: string;
  /** True when a stop string was found (everything from it on is dropped). */
  stopped: boolean;
}

/** Holds back text that may begin a stop string and reports when one appears. */
export class StopStringMatcher {
  #stops: string[];
  #pending = "";

  /** `stops`: the stop strings (empty ones are ignored). */
  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  /** Adds a delta of decoded text; returns what may be emitted and whether a stop string was hit. */
  push(delta: string): StopCheck {
    if (!this.#stops.length) return { text: delta, stopped: false };
    const pending = this.#pending + delta;
    let first = -1;
    for (const stop of this.#stops) {
      const at = pending.indexOf(stop);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    if (first >= 0) {
      this.#pending = "";
      return { text: pending.slice(0, first), stopped: true };
    }
    // keep the longest tail that is a proper prefix of some stop string
    let hold = 0;
    for (const stop of this.#stops) {
      for (let n = Math.min(stop.length - 1, pending.length); n > hold; n--) {
        if (pending.endsWith(stop.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    this.#pending = pending.slice(pending.length - hold);
    return { text: pending.slice(0, pending.length - hold), stopped: false };
  }

  /** At the end without a stop: the text held back. */
  flush(): string {
    const rest = this.#pending;
    this.#pending = "";
    return rest;
  }
}
