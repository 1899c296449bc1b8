/**
 * One error hierarchy for everything gpux does.
 *
 * Every error carries a stable machine-readable `code` and the process exit code
 * the CLI uses for it. Messages say what happened and what to do next.
 *
 * Exit codes: 0 ok · 1 unexpected · 2 usage or bad input · 3 not found ·
 * 4 authentication / gated / forbidden · 5 network or rate limit after retries ·
 * 6 integrity or cache · 7 runtime / execution provider · 130 interrupted.
 *
 * @module
 */

/** Process exit codes used by the gpux CLI, one per error family. */
export const ExitCode = {
  Ok: 0,
  Unexpected: 1,
  Usage: 2,
  NotFound: 3,
  Auth: 4,
  Network: 5,
  Integrity: 6,
  Runtime: 7,
  Interrupted: 130,
} as const;

/** Options shared by every {@linkcode GpuxError} constructor. */
export interface GpuxErrorOptions {
  /** The underlying error, kept for debugging (never printed with secrets). */
  cause?: unknown;
  /** A hint telling the user what to do next; appended to the message on its own line by the CLI. */
  hint?: string;
}

/**
 * Base class of every error gpux raises on purpose.
 *
 * @example
 * ```ts
 * import { GpuxError } from "jsr:@gpux/gpux";
 * try {
 *   // ...
 * } catch (e) {
 *   if (e instanceof GpuxError) console.error(e.code, e.exitCode, e.message);
 * }
 * ```
 */
export class GpuxError extends Error {
  /** Stable machine-readable code, e.g. `"model_not_found"`. */
  readonly code: string = "gpux_error";
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = ExitCode.Unexpected;
  /** What the user should do next, when there is something to do. */
  readonly hint?: string;

  /** An error with a message saying what happened; `options.hint` says what to do next. */
  constructor(message: string, options: GpuxErrorOptions = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.hint = options.hint;
  }

  /** A JSON-safe description of the error (used by `--json` output). */
  toJSON(): { error: string; code: string; message: string; hint?: string; exitCode: number } {
    return {
      error: this.name,
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      exitCode: this.exitCode,
    };
  }
}

/** Bad input from the user: an invalid model id, a malformed flag, a tensor of the wrong shape. Exit code 2. */
export class InputError extends GpuxError {
  /** Stable machine-readable code. */
  override readonly code: string = "invalid_input";
  /** Process exit code the CLI uses. */
  override readonly exitCode: number = ExitCode.Usage;
}

/** Something that was asked for does not exist. Exit code 3. */
export class NotFoundError extends GpuxError {
  /** Stable machine-readable code. */
  override readonly code: string = "not_found";
  /** Process exit code the CLI uses. */
  override readonly exitCode: number = ExitCode.NotFound;
}

/** The repository does not exist (or is private and no valid token was given). Exit code 3. */
export class ModelNotFoundError extends NotFoundError {
  /** Stable machine-readable code. */
  override readonly code: string = "model_not_found";
}

/** The branch, tag, commit or `refs/pr/N` does not exist in the repository. Exit code 3. */
export class RevisionNotFoundError extends NotFoundError {
  /** Stable machine-readable code. */
  override readonly code: string = "revision_not_found";
}

/** The file does not exist at that revision. Exit code 3. */
export class EntryNotFoundError extends NotFoundError {
  /** Stable machine-readable code. */
  override readonly code: string = "entry_not_found";
}

/** The token is missing, invalid or lacks access (HTTP 401/403). Exit code 4. */
export class AuthenticationError extends GpuxError {
  /** Stable machine-readable code. */
  override readonly code: string = "authentication_failed";
  /** Process exit code the CLI uses. */
  override readonly exitCode: number = ExitCode.Auth;
}

/** The repository is gated and the user has not accepted its conditions (HTTP 403 `GatedRepo`). Exit code 4. */
export class GatedModelError extends AuthenticationError {
  /** Stable machine-readable code. */
  override readonly code: string = "gated_model";
}

