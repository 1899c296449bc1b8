/**
 * The CORS origins `gpux serve --cors` (or gpux.yml `serving.cors`) allows, checked once at start. The value
 * becomes a response header on every answer, so anything that is not `*` or a list of origins is refused there:
 * a CR or LF in it would otherwise make every response, `/health` included, fail (or split the header).
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** Allowed origins: `*` (any), or exact origins (`scheme://host[:port]`, as browsers send them in `Origin`). */
export type CorsOrigins = "*" | readonly string[];

const HINT =
  "give * or a comma-separated list of origins such as https://app.example.com,http://localhost:3000 (scheme://host[:port], no path)";

/**
 * Parses `--cors`: `*`, or one or more comma-separated origins, each normalised as a browser spells it
 * (lower-case host, default port dropped).
 *
 * @throws {InputError} a control character, an empty entry, or an entry that is not an http(s) origin.
 * @example
 * ```ts
 * parseCorsOrigins("https://App.example.com:443, http://localhost:3000");
 * // ["https://app.example.com", "http://localhost:3000"]
 * ```
 */
export function parseCorsOrigins(value: string, flag = "--cors"): CorsOrigins {
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new InputError(`${flag} ${JSON.stringify(value)} contains a control character (CR, LF, …)`, { hint: HINT });
  }
  const entries = value.split(",").map((e) => e.trim());
  if (entries.length === 1 && entries[0] === "*") return "*";
  return entries.map((entry) => {
    if (entry === "*") throw new InputError(`${flag}: * cannot be combined with origins`, { hint: HINT });
    if (!/^https?:\/\/[^/?#@\s]+\/?$/i.test(entry)) {
      throw new InputError(`${flag}: ${JSON.stringify(entry)} is not an origin`, { hint: HINT });
    }
    try {
      return new URL(entry).origin;
    } catch {
      throw new InputError(`${flag}: ${JSON.stringify(entry)} is not an origin`, { hint: HINT });
    }
  });
}

/**
 * The `Access-Control-Allow-Origin` value for a request from `origin`: `*`, the single allowed origin, or the
 * request's own origin when it is one of several allowed (none when it is not).
 */
export function allowedOrigin(origins: CorsOrigins, origin: string | null): string | undefined {
  if (origins === "*") return "*";
  if (origins.length === 1) return origins[0];
  return origin !== null && origins.includes(origin) ? origin : undefined;
}
