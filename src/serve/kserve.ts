/**
 * The KServe v2 / Open Inference Protocol (REST, JSON) as Triton, KServe and Seldon clients speak it:
 * datatype names, model metadata, and the conversion of `infer` requests and responses from and to
 * gpux tensors. Input checking reuses `gpux run`'s conversion, so a wrong name, shape or datatype gets
 * the same message.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import {
  checkNames,
  jsonValues,
  quoteName,
  type TensorDtype,
  tensorFromJson,
  type TensorInfo,
  type TensorMap,
} from "../runtime/tensors.ts";
import { BadRequestError } from "./serve_errors.ts";

/** v2 datatype per gpux dtype. */
export const V2_DATATYPES: Record<TensorDtype, string> = {
  bool: "BOOL",
  uint8: "UINT8",
  uint16: "UINT16",
  uint32: "UINT32",
  uint64: "UINT64",
  int8: "INT8",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  float16: "FP16",
  float32: "FP32",
  float64: "FP64",
  string: "BYTES",
};

const FROM_V2: Record<string, TensorDtype> = Object.fromEntries(
  Object.entries(V2_DATATYPES).map(([dtype, v2]) => [v2, dtype as TensorDtype]),
);

/** One tensor's metadata in v2 form: dynamic dimensions are -1. */
export function tensorMetadata(info: TensorInfo): { name: string; datatype: string; shape: number[] } {
  return {
    name: info.name,
    datatype: info.dtype === "unknown" ? "UNKNOWN" : V2_DATATYPES[info.dtype],
    shape: info.shape.map((d) => typeof d === "number" ? d : -1),
  };
}

/** A parsed `infer` request: the feeds and which outputs to return. */
export interface V2Request {
  /** Request id, echoed in the response. */
  id?: string;
  /** Converted, validated feeds. */
  feeds: TensorMap;
  /** Requested outputs (all when undefined). */
  outputs?: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Converts an `infer` request body to feeds checked against `inputs` and the output filter checked
 * against `outputs`.
 *
 * @throws {BadRequestError} a body that is not a v2 request.
 * @throws {InputError} an unknown, missing or malformed input, or an unknown output (as `gpux run` words it).
 */
export function parseInferRequest(
  body: unknown,
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
): V2Request {
  if (!isObject(body)) throw new BadRequestError('expected a JSON object {"inputs": [{name, shape, datatype, data}]}');
  if (!Array.isArray(body.inputs)) {
    throw new BadRequestError('"inputs" must be a list of {name, shape, datatype, data}');
  }
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const feeds: TensorMap = {};
  const names: string[] = [];
  body.inputs.forEach((item, i) => {
    if (!isObject(item) || typeof item.name !== "string") {
      throw new BadRequestError(`inputs[${i}]: expected {name, shape, datatype, data}`);
    }
    const { name, shape, datatype, data } = item;
    if (names.includes(name)) throw new InputError(`input ${quoteName(name)} is given twice`);
    names.push(name);
    if (data === undefined) throw new InputError(`input ${quoteName(name)}: "data" is missing`);
    if (typeof datatype !== "string" || !(datatype in FROM_V2)) {
      throw new InputError(
        `input ${quoteName(name)}: unknown datatype ${JSON.stringify(datatype)}; expected one of ${
          Object.keys(FROM_V2).join(", ")
        }`,
      );
    }
    const info = byName.get(name);
    if (!info) return; // reported with the model's inputs by checkNames below
    feeds[name] = tensorFromJson(name, { data, shape, dtype: FROM_V2[datatype] }, { info });
  });
  checkNames(names, inputs);
  let wanted: string[] | undefined;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs) || !body.outputs.every((o) => isObject(o) && typeof o.name === "string")) {
      throw new BadRequestError('"outputs" must be a list of {name}');
    }
    wanted = body.outputs.map((o) => (o as { name: string }).name);
    const known = new Set(outputs.map((o) => o.name));
    const unknown = wanted.filter((n) => !known.has(n));
    if (unknown.length) {
      throw new InputError(
        `unknown output ${unknown.map(quoteName).join(", ")}; the model's outputs are ${
          outputs.map((o) => quoteName(o.name)).join(", ")
        }`,
      );
    }
  }
  const id = body.id === undefined ? undefined : String(body.id);
  return { ...(id !== undefined ? { id } : {}), feeds, ...(wanted ? { outputs: wanted } : {}) };
}

/** The `infer` response: outputs in the model's order (or the requested ones), data flat in row-major order. */
export function inferResponse(
  modelName: string,
  outputs: TensorMap,
  order: readonly string[],
  request: { id?: string; outputs?: string[] },
  modelVersion?: string,
): Record<string, unknown> {
  const names = request.outputs ?? order;
  return {
    model_name: modelName,
    ...(modelVersion ? { model_version: modelVersion } : {}),
    id: request.id ?? crypto.randomUUID(),
    outputs: names.map((name) => {
      const t = outputs[name];
      return { name, shape: t.shape, datatype: V2_DATATYPES[t.dtype], data: jsonValues(t) };
    }),
  };
}
