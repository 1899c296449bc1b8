/**
 * The `automatic-speech-recognition` task for CTC heads (Wav2Vec2, HuBERT, WavLM, Data2VecAudio …
 * `…ForCTC`): WAV clips → waveform ({@linkcode audioFeeds}) → logits `[batch, frames, vocab]` → greedy
 * CTC decoding exactly as transformers' speech-recognition pipeline decodes CTC output
 * (`Wav2Vec2CTCTokenizer.decode` without `skip_special_tokens`): the best token per frame, repeats
 * collapsed, then the pad (blank) token dropped, the word delimiter (`|`) read as a space, the ends
 * trimmed, lower-cased when tokenizer_config.json says `do_lower_case`. Other special tokens (`<unk>`)
 * stay in the text, as in Python — checked against it on 200 random id sequences.
 *
 * The vocabulary comes from vocab.json (token → id), else tokenizer.json's `model.vocab`; the pad token and
 * word delimiter from tokenizer_config.json / special_tokens_map.json, with Wav2Vec2CTCTokenizer's
 * defaults (`<pad>`, `|`).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { tensorNumbers } from "./classification.ts";
import { audioFeeds, type AudioTaskState, setupAudioTask } from "./audio_features.ts";
import { logitsOf } from "./image_classification.ts";
import type { PipelineContext, TaskHandler } from "./task_types.ts";

/** What greedy CTC decoding needs. */
export interface CtcVocabulary {
  /** Token per id. */
  tokens: string[];
  /** The blank/pad id. */
  padId: number;
  /** The word delimiter token (read as a space). */
  wordDelimiter: string;
  /** Ids dropped from the text after repeats are collapsed (the pad/blank token). */
  special: Set<number>;
  /** Lower-case the text (tokenizer_config.json `do_lower_case`). */
  lowerCase: boolean;
}

function tokenName(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * The CTC vocabulary of a model's repository.
 *
 * @throws {NotFoundError} neither vocab.json nor tokenizer.json (naming vocab.json and the `gpux pull`).
 */
export async function loadCtcVocabulary(ctx: PipelineContext): Promise<CtcVocabulary> {
  let vocab = await ctx.files.readJsonIfPresent("vocab.json") as Record<string, unknown> | undefined;
  if (!vocab) {
    const tokenizer = await ctx.files.readJsonIfPresent("tokenizer.json") as
      | { model?: { vocab?: unknown } }
      | undefined;
    const v = tokenizer?.model?.vocab;
    if (v && typeof v === "object" && !Array.isArray(v)) vocab = v as Record<string, unknown>;
  }
  if (!vocab) throw ctx.files.missing("vocab.json", "it maps the CTC head's outputs to characters");
  // Multi-lingual Wav2Vec2 vocab.json nests one vocabulary per language: take the only one, else refuse.
  const values = Object.values(vocab);
  if (values.length && values.every((v) => v && typeof v === "object")) {
    if (values.length !== 1) {
      throw new InputError(`vocab.json holds ${values.length} language vocabularies; gpux cannot choose one yet`);
    }
    vocab = values[0] as Record<string, unknown>;
  }
  const tokens: string[] = [];
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw new InputError(`vocab.json: the id of ${JSON.stringify(token)} is not a non-negative integer`);
    }
    tokens[id] = token;
  }
  const config = (await ctx.files.readJsonIfPresent("tokenizer_config.json") ?? {}) as Record<string, unknown>;
  const specialMap = (await ctx.files.readJsonIfPresent("special_tokens_map.json") ?? {}) as Record<string, unknown>;
  const pick = (key: string, fallback: string) => tokenName(config[key]) ?? tokenName(specialMap[key]) ?? fallback;
  const pad = pick("pad_token", "<pad>");
  const padId = tokens.indexOf(pad);
  if (padId < 0) throw new InputError(`vocab.json has no pad (blank) token ${JSON.stringify(pad)}`);
  const special = new Set([padId]);
  return {
    tokens,
    padId,
    wordDelimiter: tokenName(config.word_delimiter_token) ?? "|",
    special,
    lowerCase: config.do_lower_case === true,
  };
}

/**
 * Greedy CTC decoding of one sequence of frame-wise best ids: collapse repeats, drop the blank and the
 * special tokens, word delimiter → space, surrounding spaces trimmed (inner runs kept, as in Python).
 *
 * @example
 * ```ts
 * const vocab = { tokens: ["<pad>", "|", "H", "I"], padId: 0, wordDelimiter: "|", special: new Set([0]), lowerCase: false };
 * decodeCtc([2, 2, 0, 3, 1, 1, 3], vocab); // "HI I"
 * ```
 */
export function decodeCtc(ids: ArrayLike<number>, vocab: CtcVocabulary): string {
  let text = "";
  let previous = -1;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id === previous) continue;
    previous = id;
    if (vocab.special.has(id)) continue;
    const token = vocab.tokens[id] ?? "";
    text += token === vocab.wordDelimiter ? " " : token;
  }
  text = text.trim();
  return vocab.lowerCase ? text.toLowerCase() : text;
}

interface AsrState extends AudioTaskState {
  vocab: CtcVocabulary;
}

/** The automatic-speech-recognition (CTC) handler. */
export const speechRecognition: TaskHandler<AsrState> = {
  task: "automatic-speech-recognition",
  accepts: ["audio"],
  async setup(ctx) {
    const architectures = ctx.config.architectures;
    if (
      Array.isArray(architectures) && architectures.some((a) => /ForSpeechSeq2Seq|ForConditionalGeneration/.test(a))
    ) {
      throw new InputError(
        `${architectures.join(", ")} is an encoder-decoder speech model; gpux transcribes CTC models (…ForCTC) only`,
        { hint: "run it on tensors with --raw --input" },
      );
    }
    const [audio, vocab] = await Promise.all([setupAudioTask(ctx), loadCtcVocabulary(ctx)]);
    return { ...audio, vocab };
  },
  preprocess(input, ctx, state) {
    if (input.kind !== "audio") throw new InputError(`automatic-speech-recognition takes audio, not ${input.kind}`);
    return Promise.resolve({ feeds: audioFeeds(input, state, ctx.maxAudioSeconds).feeds });
  },
  postprocess(outputs, _pre, ctx, state) {
    const logits = logitsOf(outputs, ctx.session.outputs.map((o) => o.name));
    if (logits.shape.length !== 3) {
      throw new InputError(`expected CTC logits [batch, frames, vocab], got shape [${logits.shape.join(", ")}]`);
    }
    const [batch, frames, size] = logits.shape;
    const values = tensorNumbers(logits);
    const texts: string[] = [];
    for (let b = 0; b < batch; b++) {
      const ids = new Int32Array(frames);
      for (let f = 0; f < frames; f++) {
        const row = (b * frames + f) * size;
        let best = 0;
        for (let v = 1; v < size; v++) if (values[row + v] > values[row + best]) best = v;
        ids[f] = best;
      }
      texts.push(decodeCtc(ids, state.vocab));
    }
    return { kind: "transcription", task: ctx.task, texts };
  },
};
