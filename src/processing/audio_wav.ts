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

/** Highest sampling rate accepted (768 kHz is the highest in use). */
export const MAX_SAMPLE_RATE = 1_000_000;

/** Longest clip accepted, in samples per channel (one hour at 48 kHz): a guard against absurd headers. */
export const MAX_WAV_SAMPLES = 3600 * 48_000;

function bad(name: string, what: string, hint = "The file is truncated or not a WAV file; re-export it."): InputError {
  return new InputError(`${name}: ${what}`, { hint });
}

/**
 * Decodes a WAV file.
 *
 * @param name the file's name for messages (its path, or `stdin`).
 * @throws {InputError} not RIFF/WAVE, an unsupported encoding, a missing or truncated chunk (exit 2).
 * @example
 * ```ts
 * import { decodeWav } from "./audio_wav.ts";
 * const clip = decodeWav(await Deno.readFile("speech.wav"), "speech.wav");
 * console.log(clip.sampleRate, clip.channels.length, clip.channels[0].length);
 * ```
 */
export function decodeWav(bytes: Uint8Array, name: string): AudioClip {
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
  if (channels < 1 || rate < 1 || rate > MAX_SAMPLE_RATE) {
    throw bad(name, `invalid fmt chunk (${channels} channels at ${rate} Hz)`);
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
  if (frames > MAX_WAV_SAMPLES) {
    throw bad(name, `${frames} samples per channel is more than the limit of ${MAX_WAV_SAMPLES}`);
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
