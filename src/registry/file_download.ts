/**
 * How to download one file of a repository at a commit: its resolve URL (`{endpoint}/{id}/resolve/{commit}/{path}`),
 * the headers and the client's fetch, timeouts and retry budget, for the transfer engine. Makes no request.
 *
 * @module
 */
import { DEFAULT_MAX_RETRIES } from "../download/http.ts";
import type { HubClient } from "./hub_client.ts";
import type { HubFileRequest } from "./manager.ts";

/**
 * How to download `path` of `modelId` at `commit`: its resolve URL, the headers (token included when
 * there is one), and the client's fetch, download timeouts and retry budget, named as `downloadBlob`'s
 * options are. Makes no request.
 */
export async function fileDownload(
  client: HubClient,
  modelId: string,
  commit: string,
  path: string,
): Promise<HubFileRequest> {
  const http = client.httpOptions();
  return {
    url: `${client.endpoint}/${modelId}/resolve/${commit}/${path.split("/").map(encodeURIComponent).join("/")}`,
    headers: await client.requestHeaders(),
    fetch: http.fetch,
    timeoutMs: client.downloadTimeoutMs,
    stallTimeoutMs: client.downloadTimeoutMs,
    maxRetries: http.maxRetries ?? DEFAULT_MAX_RETRIES,
    baseDelayMs: http.baseDelayMs,
    maxDelayMs: http.maxDelayMs,
  };
}
