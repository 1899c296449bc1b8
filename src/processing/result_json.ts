/**
 * A pipeline's {@linkcode TaskResult} as JSON — what `gpux run --text/--image/--audio --json` prints in
 * `result` and `gpux serve`'s `/predict` answers for raw inputs — with each entry labelled by its input
 * (the text, or the image/audio file's name).
 *
 * @module
 */
import { tensorsToJson } from "../runtime/tensors.ts";
import type { PipelineInput, TaskResult } from "./task_types.ts";
import { cosineSimilarity } from "./feature_extraction.ts";
import { encodeGreyPng } from "./png_encode.ts";

/** The grey PNGs a JSON answer carries: per input, each segment's mask (or the depth picture as one entry). */
export type ResultPictures = Uint8Array[][];

/**
 * Encodes the pictures {@linkcode resultJson} puts in a segmentation or depth answer (masks, depth pictures) as
 * PNGs; `undefined` for other answers. Kept out of the pipeline so `Pipeline.run` pays for no encoding.
 */
export async function resultPictures(result: TaskResult): Promise<ResultPictures | undefined> {
  if (result.kind === "segmentation") {
    const out: ResultPictures = [];
    for (let i = 0; i < result.segments.length; i++) {
      const { width, height } = result.sizes[i];
      const pngs: Uint8Array[] = [];
      for (const s of result.segments[i]) pngs.push(await encodeGreyPng(width, height, s.mask));
      out.push(pngs);
    }
    return out;
  }
  if (result.kind === "depth") {
    const out: ResultPictures = [];
    for (const d of result.depths) out.push([await encodeGreyPng(d.width, d.height, d.picture)]);
    return out;
  }
  return undefined;
}

function picturesOf(pictures: ResultPictures | undefined, kind: string): ResultPictures {
  if (!pictures) throw new Error(`resultJson: a ${kind} answer needs its pictures (resultPictures) first`);
  return pictures;
}

/** The label of each input of a batch: the texts, or the files' names. */
export function inputNames(input: PipelineInput): string[] {
  if (typeof input === "string") return [input];
  if (Array.isArray(input)) return input;
  if (input.kind === "text") return input.texts;
  if (input.kind === "image") return input.images.map((f) => f.name);
  return input.clips.map((f) => f.name);
}

/**
 * A task result as plain JSON: per input `{input, labels}` (classification, zero-shot), `{input, entities}`,
 * `{input, text}` (transcription), `{input, masks}` (fill-mask: per mask, candidates `{score, token, tokenStr, sequence}`),
 * `{question, answers}` (question answering: `{score, start, end, answer}`), `{source, similarities: [{input, score}]}`
 * (sentence similarity), `{input, objects: [{label, score, box}]}` (detection), `{input, width, height,
 * segments: [{label, score, mask}]}` with each mask a base64 grey PNG (segmentation, background removal),
 * `{input, width, height, predicted_depth, depth}` with the depth rows as numbers and `depth` a base64 grey PNG
 * (pass the PNGs {@linkcode resultPictures} encodes as `pictures` for these two); embeddings as `{dimension, pooling, normalized, embeddings: [{input, embedding}],
 * similarityToFirst?}` (cosine of each later input with the first);
 * other tasks as the named output tensors.
 */
export function resultJson(result: TaskResult, names: string[], pictures?: ResultPictures): unknown {
  switch (result.kind) {
    case "classification":
    case "zero-shot":
      return names.map((input, i) => ({ input, labels: result.predictions[i] }));
    case "embedding":
      return {
        dimension: result.dimension,
        pooling: result.pooling,
        normalized: result.normalized,
        embeddings: names.map((input, i) => ({ input, embedding: Array.from(result.embeddings[i]) })),
        ...(names.length > 1
          ? {
            similarityToFirst: result.embeddings.slice(1).map((v) => cosineSimilarity(result.embeddings[0], v)),
          }
          : {}),
      };
    case "entities":
      return names.map((input, i) => ({ input, entities: result.entities[i] }));
    case "transcription":
      return names.map((input, i) => ({ input, text: result.texts[i] }));
    case "fill-mask":
      return names.map((input, i) => ({ input, masks: result.masks[i] }));
    case "answers":
      return names.map((question, i) => ({ question, answers: result.answers[i] }));
    case "similarity":
      return {
        source: names[0],
        similarities: names.slice(1).map((input, i) => ({ input, score: result.similarities[i] })),
      };
    case "detection":
      return names.map((input, i) => ({ input, objects: result.objects[i] }));
    case "segmentation":
      return names.map((input, i) => ({
        input,
        ...result.sizes[i],
        segments: result.segments[i].map((s, j) => ({
          label: s.label,
          score: s.score,
          mask: base64(picturesOf(pictures, "segmentation")[i][j]),
        })),
      }));
    case "depth":
      return names.map((input, i) => {
        const d = result.depths[i];
        const rows: number[][] = [];
        for (let y = 0; y < d.height; y++) {
          rows.push(Array.from(d.predictedDepth.subarray(y * d.width, (y + 1) * d.width)));
        }
        return {
          input,
          width: d.width,
          height: d.height,
          predicted_depth: rows,
          depth: base64(picturesOf(pictures, "depth")[i][0]),
        };
      });
    case "tensors":
      return tensorsToJson(result.outputs);
  }
}

/** Standard base64 of `bytes` (a PNG in a JSON answer). */
export function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
