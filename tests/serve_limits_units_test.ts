/**
 * The pieces behind `gpux serve`'s request limits, memory budget, CORS and listen checks, one by one: counts of
 * raw bodies (zero-shot rows, pairs, characters), WAV durations from headers, tensor spans, the budget's
 * reserve / resize / release arithmetic, origin parsing and host syntax.
 */
import { assert, assertEquals, assertThrows } from "./support/assert.ts";
import { encodeWav } from "./support/audio_fixtures.ts";
import { checkFeeds, checkRawCounts, REQUEST_LIMIT_DEFAULTS } from "../src/serve/request_limits.ts";
import { wavDuration } from "../src/serve/wav_duration.ts";
import { MemoryBudget, MemoryBusyError } from "../src/serve/memory_budget.ts";
import { allowedOrigin, parseCorsOrigins } from "../src/serve/cors_policy.ts";
import { isHostSyntax } from "../src/serve/listen_address.ts";
import { PayloadTooLargeError } from "../src/serve/serve_errors.ts";
import { InputError } from "../src/errors.ts";

const limits = { ...REQUEST_LIMIT_DEFAULTS, maxBatchItems: 10, maxTextChars: 100 };

Deno.test("checkRawCounts: texts × candidate labels are the rows counted; pairs and characters too", () => {
  checkRawCounts({ text: ["a", "b"], candidate_labels: ["x", "y", "z", "w", "v"] }, "text", limits); // 10 rows
  const rows = assertThrows(
    () => checkRawCounts({ text: ["a", "b", "c"], candidate_labels: ["x", "y", "z", "w"] }, "text", limits),
    PayloadTooLargeError,
  );
  assertEquals(rows.message, "3 texts × 4 candidate labels make 12 rows; the limit is 10");
  assertEquals(rows.hint, "split the request, or start the server with a larger --max-batch-items");
  assertThrows(() => checkRawCounts({ text: "a", pairs: Array(11).fill("p") }, "text", limits), PayloadTooLargeError);
  // the template is counted once per label
  checkRawCounts(
    { text: "a".repeat(50), candidate_labels: ["x"], hypothesis_template: "t".repeat(48) },
    "text",
    limits,
  );
  const chars = assertThrows(
    () =>
      checkRawCounts(
        { text: "a".repeat(50), candidate_labels: ["x", "y"], hypothesis_template: "t".repeat(25) },
        "text",
        limits,
      ),
    PayloadTooLargeError,
  );
  assertEquals(chars.message, "the request holds 102 characters of text; the limit is 100");
  assertThrows(() => checkRawCounts({ image: Array(11).fill("") }, "image", limits), PayloadTooLargeError, "11 image");
  checkRawCounts({ image: "one" }, "image", limits);
});

Deno.test("checkFeeds: every dimension counts, a zero as one", () => {
  const small = { ...REQUEST_LIMIT_DEFAULTS, maxTensorElements: 100 };
  checkFeeds({ x: { dtype: "float32", shape: [10, 10], data: new Float32Array(100) } }, small);
  checkFeeds({ x: { dtype: "float32", shape: [0, 100], data: new Float32Array(0) } }, small);
  assertThrows(
    () => checkFeeds({ x: { dtype: "float32", shape: [0, 101], data: new Float32Array(0) } }, small),
    PayloadTooLargeError,
    "spans 101 elements; the limit is 100",
  );
});

Deno.test("wavDuration: frames over the declared rate, from the header alone; not a WAV is undefined", () => {
  const wav = encodeWav([new Float32Array(32_000), new Float32Array(32_000)], 16_000, { encoding: "pcm16" });
  assertEquals(wavDuration(wav)?.seconds, 2);
  assertEquals(wavDuration(encodeWav([new Float32Array(4_410)], 44_100, { encoding: "float32" })), {
    seconds: 0.1,
    rate: 44_100,
  });
  const extra = encodeWav([new Float32Array(8_000)], 8_000, {
    extraChunks: [{ id: "LIST", body: new Uint8Array(7) }],
  });
  assertEquals(wavDuration(extra)?.seconds, 1);
  assertEquals(wavDuration(new TextEncoder().encode("not a wav file at all")), undefined);
  assertEquals(wavDuration(new Uint8Array(0)), undefined);
  // a header cut before its data chunk
  assertEquals(wavDuration(wav.subarray(0, 30)), undefined);
});

Deno.test("MemoryBudget: reserve, resize and release; 413 when it could never fit, 503 when it does not fit now", () => {
  const budget = new MemoryBudget(1000, 400); // 600 for requests
  assertEquals(budget.capacity, 600);
  const a = budget.reserve(400);
  assertThrows(() => budget.reserve(601), PayloadTooLargeError, "needs about");
  assertThrows(() => budget.reserve(201), MemoryBusyError);
  const b = budget.reserve(200);
  assertEquals(budget.reserved, 600);
  assertThrows(() => b.resize(201), MemoryBusyError);
  b.resize(50);
  assertEquals(budget.reserved, 450);
  a.release();
  a.release(); // idempotent
  assertEquals(budget.reserved, 50);
  b.release();
  assertEquals(budget.reserved, 0);
  assertEquals(new MemoryBudget(100, 400).capacity, 0);
});

Deno.test("parseCorsOrigins: * or origins, normalised; control characters, paths and bare words refused", () => {
  assertEquals(parseCorsOrigins("*"), "*");
  assertEquals(parseCorsOrigins("https://App.Example.com:443/, http://localhost:3000"), [
    "https://app.example.com",
    "http://localhost:3000",
  ]);
  for (const bad of ["a\r\nb", "http://a.example\n", "https://a.example/x", "a.example", "*,http://a", "", "ftp://a"]) {
    assertThrows(() => parseCorsOrigins(bad), InputError);
  }
  assertEquals(allowedOrigin("*", null), "*");
  assertEquals(allowedOrigin(["http://a"], "http://b"), "http://a");
  assertEquals(allowedOrigin(["http://a", "http://b"], "http://b"), "http://b");
  assertEquals(allowedOrigin(["http://a", "http://b"], "http://c"), undefined);
});

Deno.test("isHostSyntax: addresses and host names pass; spaces, schemes and empty labels do not", () => {
  for (const ok of ["127.0.0.1", "0.0.0.0", "::", "::1", "[::1]", "fe80::1%eth0", "localhost", "my-host.local"]) {
    assert(isHostSyntax(ok), ok);
  }
  for (const bad of ["", "foo bar", "a..b", "http://127.0.0.1", "-a", "[::1", "a:b"]) assert(!isHostSyntax(bad), bad);
});
