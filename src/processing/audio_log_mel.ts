/**
 * Whisper-style log-mel spectrograms, as transformers' WhisperFeatureExtractor computes them (its numpy
 * path): the clip padded with zeros (or cut) to `n_samples` (30 s), a short-time Fourier transform with
 * a periodic Hann window of `n_fft` samples every `hop_length` samples (centred: the signal is
 * reflect-padded by `n_fft / 2` on each side), power spectrum, a Slaney-normalised mel filter bank on the
 * Slaney mel scale (0 Hz to half the sampling rate), `log10` of at least 1e-10, the last frame dropped,
 * clamped to 8 below the maximum, then `(x + 4) / 4`.
 *
 * The FFT is a mixed-radix one (Whisper's 400 = 2⁴·5²), two real frames per complex transform, so 30 s take tens of
 * milliseconds. Values
 * match Python to float32 rounding of the spectrum (transformers keeps the STFT in complex64).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { checkSamplingRate, DEFAULT_MAX_AUDIO_SECONDS } from "./audio_wav.ts";

/** Parameters of the spectrogram (WhisperFeatureExtractor's names, camelCased). */
export interface LogMelSpec {
  /** Hz (16,000). */
  samplingRate: number;
  /** Window and FFT length (400). */
  nFft: number;
  /** Samples between frames (160). */
  hopLength: number;
  /** Mel bands (80, or 128 for large-v3). */
  featureSize: number;
  /** Clip length after padding/truncation, in samples (480,000). */
  nSamples: number;
}

// ---- FFT ----------------------------------------------------------------------------------------

/** One level of the mixed-radix recursion: radix p, sub-length m = n / p, and its precomputed tables. */
interface Level {
  n: number;
  p: number;
  m: number;
  /** Twiddles W_n^{q·k}, index q·m + k. */
  twRe: Float64Array;
  twIm: Float64Array;
  /** The p-point DFT matrix W_p^{q·s}, index q·p + s. */
  dftRe: Float64Array;
  dftIm: Float64Array;
}

const plans = new Map<number, Level[]>();

function smallestFactor(n: number): number {
  for (const f of [4, 2, 3, 5]) if (n % f === 0) return f;
  for (let f = 7; f * f <= n; f += 2) if (n % f === 0) return f;
  return n;
}

function plan(n: number): Level[] {
  let levels = plans.get(n);
  if (levels) return levels;
  levels = [];
  for (let size = n; size > 1;) {
    const p = smallestFactor(size);
    const m = size / p;
    const twRe = new Float64Array(size), twIm = new Float64Array(size);
    for (let q = 0; q < p; q++) {
      for (let k = 0; k < m; k++) {
        twRe[q * m + k] = Math.cos(-2 * Math.PI * q * k / size);
        twIm[q * m + k] = Math.sin(-2 * Math.PI * q * k / size);
      }
    }
    const dftRe = new Float64Array(p * p), dftIm = new Float64Array(p * p);
    for (let q = 0; q < p; q++) {
      for (let t = 0; t < p; t++) {
        dftRe[q * p + t] = Math.cos(-2 * Math.PI * ((q * t) % p) / p);
        dftIm[q * p + t] = Math.sin(-2 * Math.PI * ((q * t) % p) / p);
      }
    }
    levels.push({ n: size, p, m, twRe, twIm, dftRe, dftIm });
    size = m;
  }
  plans.set(n, levels);
  return levels;
}

const buffers = new Map<number, { im: Float64Array; outRe: Float64Array; outIm: Float64Array }>();
const scratchRe = new Float64Array(64), scratchIm = new Float64Array(64);

/** The FFT's reused buffers for length `n`. */
function scratch(n: number): { im: Float64Array; outRe: Float64Array; outIm: Float64Array } {
  let b = buffers.get(n);
  if (!b) buffers.set(n, b = { im: new Float64Array(n), outRe: new Float64Array(n), outIm: new Float64Array(n) });
  return b;
}

