/**
 * `gpux cache prune`: deletes what no cached revision needs and prints what it freed.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { cacheWriteError } from "../file_errors.ts";
import { hubCacheDir } from "../environment.ts";
import { DEFAULT_PRUNE_AGE_MS, pruneCache, type PruneItem } from "../cache/prune.ts";
import type { CliContext } from "./context.ts";
import { parseDuration } from "./duration.ts";
import { formatBytes } from "./output.ts";

const LABELS: Record<PruneItem["kind"], string> = {
  detached_revision: "detached revision",
  unreferenced_blob: "unused blob",
  incomplete: "partial download",
  empty_dir: "empty folder",
};

/** `gpux cache prune [--dry-run] [--older-than DURATION] [--keep-detached] [--cache-dir D] [--json]`. */
export function cachePruneCommand(ctx: CliContext) {
  return new Command("prune")
    .description(
      "Delete unused blobs, partial downloads older than --older-than, detached revisions and empty folders",
    )
    .option("--dry-run", "list what would be deleted and freed; delete nothing")
    .option("--older-than <duration>", "minimum age of partial downloads and empty folders (e.g. 12h, 7d, 0)", "1d")
    .option("--keep-detached", "keep revisions no ref points at")
    .option(
      "--cache-dir <dir>",
      "the Hub cache (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)",
    )
    .option("--json", "print one JSON document")
    .action(async (options) => {
      const out = ctx.output({ json: options.json });
      const olderThanMs = options.olderThan === "1d"
        ? DEFAULT_PRUNE_AGE_MS
        : parseDuration(options.olderThan, "--older-than");
      const result = await pruneCache({
        cacheDir: options.cacheDir,
        env: ctx.env,
        dryRun: options.dryRun,
        olderThanMs,
        keepDetached: options.keepDetached,
        signal: ctx.signal,
      }).catch((error) => {
        throw cacheWriteError(error, hubCacheDir(ctx.env, options.cacheDir)) ?? error;
      });
      if (out.json) {
        out.printJson(result);
        return;
      }
      const verb = result.dryRun ? "would remove" : "removed";
      for (const item of result.items) {
        const what = item.kind === "detached_revision"
          ? `${item.model}@${item.commit!.slice(0, 12)}`
          : item.kind === "empty_dir"
          ? item.path
          : `${item.model} ${item.etag}`;
        // a revision's links free nothing themselves: the blobs only it used are listed on their own
        const size = item.size > 0 || item.kind === "unreferenced_blob" || item.kind === "incomplete"
          ? formatBytes(item.size)
          : "";
        out.print(`${verb} ${LABELS[item.kind]} ${what}${size ? ` (${size})` : ""}`);
      }
      for (const kept of result.keptDetached) {
        if (kept.reason !== "--keep-detached") {
          out.info(`kept ${kept.model}@${kept.commit.slice(0, 12)}: ${kept.reason}`);
        }
      }
      for (const busy of result.inUse) {
        out.warn(`skipped ${busy.model}: ${busy.reason}; run prune again once it is done`);
      }
      if (result.items.length === 0) out.print(`Nothing to prune in ${result.cacheDir}.`);
      else {out.print(
          `${result.dryRun ? "Would free" : "Freed"} ${formatBytes(result.freedBytes)} in ${result.cacheDir}`,
        );}
    });
}
