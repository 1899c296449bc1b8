/**
 * The text-generation pipeline: a decoder-only ONNX model with its tokenizer, chat template and
 * generation config, ready to answer prompts and conversations — streamed as text deltas, or whole.
 * It checks the graph's contract once at load ({@linkcode readDecoderContract}), builds the prompt ids
 * (plain text with the tokenizer's special tokens, or a conversation through the chat template), checks
 * that the prompt and the answer fit the context, and runs the {@linkcode decode} loop.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { GpuxSession } from "../runtime/session.ts";
import type { ModelFiles } from "../processing/model_files.ts";
import type { TaskSource } from "../processing/task_detection.ts";
import { loadTokenizer, type TextTokenizer } from "../processing/tokenizer.ts";
import { type DecoderContract, readDecoderContract } from "./decoder_contract.ts";
import { type GenerationOverrides, type GenerationSettings, resolveGenerationSettings } from "./generation_config.ts";
import { type ChatMessage, type ChatTemplate, loadChatTemplate } from "./chat_template.ts";
import {
  decode,
  type DecodeOutcome,
  type FinishReason,
  type KvCache,
  type SequenceConstraint,
  type StepDelta,
} from "./decode_loop.ts";
import type { BatchSequence } from "./continuous_batch.ts";
import { jsonConstraintFactory, type ResponseFormat } from "./json_constraint.ts";
import { MAX_TOP_LOGPROBS, type TokenLogprob, type TokenLogprobs } from "./token_logprobs.ts";
import { seededRandom } from "./seeded_random.ts";
import { PushQueue } from "../push_queue.ts";

export type { ChatMessage, FinishReason, ResponseFormat, TokenLogprob, TokenLogprobs };

/**
 * One step of a streamed generation: the token chosen (with its log-probabilities when `logprobs` was asked)
 * and the text it let out. Text can lag its token (a stop string or a split UTF-8 character is held back), so
 * `text` may be "" and a later delta may carry it; the concatenated texts always equal the result's text. The
 * last delta of a cancelled row may carry text and no token.
 */
export interface GenerationDelta extends StepDelta {
  /** The prompt's index (0 for a single prompt). */
  index: number;
}

/** New tokens when neither the options nor generation_config.json say how many. */
export const DEFAULT_MAX_NEW_TOKENS = 256;

/** Options of one generation. */
export interface GenerateOptions extends GenerationOverrides {
  /** Seed of the sampling random numbers (default: a random one); the same seed gives the same text. */
  seed?: number;
  /** Stop strings: generation ends when the text contains one (it is not part of the text). */
  stop?: string[];
  /** Cancels the generation within one step (finish reason `cancelled`). */
  signal?: AbortSignal;
  /** When the prompt and `maxNewTokens` do not fit the context: `left` drops the prompt's oldest tokens (default: an error). */
  truncate?: "left";
  /** Keep special tokens (`<|im_end|>`) in the text (default false). */
  keepSpecialTokens?: boolean;
  /** Chat: a system message put first (when the messages have none). */
  system?: string;
  /** Chat: extra template variables, e.g. `{ enable_thinking: false }`. */
  templateVariables?: Record<string, unknown>;
  /** Chat: tool definitions for templates that take `tools`. */
  tools?: unknown[];
  /** Gets each row's text deltas as they are decoded (batches; a single prompt streams through `generate`). */
  onText?: (index: number, text: string) => void;
  /** Gets every step of every row: token id, log-probabilities (when asked) and text (see {@linkcode GenerationDelta}). */
  onDelta?: (delta: GenerationDelta) => void;
  /** Report each generated token's log-probability (`SequenceResult.logprobs`, and in each delta). */
  logprobs?: boolean;
  /** With `logprobs`: how many most likely alternatives per token, 0–20 (default 0). */
  topLogprobs?: number;
  /**
   * JSON mode: `{ type: "json_object" }` (any JSON object) or `{ type: "json_schema", schema }` holds the output to
   * valid JSON by masking tokens while decoding; it ends (finish reason `stop`) when the value is complete.
   */
  responseFormat?: ResponseFormat;
}

/** Token counts of a generation. */
export interface GenerationUsage {
  /** Tokens in the prompt(s). */
  promptTokens: number;
  /** Tokens generated. */
  generatedTokens: number;
  /** Prompt tokens whose keys and values were reused from the previous turn of a chat. */
  cachedTokens: number;
  /** Prompt + generated. */
  totalTokens: number;
}

