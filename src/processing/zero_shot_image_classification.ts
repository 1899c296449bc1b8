/**
 * zero-shot-image-classification (CLIP, SigLIP): each candidate label is put in the hypothesis template
 * (`This is a photo of {}.`), tokenized, and scored against the image — a softmax across the labels for CLIP, an
 * independent sigmoid per label for SigLIP (config.json `model_type`), whose texts are padded to 64 tokens as it
 * was trained — as transformers' ZeroShotImageClassificationPipeline.
 *
 * Two layouts, told apart by the graph's inputs:
 * - one merged graph taking `input_ids`, `pixel_values` (and `attention_mask`) and answering `logits_per_image`;
 * - two towers, as Xenova / onnx-community repositories ship them: the vision tower (`vision_model.onnx`, only
 *   `pixel_values` in, `image_embeds` out) is the pipeline's session, and the text tower beside it
 *   (`text_model.onnx`, same variant suffix) is loaded too. The text tower runs once per label set (the
 *   normalised label embeddings are cached per template and labels, {@linkcode TEXT_EMBEDDING_CACHE} sets),
 *   the vision tower once per image, and the logits are `scale · cos(image, text) (+ bias)` with the learned
 *   `logit_scale` / `logit_bias` read from the repository's `model.safetensors` (the towers leave them out; the
 *   config has only their initial values). Without safetensors weights CLIP's scale is 100 (`exp(4.6052)`, where
 *   every released CLIP checkpoint's learned scale sits, clamped) and SigLIP is refused (its bias cannot be guessed).
 *
 * @module
 */
import { InputError, NotFoundError } from "../errors.ts";
import { loadModel } from "../runtime/load_model.ts";
import type { GpuxSession } from "../runtime/session.ts";
import type { TensorData } from "../runtime/tensors.ts";
import { sigmoid, softmax, tensorNumbers } from "./classification.ts";
import { imageFeeds, type ImageTaskState, setupImageTask } from "./image_classification.ts";
import { readSafetensorsScalars } from "./safetensors_scalars.ts";
import type { ImageInput, LabelScore, PipelineContext, TaskHandler } from "./task_types.ts";
import { textFeeds } from "./text_inputs.ts";
import { loadTokenizer, type TextTokenizer } from "./tokenizer.ts";

/** The two-tower layout's text side. */
interface TextTower {
  session: GpuxSession;
  /** `exp(logit_scale)`. */
  scale: number;
  /** SigLIP's `logit_bias` (0 for CLIP). */
  bias: number;
  /** Normalised label embeddings by template and labels (insertion order: the oldest is dropped first). */
  cache: Map<string, Float64Array[]>;
}

interface ZeroShotImageState extends ImageTaskState {
  tokenizer: TextTokenizer;
  siglip: boolean;
  maxLength?: number;
  /** Set in the two-tower layout. */
  text?: TextTower;
}

interface ZeroShotImageMeta {
  labels: string[];
  /** Two-tower layout: each label's normalised text embedding. */
  textEmbeds?: Float64Array[];
}

/** SigLIP's text length (transformers pads and truncates its texts to it). */
const SIGLIP_LENGTH = 64;

/** How many label sets a two-tower pipeline keeps the text embeddings of. */
export const TEXT_EMBEDDING_CACHE = 64;

/** CLIP's learned logit scale, clamped at 100 in training: every released checkpoint sits there. */
const CLIP_SCALE = 100;

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The text tower's path beside a vision tower's (`vision_model_fp16.onnx` → `text_model_fp16.onnx`). */
export function textTowerPath(visionPath: string): string | undefined {
  const name = basename(visionPath);
  if (!/^vision_model/.test(name)) return undefined;
  return `${visionPath.slice(0, visionPath.length - name.length)}${name.replace(/^vision_model/, "text_model")}`;
}

function normalizedRows(t: TensorData, what: string): Float64Array[] {
  if (t.shape.length !== 2) throw new InputError(`${what}: expected [rows, dimension], got [${t.shape.join(", ")}]`);
  const [rows, dim] = t.shape as number[];
  const values = tensorNumbers(t);
  const out: Float64Array[] = [];
  for (let r = 0; r < rows; r++) {
    const row = values.slice(r * dim, (r + 1) * dim);
    let norm = 0;
    for (const v of row) norm += v * v;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < dim; i++) row[i] /= norm;
    out.push(row);
  }
  return out;
}

