/**
 * What every command receives: the environment, cancellation, and how to build its {@linkcode Output}.
 *
 * @module
 */
import { denoEnv, type EnvReader } from "../environment.ts";
import { Output, type OutputOptions } from "./output.ts";

/** Shared state of one CLI invocation. */
export interface CliContext {
  /** Environment reader (HF_* variables, NO_COLOR, …). */
  env: EnvReader;
  /** Aborted on the first Ctrl-C. */
  signal: AbortSignal;
  /** Secrets of this invocation (`--token`'s value, `HF_TOKEN`), redacted from every message. */
  secrets: string[];
  /** Builds the output for a command from its `--json` / `--quiet` flags. */
  output(options: Omit<OutputOptions, "env" | "secrets">): Output;
  /**
   * Exit code a command sets when it has reported a failure itself (e.g. `cache verify --json`
   * printing its result, then exiting 6); `main` returns it when the command returns normally.
   */
  exitCode?: number;
}

/** A context reading the real environment, cancelled by `signal`; `secrets` are never printed. */
export function createContext(signal: AbortSignal, env: EnvReader = denoEnv, secrets: string[] = []): CliContext {
  const ctx: CliContext = {
    env,
    signal,
    secrets: [...secrets],
    output: (options) => new Output({ ...options, env, secrets: ctx.secrets }),
  };
  return ctx;
}
