/**
 * The server's metrics in the Prometheus text exposition format (version 0.0.4): counters, gauges and
 * histograms with labels, kept in memory and rendered on each `GET /metrics`. No client library: the
 * format is a few lines of text, and rendering it must stay cheap enough to answer while workers are busy.
 *
 * @module
 */

type Labels = Record<string, string>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function keyOf(labels: Labels): string {
  return JSON.stringify(Object.entries(labels));
}

function num(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isNaN(v) ? "NaN" : String(v);
}

interface Metric {
  render(): string;
}

/** A monotonically increasing count per label set. */
export class Counter implements Metric {
  #values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  /** Adds `by` (default 1) to the series with `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    const key = keyOf(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels, value: by });
  }

  /** The current value of one series (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.#values.get(keyOf(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.#values.values()) lines.push(`${this.name}${labelText(labels)} ${num(value)}`);
    return lines.join("\n");
  }
}

/** A value that goes up and down, per label set; `collect` is called at render time when given. */
export class Gauge implements Metric {
  #values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string, readonly collect?: (gauge: Gauge) => void) {}

  /** Sets the series with `labels` to `value`. */
  set(labels: Labels, value: number): void {
    this.#values.set(keyOf(labels), { labels, value });
  }

  render(): string {
    if (this.collect) {
      // a collected gauge shows what is now: a model unloaded since the last render leaves no series behind
      this.#values.clear();
      this.collect(this);
    }
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const { labels, value } of this.#values.values()) lines.push(`${this.name}${labelText(labels)} ${num(value)}`);
    return lines.join("\n");
  }
}

