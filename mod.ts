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