function embeddingOutput(outputs: Record<string, TensorData>, name: string, session: GpuxSession): TensorData {
  const t = outputs[name] ?? (session.outputs.length === 1 ? outputs[session.outputs[0].name] : undefined);
  if (!t) {
    throw new InputError(
      `${basename(session.path)} has no ${name} output (it answers ${session.outputs.map((o) => o.name).join(", ")})`,
      { hint: "export the CLIP/SigLIP towers with their projections (CLIPTextModelWithProjection, ...)" },
    );
  }
  return t;
}

async function loadTextTower(ctx: PipelineContext, siglip: boolean): Promise<TextTower> {
  const path = textTowerPath(ctx.session.path);
  let session: GpuxSession;
  try {
    if (!path) throw new Deno.errors.NotFound();
    // the vision tower's provider and threads (a GPU device id other than 0 is not carried over)
    session = await loadModel(path, { provider: ctx.session.provider, intraOpThreads: ctx.session.intraOpThreads });
  } catch (error) {
    if (!(error instanceof NotFoundError) && !(error instanceof Deno.errors.NotFound)) throw error;
    throw new NotFoundError(
      `${basename(ctx.session.path)} is a vision tower alone (only ${
        ctx.session.inputs.map((i) => i.name).join(", ")
      } in): zero-shot image classification also needs the text tower ${path ?? "text_model.onnx"} beside it`,
      { hint: "fetch the repository's onnx/text_model*.onnx too, or use the merged model.onnx" },
    );
  }
  try {
    if (!session.inputs.some((i) => i.name === "input_ids")) {
      throw new InputError(`${basename(session.path)} does not take input_ids: it is not a text tower`);
    }
    const scalars = await readSafetensorsScalars(ctx.files, ["logit_scale", "logit_bias"]);
    let scale = scalars?.logit_scale;
    const bias = scalars?.logit_bias ?? 0;
    if (scale === undefined) {
      if (siglip) {
        const vision = ctx.session.path;
        const merged = `${vision.slice(0, vision.lastIndexOf("/") + 1)}${
          basename(vision).replace(/^vision_model/, "model")
        }`;
        const hasMerged = await Deno.stat(merged).then((s) => s.isFile, () => false);
        throw new NotFoundError(
          "SigLIP's two towers need the learned logit_scale and logit_bias, which only model.safetensors holds",
          {
            hint: hasMerged
              ? `run the merged graph beside them instead: ${merged}`
              : "put the repository's model.safetensors beside config.json, or use the merged model.onnx",
          },
        );
      }
      scale = Math.log(CLIP_SCALE);
    }
    return { session, scale: Math.exp(scale), bias: siglip ? bias : 0, cache: new Map() };
  } catch (error) {
    await session.dispose();
    throw error;
  }
}

async function labelEmbeddings(
  texts: string[],
  key: string,
  state: ZeroShotImageState,
): Promise<Float64Array[]> {
  const tower = state.text!;
  const cached = tower.cache.get(key);
  if (cached) return cached;
  const batch = state.tokenizer.encodeBatch(texts, {
    maxLength: state.maxLength,
    truncation: state.maxLength !== undefined,
    padding: state.siglip ? "max_length" : true,
  });
  const outputs = await tower.session.run(textFeeds(tower.session.inputs, batch));
  const embeds = normalizedRows(embeddingOutput(outputs, "text_embeds", tower.session), "text_embeds");
  if (tower.cache.size >= TEXT_EMBEDDING_CACHE) tower.cache.delete(tower.cache.keys().next().value!);
  tower.cache.set(key, embeds);
  return embeds;
}

/**
 * The zero-shot-image-classification handler.
 *
 * @example
 * ```ts
 * import { loadPipeline } from "jsr:@gpux/gpux";
 * const clip = await loadPipeline("acme/clip-vit-base-patch32", { task: "zero-shot-image-classification" });
 * const image = { name: "cat.jpg", bytes: await Deno.readFile("cat.jpg") };
 * const result = await clip.run({ kind: "image", images: [image], candidateLabels: ["cat", "dog"] });
 * if (result.kind === "zero-shot") console.log(result.predictions[0]);
 * // [ { label: "cat", score: 0.9921 }, { label: "dog", score: 0.0079 } ]
 * ```
 */
