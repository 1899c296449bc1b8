/**
 * Hugging Face access tokens: where they come from, where `gpux login` keeps them, and how to keep
 * them out of anything printed.
 *
 * Resolution order (first hit wins): an explicit token (`--token`), `HF_TOKEN`, the file at
 * `HF_TOKEN_PATH`, `$HF_HOME/token`, `~/.cache/huggingface/token`. The token file is the one
 * Python's `hf auth login` writes, so an existing login just works.
 *
 * @module
 */
import { denoEnv, type EnvReader, hfHome, homeDir } from "../environment.ts";
import { AuthenticationError, CacheError } from "../errors.ts";

/** Where a token was found. */
export type TokenSource = "explicit" | "HF_TOKEN" | "HF_TOKEN_PATH" | "HF_HOME" | "default";

/** A resolved token and its origin (never print `token`). */
export interface ResolvedToken {
  /** The token itself: never print it. */
  token: string;
  /** Where it came from. */
  source: TokenSource;
  /** The file it was read from, for file sources. */
  path?: string;
}

/** Options of the token functions. */
export interface TokenOptions {
  /** An explicit token (the `--token` flag); wins over everything else. */
  token?: string;
  /** Where environment variables are read from (default `Deno.env`). */
  env?: EnvReader;
}

/**
 * Finds the token to use: explicit > `HF_TOKEN` > file at `HF_TOKEN_PATH` > `$HF_HOME/token` >
 * `~/.cache/huggingface/token`. Empty values and missing or empty files are skipped. Returns
 * `undefined` when there is none (anonymous access).
 *
 * @throws {AuthenticationError} when the token found is malformed (whitespace, control or non-ASCII characters).
 * @example
 * ```ts
 * const found = await resolveToken({ token: Deno.args[0] });
 * console.log(found ? `using a token from ${found.source}` : "anonymous");
 * ```
 */
export async function resolveToken(options: TokenOptions = {}): Promise<ResolvedToken | undefined> {
  const env = options.env ?? denoEnv;
  const explicit = options.token?.trim();
  if (explicit) return checked({ token: explicit, source: "explicit" });
  const fromEnv = env("HF_TOKEN")?.trim() || env("HUGGING_FACE_HUB_TOKEN")?.trim();
  if (fromEnv) return checked({ token: fromEnv, source: "HF_TOKEN" });
  for (const candidate of tokenFileCandidates(env)) {
    const token = await readTokenFile(candidate.path);
    if (token) return checked({ token, source: candidate.source, path: candidate.path });
  }
  return undefined;
}

/** The token files looked at, in order (duplicates removed). */
export function tokenFileCandidates(env: EnvReader = denoEnv): { path: string; source: TokenSource }[] {
  const out: { path: string; source: TokenSource }[] = [];
  const add = (path: string | undefined, source: TokenSource) => {
    if (path && !out.some((c) => c.path === path)) out.push({ path, source });
  };
  add(env("HF_TOKEN_PATH") || undefined, "HF_TOKEN_PATH");
  try {
    add(`${hfHome(env)}/token`, env("HF_HOME") ? "HF_HOME" : "default");
    add(`${homeDir(env)}/.cache/huggingface/token`, "default");
  } catch {
    // no home directory: nothing more to look at
  }
  return out;
}

/**
 * The file `gpux login` writes and `gpux logout` removes: `HF_TOKEN_PATH`, else `$HF_HOME/token`
 * (with `HF_HOME` defaulting to `$XDG_CACHE_HOME/huggingface`, then `~/.cache/huggingface`) —
 * where Python's `hf auth login` writes it.
 */
export function tokenFilePath(env: EnvReader = denoEnv): string {
  return env("HF_TOKEN_PATH") || `${hfHome(env)}/token`;
}

/**
 * Writes the token file atomically (a temporary file in the same folder, then a rename) with mode
 * 0600, creating the folder (mode 0700) when needed. Returns the path written.
 *
 * @throws {CacheError} when the file cannot be written (the message names the path, never the token).
 */
export async function saveToken(token: string, options: { env?: EnvReader } = {}): Promise<string> {
  const value = checked({ token: token.trim(), source: "explicit" }).token;
  const path = tokenFilePath(options.env ?? denoEnv);
  const dir = path.slice(0, Math.max(0, path.lastIndexOf("/"))) || ".";
  const temp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(temp, value, { mode: 0o600, createNew: true });
    await Deno.chmod(temp, 0o600).catch(() => {}); // mode is masked by umask on creation
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new CacheError(`cannot write the token file ${path}: ${errorText(error)}`, {
      hint: "check that the folder is writable, or set HF_TOKEN_PATH to a writable location",
    });
  }
  return path;
}

/**
 * Removes the token file `gpux login` wrote. Returns its path, or `undefined` when there was none.
 *
 * @throws {CacheError} when it exists but cannot be removed.
 */