/** Where the time went, in milliseconds, and the rates. */
export interface GenerationTimings {
  /** Prompt to ids (template and tokenizer). */
  tokenizeMs: number;
  /** The prefill step: the prompt through the model and the first token chosen. */
  prefillMs: number;
  /** From the call to the first token. */
  timeToFirstTokenMs: number;
  /** The steps after the first token. */
  decodeMs: number;
  /** The whole call. */
  totalMs: number;
  /** Prompt tokens computed (not reused) per second of prefill. */
  promptTokensPerSecond: number;
  /** Tokens per second over the decode steps (after the first token). */
  generatedTokensPerSecond: number;
}

/** One prompt's answer. */
export interface SequenceResult {
  /** The generated text (special tokens and a stop string left out). */
  text: string;
  /** The prompt's token ids (after the template and any truncation). */
  promptIds: number[];
  /** The generated token ids (an EOS id that ended it included). */
  generatedIds: number[];
  /** `stop` (an EOS id, a stop string, or a complete JSON value in JSON mode), `length` (the token budget) or `cancelled`. */
  finishReason: FinishReason;
  /** Per generated token (EOS included), when `logprobs` was asked: log-softmax of the model's raw logits. */
  logprobs?: TokenLogprobs[];
}

/** What a generation returns: the first (or only) answer's fields, and every answer in `sequences`. */
export interface GenerationResult extends SequenceResult {
  /** Result kind (so a pipeline result can be told apart from a task result). */
  kind: "generation";
  /** Every answer, one per prompt. */
  sequences: SequenceResult[];
  /** Token counts, over all prompts. */
  usage: GenerationUsage;
  /** Timings. */
  timings: GenerationTimings;
}

/**
 * A streamed generation: iterate it for text deltas, or iterate {@linkcode GenerationStream.deltas} for
 * per-token deltas (id, log-probabilities, text) — one or the other, once; `result` resolves once it has ended.
 *
 * @example
 * ```ts ignore
 * const stream = pipeline.generate("Hi", { logprobs: true, topLogprobs: 2 });
 * for await (const d of stream.deltas()) console.log(d.text, d.logprobs?.logprob);
 * ```
 */
export interface GenerationStream extends AsyncIterable<string> {
  /** The whole result (iterating is optional: awaiting it runs the generation to the end). */
  readonly result: Promise<GenerationResult>;
  /** Per-step deltas (a single prompt): each generated token with its log-probabilities and the text it let out. */
  deltas(): AsyncIterable<GenerationDelta>;
}

/** A prompt already tokenized: the ids are fed as they are. */
export interface PromptIds {
  /** Token ids. */
  ids: number[];
}

/** A prompt: plain text (completion), a conversation rendered with the chat template, or token ids. */
export type Prompt = string | ChatMessage[] | PromptIds;

/** A prompt made ready for the continuous batch ({@linkcode TextGenerationPipeline.prepareSequence}). */
export type PreparedSequence = Omit<BatchSequence, "signal" | "onStep">;

/** A multi-turn chat that keeps the model's KV cache between turns. */
export interface ChatSession {
  /** The conversation so far. */
  readonly messages: ChatMessage[];
  /** Sends a user message and streams the answer (appended to `messages` when it ends). */
  send(content: string, options?: GenerateOptions): GenerationStream;
  /** Forgets the conversation and the cache (keeps the system message unless `keepSystem` is false). */
  clear(keepSystem?: boolean): void;
  /** Sets (or with undefined removes) the system message. */
  setSystem(content: string | undefined): void;
}

