/**
 * `gpux serve <model>…`: an HTTP inference server (gpux API + KServe v2 + Prometheus metrics) for the
 * models `gpux run` runs. The server itself lives in src/serve/; this file parses flags, prints the ready
 * line, renders the access log, and turns SIGINT/SIGTERM into a graceful drain (exit 0).
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { InputError } from "../errors.ts";
import type { CliContext } from "./context.ts";
import type { Output } from "./output.ts";
import { setOrtLogLevel } from "../runtime/session.ts";
import { withRuntimeOptions } from "./runtime_flags.ts";
import { INT_FLAGS, intFlag } from "./int_flag.ts";
import { scanCache } from "../cache/scan.ts";
import { HuggingFaceManager } from "../registry/huggingface.ts";
import { hubCacheDir } from "../environment.ts";
import { modelArg } from "./hub_client.ts";
import { SERVED_NAME, SERVING_DEFAULTS } from "../serve/served_model.ts";
import { parseDuration } from "./duration.ts";
import type { AccessLogEntry, ModelPuller, ServerEvent } from "../serve/server.ts";
import { type ModelDirectory, serve, type ServeEvent } from "../serve/serve.ts";
import { parseCorsOrigins } from "../serve/cors_policy.ts";
import { REQUEST_LIMIT_DEFAULTS } from "../serve/request_limits.ts";
import { detectGpu } from "../runtime/gpu_presence.ts";

/** Bounds of serve's number flags: the shared table (gpux.yml `serving:` reads the same entries). */
const SERVE_FLAGS = INT_FLAGS;

