/**
 * The duration a WAV file's header declares, read without decoding a sample: the server refuses a clip over
 * `--max-audio-seconds` before the pipeline decodes and resamples it (a 40 KB WAV that declares 1 Hz is
 * twenty thousand seconds, and resampling it to 16 kHz would allocate gigabytes).
 *
 * @module
 */

/** What a WAV header declares. */
export interface WavDuration {
  /** Seconds of audio: data bytes ÷ bytes per frame ÷ sampling rate. */
  seconds: number;
  /** The sampling rate in Hz. */
  rate: number;
}

/**
 * The duration and sampling rate `bytes` declares, or `undefined` when it is not a RIFF/WAVE file with a `fmt `
 * chunk before its `data` chunk (the decoder then says what is wrong).
 *
 * @example
 * ```ts
 * wavDuration(new Uint8Array(12)); // undefined: not a WAV file
 * ```
 */
export function wavDuration(bytes: Uint8Array): WavDuration | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]);
  if (bytes.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") return undefined;
  let rate: number | undefined, frameBytes: number | undefined;
  // chunks are walked by their declared sizes, so the loop ends within bytes.length / 8 steps
  for (let o = 12; o + 8 <= bytes.length;) {
    const id = tag(o);
    const size = view.getUint32(o + 4, true);
    if (id === "fmt " && o + 8 + 16 <= bytes.length) {
      const channels = view.getUint16(o + 10, true);
      rate = view.getUint32(o + 12, true);
      const bits = view.getUint16(o + 22, true);
      frameBytes = channels * Math.ceil(bits / 8);
    } else if (id === "data") {
      if (!rate || !frameBytes) return undefined;
      const data = Math.min(size, bytes.length - o - 8);
      return { seconds: Math.floor(data / frameBytes) / rate, rate };
    }
    o += 8 + size + (size & 1);
  }
  return undefined;
}
