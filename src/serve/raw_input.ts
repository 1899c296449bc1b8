/**
 * Raw inputs in a `/predict` body — `{"text": …}`, `{"question": …, "context": …}`, `{"image": "<base64>"}`,
 * `{"audio": "<base64>"}` — for
 * models served with a pre-processing pipeline. A body is raw input only when its key is not one of the
 * model's input names (a model with an input called `text` still takes tensors).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorInfo } from "../runtime/tensors.ts";
import { BadRequestError } from "./serve_errors.ts";
import type { RawInput, RawOptions } from "./worker_protocol.ts";
import { QA_LIMITS } from "../processing/question_answering.ts";
import { SEGMENTATION_SUBTASKS, type SegmentationSubtask } from "../processing/image_segmentation.ts";
import { checkRawCounts, checkRawMedia, REQUEST_LIMIT_DEFAULTS, type RequestLimits } from "./request_limits.ts";

/** The keys that mark a raw-input body. */
export const RAW_KEYS = ["text", "question", "image", "audio"] as const;

const OPTION_KEYS = [
  "top_k",
  "aggregation",
  "multi_label",
  "threshold",
  "pairs",
  "candidate_labels",
  "hypothesis_template",
  "targets",
  "context",
  "max_answer_length",
  "max_seq_length",
  "doc_stride",
  "subtask",
];

/** Keys that belong to one kind of raw input only. */
const KEY_KINDS: Record<string, readonly string[]> = {
  pairs: ["text"],
  candidate_labels: ["text", "image"],
  hypothesis_template: ["text", "image"],
  targets: ["text"],
  context: ["question"],
  max_answer_length: ["question"],
  max_seq_length: ["question"],
  doc_stride: ["question"],
  threshold: ["image"],
  subtask: ["image"],
};

function bounded(obj: Record<string, unknown>, key: string, range: { min: number; max: number }): number | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || (v as number) < range.min || (v as number) > range.max) {
    throw new InputError(`"${key}" must be a whole number from ${range.min} to ${range.max}`);
  }
  return v as number;
}

function strings(value: unknown, key: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((v) => typeof v === "string")) {
    throw new InputError(`"${key}" must be a string or a non-empty list of strings`);
  }
  return list as string[];
}

