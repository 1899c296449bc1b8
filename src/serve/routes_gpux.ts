/**
 * gpux's own endpoints: `GET /health`, `GET /metrics`, `GET /info`, `POST /predict` (one model served) and
 * `POST /models/{name}/predict` (tensors, a task's raw input, or an encoder-decoder model's text, image or audio). Each is one named handler over the {@linkcode ServerState}.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { fallbacksJson, type LoadedModelFacts, modelJson } from "../runtime/run_result.ts";
import type { TensorMap } from "../runtime/tensors.ts";
import { VERSION } from "../version.ts";
import type { DecodedPredict, PredictAnswer } from "./codec_calls.ts";
import { bodyCost, feedsCost, rawCost } from "./memory_budget.ts";
import type { ModelPool } from "./model_pool.ts";
import type { Handled, Route, RouteContext } from "./route_table.ts";
import {
  ALWAYS_OFFLOAD_BYTES,
  OFFLOAD_BYTES,
  OFFLOAD_VALUES,
  type ServedModel,
  STREAM_VALUES,
} from "./server_state.ts";
import { RouteNotFoundError, ShuttingDownError } from "./serve_errors.ts";
import { encoderDecoderOf, encoderDecoderPredict } from "./encoder_decoder_request.ts";

/** JSON's content type. */
export const JSON_HEADERS = { "content-type": "application/json" };

/** Values in a tensor map (decides whether its answer is printed inline, in the codec, or streamed). */
export function valueCount(tensors: TensorMap): number {
  let n = 0;
  for (const name in tensors) n += tensors[name].data.length;
  return n;
}

/** Milliseconds to three decimals. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function factsOf(pool: ModelPool): LoadedModelFacts {
  return {
    path: pool.path,
    ...(pool.model ? { model: pool.model } : {}),
    provider: pool.provider,
    fallbacks: pool.fallbacks,
  };
}

/** A served model as `/info` lists it. */
export function describeModel(m: ServedModel): Record<string, unknown> {
  const pool = m.pool;
  return {
    name: m.name,
    spec: m.spec,
    provider: pool.provider,
    ...(pool.fallbacks.length
      ? { fallbacks: pool.fallbacks.map((f) => ({ provider: f.provider, reason: f.reason })) }
      : {}),
    variant: pool.model?.variant ?? null,
    repoId: pool.model?.repoId ?? null,
    sha: pool.model?.sha ?? null,
    task: pool.loaded.task ?? null,
    accepts: pool.loaded.accepts,
    inputs: pool.inputs,
    outputs: pool.outputs,
    workers: pool.workers,
    batching: pool.batching,
    ...(pool.batchingOff ? { batchingReason: pool.batchingOff } : {}),
    ...(pool.kind === "generation"
      ? { parallel: pool.parallel, contextLength: pool.contextLength ?? null, chatTemplate: pool.info.chatTemplate }
      : {}),
  };
}

/** `GET /health`: ok, or 503 while draining. */
export function healthHandler({ state }: RouteContext): Handled {
  return {
    status: state.draining ? 503 : 200,
    body: { status: state.draining ? "draining" : "ok", models: state.list.map((m) => m.name) },
  };
}

/** `GET /metrics`: Prometheus text. */
export function metricsHandler({ state }: RouteContext): Handled {
  return { body: undefined, text: state.metrics.render(), headers: { "content-type": "text/plain; version=0.0.4" } };
}

/** `GET /info`: version, limits, memory budget and every model. */
export function infoHandler({ state }: RouteContext): Handled {
  const budget = state.budget;
  return {
    body: {
      version: VERSION,
      limits: { ...state.limits, maxBodyBytes: state.maxBody, maxTokensLimit: state.maxTokensLimit },
      memory: budget
        ? { budgetBytes: budget.limitBytes, baselineBytes: budget.baselineBytes, reservedBytes: budget.reserved }
        : null,
      models: state.list.map(describeModel),
    },
  };
}

/** `POST /predict`: the one served model's predict. */
export async function predictOnlyHandler(ctx: RouteContext): Promise<Handled> {
  const { state } = ctx;
  if (state.models.size !== 1) {
    throw new RouteNotFoundError(
      `${state.models.size} models are served: POST /models/{name}/predict with name one of ${
        [...state.models.keys()].map((n) => JSON.stringify(n)).join(", ")
      }`,
    );
  }
  ctx.endpoint.model = state.list[0].name;
  return await predict(ctx, state.list[0]);
}