/** A loaded text-generation model. Dispose it when done. */
export interface TextGenerationPipeline {
  /** Always `text-generation`. */
  readonly task: "text-generation";
  /** Where the task name came from. */
  readonly taskSource: TaskSource;
  /** The decoder session. */
  readonly session: GpuxSession;
  /** The tokenizer. */
  readonly tokenizer: TextTokenizer;
  /** The chat template, when the model has one. */
  readonly chatTemplate?: ChatTemplate;
  /** The graph's inputs and outputs by role. */
  readonly contract: DecoderContract;
  /** The model's generation defaults (generation_config.json, config.json). */
  readonly defaults: GenerationSettings;
  /** Context length, when the config gives one. */
  readonly contextLength?: number;
  /** Generates for one prompt, streaming text deltas. */
  generate(prompt: Prompt, options?: GenerateOptions): GenerationStream;
  /** Generates for one prompt or a batch (texts or conversations), decoded together; the whole result. */
  run(prompts: Prompt | string[] | ChatMessage[][], options?: GenerateOptions): Promise<GenerationResult>;
  /** Starts a multi-turn chat (needs a chat template). */
  chat(options?: { system?: string }): ChatSession;
  /**
   * One prompt made ready for the continuous batch (continuous_batch.ts): its ids, budget, settings, seed, stop strings and JSON
   * constraint exactly as {@linkcode TextGenerationPipeline.generate} would use them (so the batch decodes it as a
   * run alone would). The caller adds the signal and the step callback.
   *
   * @throws {InputError} as `generate` would: a prompt over the context, bad settings, an unenforceable format.
   */
  prepareSequence(prompt: Prompt, options?: GenerateOptions): PreparedSequence;
  /** The prompt ids of a prompt, as generation would build them. */
  encodePrompt(prompt: Prompt, options?: GenerateOptions): number[];
  /** Releases the session. */
  dispose(): Promise<void>;
  /** `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What {@linkcode createTextGeneration} needs: a session and the model's files. */
export interface TextGenerationParts {
  /** The decoder session (owned by the pipeline from now on). */
  session: GpuxSession;
  /** The repository's files. */
  files: ModelFiles;
  /** Where the task came from. */
  taskSource: TaskSource;
}

function isMessages(p: unknown): p is ChatMessage[] {
  return Array.isArray(p) && p.length > 0 && typeof p[0] === "object" && p[0] !== null && !Array.isArray(p[0]);
}

function isPromptIds(p: unknown): p is PromptIds {
  return typeof p === "object" && p !== null && !Array.isArray(p) && Array.isArray((p as PromptIds).ids) &&
    (p as PromptIds).ids.every((id) => Number.isInteger(id) && id >= 0);
}

function checkMessages(messages: ChatMessage[]): void {
  for (const [i, m] of messages.entries()) {
    // an assistant message that only calls tools may have no content (OpenAI sends null)
    const contentOk = typeof m?.content === "string" || (m?.content === null && Array.isArray(m.tool_calls));
    if (!m || typeof m.role !== "string" || !contentOk) {
      throw new InputError(`message ${i} needs a string role and a string content`, {
        hint: `give messages like [{"role": "user", "content": "Hello"}]`,
      });
    }
  }
}

/**
 * Builds the pipeline around a loaded session: reads the contract, tokenizer, chat template and
 * generation config. The session is disposed if this fails.
 *
 * @throws {InputError} the graph is not a decoder gpux can drive (exit 2).
 * @throws {NotFoundError} tokenizer.json is missing (exit 3).
 */
export async function createTextGeneration(parts: TextGenerationParts): Promise<TextGenerationPipeline> {
  const { session, files } = parts;
  try {
    const genai = await files.readJsonIfPresent("genai_config.json") as Record<string, unknown> | undefined;
    const config = (await files.readJsonIfPresent("config.json") ?? genaiShape(genai)) as Record<string, unknown>;
    const contract = readDecoderContract(session.inputs, session.outputs, config);
    const tokenizer = await loadTokenizer(files);
    const chatTemplate = await loadChatTemplate(files);
    const generationConfig = await files.readJsonIfPresent("generation_config.json") as
      | Record<string, unknown>
      | undefined;
    const defaults = resolveGenerationSettings(generationConfig, config, {}, genai);
    return new TextGenerator(parts, contract, tokenizer, chatTemplate, defaults, {
      generationConfig,
      config,
      genai,
    });
  } catch (error) {
    await session.dispose();
    throw error;
  }
}

interface Configs {
  generationConfig?: Record<string, unknown>;
  config: Record<string, unknown>;
  genai?: Record<string, unknown>;
}

class TextGenerator implements TextGenerationPipeline {
  readonly task = "text-generation" as const;
  readonly taskSource: TaskSource;
  readonly session: GpuxSession;
  readonly tokenizer: TextTokenizer;
  readonly chatTemplate?: ChatTemplate;
  readonly contract: DecoderContract;
  readonly defaults: GenerationSettings;
  readonly contextLength?: number;
  #configs: Configs;
  #busy: Promise<unknown> = Promise.resolve();
  #disposed = false;