export async function deleteToken(options: { env?: EnvReader } = {}): Promise<string | undefined> {
  const path = tokenFilePath(options.env ?? denoEnv);
  const info = await Deno.lstat(path).catch(() => undefined);
  if (info?.isDirectory) {
    throw new CacheError(`${path} is a folder, not a token file: nothing removed`, {
      hint: "check HF_TOKEN_PATH / HF_HOME; the token file is a plain file",
    });
  }
  try {
    await Deno.remove(path);
    return path;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new CacheError(`cannot remove the token file ${path}: ${errorText(error)}`);
  }
}

/** Hugging Face tokens (`hf_…`, `api_…`) and `Bearer`/`Basic` credentials inside free text. */
// (a folder named like `/data/hf_home/hub` is a path, not a token: not after `/` or `.`, nor followed by `/`)
const TOKEN_PATTERN =
  /(?<![/.])\b(hf_|api_org_|api_)[A-Za-z0-9_-]{4,}(?![A-Za-z0-9_-]*\/)|\b((?:Bearer|Basic)\s+)[^\s"',;)]{4,}/g;

/** `user:password@` (or `token@`) inside a URL: `scheme://***@host`. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@?#"']+@/gi;

/** Candidates for a secret without a known prefix: long runs of base64/base64url characters. */
const LONG_WORD = /[A-Za-z0-9_+=-]{32,}/g;

/**
 * True for a long word that looks random (an API key, a base64 credential) rather than a name: it mixes
 * lower case, upper case and digits, and the kind of character changes often. Hex digests (commit shas,
 * etags) are all lower case and names like `paraphrase-multilingual-MiniLM-L12-v2` change kind rarely,
 * so both are kept.
 */
function looksRandom(word: string): boolean {
  if (!/[a-z]/.test(word) || !/[A-Z]/.test(word) || !/[0-9]/.test(word)) return false;
  const kind = (c: string) => /[a-z]/.test(c) ? 0 : /[A-Z]/.test(c) ? 1 : /[0-9]/.test(c) ? 2 : 3;
  let changes = 0;
  for (let i = 1; i < word.length; i++) if (kind(word[i]) !== kind(word[i - 1])) changes++;
  return changes >= word.length * 0.45; // random base62: ~0.62; names like MiniLM-L12-v2: ~0.3
}

/**
 * Replaces anything that looks like a secret with `***`, so that error messages, logs and JSON never
 * carry one: each of `tokens` wherever it appears, Hugging Face tokens (`hf_…`, `api_…`), the value of
 * `Bearer`/`Basic` credentials, the `user:password@` part of URLs, and long random-looking words
 * (32+ characters mixing cases and digits, as API keys are).
 *
 * @example
 * ```ts
 * redactToken("401 for Bearer hf_abcdef123456"); // "401 for Bearer ***"
 * redactToken("GET http://user:pw@mirror.local/api failed"); // "GET http://***@mirror.local/api failed"
 * ```
 */
export function redactToken(text: string, ...tokens: (string | undefined)[]): string {
  let out = text;
  for (const token of tokens) {
    if (token && token.length >= 4) out = out.split(token).join("***");
  }
  return out
    .replace(URL_CREDENTIALS, "$1***@")
    .replace(TOKEN_PATTERN, (match, prefix: string | undefined, scheme: string | undefined) => {
      if (!scheme) return `${prefix}***`;
      const value = match.slice(scheme.length);
      // "Basic" is also a word: a credential is base64 with a digit, a symbol or upper case past its start
      const credential = scheme.startsWith("Bearer") ||
        (/^[A-Za-z0-9+/]{6,}={0,2}$/.test(value) && /[0-9+/=]|.[A-Z]/.test(value));
      return credential ? `${scheme}***` : match;
    })
    .replace(LONG_WORD, (word) => looksRandom(word) ? "***" : word);
}

/** Largest token file read: a token is ~40 bytes; `HF_TOKEN_PATH=/dev/zero` must not be read forever. */
const MAX_TOKEN_FILE = 64 * 1024;

async function readTokenFile(path: string): Promise<string | undefined> {
  try {
    const info = await Deno.stat(path);
    // a device, a FIFO or a folder is no token file (reading /dev/zero or a FIFO would never end)
    if (!info.isFile || info.size > MAX_TOKEN_FILE) return undefined;
    const text = (await Deno.readTextFile(path)).trim();
    return text || undefined;
  } catch {
    return undefined; // missing or unreadable: try the next place
  }
}

function checked(found: ResolvedToken): ResolvedToken {
  // an HTTP header value holds visible ASCII only: anything else would fail every request as a "network error"
  const bad = /\s/.test(found.token)
    ? "whitespace"
    : /[^\x21-\x7e]/.test(found.token)
    ? "a control or non-ASCII character"
    : "";
  if (bad) {
    const where = found.path ? `the token in ${found.path}` : found.source === "HF_TOKEN" ? "HF_TOKEN" : "the token";
    throw new AuthenticationError(`${where} is malformed: it contains ${bad}`, {
      hint: "a Hugging Face token is one word starting with hf_; create one at https://huggingface.co/settings/tokens",
    });
  }
  return found;
}

function errorText(error: unknown): string {
  return redactToken(error instanceof Error ? error.message : String(error));
}
