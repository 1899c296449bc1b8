/**
 * Whisper log-mel features against Python transformers' WhisperFeatureExtractor (numpy path), golden
 * data in tests/goldens/whisper_log_mel.json (scripts/audio_golden.ts), and the mixed-radix FFT
 * against a plain DFT. Tolerance 2e-4 per value (the features span about [-1, 2]): transformers keeps
 * the STFT in complex64, so values agree to float32 rounding of the spectrum, not bit for bit.
 */
import assert from "node:assert/strict";
import { logMelSpecFromConfig, logMelSpectrogram, powerSpectrum } from "../src/processing/audio_log_mel.ts";
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
