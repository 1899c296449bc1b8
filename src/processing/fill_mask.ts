/**
 * fill-mask (BERT's own task, RoBERTa, DistilBERT): the text carries the tokenizer's mask token; the
 * logits at each mask position are soft-maxed over the vocabulary (the best among `targets` only, when given) and the best
 * `topK` tokens are returned with the sequence they complete — as transformers' FillMaskPipeline, whose
 * sequence keeps special tokens when a text has several masks.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { tensorNumbers } from "./classification.ts";
import type { FillMaskCandidate, PipelineContext, TaskHandler, TextInput } from "./task_types.ts";
import { logitsOf } from "./text_classification.ts";
import { encodeText, setupText, textFeeds, type TextState } from "./text_inputs.ts";

interface FillMaskState extends TextState {
  maskToken: string;
  maskId: number;
  /** tokenizer_config.json `clean_up_tokenization_spaces`, else false (transformers 5's default). */
  cleanUp: boolean;
}

/** The mask token: tokenizer_config.json `mask_token`, else `[MASK]` or `<mask>` when the vocabulary has it. */
async function maskTokenOf(
  ctx: PipelineContext,
  state: TextState,
): Promise<{ maskToken: string; maskId: number; cleanUp: boolean }> {
  const config = await ctx.files.readJsonIfPresent("tokenizer_config.json") as Record<string, unknown> | undefined;
  const cleanUp = config?.clean_up_tokenization_spaces === true;
  const declared = config?.mask_token;
  const named = typeof declared === "string"
    ? declared
    : declared && typeof declared === "object" && typeof (declared as { content?: unknown }).content === "string"
    ? (declared as { content: string }).content
    : undefined;
  for (const token of named ? [named] : ["[MASK]", "<mask>"]) {
    const id = state.tokenizer.tokenToId(token);
    if (id !== undefined) return { maskToken: token, maskId: id, cleanUp };
  }
  throw new InputError("fill-mask needs a tokenizer with a mask token; this one has none", {
    hint: "set mask_token in tokenizer_config.json, or use a masked language model (BERT, RoBERTa, DistilBERT)",
  });
}

/** The vocabulary ids of `targets`: a token of the vocabulary as it is, else the first token of its encoding. */
function targetIds(targets: readonly string[], state: FillMaskState): number[] {
  const ids: number[] = [];
  for (const target of targets) {
    let id = state.tokenizer.tokenToId(target);
    if (id === undefined) id = state.tokenizer.encode(target, { addSpecialTokens: false }).inputIds[0];
    if (id !== undefined && !ids.includes(id)) ids.push(id);
  }
  if (ids.length === 0) {
    throw new InputError(`none of the targets ${JSON.stringify(targets)} is in the model's vocabulary`, {
      hint: "give words the tokenizer knows (--targets paris,london)",
    });
  }
  return ids.sort((a, b) => a - b);
}

/**
 * The `k` most probable tokens of a row of logits, as `[probability, id]`, best first (ties: lower id first): one
 * pass for the softmax's maximum and sum over the whole vocabulary, one for the selection (among `targets` only when
 * given, as transformers: their probabilities stay those of the whole vocabulary's softmax), no sort of the vocabulary.
 */
function topTokens(row: ArrayLike<number>, k: number, targets?: number[]): [number, number][] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const n = targets ? targets.length : row.length;
  const best: [number, number][] = []; // [logit, id], kept sorted best first
  for (let i = 0; i < n; i++) {
    const id = targets ? targets[i] : i;
    const v = row[id];
    if (best.length === k && v <= best[k - 1][0]) continue;
    let at = best.length;
    while (at > 0 && best[at - 1][0] < v) at--;
    best.splice(at, 0, [v, id]);
    if (best.length > k) best.pop();
  }
  return best.map(([v, id]) => [Math.exp(v - max) / sum, id]);
}

/**
 * The fill-mask handler.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * const fill = await loadPipeline("acme/bert-base-uncased");
 * const result = await fill.run("the capital of france is [MASK].", { topK: 2 });
 * if (result.kind === "fill-mask") console.log(result.masks[0][0].map((c) => `${c.tokenStr} ${c.score.toFixed(4)}`));
 * // [ "paris 0.4316", "lyon 0.0712" ]
 * ```
 */
export const fillMask: TaskHandler<FillMaskState> = {
  task: "fill-mask",
  accepts: ["text"],
  async setup(ctx) {
    const text = await setupText(ctx);
    return { ...text, ...await maskTokenOf(ctx, text) };
  },
  preprocess(input, ctx, state) {
    const text = input as TextInput;
    text.texts.forEach((t) => {
      if (!t.includes(state.maskToken)) {
        throw new InputError(`${JSON.stringify(t.length > 60 ? `${t.slice(0, 59)}…` : t)} has no mask token`, {
          hint: `put the tokenizer's mask token ${state.maskToken} where the word to guess goes`,
        });
      }
    });
    const batch = encodeText(text, state);
    return Promise.resolve({ feeds: textFeeds(ctx.session.inputs, batch), meta: batch });
  },
  postprocess(outputs, pre, ctx, state, options) {
    const batch = pre.meta as ReturnType<typeof encodeText>;
    const logits = logitsOf(outputs, ctx.session.outputs);
    // a float32 tensor is read where it lies: copying 30,522 × tokens values to float64 costs more than the rest
    const values = logits.dtype === "float32" ? logits.data as Float32Array : tensorNumbers(logits);
    const [, length, vocab] = logits.shape;
    const targets = options.targets?.length ? targetIds(options.targets, state) : undefined;
    const k = Math.min(options.topK ?? 5, targets?.length ?? vocab);
    const masks: FillMaskCandidate[][][] = batch.inputIds.map((ids, b) => {
      const positions = ids.flatMap((id, i) => (id === state.maskId ? [i] : []));
      const single = positions.length === 1;
      return positions.map((position) => {
        const row = values.subarray((b * length + position) * vocab, (b * length + position + 1) * vocab);
        const best = topTokens(row, k, targets);
        return best.map(([score, token]) => {
          const filled = ids.map((id, i) => (i === position ? token : id))
            .filter((id, i) => batch.attentionMask[b][i] === 1 && id !== state.tokenizer.settings.padId);
          return {
            score,
            token,
            tokenStr: state.tokenizer.decode([token], { cleanUpTokenizationSpaces: state.cleanUp }),
            sequence: state.tokenizer.decode(filled, {
              skipSpecialTokens: single,
              cleanUpTokenizationSpaces: state.cleanUp,
            }),
          };
        });
      });
    });
    return { kind: "fill-mask", task: ctx.task, masks };
  },
};
