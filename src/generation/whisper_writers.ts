/**
 * Transcript files as whisper.cpp writes them (`-otxt`, `-osrt`, `-ovtt`, `-oj`): txt is one segment per line;
 * srt numbers cues from 1 with `HH:MM:SS,mmm --> HH:MM:SS,mmm`; vtt starts with `WEBVTT` and uses `.` before the
 * milliseconds; json holds `result.language` and a `transcription` list of `{timestamps: {from, to}, offsets:
 * {from, to} (ms), text}`. Segment texts are written as the model produced them (Whisper's leading space kept), as
 * whisper.cpp does.
 *
 * @module
 */

/** A transcript file format. */
export type TranscriptFormat = "txt" | "srt" | "vtt" | "json";

/** The formats, for flag validation. */
export const TRANSCRIPT_FORMATS: readonly TranscriptFormat[] = ["txt", "srt", "vtt", "json"];

/** One segment to write: text and times in seconds (an open end is written as the start). */
export interface TranscriptSegment {
  /** Segment text. */
  text: string;
  /** Start and end, seconds (end null: unknown, written equal to the start). */
  timestamp: [number | null, number | null];
}

/**
 * `HH:MM:SS,mmm` (srt, `comma`) or `HH:MM:SS.mmm` (vtt) for `seconds`, rounded to the millisecond.
 *
 * @example
 * ```ts
 * import { formatTimestamp } from "jsr:@gpux/gpux/generation";
 * formatTimestamp(3725.5, ","); // "01:02:05,500"
 * ```
 */
export function formatTimestamp(seconds: number, separator: "," | "."): string {
  let ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  ms -= h * 3_600_000;
  const m = Math.floor(ms / 60_000);
  ms -= m * 60_000;
  const s = Math.floor(ms / 1000);
  ms -= s * 1000;
  const pad = (n: number, w: number) => String(n).padStart(w, "0");
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${separator}${pad(ms, 3)}`;
}

function times(segment: TranscriptSegment): [number, number] {
  const start = segment.timestamp[0] ?? 0;
  return [start, segment.timestamp[1] ?? start];
}

/**
 * The transcript in `format`, one entry per segment.
 *
 * @example
 * ```ts
 * import { writeTranscript } from "jsr:@gpux/gpux/generation";
 * writeTranscript([{ text: " Hello.", timestamp: [0, 1.5] }], "srt");
 * // "1\n00:00:00,000 --> 00:00:01,500\n Hello.\n\n"
 * ```
 */
export function writeTranscript(
  segments: readonly TranscriptSegment[],
  format: TranscriptFormat,
  options: { language?: string } = {},
): string {
  switch (format) {
    case "txt":
      return segments.map((s) => `${s.text}\n`).join("");
    case "srt":
      return segments.map((s, i) => {
        const [a, b] = times(s);
        return `${i + 1}\n${formatTimestamp(a, ",")} --> ${formatTimestamp(b, ",")}\n${s.text}\n\n`;
      }).join("");
    case "vtt":
      return "WEBVTT\n\n" + segments.map((s) => {
        const [a, b] = times(s);
        return `${formatTimestamp(a, ".")} --> ${formatTimestamp(b, ".")}\n${s.text}\n\n`;
      }).join("");
    case "json":
      return JSON.stringify(
        {
          result: { language: options.language ?? null },
          transcription: segments.map((s) => {
            const [a, b] = times(s);
            return {
              timestamps: { from: formatTimestamp(a, ","), to: formatTimestamp(b, ",") },
              offsets: { from: Math.round(a * 1000), to: Math.round(b * 1000) },
              text: s.text,
            };
          }),
        },
        null,
        2,
      ) + "\n";
  }
}
