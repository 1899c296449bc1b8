/**
 * OpenAI-compatible endpoints under `/v1`, as the `openai` SDKs call them: `GET /v1/models`,
 * `GET /v1/models/{id}`, `POST /v1/chat/completions`, `POST /v1/completions` and `POST /v1/embeddings`.
 * Streams are server-sent events (`data: {…}` chunks ending with `data: [DONE]`); errors are
 * `{"error": {"message", "type", "param", "code"}}`. A prompt longer than the context is a 400
 * `context_length_exceeded` naming both numbers, never truncated. Fields gpux cannot honour yet answer 400
 * saying so.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { ChatMessage } from "../generation/chat_template.ts";
import type { GenerationAnswer, GenerationParams, GenerationPrompt, TokenLogprobs } from "./generation_pool.ts";
import {
  parseToolCalls,
  type ToolCall,
  type ToolCallEvent,
  type ToolCallFormat,
  toolCallFormatOf,
  ToolCallStreamParser,
} from "../generation/tool_calls.ts";
import { MAX_TOP_LOGPROBS } from "../generation/token_logprobs.ts";
import type { ResponseFormat } from "../generation/text_generation.ts";
import { deferredAnswer, generationStream, startGeneration } from "./live_generation.ts";
import { bodyCost, rawCost } from "./memory_budget.ts";
import type { Handled, Route, RouteContext } from "./route_table.ts";
import { JSON_HEADERS } from "./routes_gpux.ts";
import {
  booleanField,
  embedderOf,
  type Fields,
  generatorOf,
  maxTokensField,
  namedModel,
  notSupportedYet,
  numberField,
  parseObject,
  stopField,
  stringField,
} from "./request_fields.ts";
import type { ServedModel } from "./server_state.ts";
import { errorBody } from "./error_shapes.ts";
import { httpStatusOf, InvalidFieldError } from "./serve_errors.ts";

const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

function modelObject(m: ServedModel, created: number): Record<string, unknown> {
  return { id: m.name, object: "model", created, owned_by: m.pool.model?.repoId?.split("/")[0] ?? "gpux" };
}

/** `GET /v1/models`: the served models, and with a catalog every cached model (loaded on first use). */
export async function listModelsHandler({ state }: RouteContext): Promise<Handled> {
  const created = Math.floor(state.started / 1000);
  const names = new Set(state.list.map((m) => m.name));
  const cached = state.catalog ? (await state.catalog.list()).filter((c) => !names.has(c.name)) : [];
  return {
    body: {
      object: "list",
      data: [
        ...state.list.map((m) => modelObject(m, created)),
        ...cached.map((c) => ({ id: c.name, object: "model", created, owned_by: c.spec.split("/")[0] })),
      ],
    },
  };
}

/** `GET /v1/models/{id}` (a cached model not loaded yet answers too, when the server serves the cache). */
export async function getModelHandler({ state, params, endpoint }: RouteContext): Promise<Handled> {
  const created = Math.floor(state.started / 1000);
  const loaded = state.models.get(params.name);
  if (!loaded && state.catalog) {
    const cached = (await state.catalog.list()).find((c) => c.name === params.name || c.spec === params.name);
    if (cached) return { body: { id: cached.name, object: "model", created, owned_by: cached.spec.split("/")[0] } };
  }
  const m = state.model(params.name);
  endpoint.model = m.name;
  return { model: m.name, body: modelObject(m, created) };
}

const ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);