/** Observations counted into cumulative buckets, per label set. */
export class Histogram implements Metric {
  #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}

  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    const key = keyOf(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { labels, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.#series.values()) {
      this.buckets.forEach((b, i) =>
        lines.push(`${this.name}_bucket${labelText(s.labels, ["le", num(b)])} ${s.counts[i]}`)
      );
      lines.push(`${this.name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** Latency buckets in seconds: 0.5 ms to 30 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Batch-size buckets. */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** Per-model facts the metrics read at render time. */
export interface ModelGaugeSource {
  /** Served name. */
  name: string;
  /** Execution provider. */
  provider: string;
  /** ONNX variant (empty when none). */
  variant: string;
  /** Requests waiting for a worker. */
  queued(): number;
  /** Live workers. */
  workers(): number;
  /** Requests queued or running. */
  inFlight(): number;
}

/** Every metric `gpux serve` exports. */
export class ServerMetrics {
  /** HTTP requests by model, endpoint and status code. */
  readonly requests = new Counter("gpux_requests_total", "HTTP requests by model, endpoint and status code.");
  /** Model runs (one per batch) by model. */
  readonly inferences = new Counter("gpux_inferences_total", "Model runs (a batch counts once) by model.");
  /** Items (requests) answered by a model run, by model. */
  readonly inferenceItems = new Counter("gpux_inference_requests_total", "Requests answered by model runs, by model.");
  /** Requests per model run. */
  readonly batchSize = new Histogram("gpux_batch_size", "Requests stacked into one model run.", BATCH_BUCKETS);
  /** Seconds a request waited for a worker. */
  readonly queueSeconds = new Histogram(
    "gpux_queue_duration_seconds",
    "Seconds a request waited in the queue for a worker.",
    LATENCY_BUCKETS,
  );
  /** Seconds of one model run (as the worker measured it). */
  readonly inferenceSeconds = new Histogram(
    "gpux_inference_duration_seconds",
    "Seconds of one model run inside a worker.",
    LATENCY_BUCKETS,
  );
  /** Seconds from request start to response. */
  readonly requestSeconds = new Histogram(
    "gpux_request_duration_seconds",
    "Seconds from the request's arrival to its response, by model and endpoint.",
    LATENCY_BUCKETS,
  );
  /** Workers replaced after a crash. */
  readonly workerRestarts = new Counter("gpux_worker_restarts_total", "Workers replaced after a crash, by model.");
  /** Generations by model and how they ended (`stop`, `length`, `cancelled`, `error`). */
  readonly generations = new Counter(
    "gpux_generations_total",
    "Text generations by model and finish reason (stop, length, cancelled: the client left or it timed out).",
  );
  /** Tokens generated, by model. */
  readonly generatedTokens = new Counter("gpux_generated_tokens_total", "Tokens generated, by model.");
  /** Prompt tokens read, by model. */
  readonly promptTokens = new Counter("gpux_prompt_tokens_total", "Prompt tokens read by generations, by model.");
  /** Seconds from a generation's dispatch to its first token. */
  readonly timeToFirstToken = new Histogram(
    "gpux_time_to_first_token_seconds",
    "Seconds from a generation's arrival to its first token, by model.",
    LATENCY_BUCKETS,
  );
  #models: ModelGaugeSource[] = [];
  readonly #gauges: Gauge[];

  constructor() {
    this.#gauges = [
      new Gauge("gpux_queue_depth", "Requests waiting for a worker, by model.", (g) => {
        for (const m of this.#models) g.set({ model: m.name }, m.queued());
      }),
      new Gauge("gpux_requests_in_flight", "Requests queued or running, by model.", (g) => {
        for (const m of this.#models) g.set({ model: m.name }, m.inFlight());
      }),
      new Gauge("gpux_workers", "Live workers, by model.", (g) => {
        for (const m of this.#models) g.set({ model: m.name }, m.workers());
      }),
      new Gauge("gpux_model_loaded", "1 per loaded model, with its provider and variant.", (g) => {
        for (const m of this.#models) g.set({ model: m.name, provider: m.provider, variant: m.variant }, 1);
      }),
      new Gauge("gpux_process_resident_memory_bytes", "Resident set size of the server process.", (g) => {
        g.set({}, Deno.memoryUsage().rss);
      }),
      new Gauge("gpux_process_heap_used_bytes", "V8 heap in use on the server's main thread.", (g) => {
        g.set({}, Deno.memoryUsage().heapUsed);
      }),
    ];
  }

  /** Adds a gauge of the server's own (the memory budget's), rendered after the built-in ones. */
  addGauge(gauge: Gauge): void {
    this.#gauges.push(gauge);
  }

  /** Adds a loaded model to the gauges. */
  addModel(model: ModelGaugeSource): void {
    this.#models.push(model);
  }

  /** Takes an unloaded model out of the gauges (its counters stay). */
  removeModel(name: string): void {
    this.#models = this.#models.filter((m) => m.name !== name);
  }

  /** The whole exposition, ending with a newline. */
  render(): string {
    const all: Metric[] = [
      this.requests,
      this.inferences,
      this.inferenceItems,
      this.batchSize,
      this.queueSeconds,
      this.inferenceSeconds,
      this.requestSeconds,
      this.workerRestarts,
      this.generations,
      this.generatedTokens,
      this.promptTokens,
      this.timeToFirstToken,
      ...this.#gauges,
    ];
    return all.map((m) => m.render()).join("\n") + "\n";
  }
}

/** One sample of a parsed exposition. */
export interface Sample {
  /** Metric name (with `_bucket`, `_sum`, `_count` suffixes for histograms). */
  name: string;
  /** Its labels. */
  labels: Record<string, string>;
  /** Its value. */
  value: number;
}

/**
 * Parses the text format back into samples (comments skipped). Used by tests and `bench:serve`; throws on a
 * line that is not `name{labels} value`.
 */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/);
    if (!m) throw new SyntaxError(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => c === "n" ? "\n" : c);
      }
    }
    const v = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
    if (Number.isNaN(v) && m[4] !== "NaN") throw new SyntaxError(`bad sample value: ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels, value: v });
  }
  return samples;
}
