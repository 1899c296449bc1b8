/**
 * The Hugging Face cache, shared with Python's huggingface_hub: the scan's records, removal as a plan you can show
 * before executing it, prune and verify options and results, the per-model lock, and file hashing. The root module
 * has `scanCache`, `removeFromCache`, `pruneCache` and `verifyCache`; this is the rest, with the integrity and cache
 * errors.
 *
 * @example
 * ```ts
 * import { executeRemoval, planRemoval } from "jsr:@gpux/gpux/cache";
 * const plan = await planRemoval("acme/tiny-bert@v1.0");
 * console.log(plan.revisions.map((r) => r.commit)); // prints: [ "3f1c…" ]
 * await executeRemoval(plan);
 * ```
 *
 * @module
 */
/**
 * The Hub cache shared with Python's huggingface_hub: list, remove, prune, verify.
 *
 * @example
 * ```ts
 * import { pruneCache, scanCache, verifyCache } from "jsr:@gpux/gpux";
 * import { planRemoval } from "jsr:@gpux/gpux/cache";
 * const scan = await scanCache(); // --cache-dir > HF_HUB_CACHE > $HF_HOME/hub > ~/.cache/huggingface/hub
 * for (const m of scan.models) console.log(m.id, m.sizeOnDisk, m.revisions.map((r) => r.refs));
 * const plan = await planRemoval("acme/tiny-bert@v1.0"); // then executeRemoval(plan)
 * const freed = (await pruneCache({ dryRun: true })).freedBytes;
 * const { ok, issues } = await verifyCache({ models: ["acme/tiny-bert"] });
 * ```
 */
export {
  type CachedBlob,
  type CachedFile,
  type CachedModel,
  type CachedRevision,
  type CacheScan,
  type DanglingRef,
  type ForeignBlob,
  type IncompleteFile,
  scanCachedModel,
  type ScanCacheOptions,
  type SkippedEntry,
  type SnapshotEntryKind,
} from "./scan.ts";
export {
  executeRemoval,
  type ExecuteRemovalOptions,
  type PlannedBlob,
  type PlannedRevision,
  planRemoval,
  type RemovalOptions,
  type RemovalPlan,
  type RemovalResult,
} from "./remove.ts";
export {
  DEFAULT_PRUNE_AGE_MS,
  type KeptRevision,
  type PruneItem,
  type PruneItemKind,
  type PruneOptions,
  type PruneResult,
} from "./prune.ts";
export {
  type ModelVerification,
  type UnverifiedFile,
  type VerifyIssue,
  type VerifyIssueKind,
  type VerifyOptions,
  type VerifyProgressEvent,
  type VerifyResult,
} from "./verify.ts";
export { gitBlobSha1File, type HashFileOptions, sha256File } from "./file_hash.ts";
/** Who holds a model's lock (`rm` waits for it, `cache prune` skips the model). */
export type { LockInfo } from "./lock.ts";
/** The errors this room raises (each a `GpuxError`; see the root module). */
export { CacheError, DiskFullError, IntegrityError } from "../errors.ts";
