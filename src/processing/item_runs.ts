/**
 * Several texts, images or clips in one input run as one batch only for a model proven to keep a batch's rows
 * apart (runtime/batch_dimension.ts); otherwise each item runs alone and the results are joined. A handler reads
 * its answer for item `i` from row `i` of the outputs, so a model whose outputs are not led by the batch
 * (a sequence length, detections, a fixed dimension) would otherwise give one item another's answer.
 *
 * @module
 */
import type { AudioInput, ImageInput, TaskResult, TextInput } from "./task_types.ts";

/** An input split into its items, each a whole input of one item (zero-shot labels and templates stay whole). */
export function inputItems(input: TextInput | ImageInput | AudioInput): (TextInput | ImageInput | AudioInput)[] {
  switch (input.kind) {
    case "text":
      return input.texts.map((text, i) => ({
        ...input,
        texts: [text],
        ...(input.pairs ? { pairs: [input.pairs[i]] } : {}),
      }));
    case "image":
      return input.images.map((image) => ({ kind: "image", images: [image] }));
    case "audio":
      return input.clips.map((clip) => ({ kind: "audio", clips: [clip] }));
  }
}

/**
 * The results of items run alone, joined as the result of one run of them all: each per-item list holds, for
 * item `i`, the entry run `i` gave its only item (so a model that answers a lone item with more or fewer rows
 * than one still gives each item exactly what it gets alone, never a neighbour's row).
 */
export function joinItemResults(parts: readonly TaskResult[]): TaskResult {
  const joined: Record<string, unknown> = { ...parts[0] };
  for (const [key, value] of Object.entries(parts[0])) {
    if (Array.isArray(value)) joined[key] = parts.map((p) => (p as unknown as Record<string, unknown[]>)[key][0]);
  }
  return joined as TaskResult;
}
