/**
 * The range bookkeeping of a ranged download (src/download/range_plan.ts) as plain arithmetic: part
 * boundaries, what is pending, the contiguous prefix, a sequential prefix adopted, and the sidecar's
 * text and its validated parse. No I/O: every test runs in milliseconds.
 */
import { assert, assertEquals, assertThrows } from "./support/assert.ts";
import { RangePlan } from "../src/download/range_plan.ts";

const FILE = { size: 10, hash: "ab".repeat(32) };

function parts(plan: RangePlan): [number, number][] {
  return Array.from({ length: plan.count }, (_, i) => [plan.start(i), plan.end(i)]);
}

/** A plan of `file` in parts of `chunkSize` with `done` bytes of each on disk, as a resumed sidecar gives it. */
function planWith(done: number[], chunkSize = 4, file = FILE): RangePlan {
  const plan = RangePlan.parse(JSON.stringify({ size: file.size, chunkSize, hash: file.hash, done }), file);
  assert(plan, `a valid plan: ${JSON.stringify(done)}`);
  return plan;
}

Deno.test("range plan: a size that is not a multiple of the chunk size ends in a shorter last part", () => {
  const plan = RangePlan.fresh(FILE, 4);
  assertEquals(plan.count, 3);
  assertEquals(parts(plan), [[0, 4], [4, 8], [8, 10]], "end is exclusive");
  assertEquals([0, 1, 2].map((i) => plan.length(i)), [4, 4, 2]);
  assertEquals(plan.pending(), [0, 1, 2]);
  assertEquals(plan.bytesDone(), 0);
  assertEquals(plan.contiguousEnd(), 0);
  assertEquals(plan.nextByte(2), 8);
});

Deno.test("range plan: an exact multiple, one part, size 1 and size 0", () => {
  assertEquals(parts(RangePlan.fresh({ ...FILE, size: 8 }, 4)), [[0, 4], [4, 8]]);
  assertEquals(parts(RangePlan.fresh(FILE, 16)), [[0, 10]]);
  const one = RangePlan.fresh({ ...FILE, size: 1 }, 4);
  assertEquals(parts(one), [[0, 1]]);
  one.record(0, 1);
  assertEquals([one.isComplete(0), one.pending(), one.contiguousEnd()], [true, [], 1]);
  const empty = RangePlan.fresh({ ...FILE, size: 0 }, 4);
  assertEquals([empty.count, empty.pending(), empty.bytesDone(), empty.contiguousEnd()], [0, [], 0, 0]);
});

Deno.test("range plan: bytes recorded move the next byte, completion and the contiguous prefix", () => {
  const plan = RangePlan.fresh(FILE, 4);
  plan.record(1, 4);
  assertEquals(plan.contiguousEnd(), 0, "part 1 complete, but part 0 is a hole");
  plan.record(0, 3);
  assertEquals([plan.nextByte(0), plan.isComplete(0), plan.contiguousEnd()], [3, false, 3]);
  plan.record(0, 1);
  assertEquals(plan.contiguousEnd(), 8, "parts 0 and 1 join up");
  assertEquals(plan.pending(), [2]);
  plan.record(2, 2);
  assertEquals([plan.contiguousEnd(), plan.bytesDone(), plan.pending()], [10, 10, []]);
});

Deno.test("range plan: a part never takes more bytes than it has", () => {
  const plan = RangePlan.fresh(FILE, 4);
  plan.record(2, 1);
  assertThrows(() => plan.record(2, 2), RangeError);
  assertThrows(() => plan.record(0, -1), RangeError);
  assertEquals(plan.done(2), 1, "a refused record changes nothing");
  assertThrows(() => RangePlan.fresh(FILE, 0), RangeError);
  assertThrows(() => RangePlan.fresh(FILE, 2.5), RangeError);
});

Deno.test("range plan: a resumed plan with holes continues each part where it stopped", () => {
  const plan = planWith([4, 1, 0]);
  assertEquals(plan.pending(), [1, 2]);
  assertEquals([plan.nextByte(1), plan.nextByte(2)], [5, 8]);
  assertEquals(plan.bytesDone(), 5);
  assertEquals(plan.contiguousEnd(), 5);
  assertEquals(planWith([0, 4, 2]).contiguousEnd(), 0);
  assertEquals(planWith([4, 4, 1]).contiguousEnd(), 9);
});

