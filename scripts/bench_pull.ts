/**
 * `deno task bench:pull`: gpux pull against `@huggingface/hub`'s `snapshotDownload`, both run as
 * whole processes (start-up included) against the same local hub in the same run, for
 * (a) one large file, (b) many 4 MB files, (c) a realistic ONNX repository layout; each case
 * unthrottled and shaped like a CDN (a first-byte delay on every response and a per-connection
 * bandwidth cap). Prints a table of seconds, MB/s, peak RSS and the ratio baseline / gpux.
 *
 * Flags: `--cases a,b,c`  `--modes unthrottled,shaped`  `--first-byte-ms 30`  `--mbps 50` (MB/s per
 * connection)  `--big-mb 1000` (size of case a)  `--runs 1` (median of N)  `--chunk-mb N` and
 * `--threshold-mb N` (gpux range tuning, through GPUX_PULL_CHUNK_BYTES and GPUX_PULL_RANGE_THRESHOLD),
 * `--gpux-only` (no baseline: for tuning runs), `--no-python` (skip Python's `huggingface_hub`, which is
 * otherwise installed with pip into tests/.fixtures/venv and run as `snapshot_download(max_workers=8)`).
 *
 * Peak RSS is `/usr/bin/time -v`'s "Maximum resident set size".
 *
 * @module
 */
import { startHubServer } from "../tests/support/hub_server.ts";
import { taskPermissions } from "../tests/support/cli.ts";
import { PYTHON, python } from "../tests/support/python_hf.ts";

const HF_JS = "hf.js snapshotDownload";
const HF_PY = "python snapshot_download(max_workers=8)";
/** Python's client, as `hf download` uses it (8 parallel files). */
const PY_SNAPSHOT = `import sys
from huggingface_hub import snapshot_download
snapshot_download(sys.argv[1], max_workers=8)`;

interface Flags {
  cases: string[];
  modes: string[];
  firstByteMs: number;
  mbps: number;
  bigMb: number;
  runs: number;
  chunkMb?: number;
  thresholdMb?: number;
  /** Skip the baseline (tuning runs). */
  gpuxOnly: boolean;
  /** Skip Python's client. */
  noPython: boolean;
}

function parseFlags(args: string[]): Flags {
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  };
  const num = (name: string, fallback?: number) => {
    const v = get(name);
    return v === undefined ? fallback : Number(v);
  };
  return {
    cases: (get("cases") ?? "a,b,c").split(","),
    modes: (get("modes") ?? "unthrottled,shaped").split(","),
    firstByteMs: num("first-byte-ms", 30)!,
    mbps: num("mbps", 50)!,
    bigMb: num("big-mb", 1000)!,
    runs: num("runs", 1)!,
    chunkMb: num("chunk-mb"),
    thresholdMb: num("threshold-mb"),
    gpuxOnly: args.includes("--gpux-only"),
    noPython: args.includes("--no-python"),
  };
}

const MB = 1_000_000;
const ROOT = new URL("..", import.meta.url).pathname;

interface Case {
  name: string;
  repo: string;
  files: Record<string, string | { size: number; seed: number }>;
}

function cases(flags: Flags): Case[] {
  const all: Case[] = [];
  if (flags.cases.includes("a")) {
    all.push({
      name: `a: 1 file of ${flags.bigMb} MB`,
      repo: "bench/one-big",
      files: { "model.onnx_data": { size: flags.bigMb * MB, seed: 1 } },
    });
  }
  if (flags.cases.includes("b")) {
    const files: Case["files"] = {};
    for (let i = 0; i < 50; i++) {
      files[`shards/part-${String(i).padStart(2, "0")}.bin`] = { size: 4 * MB, seed: 100 + i };
    }
    all.push({ name: "b: 50 files of 4 MB", repo: "bench/many-small", files });
  }
  if (flags.cases.includes("c")) {
    // the layout of a transformers.js text model: configs, tokenizer, several ONNX variants
    const json = (o: unknown) => JSON.stringify(o, null, 2);
    all.push({
      name: "c: ONNX repo layout (12 files)",
      repo: "bench/onnx-layout",
      files: {
        "config.json": json({ architectures: ["BertModel"], model_type: "bert", hidden_size: 384 }),
        "tokenizer_config.json": json({ do_lower_case: true, model_max_length: 512 }),
        "special_tokens_map.json": json({ cls_token: "[CLS]", sep_token: "[SEP]" }),
        "tokenizer.json": { size: 700_000, seed: 5 },
        "vocab.txt": { size: 230_000, seed: 6 },
        "README.md": "# bench model\n",
        "onnx/model.onnx": { size: 90 * MB, seed: 7 },
        "onnx/model_fp16.onnx": { size: 45 * MB, seed: 8 },
        "onnx/model_quantized.onnx": { size: 23 * MB, seed: 9 },
        "onnx/model_q4.onnx": { size: 15 * MB, seed: 10 },
        "onnx/model_int8.onnx": { size: 23 * MB, seed: 11 },
        "model.safetensors": { size: 90 * MB, seed: 12 },
      },
    });
  }
  return all;
}

interface Measure {
  seconds: number;
  rssMb: number;
  /** User + system CPU seconds of the process. */
  cpu: number;
}

