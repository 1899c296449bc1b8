/**
 * `gpux run MODEL --prompt TEXT`: generation from the command line. The answer streams to stdout as it is
 * decoded; a stats line goes to stderr (prompt tokens, new tokens, time to first token, prompt and generation
 * tokens/s, finish reason); `--json` prints one document instead. With a chat template the prompt is the user's
 * message (`--system` adds a system message); `--raw-prompt` feeds it as plain text. Ctrl-C stops the answer:
 * what was generated stays printed, and the exit code is 130.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { ExitCode } from "../errors.ts";
import type { CliContext } from "./context.ts";
import type { Output } from "./output.ts";
import { loadOptions, type RuntimeFlags, warnFallbacks } from "./runtime_flags.ts";
import { loadTextGeneration } from "../generation/load_pipeline.ts";
import type { ChatMessage, Prompt, TextGenerationPipeline } from "../generation/text_generation.ts";
import { generateOptions, type GenerationFlags, generationJson, statsLine } from "./generation_flags.ts";

/** Flags of `run` that a generation reads. */
export interface PromptFlags extends RuntimeFlags, GenerationFlags {
  prompt?: string;
  rawPrompt?: boolean;
  json?: boolean;
}

/** Largest prompt read from stdin (`--prompt -`): far above any context, small enough to never exhaust memory. */
export const PROMPT_STDIN_LIMIT = 8 * 1024 * 1024;

/** Reads `--prompt` (`-` for stdin, read to the end, at most {@linkcode PROMPT_STDIN_LIMIT} bytes). */
async function promptText(value: string): Promise<string> {
  if (value !== "-") return value;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of Deno.stdin.readable) {
    size += chunk.length;
    if (size > PROMPT_STDIN_LIMIT) {
      throw new InputError(`--prompt -: stdin holds more than ${PROMPT_STDIN_LIMIT / 1024 / 1024} MiB`, {
        hint: "a prompt that long cannot fit any model's context: shorten it",
      });
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(bytes).replace(/\r?\n$/, "");
}

/** The variant line on stderr: which file runs and why. */
export function describeModel(out: Output, pipeline: TextGenerationPipeline): void {
  const m = pipeline.session.model;
  const variant = m?.variant ? ` · ${m.variantReason ? `variant ${m.variantReason}` : `variant ${m.variant}`}` : "";
  const template = pipeline.chatTemplate ? "chat template" : "no chat template";
  const context = pipeline.contextLength ? ` · context ${pipeline.contextLength}` : "";
  out.info(out.dim(`${pipeline.session.provider}${variant} · ${template}${context}`));
}

/** Runs `gpux run --prompt`. */
export async function runPrompt(ctx: CliContext, out: Output, model: string, flags: PromptFlags): Promise<void> {
  const started = performance.now();
  const text = await promptText(flags.prompt!);
  const pipeline = await loadTextGeneration(model, loadOptions(ctx, flags, out));
  try {
    warnFallbacks(out, pipeline.session);
    describeModel(out, pipeline);
    const loadMs = performance.now() - started;
    const chat = !flags.rawPrompt && pipeline.chatTemplate !== undefined;
    if (!chat && flags.system !== undefined) {
      throw new InputError(
        flags.rawPrompt
          ? "--system goes with chat mode, not --raw-prompt"
          : "--system needs a chat template, and this model has none",
        { hint: "put the instructions in the prompt itself" },
      );
    }
    if (!chat && flags.templateVar?.length) {
      throw new InputError("--template-var goes with chat mode (a model with a chat template, without --raw-prompt)");
    }
    const prompt: Prompt = chat
      ? [
        ...(flags.system !== undefined ? [{ role: "system", content: flags.system }] : []),
        { role: "user", content: text },
      ] as ChatMessage[]
      : text;
    const stream = pipeline.generate(prompt, generateOptions(flags, ctx.signal));
    let last = "";
    for await (const delta of stream) {
      out.stream(delta);
      last = delta;
    }
    const result = await stream.result;
    if (out.json) {
      out.printJson(generationJson(model, pipeline, result, loadMs));
    } else {
      if (result.text && !last.endsWith("\n")) out.stream("\n");
      out.info(out.dim(statsLine(result, pipeline.session.provider)));
    }
    if (result.finishReason === "cancelled") ctx.exitCode = ExitCode.Interrupted;
  } finally {
    await pipeline.dispose();
  }
}
