/**
 * How much work one `gpux serve` request may ask for, checked right after its body is parsed and before any of
 * that work is done: a 15 MB body of three million one-letter texts is well inside the body limit, yet tokenizing
 * and padding it took the process down. Each bound answers 413 naming the limit and the flag that raises it.
 *
 * The bounds ({@linkcode REQUEST_LIMIT_DEFAULTS}): items per request (texts, images, audio clips, zero-shot
 * text × label rows, v2 `inputs` entries), characters of text per request, pixels per image (read from its
 * header, before decoding), seconds per audio clip (from its WAV header, before decoding or resampling), and
 * elements per input tensor (every dimension counted, so `[0, 1e15]` is refused too).
 *
 * @module
 */
import type { TensorInfo, TensorMap } from "../runtime/tensors.ts";
import { DEFAULT_MAX_PIXELS, readImageHeader } from "../processing/image_header.ts";
import { BadRequestError, PayloadTooLargeError } from "./serve_errors.ts";
import type { RawInput } from "./worker_protocol.ts";
import { wavDuration } from "./wav_duration.ts";
import { InputError } from "../errors.ts";

/** Sampling rates of real recordings (Hz): a header outside them is damaged or hostile (1 Hz makes 40 KB hours long). */
const RATE_RANGE = [1_000, 384_000] as const;

/** The bounds of one request. */
export interface RequestLimits {
  /** Items one request may hold: texts, images, clips, zero-shot text × label rows (`--max-batch-items`). */
  maxBatchItems: number;
  /** Characters of text in one request: texts, pairs, labels and template together (`--max-text-chars`). */
  maxTextChars: number;
  /** Pixels (width × height, from the header) of one image (`--max-image-pixels`). */
  maxImagePixels: number;
  /** Seconds of one audio clip, from its header (`--max-audio-seconds`). */
  maxAudioSeconds: number;
  /** Elements of one input tensor, zero dimensions counted as one (`--max-tensor-elements`). */
  maxTensorElements: number;
}

/**
 * Defaults: 256 items (TEI answers 413 above 32 texts, `--max-client-batch-size`; OpenAI's embeddings take 2,048
 * inputs: 256 keeps a padded batch of 512-token texts near 1 MB of ids), one million characters of text, PIL's
 * 89,478,485 pixels (which the image decoder enforces anyway), ten minutes of audio a clip, and 2^26 elements
 * (256 MiB of float32) a tensor.
 */
export const REQUEST_LIMIT_DEFAULTS: Readonly<RequestLimits> = {
  maxBatchItems: 256,
  maxTextChars: 1_000_000,
  maxImagePixels: DEFAULT_MAX_PIXELS,
  maxAudioSeconds: 600,
  maxTensorElements: 2 ** 26,
};

/** The flag that raises each bound (named in every refusal). */
export const REQUEST_LIMIT_FLAGS: Readonly<Record<keyof RequestLimits, string>> = {
  maxBatchItems: "--max-batch-items",
  maxTextChars: "--max-text-chars",
  maxImagePixels: "--max-image-pixels",
  maxAudioSeconds: "--max-audio-seconds",
  maxTensorElements: "--max-tensor-elements",
};

function tooLarge(what: string, limit: keyof RequestLimits, limits: RequestLimits): PayloadTooLargeError {
  return new PayloadTooLargeError(`${what}; the limit is ${limits[limit].toLocaleString("en-US")}`, {
    hint: `split the request, or start the server with a larger ${REQUEST_LIMIT_FLAGS[limit]}`,
  });
}

function listLength(value: unknown): number {
  return Array.isArray(value) ? value.length : value === undefined ? 0 : 1;
}

function chars(value: unknown): number {
  if (typeof value === "string") return value.length;
  if (!Array.isArray(value)) return 0;
  let n = 0;
  for (const v of value) if (typeof v === "string") n += v.length;
  return n;
}

/**
 * Checks the counts of a raw-input body (`{"text": …}`, `{"question": …}`, `{"image": …}`, `{"audio": …}`) on the parsed JSON,
 * before anything is decoded or copied: items, and characters of text.
 *
 * @throws {PayloadTooLargeError} too many items or characters.
 */