/** OpenAI messages → the chat template's messages: text parts joined, `developer` read as `system`. */
export function chatMessages(value: unknown, field = "messages"): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidFieldError(field, `${field} must be a non-empty list of {role, content}`);
  }
  return value.map((raw, i) => {
    const at = `${field}[${i}]`;
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
      throw new InvalidFieldError(at, `${at} must be an object`);
    }
    const m = raw as Fields;
    if (typeof m.role !== "string" || !ROLES.has(m.role)) {
      throw new InvalidFieldError(`${at}.role`, `${at}.role must be one of ${[...ROLES].join(", ")}`);
    }
    if (Array.isArray(m.images) && m.images.length) {
      throw new InvalidFieldError(`${at}.images`, `${at}.images: gpux serves text models, which take no images`);
    }
    const calls = Array.isArray(m.tool_calls) && m.tool_calls.length ? m.tool_calls : undefined;
    let content: string | null;
    if (typeof m.content === "string") content = m.content;
    else if (m.content === null || m.content === undefined) content = calls ? null : "";
    else if (Array.isArray(m.content)) {
      content = m.content.map((part, j) => {
        const p = part as Fields;
        if (p && p.type === "text" && typeof p.text === "string") return p.text;
        throw new InvalidFieldError(
          `${at}.content[${j}]`,
          `${at}.content[${j}] is not a text part: gpux serves text models, which take {"type": "text", "text": …} parts only`,
        );
      }).join("");
    } else throw new InvalidFieldError(`${at}.content`, `${at}.content must be a string or a list of text parts`);
    // the template reads a call's arguments as an object (Qwen's, Llama's `| tojson`): OpenAI sends JSON text
    const message: ChatMessage = {
      role: m.role === "developer" ? "system" : m.role,
      content: content as string,
      ...(calls ? { tool_calls: calls.map((c, j) => templateToolCall(c, `${at}.tool_calls[${j}]`)) } : {}),
    };
    if (typeof m.name === "string") message.name = m.name;
    if (typeof m.tool_call_id === "string") message.tool_call_id = m.tool_call_id;
    return message;
  });
}

/** An OpenAI tool call of a previous assistant turn, as chat templates read it (`arguments` parsed). */
function templateToolCall(call: unknown, at: string): Record<string, unknown> {
  const c = call as Fields;
  const fn = c?.function as Fields | undefined;
  if (!fn || typeof fn.name !== "string") {
    throw new InvalidFieldError(at, `${at} must be {"id", "type": "function", "function": {"name", "arguments"}}`);
  }
  let args: unknown = fn.arguments ?? {};
  if (typeof args === "string") {
    try {
      args = JSON.parse(args);
    } catch {
      throw new InvalidFieldError(`${at}.function.arguments`, `${at}.function.arguments is not JSON`);
    }
  }
  return {
    ...(typeof c.id === "string" ? { id: c.id } : {}),
    type: "function",
    function: { name: fn.name, arguments: args },
  };
}

/** The sampling, penalty, log-probability and stop fields of both completion endpoints, checked. */
function samplingParams(ctx: RouteContext, body: Fields, chat: boolean): GenerationParams {
  const n = numberField(body, "n", 1, 128, true);
  if (n !== undefined && n > 1) {
    throw new InvalidFieldError("n", `n ${n}: gpux serve returns one choice per request (n must be 1)`, {
      hint: "send n separate requests, with different seeds",
    });
  }
  const presencePenalty = numberField(body, "presence_penalty", -2, 2);
  const frequencyPenalty = numberField(body, "frequency_penalty", -2, 2);
  let logprobs = false, topLogprobs = 0;
  if (chat) {
    logprobs = booleanField(body, "logprobs") ?? false;
    topLogprobs = numberField(body, "top_logprobs", 0, MAX_TOP_LOGPROBS, true) ?? 0;
    if (topLogprobs > 0 && !logprobs) {
      throw new InvalidFieldError("top_logprobs", "top_logprobs needs logprobs: true");
    }
  } else {
    // the legacy completions API: `logprobs` is how many alternatives per token (0–5)
    const k = numberField(body, "logprobs", 0, 5, true);
    if (k !== undefined) [logprobs, topLogprobs] = [true, k];
  }
  if (body.logit_bias !== undefined && body.logit_bias !== null) notSupportedYet("logit_bias", "logit bias");
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== 1) {
    notSupportedYet("best_of", "one candidate");
  }
  if (body.echo === true) notSupportedYet("echo", "the prompt is not echoed");
  if (body.suffix !== undefined && body.suffix !== null) notSupportedYet("suffix", "no fill-in-the-middle");
  const responseFormat = responseFormatOf(body.response_format);
  const maxTokens = maxTokensField(ctx.state, body, "max_completion_tokens") ??
    maxTokensField(ctx.state, body, "max_tokens");
  const temperature = numberField(body, "temperature", 0, 2);
  const topP = numberField(body, "top_p", 0, 1);
  const seed = numberField(body, "seed", -(2 ** 53), 2 ** 53, true);
  const stop = stopField(body);
  return {
    ...(maxTokens !== undefined ? { maxNewTokens: maxTokens } : {}),
    maxNewTokensLimit: ctx.state.maxTokensLimit,
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(seed !== undefined ? { seed: seed >>> 0 } : {}),
    ...(stop ? { stop } : {}),
    ...(presencePenalty ? { presencePenalty } : {}),
    ...(frequencyPenalty ? { frequencyPenalty } : {}),
    ...(logprobs ? { logprobs, topLogprobs } : {}),
    ...(responseFormat ? { responseFormat } : {}),
  };
}