/** `POST /models/{name}/predict`. */
export async function predictHandler(ctx: RouteContext): Promise<Handled> {
  return await predict(ctx, ctx.state.model(ctx.params.name));
}

async function predict(ctx: RouteContext, m: ServedModel): Promise<Handled> {
  const encoderDecoder = encoderDecoderOf(m);
  if (encoderDecoder) return await encoderDecoderPredict(ctx, m, encoderDecoder);
  const { request, state, endpoint } = ctx;
  const started = performance.now();
  const pool = state.sessions(m);
  const text = await state.body(request, endpoint);
  const decoded = await state.codecRun<DecodedPredict>(
    { op: "decodePredict", text, inputs: pool.inputs, limits: state.limits },
    text.length >= OFFLOAD_BYTES,
    text.length >= ALWAYS_OFFLOAD_BYTES,
  );
  endpoint.reservation?.resize(
    bodyCost(text.length) +
      (decoded.kind === "raw" ? rawCost(decoded.input) : feedsCost(decoded.feeds, pool.inputs, pool.outputs)),
  );
  if (decoded.kind === "raw") {
    const accepts = pool.loaded.accepts;
    if (!accepts.includes(decoded.input.kind)) {
      throw new InputError(
        `model ${JSON.stringify(m.name)} takes ${
          accepts.length ? accepts.join(" or ") : "tensors"
        }, not ${decoded.input.kind}; its inputs are ${pool.inputs.map((i) => JSON.stringify(i.name)).join(", ")}`,
      );
    }
    if (state.draining) throw new ShuttingDownError("the server is shutting down");
    const result = await pool.process(decoded.input, decoded.options, { timeoutMs: m.timeoutMs });
    // the result comes printed by the model's Worker: spliced into the document, not parsed and printed again
    const marker = `\u0000${crypto.randomUUID()}`;
    const text = JSON.stringify({
      name: m.name,
      model: modelJson(m.spec, pool),
      provider: pool.provider,
      ...(pool.fallbacks.length ? { fallbacks: fallbacksJson(pool) } : {}),
      task: pool.loaded.task,
      result: marker,
      timings: {
        queueMs: roundMs(result.queueMs),
        runMs: roundMs(result.runMs),
        totalMs: roundMs(performance.now() - started),
        batch: 1,
      },
    }).replace(JSON.stringify(marker), () => result.resultText ?? "null");
    return { model: m.name, batch: 1, body: undefined, text, headers: JSON_HEADERS };
  }
  state.checkOpen();
  const result = await pool.infer(decoded.feeds, { timeoutMs: m.timeoutMs, validated: true });
  const answer: PredictAnswer = {
    name: m.name,
    spec: m.spec,
    facts: factsOf(pool),
    outputs: result.outputs,
    order: pool.outputs.map((o) => o.name),
    timings: {
      queueMs: roundMs(result.queueMs),
      runMs: roundMs(result.runMs),
      totalMs: roundMs(performance.now() - started),
      batch: result.batch,
    },
  };
  const values = valueCount(result.outputs);
  if (values >= STREAM_VALUES) {
    const stream = state.codec.stream({ op: "encodePredict", answer });
    return { body: undefined, stream, headers: JSON_HEADERS, model: m.name, batch: result.batch };
  }
  const body = await state.codecRun<string>({ op: "encodePredict", answer }, values >= OFFLOAD_VALUES);
  return { body: undefined, text: body, headers: JSON_HEADERS, model: m.name, batch: result.batch };
}

/** gpux's routes. */
export const GPUX_ROUTES: Route[] = [
  { method: "GET", pattern: "/health", name: "health", api: "gpux", handler: healthHandler },
  { method: "GET", pattern: "/metrics", name: "metrics", api: "gpux", handler: metricsHandler },
  { method: "GET", pattern: "/info", name: "info", api: "gpux", handler: infoHandler },
  { method: "POST", pattern: "/predict", name: "predict", api: "gpux", handler: predictOnlyHandler },
  { method: "POST", pattern: "/models/:name/predict", name: "predict", api: "gpux", handler: predictHandler },
];
