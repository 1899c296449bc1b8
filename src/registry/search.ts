/**
 * Model search (`gpux search`): the Hub's list API with a query, task, library and author filters, sorted by
 * downloads, likes or last update (descending), following `Link` paging up to a limit.
 *
 * @module
 */
import { listModels } from "@huggingface/hub";
import { InputError } from "../errors.ts";
import { dropUndefined, type HubClient, isoDate } from "./hub_client.ts";
import type { ModelSummary, SearchOptions } from "./manager.ts";

/** Sort orders of {@linkcode searchModels}. */
export const SEARCH_SORTS = ["downloads", "likes", "updated"] as const;

/** The Hub's own name for each sort order. */
const SORT_KEY = { downloads: "downloads", likes: "likes", updated: "lastModified" } as const;

/** Default number of search results. */
export const DEFAULT_SEARCH_LIMIT = 20;

/**
 * Searches models through the Hub's list API, following `Link` paging up to `limit`.
 *
 * @throws {InputError} for a bad `sort` or `limit`.
 */
export async function searchModels(
  client: HubClient,
  query: string,
  options: SearchOptions = {},
): Promise<ModelSummary[]> {
  const limit = options.limit ?? DEFAULT_SEARCH_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new InputError(`invalid limit ${limit}: it must be a whole number of at least 1`, {
      hint: `e.g. limit ${DEFAULT_SEARCH_LIMIT} (the default)`,
    });
  }
  const sort = options.sort ?? "downloads";
  if (!SEARCH_SORTS.includes(sort)) {
    throw new InputError(`invalid sort '${sort}': use one of ${SEARCH_SORTS.join(", ")}`, {
      hint: `e.g. sort "${SEARCH_SORTS[0]}" (the default)`,
    });
  }
  client.assertOnline(`search ${client.endpoint}`);
  return await client.translate(
    async () => {
      const call = await client.hubFetchOptions({}, options.signal);
      const library = options.library?.trim();
      // @huggingface/hub 2.17.5 has no library filter and never sends a sort direction: add both
      // (`library=` is the Hub's library filter; `direction=-1` asks for descending order explicitly).
      const listFetch: typeof fetch = (input, init) => {
        const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
        if (library) url.searchParams.set("library", library);
        url.searchParams.set("direction", "-1");
        return call.fetch(url.href, init);
      };
      const out: ModelSummary[] = [];
      for await (
        const entry of listModels({
          ...call,
          fetch: listFetch,
          search: {
            query: query.trim() || undefined,
            owner: options.author?.trim() || undefined,
            task: (options.task?.trim() || undefined) as Parameters<typeof listModels>[0] extends
              { search?: { task?: infer T } } ? T : never,
          },
          sort: SORT_KEY[sort],
          limit,
          additionalFields: ["library_name"],
        })
      ) {
        out.push(dropUndefined({
          id: entry.name,
          pipelineTag: entry.task,
          libraryName: entry.library_name,
          downloads: entry.downloads,
          likes: entry.likes,
          lastModified: isoDate(entry.updatedAt),
          private: entry.private,
          gated: entry.gated ?? false,
        }));
        if (out.length >= limit) break;
      }
      return out;
    },
    {},
    options.signal,
  );
}
