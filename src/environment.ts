/**
 * The environment variables gpux honours, read through an injectable reader so that
 * nothing in the library depends on global state (a Worker or a test passes its own).
 *
 * Names follow the Hugging Face conventions: `HF_ENDPOINT`, `HF_TOKEN`, `HF_TOKEN_PATH`,
 * `HF_HOME`, `HF_HUB_CACHE`, `HF_HUB_OFFLINE`; gpux's own state lives under `GPUX_HOME`.
 *
 * @module
 */

/** Reads one environment variable; `undefined` when unset (or not permitted). */
export type EnvReader = (name: string) => string | undefined;

/** The default Hub endpoint. */
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/**
 * The process environment through Deno, returning `undefined` instead of throwing when
 * `--allow-env` does not cover a variable.
 */
export const denoEnv: EnvReader = (name) => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};

/** An {@linkcode EnvReader} over a plain object (handy in tests and Workers). */
export function envFrom(vars: Record<string, string | undefined>): EnvReader {
  return (name) => vars[name];
}

/** The user's home directory (`HOME`, or `USERPROFILE` on Windows). */
export function homeDir(env: EnvReader = denoEnv): string {
  const home = env("HOME") ?? env("USERPROFILE");
  if (!home) throw new Error("cannot find the home directory: set HOME (or HF_HOME / HF_HUB_CACHE)");
  return home;
}

/** Hub base URL: `HF_ENDPOINT` without a trailing slash, else https://huggingface.co. */
export function hubEndpoint(env: EnvReader = denoEnv): string {
  const value = env("HF_ENDPOINT")?.trim();
  return (value ? value : DEFAULT_ENDPOINT).replace(/\/+$/, "");
}

/** True when `HF_HUB_OFFLINE` is set to a truthy value (`1`, `true`, `yes`, `on`). */
export function isOfflineEnv(env: EnvReader = denoEnv): boolean {
  return isTruthy(env("HF_HUB_OFFLINE"));
}

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function hfHome(env: EnvReader = denoEnv): string {
  const explicit = env("HF_HOME");
  if (explicit) return explicit;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/huggingface`;
  return `${homeDir(env)}/.cache/huggingface`;
}

/**
 * The Hub cache directory, in the order Python's huggingface_hub uses:
 * an explicit directory, `HF_HUB_CACHE`, `HUGGINGFACE_HUB_CACHE`, then `$HF_HOME/hub`.
 */
export function hubCacheDir(env: EnvReader = denoEnv, explicit?: string): string {
  // an empty variable counts as unset, as in Python's huggingface_hub
  return nonEmpty(explicit) ?? nonEmpty(env("HF_HUB_CACHE")) ?? nonEmpty(env("HUGGINGFACE_HUB_CACHE")) ??
    `${hfHome(env)}/hub`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** gpux's own state directory: `GPUX_HOME`, else `~/.gpux`. */
export function gpuxHome(env: EnvReader = denoEnv): string {
  return nonEmpty(env("GPUX_HOME")) ?? `${homeDir(env)}/.gpux`;
}

/** The longest delay a timer can wait (2^31-1 ms, about 24.8 days); longer ones fire immediately. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timeout in seconds from an environment variable (`HF_HUB_ETAG_TIMEOUT`, `HF_HUB_DOWNLOAD_TIMEOUT`, as
 * Python's huggingface_hub reads them), in milliseconds (at most 2^31-1); `undefined` when unset, empty or not a
 * positive number.
 */
export function envTimeoutMs(env: EnvReader, name: string): number | undefined {
  const value = env(name)?.trim();
  if (!value) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  // a timer longer than 2^31-1 ms fires at once (it overflows): cap "practically forever" there
  return Math.max(1, Math.min(MAX_TIMER_MS, Math.round(seconds * 1000)));
}

/** Parses the usual boolean spellings of an environment variable. */
export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && ["1", "true", "yes", "on"].includes(value.trim().toLowerCase());
}
