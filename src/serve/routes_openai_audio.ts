/**
 * OpenAI's speech endpoints for a served Whisper model, as the `openai` SDKs call them:
 * `POST /v1/audio/transcriptions` and `POST /v1/audio/translations` (to English). A multipart upload: `file` (a WAV
 * file), `model`, `language`, `response_format` (`json`, `text`, `srt`, `vtt`, `verbose_json` with segments),
 * `timestamp_granularities[]=segment`, `temperature` 0, and gpux's `max_new_tokens` (per 30-second window). The
 * upload is bounded by the body limit (`--max-body-mb`) and the clip by `--max-audio-seconds` (from its header,
 * before anything is decoded). Fields gpux cannot honour (`prompt`, `temperature` above 0, word timestamps,
 * `stream`) answer 400 saying so; errors are OpenAI's `{"error": {"message", "type", "param", "code"}}`.
 *
 * @module
 */
import { type TranscriptSegment, writeTranscript } from "../generation/whisper_writers.ts";
import type { WhisperSegment } from "../generation/whisper_segments.ts";
import type { WindowStats } from "../generation/whisper_transcription.ts";
import { deferredEncoderDecoder, encoderDecoderCost, encoderDecoderOf } from "./encoder_decoder_request.ts";
import type { GenerationAnswer } from "./generation_pool.ts";
import { errorBody } from "./error_shapes.ts";
import { bodyCost } from "./memory_budget.ts";
import { checkRawMedia } from "./request_limits.ts";
import { type Fields, namedModel, notSupportedYet } from "./request_fields.ts";
import type { Handled, Route, RouteContext } from "./route_table.ts";
import { BadRequestError, httpStatusOf, InvalidFieldError } from "./serve_errors.ts";
import { whisperLanguageName } from "../vocabulary/whisper_languages.ts";

/** The `response_format`s of OpenAI's speech endpoints. */
export const AUDIO_RESPONSE_FORMATS = ["json", "text", "srt", "vtt", "verbose_json"] as const;
type AudioResponseFormat = typeof AUDIO_RESPONSE_FORMATS[number];

/** Fields OpenAI's endpoints take that gpux cannot honour: refused, never ignored. */
const UNSUPPORTED: Record<string, string> = {
  chunking_strategy: "Whisper's 30-second windows are fixed",
  "include[]": "token log-probabilities are not reported",
  known_speaker_names: "no diarization",
  "known_speaker_names[]": "no diarization",
  "known_speaker_references[]": "no diarization",
};

/** The multipart form, read under the body limit. @throws {BadRequestError} not multipart, or malformed. */
async function readForm({ request, state, endpoint }: RouteContext): Promise<FormData> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(type)) {
    throw new BadRequestError(
      `the body must be multipart/form-data (an upload with "file" and "model"), not ${
        type ? JSON.stringify(type.split(";")[0]) : "untyped"
      }`,
    );
  }
  const bytes = await state.bodyBytes(request, endpoint);
  try {
    return await new Response(bytes, { headers: { "content-type": type } }).formData();
  } catch (error) {
    throw new BadRequestError(`the multipart body could not be read: ${(error as Error).message}`);
  }
}

function text(form: FormData, name: string): string | undefined {
  const v = form.get(name);
  if (v === null) return undefined;
  if (typeof v !== "string") throw new InvalidFieldError(name, `${name} must be a text field, not a file`);
  return v;
}

