/**
 * Ollama-compatible endpoints under `/api`, as the `ollama` SDKs call them: `GET /api/version`, `GET /api/tags`,
 * `POST /api/show`, `GET /api/ps`, `POST /api/chat`, `POST /api/generate` (NDJSON streamed by default,
 * `"stream": false` for one object, with Ollama's timings in nanoseconds) and `POST /api/embed`. Errors are
 * `{"error": "…"}` as Ollama answers them. Options gpux cannot honour yet answer 400 saying so.
 *
 * @module
 */
import { VERSION } from "../version.ts";
import type { ResponseFormat } from "../generation/text_generation.ts";
import type { GenerationAnswer, GenerationParams, GenerationPool, GenerationPrompt } from "./generation_pool.ts";
import { deferredAnswer, generationStream, startGeneration } from "./live_generation.ts";
import type { Handled, Route, RouteContext } from "./route_table.ts";
import { chatMessages, embed, toolsOf } from "./routes_openai.ts";
import { parseToolCalls, type ToolCall, type ToolCallEvent, ToolCallStreamParser } from "../generation/tool_calls.ts";
import {
  booleanField,
  type Fields,
  generatorOf,
  maxTokensField,
  modelName,
  namedModel,
  notSupportedYet,
  numberField,
  parseObject,
  stopField,
  stringField,
} from "./request_fields.ts";
import type { ServedModel, ServerState } from "./server_state.ts";
import { errorBody } from "./error_shapes.ts";
import { ForbiddenError, httpStatusOf, InvalidFieldError } from "./serve_errors.ts";

const NDJSON_HEADERS = { "content-type": "application/x-ndjson" };
const NS = 1_000_000;

/** `GET /api/version`. */
export function versionHandler(): Handled {
  return { body: { version: VERSION } };
}

function details(m: ServedModel): Record<string, unknown> {
  return {
    parent_model: "",
    format: "onnx",
    family: m.pool.loaded.task ?? "",
    families: null,
    parameter_size: "",
    quantization_level: m.pool.model?.variant ?? "",
  };
}

function modelEntry(state: ServerState, m: ServedModel): Record<string, unknown> {
  return {
    name: m.name,
    model: m.name,
    modified_at: new Date(state.started).toISOString(),
    size: 0,
    digest: m.pool.model?.sha ?? "",
    details: details(m),
  };
}

/** `GET /api/tags`: the served models, and with a catalog every cached model (loaded on first use). */
export async function tagsHandler({ state }: RouteContext): Promise<Handled> {
  const loaded = state.list.map((m) => modelEntry(state, m));
  const names = new Set(state.list.map((m) => m.name));
  const cached = state.catalog ? (await state.catalog.list()).filter((c) => !names.has(c.name)) : [];
  const modified = new Date(state.started).toISOString();
  return {
    body: {
      models: [
        ...loaded,
        ...cached.map((c) => ({
          name: c.name,
          model: c.name,
          modified_at: modified,
          size: 0,
          digest: "",
          details: {
            parent_model: "",
            format: "onnx",
            family: "",
            families: null,
            parameter_size: "",
            quantization_level: "",
          },
        })),
      ],
    },
  };
}

/** `GET /api/ps`: the loaded models, and when each unloads (models named at start stay loaded). */
export function psHandler({ state }: RouteContext): Handled {
  return {
    body: {
      models: state.list.map((m) => {
        const at = state.expiry.get(m.name);
        return {
          ...modelEntry(state, m),
          expires_at: at === undefined || at === Infinity ? "0001-01-01T00:00:00Z" : new Date(at).toISOString(),
          size_vram: 0,
        };
      }),
    },
  };
}

/** `POST /api/show`: a model's details, template and capabilities. */
export async function showHandler({ state, request, endpoint }: RouteContext): Promise<Handled> {
  const body = parseObject(await state.body(request, endpoint));
  const m = await namedModel(
    state,
    body,
    endpoint,
    body.model === undefined && body.name !== undefined ? "name" : "model",
  );
  const generation = m.pool.kind === "generation" ? m.pool : undefined;
  const capabilities = generation ? ["completion"] : m.pool.loaded.task === "feature-extraction" ? ["embedding"] : [];
  return {
    model: m.name,
    body: {
      modelfile: `# served by gpux ${VERSION}\nFROM ${m.spec}\n`,
      parameters: "",
      template: generation?.info.template ?? "",
      details: details(m),
      model_info: {
        "general.architecture": m.pool.loaded.task ?? "",
        ...(generation?.contextLength !== undefined ? { "gpux.context_length": generation.contextLength } : {}),
        "gpux.provider": m.pool.provider,
      },
      capabilities,
      modified_at: new Date(state.started).toISOString(),
    },
  };
}

