/**
 * Whole-number flags (`--concurrency`, `--limit`, `--runs`, `--intra-op-threads`, …): one parser and
 * one table of bounds for every command, so that `--intra-op-threads 100000` is refused up front
 * (exit 2, with the allowed range) instead of starting 100,000 threads.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { describeLimit, type Limit, LIMITS, withinLimit } from "../vocabulary/limits.ts";

/** An inclusive range of accepted values. */
export type IntRange = Pick<Limit, "min" | "max">;

/**
 * The bounds of every whole-number flag gpux has: the shared table of src/vocabulary/limits.ts, which gpux.yml's
 * validator reads too (a flag and its gpux.yml field accept the same range).
 */
export const INT_FLAGS = LIMITS;

/**
 * Parses a whole number in `range` given to `flag` (decimal digits only: no sign, exponent or fraction; with a
 * `fractional` range, a plain decimal such as `0.5`).
 *
 * @throws {InputError} naming the flag, what was given and the allowed range.
 * @example
 * ```ts
 * parseIntFlag("--runs", "200", INT_FLAGS.runs); // 200
 * ```
 */
export function parseIntFlag(flag: string, value: string, range: IntRange & { fractional?: boolean }): number {
  const pattern = range.fractional ? /^\s*\d{1,16}(\.\d{1,16})?\s*$/ : /^\s*\d{1,16}\s*$/;
  const n = pattern.test(value) ? Number(value) : NaN;
  if (!withinLimit(n, range)) {
    throw new InputError(`invalid ${flag} '${value}': use ${describeLimit(range)}`, {
      hint: "pick a value inside the range; the README's Limits table lists every bound and what sets it",
    });
  }
  return n;
}

/** A commander argument parser for `flag` (see {@linkcode parseIntFlag}). */
export function intFlag(flag: string, range: IntRange & { fractional?: boolean }): (value: string) => number {
  return (value) => parseIntFlag(flag, value, range);
}
