/**
 * The table sizes a text model's config.json declares (`vocab_size`, `max_position_embeddings`), read from beside the
 * model file (or its parent: Hub repositories keep the model in `onnx/`), so inputs synthesised for `gpux bench` and
 * serve's warm-up stay inside the model's embedding tables: a BERT's `input_ids` below its vocabulary, `position_ids`
 * below its position table. Best effort: no file, an unreadable or oversized one, or odd values give `{}`.
 *
 * @module
 */
import { dirname, join } from "node:path";

/** What config.json says about the sizes of the model's lookup tables. */
export interface TextModelSizes {
  /** Rows of the word embedding table (`vocab_size`): valid `input_ids` are 0..vocabSize-1. */
  vocabSize?: number;
  /** Rows of the position table (`max_position_embeddings`): valid `position_ids` are 0..maxPositions-1. */
  maxPositions?: number;
}

/** A config.json larger than this is not a model config (real ones are a few KB). */
const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Reads `vocab_size` and `max_position_embeddings` from the config.json in the folder of `modelPath`, else in the
 * folder above it; `{}` when neither has one.
 *
 * @example
 * ```ts
 * const sizes = await textModelSizes("snapshot/onnx/model.onnx"); // { vocabSize: 30522, maxPositions: 512 }
 * ```
 */
export async function textModelSizes(modelPath: string): Promise<TextModelSizes> {
  const folder = dirname(modelPath);
  for (const dir of [folder, dirname(folder)]) {
    const config = await readSmallJson(join(dir, "config.json"));
    if (config === undefined) continue;
    const sizes: TextModelSizes = {};
    const size = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined;
    const vocab = size(config.vocab_size), positions = size(config.max_position_embeddings);
    if (vocab) sizes.vocabSize = vocab;
    if (positions) sizes.maxPositions = positions;
    return sizes;
  }
  return {};
}

async function readSmallJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size > MAX_CONFIG_BYTES) return undefined;
    const value = JSON.parse(await Deno.readTextFile(path));
    return value && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined; // absent, unreadable or not JSON: the sizes are only a help
  }
}
