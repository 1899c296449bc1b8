/**
 * The path- and host-scoped permission flags `deno task gpux` runs the CLI with. A Deno task cannot
 * compute `${HF_HUB_CACHE:-$HF_HOME/hub}` itself (deno_task_shell expands `$HOME` but neither `${…}`
 * nor `:-` defaults), but it does run command substitutions, so the task calls this module first:
 *
 * ```
 * deno run --allow-env --allow-read --allow-ffi --allow-sys $(deno run --allow-env src/cli/permission_flags.ts) cli.ts
 * ```
 *
 * It prints:
 * - `--allow-write=<hub cache>,<token folder>[,<INIT_CWD>]`: the Hub cache (`HF_HUB_CACHE`,
 *   `HUGGINGFACE_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`, as Python resolves it), the
 *   folder of the token file `gpux login` writes (`HF_TOKEN_PATH`'s folder, else `$HF_HOME`), and the
 *   directory the task was started from (for `gpux init` / `gpux run --output`), and `GPUX_HOME` (provider
 *   folders and partial downloads of `gpux runtime install`). Nothing else is writable.
 * - `--allow-net=<hosts>`: the Hub (`HF_ENDPOINT`'s host, `huggingface.co`, `hf.co`), their CDN
 *   subdomains (`*.huggingface.co`, `*.hf.co`, where LFS/Xet downloads are redirected) and the
 *   loopback addresses (for `gpux serve`), and the package hosts of `gpux runtime install` (`GPUX_NPM_REGISTRY`,
 *   `GPUX_NUGET_URL`).
 *
 * @module
 */
import { denoEnv, type EnvReader, gpuxHome, hfHome, hubCacheDir, hubEndpoint } from "../environment.ts";
import { packageHosts } from "../runtime_install/provider_packages.ts";

/** The Hub's own hosts and the CDN subdomains downloads are redirected to. */
export const HUB_HOSTS = ["huggingface.co", "*.huggingface.co", "hf.co", "*.hf.co"];
/** Loopback addresses (local servers). */
export const LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]", "0.0.0.0"];

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i > 0 ? path.slice(0, i) : path;
}

/**
 * The folders gpux may write to: the Hub cache, the token file's folder, and the directory
 * `deno task` was started from (`INIT_CWD`, which deno task sets), where `gpux init` writes
 * `gpux.yml` and `gpux run --output` its files.
 */
export function writeScope(env: EnvReader = denoEnv, cacheDir?: string): string[] {
  const out = [hubCacheDir(env, cacheDir)];
  const tokenPath = env("HF_TOKEN_PATH");
  out.push(tokenPath ? dirOf(tokenPath) : hfHome(env));
  const invokedFrom = env("INIT_CWD");
  if (invokedFrom) out.push(invokedFrom);
  out.push(...runtimeWriteScope(env));
  return [...new Set(out.map((p) => p.replace(/\/+$/, "") || "/"))];
}

/** The hosts gpux may connect to. */
export function netScope(env: EnvReader = denoEnv): string[] {
  let endpointHost: string | undefined;
  try {
    endpointHost = new URL(hubEndpoint(env)).host;
  } catch {
    endpointHost = undefined;
  }
  return [
    ...new Set([...(endpointHost ? [endpointHost] : []), ...HUB_HOSTS, ...LOCAL_HOSTS, ...runtimeNetScope(env)]),
  ];
}

// --- gpux runtime install (issue 12): kept separate from the Hub scopes above ---

/** `gpux runtime install` writes runtime folders and partial downloads under `GPUX_HOME` (default `~/.gpux`). */
export function runtimeWriteScope(env: EnvReader = denoEnv): string[] {
  try {
    return [gpuxHome(env)];
  } catch {
    return []; // no HOME and no GPUX_HOME: nothing to grant
  }
}

/** `gpux runtime install` reaches the npm registry and the NuGet feed (`GPUX_NPM_REGISTRY`, `GPUX_NUGET_URL`). */
export function runtimeNetScope(env: EnvReader = denoEnv): string[] {
  return packageHosts(env);
}

/** `--allow-write=…` and `--allow-net=…` for the environment `env`. */
export function permissionFlags(env: EnvReader = denoEnv): string[] {
  return [`--allow-write=${writeScope(env).join(",")}`, `--allow-net=${netScope(env).join(",")}`];
}

if (import.meta.main) {
  console.log(permissionFlags().join(" "));
}