/** Loopback addresses: binding anything else without an API key earns a warning. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** `gpux serve`. */
export function serveCommand(ctx: CliContext) {
  const command = new Command("serve")
    .description(
      "Serve models over HTTP: gpux API, KServe v2 (Open Inference Protocol), OpenAI- and Ollama-compatible APIs, Prometheus metrics",
    )
    .argument(
      "[model...]",
      "MODEL or NAME=MODEL: a cached Hub id org/name[@rev], an .onnx file, a folder or gpux.yml (none: every cached model, loaded on first use)",
    )
    .option("--host <address>", "address to bind (default: gpux.yml serving.host, else 127.0.0.1)")
    .option(
      "--port <n>",
      "port; 0 picks a free one (default: gpux.yml serving.port, else 8080)",
      intFlag("--port", SERVE_FLAGS.port),
    )
    .option(
      "--workers <n>",
      "workers per model (default: 1 on a GPU, half the cores on cpu)",
      intFlag("--workers", SERVE_FLAGS.workers),
    )
    .option(
      "--max-batch <n>",
      `most requests stacked into one run for models with a dynamic batch dimension; 1 = off (default ${SERVING_DEFAULTS.maxBatch})`,
      intFlag("--max-batch", SERVE_FLAGS.maxBatch),
    )
    .option(
      "--batch-delay-ms <ms>",
      "how long a partial batch waits for more requests (default 0)",
      intFlag("--batch-delay-ms", SERVE_FLAGS.batchDelayMs),
    )
    .option(
      "--max-queue <n>",
      `most requests waiting per model; more get 503 (default ${SERVING_DEFAULTS.maxQueue})`,
      intFlag("--max-queue", SERVE_FLAGS.maxQueue),
    )
    .option(
      "--parallel <n>",
      "text-generation models: sequences decoded at once, together in one batched step (default 1)",
      intFlag("--parallel", SERVE_FLAGS.parallel),
    )
    .option(
      "--max-tokens-limit <n>",
      "text-generation models: most new tokens a request may ask for (max_tokens, num_predict); more get 400 (default 4096)",
      intFlag("--max-tokens-limit", SERVE_FLAGS.maxTokensLimit),
    )
    .option(
      "--timeout-ms <ms>",
      "per-request limit; later answers are 504 (default 30000, 0 = none)",
      intFlag("--timeout-ms", SERVE_FLAGS.timeoutMs),
    )
    .option(
      "--max-body-mb <mb>",
      "largest request body; larger ones get 413 (default 16)",
      intFlag("--max-body-mb", SERVE_FLAGS.maxBodyMb),
    )
    .option(
      "--max-batch-items <n>",
      `most texts, images, audio clips or zero-shot rows in one request; more get 413 (default ${REQUEST_LIMIT_DEFAULTS.maxBatchItems})`,
      intFlag("--max-batch-items", SERVE_FLAGS.maxBatchItems),
    )
    .option(
      "--max-text-chars <n>",
      `most characters of text in one request (default ${REQUEST_LIMIT_DEFAULTS.maxTextChars})`,
      intFlag("--max-text-chars", SERVE_FLAGS.maxTextChars),
    )
    .option(
      "--max-image-pixels <n>",
      `largest image (width × height, from its header) (default ${REQUEST_LIMIT_DEFAULTS.maxImagePixels})`,
      intFlag("--max-image-pixels", SERVE_FLAGS.maxImagePixels),
    )
    .option(
      "--max-audio-seconds <s>",
      `longest audio clip, from its header (default ${REQUEST_LIMIT_DEFAULTS.maxAudioSeconds})`,
      intFlag("--max-audio-seconds", SERVE_FLAGS.maxAudioSeconds),
    )
    .option(
      "--max-tensor-elements <n>",
      `most elements of one input tensor (default ${REQUEST_LIMIT_DEFAULTS.maxTensorElements})`,
      intFlag("--max-tensor-elements", SERVE_FLAGS.maxTensorElements),
    )
    .option(
      "--max-memory-mb <mb>",
      "memory budget of the server: requests that could never fit get 413, those that do not fit now 503 (default: half the machine's memory)",
      intFlag("--max-memory-mb", SERVE_FLAGS.maxMemoryMb),
    )
    .option("--api-key <key>", "require Authorization: Bearer <key> on every endpoint but health (or GPUX_API_KEY)")
    .option(
      "--cors <origins>",
      "* or comma-separated origins (scheme://host[:port]): send Access-Control-Allow-Origin and answer preflights",
    );
  return withRuntimeOptions(command)
    .option(
      "--keep-alive <duration>",
      "with no model argument: how long an idle model stays loaded (90s, 5m, 1h; default 5m; a request's keep_alive overrides it)",
    )
    .option("--allow-pull", "let POST /api/pull download models from the Hub into the cache (off: 403)")
    .option("--no-ui", "no playground page at GET / (default: gpux.yml serving.ui, else on)")
    .option("--json-log", "access log and ready line as JSON lines")
    .option("-q, --quiet", "no access log")
    .action(async (specs, flags) => {
      const out = ctx.output({ quiet: flags.quiet });
      await setOrtLogLevel("fatal");
      const apiKey = flags.apiKey ?? ctx.env("GPUX_API_KEY") ?? undefined;
      if (apiKey !== undefined && apiKey === "") {
        throw new InputError("--api-key / GPUX_API_KEY is empty", {
          hint: "give a non-empty key, or unset GPUX_API_KEY to serve without one",
        });
      }
      const session = {
        ...(flags.provider ? { provider: flags.provider } : {}),
        ...(flags.deviceId !== undefined ? { deviceId: flags.deviceId } : {}),
        ...(flags.graphOptimization ? { graphOptimizationLevel: flags.graphOptimization } : {}),
        ...(flags.intraOpThreads !== undefined ? { intraOpThreads: flags.intraOpThreads } : {}),
        ...(flags.interOpThreads !== undefined ? { interOpThreads: flags.interOpThreads } : {}),
      };
      const keepAliveMs = flags.keepAlive === undefined ? undefined : parseDuration(flags.keepAlive, "--keep-alive");
      const server = await serve({
        models: specs,
        // with no model argument, every cached model is served, loaded on first use
        ...(specs.length === 0 ? { directory: cacheDirectory(ctx, flags.cacheDir) } : {}),
        ...(flags.host !== undefined ? { host: flags.host } : {}),
        ...(flags.port !== undefined ? { port: flags.port } : {}),
        ...(apiKey ? { apiKey } : {}),
        ...(flags.cors !== undefined ? { cors: parseCorsOrigins(flags.cors) } : {}),
        ...(Object.keys(session).length ? { session } : {}),
        ...(flags.variant ? { variant: flags.variant } : {}),
        ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
        env: ctx.env,
        signal: ctx.signal,
        ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
        ...(flags.maxBatch !== undefined ? { maxBatch: flags.maxBatch } : {}),
        ...(flags.batchDelayMs !== undefined ? { batchDelayMs: flags.batchDelayMs } : {}),
        ...(flags.maxQueue !== undefined ? { maxQueue: flags.maxQueue } : {}),
        ...(flags.timeoutMs !== undefined ? { timeoutMs: flags.timeoutMs } : {}),
        ...(flags.parallel !== undefined ? { parallel: flags.parallel } : {}),
        ...(flags.maxTokensLimit !== undefined ? { maxTokensLimit: flags.maxTokensLimit } : {}),
        ...(flags.maxBodyMb !== undefined ? { maxBodyMb: flags.maxBodyMb } : {}),
        ...(flags.maxMemoryMb !== undefined ? { maxMemoryMb: flags.maxMemoryMb } : {}),
        ...(flags.maxBatchItems !== undefined ? { maxBatchItems: flags.maxBatchItems } : {}),
        ...(flags.maxTextChars !== undefined ? { maxTextChars: flags.maxTextChars } : {}),
        ...(flags.maxImagePixels !== undefined ? { maxImagePixels: flags.maxImagePixels } : {}),
        ...(flags.maxAudioSeconds !== undefined ? { maxAudioSeconds: flags.maxAudioSeconds } : {}),
        ...(flags.maxTensorElements !== undefined ? { maxTensorElements: flags.maxTensorElements } : {}),
        ...(keepAliveMs !== undefined ? { keepAliveMs } : {}),
        ...(flags.allowPull ? { pull: hubPuller(ctx, flags.cacheDir) } : {}),
        ...(flags.ui === false ? { ui: false } : {}),
        onEvent: (event) => renderEvent(out, event, flags.jsonLog ?? false),
      });
      for (const m of server.models) {
        if (m.pipelineError) {
          out.warn(`${m.name} takes tensors only: its pre-processing did not load (${m.pipelineError})`);
        }
        if (m.warmupError) {
          out.warn(`${m.name} is served cold: its warm-up on synthesised inputs failed: ${m.warmupError}`);
        }
        // as for run/inspect/bench: a fallback is news only where a GPU is present (warnFallbacks)
        if (!m.fallbacks.length || !detectGpu().present) continue;
        const why = m.fallbacks.map((f) => `${f.provider} unavailable (${f.reason})`).join("; ");
        out.warn(`${m.name} runs on ${m.provider}: ${why}`);
      }
      if (!apiKey && !isLoopback(server.host)) {
        out.warn(`listening on ${server.host} without an API key: anyone who can reach this port can use the models`);
      }
      const described = server.models.map(({ name, provider, variant, workers, batching, batchingReason, task }) => ({
        name,
        provider,
        ...(variant ? { variant } : {}),
        workers,
        batching,
        ...(batchingReason ? { batchingReason } : {}),
        ...(task ? { task } : {}),
      }));
      if (flags.jsonLog) {
        out.print(JSON.stringify({ event: "ready", url: server.url, port: server.port, models: described }));
      } else {
        out.print(
          `gpux serve ready on ${server.url} · ${specs.length === 0 ? "every cached model, loaded on first use" : ""}${
            described.map((m) =>
              `${m.name} (${m.provider}${m.variant ? `, ${m.variant}` : ""}, ${m.workers} worker${
                m.workers > 1 ? "s" : ""
              }${m.batching ? ", batching" : `, batching: off (${m.batchingReason})`}${m.task ? `, ${m.task}` : ""})`
            ).join(" · ")
          }`,
        );
      }
      // main turns SIGINT and SIGTERM into ctx.signal: drain, release, exit 0
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) return resolve();
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await server.shutdown();
    });
}