export const zeroShotImageClassification: TaskHandler<ZeroShotImageState> = {
  task: "zero-shot-image-classification",
  accepts: ["image"],
  async setup(ctx) {
    const names = ctx.session.inputs.map((i) => i.name);
    const merged = names.includes("input_ids") && names.includes("pixel_values");
    const visionTower = !merged && names.length === 1 && names[0] === "pixel_values";
    if (!merged && !visionTower) {
      throw new InputError(
        `zero-shot image classification needs one graph taking input_ids and pixel_values, or a vision tower taking pixel_values; this one takes ${
          names.join(", ")
        }`,
        { hint: "use the merged CLIP/SigLIP export (model.onnx), or vision_model.onnx with text_model.onnx beside it" },
      );
    }
    const siglip = String(ctx.config.model_type ?? "").includes("siglip");
    const image = await setupImageTask(ctx);
    const tokenizer = await loadTokenizer(ctx.files, { file: ctx.preprocessing?.tokenizer });
    const textConfig = (ctx.config.text_config ?? {}) as Record<string, unknown>;
    const positions = typeof textConfig.max_position_embeddings === "number"
      ? textConfig.max_position_embeddings
      : undefined;
    const text = visionTower ? await loadTextTower(ctx, siglip) : undefined;
    return { ...image, tokenizer, siglip, maxLength: siglip ? SIGLIP_LENGTH : positions, text };
  },
  async preprocess(input, ctx, state) {
    const image = input as ImageInput;
    const labels = image.candidateLabels ?? [];
    if (labels.length === 0) {
      throw new InputError("zero-shot image classification needs candidate labels", {
        hint: 'pass them: --labels "cat,dog,car" (or candidate_labels in the request)',
      });
    }
    const template = image.hypothesisTemplate ?? "This is a photo of {}.";
    const texts = labels.map((l) => template.replaceAll("{}", l));
    if (state.text) {
      const textEmbeds = await labelEmbeddings(texts, JSON.stringify(texts), state);
      return { feeds: await imageFeeds(image, state), meta: { labels, textEmbeds } satisfies ZeroShotImageMeta };
    }
    const batch = state.tokenizer.encodeBatch(texts, {
      maxLength: state.maxLength,
      truncation: state.maxLength !== undefined,
      padding: state.siglip ? "max_length" : true,
    });
    const feeds = { ...textFeeds(ctx.session.inputs, batch), ...await imageFeeds(image, state) };
    return { feeds, meta: { labels } satisfies ZeroShotImageMeta };
  },
  postprocess(outputs, pre, ctx, state, options) {
    const { labels, textEmbeds } = pre.meta as ZeroShotImageMeta;
    let rows: number;
    let values: Float64Array;
    if (textEmbeds && state.text) {
      const images = normalizedRows(embeddingOutput(outputs, "image_embeds", ctx.session), "image_embeds");
      rows = images.length;
      values = new Float64Array(rows * labels.length);
      images.forEach((img, i) => {
        textEmbeds.forEach((txt, l) => {
          if (txt.length !== img.length) {
            throw new InputError(
              `the text tower's embeddings have ${txt.length} values, the vision tower's ${img.length}`,
            );
          }
          let dot = 0;
          for (let k = 0; k < img.length; k++) dot += img[k] * txt[k];
          values[i * labels.length + l] = dot * state.text!.scale + state.text!.bias;
        });
      });
    } else {
      const logits = outputs.logits_per_image;
      if (!logits || logits.shape.length !== 2 || logits.shape[1] !== labels.length) {
        throw new InputError(
          `expected logits_per_image [images, ${labels.length}] among the outputs ${
            ctx.session.outputs.map((o) => o.name).join(", ")
          }`,
          { hint: "use --raw to see the tensors" },
        );
      }
      rows = logits.shape[0] as number;
      values = tensorNumbers(logits);
    }
    const predictions: LabelScore[][] = [];
    for (let i = 0; i < rows; i++) {
      const row = values.subarray(i * labels.length, (i + 1) * labels.length);
      const scores = state.siglip ? sigmoid(row) : softmax(row);
      predictions.push(
        labels.map((label, l) => ({ label, score: scores[l] })).sort((a, b) => b.score - a.score)
          .slice(0, options.topK ?? labels.length),
      );
    }
    return { kind: "zero-shot", task: ctx.task, predictions };
  },
  async dispose(state) {
    await state.text?.session.dispose();
  },
};
