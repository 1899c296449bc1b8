/**
 * Whisper's language names (src/vocabulary/whisper_languages.ts) against transformers' WhisperTokenizer tables
 * (`LANGUAGES`, `TO_LANGUAGE_CODE`), and `--language` / OpenAI's `language` given by name.
 */
import assert from "node:assert/strict";
import { InputError } from "../src/errors.ts";
import { readWhisperTokens, whisperLanguage } from "../src/generation/whisper_tokens.ts";
import {
  WHISPER_LANGUAGE_NAMES,
  whisperLanguageCode,
  whisperLanguageName,
} from "../src/vocabulary/whisper_languages.ts";
import { generationPython } from "./support/generation_fixtures.ts";
import { whisperFixture } from "./support/whisper_fixtures.ts";

Deno.test("whisper languages: the names and aliases are transformers' WhisperTokenizer tables", async () => {
  const script =
    "import json\nfrom transformers.models.whisper.tokenization_whisper import LANGUAGES, TO_LANGUAGE_CODE\n" +
    "print(json.dumps({'languages': LANGUAGES, 'to_code': TO_LANGUAGE_CODE}))";
  const out = await new Deno.Command(await generationPython(), { args: ["-c", script], stdout: "piped" }).output();
  assert.ok(out.success);
  const python = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    languages: Record<string, string>;
    to_code: Record<string, string>;
  };
  assert.deepEqual(Object.entries(WHISPER_LANGUAGE_NAMES), Object.entries(python.languages), "same codes, same order");
  for (const [name, code] of Object.entries(python.to_code)) {
    assert.equal(whisperLanguageCode(name), code, name);
    assert.equal(whisperLanguageCode(name.toUpperCase()), code, name);
  }
  assert.equal(whisperLanguageCode("klingon"), undefined);
  assert.equal(whisperLanguageName("en"), "english");
  assert.equal(whisperLanguageName("xx"), "xx", "a code the table lacks is answered as it is");
});

Deno.test("whisper languages: --language takes a name as openai-whisper does, and only languages the model has", async () => {
  const dir = await whisperFixture();
  const tokens = readWhisperTokens(JSON.parse(await Deno.readTextFile(`${dir}/generation_config.json`)));
  assert.equal(whisperLanguage(tokens, "English"), "en");
  assert.equal(whisperLanguage(tokens, " german "), "de");
  assert.equal(whisperLanguage(tokens, "Mandarin"), "zh");
  assert.equal(whisperLanguage(tokens, "castilian"), "es");
  assert.equal(whisperLanguage(tokens, "EN"), "en");
  // the fixture is a 99-language checkpoint (before large-v3): Cantonese has a name but no token
  assert.equal(tokens.languages.has("yue"), false);
  assert.throws(() => whisperLanguage(tokens, "cantonese"), InputError);
  assert.throws(() => whisperLanguage(tokens, "klingon"), InputError);
});
