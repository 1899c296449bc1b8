/**
 * `gpux chat MODEL`: an interactive chat in the terminal, like `ollama run`. Answers stream as they are decoded;
 * the conversation is kept, and its KV cache with it, so a new turn only computes what is new. Commands: `/clear`,
 * `/system TEXT`, `/set NAME VALUE` (temperature, top_k, top_p, min_p, repetition_penalty, seed, max_new_tokens),
 * `/bye`, `/?`. Ctrl-C stops the current answer and keeps the session; Ctrl-D on an empty line leaves. With stdin
 * not a terminal, each line is one message (or command) and the answers follow one another on stdout.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { InputError } from "../errors.ts";
import type { CliContext } from "./context.ts";
import type { Output } from "./output.ts";
import { loadOptions, pullOption, warnFallbacks, withRuntimeOptions } from "./runtime_flags.ts";
import { setOrtLogLevel } from "../runtime/session.ts";
import { loadTextGeneration } from "../generation/load_pipeline.ts";
import type { ChatSession, GenerateOptions } from "../generation/text_generation.ts";
import { generateOptions, GENERATION_OPTIONS, parseFormat, statsLine } from "./generation_flags.ts";
import { describeModel } from "./run_prompt.ts";
import { stdinLines, TerminalInput } from "./terminal_input.ts";

const HELP = `Available commands:
  /set NAME VALUE   set a parameter: temperature, top_k, top_p, min_p, repetition_penalty, seed, max_new_tokens
  /set format json  answer in JSON (or: /set format FILE for a JSON schema, /set format text to stop)
  /system TEXT      set the system message (starts the conversation afresh)
  /clear            forget the conversation
  /bye              leave
  /?, /help         this help
Ctrl-C stops an answer; Ctrl-D on an empty line leaves.`;

/** `/set` names → option keys and parsers. */
const SETTABLE: Record<string, { key: keyof GenerateOptions; parse: (v: string) => number }> = {
  temperature: { key: "temperature", parse: (v) => bounded(v, 0, 100) },
  top_k: { key: "topK", parse: (v) => integer(v, 1) },
  top_p: { key: "topP", parse: (v) => bounded(v, Number.MIN_VALUE, 1) },
  min_p: { key: "minP", parse: (v) => bounded(v, 0, 1) },
  repetition_penalty: { key: "repetitionPenalty", parse: (v) => bounded(v, Number.MIN_VALUE, 100) },
  seed: { key: "seed", parse: (v) => integer(v, 0) },
  max_new_tokens: { key: "maxNewTokens", parse: (v) => integer(v, 1) },
};

function bounded(value: string, min: number, max: number): number {
  const n = Number(value);
  if (!value.trim() || !Number.isFinite(n) || n < min || n > max) {
    throw new InputError(`'${value}' is not a number from ${min === Number.MIN_VALUE ? "above 0" : min} to ${max}`);
  }
  return n;
}

function integer(value: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min) throw new InputError(`'${value}' is not a whole number ≥ ${min}`);
  return n;
}

/** `gpux chat`. */
export function chatCommand(ctx: CliContext) {
  const command = new Command("chat")
    .description("Chat with a language model in the terminal: streamed answers, history kept (like ollama run)")
    .argument("<model>", "a model folder, an .onnx file, or a cached Hub id org/name[@rev]")
    .addOption(GENERATION_OPTIONS.system())
    .addOption(GENERATION_OPTIONS.maxNewTokens())
    .addOption(GENERATION_OPTIONS.temperature())
    .addOption(GENERATION_OPTIONS.topK())
    .addOption(GENERATION_OPTIONS.topP())
    .addOption(GENERATION_OPTIONS.minP())
    .addOption(GENERATION_OPTIONS.repetitionPenalty())
    .addOption(GENERATION_OPTIONS.seed())
    .addOption(GENERATION_OPTIONS.stop())
    .addOption(GENERATION_OPTIONS.templateVar())
    .addOption(GENERATION_OPTIONS.truncate())
    .addOption(GENERATION_OPTIONS.keepSpecialTokens())
    .addOption(GENERATION_OPTIONS.format());
  return withRuntimeOptions(command)
    .addOption(pullOption())
    .option("-q, --quiet", "no model line or stats lines on stderr")
    .action(async (model, flags) => {
      const out = ctx.output({ quiet: flags.quiet });
      await setOrtLogLevel("fatal");
      const pipeline = await loadTextGeneration(model, loadOptions(ctx, flags, out));
      try {
        warnFallbacks(out, pipeline.session);
        describeModel(out, pipeline);
        const chat = pipeline.chat({ system: flags.system });
        const options = generateOptions(flags);
        if (Deno.stdin.isTerminal()) await interactive(ctx, out, chat, options);
        else await piped(ctx, out, chat, options);
      } finally {
        await pipeline.dispose();
      }
    });
}