/**
 * OpenAI's `response_format`: `{"type": "text"}` (nothing to hold), `{"type": "json_object"}`, or
 * `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}` — JSON mode, enforced while decoding.
 */
export function responseFormatOf(value: unknown): ResponseFormat | undefined {
  if (value === undefined || value === null) return undefined;
  const f = value as Fields;
  if (typeof f !== "object" || Array.isArray(f)) {
    throw new InvalidFieldError("response_format", "response_format must be an object");
  }
  if (f.type === "text") return undefined;
  if (f.type === "json_object") return { type: "json_object" };
  if (f.type === "json_schema") {
    const spec = f.json_schema as Fields | undefined;
    const schema = spec?.schema;
    if (
      !spec || typeof spec !== "object" ||
      (schema !== undefined && typeof schema !== "boolean" &&
        (typeof schema !== "object" || schema === null || Array.isArray(schema)))
    ) {
      throw new InvalidFieldError(
        "response_format.json_schema",
        `response_format.json_schema must be {"name", "schema": {…}}`,
      );
    }
    return { type: "json_schema", schema: (schema ?? true) as Record<string, unknown> | boolean };
  }
  throw new InvalidFieldError(
    "response_format.type",
    `response_format.type must be "text", "json_object" or "json_schema"`,
  );
}

/**
 * `tools` and `tool_choice`: the tools to render through the chat template, and the tool-call format to parse the
 * answer with (from the template). `tool_choice: "none"` renders none.
 */
export function toolsOf(
  body: Fields,
  template: string | undefined,
): { tools: unknown[]; format: ToolCallFormat } | undefined {
  const tools = body.tools;
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools) || !tools.every((t) => t && typeof t === "object" && !Array.isArray(t))) {
    throw new InvalidFieldError("tools", "tools must be a list of tool objects");
  }
  const choice = body.tool_choice;
  if (choice === "none" || tools.length === 0) return undefined;
  if (choice !== undefined && choice !== null && choice !== "auto") {
    notSupportedYet("tool_choice", `only "auto" and "none": a call cannot be forced yet`);
  }
  tools.forEach((t, i) => {
    const fn = (t as Fields).function as Fields | undefined;
    if ((t as Fields).type !== "function" || !fn || typeof fn.name !== "string") {
      throw new InvalidFieldError(`tools[${i}]`, `tools[${i}] must be {"type": "function", "function": {"name", …}}`);
    }
  });
  const format = template ? toolCallFormatOf(template) : undefined;
  if (!format) {
    throw new InvalidFieldError(
      "tools",
      "this model's chat template shows no tool-call format, so it cannot call tools",
    );
  }
  return { tools, format };
}

function usageOf(a: GenerationAnswer) {
  return {
    prompt_tokens: a.promptTokens,
    completion_tokens: a.generatedTokens,
    total_tokens: a.promptTokens + a.generatedTokens,
  };
}

