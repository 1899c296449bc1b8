/**
 * Serving models over HTTP from a program: {@linkcode serve} starts what `gpux serve` starts (the gpux API, KServe
 * v2, OpenAI's `/v1` and Ollama's `/api`, Prometheus metrics at `/metrics`) on models loaded into Workers, and
 * returns a handle that says where it listens and shuts it down. Loading, the access log and the drain arrive as
 * {@linkcode ServeEvent}s; nothing is printed. `serve`, `ServeOptions` and `GpuxServer` are also in the root module.
 *
 * @example
 * ```ts
 * import { serve } from "jsr:@gpux/gpux/serve";
 * await using server = await serve({
 *   models: ["sentiment=./models/sentiment"],
 *   port: 0,
 *   onEvent: (event) => event.type === "request" && console.log(event.entry.status, event.entry.path),
 * });
 * await fetch(`${server.url}/models/sentiment/predict`, { method: "POST", body: '{"text": "I love this"}' });
 * // prints: 200 /models/sentiment/predict
 * ```
 *
 * @module
 */
export {
  type AccessLogEntry,
  type GpuxServer,
  type ModelDirectory,
  type ModelPuller,
  type PoolEvent,
  serve,
  type ServedModelInfo,
  type ServeEvent,
  type ServeOptions,
  type ServerEvent,
} from "./serve.ts";
