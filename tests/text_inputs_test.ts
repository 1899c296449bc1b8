/**
 * The feeds built for a text model: only the declared inputs, in the declared integer type, padded
 * on the tokenizer's side, position ids counting real tokens only.
 */
import { assertEquals } from "./support/assert.ts";
import { unigramTokenizer } from "./support/tokenizer_files.ts";
import { textFeeds } from "../src/processing/text_inputs.ts";
import { TextTokenizer } from "../src/processing/tokenizer.ts";
import type { TensorInfo } from "../src/runtime/tensors.ts";

const files = unigramTokenizer();

Deno.test("text feeds: declared inputs only, int32 or int64 as declared, position ids skip left padding", () => {
  const tokenizer = new TextTokenizer(files.tokenizer, { ...files.config, padding_side: "left" });
  const batch = tokenizer.encodeBatch(["the quick brown fox", "hi"]);
  const length = batch.inputIds[0].length;
  const short = batch.attentionMask[1].filter((m) => m === 1).length;
  assertEquals(batch.attentionMask[1].slice(0, length - short).every((m) => m === 0), true, "pads on the left");
  assertEquals(batch.inputIds[1][0], tokenizer.tokenToId("<pad>"));
  const inputs: TensorInfo[] = [
    { name: "input_ids", dtype: "int32", shape: ["batch", "sequence"] },
    { name: "position_ids", dtype: "int64", shape: ["batch", "sequence"] },
  ];
  const feeds = textFeeds(inputs, batch);
  assertEquals(Object.keys(feeds), ["input_ids", "position_ids"]);
  assertEquals(feeds.input_ids.dtype, "int32");
  assertEquals(Array.from(feeds.input_ids.data as Int32Array), batch.inputIds.flat());
  assertEquals(feeds.position_ids.shape, [2, length]);
  const positions = Array.from(feeds.position_ids.data as BigInt64Array, Number);
  assertEquals(positions.slice(0, length), Array.from({ length }, (_, i) => i));
  assertEquals(positions.slice(length), [
    ...new Array(length - short).fill(0),
    ...Array.from({ length: short }, (_, i) => i),
  ]);
});

Deno.test("text feeds: padding to max_length for a model that declares a fixed sequence length", () => {
  const tokenizer = new TextTokenizer(files.tokenizer, files.config);
  const batch = tokenizer.encodeBatch(["hi"], { maxLength: 12, truncation: true, padding: "max_length" });
  assertEquals(batch.inputIds[0].length, 12);
  const feeds = textFeeds([{ name: "input_ids", dtype: "int64", shape: [1, 12] }], batch);
  assertEquals(feeds.input_ids.shape, [1, 12]);
});
