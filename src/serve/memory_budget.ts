/**
 * One memory budget for `gpux serve` (`--max-memory-mb`, by default half the machine's memory): every request
 * reserves what it is estimated to cost before its work starts, and gives it back when it is answered. A request
 * that could never fit is refused with 413; one that does not fit beside the requests already running waits
 * outside, with 503 and `Retry-After`. Without it, concurrent large requests that each pass the per-request limits
 * could still add up to more memory than the machine has.
 *
 * The estimate is deliberately coarse and on the high side ({@linkcode bodyCost}, {@linkcode feedsCost},
 * {@linkcode rawCost}): a JSON body is parsed into arrays of numbers, flattened, converted to typed arrays,
 * copied to a Worker and to onnxruntime, and answers are printed back as JSON.
 *
 * @module
 */
import { type TensorInfo, type TensorMap, TYPED_ARRAYS } from "../runtime/tensors.ts";
import { PayloadTooLargeError, QueueFullError } from "./serve_errors.ts";
import type { RawInput } from "./worker_protocol.ts";
import { wavDuration } from "./wav_duration.ts";
import { readImageHeader } from "../processing/image_header.ts";

const MB = 1024 * 1024;

/** Bytes reserved per byte of a JSON body while it is read and parsed (numbers as JS arrays: ~4-16× the text). */
export const BODY_FACTOR = 16;
/** Bytes per output element: the typed array, its JSON values and the printed text. */
const OUTPUT_ELEMENT_BYTES = 48;

/** The default budget: half the machine's memory, or `undefined` when it cannot be read (no budget then). */
export function defaultMemoryBudgetMb(): number | undefined {
  try {
    return Math.floor(Deno.systemMemoryInfo().total / MB / 2);
  } catch {
    return undefined;
  }
}

/** A request's share of the budget; release it when the request is answered. */
export interface Reservation {
  /** Bytes held. */
  readonly bytes: number;
  /**
   * Grows (or shrinks) the share to `bytes`, once the request's real size is known.
   *
   * @throws {PayloadTooLargeError} or {@linkcode MemoryBusyError}, as {@linkcode MemoryBudget.reserve}.
   */
  resize(bytes: number): void;
  /** Gives the share back (idempotent). */
  release(): void;
}

/** The memory budget is taken by requests in flight (503, `Retry-After: 1`). */
export class MemoryBusyError extends QueueFullError {
  override readonly code: string = "memory_busy";
}

/** Reservations against one budget. */
export class MemoryBudget {
  /** The whole budget in bytes (`--max-memory-mb`). */
  readonly limitBytes: number;
  /** Memory in use before any request (the process with its models loaded), in bytes. */
  readonly baselineBytes: number;
  #reserved = 0;

  /** A budget of `limitBytes`, of which `baselineBytes` is already used by the loaded server. */
  constructor(limitBytes: number, baselineBytes: number) {
    this.limitBytes = limitBytes;
    this.baselineBytes = baselineBytes;
  }

  /** Bytes requests may hold together. */
  get capacity(): number {
    return Math.max(0, this.limitBytes - this.baselineBytes);
  }

  /** Bytes held by requests in flight. */
  get reserved(): number {
    return this.#reserved;
  }

  /**
   * Reserves `bytes` for one request (`what` names it in refusals).
   *
   * @throws {PayloadTooLargeError} the request alone needs more than the capacity (it could never run).
   * @throws {MemoryBusyError} it does not fit beside the requests in flight (retry later).
   */
  reserve(bytes: number, what = "this request"): Reservation {
    this.#check(bytes, 0, what);
    this.#reserved += bytes;
    let held = bytes;
    let released = false;
    return {
      get bytes() {
        return held;
      },
      resize: (next: number) => {
        if (released) return;
        if (next > held) this.#check(next, held, what);
        this.#reserved += next - held;
        held = next;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#reserved -= held;
      },
    };
  }