/** Decodes standard or URL-safe base64 (a `data:…;base64,` prefix is allowed). */
export function decodeBase64(text: string, what: string): Uint8Array {
  const clean = text.replace(/^data:[^,]*;base64,/, "").replace(/\s+/g, "").replace(/-/g, "+").replace(/_/g, "/");
  let binary: string;
  try {
    binary = atob(clean);
  } catch {
    throw new InputError(`${what} is not valid base64`);
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Refuses a raw body key that is neither its input `kind` nor one of `optionKeys`, so a misspelt option is a 400
 * rather than silently ignored (the `/predict` bodies of task pipelines and of encoder-decoder models alike).
 *
 * @throws {InputError} naming the unknown keys and the options there are.
 */
export function rejectUnknownKeys(obj: Record<string, unknown>, kind: string, optionKeys: readonly string[]): void {
  const unknown = Object.keys(obj).filter((k) => k !== kind && !optionKeys.includes(k));
  if (unknown.length) {
    throw new InputError(
      `unknown key ${unknown.map((k) => JSON.stringify(k)).join(", ")} beside "${kind}"; options are ${
        optionKeys.join(", ")
      }`,
    );
  }
}

/**
 * The raw input and options of a `/predict` body, or `undefined` when the body holds tensors. Counts are checked
 * against `limits` before anything is decoded, images and clips against theirs from their headers.
 *
 * @throws {InputError} a raw body with the wrong types, unknown keys, or two kinds at once.
 * @throws {PayloadTooLargeError} more items, characters, pixels or seconds than `limits` allow.
 */
export function rawInputOf(
  body: unknown,
  inputs: readonly TensorInfo[],
  limits: RequestLimits = REQUEST_LIMIT_DEFAULTS,
): { input: RawInput; options: RawOptions } | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const obj = body as Record<string, unknown>;
  const names = new Set(inputs.map((i) => i.name));
  const kinds = RAW_KEYS.filter((k) => k in obj && !names.has(k));
  if (kinds.length === 0) return undefined;
  if (kinds.length > 1) throw new InputError(`give one of ${kinds.map((k) => `"${k}"`).join(", ")}, not several`);
  const kind = kinds[0];
  checkRawCounts(obj, kind, limits);
  rejectUnknownKeys(obj, kind, OPTION_KEYS);
  const options: RawOptions = {};
  if (obj.top_k !== undefined) {
    if (!Number.isInteger(obj.top_k) || (obj.top_k as number) < 1) {
      throw new InputError('"top_k" must be a positive integer');
    }
    options.topK = obj.top_k as number;
  }
  if (obj.aggregation !== undefined) {
    if (!["none", "simple", "first"].includes(obj.aggregation as string)) {
      throw new InputError('"aggregation" must be none, simple or first');
    }
    options.aggregation = obj.aggregation as RawOptions["aggregation"];
  }
  if (obj.multi_label !== undefined) {
    if (typeof obj.multi_label !== "boolean") throw new InputError('"multi_label" must be true or false');
    options.multiLabel = obj.multi_label;
  }
  for (const [k, kinds] of Object.entries(KEY_KINDS)) {
    if (k in obj && !kinds.includes(kind)) {
      throw new BadRequestError(`"${k}" goes with ${kinds.map((x) => `"${x}"`).join(" or ")}, not "${kind}"`);
    }
  }
  if (obj.threshold !== undefined) {
    if (typeof obj.threshold !== "number" || !(obj.threshold >= 0 && obj.threshold <= 1)) {
      throw new InputError('"threshold" must be a number from 0 to 1');
    }
    options.threshold = obj.threshold;
  }
  if (obj.subtask !== undefined) {
    if (typeof obj.subtask !== "string" || !(SEGMENTATION_SUBTASKS as readonly string[]).includes(obj.subtask)) {
      throw new InputError(`"subtask" must be one of ${SEGMENTATION_SUBTASKS.map((k) => `"${k}"`).join(", ")}`);
    }
    options.subtask = obj.subtask as SegmentationSubtask;
  }
  if (obj.targets !== undefined) options.targets = strings(obj.targets, "targets");
  const maxAnswerLength = bounded(obj, "max_answer_length", QA_LIMITS.maxAnswerLength);
  const maxSeqLength = bounded(obj, "max_seq_length", QA_LIMITS.maxSeqLength);
  const docStride = bounded(obj, "doc_stride", QA_LIMITS.docStride);
  if (maxAnswerLength !== undefined) options.maxAnswerLength = maxAnswerLength;
  if (maxSeqLength !== undefined) options.maxSeqLength = maxSeqLength;
  if (docStride !== undefined) options.docStride = docStride;
  if (kind === "question") {
    const questions = strings(obj.question, "question");
    if (obj.context === undefined) throw new InputError('"question" needs a "context" (the text holding the answer)');
    let contexts = strings(obj.context, "context");
    if (contexts.length === 1 && questions.length > 1) contexts = questions.map(() => contexts[0]);
    if (contexts.length !== questions.length) {
      throw new InputError(
        `${questions.length} questions but ${contexts.length} contexts: give one per question, or one`,
      );
    }
    return { input: { kind: "text", texts: questions, pairs: contexts }, options };
  }
  const zeroShot: { candidateLabels?: string[]; hypothesisTemplate?: string } = {};
  if (obj.candidate_labels !== undefined) zeroShot.candidateLabels = strings(obj.candidate_labels, "candidate_labels");
  if (obj.hypothesis_template !== undefined) {
    if (typeof obj.hypothesis_template !== "string") throw new InputError('"hypothesis_template" must be a string');
    zeroShot.hypothesisTemplate = obj.hypothesis_template;
  }
  if (kind === "text") {
    const input: RawInput = { kind: "text", texts: strings(obj.text, "text"), ...zeroShot };
    if (obj.pairs !== undefined) input.pairs = strings(obj.pairs, "pairs");
    return { input, options };
  }
  const files = strings(obj[kind], kind).map((b64, i) => ({
    name: `${kind}[${i}]`,
    bytes: decodeBase64(b64, `"${kind}"${Array.isArray(obj[kind]) ? `[${i}]` : ""}`),
  }));
  const input: RawInput = kind === "image"
    ? { kind: "image", images: files, ...zeroShot }
    : { kind: "audio", clips: files };
  checkRawMedia(input, limits);
  return { input, options };
}