function renderEvent(out: Output, event: ServeEvent, json: boolean): void {
  if (event.type === "loading") {
    if (!json) out.info(`loading ${event.name} (${event.spec})…`);
    return;
  }
  if (json) {
    if (event.type === "request") {
      if (!out.quiet) writeErr(JSON.stringify({ time: new Date().toISOString(), ...roundMs(event.entry) }));
    } else {
      writeErr(JSON.stringify({ time: new Date().toISOString(), event: event.type, ...withoutType(event) }));
    }
    return;
  }
  switch (event.type) {
    case "request":
      if (!out.quiet) writeErr(accessLine(event.entry));
      return;
    case "draining":
      out.info(`shutting down: finishing ${event.pending} request${event.pending === 1 ? "" : "s"} in flight…`);
      return;
    case "stopped":
      out.info("stopped");
      return;
    case "worker_crashed":
      out.warn(
        `a worker of ${event.model} crashed (${event.reason}); ${event.requests} request${
          event.requests === 1 ? "" : "s"
        } failed; replacing it`,
      );
      return;
    case "worker_replaced":
      out.info(`a new worker for ${event.model} is ready`);
      return;
    case "worker_replace_failed":
      out.warn(`could not replace the worker of ${event.model}: ${event.reason}`);
      return;
  }
}

