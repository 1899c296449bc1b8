/**
 * Flags and presentation shared by the runtime commands (run, inspect, bench, chat, serve, init): the runtime
 * flags declared once ({@linkcode withRuntimeOptions}: provider, device, variant, cache, graph optimisation,
 * threads) and `--pull`, model and provider options, reading `--input`/`--file`/`--input-npy`, writing `--output`, and the one-line
 * provider fallback warning.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option, type OptionValues } from "@commander-js/extra-typings";
import { INT_FLAGS, intFlag } from "./int_flag.ts";
import { InputError } from "../errors.ts";
import { readBounded } from "../bounded_read.ts";
import { fileErrorReason, isAccessDenied, SANDBOX_WRITE_HINT } from "../file_errors.ts";
import { SandboxError } from "./sandbox.ts";
import { dirname } from "node:path";
import type { CliContext } from "./context.ts";
import { formatDuration, type Output } from "./output.ts";
import { HuggingFaceManager } from "../registry/huggingface.ts";
import { configMismatches } from "../config/gpux_config.ts";
import { isProviderChoice, PROVIDER_NAMES, type ProviderChoice } from "../runtime/providers.ts";
import type { LoadModelOptions } from "../runtime/load_model.ts";
import type { GpuxSession, GraphOptimizationLevel } from "../runtime/session.ts";
import type { PullFunction } from "../runtime/model_source.ts";
import { feedsFromJson, quoteName, type TensorInfo, type TensorMap, tensorsToJson } from "../runtime/tensors.ts";
import { readNpy, writeNpy } from "../runtime/npy.ts";
import { detectGpu } from "../runtime/gpu_presence.ts";
import { parseShapeArg } from "../runtime/synthetic_inputs.ts";
export { fallbacksJson, modelJson } from "../runtime/run_result.ts";

/** `--provider` help text. */
export const PROVIDER_HELP = `execution provider: auto|${
  PROVIDER_NAMES.join("|")
} (default: gpux.yml runtime.gpu.backend, else auto)`;

/** Parses `--provider`. */
export function providerArg(value: string): ProviderChoice {
  if (!isProviderChoice(value)) throw new InvalidArgumentError(`expected auto or one of ${PROVIDER_NAMES.join(", ")}`);
  return value;
}

/** Parses `--graph-optimization`. */
export function graphOptArg(value: string): GraphOptimizationLevel {
  if (!["disabled", "basic", "extended", "all"].includes(value)) {
    throw new InvalidArgumentError("expected disabled, basic, extended or all");
  }
  return value as GraphOptimizationLevel;
}

/** Accumulates a repeatable flag. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parses repeatable `--shape name=1x3x224x224` flags. */
export function shapesArg(values: string[] | undefined): Record<string, number[]> | undefined {
  if (!values?.length) return undefined;
  return Object.fromEntries(values.map(parseShapeArg));
}

/**
 * The runtime flags, declared once with their help text: every command that loads a model (run, inspect, bench,
 * chat, serve) adds all of them through {@linkcode withRuntimeOptions}, so they read and parse alike everywhere.
 */
export const RUNTIME_OPTIONS = {
  /** `-p, --provider`. */
  provider: () => new Option("-p, --provider <name>", PROVIDER_HELP).argParser(providerArg),
  /** `--device-id`. */
  deviceId: () =>
    new Option("--device-id <n>", "GPU index for cuda/tensorrt/dml").argParser(
      intFlag("--device-id", INT_FLAGS.deviceId),
    ),
  /** `--variant`. */
  variant: () => new Option("--variant <name>", "ONNX variant of a Hub model or folder (fp32, fp16, q4, quantized, …)"),
  /** `--cache-dir`. */
  cacheDir: () => new Option("--cache-dir <dir>", "Hub cache directory (default HF_HUB_CACHE or $HF_HOME/hub)"),
  /** `--graph-optimization`. */
  graphOptimization: () =>
    new Option("--graph-optimization <level>", "disabled|basic|extended|all (default all)").argParser(graphOptArg),
  /** `--intra-op-threads`. */
  intraOpThreads: () =>
    new Option(
      "--intra-op-threads <n>",
      "threads inside one operator (default: the cores; serve: per worker, default cores / workers)",
    ).argParser(intFlag("--intra-op-threads", INT_FLAGS.threads)),
  /** `--inter-op-threads`. */
  interOpThreads: () =>
    new Option("--inter-op-threads <n>", "threads across operators (serve: per worker)").argParser(
      intFlag("--inter-op-threads", INT_FLAGS.threads),
    ),
} as const;

