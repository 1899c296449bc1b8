/**
 * The flags `gpux run --prompt` and `gpux chat` share: sampling (`--temperature`, `--top-k`, `--top-p`,
 * `--min-p`, `--repetition-penalty`, `--seed`), `--max-new-tokens`, `--stop`, `--template-var`, `--truncate`;
 * their parsing into {@linkcode GenerateOptions}; and the presentation of a generation's numbers (the stats
 * line on stderr, the `--json` document).
 *
 * @module
 */
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { InputError } from "../errors.ts";
import type {
  GenerateOptions,
  GenerationResult,
  ResponseFormat,
  TextGenerationPipeline,
} from "../generation/text_generation.ts";
import { INT_FLAGS, intFlag } from "./int_flag.ts";
import { collect } from "./runtime_flags.ts";
import { modelJson } from "../runtime/run_result.ts";

/** `--num-beams` range. */
export const NUM_BEAMS = { min: 1, max: 64 } as const;

/** `--max-new-tokens` range. */
export const MAX_NEW_TOKENS = { min: 1, max: 1_000_000 } as const;

function numberFlag(min: number, max: number, minOpen = false): (value: string) => number {
  return (value) => {
    const n = /^\s*[+]?(\d+(\.\d*)?|\.\d+)\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isFinite(n) || n > max || (minOpen ? n <= min : n < min)) {
      throw new InvalidArgumentError(`expected a number ${minOpen ? `above ${min}` : `from ${min}`} to ${max}`);
    }
    return n;
  };
}

function seedFlag(value: string): number {
  if (!/^\s*\d{1,15}\s*$/.test(value)) throw new InvalidArgumentError("expected a whole number ≥ 0");
  return Number(value);
}

function truncateFlag(value: string): "left" {
  if (value !== "left") throw new InvalidArgumentError("expected left (drop the prompt's oldest tokens)");
  return value;
}

/**
 * `--format` / `/set format`: `json` (any JSON object), `text` (no constraint), or a JSON schema — a file holding
 * one, or the schema itself when the value starts with `{` — as `ollama run --format` takes them.
 *
 * @throws {InputError} the file cannot be read or is not JSON.
 */
export function parseFormat(value: string): ResponseFormat {
  const v = value.trim();
  if (v === "json") return { type: "json_object" };
  if (v === "text") return { type: "text" };
  let text = v;
  if (!v.startsWith("{")) {
    try {
      text = Deno.readTextFileSync(v);
    } catch (error) {
      throw new InputError(
        `--format ${JSON.stringify(value)}: cannot read the schema file (${(error as Error).name})`,
        {
          hint: "give --format json, or a file holding a JSON schema",
        },
      );
    }
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new InputError(`--format ${JSON.stringify(value)}: the schema is not JSON: ${(error as Error).message}`, {
      hint: 'a schema file holds one JSON object such as {"type": "object", "properties": {...}}',
    });
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw new InputError(`--format ${JSON.stringify(value)}: a JSON schema is an object`);
  }
  return { type: "json_schema", schema: schema as Record<string, unknown> };
}

function formatFlag(value: string): ResponseFormat {
  try {
    return parseFormat(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^--format "[^"]*": /, ""));
  }
}

/** The generation flags' values. */
export interface GenerationFlags {
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  seed?: number;
  stop?: string[];
  templateVar?: string[];
  truncate?: "left";
  system?: string;
  keepSpecialTokens?: boolean;
  numBeams?: number;
  /** `--format`: a parsed format (chat's option), or run's raw string (it also takes Whisper's txt/srt/vtt). */
  format?: ResponseFormat | string;
}

