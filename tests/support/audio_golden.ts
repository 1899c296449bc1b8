/**
 * The input behind tests/goldens/whisper_log_mel.json (written by scripts/audio_golden.ts with Python
 * transformers): 3 s at 16 kHz of a rising chirp, a tone burst and faint noise, deterministic.
 *
 * @module
 */

/** The golden clip. */
export function goldenClip(): Float32Array {
  const rate = 16000;
  const out = new Float32Array(3 * rate);
  let seed = 9;
  for (let i = 0; i < out.length; i++) {
    const t = i / rate;
    const chirp = 0.3 * Math.sin(2 * Math.PI * (200 * t + 600 * t * t)); // 200 Hz → 3.8 kHz
    const burst = t > 1.5 && t < 2 ? 0.2 * Math.sin(2 * Math.PI * 1000 * t) : 0;
    const noise = ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.01;
    out[i] = chirp + burst + noise;
  }
  return out;
}
