/**
 * `gpux search [QUERY]`: models on the Hub, as a table or JSON.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { InputError } from "../errors.ts";
import { DEFAULT_SEARCH_LIMIT, SEARCH_SORTS } from "../registry/huggingface.ts";
import type { SearchOptions } from "../registry/manager.ts";
import type { CliContext } from "./context.ts";
import { hubClient } from "./hub_client.ts";
import { formatCount, formatDate } from "./output.ts";
import { printTable } from "./table_output.ts";
import { INT_FLAGS, intFlag } from "./int_flag.ts";

/** The `search` command. */
export function searchCommand(ctx: CliContext) {
  return new Command("search")
    .description("Search models on the Hugging Face Hub (e.g. gpux search bert --library onnx)")
    .argument("[query]", "words to look for in model ids")
    .option("--task <task>", "pipeline tag, e.g. text-classification")
    .option("--library <library>", "library, e.g. onnx, transformers.js")
    .option("--author <author>", "user or organisation")
    .option("--sort <order>", `sort by ${SEARCH_SORTS.join(" | ")}`, "downloads")
    .option(
      "--limit <n>",
      `number of results (${INT_FLAGS.limit.min}-${INT_FLAGS.limit.max})`,
      intFlag("--limit", INT_FLAGS.limit),
      DEFAULT_SEARCH_LIMIT,
    )
    .option("--token <token>", "Hugging Face token (default: HF_TOKEN or the saved login)")
    .option("--json", "print one JSON document")
    .option("-q, --quiet", "print no progress or retries")
    .action(async (query, options) => {
      const out = ctx.output({ json: options.json, quiet: options.quiet });
      const sort = parseSort(options.sort);
      const hits = await hubClient(ctx, options, out).searchModels(query ?? "", {
        task: options.task,
        library: options.library,
        author: options.author,
        sort,
        limit: options.limit,
        signal: ctx.signal,
      });
      if (out.json) return out.printJson(hits);
      if (hits.length === 0) {
        out.info("no models found");
        return;
      }
      const rows = hits.map((hit) => [
        hit.id,
        hit.pipelineTag ?? "-",
        hit.libraryName ?? "-",
        formatCount(hit.downloads),
        formatCount(hit.likes),
        formatDate(hit.lastModified),
      ]);
      printTable(
        out,
        ["ID", "TASK", "LIBRARY", "DOWNLOADS", "LIKES", "UPDATED"],
        rows,
        ["left", "left", "left", "right", "right", "left"],
      );
    });
}

function parseSort(value: string): NonNullable<SearchOptions["sort"]> {
  const sort = value.trim().toLowerCase();
  if (!(SEARCH_SORTS as readonly string[]).includes(sort)) {
    throw new InputError(`invalid --sort '${value}': use one of ${SEARCH_SORTS.join(", ")}`, {
      hint: `e.g. --sort ${SEARCH_SORTS[0]} (the default)`,
    });
  }
  return sort as NonNullable<SearchOptions["sort"]>;
}
