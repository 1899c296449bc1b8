/**
 * Errors of the inference server, each with the HTTP status it answers with. They extend
 * {@linkcode GpuxError} like every other gpux error; {@linkcode httpStatusOf} maps any error to a status.
 *
 * @module
 */
import { GpuxError, InputError, NotFoundError, ProviderError, RuntimeError } from "../errors.ts";
import type { WorkerErrorData } from "./worker_protocol.ts";

/** An error that carries its HTTP status. */
export class HttpError extends GpuxError {
  override readonly code: string = "http_error";
  /** HTTP status code. */
  readonly status: number = 500;
  /** Extra response headers (e.g. `Retry-After`, `Allow`). */
  readonly headers: Record<string, string> = {};
}

/** The request's body is not valid JSON or not the expected document (400). */
export class BadRequestError extends HttpError {
  override readonly code: string = "bad_request";
  override readonly status: number = 400;
}

/** Missing or wrong API key (401). */
export class UnauthorizedError extends HttpError {
  override readonly code: string = "unauthorized";
  override readonly status: number = 401;
  override readonly headers: Record<string, string> = { "www-authenticate": 'Bearer realm="gpux"' };
}

/** The server forbids what was asked (403), e.g. `/api/pull` without `--allow-pull`. */
export class ForbiddenError extends HttpError {
  override readonly code: string = "forbidden";
  override readonly status: number = 403;
}

/** No such model or route (404). */
export class RouteNotFoundError extends HttpError {
  override readonly code: string = "not_found";
  override readonly status: number = 404;
}

/** The route exists but not for this method (405). */
export class MethodNotAllowedError extends HttpError {
  override readonly code: string = "method_not_allowed";
  override readonly status: number = 405;
  override readonly headers: Record<string, string>;
  /** `allow`: the methods the route takes. */
  constructor(message: string, allow: string[]) {
    super(message);
    this.headers = { allow: allow.join(", ") };
  }
}

/** The body is larger than `--max-body-mb` (413). */
export class PayloadTooLargeError extends HttpError {
  override readonly code: string = "payload_too_large";
  override readonly status: number = 413;
}

/** The model's queue is full (503, with `Retry-After`). */
export class QueueFullError extends HttpError {
  override readonly code: string = "queue_full";
  override readonly status: number = 503;
  override readonly headers: Record<string, string> = { "retry-after": "1" };
}

/** The server is shutting down (503). */
export class ShuttingDownError extends HttpError {
  override readonly code: string = "shutting_down";
  override readonly status: number = 503;
  override readonly headers: Record<string, string> = { "retry-after": "1", connection: "close" };
}

/** The request took longer than `--timeout-ms` (504). */
export class RequestTimeoutError extends HttpError {
  override readonly code: string = "timeout";
  override readonly status: number = 504;
}

/** The worker running the request crashed; it has been replaced (500). */
export class WorkerCrashedError extends HttpError {
  override readonly code: string = "worker_crashed";
  override readonly status: number = 500;
}

/** The HTTP status for any error: its own for {@linkcode HttpError}s, 400 for bad input, else 500. */
export function httpStatusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  if (error instanceof InputError) return 400;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ProviderError || error instanceof RuntimeError) return 500;
  return 500;
}

/**
 * A request field the server cannot honour or that is malformed (400), naming the field as OpenAI's `param`:
 * `n` above 1, a field not supported yet, a wrong type.
 */
export class InvalidFieldError extends HttpError {
  override readonly code: string = "invalid_request_error";
  override readonly status: number = 400;
  /** The field at fault. */
  readonly param: string;
  /** `param`: the field; `code`: a stable code (default `invalid_request_error`). */
  constructor(param: string, message: string, options: { hint?: string; code?: string } = {}) {
    super(message, options.hint ? { hint: options.hint } : {});
    this.param = param;
    if (options.code) (this as { code: string }).code = options.code;
  }
}

/** A prompt (and the tokens asked for) longer than the model's context: 400, never truncated silently. */
export class ContextLengthExceededError extends HttpError {
  override readonly code: string = "context_length_exceeded";
  override readonly status: number = 400;
  /** The field at fault (`messages` or `prompt`). */
  readonly param: string = "messages";
}

/**
 * A Worker's error, rebuilt on the main thread as the class it had there (a structured clone keeps no class):
 * `context_length_exceeded` → {@linkcode ContextLengthExceededError}, `InputError`, `ProviderError`, else
 * `RuntimeError`; the hint is kept.
 */
export function errorFromWorker(data: WorkerErrorData): GpuxError {
  const options = data.hint ? { hint: data.hint } : {};
  if (data.code === "context_length_exceeded") return new ContextLengthExceededError(data.message, options);
  if (data.name === "InputError") return new InputError(data.message, options);
  if (data.name === "ProviderError") return new ProviderError(data.message, options);
  return new RuntimeError(data.message, options);
}
