/**
 * How each API words an error: gpux, KServe and Ollama answer `{"error": "…", "hint": "…"}` (Ollama's clients
 * read `error`); OpenAI's clients expect `{"error": {"message", "type", "param", "code"}}`.
 *
 * @module
 */
import { GpuxError, InputError } from "../errors.ts";
import { HttpError } from "./serve_errors.ts";
import type { RouteApi } from "./route_table.ts";

/** An error that names the request field at fault (OpenAI's `param`). */
export interface FieldError {
  /** The field, e.g. `messages` or `max_tokens`. */
  param?: string;
}

/** The body of an error answer for `api`. */
export function errorBody(api: RouteApi, error: unknown, status: number): unknown {
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof InputError || error instanceof HttpError ? error.hint : undefined;
  if (api !== "openai") return { error: message, ...(hint ? { hint } : {}) };
  const param = (error as FieldError | undefined)?.param ?? null;
  const type = status === 401
    ? "authentication_error"
    : status === 404
    ? "not_found_error"
    : status === 503 || status === 429
    ? "server_busy"
    : status >= 500
    ? "server_error"
    : "invalid_request_error";
  const code = error instanceof GpuxError ? error.code : null;
  return { error: { message: hint ? `${message} (${hint})` : message, type, param, code } };
}
