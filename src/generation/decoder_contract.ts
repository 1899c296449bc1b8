/**
 * What a decoder-only ONNX graph takes and gives, read from the session's input and output metadata —
 * never from a list of architectures: `input_ids`, `attention_mask`, optional `position_ids`,
 * `past_key_values.N.key|value` in, `logits` and `present.N.key|value` out, with the optional
 * `num_logits_to_keep`/`logits_to_keep` and merged decoders' `use_cache_branch`. The optimum,
 * transformers.js / onnx-community and onnxruntime-genai exports all speak this contract.
 *
 * The empty past of the first step is built from the metadata's dims and dtype (float16 included); a
 * symbolic head count or head size is taken from config.json instead. A graph that does not fit is an
 * {@linkcode InputError} (exit 2) naming what is missing, before anything runs.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorData, TensorInfo } from "../runtime/tensors.ts";

/** One layer's cache: the past inputs and the present outputs that feed them next step. */
export interface CacheLayer {
  /** `past_key_values.N.key`. */
  pastKey: string;
  /** `past_key_values.N.value`. */
  pastValue: string;
  /** `present.N.key`. */
  presentKey: string;
  /** `present.N.value`. */
  presentValue: string;
}

/** The decoder's inputs and outputs by role, and the shape of its cache. */
export interface DecoderContract {
  /** Token ids input and its integer dtype. */
  inputIds: { name: string; dtype: "int64" | "int32" };
  /** Attention mask input (absent in a few exports). */
  attentionMask?: { name: string; dtype: "int64" | "int32" };
  /** Position ids input, when the graph does not derive positions itself (onnxruntime-genai). */
  positionIds?: { name: string; dtype: "int64" | "int32" };
  /** `num_logits_to_keep` / `logits_to_keep`: a scalar asking for the last positions' logits only. */
  logitsToKeep?: { name: string; dtype: "int64" | "int32"; shape: number[] };
  /** Merged decoders' boolean switch between the first step and the cached steps. */
  useCacheBranch?: string;
  /** The logits output. */
  logits: string;
  /** Cache layers in order (empty for a graph without a KV cache: every step then re-runs the whole sequence). */
  layers: CacheLayer[];
  /** Element type of the cache. */
  cacheDtype: "float32" | "float16";
  /** Key/value heads per layer. */
  kvHeads: number;
  /** Size of one head. */
  headDim: number;
}

const INT_TYPES = new Set<string>(["int64", "int32"]);

