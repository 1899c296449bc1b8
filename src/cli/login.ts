/**
 * `gpux login`: checks a token with the Hub and saves it where Python's `hf auth login` does.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { InputError, InterruptedError } from "../errors.ts";
import { saveToken } from "../registry/auth.ts";
import { readBounded } from "../bounded_read.ts";
import type { CliContext } from "./context.ts";
import { hubClient } from "./hub_client.ts";
import type { Output } from "./output.ts";

/** The `login` command. */
export function loginCommand(ctx: CliContext) {
  return new Command("login")
    .description(
      "Save a Hugging Face token after checking it with the Hub (read from stdin without --token; hidden on a terminal)",
    )
    .option("--token <token>", "the token (prefer stdin: flags end up in shell history)")
    .option("--json", "print one JSON document")
    .option("-q, --quiet", "print nothing but errors")
    .action(async (options) => {
      const out = ctx.output({ json: options.json, quiet: options.quiet });
      const token = (options.token ?? await readToken(out, ctx.signal)).trim();
      if (!token) {
        throw new InputError("no token given", {
          hint: "create one at https://huggingface.co/settings/tokens, then run `gpux login` and paste it",
        });
      }
      const hub = hubClient(ctx, {}, out);
      const me = await hub.whoami({ token, signal: ctx.signal });
      const path = await saveToken(token, { env: ctx.env });
      if (out.json) return out.printJson({ name: me.name, type: me.type, orgs: me.orgs, tokenPath: path });
      out.info(`logged in as ${out.bold(me.name)}; token saved to ${path}`);
      if (ctx.env("HF_TOKEN")?.trim()) {
        out.warn("HF_TOKEN is set in the environment and takes precedence over the saved token");
      }
    });
}

/** Reads the token from stdin: hidden input on a terminal, else the first line of the stream. */
async function readToken(out: Output, signal: AbortSignal): Promise<string> {
  if (!Deno.stdin.isTerminal()) {
    // a token is ~40 bytes: `gpux login < /dev/zero` must end, and Ctrl-C must stop a pipe that never closes
    const bytes = await readBounded("-", {
      maxBytes: 64 * 1024,
      label: "the token on stdin",
      allowStdin: true,
      signal,
      tooBigHint: "pipe in only the token (hf_…), e.g. `echo $TOKEN | gpux login`",
    });
    const text = new TextDecoder().decode(bytes);
    return text.split(/\r?\n/).find((line) => line.trim()) ?? "";
  }
  if (!out.quiet) Deno.stderr.writeSync(new TextEncoder().encode("Hugging Face token (input hidden): "));
  Deno.stdin.setRaw(true);
  const chars: string[] = [];
  const buffer = new Uint8Array(256);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      const text = new TextDecoder().decode(buffer.subarray(0, n));
      let done = false;
      for (const ch of text) {
        if (ch === "\r" || ch === "\n") {
          done = true;
          break;
        }
        if (ch === "\x03") throw new InterruptedError("interrupted");
        if (ch === "\x7f" || ch === "\b") chars.pop();
        else if (ch >= " ") chars.push(ch);
      }
      if (done) break;
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
  return chars.join("");
}
