/**
 * `gpux run MODEL --audio FILE` for a Whisper model: prints the text; `--timestamps` prints segments
 * (`[00:00:00.000 --> 00:00:02.500]  text`, as whisper.cpp prints them); `--format txt|srt|vtt|json` writes the
 * transcript as whisper.cpp's output files (srt/vtt/json imply timestamps); `--language` (default: detected and
 * reported on stderr), `--task transcribe|translate`; `--json` prints one document per run.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { CliContext } from "./context.ts";
import type { Output } from "./output.ts";
import { loadOptions, type RuntimeFlags } from "./runtime_flags.ts";
import { loadWhisper, type WhisperResult } from "../generation/whisper_transcription.ts";
import {
  formatTimestamp,
  TRANSCRIPT_FORMATS,
  type TranscriptFormat,
  type TranscriptSegment,
  writeTranscript,
} from "../generation/whisper_writers.ts";

/** Flags of `run` that a Whisper transcription reads. */
export interface WhisperFlags extends RuntimeFlags {
  task?: string;
  language?: string;
  timestamps?: boolean;
  format?: string;
  maxNewTokens?: number;
  maxAudioSeconds?: number;
  json?: boolean;
}

/** The Whisper flags given, for "goes with a Whisper model" errors. */
export function whisperOnlyFlags(flags: WhisperFlags): string[] {
  return [
    flags.language !== undefined && "--language",
    flags.timestamps && "--timestamps",
    flags.format !== undefined && "--format",
  ].filter((f): f is string => typeof f === "string");
}

/** `--task` for a Whisper model: `transcribe` (also the pipeline name and the default) or `translate`. */
function whisperTask(task: string | undefined): "transcribe" | "translate" {
  if (task === undefined || task === "automatic-speech-recognition" || task === "transcribe") return "transcribe";
  if (task === "translate") return "translate";
  throw new InputError(`--task ${JSON.stringify(task)}: a Whisper model transcribes or translates`, {
    hint: "use --task transcribe (the default) or --task translate (to English)",
  });
}

function formatArg(value: string | undefined): TranscriptFormat | undefined {
  if (value === undefined) return undefined;
  if ((TRANSCRIPT_FORMATS as readonly string[]).includes(value)) return value as TranscriptFormat;
  throw new InputError(`--format ${JSON.stringify(value)}: expected ${TRANSCRIPT_FORMATS.join(", ")}`, {
    hint: "txt is the text, srt/vtt subtitles, json whisper.cpp's JSON",
  });
}

function resultJson(model: string, name: string, result: WhisperResult) {
  return {
    model,
    task: "automatic-speech-recognition",
    file: name,
    language: result.language,
    ...(result.detected ? { detected_language: result.detected } : {}),
    text: result.text,
    segments: result.segments,
    seconds: result.seconds,
  };
}

/** Runs `gpux run MODEL --audio FILE…` on a Whisper model. */
export async function runWhisper(
  ctx: CliContext,
  out: Output,
  model: string,
  flags: WhisperFlags,
  clips: { bytes: Uint8Array; name: string }[],
): Promise<void> {
  const task = whisperTask(flags.task);
  const format = formatArg(flags.format);
  const timestamps = flags.timestamps === true || (format !== undefined && format !== "txt");
  const whisper = await loadWhisper(model, loadOptions(ctx, flags, out));
  try {
    for (const clip of clips) {
      const result = await whisper.transcribeWav(clip.bytes, clip.name, {
        ...(flags.language !== undefined ? { language: flags.language } : {}),
        task,
        timestamps,
        ...(flags.maxNewTokens !== undefined ? { maxNewTokens: flags.maxNewTokens } : {}),
        ...(flags.maxAudioSeconds !== undefined ? { maxSeconds: flags.maxAudioSeconds } : {}),
      });
      if (result.detected) {
        out.info(
          out.dim(`${clip.name}: detected language ${result.language} (p = ${result.detected.probability.toFixed(2)})`),
        );
      }
      if (out.json) {
        out.printJson(resultJson(model, clip.name, result));
      } else if (format !== undefined) {
        // an unclosed last segment ends with the recording
        const segments: TranscriptSegment[] = timestamps
          ? result.segments.map((s) => ({
            text: s.text,
            timestamp: [s.timestamp[0], s.timestamp[1] ?? result.seconds],
          }))
          : [{ text: result.text, timestamp: [0, result.seconds] }];
        out.stream(writeTranscript(segments, format, { language: result.language }));
      } else if (timestamps) {
        for (const s of result.segments) {
          const end = s.timestamp[1] ?? result.seconds;
          out.stream(`[${formatTimestamp(s.timestamp[0], ".")} --> ${formatTimestamp(end, ".")}]  ${s.text.trim()}\n`);
        }
      } else {
        // as the generation commands: verbatim into a pipe, control characters escaped on a terminal
        out.stream(`${result.text.trim()}\n`);
      }
    }
  } finally {
    await whisper.dispose();
  }
}