/** Runs a chat command line (`/…`); returns false for `/bye`. */
function command(line: string, chat: ChatSession, options: GenerateOptions, say: (text: string) => void): boolean {
  const [name, ...rest] = line.trim().split(/\s+/);
  const arg = line.trim().slice(name.length).trim();
  switch (name) {
    case "/bye":
    case "/exit":
      return false;
    case "/clear":
      chat.clear();
      say("Cleared session context.");
      return true;
    case "/system":
      chat.setSystem(arg || undefined);
      say(arg ? "Set system message." : "Removed the system message.");
      return true;
    case "/set": {
      if (rest[0] === "format" && rest.length >= 2) {
        try {
          const format = parseFormat(arg.slice("format".length).trim());
          if (format.type === "text") delete options.responseFormat;
          else options.responseFormat = format;
          say(`Set format to '${format.type === "json_schema" ? "schema" : rest[1]}'`);
        } catch (error) {
          say(`error: ${(error as Error).message}`);
        }
        return true;
      }
      const setting = SETTABLE[rest[0] ?? ""];
      if (!setting || rest.length !== 2) {
        say(`Usage: /set NAME VALUE, NAME one of ${Object.keys(SETTABLE).join(", ")}, format`);
        return true;
      }
      try {
        (options as Record<string, unknown>)[setting.key] = setting.parse(rest[1]);
        say(`Set parameter '${rest[0]}' to '${rest[1]}'`);
      } catch (error) {
        say(`error: ${(error as Error).message}`);
      }
      return true;
    }
    case "/?":
    case "/help":
      say(HELP);
      return true;
    default:
      say(`Unknown command '${name}'. Type /? for help`);
      return true;
  }
}

async function interactive(ctx: CliContext, out: Output, chat: ChatSession, options: GenerateOptions): Promise<void> {
  // raw mode: "\n" does not return the carriage, so every line break is written as "\r\n"
  const write = (text: string) => out.stream(text, { rawTerminal: true });
  const input = new TerminalInput((text) => out.stream(text, { rawTerminal: true, verbatim: true }));
  const say = (text: string) => write(`${text}\n`);
  try {
    while (!ctx.signal.aborted) {
      const event = await input.readLine(">>> ");
      if (event.kind === "eof") break;
      if (event.kind === "interrupt") {
        say(out.dim("Use Ctrl + d or /bye to exit."));
        continue;
      }
      const line = event.text;
      if (!line.trim()) continue;
      if (line.trimStart().startsWith("/")) {
        if (!command(line, chat, options, say)) break;
        continue;
      }
      const controller = new AbortController();
      input.onInterrupt = () => controller.abort();
      const stop = () => controller.abort();
      ctx.signal.addEventListener("abort", stop);
      try {
        const stream = chat.send(line, { ...options, signal: controller.signal });
        let last = "";
        for await (const delta of stream) {
          write(delta);
          last = delta;
        }
        const result = await stream.result;
        if (result.finishReason === "cancelled") write(`${last.endsWith("\n") ? "" : "\n"}${out.dim("(stopped)")}\n\n`);
        else write(last.endsWith("\n") ? "\n" : "\n\n");
        if (!out.quiet) out.progress(`${out.dim(statsLine(result))}\r\n`);
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        write(`error: ${error.message}\n`);
      } finally {
        input.onInterrupt = undefined;
        ctx.signal.removeEventListener("abort", stop);
      }
    }
  } finally {
    input.close();
  }
}

async function piped(ctx: CliContext, out: Output, chat: ChatSession, options: GenerateOptions): Promise<void> {
  const say = (text: string) => out.stream(`${text}\n`);
  for await (const line of stdinLines()) {
    if (ctx.signal.aborted) break;
    if (!line.trim()) continue;
    if (line.trimStart().startsWith("/")) {
      if (!command(line, chat, options, say)) break;
      continue;
    }
    const stream = chat.send(line, { ...options, signal: ctx.signal });
    let last = "";
    try {
      for await (const delta of stream) {
        out.stream(delta);
        last = delta;
      }
    } catch (error) {
      // a message that cannot be answered (too long for the context) is reported; the next line still runs
      if (!(error instanceof InputError)) throw error;
      out.error(error.message, error.hint);
      ctx.exitCode = error.exitCode;
      continue;
    }
    const result = await stream.result;
    out.stream(last.endsWith("\n") ? "\n" : "\n\n");
    out.info(out.dim(statsLine(result)));
    if (result.finishReason === "cancelled") break;
  }
}
