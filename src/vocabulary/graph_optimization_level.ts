/**
 * onnxruntime's graph optimisation levels, as gpux.yml and `--graph-optimization` spell them.
 *
 * @module
 */

/** onnxruntime's graph optimisation levels. */
export type GraphOptimizationLevel = "disabled" | "basic" | "extended" | "all";
