/**
 * Encoded text → exactly the inputs a text model declares: `input_ids`, `attention_mask`,
 * `token_type_ids`, `position_ids`, as int64 or int32 as declared, `[batch, sequence]`, padded to the
 * batch's longest row (or to a fixed sequence length the model declares), truncated to the model's
 * maximum length. Shared by every text task.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorData, TensorInfo, TensorMap } from "../runtime/tensors.ts";
import type { PipelineContext, TextInput } from "./task_types.ts";
import { type BatchEncoding, loadTokenizer, type TextTokenizer } from "./tokenizer.ts";

/** What text handlers keep between runs. */
export interface TextState {
  /** The model's tokenizer. */
  tokenizer: TextTokenizer;
  /** Longest sequence fed to the model. */
  maxLength?: number;
  /** A fixed sequence length the model declares (its inputs are padded to it). */
  fixedLength?: number;
}

const TEXT_INPUTS = ["input_ids", "attention_mask", "token_type_ids", "position_ids"] as const;

/** The tokenizer named by gpux.yml `preprocessing.tokenizer`, else the repository's tokenizer.json. */
export async function setupText(ctx: PipelineContext): Promise<TextState> {
  const unknown = ctx.session.inputs.filter((i) => !(TEXT_INPUTS as readonly string[]).includes(i.name));
  if (unknown.length) {
    throw new InputError(
      `${ctx.task} from raw text needs a model whose inputs are ${TEXT_INPUTS.join(", ")}; this one also takes ${
        unknown.map((i) => i.name).join(", ")
      }`,
      { hint: "run it on tensors with --input (or --raw), or export the model without those inputs" },
    );
  }
  if (!ctx.session.inputs.some((i) => i.name === "input_ids")) {
    throw new InputError(`${ctx.task} from raw text needs an input_ids input; the model has none`);
  }
  const tokenizer = await loadTokenizer(ctx.files, { file: ctx.preprocessing?.tokenizer });
  const ids = ctx.session.inputs.find((i) => i.name === "input_ids")!;
  const fixed = typeof ids.shape[1] === "number" ? ids.shape[1] : undefined;
  const maxPositions = typeof ctx.config.max_position_embeddings === "number"
    ? ctx.config.max_position_embeddings
    : undefined;
  const maxLength = fixed ?? ctx.preprocessing?.maxLength ?? tokenizer.settings.modelMaxLength ??
    maxPositions;
  return { tokenizer, maxLength, fixedLength: fixed };
}

/** Tokenizes a text input (with its pairs) as the model needs it. */
export function encodeText(input: TextInput, state: TextState, pairs = input.pairs): BatchEncoding {
  if (input.texts.length === 0) throw new InputError("no text given");
  return state.tokenizer.encodeBatch(input.texts, {
    maxLength: state.maxLength,
    truncation: state.maxLength !== undefined,
    padding: state.fixedLength !== undefined ? "max_length" : true,
  }, pairs);
}

function intTensor(info: TensorInfo, rows: number[][]): TensorData {
  const batch = rows.length, length = rows[0]?.length ?? 0;
  if (info.dtype === "int64") {
    const data = new BigInt64Array(batch * length);
    for (let r = 0; r < batch; r++) for (let c = 0; c < length; c++) data[r * length + c] = BigInt(rows[r][c]);
    return { dtype: "int64", shape: [batch, length], data };
  }
  if (info.dtype === "int32") {
    const data = new Int32Array(batch * length);
    for (let r = 0; r < batch; r++) data.set(rows[r], r * length);
    return { dtype: "int32", shape: [batch, length], data };
  }
  throw new InputError(`input ${info.name} is ${info.dtype}; gpux feeds token ids as int64 or int32`);
}

/** The feeds for an encoded batch, for exactly the inputs the model declares. */
export function textFeeds(inputs: readonly TensorInfo[], batch: BatchEncoding): TensorMap {
  const feeds: TensorMap = {};
  for (const info of inputs) {
    switch (info.name) {
      case "input_ids":
        feeds[info.name] = intTensor(info, batch.inputIds);
        break;
      case "attention_mask":
        feeds[info.name] = intTensor(info, batch.attentionMask);
        break;
      case "token_type_ids":
        feeds[info.name] = intTensor(info, batch.tokenTypeIds);
        break;
      case "position_ids":
        // positions count real tokens only (left padding starts them late), as transformers does
        feeds[info.name] = intTensor(
          info,
          batch.attentionMask.map((mask) => {
            let p = 0;
            return mask.map((m) => (m ? p++ : 0));
          }),
        );
        break;
    }
  }
  return feeds;
}
