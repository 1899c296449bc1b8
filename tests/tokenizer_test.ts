import { assertEquals } from "./support/assert.ts";
import { TextTokenizer } from "../src/processing/tokenizer.ts";
import {
  bertTokenizer,
  gemma3Tokenizer,
  GOLDENS,
  qwen3Tokenizer,
  type TokenizerFiles,
  unigramTokenizer,
} from "./support/tokenizer_files.ts";

/** Python reports code-point offsets; gpux reports UTF-16 ones (what `String.slice` takes). */
function cpToUtf16(text: string, cp: number): number {
  let i = 0;
  for (let n = 0; n < cp && i < text.length; n++) i += text.codePointAt(i)! > 0xffff ? 2 : 1;
  return i;
}

// deno-lint-ignore no-explicit-any
function checkGoldens(name: string, files: TokenizerFiles, golden: any): void {
  const tok = new TextTokenizer(files.tokenizer, files.config);
  for (const c of golden.cases) {
    const batches = c.texts ?? c.pairs;
    batches.forEach((batch: (string | string[])[], bi: number) => {
      const texts = c.pairs ? batch.map((p) => (p as string[])[0]) : batch as string[];
      const pairs = c.pairs ? batch.map((p) => (p as string[])[1]) : undefined;
      const got = tok.encodeBatch(texts, {
        maxLength: c.maxLength,
        truncation: c.maxLength ? (c.strategy ?? true) : false,
        padding: c.padding ?? false,
        paddingSide: c.paddingSide ?? "right", // as the goldens ask Python for (gemma3's tokenizer_config.json says left)
        addSpecialTokens: c.addSpecialTokens ?? true,
      }, pairs);
      // deno-lint-ignore no-explicit-any
      c.expect[bi].forEach((exp: any, ri: number) => {
        const offsets = exp.offsets.map((o: number[], k: number) => {
          const text = pairs && exp.typeIds[k] === 1 ? pairs[ri] : texts[ri];
          return [cpToUtf16(text, o[0]), cpToUtf16(text, o[1])];
        });
        const where = `${name}: ${c.name} [${bi}][${ri}] ${JSON.stringify(texts[ri]).slice(0, 50)}`;
        const e = got.encodings[ri];
        assertEquals(e.inputIds, exp.ids, `${where}: ids`);
        assertEquals(e.attentionMask, exp.attentionMask, `${where}: attention mask`);
        assertEquals(e.tokenTypeIds, exp.typeIds, `${where}: type ids`);
        assertEquals(e.offsets, offsets, `${where}: offsets`);
      });
    });
  }
  for (const d of golden.decode) {
    assertEquals(tok.decode(d.ids, { skipSpecialTokens: true }), d.skipSpecial, `${name}: decode ${d.ids.slice(0, 8)}`);
  }
}

Deno.test("tokenizer: Qwen3's real byte-level BPE tokenizer.json gives Python tokenizers' ids, masks, type ids and offsets (batches, pairs, truncation, padding)", async (t) => {
  const files = await qwen3Tokenizer();
  if ("skip" in files) return void t.step({ name: files.skip, ignore: true, fn: () => {} });
  checkGoldens("qwen3", files, GOLDENS.qwen3);
});

Deno.test("tokenizer: a BERT WordPiece tokenizer (uncased, accents, CJK) matches Python tokenizers, [CLS]/[SEP] kept under truncation", async (t) => {
  const files = await bertTokenizer();
  if ("skip" in files) return void t.step({ name: files.skip, ignore: true, fn: () => {} });
  checkGoldens("bert", files, GOLDENS.bert);
});

Deno.test("tokenizer: RoBERTa/BERT/ByteLevel post-processors on Qwen3's vocabulary: type ids and trim_offsets (with and without add_prefix_space) as Python", async (t) => {
  const files = await qwen3Tokenizer();
  if ("skip" in files) return void t.step({ name: files.skip, ignore: true, fn: () => {} });
  for (const [name, variant] of Object.entries(GOLDENS.qwen3PostProcessors)) {
    // deno-lint-ignore no-explicit-any
    const v = variant as any;
    const preTokenizer = structuredClone(files.tokenizer.pre_tokenizer) as { pretokenizers: Record<string, unknown>[] };
    if (v.addPrefixSpace) preTokenizer.pretokenizers[1].add_prefix_space = true;
    const json: Record<string, unknown> = {
      ...files.tokenizer,
      post_processor: v.postProcessor,
      pre_tokenizer: preTokenizer,
    };
    const tok: TextTokenizer = new TextTokenizer(json, {});
    for (const row of v.rows) {
      const e = tok.encode(row.text, row.pair === undefined ? {} : { pair: row.pair });
      const where = `${name}: ${JSON.stringify(row.text).slice(0, 40)}`;
      assertEquals(e.inputIds, row.ids, `${where}: ids`);
      assertEquals(e.tokenTypeIds, row.typeIds, `${where}: type ids`);
      if (row.sequenceIds) assertEquals(e.sequenceIds, row.sequenceIds, `${where}: sequence ids`);
      const offsets = row.offsets.map((o: number[], k: number) => {
        const text = row.pair !== undefined && e.sequenceIds[k] === 1 ? row.pair : row.text;
        return [cpToUtf16(text, o[0]), cpToUtf16(text, o[1])];
      });
      assertEquals(e.offsets, offsets, `${where}: offsets`);
    }
  }
});

Deno.test("tokenizer: Gemma 3's real tokenizer.json (BPE with byte fallback, Replace normalizer, <bos> template) matches Python tokenizers", async (t) => {
  const files = await gemma3Tokenizer();
  if ("skip" in files) return void t.step({ name: files.skip, ignore: true, fn: () => {} });
  checkGoldens("gemma3", files, GOLDENS.gemma3);
});

Deno.test("tokenizer: a Unigram (Metaspace, NFKC) tokenizer matches Python tokenizers", () => {
  checkGoldens("unigram", unigramTokenizer(), GOLDENS.unigram);
});

Deno.test("tokenizer: offsets slice the original text, also after emoji and accents the normalizer removed", async (t) => {
  const files = await bertTokenizer();
  if ("skip" in files) return void t.step({ name: files.skip, ignore: true, fn: () => {} });
  const tok = new TextTokenizer(files.tokenizer, files.config);
  const text = "😀 Café in Zürich";
  const e = tok.encode(text);
  const pieces = e.offsets.filter(([s, end]) => end > s).map(([s, end]) => text.slice(s, end));
  assertEquals(pieces.join(""), "😀CaféinZürich", "the tokens' offsets cover the original characters, in order");
  assertEquals(pieces[0], "😀");
  assertEquals(e.tokens[1], "[UNK]");
  assertEquals(pieces.includes("Café"), true, `${pieces}`);
});

Deno.test("tokenizer: model_max_length from tokenizer_config.json truncates when truncation is asked without a length", async (t) => {
  const files = await bertTokenizer();
  if ("skip" in files) return void t.step({ name: files.skip, ignore: true, fn: () => {} });
  const tok = new TextTokenizer(files.tokenizer, { ...files.config, model_max_length: 6 });
  const e = tok.encode("one two three four five six seven", { truncation: true });
  assertEquals(e.inputIds.length, 6);
  assertEquals(e.tokens[0], "[CLS]");
  assertEquals(e.tokens[5], "[SEP]");
});