/** The generation options, as commander `Option`s (each command adds them with `.addOption`, keeping the types). */
export const GENERATION_OPTIONS = {
  maxNewTokens: () =>
    new Option(
      "--max-new-tokens <n>",
      "generation: new tokens at most (default generation_config.json, else 256, capped by the context)",
    ).argParser(intFlag("--max-new-tokens", MAX_NEW_TOKENS)),
  temperature: () =>
    new Option("--temperature <t>", "generation: sampling temperature (0 = greedy; a value turns sampling on)")
      .argParser(numberFlag(0, 100)),
  topP: () =>
    new Option("--top-p <p>", "generation: nucleus sampling, keep the likeliest tokens up to mass p in (0, 1]")
      .argParser(numberFlag(0, 1, true)),
  minP: () =>
    new Option("--min-p <p>", "generation: drop tokens below p × the likeliest one's probability, p in [0, 1]")
      .argParser(numberFlag(0, 1)),
  repetitionPenalty: () =>
    new Option("--repetition-penalty <r>", "generation: penalise tokens already in the text (1 = off)")
      .argParser(numberFlag(0, 100, true)),
  seed: () =>
    new Option("--seed <n>", "generation: random seed (the same seed samples the same text)").argParser(seedFlag),
  stop: () =>
    new Option("--stop <text>", "generation: stop at this text, which is not printed (repeatable)").argParser(
      collect,
    ),
  system: () => new Option("--system <text>", "chat: the system message"),
  templateVar: () =>
    new Option("--template-var <k=v>", "chat template variable, e.g. enable_thinking=false (repeatable)")
      .argParser(collect),
  truncate: () =>
    new Option(
      "--truncate <side>",
      "when the prompt and --max-new-tokens exceed the context: left drops the prompt's oldest tokens",
    ).argParser(truncateFlag),
  format: () =>
    new Option(
      "--format <json|file>",
      "generation: answer in JSON (json) or in JSON following the schema in a file, enforced while decoding",
    ).argParser(formatFlag),
  keepSpecialTokens: () =>
    new Option("--keep-special-tokens", "generation: print special tokens such as <|im_end|> (left out by default)"),
  numBeams: () =>
    new Option(
      "--num-beams <n>",
      "encoder-decoder generation: beam search with n beams (1 = greedy; default generation_config.json's num_beams)",
    ).argParser(intFlag("--num-beams", NUM_BEAMS)),
  topK: () =>
    new Option("--top-k <n>", "generation: sample from the k likeliest tokens (1 = greedy)").argParser(
      intFlag("--top-k", INT_FLAGS.topK),
    ),
};

/** Parses `k=v` template variables: `true`/`false`/numbers/JSON become values, anything else a string. */
export function templateVariables(pairs: readonly string[] | undefined): Record<string, unknown> | undefined {
  if (!pairs?.length) return undefined;
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new InputError(`--template-var ${JSON.stringify(pair)}: expected name=value`);
    const name = pair.slice(0, at).trim();
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    out[name] = value;
  }
  return out;
}

/** The {@linkcode GenerateOptions} of the flags. */
export function generateOptions(flags: GenerationFlags, signal?: AbortSignal): GenerateOptions {
  const o: GenerateOptions = {};
  if (flags.maxNewTokens !== undefined) o.maxNewTokens = flags.maxNewTokens;
  if (flags.temperature !== undefined) o.temperature = flags.temperature;
  if (flags.topK !== undefined) o.topK = flags.topK;
  if (flags.topP !== undefined) o.topP = flags.topP;
  if (flags.minP !== undefined) o.minP = flags.minP;
  if (flags.repetitionPenalty !== undefined) o.repetitionPenalty = flags.repetitionPenalty;
  if (flags.seed !== undefined) o.seed = flags.seed;
  if (flags.stop?.length) o.stop = flags.stop;
  if (flags.truncate) o.truncate = flags.truncate;
  if (flags.keepSpecialTokens) o.keepSpecialTokens = true;
  const format = typeof flags.format === "string" ? parseFormat(flags.format) : flags.format;
  if (format && format.type !== "text") o.responseFormat = format;
  const vars = templateVariables(flags.templateVar);
  if (vars) o.templateVariables = vars;
  if (signal) o.signal = signal;
  return o;
}

/** `12 prompt tokens · 40 new · first token 35 ms · prompt 340 tok/s · 52.1 tok/s · stop`, for stderr. */
export function statsLine(result: GenerationResult, provider?: string): string {
  const t = result.timings;
  const u = result.usage;
  const parts = [
    `${u.promptTokens} prompt tokens${u.cachedTokens ? ` (${u.cachedTokens} cached)` : ""}`,
    `${u.generatedTokens} new`,
    `first token ${Math.round(t.timeToFirstTokenMs)} ms`,
    `prompt ${t.promptTokensPerSecond.toFixed(1)} tok/s`,
    `generation ${t.generatedTokensPerSecond.toFixed(1)} tok/s`,
    result.finishReason,
    ...(provider ? [provider] : []),
  ];
  return parts.join(" · ");
}

/** The `--json` document of one generation. */
export function generationJson(
  model: string,
  pipeline: TextGenerationPipeline,
  result: GenerationResult,
  loadMs: number,
) {
  return {
    model: modelJson(model, pipeline.session),
    provider: pipeline.session.provider,
    task: "text-generation",
    ...(pipeline.session.model?.variant ? { variant: pipeline.session.model.variant } : {}),
    ...(pipeline.session.model?.variantReason ? { variantReason: pipeline.session.model.variantReason } : {}),
    text: result.text,
    finishReason: result.finishReason,
    promptIds: result.promptIds,
    generatedIds: result.generatedIds,
    usage: result.usage,
    timings: { loadMs: Math.round(loadMs * 1000) / 1000, ...result.timings },
  };
}
