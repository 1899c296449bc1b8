/**
 * Request bodies to tensors and results to JSON text, for the server's endpoints, as plain functions:
 * what the server runs inline, and what the `JsonCodec` of json_codec.ts has its Worker (codec_worker.ts) run
 * off the HTTP thread. The Worker and its host both import this file, so the Worker imports nothing of the
 * host that starts it.
 *
 * @module
 */
import { type LoadedModelFacts, runResultJson } from "../runtime/run_result.ts";
import { feedsFromJson, type TensorInfo, type TensorMap } from "../runtime/tensors.ts";
import { inferResponse, parseInferRequest, type V2Request } from "./kserve.ts";
import { rawInputOf } from "./raw_input.ts";
import { checkFeeds, checkInferEntries, REQUEST_LIMIT_DEFAULTS, type RequestLimits } from "./request_limits.ts";
import { BadRequestError } from "./serve_errors.ts";
import type { RawInput, RawOptions } from "./worker_protocol.ts";

/** A `/predict` body: tensors, or raw input for the model's pipeline. */
export type DecodedPredict =
  | { kind: "tensors"; feeds: TensorMap }
  | { kind: "raw"; input: RawInput; options: RawOptions };

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** A `/predict` body, checked against the model's inputs and the request limits. */
export function decodePredict(
  text: string,
  inputs: readonly TensorInfo[],
  limits: RequestLimits = REQUEST_LIMIT_DEFAULTS,
): DecodedPredict {
  const body = parseBody(text);
  const raw = rawInputOf(body, inputs, limits);
  if (raw) return { kind: "raw", ...raw };
  const feeds = feedsFromJson(body, inputs);
  checkFeeds(feeds, limits);
  return { kind: "tensors", feeds };
}

/** A v2 `infer` body, checked against the model's inputs and outputs and the request limits. */
export function decodeInfer(
  text: string,
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  limits: RequestLimits = REQUEST_LIMIT_DEFAULTS,
): V2Request {
  const body = parseBody(text);
  checkInferEntries(body, inputs);
  const request = parseInferRequest(body, inputs, outputs);
  checkFeeds(request.feeds, limits);
  return request;
}

/** What a `/predict` answer is built from. */
export interface PredictAnswer {
  name: string;
  spec: string;
  facts: LoadedModelFacts;
  outputs: TensorMap;
  order: string[];
  timings: Record<string, number>;
}

/** The `/predict` answer: `{name, …what gpux run --json prints}`. */
export function encodePredict(a: PredictAnswer): string {
  return JSON.stringify({ name: a.name, ...runResultJson(a.spec, a.facts, a.outputs, a.order, a.timings) });
}

/** What a v2 `infer` answer is built from. */
export interface InferAnswer {
  name: string;
  outputs: TensorMap;
  order: string[];
  request: { id?: string; outputs?: string[] };
  version?: string;
}

/** The v2 `infer` answer. */
export function encodeInfer(a: InferAnswer): string {
  return JSON.stringify(inferResponse(a.name, a.outputs, a.order, a.request, a.version));
}

/** The operations the codec Worker runs. */
export type CodecCall =
  | { op: "decodePredict"; text: string; inputs: TensorInfo[]; limits?: RequestLimits }
  | { op: "decodeInfer"; text: string; inputs: TensorInfo[]; outputs: TensorInfo[]; limits?: RequestLimits }
  | { op: "encodePredict"; answer: PredictAnswer }
  | { op: "encodeInfer"; answer: InferAnswer };

/** Runs one codec operation (in the Worker, or inline). */
export function runCodec(call: CodecCall): unknown {
  switch (call.op) {
    case "decodePredict":
      return decodePredict(call.text, call.inputs, call.limits);
    case "decodeInfer":
      return decodeInfer(call.text, call.inputs, call.outputs, call.limits);
    case "encodePredict":
      return encodePredict(call.answer);
    case "encodeInfer":
      return encodeInfer(call.answer);
  }
}

/** The buffers of the typed arrays in a decoded value, to transfer instead of copying. */
export function transferables(value: unknown): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number) => {
    if (depth > 6 || v === null || typeof v !== "object") return;
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) {
        out.add(v.buffer);
      }
      return;
    }
    for (const x of Array.isArray(v) ? v : Object.values(v)) visit(x, depth + 1);
  };
  visit(value, 0);
  return [...out];
}
