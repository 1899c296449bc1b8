/**
 * What `gpux inspect` says about a model that generates: its cache layout (layers, key/value heads, head size,
 * dtype), context length, EOS ids, chat template and the ONNX variants beside it — read from the session's graph
 * and the files next to it, so a user sees before running whether and how the model will generate.
 *
 * @module
 */
import type { GpuxSession } from "../runtime/session.ts";
import { ModelFiles } from "../processing/model_files.ts";
import { onnxVariants } from "../vocabulary/formats.ts";
import { hasPastInputs, readDecoderContract } from "./decoder_contract.ts";
import { resolveGenerationSettings } from "./generation_config.ts";
import { loadChatTemplate } from "./chat_template.ts";
import { listOnnxFiles } from "./variant_choice.ts";

/** Generation facts of a decoder, or why gpux cannot generate with a graph that has a KV cache. */
export type GenerationFacts =
  | {
    /** Decoder layers (cache entries). */ layers: number;
    /** Key/value heads per layer. */ kvHeads: number;
    /** Size of one head. */ headDim: number;
    /** Cache element type. */ cacheDtype: "float32" | "float16";
    /** Context length, when the config gives one. */ contextLength?: number;
    /** Ids that end generation. */ eosTokenIds: number[];
    /** Where the chat template comes from, or null. */ chatTemplate: string | null;
    /** ONNX variants in the model's folder. */ variants: string[];
    /** Merged decoder (`use_cache_branch`). */ merged: boolean;
  }
  | {
    /** Why it cannot generate. */ error: string;
  };

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "." : path.slice(0, i);
}

/** The facts for `session`, or undefined when its graph has no KV cache inputs (not a generative decoder). */
export async function generationFacts(session: GpuxSession): Promise<GenerationFacts | undefined> {
  if (!hasPastInputs(session.inputs)) return undefined;
  try {
    const files = await ModelFiles.forModel(session.model, session.path);
    const genai = await files.readJsonIfPresent("genai_config.json") as Record<string, unknown> | undefined;
    const config = (await files.readJsonIfPresent("config.json") ?? {}) as Record<string, unknown>;
    const contract = readDecoderContract(session.inputs, session.outputs, config);
    const settings = resolveGenerationSettings(
      await files.readJsonIfPresent("generation_config.json") as Record<string, unknown> | undefined,
      config,
      {},
      genai,
    );
    const template = await loadChatTemplate(files).catch(() => undefined);
    const dir = dirname(session.path);
    const root = /\/onnx$/.test(dir) ? dirname(dir) : dir;
    const variants = onnxVariants((await listOnnxFiles(root)).map((path) => ({ path }))).variants.map((v) => v.name);
    return {
      layers: contract.layers.length,
      kvHeads: contract.kvHeads,
      headDim: contract.headDim,
      cacheDtype: contract.cacheDtype,
      ...(settings.contextLength !== undefined ? { contextLength: settings.contextLength } : {}),
      eosTokenIds: settings.eosTokenIds,
      chatTemplate: template?.origin ?? null,
      variants,
      merged: contract.useCacheBranch !== undefined,
    };
  } catch (error) {
    return { error: (error as Error).message };
  }
}
