/**
 * `gpux run MODEL --text …` / `--image FILE` for an encoder-decoder model (translation, summarization,
 * text2text-generation, image-to-text): prints each input's output text on its own line (one input, greedy or
 * sampled, streams as it is decoded), the stats on stderr, or one `--json` document.
 *
 * @module
 */
import type { CliContext } from "./context.ts";
import type { Output } from "./output.ts";
import { ExitCode, InputError } from "../errors.ts";
import { loadSeq2Seq, type Seq2SeqInput, type Seq2SeqOptions } from "../generation/seq2seq_generation.ts";
import { modelJson } from "../runtime/run_result.ts";
import type { MediaFile } from "../processing/task_types.ts";
import type { TaskSource } from "../processing/task_detection.ts";
import { generateOptions, type GenerationFlags, statsLine } from "./generation_flags.ts";
import { loadOptions, warnFallbacks } from "./runtime_flags.ts";
import type { GenerationResult } from "../generation/text_generation.ts";

/** The flags `run_seq2seq` reads. */
export interface Seq2SeqFlags extends GenerationFlags {
  /** `--task`. */
  task?: string;
  /** `--num-beams`. */
  numBeams?: number;
}

/** Runs an encoder-decoder model on texts or images and prints the answers. */
export async function runSeq2Seq(
  ctx: CliContext,
  out: Output,
  model: string,
  flags: Seq2SeqFlags & Parameters<typeof loadOptions>[1],
  input: { texts: string[] } | { images: MediaFile[] },
  task: string,
  taskSource: TaskSource,
): Promise<void> {
  const started = performance.now();
  for (
    const [flag, used] of [["--system", flags.system !== undefined], ["--template-var", !!flags.templateVar?.length], [
      "--truncate",
      !!flags.truncate,
    ]] as const
  ) {
    if (used) {
      throw new InputError(`${flag} goes with --prompt (decoder-only models), not with an encoder-decoder model`);
    }
  }
  const pipeline = await loadSeq2Seq(model, {
    ...loadOptions(ctx, flags, out),
    task,
    taskSource,
  });
  try {
    warnFallbacks(out, pipeline.session);
    const loadMs = performance.now() - started;
    const inputs: Seq2SeqInput[] = "texts" in input
      ? input.texts
      : input.images.map((f) => ({ image: f.bytes, name: f.name }));
    const base = generateOptions(flags, ctx.signal);
    const options: Seq2SeqOptions = {
      ...base,
      ...(flags.numBeams !== undefined ? { numBeams: flags.numBeams } : {}),
    };
    let result;
    const streaming = inputs.length === 1 && !out.json && (options.numBeams ?? pipeline.defaults.numBeams) === 1;
    if (streaming) {
      const stream = pipeline.generate(inputs[0], options);
      let last = "";
      for await (const delta of stream) {
        out.stream(delta);
        last = delta;
      }
      result = await stream.result;
      if (result.text && !last.endsWith("\n")) out.stream("\n");
    } else {
      result = await pipeline.run(inputs, options);
    }
    if (out.json) {
      out.printJson({
        model: modelJson(model, pipeline.session),
        provider: pipeline.session.provider,
        task: pipeline.task,
        taskSource: pipeline.taskSource,
        results: result.sequences.map((s) => ({
          input: s.input,
          text: s.text,
          generatedIds: s.generatedIds,
          finishReason: s.finishReason,
          ...(s.score !== undefined ? { score: s.score } : {}),
        })),
        usage: result.usage,
        timings: { loadMs: Math.round(loadMs * 1000) / 1000, ...result.timings },
      });
    } else {
      if (!streaming) { for (const s of result.sequences) out.stream(`${s.text}\n`); }
      out.info(
        out.dim(`${pipeline.task} · ${statsLine(result as unknown as GenerationResult, pipeline.session.provider)}`),
      );
    }
    if (result.sequences.some((s) => s.finishReason === "cancelled")) ctx.exitCode = ExitCode.Interrupted;
  } finally {
    await pipeline.dispose();
  }
}