/** The values of the runtime flags as commander parses them (see {@linkcode RUNTIME_OPTIONS}). */
export interface RuntimeOptionValues {
  /** `--provider`. */
  provider?: ProviderChoice;
  /** `--device-id`. */
  deviceId?: number;
  /** `--variant`. */
  variant?: string;
  /** `--cache-dir`. */
  cacheDir?: string;
  /** `--graph-optimization`. */
  graphOptimization?: GraphOptimizationLevel;
  /** `--intra-op-threads`. */
  intraOpThreads?: number;
  /** `--inter-op-threads`. */
  interOpThreads?: number;
}

/**
 * Adds every runtime flag ({@linkcode RUNTIME_OPTIONS}) to `command`, in one order, where the command's chain
 * calls it (the flags' place in `--help`). The result is typed with {@linkcode RuntimeOptionValues} directly:
 * letting the compiler infer seven chained `addOption` steps over a generic command made type-checking all of
 * src/ take minutes; tests/runtime_flags_test.ts checks the parsed values.
 */
export function withRuntimeOptions<Args extends unknown[], Opts extends OptionValues, Globals extends OptionValues>(
  command: Command<Args, Opts, Globals>,
): Command<Args, Opts & RuntimeOptionValues, Globals> {
  for (const make of Object.values(RUNTIME_OPTIONS)) command.addOption(make());
  return command as unknown as Command<Args, Opts & RuntimeOptionValues, Globals>;
}

/**
 * `--pull`: the commands that load one model (run, inspect, bench, chat) may pull a Hub id that is not cached
 * yet; serve has `--allow-pull` for its own API instead.
 */
export function pullOption(): Option<"--pull", undefined, undefined, undefined, false, undefined> {
  return new Option("--pull", "pull a Hub model that is not cached yet");
}

/** Flags every runtime command shares. */
export interface RuntimeFlags extends RuntimeOptionValues {
  /** `--pull`. */
  pull?: boolean;
}

/**
 * `--pull`: pulls a Hub id that is not cached through the registry's `HuggingFaceManager.pullModel`
 * (progress and retries on stderr), into the same cache directory that resolution then reads.
 */
function pullFunction(ctx: CliContext, flags: RuntimeFlags, out: Output): PullFunction {
  return async (id, options) => {
    out.info(`pulling ${id}${options.revision ? `@${options.revision}` : ""} (not in the cache)…`);
    const hub = new HuggingFaceManager({
      env: ctx.env,
      ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
      onRetry: (info) => out.info(`retrying in ${formatDuration(info.delayMs / 1000)} (${info.reason})`),
    });
    await hub.pullModel(id, {
      ...(options.revision ? { revision: options.revision } : {}),
      ...(options.variant ? { variant: options.variant } : {}),
      signal: options.signal,
    });
  };
}

/** {@linkcode LoadModelOptions} from the shared flags. */
export function loadOptions(ctx: CliContext, flags: RuntimeFlags, out?: Output): LoadModelOptions {
  const options: LoadModelOptions = { env: ctx.env, signal: ctx.signal };
  if (flags.provider) options.provider = flags.provider;
  if (flags.deviceId !== undefined) options.deviceId = flags.deviceId;
  if (flags.graphOptimization) options.graphOptimizationLevel = flags.graphOptimization;
  if (flags.intraOpThreads !== undefined) options.intraOpThreads = flags.intraOpThreads;
  if (flags.interOpThreads !== undefined) options.interOpThreads = flags.interOpThreads;
  if (flags.variant) options.variant = flags.variant;
  if (flags.cacheDir) options.cacheDir = flags.cacheDir;
  if (flags.pull) options.pull = pullFunction(ctx, flags, out ?? ctx.output({}));
  return options;
}

/**
 * The one warning line for a provider fallback, and one line per disagreement between gpux.yml's
 * inputs/outputs and the model. Nothing with `--quiet` (errors only). The fallback is warned about only when a
 * GPU is present (a driver or device found) and its provider could not load: on a machine without a GPU, cpu
 * is the only choice, not a fallback; `--json` and `gpux doctor` still give the details.
 */
export function warnFallbacks(out: Output, session: GpuxSession): void {
  if (out.quiet) return;
  const config = session.model?.config;
  if (config) { for (const problem of configMismatches(config, session)) out.warn(problem); }
  if (!session.fallbacks.length || !detectGpu().present) return;
  const why = session.fallbacks.map((f) => `${f.provider} unavailable (${f.reason})`).join("; ");
  out.warn(`running on ${session.provider}: ${why}`);
}