function finishReason(a: GenerationAnswer, calls = false): string {
  if (calls) return "tool_calls";
  return a.finishReason === "cancelled" ? "stop" : a.finishReason;
}

function sseError(error: unknown): string {
  return `data: ${JSON.stringify(errorBody("openai", error, httpStatusOf(error)))}\n\ndata: [DONE]\n\n`;
}

/** A token's log-probability as the chat API gives it. */
function chatLogprob(t: TokenLogprobs) {
  return {
    token: t.token,
    logprob: t.logprob,
    bytes: t.bytes,
    top_logprobs: t.top.map((x) => ({ token: x.token, logprob: x.logprob, bytes: x.bytes })),
  };
}

/** Log-probabilities as the legacy completions API gives them. */
function completionLogprobs(list: TokenLogprobs[]) {
  let offset = 0;
  const offsets = list.map((t) => {
    const at = offset;
    offset += t.token.length;
    return at;
  });
  return {
    tokens: list.map((t) => t.token),
    token_logprobs: list.map((t) => t.logprob),
    top_logprobs: list.map((t) => Object.fromEntries(t.top.map((x) => [x.token, x.logprob]))),
    text_offset: offsets,
  };
}

/** OpenAI's `tool_calls` from parsed calls. */
function toolCallsJson(calls: readonly ToolCall[]) {
  return calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
}

/** Streamed tool-call events as OpenAI chat deltas (content, a call's id and name, its argument chunks). */
export function toolCallDeltas(events: readonly ToolCallEvent[]): Record<string, unknown>[] {
  return events.map((e) =>
    e.type === "content"
      ? { content: e.text }
      : e.type === "tool_call"
      ? { tool_calls: [{ index: e.index, id: e.id, type: "function", function: { name: e.name, arguments: "" } }] }
      : { tool_calls: [{ index: e.index, function: { arguments: e.text } }] }
  );
}

