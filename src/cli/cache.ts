/**
 * `gpux cache`: the cache's own commands (prune, verify, dir); shows help without one.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { cacheDirCommand } from "./cache_dir.ts";
import { cachePruneCommand } from "./cache_prune.ts";
import { cacheVerifyCommand } from "./cache_verify.ts";
import type { CliContext } from "./context.ts";

/** `gpux cache <prune|verify|dir>`. */
export function cacheCommand(ctx: CliContext) {
  const cache = new Command("cache")
    .description("Manage the Hugging Face cache: prune, verify, dir (list models with `gpux ls`)");
  for (const sub of [cachePruneCommand(ctx), cacheVerifyCommand(ctx), cacheDirCommand(ctx)]) {
    sub.exitOverride();
    cache.addCommand(sub);
  }
  cache.action(() => cache.help());
  return cache;
}
