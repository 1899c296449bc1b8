/**
 * A repository's full file list at a commit (`GET /api/models/{id}/tree/{sha}?recursive=true`, paged), with sizes,
 * git oids and LFS sha256, checked by the listing check before anything trusts it.
 *
 * @module
 */
import { type ListFileEntry, listFiles } from "@huggingface/hub";
import { type RequestContext, safeOrigin } from "../download/http.ts";
import type { HubClient } from "./hub_client.ts";
import { checkListing, ListingGuard } from "./listing_check.ts";
import type { ModelFile } from "./manager.ts";

/**
 * Every file of `id` at commit `sha` (recursive, paged), sorted by path: checked once here, where the Hub's paths and
 * hashes become trusted, before they name anything on disk.
 */
export async function listRepoFiles(
  client: HubClient,
  id: string,
  sha: string,
  context: RequestContext,
  signal?: AbortSignal,
): Promise<ModelFile[]> {
  const call = await client.hubFetchOptions(context, signal);
  const files: ModelFile[] = [];
  const guard = new ListingGuard(safeOrigin(client.endpoint));
  for await (
    const entry of listFiles({ ...call, repo: { type: "model", name: id }, revision: sha, recursive: true })
  ) {
    if (entry.type !== "file") continue;
    files.push(guard.add(toModelFile(entry)));
  }
  // where the Hub's paths and hashes become trusted: checked once, here, before they name anything on disk
  checkListing(files, safeOrigin(client.endpoint));
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function toModelFile(entry: ListFileEntry): ModelFile {
  const file: ModelFile = { path: entry.path, size: entry.lfs?.size ?? entry.size };
  if (entry.oid) file.oid = entry.oid;
  if (entry.lfs) file.lfs = { sha256: entry.lfs.oid, size: entry.lfs.size };
  return file;
}
