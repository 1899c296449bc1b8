/**
 * Where the generation fixtures are (temporary until tests/support/generation_fixtures.ts lands from the
 * fixtures branch): `GPUX_GENERATION_FIXTURES`, else the shared snapshot /work/genfix.
 *
 * @module
 */

/** The folder holding one sub-folder per generation fixture. */
export function generationFixturesRoot(): Promise<string> {
  return Promise.resolve(Deno.env.get("GPUX_GENERATION_FIXTURES") ?? "/work/genfix");
}
