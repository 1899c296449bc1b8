// The task → form table of the playground: for each task gpux serve answers, which form collects the input, what
// request it sends, and how the answer is shown. A new task slots in as one entry here: its `form` and `view` must
// be names in FORMS and VIEWS of app.js; `threshold` adds a score threshold field with that default; `options` are
// added to the body; `request` overrides where the request goes (default: POST /models/{name}/predict with the
// form's input and `options`).

/**
 * @typedef {{ path: string, body: unknown }} TaskRequest
 * @typedef {{
 *   form: string,
 *   view: string,
 *   hint?: string,
 *   options?: Record<string, unknown>,
 *   threshold?: number,
 *   request?: (model: { name: string }, input: Record<string, unknown>) => TaskRequest,
 * }} TaskEntry
 */

/** @type {Record<string, TaskEntry>} */
export const TASKS = {
  "text-generation": { form: "chat", view: "chat" },
  "text-classification": { form: "text", view: "labels", options: { top_k: 5 } },
  "token-classification": { form: "text", view: "entities" },
  "fill-mask": { form: "text", view: "fillMask", hint: "Put the model's mask token in the text, e.g. [MASK]." },
  "feature-extraction": { form: "lines", view: "embeddings", hint: "One text per line." },
  "zero-shot-classification": { form: "textLabels", view: "labels" },
  "question-answering": { form: "question", view: "answers" },
  "sentence-similarity": { form: "similarity", view: "similarity" },
  "image-classification": { form: "image", view: "labels", options: { top_k: 5 } },
  "image-feature-extraction": { form: "image", view: "embeddings" },
  "zero-shot-image-classification": { form: "imageLabels", view: "labels" },
  "object-detection": { form: "image", view: "detection", threshold: 0.5 },
  "zero-shot-object-detection": { form: "imageLabels", view: "detection", threshold: 0.1 },
  "image-segmentation": { form: "image", view: "segmentation" },
  "background-removal": { form: "image", view: "segmentation" },
  "depth-estimation": { form: "image", view: "depth" },
  "audio-classification": { form: "audio", view: "labels", options: { top_k: 5 } },
  "automatic-speech-recognition": { form: "audio", view: "transcription" },
  // encoder-decoder models (answers `{results: [{text, generatedIds}]}`)
  "translation": { form: "text", view: "generated" },
  "summarization": { form: "text", view: "generated" },
  "text2text-generation": { form: "text", view: "generated" },
  "image-to-text": { form: "image", view: "generated" },
};

/** Models with no task (or one the page does not know): a raw-tensor JSON box. */
export const TENSORS_ENTRY = { form: "tensors", view: "json" };

/**
 * The entry for a model as /info describes it.
 * @param {{ task?: string | null }} model
 * @returns {TaskEntry}
 */
export function taskEntry(model) {
  return (model.task && TASKS[model.task]) || TENSORS_ENTRY;
}