  #check(bytes: number, alreadyHeld: number, what: string): void {
    const mb = (n: number) => `${Math.ceil(n / MB).toLocaleString("en-US")} MB`;
    if (bytes > this.capacity) {
      throw new PayloadTooLargeError(
        `${what} needs about ${mb(bytes)} of memory; the server's budget leaves ${
          mb(this.capacity)
        } for requests (--max-memory-mb ${Math.round(this.limitBytes / MB)}, ${
          mb(this.baselineBytes)
        } in use by the models)`,
        { hint: "send a smaller request, or start the server with a larger --max-memory-mb" },
      );
    }
    if (this.#reserved - alreadyHeld + bytes > this.capacity) {
      throw new MemoryBusyError(
        `the server's memory budget is taken by requests in flight (${mb(this.#reserved)} of ${mb(this.capacity)})`,
        { hint: "retry in a moment, or start the server with a larger --max-memory-mb" },
      );
    }
  }
}

/** What reading and parsing a body of `bytes` may cost. */
export function bodyCost(bytes: number): number {
  return bytes * BODY_FACTOR;
}

function elements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * What running decoded tensors may cost: each input held three times (typed array, the Worker's copy,
 * onnxruntime's), and the outputs, whose shapes come from the model's declaration with named dimensions taken from
 * the inputs' (an unknown dimension counts as one, and the outputs as at least as many elements as the inputs, so a
 * model with undeclared output shapes is neither refused nor counted as free).
 */
export function feedsCost(feeds: TensorMap, inputs: readonly TensorInfo[], outputs: readonly TensorInfo[]): number {
  let bytes = 0;
  let inputElements = 0;
  const dims = new Map<string, number>();
  for (const info of inputs) {
    const t = feeds[info.name];
    if (!t) continue;
    const n = elements(t.shape);
    inputElements += n;
    bytes += n * ((TYPED_ARRAYS as Record<string, { BYTES_PER_ELEMENT: number }>)[t.dtype]?.BYTES_PER_ELEMENT ?? 8) * 3;
    info.shape.forEach((d, i) => {
      if (typeof d === "string" && d !== "" && t.shape[i] !== undefined) dims.set(d, t.shape[i]);
    });
  }
  let outputElements = 0;
  for (const o of outputs) {
    let n = 1;
    for (const d of o.shape) n *= typeof d === "number" && d >= 0 ? d : typeof d === "string" ? dims.get(d) ?? 1 : 1;
    outputElements += n;
  }
  return bytes + Math.max(outputElements, inputElements) * OUTPUT_ELEMENT_BYTES;
}

/**
 * What pre-processing raw input may cost: text at 320 bytes a character (tokens, ids, offsets, masks: a million CJK
 * characters, one token each, held about 300 MB while tokenized, measured with a BERT tokenizer), images at 16 bytes a
 * declared pixel (RGBA decode, float planes, resize), audio at 12 bytes a declared sample plus a 16 kHz float copy
 * for resampling; the encoded bytes themselves are in the body's share.
 */
export function rawCost(input: RawInput): number {
  if (input.kind === "text") {
    let chars = 0;
    for (const t of input.texts) chars += t.length;
    for (const t of input.pairs ?? []) chars += t.length;
    const labels = input.candidateLabels?.length ?? 0;
    for (const t of input.candidateLabels ?? []) chars += t.length * input.texts.length;
    chars += (input.hypothesisTemplate?.length ?? 0) * labels * input.texts.length;
    return chars * 320;
  }
  if (input.kind === "image") {
    let bytes = 0;
    for (const image of input.images) {
      try {
        const h = readImageHeader(image.bytes, image.name, Number.MAX_SAFE_INTEGER);
        bytes += h.width * h.height * 16;
      } catch {
        bytes += image.bytes.length * 4;
      }
    }
    return bytes;
  }
  let bytes = 0;
  for (const clip of input.clips) {
    const seconds = wavDuration(clip.bytes)?.seconds ?? 0;
    bytes += clip.bytes.length * 12 + seconds * 16_000 * 4 * 4;
  }
  return bytes;
}