async function complete(ctx: RouteContext, chat: boolean): Promise<Handled> {
  const { state, request, endpoint } = ctx;
  const body = parseObject(await state.body(request, endpoint));
  const m = await namedModel(state, body, endpoint);
  const pool = generatorOf(m);
  let prompt: GenerationPrompt;
  let tools: ReturnType<typeof toolsOf>;
  if (chat) {
    prompt = chatMessages(body.messages);
    tools = toolsOf(body, pool.info.template);
  } else {
    if (body.tools !== undefined) throw new InvalidFieldError("tools", "tools belong to /v1/chat/completions");
    const p = body.prompt;
    if (typeof p === "string") prompt = p;
    else if (Array.isArray(p) && p.length === 1 && typeof p[0] === "string") prompt = p[0];
    else if (Array.isArray(p) && p.every((x) => typeof x === "string")) {
      throw new InvalidFieldError("prompt", `prompt is a list of ${p.length} strings: send one prompt per request`);
    } else throw new InvalidFieldError("prompt", "prompt must be a string (or a list of one string)");
  }
  const params = { ...samplingParams(ctx, body, chat), ...(tools ? { tools: tools.tools } : {}) };
  const stream = booleanField(body, "stream") ?? false;
  const streamOptions = body.stream_options as Fields | undefined | null;
  const includeUsage = stream && streamOptions?.include_usage === true;
  const live = startGeneration(state, pool, prompt, params, m.timeoutMs);
  await live.started;
  const id = `${chat ? "chatcmpl" : "cmpl"}-${crypto.randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const object = chat ? "chat.completion" : "text_completion";
  if (!stream) {
    const answer = (a: GenerationAnswer) => {
      const lp = a.logprobs;
      if (!chat) {
        const choice = {
          index: 0,
          text: a.text,
          logprobs: lp ? completionLogprobs(lp) : null,
          finish_reason: finishReason(a),
        };
        return JSON.stringify({ id, object, created, model: m.name, choices: [choice], usage: usageOf(a) });
      }
      const parsed = tools ? parseToolCalls(a.text, { formats: [tools.format] }) : undefined;
      const calls = parsed?.toolCalls.length ? parsed : undefined;
      const message = {
        role: "assistant",
        content: calls ? (calls.content || null) : a.text,
        refusal: null,
        ...(calls ? { tool_calls: toolCallsJson(calls.toolCalls) } : {}),
      };
      const choice = {
        index: 0,
        message,
        logprobs: lp ? { content: lp.map(chatLogprob), refusal: null } : null,
        finish_reason: finishReason(a, calls !== undefined),
      };
      return JSON.stringify({ id, object, created, model: m.name, choices: [choice], usage: usageOf(a) });
    };
    // the document is written when the generation ends; a client that hangs up before cancels it
    const body = deferredAnswer(
      live,
      answer,
      (error) => JSON.stringify(errorBody("openai", error, httpStatusOf(error))),
    );
    return { model: m.name, body: undefined, stream: body, headers: JSON_HEADERS };
  }
  const chunkObject = chat ? "chat.completion.chunk" : "text_completion";
  const chunk = (choice: Record<string, unknown> | undefined, usage?: unknown) =>
    `data: ${
      JSON.stringify({
        id,
        object: chunkObject,
        created,
        model: m.name,
        choices: choice ? [choice] : [],
        ...(includeUsage ? { usage: usage ?? null } : {}),
      })
    }\n\n`;
  const parser = tools ? new ToolCallStreamParser({ formats: [tools.format] }) : undefined;
  let opened = !chat;
  const open = () => {
    if (opened) return "";
    opened = true;
    return chunk({ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null });
  };
  const chatChunks = (deltas: Record<string, unknown>[], logprobs?: TokenLogprobs) => {
    if (logprobs && deltas.length === 0) deltas = [{}];
    return deltas.map((delta, i) =>
      chunk({
        index: 0,
        delta,
        logprobs: logprobs && i === 0 ? { content: [chatLogprob(logprobs)], refusal: null } : null,
        finish_reason: null,
      })
    ).join("");
  };
  const out = generationStream(
    live,
    (d) => {
      if (!chat) {
        return chunk({
          index: 0,
          text: d.text,
          logprobs: d.logprobs ? completionLogprobs([d.logprobs]) : null,
          finish_reason: null,
        });
      }
      const deltas = parser ? toolCallDeltas(parser.push(d.text)) : d.text ? [{ content: d.text }] : [];
      return open() + chatChunks(deltas, d.logprobs);
    },
    (a) => {
      const tail = parser ? chatChunks(toolCallDeltas(parser.end())) : "";
      const calls = parser !== undefined && parser.toolCalls.length > 0;
      const last = chat
        ? { index: 0, delta: {}, logprobs: null, finish_reason: finishReason(a, calls) }
        : { index: 0, text: "", logprobs: null, finish_reason: finishReason(a) };
      return open() + tail + chunk(last) + (includeUsage ? chunk(undefined, usageOf(a)) : "") + "data: [DONE]\n\n";
    },
    sseError,
  );
  return { model: m.name, body: undefined, stream: out, headers: SSE_HEADERS };
}

/** `POST /v1/chat/completions`. */
export function chatCompletionsHandler(ctx: RouteContext): Promise<Handled> {
  return complete(ctx, true);
}

/** `POST /v1/completions`. */
export function completionsHandler(ctx: RouteContext): Promise<Handled> {
  return complete(ctx, false);
}

/** Most texts one embeddings request may hold is the server's `--max-batch-items`. */
function embeddingInputs(body: Fields, maxItems: number): string[] {
  const input = body.input;
  const list = typeof input === "string" ? [input] : input;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === "string")) {
    throw new InvalidFieldError(
      "input",
      "input must be a string or a non-empty list of strings (token-id inputs are not supported)",
    );
  }
  if (list.length > maxItems) {
    throw new InvalidFieldError("input", `input has ${list.length} texts; the server takes at most ${maxItems}`, {
      hint: "send fewer texts per request, or start the server with a larger --max-batch-items",
    });
  }
  return list;
}

/** What {@linkcode embed} gives: one vector per text, and the tokens the model ran on (for `usage`). */
export interface Embedded {
  /** One embedding per text, as `gpux run` computes it. */
  vectors: number[][];
  /** Tokens of all the texts together (special tokens included, after truncation). */
  promptTokens: number;
}

/** Runs texts through a feature-extraction model; the embeddings as the `run` command computes them. */
export async function embed(ctx: RouteContext, m: ServedModel, texts: string[]): Promise<Embedded> {
  const pool = embedderOf(m);
  const input = { kind: "text" as const, texts };
  ctx.endpoint.reservation?.resize(bodyCost(0) + rawCost(input));
  ctx.state.checkOpen();
  const result = await pool.process(input, {}, { timeoutMs: m.timeoutMs });
  const parsed = JSON.parse(result.resultText ?? "null") as { embeddings?: { embedding: number[] }[] } | null;
  if (!parsed?.embeddings) throw new InvalidFieldError("model", `model ${JSON.stringify(m.name)} gave no embeddings`);
  return {
    vectors: parsed.embeddings.map((e) => e.embedding),
    promptTokens: (result.tokenCounts ?? []).reduce((n, c) => n + c, 0),
  };
}

/** `POST /v1/embeddings`. */
export async function embeddingsHandler(ctx: RouteContext): Promise<Handled> {
  const { state, request, endpoint } = ctx;
  const body = parseObject(await state.body(request, endpoint));
  const m = await namedModel(state, body, endpoint);
  const texts = embeddingInputs(body, state.limits.maxBatchItems);
  for (const t of texts) {
    if (t.length > state.limits.maxTextChars) {
      throw new InvalidFieldError(
        "input",
        `a text has ${t.length} characters; the limit is ${state.limits.maxTextChars}`,
      );
    }
  }
  const format = stringField(body, "encoding_format", true) ?? "float";
  if (format !== "float" && format !== "base64") {
    throw new InvalidFieldError(
      "encoding_format",
      `encoding_format must be "float" or "base64", not ${JSON.stringify(format)}`,
    );
  }
  const dimensions = numberField(body, "dimensions", 1, 1 << 20, true);
  const { vectors, promptTokens } = await embed(ctx, m, texts);
  const data = vectors.map((v, index) => {
    if (dimensions !== undefined && dimensions > v.length) {
      throw new InvalidFieldError("dimensions", `dimensions ${dimensions} is more than the model's ${v.length}`);
    }
    const cut = dimensions !== undefined ? renormalize(v.slice(0, dimensions)) : v;
    const embedding = format === "base64" ? Buffer.from(Float32Array.from(cut).buffer).toString("base64") : cut;
    return { object: "embedding", index, embedding };
  });
  return {
    model: m.name,
    body: {
      object: "list",
      data,
      model: m.name,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    },
    headers: JSON_HEADERS,
  };
}

/** A truncated embedding scaled back to unit length (as OpenAI's `dimensions` gives Matryoshka embeddings). */
function renormalize(v: number[]): number[] {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return norm > 0 ? v.map((x) => x / norm) : v;
}

/** OpenAI's routes. */
export const OPENAI_ROUTES: Route[] = [
  { method: "GET", pattern: "/v1/models", name: "openai_models", api: "openai", handler: listModelsHandler },
  { method: "GET", pattern: "/v1/models/:name", name: "openai_model", api: "openai", handler: getModelHandler },
  {
    method: "POST",
    pattern: "/v1/chat/completions",
    name: "openai_chat",
    api: "openai",
    handler: chatCompletionsHandler,
  },
  {
    method: "POST",
    pattern: "/v1/completions",
    name: "openai_completions",
    api: "openai",
    handler: completionsHandler,
  },
  { method: "POST", pattern: "/v1/embeddings", name: "openai_embeddings", api: "openai", handler: embeddingsHandler },
];
