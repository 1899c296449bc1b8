/**
 * The server's route table: each endpoint is one named handler registered with its method and path pattern
 * (`/v2/models/:name/infer`), as Ollama's `routes.go` registers `r.POST("/api/chat", s.ChatHandler)`. Routing
 * matches the path first, then the method: a known path asked with another method answers 405 naming the
 * methods it takes (a path naming a model that is not served answers 404 first).
 *
 * @module
 */
import type { Reservation } from "./memory_budget.ts";
import type { ServerState } from "./server_state.ts";
import { BadRequestError, MethodNotAllowedError, RouteNotFoundError } from "./serve_errors.ts";

/** Which API a route belongs to: it decides the shape of its error answers. */
export type RouteApi = "gpux" | "kserve" | "openai" | "ollama";

/** What routing learns about a request as it goes: its endpoint's name and API, and its share of the memory budget. */
export interface RouteState {
  /** The endpoint's name (the `endpoint` label of the metrics). */
  name: string;
  /** The API of the matched route (errors are shaped for it). */
  api: RouteApi;
  /** The request's reservation against the memory budget, released once it is answered. */
  reservation?: Reservation;
  /** The served model the request named, for the access log and metrics. */
  model?: string;
}

/** A handler's answer: a JSON body, printed text, or a stream. */
export interface Handled {
  /** HTTP status (default 200). */
  status?: number;
  /** A document printed as JSON (when neither `text` nor `stream` is given). */
  body: unknown;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** The answer already printed. */
  text?: string;
  /** A large or streamed answer (instead of `text`). */
  stream?: ReadableStream<Uint8Array>;
  /** The served model that answered. */
  model?: string;
  /** Requests in the model run that answered it. */
  batch?: number;
}

/** What a handler gets: the request, the path's parameters, the server's state and the route's state. */
export interface RouteContext {
  /** The HTTP request. */
  request: Request;
  /** The path without trailing slashes. */
  path: string;
  /** The path's `:name` segments, URL-decoded. */
  params: Record<string, string>;
  /** The server. */
  state: ServerState;
  /** This request's endpoint facts (its name, its memory reservation). */
  endpoint: RouteState;
}

/** One endpoint. */
export interface Route {
  /** `GET` routes answer `HEAD` too. */
  method: "GET" | "POST" | "DELETE";
  /** `/v2/models/:name/infer`: literal segments, and `:param` segments that match one segment. */
  pattern: string;
  /** The endpoint's name (metrics label). */
  name: string;
  /** Which API (error shape). */
  api: RouteApi;
  /** The handler. */
  handler: (ctx: RouteContext) => Handled | Promise<Handled>;
}

/** Splits a path into URL-decoded segments. @throws {BadRequestError} a malformed percent-escape. */
export function pathSegments(path: string): string[] {
  return path.split("/").slice(1).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw new BadRequestError(`malformed path ${JSON.stringify(path)}`);
    }
  });
}

function match(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(":")) {
      if (segments[i] === "") return undefined;
      params[p.slice(1)] = segments[i];
    } else if (p !== segments[i]) return undefined;
  }
  return params;
}

/** The routes, matched in order. */
export class RouteTable {
  #routes: { route: Route; segments: string[] }[] = [];

  /** Registers routes. */
  add(...routes: Route[]): this {
    for (const route of routes) this.#routes.push({ route, segments: route.pattern.split("/").slice(1) });
    return this;
  }

  /** Every registered route. */
  get routes(): Route[] {
    return this.#routes.map((r) => r.route);
  }

  /**
   * The route for `method` and `path`, with its parameters; sets `endpoint.name` and `endpoint.api` as soon as
   * the path matches.
   *
   * @throws {RouteNotFoundError} a known path naming a model that is not served (404, before the method is checked);
   *   a path no route has gets {@linkcode NOT_FOUND}, whose handler answers 404.
   * @throws {MethodNotAllowedError} the path is known but not for this method (405, with `Allow`).
   */
  find(
    method: string,
    path: string,
    endpoint: RouteState,
    requireModel: (name: string) => void,
  ): { route: Route; params: Record<string, string> } {
    const segments = pathSegments(path);
    const allowed: string[] = [];
    let first: { route: Route; params: Record<string, string> } | undefined;
    for (const { route, segments: pattern } of this.#routes) {
      const params = match(pattern, segments);
      if (!params) continue;
      first ??= { route, params };
      if (route.method === method || (route.method === "GET" && method === "HEAD")) return { route, params };
      allowed.push(...(route.method === "GET" ? ["GET", "HEAD"] : [route.method]));
    }
    if (!first) return { route: NOT_FOUND, params: {} };
    endpoint.name = first.route.name;
    endpoint.api = first.route.api;
    if (first.params.name !== undefined) requireModel(first.params.name);
    throw new MethodNotAllowedError(`${method} is not allowed here; use ${allowed.join(" or ")}`, allowed);
  }
}

/** The route of paths no endpoint has (answers 404 naming the endpoints). */
export const NOT_FOUND: Route = {
  method: "GET",
  pattern: "",
  name: "unknown",
  api: "gpux",
  handler: ({ request, path }) => {
    throw new RouteNotFoundError(`no route ${request.method} ${path}`, {
      hint:
        "see GET /info; endpoints: /health, /info, /predict, /models/{name}/predict, /metrics, /v2/…, /v1/… (OpenAI), /api/… (Ollama)",
    });
  },
};