/** Input flags of run and bench. */
export interface InputFlags {
  input?: string;
  file?: string;
  inputNpy?: string[];
  /** `--max-input-mb`: the largest `--file` / `--input-npy` read. */
  maxInputMb?: number;
}

/** Splits `name=path` where `name` is one of `names` (names may contain `=`). */
export function splitNamed(value: string, names: readonly string[], flag: string): [string, string] {
  const match = names.filter((n) => value.startsWith(`${n}=`)).sort((a, b) => b.length - a.length)[0];
  if (match === undefined) {
    throw new InputError(
      `${flag} ${JSON.stringify(value)}: expected NAME=PATH with NAME one of ${names.map(quoteName).join(", ")}`,
      {
        hint: flag === "--output"
          ? "a file whose name has '=' in it is given with its folder, e.g. ./a=b.npy"
          : `e.g. ${flag} ${quoteName(names[0] ?? "x")}=./input.npy (gpux inspect MODEL lists the names)`,
      },
    );
  }
  return [match, value.slice(match.length + 1)];
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8 quotes the start of the text ("hf_abcdef"...): never echo input back, it may be a token file
    const reason = (error as Error).message.replace(/,? ".*?"(\.\.\.)? is not valid JSON$/s, "");
    throw new InputError(`${what} is not valid JSON: ${reason}`, {
      hint:
        `e.g. --input '{"x": [[1, 2, 3]]}' (keys are input names; values nested arrays or {"data", "shape", "dtype"})`,
    });
  }
}

/** Default of `--max-input-mb`: the largest input file `gpux run` reads (an image, a WAV, JSON, `.npy`), MiB. */
export const DEFAULT_MAX_INPUT_MB = 256;

/** A JSON input is never read beyond 512 MiB, whatever `--max-input-mb` says: a JavaScript string's limit. */
const MAX_JSON_BYTES = 512 * 1024 * 1024;

/** `--max-input-mb` (or its default) in bytes. */
export function inputBytesLimit(maxInputMb: number | undefined): number {
  return (maxInputMb ?? DEFAULT_MAX_INPUT_MB) * 1024 * 1024;
}

/**
 * Reads an input file the user named (`-` = stdin), at most `maxBytes`: a directory, a device or FIFO
 * (`/dev/zero`), an unreadable file or a refused path is an {@linkcode InputError} naming the flag and the path;
 * Ctrl-C / SIGTERM (`signal`) stops it at once.
 */
function readInputFile(path: string, flag: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
  return readBounded(path, {
    maxBytes,
    label: `${flag} ${path}`,
    signal,
    allowStdin: true,
    tooBigHint: "raise the limit with --max-input-mb, or run a model on inputs this large from the library (loadModel)",
  });
}

async function readText(path: string, flag: string, maxBytes: number, signal?: AbortSignal): Promise<string> {
  const bytes = await readInputFile(path, flag, Math.min(maxBytes, MAX_JSON_BYTES), signal);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(`${flag} ${path}: not UTF-8 text`, { hint: "--file takes a JSON document" });
  }
}

/**
 * Reads feeds from `--input` JSON, `--file input.json` (`-` for stdin) and `--input-npy name=path`,
 * checked against the model's inputs. `undefined` when no input flag was given.
 *
 * @throws {InputError} malformed JSON, an unreadable file, or feeds that do not match the inputs.
 */
export async function readFeeds(
  flags: InputFlags,
  inputs: readonly TensorInfo[],
  signal?: AbortSignal,
): Promise<TensorMap | undefined> {
  const maxBytes = inputBytesLimit(flags.maxInputMb);
  if (flags.input !== undefined && flags.file !== undefined) {
    throw new InputError("give either --input or --file, not both", {
      hint: "put every input in one JSON document: inline with --input, or in a file with --file",
    });
  }
  let json: unknown;
  if (flags.input !== undefined) json = parseJson(flags.input, "--input");
  if (flags.file !== undefined) {
    json = parseJson(await readText(flags.file, "--file", maxBytes, signal), `--file ${flags.file}`);
  }
  const npy: TensorMap = {};
  for (const value of flags.inputNpy ?? []) {
    const [name, path] = splitNamed(value, inputs.map((i) => i.name), "--input-npy");
    const bytes = await readInputFile(path, `--input-npy ${quoteName(name)}`, maxBytes, signal);
    npy[name] = readNpy(bytes, path);
  }
  if (json === undefined && Object.keys(npy).length === 0) return undefined;
  if (Object.keys(npy).length === 0) return feedsFromJson(json, inputs);
  // npy tensors merged into the JSON ones: convert the JSON part without the npy names
  const obj = json === undefined ? {} : json;
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new InputError("with --input-npy, --input/--file must be a JSON object {name: value}", {
      hint: `e.g. --input '{"other_input": [[1, 2]]}' beside --input-npy NAME=file.npy`,
    });
  }
  const both = Object.keys(npy).filter((n) => n in obj);
  if (both.length) {
    throw new InputError(`input ${both.map(quoteName).join(", ")} given both as JSON and as --input-npy`, {
      hint: "give each input once: drop it from the JSON or drop its --input-npy",
    });
  }
  const jsonInputs = inputs.filter((i) => !(i.name in npy));
  const feeds = { ...feedsFromJson(obj, jsonInputs), ...npy };
  return feeds;
}

