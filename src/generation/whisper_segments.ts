/**
 * From Whisper's generated ids to text with times: the segments of one window (`<|t0|> text <|t1|>` pairs, as
 * transformers' tokenizer computes its offsets), and the long-form merge of overlapping 30-second windows as
 * transformers' chunked speech-recognition pipeline does it: the overlap is resolved by the longest run of equal
 * tokens between the end of one window and the start of the next (cut in its middle), so a word at a seam is
 * neither dropped nor repeated; timestamps are shifted by each window's offset and those in a stride are dropped.
 *
 * @module
 */
import type { WhisperTokens } from "./whisper_tokens.ts";

/** Turns ids into text (the checkpoint's tokenizer, special tokens kept). */
export type DecodeIds = (ids: number[]) => string;

/** A stretch of text between two timestamps, in seconds (`end` null when the window ended first). */
export interface WhisperSegment {
  /** The segment's text (leading space as Whisper writes it). */
  text: string;
  /** Start and end, seconds. */
  timestamp: [number, number | null];
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * The segments of one window's generated ids (timestamp pairs and the text between them), times in seconds from
 * the window's start: transformers' `_compute_offsets` (a lone timestamp ending a segment followed by a smaller one
 * starts a new 30-second segment). Ids without two timestamps give no segment.
 */
export function timestampSegments(ids: readonly number[], tokens: WhisperTokens, decode: DecodeIds): WhisperSegment[] {
  const begin = tokens.timestampBegin;
  const isTs = ids.map((id) => id >= begin);
  const cuts: number[] = [];
  for (let i = 1; i < ids.length; i++) if (isTs[i - 1] && isTs[i]) cuts.push(i);
  const positions = isTs.flatMap((t, i) => t ? [i] : []);
  if (cuts.length === 0 && positions.length <= 1) return [];
  const lastCut = positions[positions.length - 1] + 1;
  if (!cuts.includes(lastCut)) cuts.push(lastCut);
  const segmentSize = 1500;
  const out: WhisperSegment[] = [];
  let lastSlice = positions[0];
  let curMax = 0;
  let prevLen = 0;
  for (const cut of cuts) {
    const slice = ids.slice(lastSlice, cut);
    if (slice.length > 1) {
      const start = slice[0] - begin;
      const end = slice[slice.length - 1] - begin;
      if (start < curMax) {
        const singleEnding = lastSlice >= 2 && !(ids[lastSlice - 2] >= begin && ids[lastSlice - 1] >= begin);
        prevLen += singleEnding ? segmentSize : curMax;
      }
      curMax = end;
      const text = decode(slice.filter((id) => id < begin));
      out.push({
        text,
        timestamp: [(start + prevLen) * tokens.timePrecision, (end + prevLen) * tokens.timePrecision],
      });
    }
    lastSlice = cut;
  }
  return out;
}

/** What one decoder pass over (part of) a window keeps, and where the next pass starts. */
export interface WindowPass {
  /** The ids kept: all of them, or up to the last closed timestamp pair (the unfinished segment after it dropped). */
  kept: number[];
  /**
   * The timestamp (in timestamp steps from this pass's start) to decode again from, when the pass ended inside a
   * segment; undefined when the rest of the window is done.
   */
  seekSteps?: number;
}

/**
 * Where Whisper's `generate()` goes on after one greedy pass over a 30-second window (transformers' seek loop, as
 * openai-whisper seeks): when the ids (EOS removed) hold a closed pair of timestamps and do not end on a lone
 * timestamp, the text after the last pair is an unfinished segment cut by the window's end: it is dropped and the
 * window is decoded again from the first timestamp of that last pair. Otherwise (no pair, or a lone timestamp at the
 * end: no speech after it) every id is kept and the window is done. A model that writes timestamps even after
 * `<|notimestamps|>` (a random one) triggers this too, which is why a transformers pipeline re-decodes there.
 */
export function windowPass(ids: readonly number[], timestampBegin: number): WindowPass {
  const isTs = (i: number) => ids[i] >= timestampBegin;
  let lastPairEnd = -1;
  for (let i = 1; i < ids.length; i++) if (isTs(i - 1) && isTs(i)) lastPairEnd = i;
  const n = ids.length;
  const loneEnding = n >= 2 && !isTs(n - 2) && isTs(n - 1);
  if (lastPairEnd < 0 || loneEnding) return { kept: [...ids] };
  return { kept: ids.slice(0, lastPairEnd + 1), seekSteps: ids[lastPairEnd - 1] - timestampBegin };
}

/** One decoded window of a long recording. */
export interface DecodedWindow {
  /** The generated ids (no prompt). */
  ids: readonly number[];
  /** `[window length, left stride, right stride]` in seconds (the strides overlap the neighbours). */
  stride: [number, number, number];
}

/** The merged transcript. */
export interface MergedTranscript {
  /** The whole text. */
  text: string;
  /** With timestamps: the segments, times from the recording's start (an unfinished last one ends null). */
  chunks: { text: string; timestamp: [number | null, number | null]; language: string | null }[];
}

/**
 * The longest run of equal tokens between consecutive sequences decides where they join: for each overlap length
 * the share of equal tokens (plus a tiny bonus for longer overlaps) is scored, the best overlap with at least two
 * equal tokens wins, and the join is made in its middle.
 */
export function mergeOverlapping(sequences: readonly (readonly number[])[]): number[] {
  let left = [...sequences[0]];
  const total: number[] = [];
  for (const right of sequences.slice(1)) {
    const leftLength = left.length;
    const rightLength = right.length;
    let best = 0;
    let bounds = [leftLength, leftLength, 0, 0];
    for (let i = 1; i < leftLength + rightLength; i++) {
      const leftStart = Math.max(0, leftLength - i);
      const leftStop = Math.min(leftLength, leftLength + rightLength - i);
      const rightStart = Math.max(0, i - leftLength);
      let matches = 0;
      for (let k = 0; k < leftStop - leftStart; k++) if (left[leftStart + k] === right[rightStart + k]) matches++;
      const score = matches / i + i / 10000;
      if (matches > 1 && score > best) {
        best = score;
        bounds = [leftStart, leftStop, rightStart, Math.min(rightLength, i)];
      }
    }
    const [ls, le, rs, re] = bounds;
    total.push(...left.slice(0, Math.floor((ls + le) / 2)));
    left = right.slice(Math.floor((rs + re) / 2));
  }
  total.push(...left);
  return total;
}

/**
 * Merges the windows of a long recording into one transcript, as transformers' pipeline (`chunk_length_s`,
 * `stride_length_s`) does: without timestamps the overlapping token runs are joined ({@linkcode mergeOverlapping});
 * with timestamps each window's pairs are shifted by its offset, those starting in the left stride or at/after the
 * right stride are skipped, and the text between them is joined the same way.
 */
export function mergeWindows(
  windows: readonly DecodedWindow[],
  tokens: WhisperTokens,
  decode: DecodeIds,
  options: { timestamps: boolean },
): MergedTranscript {
  const begin = tokens.timestampBegin;
  const precision = tokens.timePrecision;
  const languageOf = new Map([...tokens.languages].map(([code, id]) => [id, code]));
  const isSpecial = (id: number) => id >= tokens.endOfText && id < begin;
  let lastLanguage: string | null = null;
  type Chunk = MergedTranscript["chunks"][number];
  const newChunk = (): Chunk => ({ language: lastLanguage, timestamp: [null, null], text: "" });
  const chunks: Chunk[] = [];
  let chunk = newChunk();
  let timeOffset = 0;
  let previous: number[][] = [];
  let skip = false;

  for (const window of windows) {
    const ids = window.ids;
    let lastTimestamp: number | undefined;
    let firstTimestamp = begin;
    let curMax = 0;
    let prevLen = 0;
    let penultimate = 0;
    const [chunkLength, strideLeft, strideRight] = window.stride;
    timeOffset -= strideLeft;
    const rightStrideStart = chunkLength - strideRight;
    if (strideLeft) firstTimestamp = strideLeft / precision + begin;
    if (strideRight) {
      for (let i = ids.length - 1; i >= 0; i--) {
        const id = ids[i];
        if (id >= begin) {
          if (lastTimestamp !== undefined && (id - begin) * precision < rightStrideStart) break;
          lastTimestamp = id;
        }
      }
    }
    let current: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (isSpecial(id)) {
        const language = languageOf.get(id);
        if (language !== undefined) {
          if (lastLanguage && language !== lastLanguage && !options.timestamps) {
            previous.push(current);
            chunk.text = decode(mergeOverlapping(previous));
            chunks.push(chunk);
            previous = [];
            current = [];
            chunk = newChunk();
          }
          chunk.language = language;
          lastLanguage = language;
        }
      } else if (id >= begin) {
        const timestamp = (id - begin) * precision;
        if (timestamp < curMax) {
          const singleEnding = i >= 2 && !(ids[i - 1] >= begin && ids[i - 2] >= begin);
          if (singleEnding) prevLen += precision * 1500;
          else {
            curMax = penultimate;
            prevLen += penultimate;
          }
        }
        penultimate = curMax;
        curMax = timestamp;
        const time = round2((id - begin) * precision + timeOffset + prevLen);
        if (lastTimestamp && id >= lastTimestamp) skip = true;
        else if (skip || (previous.length > 0 && id < firstTimestamp)) skip = false;
        else if (chunk.timestamp[0] === null) chunk.timestamp[0] = time;
        else if (time !== chunk.timestamp[0]) {
          chunk.timestamp[1] = time;
          previous.push(current);
          chunk.text = decode(mergeOverlapping(previous));
          chunks.push(chunk);
          previous = [];
          current = [];
          chunk = newChunk();
        }
      } else {
        current.push(id);
      }
    }
    timeOffset += chunkLength - strideRight;
    if (current.length) previous.push(current);
    else if (!previous.some((p) => p.length)) {
      chunk = newChunk();
      previous = [];
    }
  }
  if (previous.length) {
    chunk.text = decode(mergeOverlapping(previous));
    chunks.push(chunk);
  }
  return { text: chunks.map((c) => c.text).join(""), chunks: options.timestamps ? chunks : [] };
}
