/**
 * question-answering (extractive, `*ForQuestionAnswering`): the question and its context are encoded as a
 * pair; a context longer than a window is cut into overlapping windows (`docStride` tokens shared), and
 * each window's start and end logits become answer spans of the context, as transformers'
 * QuestionAnsweringPipeline does: logits outside the context are masked, soft-maxed per window,
 * `P(start) × P(end)` scored over spans of at most `maxAnswerLength` tokens, spans widened to whole
 * words, answers with the same text (any case) merged by adding their scores, and the best `topK` kept.
 * Offsets are characters of the context (`context.slice(start, end) === answer`).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { LIMITS } from "../vocabulary/limits.ts";
import type { TensorData } from "../runtime/tensors.ts";
import { tensorNumbers } from "./classification.ts";
import type { Answer, PipelineContext, TaskHandler, TextInput } from "./task_types.ts";
import { setupText, textFeeds, type TextState } from "./text_inputs.ts";
import type { BatchEncoding, Encoding } from "./tokenizer.ts";

interface QaState extends TextState {
  /** The classifier token's id (it stays unmasked, as transformers; its own span scores 0). */
  clsId?: number;
}

interface QaMeta {
  /** Per window: which question it answers. */
  question: number[];
  encodings: Encoding[];
  contexts: string[];
}

/** Bounds of the question-answering options (`gpux run` flags and `gpux serve` keys alike). */
export const QA_LIMITS = {
  /** `maxAnswerLength`: tokens in one answer. */
  maxAnswerLength: LIMITS.maxAnswerLength,
  /** `maxSeqLength`: tokens in one window, question and special tokens included. */
  maxSeqLength: LIMITS.maxSeqLength,
  /** `docStride`: context tokens two windows share. */
  docStride: LIMITS.docStride,
} as const;

/** Longest window by default, as transformers: the model's maximum, at most 384 tokens. */
const DEFAULT_MAX_SEQ = 384;
/** Longest answer in tokens by default (transformers' `max_answer_len`). */
const DEFAULT_MAX_ANSWER = 15;

async function clsIdOf(ctx: PipelineContext, state: TextState): Promise<number | undefined> {
  const config = await ctx.files.readJsonIfPresent("tokenizer_config.json") as Record<string, unknown> | undefined;
  const declared = config?.cls_token;
  const named = typeof declared === "string" ? declared : (declared as { content?: string } | undefined)?.content;
  for (const token of named ? [named] : ["[CLS]", "<s>"]) {
    const id = state.tokenizer.tokenToId(token);
    if (id !== undefined) return id;
  }
  return undefined;
}

function output(outputs: Record<string, TensorData>, names: string[], name: string, index: number): TensorData {
  const t = outputs[name] ?? outputs[names[index]];
  if (!t || t.shape.length !== 2) {
    throw new InputError(
      `question answering needs ${name} [batch, tokens]; the model's outputs are ${names.join(", ")}`,
      {
        hint: "use a *ForQuestionAnswering model, or --raw to see the tensors",
      },
    );
  }
  return t;
}

/** Character span of token `s` to token `e`, widened to their whole words of the context (transformers' align_to_words). */
function charSpan(enc: Encoding, s: number, e: number): [number, number] {
  const ws = enc.wordIds[s], we = enc.wordIds[e];
  if (ws === null || we === null) return [enc.offsets[s][0], enc.offsets[e][1]];
  let start = -1, end = -1;
  for (let i = 0; i < enc.inputIds.length; i++) {
    if (enc.sequenceIds[i] !== 1) continue;
    if (start < 0 && enc.wordIds[i] === ws) start = enc.offsets[i][0];
    if (enc.wordIds[i] === we) end = enc.offsets[i][1];
  }
  return [start < 0 ? enc.offsets[s][0] : start, end < 0 ? enc.offsets[e][1] : end];
}

function softmaxMasked(row: Float64Array, allowed: boolean[]): Float64Array {
  const x = row.map((v, i) => (allowed[i] ? v : -10000));
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  const out = x.map((v) => {
    const e = Math.exp(v - max);
    sum += e;
    return e;
  });
  return out.map((v) => v / sum);
}

