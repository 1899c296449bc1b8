/**
 * The Hugging Face registry as the registry commands use it: built from the environment and the
 * command's `--token`, with retries reported on stderr.
 *
 * @module
 */
import { HuggingFaceManager } from "../registry/huggingface.ts";
import { formatDuration, type Output } from "./output.ts";
import type { CliContext } from "./context.ts";

/** Flags every registry command accepts. */
export interface HubFlags {
  token?: string;
}

/** A {@linkcode HuggingFaceManager} for one command: `--token` first, then the usual token resolution. */
export function hubClient(ctx: CliContext, flags: HubFlags, out: Output): HuggingFaceManager {
  return new HuggingFaceManager({
    env: ctx.env,
    token: flags.token,
    onRetry: (info) => out.info(`retrying in ${formatDuration(info.delayMs / 1000)} (${info.reason})`),
  });
}