/** Ollama's `options` → the generation's parameters. */
function ollamaParams(state: ServerState, body: Fields): GenerationParams {
  const raw = body.options ?? {};
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new InvalidFieldError("options", "options must be an object");
  }
  const o = raw as Fields;
  const format = body.format;
  // Ollama's `format`: "json" (any JSON value held to an object, as OpenAI's json_object), or a JSON schema
  let responseFormat: ResponseFormat | undefined;
  if (format === "json") responseFormat = { type: "json_object" };
  else if (format && typeof format === "object" && !Array.isArray(format)) {
    responseFormat = { type: "json_schema", schema: format as Record<string, unknown> };
  } else if (format !== undefined && format !== null && format !== "") {
    throw new InvalidFieldError("format", `format must be "json" or a JSON schema object`);
  }
  const presencePenalty = numberField(o, "presence_penalty", -2, 2);
  const frequencyPenalty = numberField(o, "frequency_penalty", -2, 2);
  const numPredict = o.num_predict;
  let maxNewTokens: number | undefined;
  if (typeof numPredict === "number" && numPredict > 0) maxNewTokens = maxTokensField(state, o, "num_predict");
  else if (numPredict !== undefined && numPredict !== null && numPredict !== -1 && numPredict !== -2) {
    throw new InvalidFieldError("options.num_predict", "options.num_predict must be a positive integer, or -1");
  }
  const temperature = numberField(o, "temperature", 0, 100);
  const topK = numberField(o, "top_k", 0, 1 << 30, true);
  const topP = numberField(o, "top_p", 0, 1);
  const minP = numberField(o, "min_p", 0, 1);
  const repeat = numberField(o, "repeat_penalty", 0, 100);
  const seed = numberField(o, "seed", -(2 ** 53), 2 ** 53, true);
  const numCtx = numberField(o, "num_ctx", 1, 1 << 30, true);
  const stop = stopField(o);
  return {
    ...(maxNewTokens !== undefined ? { maxNewTokens } : {}),
    maxNewTokensLimit: state.maxTokensLimit,
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topK !== undefined ? { topK } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(minP !== undefined ? { minP } : {}),
    ...(repeat !== undefined ? { repetitionPenalty: repeat } : {}),
    ...(seed !== undefined ? { seed: seed >>> 0 } : {}),
    ...(numCtx !== undefined ? { contextLength: numCtx } : {}),
    ...(stop ? { stop } : {}),
    ...(presencePenalty ? { presencePenalty } : {}),
    ...(frequencyPenalty ? { frequencyPenalty } : {}),
    ...(responseFormat ? { responseFormat } : {}),
  };
}

function timings(a: GenerationAnswer, startedAt: number): Record<string, unknown> {
  return {
    done_reason: a.finishReason === "cancelled" ? "stop" : a.finishReason,
    total_duration: Math.round((performance.now() - startedAt) * NS),
    load_duration: 0,
    prompt_eval_count: a.promptTokens,
    prompt_eval_duration: Math.round((a.tokenizeMs + a.prefillMs) * NS),
    eval_count: a.generatedTokens,
    eval_duration: Math.round(a.decodeMs * NS),
  };
}

