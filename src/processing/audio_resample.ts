/**
 * Band-limited resampling of audio to the rate a model expects, and the feature normalisation
 * Wav2Vec2-style feature extractors apply.
 *
 * The resampler is torchaudio's `functional.resample` (`sinc_interp_hann`, `lowpass_filter_width=6`,
 * `rolloff=0.99`), the one Python transformers' audio pipelines call: the two rates are reduced by their
 * gcd to `orig`/`new`, and each of the `new` output phases has its own Hann-windowed sinc kernel with the
 * cut-off at 0.99 × the lower Nyquist frequency (that is the anti-aliasing). Only the kernel's non-zero
 * taps are summed, so 10 s of 44.1 kHz audio becomes 16 kHz in a few milliseconds of plain JS.
 * Measured against @alexanderolsen/libsamplerate-js (in FACTS.md) in `deno task bench:processing`.
 *
 * @module
 */

/** Kernels cached at once (see {@linkcode resample}); exported for the test that holds the cache to it. */
export function cachedKernelCount(): number {
  return kernelCache.size;
}

interface Kernels {
  orig: number;
  next: number;
  width: number;
  /** Per phase: first non-zero tap offset and the taps. */
  phases: { first: number; taps: Float64Array }[];
}

/**
 * Kernels kept for reuse, most recently used last. Bounded: an odd rate pair (gcd 1) has up to 16,000 phases, a few
 * MB of taps, and a server fed WAVs at many different rates must not keep them all.
 */
const kernelCache = new Map<string, Kernels>();
const KERNEL_CACHE_SIZE = 8;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function kernels(from: number, to: number, lowpassWidth = 6, rolloff = 0.99): Kernels {
  const key = `${from}:${to}`;
  const cached = kernelCache.get(key);
  if (cached) {
    kernelCache.delete(key); // now the most recent
    kernelCache.set(key, cached);
    return cached;
  }
  const g = gcd(from, to);
  const orig = from / g;
  const next = to / g;
  const baseFreq = Math.min(orig, next) * rolloff;
  const width = Math.ceil(lowpassWidth * orig / baseFreq);
  const scale = baseFreq / orig;
  const phases: Kernels["phases"] = [];
  // Only taps with |t| < lowpassWidth are non-zero (outside, torchaudio clamps t where the window is
  // cos(π/2)² ≈ 4e-33): with t = (idx/orig - i/next)·baseFreq that is a window of about
  // 2·lowpassWidth·orig/baseFreq indices, computed directly — so an odd rate (gcd 1, tens of thousands of
  // phases) costs memory and time in proportion to the taps, not to phases × orig.
  const reach = lowpassWidth / baseFreq;
  for (let i = 0; i < next; i++) {
    const lo = Math.max(-width, Math.floor(orig * (i / next - reach)));
    const hi = Math.min(width + orig - 1, Math.ceil(orig * (i / next + reach)));
    const values: number[] = [];
    let first = -1;
    for (let idx = lo; idx <= hi; idx++) {
      const t = (-i / next + idx / orig) * baseFreq;
      if (Math.abs(t) >= lowpassWidth) continue;
      const window = Math.cos(t * Math.PI / lowpassWidth / 2) ** 2;
      const x = t * Math.PI;
      if (first < 0) first = idx + width;
      while (values.length < idx + width - first) values.push(0);
      values.push((x === 0 ? 1 : Math.sin(x) / x) * window * scale);
    }
    phases.push({ first: Math.max(first, 0), taps: Float64Array.from(values) });
  }
  const result = { orig, next, width, phases };
  kernelCache.set(key, result);
  if (kernelCache.size > KERNEL_CACHE_SIZE) kernelCache.delete(kernelCache.keys().next().value!);
  return result;
}

/**
 * Resamples `samples` from `from` Hz to `to` Hz as torchaudio's `resample` does (output length
 * `ceil(length × to / from)`).
 *
 * @example
 * ```ts
 * const at16k = resample(new Float32Array(44_100), 44_100, 16_000); // 16,000 samples
 * ```
 */
export function resample(samples: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return samples;
  const { orig, next, width, phases } = kernels(from, to);
  const length = samples.length;
  const outLength = Math.ceil(next * length / orig);
  const out = new Float32Array(outLength);
  for (let j = 0; j * next < outLength; j++) {
    const base = j * orig - width; // input index of tap 0 for this frame
    for (let i = 0; i < next; i++) {
      const n = j * next + i;
      if (n >= outLength) break;
      const { first, taps } = phases[i];
      let start = base + first;
      let acc = 0;
      let k = 0;
      if (start < 0) { // zero padding on the left
        k = -start;
        start = 0;
      }
      const end = Math.min(taps.length, length - (base + first));
      for (let s = start; k < end; k++, s++) acc += taps[k] * samples[s];
      out[n] = acc;
    }
  }
  return out;
}

/**
 * Zero mean, unit variance, as Wav2Vec2FeatureExtractor's `do_normalize`: `(x - mean) / sqrt(var + 1e-7)`
 * (population variance).
 */
export function normalizeZeroMeanUnitVariance(samples: Float32Array): Float32Array {
  let mean = 0;
  for (let i = 0; i < samples.length; i++) mean += samples[i];
  mean /= samples.length || 1;
  let variance = 0;
  for (let i = 0; i < samples.length; i++) variance += (samples[i] - mean) ** 2;
  variance /= samples.length || 1;
  const scale = 1 / Math.sqrt(variance + 1e-7);
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = (samples[i] - mean) * scale;
  return out;
}
