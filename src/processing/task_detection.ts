/**
 * Which task a model performs: `--task`, else gpux.yml `task:`, else the README's `pipeline_tag`
 * (the Hub model card's front matter, in the cache with the model), else config.json `architectures`
 * (`BertForSequenceClassification` → text-classification, …) or sentence-transformers' `modules.json`.
 *
 * @module
 */
import type { ModelFiles } from "./model_files.ts";

/** Where a task name came from. */
export type TaskSource =
  | "option"
  | "gpux.yml"
  | "pipeline_tag"
  | "architectures"
  | "sentence-transformers"
  | "graph"
  | "none";

/** A detected task and its source. */
export interface DetectedTask {
  /** Task name, Hub `pipeline_tag` spelling. */
  task: string;
  /** Where it came from. */
  source: TaskSource;
}

/** Architecture name suffixes → task, checked in order (first match wins). */
const ARCHITECTURE_TASKS: [RegExp, string][] = [
  [/ForSequenceClassification$/, "text-classification"],
  [/ForTokenClassification$/, "token-classification"],
  [/ForQuestionAnswering$/, "question-answering"],
  [/ForImageClassification(WithTeacher)?$/, "image-classification"],
  [/ForAudioClassification$/, "audio-classification"],
  [/ForCTC$/, "automatic-speech-recognition"],
  [/^MarianMTModel$/, "translation"],
  [/^VisionEncoderDecoderModel$/, "image-to-text"],
  [/ForSpeechSeq2Seq$|ForConditionalGeneration$/, "text2text-generation"],
  [/ForMaskedLM$/, "fill-mask"],
  [/ForCausalLM$|LMHeadModel$/, "text-generation"],
  [/^Owl(ViT|v2)ForObjectDetection$/, "zero-shot-object-detection"],
  [/ForObjectDetection$/, "object-detection"],
  [/ForSemanticSegmentation$|ForInstanceSegmentation$|^(Conditional)?DetrForSegmentation$/, "image-segmentation"],
  [/ForDepthEstimation$/, "depth-estimation"],
  [
    /^(Bert|DistilBert|Roberta|XLMRoberta|MPNet|Electra|Deberta(V2)?|Albert|Camembert|Nomic\w*|NewModel|MiniLM\w*|E5\w*|Gte\w*)Model$/,
    "feature-extraction",
  ],
  [/^(ViT|DeiT|ConvNext|ResNet|Dinov2|Swin|BEiT|CLIPVision)Model$/, "image-feature-extraction"],
  [/^(CLIP|Siglip|Siglip2|ChineseCLIP|AltCLIP)Model$/, "zero-shot-image-classification"],
];

/** Aliases the Hub and transformers use for the same pipeline. */
const ALIASES: Record<string, string> = {
  "sentiment-analysis": "text-classification",
  "ner": "token-classification",
  "asr": "automatic-speech-recognition",
};

/** A task name in its canonical spelling (`sentiment-analysis` → `text-classification`). */
export function canonicalTask(task: string): string {
  return ALIASES[task] ?? task;
}

/** The task for config.json `architectures`, if one is known. */
export function taskFromArchitectures(architectures: unknown): string | undefined {
  if (!Array.isArray(architectures)) return undefined;
  for (const arch of architectures) {
    if (typeof arch !== "string") continue;
    for (const [pattern, task] of ARCHITECTURE_TASKS) if (pattern.test(arch)) return task;
  }
  return undefined;
}

/** `pipeline_tag` from a model card's YAML front matter. */
export function pipelineTagOf(readme: string): string | undefined {
  const front = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---/.exec(readme);
  if (!front) return undefined;
  const tag = /^pipeline_tag:\s*["']?([A-Za-z0-9-]+)["']?\s*$/m.exec(front[1]);
  return tag?.[1];
}

/** What {@linkcode detectTask} looks at. */
export interface DetectTaskInput {
  /** `--task` / `loadPipeline({task})`. */
  override?: string;
  /** gpux.yml `task:`. */
  gpuxTask?: string;
  /** The repository files (README.md, modules.json). */
  files: ModelFiles;
  /** config.json. */
  config: Record<string, unknown>;
  /** The graph's input and output names, for a model with no other clue. */
  graph?: { inputs: readonly string[]; outputs: readonly string[] };
}

/** The task a graph's names imply when nothing else says: QA heads and CLIP-style two-tower graphs. */
export function taskFromGraph(graph: { inputs: readonly string[]; outputs: readonly string[] }): string | undefined {
  if (graph.outputs.includes("start_logits") && graph.outputs.includes("end_logits")) return "question-answering";
  if (graph.inputs.includes("input_ids") && graph.inputs.includes("pixel_values")) {
    if (graph.outputs.includes("logits_per_image")) return "zero-shot-image-classification";
  }
  return undefined;
}

/** The task, by precedence: override, gpux.yml, README pipeline_tag, sentence-transformers, architectures, graph names. */
export async function detectTask(input: DetectTaskInput): Promise<DetectedTask | undefined> {
  if (input.override) return { task: canonicalTask(input.override), source: "option" };
  if (input.gpuxTask) return { task: canonicalTask(input.gpuxTask), source: "gpux.yml" };
  const readme = await input.files.readTextIfPresent("README.md");
  const tag = readme ? pipelineTagOf(readme) : undefined;
  // a sentence-similarity model card means a sentence embedder: feature-extraction answers one text or many
  // (vectors, and each text's cosine with the first); `--task sentence-similarity` gives the scores alone
  if (tag) {
    return { task: tag === "sentence-similarity" ? "feature-extraction" : canonicalTask(tag), source: "pipeline_tag" };
  }
  if (await input.files.find("modules.json")) return { task: "feature-extraction", source: "sentence-transformers" };
  const fromArch = taskFromArchitectures(input.config.architectures);
  if (fromArch) return { task: fromArch, source: "architectures" };
  const fromGraph = input.graph ? taskFromGraph(input.graph) : undefined;
  if (fromGraph) return { task: fromGraph, source: "graph" };
  return undefined;
}