function number(form: FormData, name: string): number | undefined {
  const v = text(form, name);
  if (v === undefined || v.trim() === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidFieldError(name, `${name} must be a number, not ${JSON.stringify(v)}`);
  return n;
}

/** A decoded window as the worker reports it for `verbose_json`. */
interface StatsWindow {
  start: number;
  stride: [number, number, number];
  stats?: WindowStats;
}

/**
 * A segment as OpenAI's `verbose_json` lists it: `seek` (the 10 ms frame its window starts at), its text's token ids,
 * and its window's `avg_logprob`, `compression_ratio` and `no_speech_prob` (the window whose own part, between its
 * strides, holds the segment's start). An unclosed last segment ends with the recording.
 */
function verboseSegment(s: TranscriptSegment & { tokens?: number[] }, id: number, windows: StatsWindow[]) {
  let window = windows[0];
  const start = s.timestamp[0] ?? 0;
  for (const w of windows) if (w.start + w.stride[1] <= start + 1e-9) window = w;
  return {
    id,
    seek: Math.round((window?.start ?? 0) * 100),
    start: s.timestamp[0],
    end: s.timestamp[1],
    text: s.text,
    tokens: s.tokens ?? [],
    temperature: 0,
    avg_logprob: window?.stats?.avgLogprob ?? 0,
    compression_ratio: window?.stats?.compressionRatio ?? 0,
    no_speech_prob: window?.stats?.noSpeechProb ?? 0,
  };
}

function closed(
  segments: (WhisperSegment & { tokens?: number[] })[],
  seconds: number,
): (TranscriptSegment & { tokens?: number[] })[] {
  return segments.map((s) => ({ ...s, timestamp: [s.timestamp[0], s.timestamp[1] ?? seconds] }));
}

async function speech(ctx: RouteContext, task: "transcribe" | "translate"): Promise<Handled> {
  const { state, endpoint } = ctx;
  const form = await readForm(ctx);
  const m = await namedModel(state, { model: text(form, "model") } as Fields, endpoint);
  const pool = encoderDecoderOf(m);
  if (!pool || pool.loaded.task !== "automatic-speech-recognition") {
    throw new InvalidFieldError(
      "model",
      `model ${JSON.stringify(m.name)} does not transcribe speech (its task is ${m.pool.loaded.task ?? "unknown"})`,
      { hint: "serve a Whisper model (an encoder-decoder export in optimum's layout)" },
    );
  }
  const file = form.get("file");
  if (!(file instanceof File)) throw new InvalidFieldError("file", "file is required: the audio file to transcribe");
  for (const [name, why] of Object.entries(UNSUPPORTED)) if (form.has(name)) notSupportedYet(name, why);
  if ((text(form, "prompt") ?? "") !== "") notSupportedYet("prompt", "Whisper's previous-text prompt");
  if (text(form, "stream") === "true") notSupportedYet("stream", "the transcript is answered whole");
  const temperature = number(form, "temperature");
  if (temperature !== undefined && temperature !== 0) {
    notSupportedYet("temperature", "Whisper is decoded greedily here: temperature 0");
  }
  const format = (text(form, "response_format") ?? "json") as AudioResponseFormat;
  if (!AUDIO_RESPONSE_FORMATS.includes(format)) {
    throw new InvalidFieldError(
      "response_format",
      `response_format must be one of ${AUDIO_RESPONSE_FORMATS.join(", ")}, not ${JSON.stringify(format)}`,
    );
  }
  const granularities = form.getAll("timestamp_granularities[]").concat(form.getAll("timestamp_granularities"));
  for (const g of granularities) {
    if (g === "word") notSupportedYet("timestamp_granularities[]", "word timestamps; segment timestamps are");
    if (g !== "segment") {
      throw new InvalidFieldError("timestamp_granularities[]", `timestamp_granularities[] takes segment, not ${g}`);
    }
  }
  const language = text(form, "language");
  const maxTokens = number(form, "max_new_tokens");
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > state.maxTokensLimit)) {
    throw new InvalidFieldError(
      "max_new_tokens",
      `max_new_tokens must be a whole number from 1 to the server's limit of ${state.maxTokensLimit}`,
    );
  }
  const clip = { name: file.name || "file", bytes: new Uint8Array(await file.arrayBuffer()) };
  checkRawMedia({ kind: "audio", clips: [clip] }, state.limits);
  const input = { kind: "audio" as const, clip };
  endpoint.reservation?.resize(bodyCost(clip.bytes.length) + encoderDecoderCost(input));
  const timestamps = format === "srt" || format === "vtt" || format === "verbose_json" || granularities.length > 0;
  const job = {
    input,
    params: {
      task,
      timestamps,
      ...(format === "verbose_json" ? { stats: true } : {}),
      ...(language && task === "transcribe" ? { language } : {}),
      ...(maxTokens !== undefined ? { maxNewTokens: maxTokens } : {}),
    },
  };
  const type = format === "json" || format === "verbose_json"
    ? "application/json"
    : format === "vtt"
    ? "text/vtt; charset=utf-8"
    : "text/plain; charset=utf-8";
  const stream = await deferredEncoderDecoder(
    state,
    m,
    pool,
    job,
    (answer) => speechBody(answer, format, task),
    (error) => JSON.stringify(errorBody("openai", error, httpStatusOf(error))),
  );
  return { model: m.name, body: undefined, stream, headers: { "content-type": type } };
}

/** The answer in `format`. */
function speechBody(answer: GenerationAnswer, format: AudioResponseFormat, task: string): string {
  const r = answer.result as {
    text: string;
    language: string;
    segments: (WhisperSegment & { tokens?: number[] })[];
    seconds: number;
    windows?: StatsWindow[];
  };
  const segments = closed(r.segments, r.seconds);
  const usage = { type: "duration", seconds: Math.ceil(r.seconds) };
  switch (format) {
    case "text":
      return `${r.text.trim()}\n`;
    case "srt":
    case "vtt":
      return writeTranscript(segments, format);
    case "verbose_json":
      return JSON.stringify({
        task,
        language: whisperLanguageName(r.language), // OpenAI answers the name: "english"
        duration: r.seconds,
        text: r.text,
        segments: segments.map((s, i) => verboseSegment(s, i, r.windows ?? [])),
        usage,
      });
    default:
      return JSON.stringify({ text: r.text, usage });
  }
}

/** `POST /v1/audio/transcriptions`: speech to text in its own language (given or detected). */
export function transcriptionsHandler(ctx: RouteContext): Promise<Handled> {
  return speech(ctx, "transcribe");
}

/** `POST /v1/audio/translations`: speech to English text. */
export function translationsHandler(ctx: RouteContext): Promise<Handled> {
  return speech(ctx, "translate");
}

/** OpenAI's speech routes. */
export const OPENAI_AUDIO_ROUTES: Route[] = [
  {
    method: "POST",
    pattern: "/v1/audio/transcriptions",
    name: "audio_transcriptions",
    api: "openai",
    handler: transcriptionsHandler,
  },
  {
    method: "POST",
    pattern: "/v1/audio/translations",
    name: "audio_translations",
    api: "openai",
    handler: translationsHandler,
  },
];