function roundMs(entry: AccessLogEntry): AccessLogEntry {
  return { ...entry, ms: Math.round(entry.ms * 1000) / 1000 };
}

function withoutType(event: ServerEvent): Record<string, unknown> {
  const { type: _type, ...rest } = event as { type: string } & Record<string, unknown>;
  return rest;
}

/** `2026-11-30T08:00:00.000Z POST /models/m/predict 200 3.21ms model=m batch=4`. */
function accessLine(e: AccessLogEntry): string {
  return `${new Date().toISOString()} ${e.method} ${e.path} ${e.status} ${e.ms.toFixed(2)}ms${
    e.model ? ` model=${e.model}` : ""
  }${e.batch ? ` batch=${e.batch}` : ""}${e.error && e.status >= 400 ? ` error=${JSON.stringify(e.error)}` : ""}`;
}

const encoder = new TextEncoder();
function writeErr(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stderr.writeSync(bytes.subarray(offset));
}

/**
 * The Hub cache as a {@linkcode ModelDirectory}: each cached ONNX model by its repository name (and its full id),
 * loaded from the snapshot `main` points at (else the newest) by its path, which the sandbox lets serve read (a Hub id
 * is first tried as a relative path, which it does not).
 */
function cacheDirectory(ctx: CliContext, cacheDir: string | undefined): ModelDirectory {
  const cached = async () => {
    const scan = await scanCache({ ...(cacheDir ? { cacheDir } : {}), env: ctx.env });
    return scan.models
      .filter((m) => m.formats.includes("onnx"))
      .map((m) => ({
        name: m.id.split("/").pop()!,
        spec: m.id,
        path: (m.revisions.find((r) => r.refs.includes("main")) ?? m.revisions[0])?.path,
      }))
      .filter((m) => SERVED_NAME.test(m.name) && m.path !== undefined);
  };
  return {
    list: async () => (await cached()).map(({ name, spec }) => ({ name, spec })),
    async find(name) {
      const found = (await cached()).find((m) => m.name === name || m.spec === name);
      return found ? `${found.name}=${found.path}` : undefined;
    },
  };
}

/** Pulls for `POST /api/pull`, as `gpux pull MODEL` does (the Hub's endpoint, token and cache from the environment). */
function hubPuller(ctx: CliContext, cacheDir: string | undefined): ModelPuller {
  const manager = new HuggingFaceManager({ env: ctx.env, cacheDir: hubCacheDir(ctx.env, cacheDir) });
  return async (model, onProgress, signal) => {
    const ref = modelArg(model, undefined);
    await manager.pullModel(ref.id, { revision: ref.revision, onProgress, signal });
  };
}
