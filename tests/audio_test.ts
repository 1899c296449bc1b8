/**
 * Audio pre-processing: WAV decoding in every encoding, mono mix-down, resampling (frequency kept,
 * aliasing removed, lengths as torchaudio's), Wav2Vec2 normalization, and bad WAVs as InputErrors —
 * then a real speech clip (espeak-ng) through gpux's WAV reader and resampler into the real Silero VAD
 * v5 model (npm package @ricky0123/vad-web): speech probability high while it speaks, low in silence.
 */
import assert from "node:assert/strict";
import { InputError } from "../src/errors.ts";
import { decodeWav, mixToMono } from "../src/processing/audio_wav.ts";
import { normalizeZeroMeanUnitVariance, resample } from "../src/processing/audio_resample.ts";
import { loadModel } from "../src/runtime/load_model.ts";
import { encodeWav, espeakWav, sine } from "./support/audio_fixtures.ts";
import { npmModel } from "./support/npm_models.ts";

Deno.test("WAV in every encoding decodes to the samples written, within one quantisation step", () => {
  const ramp = Float32Array.from({ length: 101 }, (_, i) => (i - 50) / 51);
  const step = { pcm8: 1 / 127, pcm16: 1 / 32767, pcm24: 1 / 8388607, pcm32: 1e-7, float32: 1e-7, float64: 1e-9 };
  for (const encoding of ["pcm8", "pcm16", "pcm24", "pcm32", "float32", "float64"] as const) {
    for (const extensible of [false, true]) {
      const wav = encodeWav([ramp], 8000, {
        encoding,
        extensible,
        extraChunks: [{ id: "LIST", body: new Uint8Array(5) }], // odd size: padded
      });
      const clip = decodeWav(wav, "ramp.wav");
      assert.equal(clip.sampleRate, 8000);
      assert.equal(clip.channels.length, 1);
      assert.equal(clip.channels[0].length, 101);
      let worst = 0;
      ramp.forEach((x, i) => worst = Math.max(worst, Math.abs(clip.channels[0][i] - x)));
      assert.ok(worst <= step[encoding], `${encoding}${extensible ? " extensible" : ""}: off by ${worst}`);
    }
  }
});

Deno.test("stereo mixes down to the mean of the channels", () => {
  const left = Float32Array.of(0.5, -0.5, 1);
  const right = Float32Array.of(0.25, 0.5, -1);
  const clip = decodeWav(encodeWav([left, right], 16000, { encoding: "float32" }), "stereo.wav");
  assert.deepEqual(Array.from(mixToMono(clip)), [0.375, 0, 0]);
});

