/**
 * Audio built in code for tests and benchmarks: WAV files in every encoding gpux reads, sines, and a
 * real speech clip synthesised by espeak-ng (a Debian package) on first use and cached in
 * tests/.fixtures/ (ignored by git): no binary fixture is committed.
 *
 * @module
 */

/** WAV sample encodings. */
export type WavEncoding = "pcm8" | "pcm16" | "pcm24" | "pcm32" | "float32" | "float64";

/** Options of {@linkcode encodeWav}. */
export interface WavOptions {
  /** Sample encoding (default pcm16). */
  encoding?: WavEncoding;
  /** Write a WAVE_FORMAT_EXTENSIBLE fmt chunk. */
  extensible?: boolean;
  /** Extra chunks (e.g. `LIST`) before `data`, to check that readers skip them. */
  extraChunks?: { id: string; body: Uint8Array }[];
}

const BITS: Record<WavEncoding, number> = { pcm8: 8, pcm16: 16, pcm24: 24, pcm32: 32, float32: 32, float64: 64 };

/** A WAV file holding `channels` (each in [-1, 1]) at `rate` Hz. */
export function encodeWav(channels: Float32Array[], rate: number, options: WavOptions = {}): Uint8Array {
  const encoding = options.encoding ?? "pcm16";
  const bits = BITS[encoding];
  const float = encoding.startsWith("float");
  const bytesPer = bits / 8;
  const frames = channels[0].length;
  const dataSize = frames * channels.length * bytesPer;
  const fmtSize = options.extensible ? 40 : 16;
  const extra = (options.extraChunks ?? []).reduce((n, c) => n + 8 + c.body.length + (c.body.length & 1), 0);
  const total = 12 + 8 + fmtSize + extra + 8 + dataSize;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const text = (o: number, s: string) => out.set(new TextEncoder().encode(s), o);
  text(0, "RIFF");
  v.setUint32(4, total - 8, true);
  text(8, "WAVE");
  text(12, "fmt ");
  v.setUint32(16, fmtSize, true);
  v.setUint16(20, options.extensible ? 0xfffe : float ? 3 : 1, true);
  v.setUint16(22, channels.length, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * channels.length * bytesPer, true);
  v.setUint16(32, channels.length * bytesPer, true);
  v.setUint16(34, bits, true);
  let o = 36;
  if (options.extensible) {
    v.setUint16(36, 22, true); // cbSize
    v.setUint16(38, bits, true); // valid bits
    v.setUint32(40, channels.length === 1 ? 4 : 3, true); // channel mask
    v.setUint16(44, float ? 3 : 1, true); // sub-format GUID starts with the format tag
    out.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 46);
    o = 60;
  }
  for (const c of options.extraChunks ?? []) {
    text(o, c.id);
    v.setUint32(o + 4, c.body.length, true);
    out.set(c.body, o + 8);
    o += 8 + c.body.length + (c.body.length & 1);
  }
  text(o, "data");
  v.setUint32(o + 4, dataSize, true);
  o += 8;
  for (let i = 0; i < frames; i++) {
    for (const ch of channels) {
      const x = Math.max(-1, Math.min(1, ch[i]));
      if (encoding === "float32") v.setFloat32(o, x, true);
      else if (encoding === "float64") v.setFloat64(o, x, true);
      else if (encoding === "pcm8") out[o] = Math.round(x * 127) + 128;
      else if (encoding === "pcm16") v.setInt16(o, Math.round(x * 32767), true);
      else if (encoding === "pcm24") {
        const s = Math.round(x * 8388607);
        out[o] = s & 0xff, out[o + 1] = (s >> 8) & 0xff, out[o + 2] = (s >> 16) & 0xff;
      } else v.setInt32(o, Math.round(x * 2147483647), true);
      o += bytesPer;
    }
  }
  return out;
}

/** `seconds` of a sine of `hz` at `rate`, amplitude `amplitude`. */
export function sine(hz: number, rate: number, seconds: number, amplitude = 0.5): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin(2 * Math.PI * hz * i / rate);
  return out;
}

const FIXTURES = new URL("../.fixtures/audio/", import.meta.url).pathname;

/**
 * A WAV of espeak-ng saying `text` (22,050 Hz mono 16-bit, espeak-ng's own output format), made on first
 * use and cached. Throws with the install command when espeak-ng is not installed: the speech tests
 * need a real voice, and a synthetic "voice" would not tell whether a VAD recognises speech.
 */
export async function espeakWav(text: string, voice = "en-us"): Promise<Uint8Array> {
  const key = Array.from(new TextEncoder().encode(`${voice}:${text}`)).reduce((h, b) => (h * 31 + b) >>> 0, 7);
  const path = `${FIXTURES}espeak-${voice}-${key.toString(16)}.wav`;
  try {
    return await Deno.readFile(path);
  } catch {
    // not cached yet
  }
  await Deno.mkdir(FIXTURES, { recursive: true });
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command("espeak-ng", { args: ["-v", voice, "-w", tmp, text], stderr: "piped" }).output();
  } catch (error) {
    throw new Error(
      `espeak-ng is not installed (${(error as Error).message}); the speech tests synthesise their clip with it: ` +
        "apt-get install -y espeak-ng",
    );
  }
  if (!result.success) throw new Error(`espeak-ng failed: ${new TextDecoder().decode(result.stderr)}`);
  await Deno.rename(tmp, path);
  return await Deno.readFile(path);
}