async function ollamaGenerate(ctx: RouteContext, chat: boolean): Promise<Handled> {
  const { state, request, endpoint } = ctx;
  const body = parseObject(await state.body(request, endpoint));
  const m = await namedModel(state, body, endpoint);
  const pool: GenerationPool = generatorOf(m);
  let prompt: GenerationPrompt;
  let tools: ReturnType<typeof toolsOf>;
  if (chat) {
    prompt = chatMessages(body.messages);
    tools = toolsOf(body, pool.info.template);
  } else {
    const text = stringField(body, "prompt", true) ?? "";
    const system = stringField(body, "system", true);
    if (body.template !== undefined && body.template !== null && body.template !== "") {
      notSupportedYet("template", "the model's own chat template is used");
    }
    if (body.suffix !== undefined && body.suffix !== null && body.suffix !== "") {
      notSupportedYet("suffix", "no fill-in-the-middle");
    }
    if (Array.isArray(body.images) && body.images.length) notSupportedYet("images", "text models only");
    const raw = booleanField(body, "raw") ?? false;
    if (text === "") {
      // Ollama answers an empty prompt by loading the model: it is loaded already
      return {
        model: m.name,
        body: { model: m.name, created_at: new Date().toISOString(), response: "", done: true, done_reason: "load" },
      };
    }
    // as Ollama does: the prompt goes through the model's template unless `raw`, or the model has none
    prompt = !raw && pool.info.chatTemplate
      ? [...(system !== undefined ? [{ role: "system", content: system }] : []), { role: "user", content: text }]
      : text;
  }
  const params = { ...ollamaParams(state, body), ...(tools ? { tools: tools.tools } : {}) };
  const stream = booleanField(body, "stream") ?? true;
  const live = startGeneration(state, pool, prompt, params, m.timeoutMs);
  await live.started;
  const head = () => ({ model: m.name, created_at: new Date().toISOString() });
  const piece = (text: string, calls?: readonly ToolCall[]) =>
    chat
      ? {
        message: { role: "assistant", content: text, ...(calls?.length ? { tool_calls: ollamaToolCalls(calls) } : {}) },
      }
      : { response: text };
  if (!stream) {
    // the document is written when the generation ends; a client that hangs up before cancels it
    const answer = (a: GenerationAnswer) => {
      const parsed = tools ? parseToolCalls(a.text, { formats: [tools.format] }) : undefined;
      const text = parsed?.toolCalls.length ? parsed.content : a.text;
      return JSON.stringify({
        ...head(),
        ...piece(text, parsed?.toolCalls),
        done: true,
        ...timings(a, live.startedAt),
      });
    };
    const body = deferredAnswer(
      live,
      answer,
      (error) => JSON.stringify(errorBody("ollama", error, httpStatusOf(error))),
    );
    return { model: m.name, body: undefined, stream: body, headers: { "content-type": "application/json" } };
  }
  // with tools, text that may begin a call is held back; the calls come whole in the last object
  const parser = tools ? new ToolCallStreamParser({ formats: [tools.format] }) : undefined;
  const said = (events: ToolCallEvent[]) => events.map((e) => e.type === "content" ? e.text : "").join("");
  const out = generationStream(
    live,
    (delta) => {
      const text = parser ? said(parser.push(delta.text)) : delta.text;
      return text ? JSON.stringify({ ...head(), ...piece(text), done: false }) + "\n" : "";
    },
    (a) => {
      const rest = parser ? said(parser.end()) : "";
      return (rest ? JSON.stringify({ ...head(), ...piece(rest), done: false }) + "\n" : "") +
        JSON.stringify({ ...head(), ...piece("", parser?.toolCalls), done: true, ...timings(a, live.startedAt) }) +
        "\n";
    },
    (error) => JSON.stringify(errorBody("ollama", error, httpStatusOf(error))) + "\n",
  );
  return { model: m.name, body: undefined, stream: out, headers: NDJSON_HEADERS };
}

/** Ollama's `tool_calls`: each call's arguments as an object. */
function ollamaToolCalls(calls: readonly ToolCall[]) {
  return calls.map((c) => {
    let args: unknown = {};
    try {
      args = JSON.parse(c.arguments);
    } catch {
      args = c.arguments;
    }
    return { function: { name: c.name, arguments: args } };
  });
}

/** `POST /api/chat`. */
export function chatHandler(ctx: RouteContext): Promise<Handled> {
  return ollamaGenerate(ctx, true);
}

/** `POST /api/generate`. */
export function generateHandler(ctx: RouteContext): Promise<Handled> {
  return ollamaGenerate(ctx, false);
}

/** `POST /api/embed`: `input` a string or a list; `dimensions` truncates. */
export async function embedHandler(ctx: RouteContext): Promise<Handled> {
  const { state, request, endpoint } = ctx;
  const started = performance.now();
  const body = parseObject(await state.body(request, endpoint));
  const m = await namedModel(state, body, endpoint);
  const input = body.input;
  const texts = typeof input === "string" ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === "string")) {
    throw new InvalidFieldError("input", "input must be a string or a non-empty list of strings");
  }
  if (texts.length > state.limits.maxBatchItems) {
    throw new InvalidFieldError(
      "input",
      `input has ${texts.length} texts; the server takes at most ${state.limits.maxBatchItems}`,
    );
  }
  for (const t of texts as string[]) {
    if (t.length > state.limits.maxTextChars) {
      throw new InvalidFieldError(
        "input",
        `a text has ${t.length} characters; the limit is ${state.limits.maxTextChars}`,
      );
    }
  }
  const dimensions = numberField(body, "dimensions", 1, 1 << 20, true);
  const { vectors, promptTokens } = await embed(ctx, m, texts as string[]);
  const embeddings = vectors.map((v) => {
    if (dimensions === undefined) return v;
    if (dimensions > v.length) {
      throw new InvalidFieldError("dimensions", `dimensions ${dimensions} is more than the model's ${v.length}`);
    }
    const cut = v.slice(0, dimensions);
    const norm = Math.sqrt(cut.reduce((s, x) => s + x * x, 0));
    return norm > 0 ? cut.map((x) => x / norm) : cut;
  });
  return {
    model: m.name,
    body: {
      model: m.name,
      embeddings,
      total_duration: Math.round((performance.now() - started) * NS),
      load_duration: 0,
      prompt_eval_count: promptTokens,
    },
  };
}

