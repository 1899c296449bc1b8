/**
 * token-classification (NER): per-token softmax, labels from `id2label`, entities with character
 * offsets into the input text, aggregated as transformers' pipeline does: `none` (every token not
 * labelled `O`), `simple` (consecutive tokens with the same entity type, B-/I- aware; the default) and
 * `first` (words first — a word takes its first token's label — then `simple` grouping of the words).
 *
 * @module
 */
import type { Entity, TaskHandler, TextInput } from "./task_types.ts";
import { labelNames, softmax, tensorNumbers } from "./classification.ts";
import { logitsOf } from "./text_classification.ts";
import { encodeText, setupText, textFeeds, type TextState } from "./text_inputs.ts";
import type { BatchEncoding } from "./tokenizer.ts";

interface TokenEntity {
  label: string;
  score: number;
  scores: Float64Array;
  start: number;
  end: number;
  isSubword: boolean;
}

function tagOf(label: string): [string, string] {
  if (label.startsWith("B-")) return ["B", label.slice(2)];
  if (label.startsWith("I-")) return ["I", label.slice(2)];
  return ["I", label];
}

function groupSub(group: TokenEntity[], text: string): Entity {
  const [, tag] = tagOf(group[0].label);
  const score = group.reduce((s, e) => s + e.score, 0) / group.length;
  const start = group[0].start, end = group[group.length - 1].end;
  return { label: tag, score, word: text.slice(start, end), start, end };
}

/** transformers' group_entities: consecutive entities of one type, a `B-` starting a new one. */
export function groupEntities(entities: TokenEntity[], text: string): Entity[] {
  const groups: Entity[] = [];
  let current: TokenEntity[] = [];
  for (const e of entities) {
    if (current.length === 0) {
      current.push(e);
      continue;
    }
    const [bi, tag] = tagOf(e.label);
    const [, lastTag] = tagOf(current[current.length - 1].label);
    if (tag === lastTag && bi !== "B") current.push(e);
    else {
      groups.push(groupSub(current, text));
      current = [e];
    }
  }
  if (current.length) groups.push(groupSub(current, text));
  return groups;
}

/** transformers' aggregate_words with the `first` strategy: a word is its first token plus its subwords. */
function aggregateFirst(tokens: TokenEntity[], labels: string[]): TokenEntity[] {
  const words: TokenEntity[] = [];
  let word: TokenEntity[] = [];
  const flush = () => {
    if (!word.length) return;
    const scores = word[0].scores;
    let best = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
    words.push({
      label: labels[best],
      score: scores[best],
      scores,
      start: word[0].start,
      end: word[word.length - 1].end,
      isSubword: false,
    });
    word = [];
  };
  for (const t of tokens) {
    if (!t.isSubword) flush();
    word.push(t);
  }
  flush();
  return words;
}

/** Entities of each row of a batch from `[batch, tokens, labels]` logits. */
export function tokenEntities(
  logits: { shape: number[]; values: Float64Array },
  batch: BatchEncoding,
  texts: string[],
  labels: string[],
  aggregation: "none" | "simple" | "first",
  subwordPrefix?: string,
): Entity[][] {
  const [, tokens, classes] = logits.shape;
  return batch.encodings.map((enc, b) => {
    const text = texts[b];
    const items: TokenEntity[] = [];
    for (let t = 0; t < Math.min(tokens, enc.inputIds.length); t++) {
      if (enc.sequenceIds[t] !== 0) continue; // special, pad and pair tokens
      const [start, end] = enc.offsets[t];
      const scores = softmax(logits.values.subarray((b * tokens + t) * classes, (b * tokens + t + 1) * classes));
      let best = 0;
      for (let i = 1; i < classes; i++) if (scores[i] > scores[best]) best = i;
      const token = enc.tokens[t];
      // transformers' gather_pre_entities: with a continuing-subword prefix, a token whose string is not
      // as long as its text is a subword ("##ing" vs "ing"); else one not preceded by a space
      const isSubword = subwordPrefix
        ? [...token].length !== [...text.slice(start, end)].length
        : start > 0 && !text.slice(start - 1, start + 1).includes(" ");
      items.push({ label: labels[best], score: scores[best], scores, start, end, isSubword });
    }
    if (aggregation === "none") {
      return items.filter((e) => e.label !== "O").map((e) => ({
        label: e.label,
        score: e.score,
        word: text.slice(e.start, e.end),
        start: e.start,
        end: e.end,
      }));
    }
    const units = aggregation === "first" ? aggregateFirst(items, labels) : items;
    return groupEntities(units, text).filter((e) => e.label !== "O");
  });
}

/** The token-classification handler. */
export const tokenClassification: TaskHandler<TextState> = {
  task: "token-classification",
  accepts: ["text"],
  setup: setupText,
  preprocess(input, ctx, state) {
    const text = input as TextInput;
    const batch = encodeText(text, state, undefined);
    return Promise.resolve({ feeds: textFeeds(ctx.session.inputs, batch), meta: { batch, texts: text.texts } });
  },
  postprocess(outputs, pre, ctx, state, options) {
    const { batch, texts } = pre.meta as { batch: BatchEncoding; texts: string[] };
    const logits = logitsOf(outputs, ctx.session.outputs);
    const classes = logits.shape[logits.shape.length - 1];
    const labels = labelNames(ctx, classes);
    const prefix = state.tokenizer.subwordPrefix;
    return {
      kind: "entities",
      task: ctx.task,
      entities: tokenEntities(
        { shape: logits.shape, values: tensorNumbers(logits) },
        batch,
        texts,
        labels,
        options.aggregation ?? "simple",
        prefix,
      ),
    };
  },
};
