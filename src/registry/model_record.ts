/**
 * The Hub's model record of a repository at a revision (`GET /api/models/{id}/revision/{revision}`): the commit it
 * resolves to, pipeline tag, tags, gating, library, license and the `config` the Hub reports, as a
 * {@linkcode HubModelRecord}.
 *
 * @module
 */
import { modelInfo } from "@huggingface/hub";
import { dropUndefined, type HubClient, isoDate } from "./hub_client.ts";
import type { HubModelRecord } from "./manager.ts";

/** The Hub's model record of `id` at `revision` (`GET /api/models/{id}/revision/{revision}`), its fields checked. */
export async function modelRecord(
  client: HubClient,
  id: string,
  revision: string,
  signal?: AbortSignal,
): Promise<HubModelRecord> {
  const call = await client.hubFetchOptions({ repoId: id, revision }, signal);
  const raw = await modelInfo({
    ...call,
    name: id,
    revision,
    additionalFields: ["sha", "tags", "library_name", "cardData", "author", "config"],
  });
  const apiConfig = raw.config && typeof raw.config === "object" ? parseConfig(JSON.stringify(raw.config)) : {};
  const card = (raw.cardData ?? {}) as { license?: unknown };
  const tags = Array.isArray(raw.tags) ? raw.tags.filter((t): t is string => typeof t === "string") : [];
  const license = typeof card.license === "string"
    ? card.license
    : tags.find((t) => t.startsWith("license:"))?.slice("license:".length);
  return dropUndefined({
    id: raw.name ?? id,
    sha: raw.sha,
    private: raw.private === true,
    gated: raw.gated === "auto" || raw.gated === "manual" ? raw.gated : false,
    pipelineTag: raw.task,
    libraryName: raw.library_name,
    tags,
    license,
    downloads: raw.downloads,
    likes: raw.likes,
    lastModified: isoDate(raw.updatedAt),
    author: raw.author,
    config: Object.keys(apiConfig).length ? apiConfig : undefined,
  });
}

/** `architectures` and `model_type` of a config.json text (nothing for a broken one). */
export function parseConfig(text: string): { architectures?: string[]; modelType?: string } {
  try {
    const config = JSON.parse(text);
    if (!config || typeof config !== "object") return {};
    const architectures = Array.isArray(config.architectures)
      ? config.architectures.filter((a: unknown): a is string => typeof a === "string")
      : undefined;
    const modelType = typeof config.model_type === "string" ? config.model_type : undefined;
    return dropUndefined({ architectures, modelType });
  } catch {
    return {}; // a broken config.json is the repository's business, not a reason to fail `info`
  }
}
