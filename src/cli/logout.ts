/**
 * `gpux logout`: removes the saved token file.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { deleteToken, tokenFilePath } from "../registry/auth.ts";
import type { CliContext } from "./context.ts";

/** The `logout` command. */
export function logoutCommand(ctx: CliContext) {
  return new Command("logout")
    .description("Remove the saved Hugging Face token (the file `gpux login` and `hf auth login` write)")
    .option("--json", "print one JSON document")
    .option("-q, --quiet", "print nothing but errors")
    .action(async (options) => {
      const out = ctx.output({ json: options.json, quiet: options.quiet });
      const removed = await deleteToken({ env: ctx.env });
      const path = removed ?? tokenFilePath(ctx.env);
      const envToken = Boolean(ctx.env("HF_TOKEN")?.trim());
      if (out.json) return out.printJson({ loggedOut: removed !== undefined, tokenPath: path, hfTokenSet: envToken });
      out.info(removed ? `removed the token file ${path}` : `not logged in (no token file at ${path})`);
      if (envToken) out.warn("HF_TOKEN is set in the environment: requests still use it until you unset it");
    });
}