/**
 * Writes outputs for `--output`: `out.json` (every output, in the `--input` format, so it can feed
 * another model), `out.npy` (the only output), or `name=out.npy` (one named output). Repeatable.
 *
 * @returns the files written.
 */
export async function writeOutputs(
  specs: readonly string[],
  outputs: TensorMap,
  order: readonly string[],
): Promise<string[]> {
  const written: string[] = [];
  const plan: { path: string; bytes: Uint8Array }[] = [];
  for (const spec of specs) {
    // NAME=path: a name the model has, or anything before a '=' that precedes every '/' (a file name
    // with '=' in it is written as ./a=b.npy)
    const eq = spec.indexOf("=");
    const named = order.some((n) => spec.startsWith(`${n}=`)) || (eq > 0 && !spec.slice(0, eq).includes("/"));
    if (named) {
      const [name, path] = splitNamed(spec, order, "--output");
      if (!path.toLowerCase().endsWith(".npy")) {
        throw new InputError(`--output ${JSON.stringify(spec)}: a single named output is written as .npy`, {
          hint: "name the file NAME=out.npy, or write every output with --output out.json",
        });
      }
      plan.push({ path, bytes: writeNpy(outputs[name]) });
    } else if (spec.toLowerCase().endsWith(".npy")) {
      if (order.length !== 1) {
        throw new InputError(
          `--output ${spec}: the model has ${order.length} outputs and an .npy file holds one`,
          {
            hint: `use --output NAME=${spec} with NAME one of ${order.map(quoteName).join(", ")}, or --output out.json`,
          },
        );
      }
      plan.push({ path: spec, bytes: writeNpy(outputs[order[0]]) });
    } else if (spec.toLowerCase().endsWith(".json")) {
      const ordered: TensorMap = {};
      for (const name of order) ordered[name] = outputs[name];
      plan.push({ path: spec, bytes: new TextEncoder().encode(JSON.stringify(tensorsToJson(ordered)) + "\n") });
    } else {
      throw new InputError(`--output ${spec}: expected a .json or .npy file name (or NAME=file.npy)`, {
        hint: "e.g. --output out.json (every output) or --output out.npy (a single output)",
      });
    }
  }
  for (const { path, bytes } of plan) {
    await writeWhole(path, bytes, "--output");
    written.push(path);
  }
  return written;
}

/**
 * Writes `bytes` to `path` whole or not at all (a temporary file beside it, then a rename). A missing
 * folder, a directory in the way, a refused or read-only place is an {@linkcode InputError} naming the
 * flag and the path (a write the sandbox refuses: a {@linkcode SandboxError}, exit 6); the temporary file is removed.
 */
export async function writeWhole(path: string, bytes: Uint8Array, flag: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeFile(tmp, bytes, { createNew: true });
    await Deno.rename(tmp, path); // nothing half-written
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    const folder = dirname(path);
    const missingFolder = error instanceof Deno.errors.NotFound;
    if (error instanceof Deno.errors.NotCapable) {
      // the sandbox, not the user's input: exit 6 like every refused path
      throw new SandboxError(`${flag} ${path}: cannot write it: ${fileErrorReason(error)}`, {
        cause: error,
        hint: SANDBOX_WRITE_HINT,
      });
    }
    throw new InputError(
      `${flag} ${path}: cannot write it: ${
        missingFolder ? `the folder ${folder} does not exist` : fileErrorReason(error)
      }`,
      {
        hint: error instanceof Deno.errors.NotCapable
          ? SANDBOX_WRITE_HINT
          : missingFolder
          ? `create ${folder} first, or write somewhere that exists`
          : isAccessDenied(error)
          ? "choose a folder you can write to"
          : "choose another path",
      },
    );
  }
}
