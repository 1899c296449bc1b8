/**
 * What OpenAI's `verbose_json` reports for a window (`avg_logprob`, `no_speech_prob`, `compression_ratio`), computed
 * as openai-whisper does, against the same figures from transformers' PyTorch Whisper on the same weights
 * (tests/support/whisper_fixtures.ts: the chosen tokens' log-softmax under the processed scores, the
 * `<|nocaptions|>` probability at `<|startoftranscript|>`, and the text over its zlib-compressed length).
 */
import { assert, assertEquals } from "./support/assert.ts";
import { loadWhisper } from "../src/generation/whisper_transcription.ts";
import { readWhisperGoldens, whisperFixture } from "./support/whisper_fixtures.ts";

Deno.test("whisper stats: avg_logprob, no_speech_prob and compression_ratio are PyTorch's, the ids unchanged", async () => {
  const dir = await whisperFixture();
  const goldens = await readWhisperGoldens();
  const whisper = await loadWhisper(dir, { provider: "cpu" });
  try {
    const speech = await Deno.readFile(`${dir}/audio/speech.wav`);
    const cases = goldens.cases.filter((c) => c.stats !== null);
    assert(cases.length >= 3, "plain, translate and language-detection cases");
    for (const c of cases) {
      const options = {
        ...(c.language !== null ? { language: c.language } : {}),
        task: c.task as "transcribe" | "translate",
        maxNewTokens: goldens.max_new_tokens,
      };
      const plain = await whisper.transcribeWav(speech, "speech.wav", options);
      const r = await whisper.transcribeWav(speech, "speech.wav", { ...options, stats: true });
      assertEquals(r.windows[0].generatedIds, c.new_ids, `${c.id}: the stats do not change the ids`);
      assertEquals(r.text, plain.text);
      assertEquals(plain.windows[0].stats, undefined, "not asked, not computed");
      const got = r.windows[0].stats!;
      const want = c.stats!;
      // float32 onnxruntime against float32 PyTorch: log-probabilities agree to ~1e-5 a token
      assert(Math.abs(got.avgLogprob - want.avg_logprob) < 1e-3, `${c.id}: ${got.avgLogprob} vs ${want.avg_logprob}`);
      assert(
        Math.abs(got.noSpeechProb - want.no_speech_prob) < 1e-4 + 1e-3 * want.no_speech_prob,
        `${c.id}: ${got.noSpeechProb} vs ${want.no_speech_prob}`,
      );
      // pako's deflate is zlib's: the same compressed length as Python's zlib.compress
      assert(
        Math.abs(got.compressionRatio - want.compression_ratio) < 1e-12,
        `${c.id}: ${got.compressionRatio} vs ${want.compression_ratio}`,
      );
    }
  } finally {
    await whisper.dispose();
  }
});
