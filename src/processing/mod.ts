/**
 * Raw inputs to tensors and tensors to answers: every task pipeline's input and answer types, the models' files,
 * task detection, and a Hugging Face tokenizer with Python `tokenizers`' ids, offsets, truncation and padding. The
 * root module has `loadPipeline` and the `Pipeline` type; this is the rest.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "jsr:@gpux/gpux/processing";
 * const tokenizer = await loadTokenizer("./models/bert");
 * console.log(tokenizer.encode("Hello world!").inputIds); // prints: [ 101, 7592, 2088, 999, 102 ]
 * ```
 *
 * @module
 */
export type { RgbImage } from "./image_decode.ts";
/**
 * Raw inputs in, answers out: a model with its task pipeline. The task comes from `task`, else
 * gpux.yml `task:`, else the model card's `pipeline_tag`, else config.json `architectures`; text is
 * tokenized with the repository's tokenizer.json into exactly the inputs the model declares. A language model
 * gets the text-generation pipeline above (`isTextGeneration` tells them apart).
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * const classifier = await loadPipeline("acme/sentiment", { provider: "auto" });
 * const result = await classifier.run(["I love this", "I hate this"], { topK: 2 });
 * if (result.kind === "classification") {
 *   for (const labels of result.predictions) console.log(labels[0].label, labels[0].score.toFixed(2));
 * }
 * await classifier.dispose();
 *
 * await using embedder = await loadPipeline("acme/minilm", { task: "feature-extraction" });
 * const embedded = await embedder.run("a sentence to embed");
 * if (embedded.kind === "embedding") console.log(embedded.dimension, embedded.embeddings[0].slice(0, 4));
 * ```
 */
export {
  type Answer,
  type AudioInput,
  type Entity,
  type FillMaskCandidate,
  type ImageInput,
  type InputKind,
  type LabelScore,
  type MediaFile,
  ModelFiles,
  type PipelineContext,
  type PipelineInput,
  type PipelineRunOptions,
  type Preprocessed,
  supportedTasks,
  type TaskHandler,
  type TextInput,
} from "./pipeline.ts";
/** Vision answers: boxes (object-detection), segments (image-segmentation, background-removal), depth maps. */
export type { Box, DepthMap, DetectedObject, Segment } from "./pipeline.ts";
export type { DetectedTask, TaskSource } from "./task_detection.ts";
export type { PreprocessingConfig } from "../config/gpux_config.ts";
/**
 * A Hugging Face tokenizer (tokenizer.json: WordPiece, BPE incl. byte-level, Unigram) with Python
 * `tokenizers`' ids, offsets, truncation (`longest_first` for pairs, special tokens kept) and padding
 * (pad token and side from tokenizer_config.json). Offsets are UTF-16 indices into the original text.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "jsr:@gpux/gpux/processing";
 * const tokenizer = await loadTokenizer("./models/bert"); // a folder with tokenizer.json, or a cached Hub id
 * const batch = tokenizer.encodeBatch(["Hello world!", "Bonjour"], { maxLength: 16 });
 * console.log(batch.inputIds, batch.attentionMask, batch.offsets[0]);
 * const pair = tokenizer.encode("A man plays guitar.", { pair: "Someone makes music." });
 * console.log(pair.tokenTypeIds, tokenizer.decode(pair.inputIds, { skipSpecialTokens: true }));
 * ```
 */
export {
  type BatchEncoding,
  type DecodeOptions,
  type EncodeOptions,
  type Encoding,
  loadTokenizer,
  type LoadTokenizerOptions,
  type OverflowOptions,
  TextTokenizer,
  type TokenizerSettings,
  type TruncationStrategy,
} from "./tokenizer.ts";
