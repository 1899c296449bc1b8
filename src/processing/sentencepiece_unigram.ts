/**
 * Sentencepiece's unigram segmentation, exactly as its encoder does it: the best-scoring split of the normalized
 * text into pieces (Viterbi over every piece that matches at every character), scores added in float32 as
 * sentencepiece does, a character no piece covers scored `min score − 10` as the unknown piece, consecutive
 * unknown characters fused into one piece (or spelled as `<0xNN>` byte pieces when the model has byte fallback),
 * and control, unknown and unused pieces never matched against text.
 *
 * Why not `@huggingface/tokenizers`' Unigram: version 0.2.0 matches control pieces against the text (`▁<s>` is
 * `▁`, `<s>` for it, `▁`, `<`, `s`, `>` for sentencepiece, and a control piece's score 0 beats every real piece)
 * and adds scores in float64.
 *
 * @module
 */
import type { SentencePieceModel } from "./sentencepiece_model.ts";

const UNK_PENALTY = 10;
const f32 = Math.fround;

function utf8Length(text: string): number {
  let n = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

/**
 * A segmenter for a unigram sentencepiece model: normalized text → piece strings (unknown runs keep their text).
 *
 * @param model a parsed model whose `modelType` is `unigram`.
 * @example
 * ```ts ignore
 * const segment = unigramSegmenter(model);
 * segment("▁Hello▁world"); // ["▁Hello", "▁world"] (depends on the model)
 * ```
 */
export function unigramSegmenter(model: SentencePieceModel): (normalized: string) => string[] {
  const ids = new Map<string, number>();
  const scores = new Float32Array(model.pieces.length);
  let minScore = Infinity, maxScore = -Infinity, longest = 1;
  model.pieces.forEach((p, id) => {
    scores[id] = f32(p.score);
    if (p.type === "normal") {
      minScore = Math.min(minScore, scores[id]);
      maxScore = Math.max(maxScore, scores[id]);
    }
    if ((p.type === "normal" || p.type === "user_defined") && p.piece.length > 0 && !ids.has(p.piece)) {
      ids.set(p.piece, id);
      longest = Math.max(longest, p.piece.length);
    }
  });
  if (minScore === Infinity) minScore = maxScore = 0;
  const unkScore = f32(minScore - UNK_PENALTY);
  const userDefined = (id: number) => model.pieces[id].type === "user_defined";
  const byteIds = new Map<number, number>();
  if (model.byteFallback) {
    model.pieces.forEach((p, id) => {
      const m = p.type === "byte" ? /^<0x([0-9A-Fa-f]{2})>$/.exec(p.piece) : null;
      if (m) byteIds.set(parseInt(m[1], 16), id);
    });
  }

  return (text: string): string[] => {
    const n = text.length;
    if (n === 0) return [];
    // best path ending at each UTF-16 position: its score, where its last piece starts, and that piece's id
    const bestScore = new Float32Array(n + 1);
    const bestStart = new Int32Array(n + 1).fill(-1);
    const bestId = new Int32Array(n + 1);
    bestStart[0] = 0;
    for (let start = 0; start < n;) {
      const c = text.charCodeAt(start);
      const charEnd = start + (c >= 0xd800 && c < 0xdc00 && start + 1 < n ? 2 : 1);
      if (bestStart[start] < 0) { // unreachable (inside a surrogate pair): cannot happen, kept safe
        start = charEnd;
        continue;
      }
      const here = bestScore[start];
      let single = false;
      const limit = Math.min(n, start + longest);
      for (let end = charEnd; end <= limit;) {
        const id = ids.get(text.slice(start, end));
        if (id !== undefined) {
          const score = userDefined(id) ? f32(utf8Length(text.slice(start, end)) * maxScore - 0.1) : scores[id];
          const candidate = f32(score + here);
          if (bestStart[end] < 0 || candidate > bestScore[end]) {
            bestScore[end] = candidate;
            bestStart[end] = start;
            bestId[end] = id;
          }
          if (end === charEnd) single = true;
        }
        if (end >= n) break;
        const d = text.charCodeAt(end);
        end += d >= 0xd800 && d < 0xdc00 && end + 1 < n ? 2 : 1;
      }
      if (!single) {
        const candidate = f32(unkScore + here);
        if (bestStart[charEnd] < 0 || candidate > bestScore[charEnd]) {
          bestScore[charEnd] = candidate;
          bestStart[charEnd] = start;
          bestId[charEnd] = model.unkId;
        }
      }
      start = charEnd;
    }
    const pieces: string[] = [];
    const unknown: boolean[] = [];
    for (let end = n; end > 0;) {
      const start = bestStart[end];
      const isUnk = bestId[end] === model.unkId;
      const piece = text.slice(start, end);
      if (isUnk && unknown.length > 0 && unknown[unknown.length - 1] && !model.byteFallback) {
        pieces[pieces.length - 1] = piece + pieces[pieces.length - 1];
      } else {
        pieces.push(piece);
        unknown.push(isUnk);
      }
      end = start;
    }
    pieces.reverse();
    unknown.reverse();
    if (!model.byteFallback) return pieces;
    return pieces.flatMap((p, i) =>
      unknown[i]
        ? [...new TextEncoder().encode(p)].map((b) =>
          byteIds.has(b) ? model.pieces[byteIds.get(b)!].piece : model.pieces[model.unkId].piece
        )
        : [p]
    );
  };
}
