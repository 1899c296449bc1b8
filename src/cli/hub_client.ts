/**
 * The Hugging Face registry as the registry commands use it: built from the environment and the
 * command's `--token`, with retries reported on stderr.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { HuggingFaceManager } from "../registry/huggingface.ts";
import { type ModelRef, parseModelId, validateRevision } from "../vocabulary/model_id.ts";
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

/**
 * The model argument `org/name[@rev]` and the `--revision` flag as one {@linkcode ModelRef}; giving two
 * different revisions is an {@linkcode InputError}.
 */
export function modelArg(model: string, revisionFlag: string | undefined): ModelRef {
  const ref = parseModelId(model);
  if (revisionFlag !== undefined) validateRevision(revisionFlag);
  if (revisionFlag !== undefined && ref.revision !== undefined && revisionFlag !== ref.revision) {
    throw new InputError(
      `two different revisions given: '@${ref.revision}' in the model id and --revision '${revisionFlag}'`,
      { hint: "give the revision once, either as org/name@rev or with --revision" },
    );
  }
  const revision = revisionFlag ?? ref.revision;
  return revision === undefined ? { id: ref.id } : { id: ref.id, revision };
}
