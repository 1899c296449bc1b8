/**
 * `gpux cache dir`: where the Hub cache is.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { hubCacheDir } from "../environment.ts";
import type { CliContext } from "./context.ts";

/** `gpux cache dir [--cache-dir D] [--json]`. */
export function cacheDirCommand(ctx: CliContext) {
  return new Command("dir")
    .description(
      "Print the cache location (--cache-dir, else HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)",
    )
    .option("--cache-dir <dir>", "an explicit cache directory")
    .option("--json", "print one JSON document")
    .action((options) => {
      const out = ctx.output({ json: options.json });
      const cacheDir = hubCacheDir(ctx.env, options.cacheDir);
      if (out.json) out.printJson({ cacheDir });
      else out.print(cacheDir);
    });
}