/**
 * Recursive mixed-radix decimation-in-time FFT: the `levels[depth].n` points of (re, im) at `offset`
 * with `stride`, written contiguously to (outRe, outIm) from `out`.
 */
function fftRec(
  re: Float64Array,
  im: Float64Array,
  offset: number,
  stride: number,
  levels: Level[],
  depth: number,
  outRe: Float64Array,
  outIm: Float64Array,
  out: number,
): void {
  if (depth === levels.length) { // n = 1
    outRe[out] = re[offset];
    outIm[out] = im[offset];
    return;
  }
  const { p, m, twRe, twIm, dftRe, dftIm } = levels[depth];
  if (m === 1) {
    // the last level: its p inputs are 1-point transforms and its twiddles W_n^0 = 1, so the p-point DFT reads the
    // input directly (the same sums, without p calls a level below; measured a third off the log-mel's time)
    for (let t = 0; t < p; t++) {
      let sr = 0, si = 0;
      for (let q = 0; q < p; q++) {
        const xr = re[offset + q * stride], xi = im[offset + q * stride];
        const wr = dftRe[q * p + t], wi = dftIm[q * p + t];
        sr += xr * wr - xi * wi;
        si += xr * wi + xi * wr;
      }
      outRe[out + t] = sr;
      outIm[out + t] = si;
    }
    return;
  }
  for (let q = 0; q < p; q++) {
    fftRec(re, im, offset + q * stride, stride * p, levels, depth + 1, outRe, outIm, out + q * m);
  }
  // X[k + m·t] = Σ_q W_p^{q·t} · (W_n^{q·k} · Y_q[k])
  const tr = p <= 64 ? scratchRe : new Float64Array(p), ti = p <= 64 ? scratchIm : new Float64Array(p);
  for (let k = 0; k < m; k++) {
    for (let q = 0; q < p; q++) {
      const yr = outRe[out + q * m + k], yi = outIm[out + q * m + k];
      const wr = twRe[q * m + k], wi = twIm[q * m + k];
      tr[q] = yr * wr - yi * wi;
      ti[q] = yr * wi + yi * wr;
    }
    for (let t = 0; t < p; t++) {
      let sr = 0, si = 0;
      for (let q = 0; q < p; q++) {
        const wr = dftRe[q * p + t], wi = dftIm[q * p + t];
        sr += tr[q] * wr - ti[q] * wi;
        si += tr[q] * wi + ti[q] * wr;
      }
      outRe[out + k + t * m] = sr;
      outIm[out + k + t * m] = si;
    }
  }
}

/** Power spectrum `|FFT(x)|²` of real `x` (length n), bins 0..n/2, into `power` when given. */
export function powerSpectrum(x: Float64Array, power = new Float64Array((x.length >> 1) + 1)): Float64Array {
  const n = x.length;
  const levels = plan(n);
  const { im, outRe, outIm } = scratch(n); // im stays all zero: the input is real
  fftRec(x, im, 0, 1, levels, 0, outRe, outIm, 0);
  for (let k = 0; k < power.length; k++) {
    // transformers stores the STFT as complex64 before taking |·|²
    const r = Math.fround(outRe[k]), i = Math.fround(outIm[k]);
    power[k] = r * r + i * i;
  }
  return power;
}

/**
 * Power spectra of two real frames `x1` and `x2` (length n) from one complex FFT: with z = x1 + i·x2,
 * X1[k] = (Z[k] + conj Z[n−k]) / 2 and X2[k] = (Z[k] − conj Z[n−k]) / 2i. Half the FFTs of
 * {@linkcode powerSpectrum} for the same bins (to float64 rounding; both are rounded to complex64 as transformers does).
 */