/**
 * The question-answering handler: `texts` are the questions, `pairs` their contexts.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * const qa = await loadPipeline("acme/bert-squad", { task: "question-answering" });
 * const result = await qa.run({ kind: "text", texts: ["Where does Ada live?"], pairs: ["Ada lives in London."] });
 * if (result.kind === "answers") console.log(result.answers[0][0]);
 * // { score: 0.9731, start: 13, end: 19, answer: "London" }
 * ```
 */
export const questionAnswering: TaskHandler<QaState> = {
  task: "question-answering",
  accepts: ["text"],
  async setup(ctx) {
    const text = await setupText(ctx);
    return { ...text, clsId: await clsIdOf(ctx, text) };
  },
  preprocess(input, ctx, state, options = {}) {
    const text = input as TextInput;
    const contexts = text.pairs ?? [];
    if (text.texts.length === 0 || contexts.length !== text.texts.length) {
      throw new InputError("question answering needs a question and a context for each question", {
        hint: 'pass --question "…" --context "…" (or {"question": …, "context": …} to gpux serve)',
      });
    }
    const maxSeq = state.fixedLength ?? options.maxSeqLength ??
      Math.min(state.maxLength ?? DEFAULT_MAX_SEQ, DEFAULT_MAX_SEQ);
    const stride = options.docStride ?? Math.min(Math.floor(maxSeq / 2), 128);
    const encodings: Encoding[] = [];
    const question: number[] = [];
    text.texts.forEach((q, i) => {
      for (const w of state.tokenizer.encodeOverflowing(q, contexts[i], { maxLength: maxSeq, stride })) {
        encodings.push(w);
        question.push(i);
      }
    });
    state.tokenizer.pad(encodings, state.fixedLength);
    const batch: BatchEncoding = {
      inputIds: encodings.map((e) => e.inputIds),
      attentionMask: encodings.map((e) => e.attentionMask),
      tokenTypeIds: encodings.map((e) => e.tokenTypeIds),
      offsets: encodings.map((e) => e.offsets),
      encodings,
    };
    const meta: QaMeta = { question, encodings, contexts };
    return Promise.resolve({ feeds: textFeeds(ctx.session.inputs, batch), meta });
  },
  postprocess(outputs, pre, ctx, state, options) {
    const { question, encodings, contexts } = pre.meta as QaMeta;
    const names = ctx.session.outputs.map((o) => o.name);
    const startT = output(outputs, names, "start_logits", 0), endT = output(outputs, names, "end_logits", 1);
    const starts = tensorNumbers(startT), ends = tensorNumbers(endT);
    const length = startT.shape[1];
    const topK = options.topK ?? 1;
    const maxAnswer = options.maxAnswerLength ?? DEFAULT_MAX_ANSWER;
    const preTopK = topK * 2 + 10; // some spans merge when widened to words (as transformers)
    const answers: Answer[][] = contexts.map(() => []);
    encodings.forEach((enc, w) => {
      const allowed = enc.inputIds.map((id, i) =>
        enc.attentionMask[i] === 1 && (enc.sequenceIds[i] === 1 || (state.clsId !== undefined && id === state.clsId))
      );
      const ps = softmaxMasked(starts.subarray(w * length, w * length + enc.inputIds.length), allowed);
      const pe = softmaxMasked(ends.subarray(w * length, w * length + enc.inputIds.length), allowed);
      ps[0] = pe[0] = 0;
      const spans: [number, number, number][] = [];
      for (let s = 0; s < ps.length; s++) {
        if (!allowed[s] || ps[s] === 0) continue;
        for (let e = s; e < Math.min(pe.length, s + maxAnswer); e++) {
          if (allowed[e] && pe[e] > 0) spans.push([ps[s] * pe[e], s, e]);
        }
      }
      spans.sort((a, b) => b[0] - a[0]);
      const list = answers[question[w]];
      const context = contexts[question[w]];
      for (const [score, s, e] of spans.slice(0, preTopK)) {
        const [start, end] = charSpan(enc, s, e);
        const text = context.slice(start, end);
        const same = list.find((a) => a.answer.toLowerCase() === text.toLowerCase());
        if (same) same.score += score;
        else list.push({ score, start, end, answer: text });
      }
    });
    return {
      kind: "answers",
      task: ctx.task,
      answers: answers.map((list) => list.sort((a, b) => b.score - a.score).slice(0, topK)),
    };
  },
};
