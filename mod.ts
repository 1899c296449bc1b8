/**
 * gpux: pull ONNX models from the Hugging Face Hub into the cache Python's huggingface_hub uses,
 * manage that cache, and run models on the best execution provider the machine has.
 *
 * @example
 * ```ts
 * import { HuggingFaceManager } from "jsr:@gpux/gpux";
 * const hub = new HuggingFaceManager();
 * const info = await hub.getModelInfo("onnx-community/bert-base");
 * console.log(info.formats, info.onnx.defaultVariant);
 * ```
 *
 * @module
 */
export * from "./src/errors.ts";
export type {
  ConversionHint,
  Modality,
  ModelFile,
  ModelFormat,
  ModelManager,
  ModelMetadata,
  ModelSummary,
  OnnxInfo,
  OnnxVariant,
  PullOptions,
  PullProgressEvent,
  PullResult,
  RegistryConfig,
  RevisionOptions,
  SearchOptions,
} from "./src/registry/manager.ts";
export { isCommitSha, type ModelRef, parseModelId } from "./src/registry/model_id.ts";
export { envFrom, type EnvReader } from "./src/environment.ts";

// The Hub cache shared with Python's huggingface_hub: list, remove, prune, verify (each export
// carries its JSDoc and example in src/cache/).
export {
  type CachedBlob,
  type CachedFile,
  type CachedModel,
  type CachedRevision,
  type CacheScan,
  type DanglingRef,
  type IncompleteFile,
  scanCache,
  scanCachedModel,
  type ScanCacheOptions,
  type SkippedEntry,
  type SnapshotEntryKind,
} from "./src/cache/scan.ts";
export {
  executeRemoval,
  type PlannedBlob,
  type PlannedRevision,
  planRemoval,
  type RemovalOptions,
  type RemovalPlan,
  type RemovalResult,
  removeFromCache,
} from "./src/cache/remove.ts";
export {
  DEFAULT_PRUNE_AGE_MS,
  type KeptRevision,
  pruneCache,
  type PruneItem,
  type PruneItemKind,
  type PruneOptions,
  type PruneResult,
} from "./src/cache/prune.ts";
export {
  type ModelVerification,
  type UnverifiedFile,
  verifyCache,
  type VerifyIssue,
  type VerifyIssueKind,
  type VerifyOptions,
  type VerifyProgressEvent,
  type VerifyResult,
} from "./src/cache/verify.ts";
export { gitBlobSha1File, type HashFileOptions, sha256File } from "./src/cache/file_hash.ts";
