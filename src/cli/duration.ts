/**
 * Durations as users type them on the command line: `90s`, `30m`, `12h`, `7d`, `2w`, `0`.
 *
 * @module
 */
import { InputError } from "../errors.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Milliseconds in `text` (`<number><unit>`, unit one of ms, s, m, h, d, w; a bare `0` is zero).
 *
 * @throws {InputError} naming the flag and the accepted forms.
 */
export function parseDuration(text: string, flag = "duration"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(text);
  if (!m || (m[2] === undefined && Number(m[1]) !== 0)) {
    throw new InputError(`invalid ${flag} '${text}'`, {
      hint: "use a number with a unit: 90s, 30m, 12h, 7d or 2w (0 for no minimum age)",
    });
  }
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "ms"]);
}
