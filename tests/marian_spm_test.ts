/**
 * OPUS-MT / Marian repositories that ship sentencepiece files (`source.spm`, `target.spm`, `vocab.json`) and no
 * tokenizer.json: gpux's ids and decodes against transformers' MarianTokenizer (a real peer, on sentencepiece
 * models trained offline with the nmt_nfkc rules), translation through `gpux run` against PyTorch `generate`, and
 * damaged files as one-line errors.
 */
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "./support/assert.ts";
import { marianSpmFixture, readMarianSpmGoldens } from "./support/marian_spm_fixture.ts";
import { runCli } from "./support/cli.ts";
import { running, startServe } from "./support/serve_process.ts";
import { loadTokenizer } from "../src/processing/tokenizer.ts";
import { InputError, NotFoundError } from "../src/errors.ts";
import { parseSentencePieceModel } from "../src/processing/sentencepiece_model.ts";

async function copyFolder(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyFolder(`${from}/${e.name}`, `${to}/${e.name}`);
    else await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

/** A copy of the fixture's model folder in a temporary folder, to damage. */
async function modelCopy(): Promise<string> {
  const tmp = await Deno.makeTempDir({ prefix: "gpux-marian-spm-" });
  await copyFolder(`${await marianSpmFixture()}/marian-spm`, `${tmp}/model`);
  return `${tmp}/model`;
}

function oneLineError(stderr: string): void {
  assert(!/\n\s+at /.test(stderr), `a stack trace was printed:\n${stderr}`);
  const lines = stderr.trim().split("\n").filter((l) => !l.startsWith("hint:"));
  assertEquals(lines.length, 1, stderr);
}

// ------------------------------------------------------------------------------------------------------ the tokenizer

Deno.test("marian spm: token ids equal MarianTokenizer's (accents, NFKC forms, spaces, unknown characters, emoji, codes)", async () => {
  const goldens = await readMarianSpmGoldens();
  const tokenizer = await loadTokenizer(`${await marianSpmFixture()}/marian-spm`);
  assert(goldens.tokenizer.length >= 16);
  for (const c of goldens.tokenizer) {
    assertEquals(tokenizer.encode(c.text).inputIds, c.input_ids, JSON.stringify(c.text));
  }
  // the cases reach what they claim to: unknown characters (<unk> = 1), a language code, full-width letters folded
  assert(goldens.tokenizer.some((c) => c.input_ids.includes(1)));
  assertEquals(goldens.tokenizer.find((c) => c.text.startsWith(">>"))!.input_ids[0], 1);
});

Deno.test("marian spm: decode equals MarianTokenizer's decode, special tokens skipped or kept, for its own ids and random ones", async () => {
  const goldens = await readMarianSpmGoldens();
  const tokenizer = await loadTokenizer(`${await marianSpmFixture()}/marian-spm`);
  for (const c of goldens.tokenizer) {
    assertEquals(tokenizer.decode(c.input_ids, { skipSpecialTokens: true }), c.decoded, JSON.stringify(c.text));
    assertEquals(tokenizer.decode(c.input_ids), c.decoded_with_specials, JSON.stringify(c.text));
  }
  assert(goldens.decode.length >= 20);
  for (const c of goldens.decode) {
    assertEquals(tokenizer.decode(c.ids, { skipSpecialTokens: true }), c.text, JSON.stringify(c.ids));
    assertEquals(tokenizer.decode(c.ids), c.text_with_specials, JSON.stringify(c.ids));
  }
  // the cases reach the special tokens: some decode differs with them kept
  assert(goldens.decode.some((c) => c.text !== c.text_with_specials));
});

Deno.test("marian spm: separate_vocabs reads target_vocab.json for decoding, vocab.json for encoding", async () => {
  const goldens = (await readMarianSpmGoldens()).separate;
  const tokenizer = await loadTokenizer(`${await marianSpmFixture()}/marian-spm-separate`);
  for (const c of goldens.tokenizer) {
    assertEquals(tokenizer.encode(c.text).inputIds, c.input_ids, JSON.stringify(c.text));
  }
  for (const c of goldens.decode) {
    assertEquals(tokenizer.decode(c.ids, { skipSpecialTokens: true }), c.text, JSON.stringify(c.ids));
    assertEquals(tokenizer.decode(c.ids), c.text_with_specials, JSON.stringify(c.ids));
  }
});

Deno.test("marian spm: a batch pads with <pad> (vocab.json's last id) on the right, as the seq2seq engine feeds it", async () => {
  const goldens = await readMarianSpmGoldens();
  const tokenizer = await loadTokenizer(`${await marianSpmFixture()}/marian-spm`);
  const c = goldens.generation.cases.find((x) => x.id === "greedy_batch")!;
  const batch = tokenizer.encodeBatch(c.inputs, { padding: "longest" });
  const width = Math.max(...c.input_ids.map((r) => r.length));
  c.input_ids.forEach((row, i) => {
    assertEquals(batch.inputIds[i], [...row, ...Array(width - row.length).fill(goldens.generation.pad_token_id)]);
    assertEquals(batch.attentionMask[i], [...row.map(() => 1), ...Array(width - row.length).fill(0)]);
  });
});

// ------------------------------------------------------------------------------------------------- the CLI, as users run it

Deno.test("gpux run --text on a Marian folder with only .spm tokenizer files: PyTorch's greedy and beam ids and texts", async () => {
  const goldens = await readMarianSpmGoldens();
  const dir = `${await marianSpmFixture()}/marian-spm`;
  for (const id of ["greedy_batch", "beam4"]) {
    const c = goldens.generation.cases.find((x) => x.id === id)!;
    const args = ["run", dir, "--json", "--provider", "cpu", "--max-new-tokens", String(c.options.max_new_tokens)];
    if (c.options.num_beams > 1) args.push("--num-beams", String(c.options.num_beams));
    for (const t of c.inputs) args.push("--text", t);
    const { code, stdout, stderr } = await runCli(args);
    assertEquals(code, 0, stderr);
    const doc = JSON.parse(stdout);
    assertEquals(doc.task, "translation");
    assertEquals(doc.results.map((r: { generatedIds: number[] }) => r.generatedIds), c.sequences, id);
    assertEquals(doc.results.map((r: { text: string }) => r.text), c.texts, id);
  }
  const greedy = goldens.generation.cases.find((x) => x.id === "greedy")!;
  const plain = await runCli(["run", dir, "--text", greedy.inputs[0], "--max-new-tokens", "12", "--provider", "cpu"]);
  assertEquals(plain.code, 0, plain.stderr);
  assertEquals(plain.stdout, `${greedy.texts[0]}\n`);
});

Deno.test({
  name: "gpux serve on a Marian folder with only .spm tokenizer files: /models/{name}/predict gives PyTorch's beams",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const goldens = await readMarianSpmGoldens();
    const dir = `${await marianSpmFixture()}/marian-spm`;
    const tmp = await Deno.makeTempDir({ prefix: "gpux-marian-spm-serve-" });
    const server = running(
      await startServe([`opus=${dir}`, "-p", "cpu", "--port", "0", "--quiet"], { sandbox: "exact", cwd: tmp }),
    );
    try {
      for (const id of ["greedy_batch", "beam4"]) {
        const c = goldens.generation.cases.find((x) => x.id === id)!;
        const r = await fetch(`${server.url}/models/opus/predict`, {
          method: "POST",
          body: JSON.stringify({
            text: c.inputs,
            max_new_tokens: c.options.max_new_tokens,
            num_beams: c.options.num_beams,
          }),
        });
        const doc = await r.json();
        assertEquals(r.status, 200, JSON.stringify(doc));
        assertEquals(doc.task, "translation");
        assertEquals(doc.results.map((x: { generatedIds: number[] }) => x.generatedIds), c.sequences, id);
        assertEquals(doc.results.map((x: { text: string }) => x.text), c.texts, id);
      }
    } finally {
      await server.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------------------------------------------------- hostile files

Deno.test("gpux run on a truncated or garbage source.spm: one line, exit 2, naming the file; never a stack trace", async () => {
  const dir = await modelCopy();
  try {
    const good = await Deno.readFile(`${dir}/source.spm`);
    const damaged: [string, Uint8Array][] = [
      ["truncated", good.slice(0, Math.floor(good.length / 2))],
      ["garbage", Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)],
      ["empty", new Uint8Array(0)],
      ["a JSON file", new TextEncoder().encode('{"not": "a model"}')],
    ];
    for (const [what, bytes] of damaged) {
      await Deno.writeFile(`${dir}/source.spm`, bytes);
      const { code, stdout, stderr } = await runCli(["run", dir, "--text", "hello", "--provider", "cpu"]);
      assertEquals(code, 2, `${what}: ${stderr}`);
      assertEquals(stdout, "");
      assertStringIncludes(stderr, "source.spm", what);
      assertStringIncludes(stderr, "hint:", what);
      oneLineError(stderr);
    }
  } finally {
    await Deno.remove(dir.slice(0, -"/model".length), { recursive: true });
  }
});

Deno.test("marian spm: every prefix of a real .spm is a model or an InputError, never another exception", async () => {
  const good = await Deno.readFile(`${await marianSpmFixture()}/marian-spm/source.spm`);
  let rejected = 0;
  for (let n = 0; n < good.length; n += 7) {
    try {
      parseSentencePieceModel(good.subarray(0, n), "source.spm");
    } catch (e) {
      assert(e instanceof InputError, `prefix ${n}: ${e}`);
      rejected++;
    }
  }
  assert(rejected > 0);
  assertEquals(parseSentencePieceModel(good, "source.spm").pieces.length, 120);
});

Deno.test("marian spm: a BPE sentencepiece model is refused with a clear error naming the kind", async () => {
  const dir = await modelCopy();
  try {
    await Deno.copyFile(`${await marianSpmFixture()}/bpe.spm`, `${dir}/source.spm`);
    const error = await assertRejects(() => loadTokenizer(dir), InputError);
    assertMatch((error as Error).message, /source\.spm is a BPE sentencepiece model; gpux reads unigram ones/);
    const { code, stderr } = await runCli(["run", dir, "--text", "hello", "--provider", "cpu"]);
    assertEquals(code, 2, stderr);
    oneLineError(stderr);
  } finally {
    await Deno.remove(dir.slice(0, -"/model".length), { recursive: true });
  }
});

Deno.test("marian spm: vocab.json missing is exit 3 naming it; one without <unk> or with non-integer ids is exit 2", async () => {
  const dir = await modelCopy();
  try {
    const vocab = await Deno.readTextFile(`${dir}/vocab.json`);
    await Deno.remove(`${dir}/vocab.json`);
    await assertRejects(() => loadTokenizer(dir), NotFoundError, "vocab.json is missing");
    const missing = await runCli(["run", dir, "--text", "hello", "--provider", "cpu"]);
    assertEquals(missing.code, 3, missing.stderr);
    oneLineError(missing.stderr);
    const parsed = JSON.parse(vocab);
    delete parsed["<unk>"];
    await Deno.writeTextFile(`${dir}/vocab.json`, JSON.stringify(parsed));
    await assertRejects(() => loadTokenizer(dir), InputError, "vocab.json has no <unk>");
    await Deno.writeTextFile(`${dir}/vocab.json`, JSON.stringify({ "<unk>": "one" }));
    await assertRejects(() => loadTokenizer(dir), InputError, "is not a whole number");
  } finally {
    await Deno.remove(dir.slice(0, -"/model".length), { recursive: true });
  }
});

/** A protobuf length-delimited field (lengths < 128 only, enough for these hand-made models). */
function field(number: number, bytes: Uint8Array | number[]): number[] {
  assert(bytes.length < 128);
  return [(number << 3) | 2, bytes.length, ...bytes];
}

Deno.test("marian spm: a damaged normalization table (charsmap) is an InputError naming the file, at load", async () => {
  const text = (s: string) => [...new TextEncoder().encode(s)];
  const unk = field(1, [...field(1, text("<unk>")), 0x18, 2]); // piece "<unk>", type UNKNOWN
  const piece = field(1, [...field(1, text("\u2581a")), 0x15, 0, 0, 0x80, 0xbf]); // "▁a", score -1
  const charsmap = (blob: number[]) => field(3, [...field(1, text("nmt_nfkc")), ...field(2, blob)]);
  const dir = await modelCopy();
  try {
    // a trie size larger than the table; one not a multiple of 4
    for (const blob of [[0xff, 0, 0, 0, 1, 2, 3, 4], [6, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]]) {
      await Deno.writeFile(`${dir}/source.spm`, new Uint8Array([...unk, ...piece, ...charsmap(blob)]));
      await assertRejects(() => loadTokenizer(dir), InputError, "source.spm has a damaged normalization table");
    }
    // a table whose trie points outside itself normalizes without reading past it
    await Deno.writeFile(
      `${dir}/source.spm`,
      new Uint8Array([...unk, ...piece, ...charsmap([8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0])]),
    );
    const tokenizer = await loadTokenizer(dir);
    assertEquals(tokenizer.encode("a a").tokens, ["\u2581a", "\u2581a", "</s>"]);
  } finally {
    await Deno.remove(dir.slice(0, -"/model".length), { recursive: true });
  }
});