export function powerSpectrumPair(
  x1: Float64Array,
  x2: Float64Array,
  power1: Float64Array,
  power2: Float64Array,
): void {
  const n = x1.length;
  const levels = plan(n);
  const { outRe, outIm } = scratch(n);
  fftRec(x1, x2, 0, 1, levels, 0, outRe, outIm, 0);
  for (let k = 0; k < power1.length; k++) {
    const j = k === 0 ? 0 : n - k;
    const zr = outRe[k], zi = outIm[k], cr = outRe[j], ci = outIm[j];
    const r1 = Math.fround((zr + cr) / 2), i1 = Math.fround((zi - ci) / 2);
    const r2 = Math.fround((zi + ci) / 2), i2 = Math.fround((cr - zr) / 2);
    power1[k] = r1 * r1 + i1 * i1;
    power2[k] = r2 * r2 + i2 * i2;
  }
}

// ---- mel filters --------------------------------------------------------------------------------

const MIN_LOG_HZ = 1000, MIN_LOG_MEL = 15, LOGSTEP = 27 / Math.log(6.4);
const hzToMel = (hz: number) => (hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) * LOGSTEP : 3 * hz / 200);
const melToHz = (
  mel: number,
) => (mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp((mel - MIN_LOG_MEL) / LOGSTEP) : 200 * mel / 3);

/** Slaney mel filter bank `[bands][bins]` from 0 Hz to rate/2, as transformers' `mel_filter_bank(norm="slaney")`. */
export function melFilterBank(bins: number, bands: number, samplingRate: number): Float64Array[] {
  const melMax = hzToMel(Math.floor(samplingRate / 2));
  const filterHz = Array.from({ length: bands + 2 }, (_, i) => melToHz(melMax * i / (bands + 1)));
  const fftHz = Array.from({ length: bins }, (_, i) => (Math.floor(samplingRate / 2) * i) / (bins - 1));
  const filters: Float64Array[] = [];
  for (let m = 0; m < bands; m++) {
    const f = new Float64Array(bins);
    const down = filterHz[m + 1] - filterHz[m], up = filterHz[m + 2] - filterHz[m + 1];
    const enorm = 2 / (filterHz[m + 2] - filterHz[m]);
    for (let k = 0; k < bins; k++) {
      const lower = -(filterHz[m] - fftHz[k]) / down;
      const upper = (filterHz[m + 2] - fftHz[k]) / up;
      f[k] = Math.max(0, Math.min(lower, upper)) * enorm;
    }
    filters.push(f);
  }
  return filters;
}

// ---- the spectrogram ----------------------------------------------------------------------------

/**
 * The log-mel features of one clip (already at `spec.samplingRate`): `featureSize × frames` float32,
 * row-major by band, `frames = nSamples / hopLength`.
 *
 * @example
 * ```ts
 * const spec = { samplingRate: 16000, nFft: 400, hopLength: 160, featureSize: 80, nSamples: 480000 };
 * const features = logMelSpectrogram(new Float32Array(16000), spec); // 80 × 3000 values
 * ```
 */
