/**
 * A revision (branch, tag, commit, `refs/pr/N`) resolved to its commit: with the full file list there
 * ({@linkcode resolveRevision}, what a pull plans from), or the commit alone in one request
 * ({@linkcode revisionCommit}, how a pull checks that a cached revision still names it).
 *
 * @module
 */
import { NetworkError } from "../errors.ts";
import type { HubClient } from "./hub_client.ts";
import { listRepoFiles } from "./list_files.ts";
import type { HubModelRecord, ModelFile, RevisionListing } from "./manager.ts";
import { modelRecord } from "./model_record.ts";
import { isCommitSha, parseModelId, validateRevision } from "../vocabulary/model_id.ts";

/** A revision resolved to a commit, with the full file list at that commit (what a pull reads of it, and more). */
export interface ResolvedRevision extends RevisionListing {
  /** Repository id as the Hub spells it. */
  id: string;
  /** The revision asked for. */
  revision: string;
  /** The commit it resolved to (40 hex). */
  sha: string;
  /** Every file at that commit, with sizes, git oids and LFS sha256. */
  files: ModelFile[];
  /** The Hub's model record at that revision (pipeline tag, tags, gated, private, …). */
  info: HubModelRecord;
}

/**
 * Resolves a revision (branch, tag, 40-hex sha, `refs/pr/N`) to its commit and lists every file at
 * that commit (paged tree, recursive), in two requests plus paging. A pull plans from this.
 *
 * @throws {RevisionNotFoundError} for an unknown revision; {@linkcode ModelNotFoundError},
 * {@linkcode AuthenticationError}, {@linkcode GatedModelError}, {@linkcode NetworkError} as usual.
 */
export async function resolveRevision(
  client: HubClient,
  modelId: string,
  revision?: string,
  options: { signal?: AbortSignal } = {},
): Promise<ResolvedRevision> {
  const ref = parseModelId(modelId);
  const rev = revision ?? ref.revision ?? "main";
  validateRevision(rev);
  client.assertOnline(`resolve ${ref.id}@${rev}`);
  const context = { repoId: ref.id, revision: rev };
  return await client.translate(
    async () => {
      const info = await modelRecord(client, ref.id, rev, options.signal);
      const sha = info.sha;
      if (!sha || !isCommitSha(sha)) {
        throw new NetworkError(`${client.endpoint} did not return the commit of ${ref.id}@${rev}`, {
          hint: client.networkHint(),
        });
      }
      const files = await listRepoFiles(client, info.id, sha, context, options.signal);
      return { id: info.id, revision: rev, sha, files, info };
    },
    context,
    options.signal,
  );
}

/**
 * The commit `revision` points at now, in one request (`GET /api/models/{id}/revision/{revision}`):
 * how a pull checks that a branch or tag still names a commit it already has.
 *
 * @throws {NetworkError} when the answer holds no commit sha; the typed errors of {@linkcode HubClient.hubFetch}.
 */
export async function revisionCommit(
  client: HubClient,
  modelId: string,
  revision: string,
  signal?: AbortSignal,
): Promise<string> {
  const url = `${client.endpoint}/api/models/${modelId}/revision/${encodeURIComponent(revision)}`;
  const response = await client.hubFetch({ repoId: modelId, revision }, signal)(url, {
    headers: await client.requestHeaders(),
  });
  const body = await response.json() as { sha?: unknown };
  if (typeof body.sha !== "string" || !isCommitSha(body.sha)) {
    throw new NetworkError(`${client.endpoint} did not return the commit of ${modelId}@${revision}`);
  }
  return body.sha;
}