  constructor(
    parts: TextGenerationParts,
    contract: DecoderContract,
    tokenizer: TextTokenizer,
    chatTemplate: ChatTemplate | undefined,
    defaults: GenerationSettings,
    configs: Configs,
  ) {
    this.session = parts.session;
    this.taskSource = parts.taskSource;
    this.contract = contract;
    this.tokenizer = tokenizer;
    this.chatTemplate = chatTemplate;
    this.defaults = defaults;
    this.contextLength = defaults.contextLength;
    this.#configs = configs;
  }

  encodePrompt(prompt: Prompt, options: GenerateOptions = {}): number[] {
    if (typeof prompt === "string") {
      if (options.system !== undefined) return this.#renderChat([{ role: "user", content: prompt }], options);
      return this.tokenizer.encode(prompt, { truncation: false }).inputIds;
    }
    if (isPromptIds(prompt)) return [...prompt.ids];
    if (!isMessages(prompt)) {
      throw new InputError("a prompt is a text, a non-empty list of {role, content} messages, or {ids}");
    }
    return this.#renderChat(prompt, options);
  }

  #renderChat(messages: ChatMessage[], options: GenerateOptions): number[] {
    return this.tokenizer.encode(this.#renderChatText(messages, options), {
      addSpecialTokens: false,
      truncation: false,
    })
      .inputIds;
  }

  #renderChatText(messages: ChatMessage[], options: GenerateOptions): string {
    checkMessages(messages);
    if (!this.chatTemplate) {
      throw new InputError("this model has no chat template, so it cannot take messages", {
        hint: "give a plain text prompt (--raw-prompt), or add a chat_template to tokenizer_config.json",
      });
    }
    const withSystem = options.system !== undefined && messages[0]?.role !== "system"
      ? [{ role: "system", content: options.system }, ...messages]
      : messages;
    return this.chatTemplate.render(withSystem, {
      addGenerationPrompt: true,
      tools: options.tools,
      variables: options.templateVariables,
    });
  }

  generate(prompt: Prompt, options: GenerateOptions = {}): GenerationStream {
    return this.#stream([prompt], options);
  }

  async run(prompts: Prompt | string[] | ChatMessage[][], options: GenerateOptions = {}): Promise<GenerationResult> {
    let list: Prompt[];
    if (typeof prompts === "string" || isMessages(prompts) || isPromptIds(prompts)) list = [prompts as Prompt];
    else if (Array.isArray(prompts) && prompts.length > 0) list = prompts as Prompt[];
    else throw new InputError("no prompt given: pass a text, a list of texts, or messages");
    return await this.#stream(list, options).result;
  }

  chat(options: { system?: string } = {}): ChatSession {
    if (!this.chatTemplate) {
      throw new InputError("this model has no chat template, so it cannot chat", {
        hint:
          "use plain completion (gpux run --prompt … --raw-prompt), or add a chat_template to tokenizer_config.json",
      });
    }
    const messages: ChatMessage[] = options.system !== undefined ? [{ role: "system", content: options.system }] : [];
    let cache: KvCache | undefined;
    // the text the cache's ids stand for: a new turn whose rendering extends it keeps those ids as they are
    // (re-encoding generated text need not give the generated ids back) and encodes only what is new
    let history: { ids: number[]; text: string } | undefined;
    let previous: Promise<unknown> = Promise.resolve();
    const tokenizer = this.tokenizer;
    const render = (turn: ChatMessage[], o: GenerateOptions) => this.#renderChatText(turn, o);
    const start = (ids: number[], o: GenerateOptions) =>
      this.#stream([{ ids }], o, { cache, onCache: (next) => cache = next });
    return {
      messages,
      send(content, sendOptions = {}) {
        // turns run one after another: a turn is rendered once the previous one is in `messages`
        const inner = previous.then(() => {
          const turn: ChatMessage[] = [...messages, { role: "user", content }];
          const text = render(turn, sendOptions);
          const encode = (t: string) => tokenizer.encode(t, { addSpecialTokens: false, truncation: false });
          const ids = history && text.startsWith(history.text)
            ? [...history.ids, ...encode(text.slice(history.text.length)).inputIds]
            : encode(text).inputIds;
          return { stream: start(ids, sendOptions), text };
        });
        const result = inner.then(({ stream, text }) =>
          stream.result.then((r) => {
            messages.push({ role: "user", content });
            if (r.finishReason !== "cancelled" || r.text) messages.push({ role: "assistant", content: r.text });
            history = cache
              ? { ids: [...r.promptIds, ...r.generatedIds], text: text + tokenizer.decode(r.generatedIds) }
              : undefined;
            return r;
          })
        ).catch((error) => {
          history = undefined;
          throw error;
        });
        previous = result.catch(() => undefined);
        return {
          result,
          async *[Symbol.asyncIterator]() {
            try {
              yield* (await inner).stream;
            } catch {
              // the same failure comes out of `result` below, which must be awaited so it is not left unhandled
            }
            await result;
          },
          async *deltas() {
            try {
              yield* (await inner).stream.deltas();
            } catch {
              // as above
            }
            await result;
          },
        };
      },
      clear(keepSystem = true) {
        const system = keepSystem && messages[0]?.role === "system" ? messages[0] : undefined;
        messages.length = 0;
        if (system) messages.push(system);
        cache = undefined;
        history = undefined;
      },
      setSystem(content) {
        if (messages[0]?.role === "system") messages.shift();
        if (content !== undefined) messages.unshift({ role: "system", content });
        cache = undefined;
        history = undefined;
      },
    };
  }

  #stream(
    prompts: Prompt[],
    options: GenerateOptions,
    chat?: { cache?: KvCache; onCache: (cache: KvCache | undefined) => void },
  ): GenerationStream {
    const queue = new PushQueue<GenerationDelta>();
    const single = prompts.length === 1;
    const onStep = (index: number, step: StepDelta) => {
      const delta = { index, ...step };
      options.onDelta?.(delta);
      if (single) queue.push(delta);
    };
    // one generation at a time per session: calls queue behind each other
    const result = this.#busy.then(() => this.#generate(prompts, options, onStep, chat));
    this.#busy = result.catch(() => undefined);
    const finished = result.finally(() => queue.end());
    finished.catch(() => undefined);
    async function* deltas(): AsyncGenerator<GenerationDelta> {
      yield* queue.drain();
      await result; // rethrows a failure
    }
    return {
      result,
      deltas,
      async *[Symbol.asyncIterator]() {
        for await (const delta of deltas()) if (delta.text) yield delta.text;
      },
    };
  }

  async #generate(
    prompts: Prompt[],
    options: GenerateOptions,
    onStep: (index: number, step: StepDelta) => void,
    chat?: { cache?: KvCache; onCache: (cache: KvCache | undefined) => void },
  ): Promise<GenerationResult> {
    if (this.#disposed) throw new InputError("the text-generation pipeline was disposed");
    const started = performance.now();
    const { settings, topLogprobs, constraint, ids, budgets, seed } = this.#prepare(prompts, options);
    const tokenizeMs = performance.now() - started;
    let outcome: DecodeOutcome;
    try {
      outcome = await decode(this.session, this.contract, this.tokenizer, {
        prompts: ids,
        maxNewTokens: budgets,
        sampling: settings,
        eosTokenIds: settings.eosTokenIds,
        padTokenId: settings.padTokenId,
        stop: options.stop ?? [],
        random: seededRandom(seed),
        skipSpecialTokens: !options.keepSpecialTokens,
        signal: options.signal,
        cache: chat?.cache,
        onText: options.onText,
        onStep,
        ...(constraint ? { constraint } : {}),
        ...(options.logprobs || options.topLogprobs ? { logprobs: topLogprobs } : {}),
      });
    } catch (error) {
      chat?.onCache(undefined);
      throw error;
    }
    chat?.onCache(outcome.cache);
    const totalMs = performance.now() - started;
    const sequences = outcome.sequences;
    const promptTokens = sequences.reduce((n, s) => n + s.promptIds.length, 0);
    const generatedTokens = sequences.reduce((n, s) => n + s.generatedIds.length, 0);
    const computedPrompt = promptTokens - outcome.cachedTokens;
    const decodeTokens = Math.max(0, generatedTokens - sequences.length);
    return {
      kind: "generation",
      ...sequences[0],
      sequences,
      usage: {
        promptTokens,
        generatedTokens,
        cachedTokens: outcome.cachedTokens,
        totalTokens: promptTokens + generatedTokens,
      },
      timings: {
        tokenizeMs: round(tokenizeMs),
        prefillMs: round(outcome.prefillMs),
        timeToFirstTokenMs: round(tokenizeMs + outcome.prefillMs),
        decodeMs: round(outcome.decodeMs),
        totalMs: round(totalMs),
        promptTokensPerSecond: rate(computedPrompt, outcome.prefillMs),
        generatedTokensPerSecond: rate(decodeTokens, outcome.decodeMs),
      },
    };
  }

  prepareSequence(prompt: Prompt, options: GenerateOptions = {}): PreparedSequence {
    if (this.#disposed) throw new InputError("the text-generation pipeline was disposed");
    const { settings, topLogprobs, constraint, ids, budgets, seed } = this.#prepare([prompt], options);
    return {
      promptIds: ids[0],
      maxNewTokens: budgets[0],
      sampling: settings,
      eosTokenIds: settings.eosTokenIds,
      stop: options.stop ?? [],
      seed,
      skipSpecialTokens: !options.keepSpecialTokens,
      ...(constraint ? { constraint } : {}),
      ...(options.logprobs || options.topLogprobs ? { logprobs: topLogprobs } : {}),
    };
  }

  /** Settings, prompt ids, budgets and seed of a generation: what the decode loop and the continuous batch are given. */
  #prepare(prompts: Prompt[], options: GenerateOptions): {
    settings: GenerationSettings;
    topLogprobs: number;
    constraint: ((vocab: number) => SequenceConstraint) | undefined;
    ids: number[][];
    budgets: number[];
    seed: number;
  } {
    const settings = resolveGenerationSettings(
      this.#configs.generationConfig,
      this.#configs.config,
      options,
      this.#configs.genai,
    );
    const topLogprobs = options.topLogprobs ?? 0;
    if (!Number.isInteger(topLogprobs) || topLogprobs < 0 || topLogprobs > MAX_TOP_LOGPROBS) {
      throw new InputError(`top_logprobs ${topLogprobs}: expected an integer from 0 to ${MAX_TOP_LOGPROBS}`, {
        hint: `ask for at most ${MAX_TOP_LOGPROBS} alternatives per token`,
      });
    }
    const constraint = jsonConstraintFactory(options.responseFormat, this.tokenizer, settings.eosTokenIds);
    let ids = prompts.map((p) => this.encodePrompt(p, options));
    const budgets: number[] = [];
    const context = settings.contextLength;
    for (let i = 0; i < ids.length; i++) {
      const length = ids[i].length;
      if (length === 0) {
        throw new InputError("the prompt is empty (no tokens)", { hint: "give a prompt with some text" });
      }
      const asked = options.maxNewTokens;
      let budget = settings.maxNewTokens ??
        (settings.maxLength !== undefined ? Math.max(1, settings.maxLength - length) : DEFAULT_MAX_NEW_TOKENS);
      if (context !== undefined && length + budget > context) {
        if (options.truncate === "left") {
          if (budget >= context) {
            throw new InputError(
              `max_new_tokens ${budget} leaves no room for a prompt in the context of ${context} tokens`,
              { hint: `ask for fewer new tokens (--max-new-tokens below ${context})` },
            );
          }
          ids = ids.map((row, j) => j === i ? row.slice(row.length - (context - budget)) : row);
        } else if (asked === undefined && length < context) {
          budget = context - length; // the default budget shrinks to what fits; an asked one does not
        } else {
          throw new InputError(
            `the prompt has ${length} tokens and ${budget} new tokens were asked for: ${
              length + budget
            } is more than the model's context of ${context} tokens`,
            {
              hint:
                "shorten the prompt, ask for fewer new tokens (--max-new-tokens), or drop the oldest tokens with --truncate left",
            },
          );
        }
      }
      budgets.push(budget);
    }
    const seed = options.seed ?? Math.floor(Math.random() * 0x100000000);
    return { settings, topLogprobs, constraint, ids, budgets, seed };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#busy;
    await this.session.dispose();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** config.json's head sizes from onnxruntime-genai's `genai_config.json` (`model.decoder`), for a genai folder without config.json. */
function genaiShape(genai: Record<string, unknown> | undefined): Record<string, unknown> {
  const decoder = ((genai?.model as Record<string, unknown> | undefined)?.decoder ?? {}) as Record<string, unknown>;
  return {
    num_attention_heads: decoder.num_attention_heads,
    num_key_value_heads: decoder.num_key_value_heads,
    head_dim: decoder.head_size,
    hidden_size: decoder.hidden_size,
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function rate(tokens: number, ms: number): number {
  return ms > 0 ? Math.round((tokens / (ms / 1000)) * 100) / 100 : 0;
}