export function logMelSpectrogram(samples: Float32Array, spec: LogMelSpec): Float32Array {
  const { nFft, hopLength, featureSize, nSamples } = spec;
  const clip = new Float64Array(nSamples);
  clip.set(samples.subarray(0, nSamples));
  // Centre: reflect-pad by nFft/2 on both sides (numpy's "reflect": the edge sample is not repeated).
  const half = nFft >> 1;
  const padded = new Float64Array(nSamples + 2 * half);
  padded.set(clip, half);
  for (let i = 1; i <= half; i++) {
    padded[half - i] = clip[Math.min(i, nSamples - 1)];
    padded[half + nSamples - 1 + i] = clip[Math.max(0, nSamples - 1 - i)];
  }
  const window = new Float64Array(nFft);
  for (let i = 0; i < nFft; i++) window[i] = 0.5 - 0.5 * Math.cos(2 * Math.PI * i / nFft); // periodic Hann
  const frames = Math.floor((padded.length - nFft) / hopLength) + 1 - 1; // the last frame is dropped
  const bins = (nFft >> 1) + 1;
  const filters = melFilterBank(bins, featureSize, spec.samplingRate);
  const ranges = filters.map((f) => {
    let a = 0, b = f.length;
    while (a < b && f[a] === 0) a++;
    while (b > a && f[b - 1] === 0) b--;
    return [a, b];
  });
  const out = new Float32Array(featureSize * frames);
  const frame = new Float64Array(nFft), next = new Float64Array(nFft);
  const power = new Float64Array(bins), nextPower = new Float64Array(bins);
  let max = -Infinity;
  /** Windows frame `t` into `into`; false when it is all zero (the padding after a short clip). */
  const windowed = (t: number, into: Float64Array): boolean => {
    const start = t * hopLength;
    let sound = false;
    for (let i = 0; i < nFft; i++) {
      into[i] = padded[start + i] * window[i];
      if (into[i] !== 0) sound = true;
    }
    return sound;
  };
  const melBands = (t: number, p: Float64Array) => {
    for (let m = 0; m < featureSize; m++) {
      const f = filters[m];
      const [a, b] = ranges[m];
      let s = 0;
      for (let k = a; k < b; k++) s += f[k] * p[k];
      const v = Math.log10(Math.max(s, 1e-10));
      out[m * frames + t] = v;
      if (v > max) max = v;
    }
  };
  // frames two at a time: one complex FFT carries both (powerSpectrumPair), half the FFTs of one per frame
  for (let t = 0; t < frames; t += 2) {
    const sound = windowed(t, frame);
    if (t + 1 < frames) {
      const nextSound = windowed(t + 1, next);
      if (sound || nextSound) powerSpectrumPair(frame, next, power, nextPower);
      else { // the zero padding after a short clip: no FFT needed
        power.fill(0);
        nextPower.fill(0);
      }
      melBands(t, power);
      melBands(t + 1, nextPower);
    } else {
      if (sound) powerSpectrum(frame, power);
      else power.fill(0);
      melBands(t, power);
    }
  }
  const floor = Math.fround(max) - 8;
  for (let i = 0; i < out.length; i++) out[i] = (Math.max(out[i], floor) + 4) / 4;
  return out;
}

/** The WhisperFeatureExtractor settings in a preprocessor_config.json (its defaults where keys are absent). */
export function logMelSpecFromConfig(config: Record<string, unknown>): LogMelSpec {
  const int = (key: string, fallback: number) => {
    const v = config[key];
    return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : fallback;
  };
  const samplingRate = checkSamplingRate(int("sampling_rate", 16000), "preprocessor_config.json: sampling_rate");
  const chunk = int("chunk_length", 30);
  const spec = {
    samplingRate,
    nFft: int("n_fft", 400),
    hopLength: int("hop_length", 160),
    featureSize: int("feature_size", 80),
    nSamples: int("n_samples", chunk * samplingRate),
  };
  // each bound keeps the spectrogram's buffers to what a real feature extractor asks (Whisper: 400, 160, 80-128,
  // 30 s), so a damaged config is an input error, not gigabytes allocated
  const limits: [keyof LogMelSpec, string, number][] = [
    ["nFft", "n_fft", 65_536],
    ["hopLength", "hop_length", spec.nFft],
    ["featureSize", "feature_size", 1024],
    ["nSamples", "n_samples (chunk_length × sampling_rate)", DEFAULT_MAX_AUDIO_SECONDS * samplingRate],
  ];
  for (const [key, field, max] of limits) {
    if (spec[key] > max) {
      throw new InputError(`preprocessor_config.json: ${field} is ${spec[key]}, more than the ${max} gpux accepts`, {
        hint: "fix it in preprocessor_config.json (Whisper's are n_fft 400, hop_length 160, feature_size 80 or 128, " +
          "chunk_length 30)",
      });
    }
  }
  return spec;
}