/** A network failure that persisted after retries: DNS, refused connection, TLS, timeout, 5xx, bad body. Exit code 5. */
export class NetworkError extends GpuxError {
  /** Stable machine-readable code. */
  override readonly code: string = "network_error";
  /** Process exit code the CLI uses. */
  override readonly exitCode: number = ExitCode.Network;
}

/** The Hub kept answering 429 Too Many Requests after retries. Exit code 5. */
export class RateLimitError extends NetworkError {
  /** Stable machine-readable code. */
  override readonly code: string = "rate_limited";
  /** Seconds the server asked us to wait, when it said. */
  readonly retryAfter?: number;
  /** A rate-limit error; `options.retryAfter` is the wait the server asked for, in seconds. */
  constructor(message: string, options: GpuxErrorOptions & { retryAfter?: number } = {}) {
    super(message, options);
    this.retryAfter = options.retryAfter;
  }
}

/**
 * Deno's permission sandbox refused a connection (a host outside `--allow-net`, e.g. where the Hub
 * redirected a download): retrying cannot help, so it is never retried. Exit code 5.
 */
export class NetPermissionError extends NetworkError {
  /** Stable machine-readable code. */
  override readonly code: string = "net_not_permitted";
}

/** Something needs the network but offline mode (`--offline` / `HF_HUB_OFFLINE=1`) forbids it. Exit code 5. */
export class OfflineError extends NetworkError {
  /** Stable machine-readable code. */
  override readonly code: string = "offline";
}

/** Downloaded or cached bytes do not match their expected size or hash. Exit code 6. */
export class IntegrityError extends GpuxError {
  /** Stable machine-readable code. */
  override readonly code: string = "integrity_error";
  /** Process exit code the CLI uses. */
  override readonly exitCode: number = ExitCode.Integrity;
}

/** The local cache is unreadable, locked, corrupt or cannot be written. Exit code 6. */
export class CacheError extends GpuxError {
  /** Stable machine-readable code. */
  override readonly code: string = "cache_error";
  /** Process exit code the CLI uses. */
  override readonly exitCode: number = ExitCode.Integrity;
}

/**
 * The disk holding the cache is full (ENOSPC) or the user's quota is spent (EDQUOT): never retried.
 * Exit code 6. The bytes already written stay as resumable partial files.
 */
export class DiskFullError extends CacheError {
  /** Stable machine-readable code. */
  override readonly code: string = "disk_full";
  /** The folder that could not be written. */
  readonly folder: string;
  /** Bytes the operation still needed to write when it stopped (a lower bound of the free space to make). */
  readonly bytesNeeded: number;
  /** A disk-full error naming `folder` and the `bytesNeeded` to finish. */
  constructor(message: string, options: GpuxErrorOptions & { folder: string; bytesNeeded: number }) {
    super(message, options);
    this.folder = options.folder;
    this.bytesNeeded = options.bytesNeeded;
  }
}

/** An execution provider failed to load, or a model failed to load or run. Exit code 7. */
export class ProviderError extends GpuxError {
  /** Stable machine-readable code. */
  override readonly code: string = "provider_error";
  /** Process exit code the CLI uses. */
  override readonly exitCode: number = ExitCode.Runtime;
}

/** A model failed to load or run in onnxruntime. Exit code 7. */
export class RuntimeError extends GpuxError {
  /** Stable machine-readable code. */
  override readonly code: string = "runtime_error";
  /** Process exit code the CLI uses. */
  override readonly exitCode: number = ExitCode.Runtime;
}

/** The operation was cancelled (Ctrl-C, an `AbortSignal`). Exit code 130. */
export class InterruptedError extends GpuxError {
  /** Stable machine-readable code. */
  override readonly code: string = "interrupted";
  /** Process exit code the CLI uses. */
  override readonly exitCode: number = ExitCode.Interrupted;
}

/** Exit code for any thrown value: a {@linkcode GpuxError}'s own, else 1. */
export function exitCodeOf(error: unknown): number {
  return error instanceof GpuxError ? error.exitCode : ExitCode.Unexpected;
}
