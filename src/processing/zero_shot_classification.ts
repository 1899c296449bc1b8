/**
 * zero-shot-classification with an NLI model (config.json `label2id` has an `entailment` label): each
 * text is paired with `hypothesisTemplate` filled with each candidate label; the entailment logits are
 * soft-maxed across labels (one label true), or, with `multiLabel`, entailment against contradiction per
 * label — as transformers' ZeroShotClassificationPipeline.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { softmax, tensorNumbers } from "./classification.ts";
import type { LabelScore, PipelineContext, TaskHandler, TextInput } from "./task_types.ts";
import { logitsOf } from "./text_classification.ts";
import { setupText, textFeeds, type TextState } from "./text_inputs.ts";

/** Indices of the entailment and contradiction labels in config.json. */
export function nliLabels(config: Record<string, unknown>): { entailment: number; contradiction: number } | undefined {
  const label2id = config.label2id as Record<string, number> | undefined;
  const id2label = config.id2label as Record<string, string> | undefined;
  const pairs: [string, number][] = label2id && typeof label2id === "object"
    ? Object.entries(label2id).map(([k, v]) => [k, Number(v)])
    : id2label && typeof id2label === "object"
    ? Object.entries(id2label).map(([k, v]) => [String(v), Number(k)])
    : [];
  const entailment = pairs.find(([k]) => k.toLowerCase().startsWith("entail"))?.[1];
  if (entailment === undefined) return undefined;
  const contradiction = pairs.find(([k]) => k.toLowerCase().startsWith("contradict"))?.[1] ??
    (entailment === 0 ? -1 : 0);
  return { entailment, contradiction };
}

interface ZeroShotState extends TextState {
  entailment: number;
  contradiction: number;
}

/** The zero-shot-classification handler. */
export const zeroShotClassification: TaskHandler<ZeroShotState> = {
  task: "zero-shot-classification",
  accepts: ["text"],
  async setup(ctx: PipelineContext) {
    const nli = nliLabels(ctx.config);
    if (!nli) {
      throw new InputError(
        "zero-shot-classification needs an NLI model: config.json's label2id has no entailment label",
        { hint: "use a model fine-tuned on MNLI/XNLI (labels entailment, neutral, contradiction), or another --task" },
      );
    }
    return { ...await setupText(ctx), ...nli };
  },
  preprocess(input, ctx, state) {
    const text = input as TextInput;
    const labels = text.candidateLabels ?? [];
    if (labels.length === 0) {
      throw new InputError("zero-shot classification needs candidate labels", {
        hint: 'pass them: --labels "sports,politics,cooking" (or candidateLabels in the input)',
      });
    }
    const template = text.hypothesisTemplate ?? "This example is {}.";
    const premises: string[] = [], hypotheses: string[] = [];
    for (const t of text.texts) {
      for (const l of labels) {
        premises.push(t);
        hypotheses.push(template.replaceAll("{}", l));
      }
    }
    const batch = state.tokenizer.encodeBatch(premises, {
      maxLength: state.maxLength,
      truncation: state.maxLength !== undefined ? "only_first" : false,
      padding: state.fixedLength !== undefined ? "max_length" : true,
    }, hypotheses);
    return Promise.resolve({ feeds: textFeeds(ctx.session.inputs, batch), meta: { texts: text.texts.length, labels } });
  },
  postprocess(outputs, pre, ctx, state, options) {
    const { texts, labels } = pre.meta as { texts: number; labels: string[] };
    const logits = logitsOf(outputs, ctx.session.outputs);
    const values = tensorNumbers(logits);
    const classes = logits.shape[logits.shape.length - 1];
    const predictions: LabelScore[][] = [];
    for (let t = 0; t < texts; t++) {
      const row = (l: number) =>
        values.subarray((t * labels.length + l) * classes, (t * labels.length + l + 1) * classes);
      let scores: number[];
      if (options.multiLabel) {
        scores = labels.map((_, l) => {
          const r = row(l);
          if (state.contradiction < 0) return 1 / (1 + Math.exp(-r[state.entailment]));
          return softmax([r[state.contradiction], r[state.entailment]])[1];
        });
      } else {
        scores = Array.from(softmax(labels.map((_, l) => row(l)[state.entailment])));
      }
      predictions.push(
        labels.map((label, i) => ({ label, score: scores[i] })).sort((a, b) => b.score - a.score)
          .slice(0, options.topK ?? labels.length),
      );
    }
    return { kind: "zero-shot", task: ctx.task, predictions };
  },
};
