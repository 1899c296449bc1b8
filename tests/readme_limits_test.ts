/**
 * The README's Limits table lists every bound of the shared table (src/vocabulary/limits.ts) with its default, its
 * range and every flag, gpux.yml field and variable that sets it — so a bound added to the table without a README row,
 * or a row whose range drifted from the code, fails here rather than misleading a user.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { type Limit, LIMITS } from "../src/vocabulary/limits.ts";

const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const start = readme.indexOf("\n## Limits\n");
const section = readme.slice(start, readme.indexOf("\n## ", start + 1));

function number(n: number): string {
  if (n === Number.MAX_SAFE_INTEGER) return "2^53";
  if (n >= 2 ** 32 && Number.isInteger(Math.log2(n))) return `2^${Math.log2(n)}`;
  return n.toLocaleString("en-US");
}

Deno.test("README Limits: every entry of the limits table has a row with its range, default and what sets it", () => {
  assert(start > 0, "README.md has no '## Limits' section");
  // cells trimmed: deno fmt pads the table's columns
  const rows = section.split("\n").filter((l) => l.startsWith("| ")).map((l) =>
    l.split("|").slice(1, -1).map((c) => c.trim())
  );
  for (const [key, limit] of Object.entries(LIMITS) as [string, Limit][]) {
    const row = rows.find((r) => r[0] === limit.what);
    assert(row, `no README Limits row for ${key} ("${limit.what}")`);
    const [, defaults, range, setBy] = row;
    assertEquals(range, `${number(limit.min)}–${number(limit.max)}`, `${key}: range`);
    if (limit.default) assertEquals(defaults, limit.default, `${key}: default`);
    for (const name of [...limit.flags ?? [], ...limit.fields ?? [], ...limit.env ?? []]) {
      assert(setBy.includes(`\`${name}\``), `${key}: ${name} missing from "${setBy}"`);
    }
  }
});
