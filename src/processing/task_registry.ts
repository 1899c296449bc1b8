/**
 * The task handlers gpux ships, one per task. Adding a task: write its handler in its own file and
 * list it here. The arrows run one way: pipeline.ts imports this registry, the registry imports the
 * handlers, and the handlers import only the shared types of task_types.ts (never pipeline.ts or this file).
 *
 * @module
 */
import type { TaskHandler } from "./task_types.ts";
import { featureExtraction } from "./feature_extraction.ts";
import { textClassification } from "./text_classification.ts";
import { tokenClassification } from "./token_classification.ts";
import { zeroShotClassification } from "./zero_shot_classification.ts";
import { audioClassification } from "./audio_classification.ts";
import { imageClassification } from "./image_classification.ts";
import { imageFeatureExtraction } from "./image_feature_extraction.ts";
import { speechRecognition } from "./speech_recognition.ts";
import { fillMask } from "./fill_mask.ts";
import { questionAnswering } from "./question_answering.ts";
import { sentenceSimilarity } from "./sentence_similarity.ts";
import { zeroShotImageClassification } from "./zero_shot_image_classification.ts";
import { objectDetection } from "./object_detection.ts";
import { imageSegmentation } from "./image_segmentation.ts";
import { backgroundRemoval } from "./background_removal.ts";
import { depthEstimation } from "./depth_estimation.ts";
import { zeroShotObjectDetection } from "./zero_shot_object_detection.ts";

/** Every registered handler (unknown tasks run on tensors only). */
// deno-lint-ignore no-explicit-any
export const TASK_HANDLERS: readonly TaskHandler<any>[] = [
  textClassification,
  tokenClassification,
  featureExtraction,
  zeroShotClassification,
  imageClassification,
  imageFeatureExtraction,
  audioClassification,
  speechRecognition,
  fillMask,
  questionAnswering,
  sentenceSimilarity,
  zeroShotImageClassification,
  objectDetection,
  imageSegmentation,
  backgroundRemoval,
  depthEstimation,
  zeroShotObjectDetection,
];
