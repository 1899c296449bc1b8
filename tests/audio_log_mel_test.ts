/**
 * Whisper log-mel features against Python transformers' WhisperFeatureExtractor (numpy path), golden
 * data in tests/goldens/whisper_log_mel.json (scripts/audio_golden.ts), and the mixed-radix FFT
 * against a plain DFT. Tolerance 2e-4 per value (the features span about [-1, 2]): transformers keeps
 * the STFT in complex64, so values agree to float32 rounding of the spectrum, not bit for bit.
 */
import assert from "node:assert/strict";
import {
  logMelSpecFromConfig,
  logMelSpectrogram,
  powerSpectrum,
  powerSpectrumPair,
} from "../src/processing/audio_log_mel.ts";
import { goldenClip } from "./support/audio_golden.ts";

const golden = JSON.parse(await Deno.readTextFile(new URL("./goldens/whisper_log_mel.json", import.meta.url))) as {
  cases: Record<string, { shape: number[]; mean: number; min: number; max: number; step: number; samples: number[] }>;
};

Deno.test("the mixed-radix FFT equals a plain DFT (n = 400, 256, 30, 7)", () => {
  for (const n of [400, 256, 30, 7]) {
    const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) + (i % 7) * 0.1);
    const power = powerSpectrum(x);
    for (let k = 0; k <= n >> 1; k++) {
      let re = 0, im = 0;
      for (let j = 0; j < n; j++) {
        re += x[j] * Math.cos(-2 * Math.PI * k * j / n);
        im += x[j] * Math.sin(-2 * Math.PI * k * j / n);
      }
      const exact = re * re + im * im;
      assert.ok(Math.abs(power[k] - exact) <= 1e-5 * Math.max(1, exact), `n=${n} k=${k}: ${power[k]} vs ${exact}`);
    }
  }
});

Deno.test("two frames in one complex FFT give each frame's own power spectrum (n = 400, 256, 30, 7)", () => {
  for (const n of [400, 256, 30, 7]) {
    const a = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) + (i % 7) * 0.1);
    const b = Float64Array.from({ length: n }, (_, i) => Math.cos(i * 0.7) * (i % 5) - 0.3);
    const pa = new Float64Array((n >> 1) + 1), pb = new Float64Array((n >> 1) + 1);
    powerSpectrumPair(a, b, pa, pb);
    const [ea, eb] = [powerSpectrum(a).slice(), powerSpectrum(b).slice()];
    for (let k = 0; k <= n >> 1; k++) {
      // both round the spectrum to complex64, so they agree to float32 rounding, not bit for bit
      assert.ok(Math.abs(pa[k] - ea[k]) <= 1e-6 * Math.max(1, ea[k]), `n=${n} k=${k}: ${pa[k]} vs ${ea[k]}`);
      assert.ok(Math.abs(pb[k] - eb[k]) <= 1e-6 * Math.max(1, eb[k]), `n=${n} k=${k}: ${pb[k]} vs ${eb[k]}`);
    }
  }
});

Deno.test("an odd number of frames: the last frame, alone, is transformed like the others", () => {
  // 30 s of audio has 3,000 frames (even); 4,800 samples at hop 160 with the last dropped has 30, and 4,960 has 31
  const spec = { samplingRate: 16000, nFft: 400, hopLength: 160, featureSize: 80, nSamples: 4960 };
  const clip = Float32Array.from({ length: 4960 }, (_, i) => Math.sin(i * 0.05) * 0.3 + Math.sin(i * 0.31) * 0.1);
  const features = logMelSpectrogram(clip, spec);
  const frames = features.length / 80;
  assert.equal(frames, 31);
  const even = logMelSpectrogram(clip.subarray(0, 4800), { ...spec, nSamples: 4800 });
  for (let m = 0; m < 80; m++) {
    for (let t = 0; t < 28; t++) { // frames away from the end see the same samples in both clips
      assert.ok(Math.abs(features[m * frames + t] - even[m * 30 + t]) <= 1e-5, `band ${m} frame ${t}`);
    }
  }
});

for (const [name, featureSize] of [["whisper80", 80], ["whisper128", 128]] as const) {
  Deno.test(`Whisper log-mel (${featureSize} bands) equals transformers' WhisperFeatureExtractor`, () => {
    const expected = golden.cases[name];
    const spec = logMelSpecFromConfig({ feature_size: featureSize });
    const features = logMelSpectrogram(goldenClip(), spec);
    assert.deepEqual([spec.featureSize, features.length / spec.featureSize], expected.shape);
    let worst = 0;
    expected.samples.forEach((v, i) => worst = Math.max(worst, Math.abs(features[i * expected.step] - v)));
    assert.ok(worst <= 2e-4, `largest difference ${worst}`);
    let sum = 0, min = Infinity, max = -Infinity;
    for (const v of features) (sum += v, min = Math.min(min, v), max = Math.max(max, v));
    assert.ok(
      Math.abs(sum / features.length - expected.mean) < 1e-5,
      `mean ${sum / features.length} vs ${expected.mean}`,
    );
    assert.ok(Math.abs(min - expected.min) < 2e-4 && Math.abs(max - expected.max) < 2e-4, `range ${min}..${max}`);
  });
}
