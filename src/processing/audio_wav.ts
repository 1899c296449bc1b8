/**
 * WAV files to float samples in [-1, 1], one array per channel.
 *
 * Reads RIFF/WAVE (and RF64 is refused by name): PCM 8-bit (unsigned), 16-, 24- and 32-bit integer,
 * IEEE float 32 and 64, and WAVE_FORMAT_EXTENSIBLE whose sub-format is PCM or float. Integers scale
 * as soundfile/librosa do (divided by 2^(bits-1)). Chunks are walked by their declared sizes, odd sizes
 * padded; a data chunk cut short (a truncated file) is an error, not silence. No dependency: the
 * format is 40 lines, and a library would still need these checks.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** Decoded audio: the sampling rate and one Float32Array per channel. */
export interface AudioClip {
  /** Samples per second. */
  sampleRate: number;
  /** Samples per channel, each in [-1, 1]. */
  channels: Float32Array[];
}

const FORMAT_PCM = 1;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;

/**
 * Lowest sampling rate accepted: no recording is made below 1 kHz (telephony is 8 kHz), and a header that
 * says 1 Hz would make resampling to 16 kHz allocate 16,000 output samples per input sample.
 */
export const MIN_SAMPLE_RATE = 1_000;

/** Highest sampling rate accepted: 384 kHz is the highest rate audio interfaces record at. */
export const MAX_SAMPLE_RATE = 384_000;

/**
 * Longest clip accepted by default, in seconds (`gpux run --max-audio-seconds`, the pipeline option
 * `maxAudioSeconds`): ten minutes. Whisper reads 30 s windows and CTC models (wav2vec2) keep every frame in
 * memory at once, so a longer recording is cut into parts before it is transcribed; ten minutes is as long as one
 * part of such a workflow gets, and it bounds every buffer decoding and resampling allocate.
 */
export const DEFAULT_MAX_AUDIO_SECONDS = 600;

/**
 * `rate` when it lies within {@linkcode MIN_SAMPLE_RATE}–{@linkcode MAX_SAMPLE_RATE}, else an
 * {@linkcode InputError} naming `field`: a model's sampling rate is bounded as a file's is, since resampling to
 * 1 GHz would allocate as much as resampling from 1 Hz.
 */
export function checkSamplingRate(rate: number, field: string): number {
  if (!(rate >= MIN_SAMPLE_RATE && rate <= MAX_SAMPLE_RATE)) {
    throw new InputError(
      `${field} is ${rate} Hz, outside the ${MIN_SAMPLE_RATE / 1000}–${MAX_SAMPLE_RATE / 1000} kHz gpux accepts`,
      {
        hint:
          "fix the sampling rate in the model's preprocessor_config.json or gpux.yml (16000 for most speech models)",
      },
    );
  }
  return rate;
}

/** Options of {@linkcode decodeWav}. */
export interface DecodeWavOptions {
  /** Longest clip accepted, seconds (default {@linkcode DEFAULT_MAX_AUDIO_SECONDS}). */
  maxSeconds?: number;
}

function bad(name: string, what: string, hint = "The file is truncated or not a WAV file; re-export it."): InputError {
  return new InputError(`${name}: ${what}`, { hint });
}

/**
 * Decodes a WAV file.
 *
 * @param name the file's name for messages (its path, or `stdin`).
 * @throws {InputError} not RIFF/WAVE, an unsupported encoding, a missing or truncated chunk, a sampling rate
 * outside 1–384 kHz, a clip longer than `options.maxSeconds` (exit 2): checked from the header, before any
 * sample buffer is allocated.
 * @example
 * ```ts
 * const clip = decodeWav(await Deno.readFile("speech.wav"), "speech.wav");
 * console.log(clip.sampleRate, clip.channels.length, clip.channels[0].length);
 * ```
 */
