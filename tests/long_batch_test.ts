/**
 * Inputs whose size sets an argument count: padding a short text to a very long one, and the longest row of a
 * batch of many texts, once used spreads (`push(...pad)`, `Math.max(...lengths)`) that overflow the call stack
 * ("Maximum call stack size exceeded") past about a hundred thousand elements. The library API takes such inputs
 * (only `gpux serve` bounds items per request), so they must work.
 */
import { assertEquals } from "./support/assert.ts";
import { TextTokenizer } from "../src/processing/tokenizer.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { readNpy, writeNpy } from "../src/runtime/npy.ts";

const bert = await bertTokenizer();
const skip = "skip" in bert ? bert.skip : undefined;
if (skip) console.warn(`skipping the long batch tests: ${skip}`);

Deno.test({
  name: "tokenizer: a short text padded to a 300,000-token neighbour, left and right, without a stack overflow",
  ignore: skip !== undefined,
  fn: () => {
    if ("skip" in bert) return;
    const tok = new TextTokenizer(bert.tokenizer, bert.config);
    const long = "a ".repeat(300_000);
    for (const side of ["right", "left"] as const) {
      const got = tok.encodeBatch([long, "b"], { truncation: false, padding: true, paddingSide: side });
      assertEquals(got.inputIds[0].length, 300_002);
      assertEquals(got.inputIds[1].length, 300_002);
      const mask = got.attentionMask[1];
      assertEquals(mask.reduce((n, m) => n + m, 0), 3); // [CLS] b [SEP]
      assertEquals(side === "right" ? mask[0] : mask[mask.length - 1], 1);
    }
  },
});

Deno.test({
  name: "tokenizer: a batch of 200,000 texts is padded to its longest row without a stack overflow",
  ignore: skip !== undefined,
  fn: () => {
    if ("skip" in bert) return;
    const tok = new TextTokenizer(bert.tokenizer, bert.config);
    const texts = Array.from({ length: 200_000 }, (_, i) => (i === 123_456 ? "a b c" : "a"));
    const got = tok.encodeBatch(texts, { truncation: false, padding: true });
    assertEquals(got.inputIds.length, 200_000);
    assertEquals(got.inputIds[0].length, 5);
    assertEquals(got.inputIds[123_456].length, 5);
  },
});

Deno.test("writeNpy: a string tensor of 200,000 elements is written without a stack overflow", () => {
  const data = Array.from({ length: 200_000 }, (_, i) => (i === 7 ? "abc" : "x"));
  const bytes = writeNpy({ dtype: "string", shape: [200_000], data });
  const back = readNpy(bytes);
  assertEquals(back.shape, [200_000]);
  assertEquals((back.data as string[])[7], "abc");
});
