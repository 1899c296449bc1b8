/**
 * `gpux whoami`: the account the current token belongs to.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";
import { hubClient } from "./hub_client.ts";

/** The `whoami` command. */
export function whoamiCommand(ctx: CliContext) {
  return new Command("whoami")
    .description("Show the Hugging Face account of the current token")
    .option("--token <token>", "check this token instead of HF_TOKEN or the saved login")
    .option("--json", "print one JSON document")
    .option("-q, --quiet", "print no progress or retries")
    .action(async (options) => {
      const out = ctx.output({ json: options.json, quiet: options.quiet });
      const me = await hubClient(ctx, options, out).whoami({ signal: ctx.signal });
      if (out.json) return out.printJson(me);
      out.print(me.name);
      if (me.orgs.length) out.print(`${out.dim("orgs:")} ${me.orgs.join(", ")}`);
      if (me.token?.role) out.print(`${out.dim("token:")} ${me.token.name ?? "?"} (${me.token.role})`);
      out.info(`token from ${describeSource(me.tokenSource)}`);
    });
}

function describeSource(source: string): string {
  switch (source) {
    case "explicit":
      return "--token";
    case "HF_TOKEN":
      return "the HF_TOKEN environment variable";
    case "HF_TOKEN_PATH":
      return "the file at HF_TOKEN_PATH";
    case "HF_HOME":
      return "$HF_HOME/token";
    default:
      return "~/.cache/huggingface/token";
  }
}
