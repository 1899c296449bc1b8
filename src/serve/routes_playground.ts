/**
 * The playground page of `gpux serve`: `GET /` answers a page that lists the served models and gives each task the
 * form a person expects (a chat for text generation, a text box, an image or audio picker, a raw-tensor box), calling
 * the server's own endpoints from the browser. Its files are plain HTML, CSS and JS modules kept under
 * src/serve/playground/ and embedded as strings (playground_assets.ts, written by scripts/build_playground.ts), so the
 * page works offline and from the compiled binary: nothing is read from disk at run time. `--no-ui` leaves these
 * routes out (then `/` is a 404).
 *
 * @module
 */
import { PLAYGROUND_ASSETS } from "./playground_assets.ts";
import type { Route } from "./route_table.ts";

/**
 * The page's Content-Security-Policy: scripts and styles only from the server's own files (no `unsafe-inline`, no
 * `eval`), requests only to the server itself, images only from the page's own data (masks, uploads), no frames.
 */
export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers of every playground file: the CSP, no MIME sniffing, no referrer, revalidated on each load. */
export const PLAYGROUND_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": PLAYGROUND_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/** Where the page learns what it needs to know about the server before asking anything of it. */
export const PLAYGROUND_SETTINGS_PATH = "/playground/settings.json";

/** The paths the playground answers (served without the API key: they hold no secret, and the page asks for it). */
export const PLAYGROUND_PATHS: ReadonlySet<string> = new Set([
  ...PLAYGROUND_ASSETS.map((a) => a.path),
  PLAYGROUND_SETTINGS_PATH,
]);

/**
 * One route per embedded file, and the page's settings (`{"apiKey": true}` when the server needs a key, so the page
 * asks for it before calling the API instead of collecting a 401).
 */
export function playgroundRoutes(options: { apiKey: boolean }): Route[] {
  return [
    ...PLAYGROUND_ASSETS.map((asset): Route => ({
      method: "GET",
      pattern: asset.path,
      name: "playground",
      api: "gpux",
      handler: () => ({
        body: undefined,
        text: asset.body,
        headers: { "content-type": asset.contentType, ...PLAYGROUND_HEADERS },
      }),
    })),
    {
      method: "GET",
      pattern: PLAYGROUND_SETTINGS_PATH,
      name: "playground",
      api: "gpux",
      handler: () => ({ body: { apiKey: options.apiKey }, headers: PLAYGROUND_HEADERS }),
    },
  ];
}