export function checkRawCounts(body: Record<string, unknown>, kind: string, limits: RequestLimits): void {
  const items = listLength(body[kind]);
  if (items > limits.maxBatchItems) {
    throw tooLarge(`the request holds ${items.toLocaleString("en-US")} ${kind} items`, "maxBatchItems", limits);
  }
  const labels = listLength(body.candidate_labels);
  const rows = items * Math.max(1, labels);
  if (rows > limits.maxBatchItems) {
    throw tooLarge(
      `${items} ${kind === "text" ? "texts" : `${kind} items`} × ${labels} candidate labels make ${
        rows.toLocaleString("en-US")
      } rows`,
      "maxBatchItems",
      limits,
    );
  }
  for (const key of ["pairs", "context", "targets"]) {
    const n = listLength(body[key]);
    if (n > limits.maxBatchItems) {
      throw tooLarge(`the request holds ${n.toLocaleString("en-US")} ${key}`, "maxBatchItems", limits);
    }
  }
  const template = typeof body.hypothesis_template === "string" ? body.hypothesis_template.length : 0;
  const text = kind === "text" || kind === "question" ? chars(body[kind]) : 0;
  const total = text + chars(body.pairs) + chars(body.context) + chars(body.targets) + chars(body.candidate_labels) +
    template * Math.max(1, labels);
  if (total > limits.maxTextChars) {
    throw tooLarge(`the request holds ${total.toLocaleString("en-US")} characters of text`, "maxTextChars", limits);
  }
}

/**
 * Checks decoded raw media against the limits from their headers (nothing is decoded): pixels of each image,
 * seconds of each WAV clip. Files whose header cannot be read are left to the pipeline, which names the problem.
 *
 * @throws {PayloadTooLargeError} an image or clip over its limit.
 * @throws {InputError} a WAV header declaring a sampling rate no recording has (outside 1–384 kHz).
 */
export function checkRawMedia(input: RawInput, limits: RequestLimits): void {
  if (input.kind === "image") {
    for (const image of input.images) {
      let pixels: number;
      try {
        const header = readImageHeader(image.bytes, image.name, Number.MAX_SAFE_INTEGER);
        pixels = header.width * header.height;
      } catch {
        continue;
      }
      if (pixels > limits.maxImagePixels) {
        throw tooLarge(`${image.name} is ${pixels.toLocaleString("en-US")} pixels`, "maxImagePixels", limits);
      }
    }
  } else if (input.kind === "audio") {
    for (const clip of input.clips) {
      const wav = wavDuration(clip.bytes);
      if (wav === undefined) continue;
      if (wav.rate < RATE_RANGE[0] || wav.rate > RATE_RANGE[1]) {
        throw new InputError(
          `${clip.name}: the header declares a sampling rate of ${wav.rate} Hz, outside the 1–384 kHz of real recordings`,
          { hint: "the file is damaged or not really this rate; re-export it, e.g. `sox in.wav -r 16000 out.wav`" },
        );
      }
      const seconds = wav.seconds;
      if (seconds > limits.maxAudioSeconds) {
        throw tooLarge(
          `${clip.name} is ${Math.round(seconds).toLocaleString("en-US")} seconds long`,
          "maxAudioSeconds",
          limits,
        );
      }
    }
  }
}

/**
 * Checks v2 `inputs` entries before they are converted: no more than the model has inputs (each is looked up by
 * name, and thousands of entries would make that quadratic).
 *
 * @throws {BadRequestError} more entries than the model has inputs.
 */
export function checkInferEntries(body: unknown, inputs: readonly TensorInfo[]): void {
  if (typeof body !== "object" || body === null) return;
  const entries = (body as { inputs?: unknown }).inputs;
  if (Array.isArray(entries) && entries.length > inputs.length) {
    throw new BadRequestError(
      `"inputs" has ${entries.length.toLocaleString("en-US")} entries; the model has ${inputs.length} input${
        inputs.length === 1 ? "" : "s"
      }`,
    );
  }
}

/**
 * Checks decoded tensors: elements per tensor, every dimension counted (a zero counts as one, so that a shape
 * such as `[0, 1e15]`, empty but absurd, is refused as well).
 *
 * @throws {PayloadTooLargeError} a tensor over the limit.
 */
export function checkFeeds(feeds: TensorMap, limits: RequestLimits): void {
  for (const name in feeds) {
    let n = 1;
    for (const d of feeds[name].shape) n *= Math.max(1, d);
    if (n > limits.maxTensorElements) {
      throw tooLarge(
        `input ${JSON.stringify(name)} of shape [${feeds[name].shape.join(", ")}] spans ${
          n.toLocaleString("en-US")
        } elements`,
        "maxTensorElements",
        limits,
      );
    }
  }
}