function rejects(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(() => decodeWav(bytes, "bad.wav"), (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.equal(e.exitCode, 2);
    assert.ok(e.message.startsWith("bad.wav: "), e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("bad WAVs are InputErrors naming the file: not RIFF, truncated data, unsupported encoding, missing chunks", () => {
  rejects(new TextEncoder().encode("ID3\u0004 this is an mp3"), /not a WAV file/);
  rejects(new Uint8Array(), /not a WAV file/);
  const wav = encodeWav([sine(440, 8000, 0.1)], 8000);
  rejects(wav.subarray(0, wav.length - 100), /truncated: the data chunk declares 1600 bytes but 1500 follow/);
  const adpcm = wav.slice();
  new DataView(adpcm.buffer).setUint16(20, 2, true); // MS ADPCM
  rejects(adpcm, /unsupported WAV encoding \(format tag 2, 16-bit\)/);
  rejects(wav.subarray(0, 36), /no data chunk/);
  const noFmt = wav.slice();
  noFmt.set(new TextEncoder().encode("junk"), 12);
  rejects(noFmt, /no fmt chunk/);
});

/** Frequency of a sine from its rising zero crossings (linear interpolation between samples). */
function frequency(x: Float32Array, rate: number): number {
  const crossings: number[] = [];
  for (let i = 1; i < x.length; i++) {
    if (x[i - 1] < 0 && x[i] >= 0) crossings.push(i - 1 + -x[i - 1] / (x[i] - x[i - 1]));
  }
  return (crossings.length - 1) / ((crossings[crossings.length - 1] - crossings[0]) / rate);
}

function rms(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return Math.sqrt(s / (to - from));
}

Deno.test("resampling keeps a sine's frequency and amplitude (44.1 kHz → 16 kHz, 8 kHz → 16 kHz, 48 → 22.05 kHz)", () => {
  for (const [from, to, hz] of [[44100, 16000, 1000], [8000, 16000, 440], [48000, 22050, 3000]]) {
    const out = resample(sine(hz, from, 1), from, to);
    assert.equal(out.length, Math.ceil(to * from / from), `${from}→${to}: torchaudio's length ceil(n·to/from)`);
    const middle = out.subarray(200, out.length - 200); // away from the zero-padded edges
    const f = frequency(middle, to);
    assert.ok(Math.abs(f - hz) < hz * 1e-3, `${from}→${to}: ${f} Hz, expected ${hz}`);
    assert.ok(Math.abs(rms(middle) - 0.5 / Math.SQRT2) < 0.005, `${from}→${to}: amplitude kept (rms ${rms(middle)})`);
  }
  assert.equal(resample(new Float32Array(1001), 44100, 16000).length, 364, "ceil(1001 · 160 / 441)");
});

Deno.test("resampling removes what the new rate cannot hold (a 10 kHz tone at 16 kHz is filtered, not aliased to 6 kHz)", () => {
  const out = resample(sine(10_000, 44100, 1), 44100, 16000);
  const level = rms(out, 200, out.length - 200);
  assert.ok(level < 0.005, `rms ${level} (the tone's was 0.354): aliasing would leave a 6 kHz tone`);
});

Deno.test("Wav2Vec2 normalization gives zero mean and unit variance", () => {
  const x = normalizeZeroMeanUnitVariance(Float32Array.from(sine(300, 16000, 0.5), (v) => 0.1 + v));
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  assert.ok(Math.abs(mean) < 1e-6);
  assert.ok(Math.abs(rms(x) - 1) < 1e-4);
});

const vad = await npmModel("sileroVadV5");
if ("skip" in vad) console.warn(`skipping the Silero VAD speech test: ${vad.skip}`);

Deno.test({
  name: "real speech (espeak-ng) through gpux's WAV reader and resampler: Silero VAD hears speech, not silence",
  ignore: "skip" in vad,
  fn: async () => {
    const model = vad as { path: string };
    const speech = decodeWav(await espeakWav("The quick brown fox jumps over the lazy dog."), "speech.wav");
    const rate = 16000;
    const voice = resample(mixToMono(speech), speech.sampleRate, rate);
    // 1 s of near-silence (faint noise), the sentence, 1 s of near-silence.
    const pad = rate;
    const clip = new Float32Array(pad + voice.length + pad);
    let seed = 3;
    for (let i = 0; i < clip.length; i++) {
      clip[i] = ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 1e-3;
    }
    clip.set(voice.map((v, i) => v + clip[pad + i]), pad);

    const session = await loadModel(model.path, { provider: "cpu" });
    try {
      // Silero v5 at 16 kHz: 512-sample windows, each with the previous window's last 64 samples in front.
      const window = 512, context = 64;
      let state: Float32Array = new Float32Array(2 * 128);
      const probs: number[] = [];
      for (let start = 0; start + window <= clip.length; start += window) {
        const input = new Float32Array(context + window);
        if (start >= context) input.set(clip.subarray(start - context, start + window));
        else input.set(clip.subarray(0, start + window), context - start);
        const out = await session.run({
          input: { dtype: "float32", shape: [1, context + window], data: input },
          state: { dtype: "float32", shape: [2, 1, 128], data: state },
          sr: { dtype: "int64", shape: [], data: BigInt64Array.of(BigInt(rate)) },
        });
        probs.push((out.output.data as Float32Array)[0]);
        state = out.stateN.data as Float32Array;
      }
      const at = (seconds: number) => Math.floor(seconds * rate / window);
      const silenceBefore = probs.slice(0, at(0.9));
      const silenceAfter = probs.slice(at((pad + voice.length) / rate + 0.3));
      const during = probs.slice(at(1.2), at((pad + voice.length) / rate - 0.2));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      assert.ok(Math.max(...silenceBefore) < 0.2, `silence before: max ${Math.max(...silenceBefore)}`);
      assert.ok(Math.max(...silenceAfter) < 0.2, `silence after: max ${Math.max(...silenceAfter)}`);
      assert.ok(mean(during) > 0.7, `during speech: mean ${mean(during)}`);
      const speaking = during.filter((p) => p > 0.5).length / during.length;
      assert.ok(speaking > 0.75, `during speech: ${(speaking * 100).toFixed(0)}% of windows above 0.5`);
    } finally {
      await session.dispose();
    }
  },
});

Deno.test("an odd sampling rate (44,099 Hz: gcd 1 with 16 kHz, 16,000 phases) resamples quickly and correctly", () => {
  const out = resample(sine(1000, 44099, 1), 44099, 16000);
  assert.equal(out.length, 16000);
  const f = frequency(out.subarray(200, out.length - 200), 16000);
  assert.ok(Math.abs(f - 1000) < 1, `${f} Hz`);
});

Deno.test("a WAV declaring an absurd sampling rate is an InputError", () => {
  const wav = encodeWav([sine(440, 8000, 0.01)], 8000);
  new DataView(wav.buffer).setUint32(24, 4_000_000_000, true);
  rejects(wav, /the header declares a sampling rate of 4000000000 Hz, outside the 1–384 kHz/);
});
