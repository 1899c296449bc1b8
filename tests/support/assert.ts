/**
 * Assertions for tests (JSR's @std/assert is unreachable here): thin wrappers over node:assert/strict.
 *
 * @module
 */
import assertNode from "node:assert/strict";

export function assert(value: unknown, message?: string): asserts value {
  assertNode.ok(value, message);
}

export function assertEquals<T>(actual: unknown, expected: T, message?: string): asserts actual is T {
  assertNode.deepStrictEqual(actual, expected, message);
}

export function assertNotEquals(actual: unknown, expected: unknown, message?: string): void {
  assertNode.notDeepStrictEqual(actual, expected, message);
}

export function assertMatch(actual: string, pattern: RegExp, message?: string): void {
  assertNode.match(actual, pattern, message ?? `expected ${JSON.stringify(actual)} to match ${pattern}`);
}

export function assertStringIncludes(actual: string, expected: string, message?: string): void {
  assertNode.ok(
    actual.includes(expected),
    message ?? `expected ${JSON.stringify(actual)} to include ${JSON.stringify(expected)}`,
  );
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E> = new (...args: any[]) => E;

/** Asserts `fn` throws an instance of `errorClass` and returns it. */
export function assertThrows<E extends Error>(fn: () => unknown, errorClass: ErrorClass<E>, includes?: string): E {
  try {
    fn();
  } catch (e) {
    assertNode.ok(e instanceof errorClass, `expected ${errorClass.name}, got ${e instanceof Error ? e.name : e}: ${e}`);
    if (includes) assertStringIncludes((e as Error).message, includes);
    return e as E;
  }
  throw new assertNode.AssertionError({ message: `expected ${errorClass.name} to be thrown` });
}

/** Asserts the promise rejects with an instance of `errorClass` and returns the error. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  errorClass: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    assertNode.ok(e instanceof errorClass, `expected ${errorClass.name}, got ${e instanceof Error ? e.name : e}: ${e}`);
    if (includes) assertStringIncludes((e as Error).message, includes);
    return e as E;
  }
  throw new assertNode.AssertionError({ message: `expected ${errorClass.name} to be rejected` });
}
