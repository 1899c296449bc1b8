/**
 * The KServe v2 (Open Inference Protocol) endpoints: `GET /v2`, `/v2/health/live|ready`,
 * `/v2/models/{name}[/versions/{v}]`, `…/ready`, and `POST …/infer`. Each is one named handler over the
 * {@linkcode ServerState}.
 *
 * @module
 */
import { VERSION } from "../version.ts";
import type { InferAnswer } from "./codec_calls.ts";
import { tensorMetadata, type V2Request } from "./kserve.ts";
import { bodyCost, feedsCost } from "./memory_budget.ts";
import type { Handled, Route, RouteContext } from "./route_table.ts";
import { JSON_HEADERS, valueCount } from "./routes_gpux.ts";
import { ALWAYS_OFFLOAD_BYTES, OFFLOAD_BYTES, OFFLOAD_VALUES, STREAM_VALUES } from "./server_state.ts";

/** `GET /v2`: the server's metadata. */
export function serverMetadataHandler(): Handled {
  return { body: { name: "gpux", version: VERSION, extensions: [] } };
}

/** `GET /v2/health/live`. */
export function liveHandler(): Handled {
  return { body: { live: true } };
}

/** `GET /v2/health/ready`: 503 while draining. */
export function readyHandler({ state }: RouteContext): Handled {
  return { status: state.draining ? 503 : 200, body: { ready: !state.draining } };
}

/** `GET /v2/models/{name}[/versions/{v}]`: the model's metadata. */
export function modelMetadataHandler({ state, params }: RouteContext): Handled {
  const m = state.model(params.name);
  return {
    model: m.name,
    body: {
      name: m.name,
      versions: m.pool.model?.sha ? [m.pool.model.sha] : [],
      platform: "onnxruntime_onnx",
      inputs: m.pool.inputs.map(tensorMetadata),
      outputs: m.pool.outputs.map(tensorMetadata),
    },
  };
}

/** `GET /v2/models/{name}[/versions/{v}]/ready`: 503 while draining. */
export function modelReadyHandler({ state, params }: RouteContext): Handled {
  const m = state.model(params.name);
  return { model: m.name, status: state.draining ? 503 : 200, body: { name: m.name, ready: !state.draining } };
}

/** `POST /v2/models/{name}[/versions/{v}]/infer`. */
export async function inferHandler({ request, state, params, endpoint }: RouteContext): Promise<Handled> {
  const m = state.model(params.name);
  const pool = state.sessions(m);
  const text = await state.body(request, endpoint);
  const parsed = await state.codecRun<V2Request>(
    { op: "decodeInfer", text, inputs: pool.inputs, outputs: pool.outputs, limits: state.limits },
    text.length >= OFFLOAD_BYTES,
    text.length >= ALWAYS_OFFLOAD_BYTES,
  );
  endpoint.reservation?.resize(bodyCost(text.length) + feedsCost(parsed.feeds, pool.inputs, pool.outputs));
  state.checkOpen();
  const result = await pool.infer(parsed.feeds, { timeoutMs: m.timeoutMs, validated: true });
  const answer: InferAnswer = {
    name: m.name,
    outputs: result.outputs,
    order: pool.outputs.map((o) => o.name),
    request: {
      ...(parsed.id !== undefined ? { id: parsed.id } : {}),
      ...(parsed.outputs ? { outputs: parsed.outputs } : {}),
    },
    ...(pool.model?.sha ? { version: pool.model.sha } : {}),
  };
  const values = valueCount(result.outputs);
  if (values >= STREAM_VALUES) {
    const stream = state.codec.stream({ op: "encodeInfer", answer });
    return { model: m.name, batch: result.batch, body: undefined, stream, headers: JSON_HEADERS };
  }
  const body = await state.codecRun<string>({ op: "encodeInfer", answer }, values >= OFFLOAD_VALUES);
  return { model: m.name, batch: result.batch, body: undefined, text: body, headers: JSON_HEADERS };
}

/** KServe v2's routes. */
export const KSERVE_ROUTES: Route[] = [
  { method: "GET", pattern: "/v2", name: "v2_server", api: "kserve", handler: serverMetadataHandler },
  { method: "GET", pattern: "/v2/health/live", name: "v2_health_live", api: "kserve", handler: liveHandler },
  { method: "GET", pattern: "/v2/health/ready", name: "v2_health_ready", api: "kserve", handler: readyHandler },
  { method: "GET", pattern: "/v2/models/:name", name: "v2_model", api: "kserve", handler: modelMetadataHandler },
  {
    method: "GET",
    pattern: "/v2/models/:name/versions/:version",
    name: "v2_model",
    api: "kserve",
    handler: modelMetadataHandler,
  },
  {
    method: "GET",
    pattern: "/v2/models/:name/ready",
    name: "v2_model_ready",
    api: "kserve",
    handler: modelReadyHandler,
  },
  {
    method: "GET",
    pattern: "/v2/models/:name/versions/:version/ready",
    name: "v2_model_ready",
    api: "kserve",
    handler: modelReadyHandler,
  },
  { method: "POST", pattern: "/v2/models/:name/infer", name: "v2_infer", api: "kserve", handler: inferHandler },
  {
    method: "POST",
    pattern: "/v2/models/:name/versions/:version/infer",
    name: "v2_infer",
    api: "kserve",
    handler: inferHandler,
  },
];
