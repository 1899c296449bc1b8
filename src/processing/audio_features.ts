/**
 * Audio clips → a waveform model's inputs, as transformers' Wav2Vec2FeatureExtractor does: decode the
 * WAV, mix to mono, resample to the model's `sampling_rate`, normalize each clip to zero mean and unit
 * variance when `do_normalize` says so, pad the batch to its longest clip with `padding_value`, and give
 * an `attention_mask` when the model takes one. Shared by audio-classification and speech recognition.
 *
 * Settings come from preprocessor_config.json (`sampling_rate`, `do_normalize`, `padding_value`,
 * `feature_size`), else gpux.yml `preprocessing.sampling_rate`. A WhisperFeatureExtractor gets its
 * log-mel spectrogram ({@linkcode logMelSpectrogram}) as `input_features`; the Kaldi filter-bank extractors
 * (Audio Spectrogram Transformer, Speech2Text) are refused by name.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorData, TensorInfo } from "../runtime/tensors.ts";
import { type LogMelSpec, logMelSpecFromConfig, logMelSpectrogram } from "./audio_log_mel.ts";
import { normalizeZeroMeanUnitVariance, resample } from "./audio_resample.ts";
import { checkSamplingRate, decodeWav, DEFAULT_MAX_AUDIO_SECONDS, mixToMono } from "./audio_wav.ts";
import type { AudioInput, PipelineContext } from "./task_types.ts";

/** How clips become a tensor: the waveform itself, or (Whisper) a log-mel spectrogram. */
export interface AudioSpec {
  /** Rate the model expects, Hz. */
  samplingRate: number;
  /** Whisper-style log-mel features (`input_features` [batch, bands, frames]) instead of the waveform. */
  logMel?: LogMelSpec;
  /** Zero-mean unit-variance normalization per clip. */
  normalize: boolean;
  /** Value used to pad shorter clips of a batch. */
  paddingValue: number;
}

/** What an audio task keeps between runs. */
export interface AudioTaskState {
  /** Feature settings. */
  spec: AudioSpec;
  /** The input taking the waveform (`input_values`, else the first input). */
  input: TensorInfo;
  /** The `attention_mask` input, when the model has one. */
  mask?: TensorInfo;
}

/**
 * The feature settings for a model.
 *
 * @throws {NotFoundError} no preprocessor_config.json and no gpux.yml `preprocessing.sampling_rate`.
 * @throws {InputError} a Kaldi filter-bank feature extractor, or a bad `sampling_rate`.
 */
export async function loadAudioSpec(ctx: PipelineContext): Promise<AudioSpec> {
  const config = await ctx.files.readJsonIfPresent("preprocessor_config.json") as Record<string, unknown> | undefined;
  const yml = ctx.preprocessing?.samplingRate;
  if (!config && yml === undefined) {
    throw ctx.files.missing("preprocessor_config.json", "it gives the sampling rate and normalization for audio");
  }
  const type = typeof config?.feature_extractor_type === "string" ? config.feature_extractor_type : "";
  if (config && /^Whisper/.test(type)) {
    const logMel = logMelSpecFromConfig(config);
    return { samplingRate: logMel.samplingRate, normalize: config.do_normalize === true, paddingValue: 0, logMel };
  }
  if ((typeof config?.feature_size === "number" && config.feature_size > 1) || /ASTFeature|Speech2Text/.test(type)) {
    throw new InputError(
      `this model takes filter-bank features (${
        type || `feature_size ${config?.feature_size}`
      }), which gpux does not compute (it computes Whisper's log-mel spectrogram only)`,
      { hint: "compute the features yourself and run on tensors with --raw --input" },
    );
  }
  const rate = yml ?? config?.sampling_rate;
  if (typeof rate !== "number" || !Number.isInteger(rate) || rate <= 0) {
    throw new InputError(
      `preprocessor_config.json: sampling_rate must be a positive integer, got ${JSON.stringify(rate)}`,
    );
  }
  checkSamplingRate(
    rate,
    yml !== undefined ? "gpux.yml: preprocessing.sampling_rate" : "preprocessor_config.json: sampling_rate",
  );
  const padding = config?.padding_value;
  return {
    samplingRate: rate,
    normalize: config?.do_normalize === true,
    paddingValue: typeof padding === "number" ? padding : 0,
  };
}

