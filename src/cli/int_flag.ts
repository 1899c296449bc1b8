/**
 * Whole-number flags (`--concurrency`, `--limit`, `--runs`, `--intra-op-threads`, …): one parser and
 * one table of bounds for every command, so that `--intra-op-threads 100000` is refused up front
 * (exit 2, with the allowed range) instead of starting 100,000 threads.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { QA_LIMITS } from "../processing/question_answering.ts";

/** An inclusive range of accepted values. */
export interface IntRange {
  /** Smallest accepted value. */
  min: number;
  /** Largest accepted value. */
  max: number;
}

/** The bounds of every whole-number flag gpux has; the README's tables quote these. */
export const INT_FLAGS = {
  /** `pull --concurrency`: the connection budget (files and byte ranges in flight). */
  concurrency: { min: 1, max: 64 },
  /** `search --limit`: results asked for. */
  limit: { min: 1, max: 1000 },
  /** `bench --runs`, `run --benchmark --runs`: timed runs. */
  runs: { min: 1, max: 1_000_000 },
  /** `--warmup`: untimed runs. */
  warmup: { min: 0, max: 100_000 },
  /** `--batch`: size of a synthesised dynamic batch dimension. */
  batch: { min: 1, max: 65_536 },
  /** `--device-id`: GPU index. */
  deviceId: { min: 0, max: 255 },
  /** `--intra-op-threads`, `--inter-op-threads`: onnxruntime thread pools. */
  threads: { min: 1, max: 256 },
  /** `run --top-k`: labels per input. */
  topK: { min: 1, max: 100_000 },
  /** `run --max-answer-length`, `--max-seq-length`, `--doc-stride`: question-answering windows and answers. */
  ...QA_LIMITS,
} as const satisfies Record<string, IntRange>;

/**
 * Parses a whole number in `range` given to `flag` (decimal digits only: no sign, exponent or fraction).
 *
 * @throws {InputError} naming the flag, what was given and the allowed range.
 * @example
 * ```ts
 * parseIntFlag("--runs", "200", INT_FLAGS.runs); // 200
 * ```
 */
export function parseIntFlag(flag: string, value: string, range: IntRange): number {
  const n = /^\s*\d{1,16}\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new InputError(`invalid ${flag} '${value}': use a whole number from ${range.min} to ${range.max}`);
  }
  return n;
}

/** A commander argument parser for `flag` (see {@linkcode parseIntFlag}). */
export function intFlag(flag: string, range: IntRange): (value: string) => number {
  return (value) => parseIntFlag(flag, value, range);
}