async function timed(args: string[], env: Record<string, string>): Promise<Measure> {
  const started = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-v", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${args.slice(0, 4).join(" ")} … failed:\n${stderr.slice(-2000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
  const system = Number(/System time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
  return { seconds, rssMb: rss ? Number(rss[1]) / 1024 : NaN, cpu: user + system };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main() {
  const flags = parseFlags(Deno.args);
  const withPython = !flags.gpuxOnly && !flags.noPython;
  if (withPython) console.error(`python huggingface_hub ${await python()}`);
  const hub = await startHubServer();
  const rows: string[][] = [];
  try {
    for (const c of cases(flags)) {
      const repo = hub.addRepo(c.repo);
      repo.commit(c.files);
      const bytes = Object.values(c.files).reduce(
        (sum, f) => sum + (typeof f === "string" ? new TextEncoder().encode(f).length : f.size),
        0,
      );
      for (const mode of flags.modes) {
        hub.setShaping(
          mode === "shaped" ? { firstByteDelayMs: flags.firstByteMs, bytesPerSecond: flags.mbps * MB } : {},
        );
        const results: Record<string, Measure[]> = flags.gpuxOnly
          ? { gpux: [] }
          : { gpux: [], [HF_JS]: [], ...(withPython ? { [HF_PY]: [] } : {}) };
        for (let run = 0; run < flags.runs; run++) {
          // alternate the order, so that neither tool always runs right after the other's clean-up
          const order = run % 2 === 0 ? Object.keys(results) : Object.keys(results).reverse();
          for (const tool of order) {
            const dir = await Deno.makeTempDir({ prefix: "gpux-bench-" });
            const env: Record<string, string> = {
              HF_ENDPOINT: hub.url,
              HF_HUB_CACHE: `${dir}/hub`,
              HF_HOME: `${dir}/home`,
              NO_COLOR: "1",
              DENO_NO_UPDATE_CHECK: "1",
              ...(flags.chunkMb ? { GPUX_PULL_CHUNK_BYTES: String(Math.round(flags.chunkMb * 1024 * 1024)) } : {}),
              ...(flags.thresholdMb
                ? { GPUX_PULL_RANGE_THRESHOLD: String(Math.round(flags.thresholdMb * 1024 * 1024)) }
                : {}),
            };
            try {
              if (tool === HF_PY) {
                // Python follows an LFS redirect only to another host name: the API on localhost, the CDN on 127.0.0.1
                const pyEnv = {
                  ...env,
                  HF_ENDPOINT: hub.url.replace("127.0.0.1", "localhost"),
                  HF_HUB_DISABLE_PROGRESS_BARS: "1",
                  HF_HUB_DISABLE_TELEMETRY: "1",
                  HF_HUB_DISABLE_XET: "1",
                  HOME: dir,
                  PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
                };
                results[tool].push(await timed([PYTHON, "-c", PY_SNAPSHOT, c.repo], pyEnv));
                continue;
              }
              const args = tool === "gpux"
                ? [
                  Deno.execPath(),
                  "run",
                  "--quiet",
                  `--config=${ROOT}deno.json`,
                  ...taskPermissions(env, ["pull", c.repo, "--include", "*", "--quiet"]),
                  `${ROOT}cli.ts`,
                  "pull",
                  c.repo,
                  "--include",
                  "*",
                  "--quiet",
                ]
                : [
                  Deno.execPath(),
                  "run",
                  "--quiet",
                  `--config=${ROOT}deno.json`,
                  "-A",
                  `${ROOT}scripts/bench_pull_hfjs.ts`,
                  c.repo,
                  `${dir}/hub`,
                  hub.url,
                ];
              results[tool].push(await timed(args, env));
            } finally {
              await Deno.remove(dir, { recursive: true });
            }
          }
        }
        const base = flags.gpuxOnly ? NaN : median(results[HF_JS].map((m) => m.seconds));
        const py = withPython ? median(results[HF_PY].map((m) => m.seconds)) : NaN;
        for (const [tool, measures] of Object.entries(results)) {
          const seconds = median(measures.map((m) => m.seconds));
          const rss = Math.max(...measures.map((m) => m.rssMb));
          rows.push([
            c.name,
            mode,
            tool,
            seconds.toFixed(2),
            (bytes / MB / seconds).toFixed(1),
            median(measures.map((m) => m.cpu)).toFixed(2),
            rss.toFixed(0),
            tool === "gpux" ? `${(base / seconds).toFixed(2)}x` : tool === HF_JS ? "1.00x" : "",
            tool === "gpux" && withPython ? `${(py / seconds).toFixed(2)}x` : tool === HF_PY ? "1.00x" : "",
          ]);
        }
        console.error(`done: ${c.name} (${mode})`);
      }
    }
  } finally {
    await hub.close();
  }
  const headers = [
    "case",
    "network",
    "tool",
    "seconds",
    "MB/s",
    "CPU s",
    "peak RSS MB",
    "speed-up vs hf.js",
    "vs python",
  ];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(row));
  console.log(
    `\nshaped = ${flags.firstByteMs} ms before the first byte of every response, ${flags.mbps} MB/s per connection; ` +
      `median of ${flags.runs} run(s); ${Deno.build.os} ${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}`,
  );
}

if (import.meta.main) await main();