/** Loads the settings and picks the inputs (a handler's `setup`). */
export async function setupAudioTask(ctx: PipelineContext): Promise<AudioTaskState> {
  const spec = await loadAudioSpec(ctx);
  const inputs = ctx.session.inputs;
  const input = inputs.find((i) => i.name === (spec.logMel ? "input_features" : "input_values")) ??
    inputs.find((i) => i.name !== "attention_mask") ?? inputs[0];
  const mask = inputs.find((i) => i.name === "attention_mask");
  return { spec, input, mask };
}

/**
 * One clip, decoded, mono, at `spec.samplingRate`, normalized if the spec says so. At most `maxSeconds` long
 * (default {@linkcode DEFAULT_MAX_AUDIO_SECONDS}), checked from the WAV header before anything is allocated.
 */
export function prepareClip(
  bytes: Uint8Array,
  name: string,
  spec: AudioSpec,
  maxSeconds = DEFAULT_MAX_AUDIO_SECONDS,
): Float32Array {
  const clip = decodeWav(bytes, name, { maxSeconds });
  const mono = resample(mixToMono(clip), clip.sampleRate, spec.samplingRate);
  if (mono.length === 0) throw new InputError(`${name}: the WAV holds no samples`);
  return spec.normalize ? normalizeZeroMeanUnitVariance(mono) : mono;
}

/** The feeds for a batch of clips, with the clips' lengths. */
export function audioFeeds(
  input: AudioInput,
  state: AudioTaskState,
  maxSeconds = DEFAULT_MAX_AUDIO_SECONDS,
): { feeds: Record<string, TensorData>; lengths: number[] } {
  if (input.clips.length === 0) {
    throw new InputError("no audio given", { hint: "pass --audio PATH.wav (or - for stdin)" });
  }
  const clips = input.clips.map((c) => prepareClip(c.bytes, c.name, state.spec, maxSeconds));
  const mel = state.spec.logMel;
  if (mel) {
    // Whisper: every clip padded or cut to n_samples, so the batch needs no padding and no mask.
    const frames = mel.nSamples / mel.hopLength;
    const data = new Float32Array(clips.length * mel.featureSize * frames);
    clips.forEach((c, i) => data.set(logMelSpectrogram(c, mel), i * mel.featureSize * frames));
    return {
      feeds: { [state.input.name]: { dtype: "float32", shape: [clips.length, mel.featureSize, frames], data } },
      lengths: clips.map((c) => Math.min(c.length, mel.nSamples)),
    };
  }
  let longest = 0; // a loop, not Math.max(...): a batch of many clips must not become as many arguments
  for (const c of clips) longest = Math.max(longest, c.length);
  const values = new Float32Array(clips.length * longest).fill(state.spec.paddingValue);
  clips.forEach((c, i) => values.set(c, i * longest));
  const feeds: Record<string, TensorData> = {
    [state.input.name]: { dtype: "float32", shape: [clips.length, longest], data: values },
  };
  if (state.mask) {
    const mask = new BigInt64Array(clips.length * longest);
    clips.forEach((c, i) => mask.fill(1n, i * longest, i * longest + c.length));
    feeds[state.mask.name] = state.mask.dtype === "int32"
      ? { dtype: "int32", shape: [clips.length, longest], data: Int32Array.from(mask, Number) }
      : { dtype: "int64", shape: [clips.length, longest], data: mask };
  }
  return { feeds, lengths: clips.map((c) => c.length) };
}
