/**
 * Checking the fields of the OpenAI and Ollama request documents, once, where they enter: each wrong field is a
 * 400 naming the field and what it must be ({@linkcode InvalidFieldError}), and the generation bounds
 * (`--max-tokens-limit`) are applied here.
 *
 * @module
 */
import type { GenerationPool } from "./generation_pool.ts";
import type { ModelPool } from "./model_pool.ts";
import type { ServedModel, ServerState } from "./server_state.ts";
import { BadRequestError, InvalidFieldError, RouteNotFoundError } from "./serve_errors.ts";

/** A parsed JSON object body. */
export type Fields = Record<string, unknown>;

/** Parses the body as a JSON object. @throws {BadRequestError} not JSON, or not an object. */
export function parseObject(text: string): Fields {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`the body is not valid JSON: ${(error as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new BadRequestError("the body must be a JSON object");
  }
  return value as Fields;
}

/** A string field (required unless `optional`). */
export function stringField(body: Fields, name: string, optional: true): string | undefined;
/** A required string field. */
export function stringField(body: Fields, name: string, optional?: false): string;
export function stringField(body: Fields, name: string, optional = false): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new InvalidFieldError(name, `${name} is required`);
  }
  if (typeof v !== "string") throw new InvalidFieldError(name, `${name} must be a string`);
  return v;
}

/** A number field within `[min, max]`, integer when asked. */
export function numberField(
  body: Fields,
  name: string,
  min: number,
  max: number,
  integer = false,
): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new InvalidFieldError(name, `${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}`);
  }
  return v;
}

/** A boolean field. */
export function booleanField(body: Fields, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new InvalidFieldError(name, `${name} must be true or false`);
  return v;
}

/** Most stop strings a request may give. */
export const MAX_STOP_STRINGS = 16;

/** `stop`: a string or a list of strings (empty strings dropped). */
export function stopField(body: Fields, name = "stop"): string[] | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) {
    throw new InvalidFieldError(name, `${name} must be a string or a list of strings`);
  }
  if (list.length > MAX_STOP_STRINGS) {
    throw new InvalidFieldError(name, `${name} has ${list.length} strings; at most ${MAX_STOP_STRINGS} are allowed`);
  }
  const kept = list.filter((s) => s !== "");
  return kept.length ? kept : undefined;
}

/** `max_tokens`-like field, bounded by `--max-tokens-limit`. */
export function maxTokensField(state: ServerState, body: Fields, name: string): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new InvalidFieldError(name, `${name} must be a positive integer`);
  }
  if (v > state.maxTokensLimit) {
    throw new InvalidFieldError(name, `${name} ${v} is over the server's limit of ${state.maxTokensLimit} tokens`, {
      hint: "ask for fewer tokens, or start the server with a larger --max-tokens-limit",
    });
  }
  return v;
}

/** Strips Ollama's default `:latest` tag from a model name. */
export function modelName(name: string): string {
  return name.endsWith(":latest") ? name.slice(0, -":latest".length) : name;
}

/**
 * Ollama's `keep_alive`: seconds as a number, or a duration (`5m`, `30s`, `1h`, `500ms`); negative keeps the model
 * loaded, 0 unloads it once the request is answered. Undefined when absent.
 */
export function keepAliveField(body: Fields): number | undefined {
  const v = body.keep_alive;
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "number" && Number.isFinite(v)) return v < 0 ? -1 : Math.round(v * 1000);
  if (typeof v === "string") {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
    if (m) {
      const n = Number(m[1]);
      if (n < 0) return -1;
      return Math.round(n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"] as number));
    }
  }
  throw new InvalidFieldError(
    "keep_alive",
    `keep_alive must be seconds or a duration such as "5m", not ${JSON.stringify(v)}`,
  );
}

/** The served model a request names (`model`), loaded on first use when the server serves the cache. */
export async function namedModel(
  state: ServerState,
  body: Fields,
  endpoint: { model?: string },
  field = "model",
): Promise<ServedModel> {
  const raw = stringField(body, field);
  const name = modelName(raw);
  if (!state.models.has(name) && !state.catalog) {
    const e = new RouteNotFoundError(
      `model ${JSON.stringify(raw)} is not served; the models are ${
        [...state.models.keys()].map((n) => JSON.stringify(n)).join(", ")
      }`,
      { hint: `pull it first (gpux pull ${raw}) and name it when starting gpux serve` },
    );
    (e as unknown as { param: string }).param = field;
    throw e;
  }
  const m = await state.acquire(name, keepAliveField(body));
  endpoint.model = m.name;
  return m;
}

/** The generation pool of a model. @throws {InvalidFieldError} the model does not generate text. */
export function generatorOf(m: ServedModel, field = "model"): GenerationPool {
  if (m.pool.kind === "generation" && !m.pool.encoderDecoder) return m.pool;
  throw new InvalidFieldError(
    field,
    `model ${JSON.stringify(m.name)} does not generate text from prompts (its task is ${
      m.pool.loaded.task ?? "unknown"
    }${m.pool.kind === "generation" ? `: POST /models/${m.name}/predict` : ""})`,
  );
}

/** The session pool of a feature-extraction model. @throws {InvalidFieldError} the model gives no embeddings. */
export function embedderOf(m: ServedModel, field = "model"): ModelPool {
  if (m.pool.kind === "session" && m.pool.loaded.task === "feature-extraction") return m.pool;
  throw new InvalidFieldError(
    field,
    `model ${JSON.stringify(m.name)} does not compute embeddings (its task is ${
      m.pool.loaded.task ?? "unknown"
    }); serve a feature-extraction model`,
  );
}

/** A field the server cannot honour yet: 400 saying so (never ignored). */
export function notSupportedYet(name: string, what: string): never {
  throw new InvalidFieldError(name, `${name} is not supported yet by gpux serve (${what})`, {
    code: "unsupported_parameter",
  });
}