/**
 * `POST /api/pull` (`--allow-pull`): pulls a Hub model into the cache, streaming Ollama's status lines
 * (`pulling manifest`, `pulling <file>` with `digest`/`total`/`completed`, `verifying sha256 digest`,
 * `writing manifest`, `success`), or one `{"status": "success"}` with `"stream": false`.
 */
export async function pullHandler({ state, request, endpoint }: RouteContext): Promise<Handled> {
  const body = parseObject(await state.body(request, endpoint));
  const field = body.model === undefined && body.name !== undefined ? "name" : "model";
  const model = modelName(stringField(body, field));
  const pull = state.pull;
  if (!pull) {
    throw new ForbiddenError(`pulling is off on this server: run gpux pull ${model} beside it`, {
      hint: "start gpux serve with --allow-pull to let /api/pull download models",
    });
  }
  state.checkOpen();
  const stream = booleanField(body, "stream") ?? true;
  const controller = new AbortController();
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  const say = (status: Record<string, unknown>) => {
    lines.push(JSON.stringify(status) + "\n");
    wake?.();
  };
  let sizes = new Map<string, number>();
  const release = state.hold();
  say({ status: "pulling manifest" });
  const done = pull(model, (event) => {
    if (event.type === "plan") sizes = new Map(event.files.map((f) => [f.path, f.size]));
    else if (event.type === "file-start") {
      say({ status: `pulling ${event.path}`, digest: event.path, total: event.size, completed: event.resumedFrom });
    } else if (event.type === "progress") {
      say({ status: `pulling ${event.path}`, digest: event.path, total: event.fileTotal, completed: event.fileBytes });
    } else if (event.type === "file-done") {
      const size = sizes.get(event.path) ?? event.size;
      say({ status: `pulling ${event.path}`, digest: event.path, total: size, completed: size });
    }
  }, controller.signal).then(() => {
    say({ status: "verifying sha256 digest" });
    say({ status: "writing manifest" });
    say({ status: "success" });
  }).finally(release);
  if (!stream) {
    await done;
    return { body: { status: "success" } };
  }
  let ended = false;
  done.then(() => {}, (error) => say(errorBody("ollama", error, httpStatusOf(error)) as Record<string, unknown>))
    .finally(() => {
      ended = true;
      wake?.();
    });
  const encoder = new TextEncoder();
  const out = new ReadableStream<Uint8Array>({
    async pull(controller2) {
      while (!lines.length && !ended) {
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
      if (lines.length) controller2.enqueue(encoder.encode(lines.splice(0).join("")));
      else controller2.close();
    },
    cancel() {
      controller.abort();
    },
  });
  return { body: undefined, stream: out, headers: NDJSON_HEADERS };
}

/** Ollama's routes. */
export const OLLAMA_ROUTES: Route[] = [
  { method: "GET", pattern: "/api/version", name: "ollama_version", api: "ollama", handler: versionHandler },
  { method: "GET", pattern: "/api/tags", name: "ollama_tags", api: "ollama", handler: tagsHandler },
  { method: "GET", pattern: "/api/ps", name: "ollama_ps", api: "ollama", handler: psHandler },
  { method: "POST", pattern: "/api/show", name: "ollama_show", api: "ollama", handler: showHandler },
  { method: "POST", pattern: "/api/chat", name: "ollama_chat", api: "ollama", handler: chatHandler },
  { method: "POST", pattern: "/api/generate", name: "ollama_generate", api: "ollama", handler: generateHandler },
  { method: "POST", pattern: "/api/embed", name: "ollama_embed", api: "ollama", handler: embedHandler },
  { method: "POST", pattern: "/api/pull", name: "ollama_pull", api: "ollama", handler: pullHandler },
];
