/**
 * What an encoder-decoder export takes and gives, read from the sessions' input and output names — never from a
 * list of architectures. The encoder: any inputs (`input_ids` + `attention_mask`, `pixel_values`,
 * `input_features`) → `last_hidden_state`. The decoder, in optimum's names: `input_ids`, optional
 * `encoder_attention_mask`, `encoder_hidden_states` (first step), `past_key_values.N.decoder.key|value` (the
 * decoder's own cache, growing) and `past_key_values.N.encoder.key|value` (cross-attention, computed at the first
 * step and reused) → `logits`, `present.N.decoder.*` and, at the first step, `present.N.encoder.*`. Either one
 * merged graph with `use_cache_branch`, or `decoder_model.onnx` (first step) + `decoder_with_past_model.onnx`.
 *
 * A decoder whose cross-attention recomputes its keys from the encoder's output at every step (optimum's
 * VisionEncoderDecoder export with a GPT-2 decoder, e.g. `Xenova/vit-gpt2-image-captioning`) keeps only its own cache,
 * named `past_key_values.N.key|value` → `present.N.key|value`, and takes `encoder_hidden_states` at every step: the
 * layers then have no encoder cache ({@linkcode Seq2SeqDecoderContract.crossCache} false).
 *
 * A graph that does not fit is an {@linkcode InputError} (exit 2) naming what is missing, before anything runs.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorInfo } from "../runtime/tensors.ts";

/** One decoder layer's cache names. */
export interface Seq2SeqCacheLayer {
  /** `past_key_values.N.decoder.key` / `.value` (or `past_key_values.N.key` / `.value` without a cross cache). */
  decoderPast: [string, string];
  /** The matching presents. */
  decoderPresent: [string, string];
  /** `past_key_values.N.encoder.key` / `.value` (absent: the decoder keeps no cross-attention cache). */
  encoderPast?: [string, string];
  /** `present.N.encoder.key` / `.value` (first step only; absent with `encoderPast`). */
  encoderPresent?: [string, string];
}

/** The decoder graph(s) by role. */
export interface Seq2SeqDecoderContract {
  /** `input_ids` dtype. */
  idsDtype: "int64" | "int32";
  /** The first step's graph takes `encoder_attention_mask` (its dtype). */
  encoderMask?: "int64" | "int32";
  /** The cached steps' graph takes `encoder_attention_mask`. */
  encoderMaskWithPast?: "int64" | "int32";
  /** The cached steps' graph takes `encoder_hidden_states` too (merged graphs do). */
  hiddenWithPast: boolean;
  /**
   * The decoder keeps the cross-attention keys and values (`past_key_values.N.encoder.*`); false: it recomputes them
   * from `encoder_hidden_states`, which every step then feeds.
   */
  crossCache: boolean;
  /** A merged graph: `use_cache_branch` switches between the steps. */
  merged: boolean;
  /** Cache layers in order. */
  layers: Seq2SeqCacheLayer[];
  /** Element type of the cache. */
  cacheDtype: "float32" | "float16";
  /** Heads of the decoder's self-attention cache. */
  heads: number;
  /** Size of one head. */
  headDim: number;
  /** Heads and size of the cross-attention cache (usually the same). */
  encoderHeads: number;
  /** Size of one cross-attention head. */
  encoderHeadDim: number;
}

type Json = Record<string, unknown>;

