/**
 * The `hint:` line for an error raised without one. Every error the CLI prints says what happened and what to do
 * next; most errors carry their own hint, written where the error is raised. This is the floor for the rest (errors
 * raised deep in a library layer, where the command that ran is unknown): a hint from the error's family and the
 * command, so that no error line stands alone.
 *
 * @module
 */
import {
  AuthenticationError,
  CacheError,
  type GpuxError,
  InputError,
  IntegrityError,
  InterruptedError,
  NetworkError,
  NotFoundError,
  OfflineError,
  ProviderError,
  RateLimitError,
  RuntimeError,
} from "../errors.ts";

/** Commands that take a model and its inputs. */
const RUNTIME_COMMANDS = new Set(["run", "bench", "inspect", "init", "serve"]);

/**
 * The hint to print for `error` raised while `command` ran (the first word after `gpux`, if any): the error's own
 * hint when it has one, else one from its family.
 *
 * @example
 * ```ts
 * import { InputError } from "jsr:@gpux/gpux";
 * fallbackHint(new InputError("missing input \"mask\""), "run"); // "gpux inspect MODEL lists …"
 * ```
 */
export function fallbackHint(error: GpuxError, command?: string): string {
  if (error.hint) return error.hint;
  const help = command ? `gpux ${command} --help` : "gpux --help";
  if (error instanceof InputError) {
    if (command && RUNTIME_COMMANDS.has(command)) {
      if (/\.npy\b/.test(error.message)) return "write .npy files with numpy.save (one array of a plain dtype)";
      if (/\binputs?\b/.test(error.message)) {
        return "gpux inspect MODEL lists the model's inputs with their names, types and shapes";
      }
    }
    return `check the value named above (${help} lists the arguments and options)`;
  }
  if (error instanceof NotFoundError) {
    return "check the name or path: gpux ls lists the cached models, gpux search finds models on the Hub";
  }
  if (error instanceof AuthenticationError) {
    return "log in with gpux login (or set HF_TOKEN) with a token that may read this repository";
  }
  if (error instanceof RateLimitError) return "wait a minute, then run the same command again";
  if (error instanceof OfflineError) return "go online (unset HF_HUB_OFFLINE, drop --offline) or use what is cached";
  if (error instanceof NetworkError) return "check your connection and HF_ENDPOINT, then run the same command again";
  if (error instanceof IntegrityError) {
    return "run the same command again to fetch it anew; gpux cache verify checks what is cached";
  }
  if (error instanceof CacheError) {
    return "check the folder named above: it must be a folder you can write (--cache-dir, HF_HUB_CACHE, GPUX_HOME)";
  }
  if (error instanceof ProviderError) {
    return "gpux doctor shows which execution providers load here; --provider cpu always works";
  }
  if (error instanceof RuntimeError) {
    return "check the model and its inputs (gpux inspect MODEL); GPUX_DEBUG=1 adds the details";
  }
  if (error instanceof InterruptedError) return "run the same command again (a pull resumes where it stopped)";
  return `see ${help} and the README section of this command`;
}