function intInput(info: TensorInfo | undefined, role: string): { name: string; dtype: "int64" | "int32" } | undefined {
  if (!info) return undefined;
  if (!INT_TYPES.has(info.dtype)) {
    throw new InputError(`the decoder's ${role} input ${info.name} is ${info.dtype}, expected int64 or int32`, {
      hint: "export the model with optimum or onnxruntime-genai (gpux generates with their input names and types)",
    });
  }
  return { name: info.name, dtype: info.dtype as "int64" | "int32" };
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** True when a graph has the inputs of a decoder with a KV cache (used to detect text generation). */
export function hasPastInputs(inputs: readonly TensorInfo[]): boolean {
  return inputs.some((i) => /^past_key_values\.\d+\.key$/.test(i.name));
}

/**
 * Reads the decoder contract of a session's inputs and outputs; `config` (config.json) fills in a
 * symbolic head count or size.
 *
 * @throws {InputError} a required input or output is missing, or the cache inputs and outputs do not pair up.
 */
export function readDecoderContract(
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  config: Record<string, unknown> = {},
): DecoderContract {
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const outNames = new Set(outputs.map((o) => o.name));
  const missing: string[] = [];
  const inputIds = intInput(byName.get("input_ids"), "input_ids");
  if (!inputIds) missing.push("input input_ids");
  const logits = outNames.has("logits") ? "logits" : undefined;
  if (!logits) missing.push("output logits");
  const layers: CacheLayer[] = [];
  const pastIndices = inputs
    .map((i) => /^past_key_values\.(\d+)\.key$/.exec(i.name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  for (let n = 0; n < pastIndices.length; n++) {
    if (pastIndices[n] !== n) {
      missing.push(`input past_key_values.${n}.key`);
      break;
    }
    const layer: CacheLayer = {
      pastKey: `past_key_values.${n}.key`,
      pastValue: `past_key_values.${n}.value`,
      presentKey: `present.${n}.key`,
      presentValue: `present.${n}.value`,
    };
    if (!byName.has(layer.pastValue)) missing.push(`input ${layer.pastValue}`);
    if (!outNames.has(layer.presentKey)) missing.push(`output ${layer.presentKey}`);
    if (!outNames.has(layer.presentValue)) missing.push(`output ${layer.presentValue}`);
    layers.push(layer);
  }
  const known = new Set(["input_ids", "attention_mask", "position_ids", "num_logits_to_keep", "logits_to_keep"]);
  known.add("use_cache_branch");
  for (const l of layers) known.add(l.pastKey).add(l.pastValue);
  const unknown = inputs.filter((i) => !known.has(i.name)).map((i) => i.name);
  if (unknown.length) missing.push(`a role for input${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`);
  if (missing.length) {
    throw new InputError(
      `this ONNX graph is not a decoder gpux can generate with: missing ${missing.join(", ")} (inputs: ${
        inputs.map((i) => i.name).join(", ")
      }; outputs: ${outputs.map((o) => o.name).join(", ")})`,
      {
        hint:
          "gpux generates with decoder-only exports that use optimum's names (input_ids, attention_mask, past_key_values.N.key/value → logits, present.N.key/value): export with optimum, transformers.js or onnxruntime-genai",
      },
    );
  }
  let cacheDtype: "float32" | "float16" = "float32";
  let kvHeads = 0;
  let headDim = 0;
  if (layers.length) {
    const past = byName.get(layers[0].pastKey)!;
    if (past.dtype !== "float32" && past.dtype !== "float16") {
      throw new InputError(
        `the decoder's cache input ${past.name} is ${past.dtype}; gpux supports float32 and float16`,
      );
    }
    cacheDtype = past.dtype;
    const heads = typeof past.shape[1] === "number" ? past.shape[1] : undefined;
    const dim = typeof past.shape[3] === "number" ? past.shape[3] : undefined;
    const attentionHeads = positiveInt(config.num_attention_heads) ?? positiveInt(config.n_head);
    const hidden = positiveInt(config.hidden_size) ?? positiveInt(config.n_embd);
    kvHeads = heads ?? positiveInt(config.num_key_value_heads) ?? attentionHeads ?? 0;
    headDim = dim ?? positiveInt(config.head_dim) ??
      (hidden && attentionHeads ? hidden / attentionHeads : 0);
    if (past.shape.length !== 4 || !kvHeads || !headDim) {
      throw new InputError(
        `cannot tell the cache shape of ${past.name} (declared [${
          past.shape.join(", ")
        }]): expected [batch, heads, length, head size] with the heads and size fixed or in config.json`,
        { hint: "put num_key_value_heads and head_dim (or hidden_size and num_attention_heads) in config.json" },
      );
    }
  }
  const keep = byName.get("num_logits_to_keep") ?? byName.get("logits_to_keep");
  const keepInt = intInput(keep, keep?.name ?? "logits_to_keep");
  return {
    inputIds: inputIds!,
    ...(byName.has("attention_mask")
      ? { attentionMask: intInput(byName.get("attention_mask"), "attention_mask") }
      : {}),
    ...(byName.has("position_ids") ? { positionIds: intInput(byName.get("position_ids"), "position_ids") } : {}),
    ...(keepInt ? { logitsToKeep: { ...keepInt, shape: keep!.shape.length ? [1] : [] } } : {}),
    ...(byName.has("use_cache_branch") ? { useCacheBranch: "use_cache_branch" } : {}),
    logits: logits!,
    layers,
    cacheDtype,
    kvHeads,
    headDim,
  };
}

/** An integer tensor of `dtype` from numbers. */
export function intTensor(dtype: "int64" | "int32", shape: number[], values: ArrayLike<number>): TensorData {
  if (dtype === "int32") return { dtype, shape, data: Int32Array.from(values) };
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return { dtype, shape, data };
}

/** The empty cache tensor of the first step: `[batch, heads, 0, head size]`. */
export function emptyCacheTensor(contract: DecoderContract, batch: number): TensorData {
  const shape = [batch, contract.kvHeads, 0, contract.headDim];
  return contract.cacheDtype === "float16"
    ? { dtype: "float16", shape, data: new Uint16Array(0) }
    : { dtype: "float32", shape, data: new Float32Array(0) };
}