Deno.test("range plan: a sequential prefix counts in every part it covers, and never lowers a part", () => {
  const plan = RangePlan.fresh(FILE, 4);
  plan.adoptPrefix(6);
  assertEquals([0, 1, 2].map((i) => plan.done(i)), [4, 2, 0]);
  assertEquals([plan.contiguousEnd(), plan.pending()], [6, [1, 2]]);
  plan.adoptPrefix(10);
  assertEquals(plan.pending(), []);
  const ahead = planWith([0, 3, 0]);
  ahead.adoptPrefix(5);
  assertEquals([ahead.done(0), ahead.done(1)], [4, 3]);
});

Deno.test("range plan: the sidecar text round-trips and never grows as parts fill", () => {
  const plan = RangePlan.fresh({ size: 100_000_007, hash: FILE.hash }, 16 * 1024 * 1024);
  const first = plan.text();
  assertEquals(JSON.parse(first).done, [0, 0, 0, 0, 0, 0]);
  plan.record(5, 12345);
  plan.record(0, 16 * 1024 * 1024);
  const later = plan.text();
  assertEquals(later.length, first.length, "padded to the length of the complete plan");
  const back = RangePlan.parse(later, { size: 100_000_007, hash: FILE.hash });
  assert(back);
  assertEquals([back.chunkSize, back.done(0), back.done(5), back.bytesDone()], [
    16 * 1024 * 1024,
    16777216,
    12345,
    16789561,
  ]);
  for (let i = 0; i < plan.count; i++) plan.record(i, plan.length(i) - plan.done(i));
  assertEquals(plan.text(), plan.text().trimEnd(), "a complete plan needs no padding");
  assertEquals(plan.text().length, first.length);
  assertEquals(Object.keys(JSON.parse(first)), ["size", "chunkSize", "hash", "done"]);
});

Deno.test("range plan: a saved plan keeps its own chunk size (a resume after the default changed)", () => {
  const saved = RangePlan.fresh(FILE, 3);
  saved.record(1, 2);
  const back = RangePlan.parse(saved.text(), FILE);
  assert(back);
  assertEquals([back.chunkSize, back.count, back.nextByte(1)], [3, 4, 5]);
});

Deno.test("range plan: corrupt, hostile or foreign sidecars are refused", () => {
  const good = { size: 10, chunkSize: 4, hash: FILE.hash, done: [4, 1, 0] };
  assert(RangePlan.parse(JSON.stringify(good), FILE), "the reference sidecar is valid");
  const refused: [string, unknown][] = [
    ["not JSON", '{"size": 10,'],
    ["null", null],
    ["a number", 42],
    ["an array", [good]],
    ["another size", { ...good, size: 11 }],
    ["another hash", { ...good, hash: "cd".repeat(32) }],
    ["size as a string", { ...good, size: "10" }],
    ["chunk size 0", { ...good, chunkSize: 0 }],
    ["a negative chunk size", { ...good, chunkSize: -4, done: [] }],
    ["a fractional chunk size", { ...good, chunkSize: 2.5, done: [0, 0, 0, 0] }],
    ["chunk size as a string", { ...good, chunkSize: "4" }],
    ["chunk size Infinity (JSON null)", { ...good, chunkSize: 1e400 }],
    ["too few parts", { ...good, done: [4, 1] }],
    ["too many parts", { ...good, done: [4, 1, 0, 0] }],
    ["done is not an array", { ...good, done: { 0: 4, 1: 1, 2: 0, length: 3 } }],
    ["a negative count", { ...good, done: [4, -1, 0] }],
    ["more than a part holds", { ...good, done: [4, 1, 3] }],
    ["a fractional count", { ...good, done: [4, 0.5, 0] }],
    ["a count as a string", { ...good, done: [4, "1", 0] }],
    ["a null count", { ...good, done: [4, null, 0] }],
  ];
  for (const [what, value] of refused) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    assertEquals(RangePlan.parse(text, FILE), undefined, what);
  }
});