export function decodeWav(bytes: Uint8Array, name: string, options: DecodeWavOptions = {}): AudioClip {
  const maxSeconds = options.maxSeconds ?? DEFAULT_MAX_AUDIO_SECONDS;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]);
  if (bytes.length < 12 || tag(8) !== "WAVE" || (tag(0) !== "RIFF" && tag(0) !== "RF64")) {
    throw bad(name, "not a WAV file (no RIFF/WAVE header)", "Convert it to WAV first, e.g. `sox in.mp3 out.wav`.");
  }
  if (tag(0) === "RF64") throw bad(name, "RF64 (WAV over 4 GB) is not supported", "Cut the file into shorter WAVs.");
  let fmt: { format: number; channels: number; rate: number; bits: number; align: number } | undefined;
  let data: { offset: number; size: number } | undefined;
  let o = 12;
  while (o + 8 <= bytes.length) {
    const id = tag(o);
    const size = view.getUint32(o + 4, true);
    const body = o + 8;
    if (id === "fmt ") {
      if (size < 16 || body + 16 > bytes.length) throw bad(name, "fmt chunk is too short");
      let format = view.getUint16(body, true);
      const bits = view.getUint16(body + 14, true);
      if (format === FORMAT_EXTENSIBLE) {
        if (size < 40 || body + 26 > bytes.length) throw bad(name, "WAVE_FORMAT_EXTENSIBLE fmt chunk is too short");
        format = view.getUint16(body + 24, true); // first two bytes of the sub-format GUID
      }
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits,
        align: view.getUint16(body + 12, true),
      };
    } else if (id === "data") {
      data = { offset: body, size: Math.min(size, bytes.length - body) };
      if (size > bytes.length - body && size !== 0xffffffff) {
        throw bad(name, `truncated: the data chunk declares ${size} bytes but ${bytes.length - body} follow`);
      }
      break;
    }
    o = body + size + (size & 1);
  }
  if (!fmt) throw bad(name, "no fmt chunk");
  if (!data) throw bad(name, "no data chunk");
  const { format, channels, rate, bits } = fmt;
  if (channels < 1) throw bad(name, "invalid fmt chunk (0 channels)");
  if (rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
    throw bad(
      name,
      `the header declares a sampling rate of ${rate} Hz, outside the ${MIN_SAMPLE_RATE / 1000}–${
        MAX_SAMPLE_RATE / 1000
      } kHz of real recordings`,
      "the file is damaged or not really this rate; re-export it, e.g. `sox in.wav -r 16000 out.wav`",
    );
  }
  const supported = (format === FORMAT_PCM && [8, 16, 24, 32].includes(bits)) ||
    (format === FORMAT_FLOAT && (bits === 32 || bits === 64));
  if (!supported) {
    throw bad(
      name,
      `unsupported WAV encoding (format tag ${format}, ${bits}-bit)`,
      "gpux reads PCM 8/16/24/32-bit and float 32/64 WAV; convert with `sox in.wav -b 16 out.wav`.",
    );
  }
  const bytesPer = bits / 8;
  const frameBytes = bytesPer * channels;
  const frames = Math.floor(data.size / frameBytes);
  if (frames / rate > maxSeconds) {
    throw bad(
      name,
      `${(frames / rate).toFixed(1)} s of audio is longer than the limit of ${maxSeconds} s`,
      "cut it into shorter clips (e.g. `sox in.wav out.wav trim 0 600`), or raise --max-audio-seconds",
    );
  }
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  if (format === FORMAT_PCM && bits === 16 && LITTLE_ENDIAN) {
    // The common case, without a DataView call per sample: copy the samples into an aligned Int16Array.
    const pcm = new Int16Array(bytes.slice(data.offset, data.offset + frames * frameBytes).buffer);
    for (let c = 0; c < channels; c++) {
      const ch = out[c];
      for (let i = 0, j = c; i < frames; i++, j += channels) ch[i] = pcm[j] / 32768;
    }
    return { sampleRate: rate, channels: out };
  }
  let p = data.offset;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++, p += bytesPer) {
      let v: number;
      if (format === FORMAT_FLOAT) v = bits === 32 ? view.getFloat32(p, true) : view.getFloat64(p, true);
      else if (bits === 16) v = view.getInt16(p, true) / 32768;
      else if (bits === 24) {
        const x = bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16);
        v = ((x << 8) >> 8) / 8388608;
      } else if (bits === 32) v = view.getInt32(p, true) / 2147483648;
      else v = (bytes[p] - 128) / 128;
      out[c][i] = v;
    }
  }
  return { sampleRate: rate, channels: out };
}

/** The mean of the channels (a mono mix-down, as librosa's `to_mono`); the channel itself when mono. */
export function mixToMono(clip: AudioClip): Float32Array {
  if (clip.channels.length === 1) return clip.channels[0];
  const n = clip.channels[0].length;
  const out = new Float32Array(n);
  const k = clip.channels.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < k; c++) s += clip.channels[c][i];
    out[i] = s / k;
  }
  return out;
}