function positiveInt(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

function intDtype(info: TensorInfo | undefined): "int64" | "int32" | undefined {
  if (!info) return undefined;
  return info.dtype === "int32" ? "int32" : "int64";
}

/** Heads and head size from config.json (the decoder's part of a VisionEncoderDecoder config). */
function configHeads(config: Json): { heads?: number; dim?: number } {
  const c = (config.decoder && typeof config.decoder === "object" ? config.decoder : config) as Json;
  const heads = positiveInt(c.decoder_attention_heads) ?? positiveInt(c.num_heads) ??
    positiveInt(c.num_attention_heads) ?? positiveInt(c.n_head);
  const hidden = positiveInt(c.d_model) ?? positiveInt(c.hidden_size) ?? positiveInt(c.n_embd);
  const dim = positiveInt(c.d_kv) ?? positiveInt(c.head_dim) ?? (heads && hidden ? hidden / heads : undefined);
  return { heads, dim };
}

function fail(what: string, missing: string[], graphs: string): never {
  throw new InputError(`this ${what} is not one gpux can generate with: missing ${missing.join(", ")} (${graphs})`, {
    hint:
      "gpux runs encoder-decoder exports with optimum's names (encoder_model.onnx; decoder_model_merged.onnx, or decoder_model.onnx + decoder_with_past_model.onnx): export with optimum or use an onnx-community/Xenova repository",
  });
}

function describe(inputs: readonly TensorInfo[], outputs: readonly TensorInfo[]): string {
  return `inputs: ${inputs.map((i) => i.name).join(", ")}; outputs: ${outputs.map((o) => o.name).join(", ")}`;
}

/**
 * Checks the encoder graph: it must give `last_hidden_state` (or a single output).
 *
 * @returns the name of the hidden-states output.
 * @throws {InputError} no hidden-states output.
 */
export function readEncoderContract(inputs: readonly TensorInfo[], outputs: readonly TensorInfo[]): string {
  const names = outputs.map((o) => o.name);
  if (names.includes("last_hidden_state")) return "last_hidden_state";
  if (names.length === 1) return names[0];
  fail("encoder", ["output last_hidden_state"], describe(inputs, outputs));
}

/**
 * Reads the decoder contract from the first step's graph and, for the split layout, the cached steps' graph
 * (`withPast`); `config` (config.json) fills in symbolic head counts or sizes.
 *
 * @throws {InputError} a required input or output is missing, or the cache names do not pair up.
 */
export function readSeq2SeqDecoderContract(
  first: { inputs: readonly TensorInfo[]; outputs: readonly TensorInfo[] },
  withPast: { inputs: readonly TensorInfo[]; outputs: readonly TensorInfo[] } | undefined,
  config: Json = {},
): Seq2SeqDecoderContract {
  const firstIn = new Map(first.inputs.map((i) => [i.name, i]));
  const merged = firstIn.has("use_cache_branch");
  const past = merged ? first : withPast;
  const missing: string[] = [];
  if (!firstIn.has("input_ids")) missing.push("input input_ids");
  if (!first.outputs.some((o) => o.name === "logits")) missing.push("output logits");
  if (!merged && !withPast) missing.push("a merged decoder (use_cache_branch) or decoder_with_past_model.onnx");
  if (!firstIn.has("encoder_hidden_states")) missing.push("input encoder_hidden_states");
  const pastIn = new Map((past?.inputs ?? []).map((i) => [i.name, i]));
  const firstOut = new Set(first.outputs.map((o) => o.name));
  const pastOut = new Set((past?.outputs ?? []).map((o) => o.name));
  const indicesOf = (pattern: RegExp) =>
    [...pastIn.keys()]
      .map((n) => pattern.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  const seq2seqIndices = indicesOf(/^past_key_values\.(\d+)\.decoder\.key$/);
  // no `.decoder.` names: a decoder-only cache (GPT-2 under a VisionEncoderDecoder), cross-attention recomputed
  const crossCache = seq2seqIndices.length > 0 || indicesOf(/^past_key_values\.(\d+)\.key$/).length === 0;
  const indices = crossCache ? seq2seqIndices : indicesOf(/^past_key_values\.(\d+)\.key$/);
  if (past && indices.length === 0) {
    missing.push("inputs past_key_values.N.decoder.key/value (or past_key_values.N.key/value)");
  }
  if (past && !crossCache && !pastIn.has("encoder_hidden_states")) {
    missing.push("input encoder_hidden_states (cached steps: the decoder keeps no cross-attention cache)");
  }
  const layers: Seq2SeqCacheLayer[] = [];
  for (let n = 0; n < indices.length; n++) {
    if (indices[n] !== n) {
      missing.push(`input past_key_values.${n}.${crossCache ? "decoder." : ""}key`);
      break;
    }
    const side = crossCache ? "decoder." : "";
    const layer: Seq2SeqCacheLayer = {
      decoderPast: [`past_key_values.${n}.${side}key`, `past_key_values.${n}.${side}value`],
      decoderPresent: [`present.${n}.${side}key`, `present.${n}.${side}value`],
      ...(crossCache
        ? {
          encoderPast: [`past_key_values.${n}.encoder.key`, `past_key_values.${n}.encoder.value`],
          encoderPresent: [`present.${n}.encoder.key`, `present.${n}.encoder.value`],
        }
        : {}),
    };
    for (const name of [...layer.decoderPast, ...(layer.encoderPast ?? [])]) {
      if (!pastIn.has(name)) missing.push(`input ${name}`);
    }
    for (const name of layer.decoderPresent) {
      if (!pastOut.has(name)) missing.push(`output ${name} (cached steps)`);
      if (!firstOut.has(name)) missing.push(`output ${name} (first step)`);
    }
    for (const name of layer.encoderPresent ?? []) {
      if (!firstOut.has(name)) missing.push(`output ${name} (first step)`);
    }
    layers.push(layer);
  }
  if (missing.length) {
    fail(
      "decoder",
      missing,
      `first step ${describe(first.inputs, first.outputs)}${
        withPast ? `; cached steps ${describe(withPast.inputs, withPast.outputs)}` : ""
      }`,
    );
  }
  const dk = pastIn.get(layers[0].decoderPast[0])!;
  const ek = pastIn.get((layers[0].encoderPast ?? layers[0].decoderPast)[0])!;
  if (dk.dtype !== "float32" && dk.dtype !== "float16") {
    throw new InputError(`the decoder's cache input ${dk.name} is ${dk.dtype}; gpux supports float32 and float16`);
  }
  const fromConfig = configHeads(config);
  const dimOf = (info: TensorInfo, at: number, fallback?: number) =>
    typeof info.shape[at] === "number" && (info.shape[at] as number) > 0 ? info.shape[at] as number : fallback ?? 0;
  const heads = dimOf(dk, 1, fromConfig.heads);
  const headDim = dimOf(dk, 3, fromConfig.dim);
  const encoderHeads = dimOf(ek, 1, fromConfig.heads);
  const encoderHeadDim = dimOf(ek, 3, fromConfig.dim);
  if (dk.shape.length !== 4 || !heads || !headDim || !encoderHeads || !encoderHeadDim) {
    throw new InputError(
      `cannot tell the cache shape of ${dk.name} (declared [${
        dk.shape.join(", ")
      }]): expected [batch, heads, length, head size] with the heads and size fixed or in config.json`,
      { hint: "put decoder_attention_heads and d_model (or num_heads and d_kv) in config.json" },
    );
  }
  const pastHasHidden = pastIn.has("encoder_hidden_states");
  return {
    idsDtype: intDtype(firstIn.get("input_ids"))!,
    ...(firstIn.has("encoder_attention_mask") ? { encoderMask: intDtype(firstIn.get("encoder_attention_mask")) } : {}),
    ...(pastIn.has("encoder_attention_mask")
      ? { encoderMaskWithPast: intDtype(pastIn.get("encoder_attention_mask")) }
      : {}),
    hiddenWithPast: pastHasHidden,
    crossCache,
    merged,
    layers,
    cacheDtype: dk.dtype,
    heads,
    headDim,
    encoderHeads,
    encoderHeadDim,
  };
}
