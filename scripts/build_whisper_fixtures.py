#!/usr/bin/env python3
"""A tiny random Whisper as a Hub-like repository folder, with PyTorch goldens, for the Whisper tests.

Run (offline; the venv comes from the local pip mirror, see scripts/generation_venv.sh; espeak-ng from apt):
    scripts/generation_venv.sh VENV && VENV/bin/python scripts/build_whisper_fixtures.py OUTDIR

Weights are random (seeded, wide init so the output varies), so texts are gibberish: the ids are what count.

Layout written (OUTDIR/whisper/, like an onnx-community Whisper snapshot):
    config.json                 WhisperForConditionalGeneration: d_model 64, 2+2 layers, 4 heads, 80 mel bins,
                                max_source_positions 1500 (30 s), max_target_positions 448
    generation_config.json      as openai/whisper-* ship it: lang_to_id, task_to_id, no_timestamps_token_id,
                                suppress_tokens, begin_suppress_tokens, decoder_start_token_id, forced_decoder_ids
                                null, is_multilingual, max_initial_timestamp_index 50, return_timestamps false
    preprocessor_config.json    WhisperFeatureExtractor (80 bins, 30 s chunks)
    tokenizer.json, tokenizer_config.json, added_tokens.json, special_tokens_map.json, vocab.json, merges.txt
                                the real Whisper layout: a byte-level BPE base vocabulary of BASE ids trained here,
                                then <|endoftext|>, <|startoftranscript|>, the 99 language tokens <|en|> ... <|su|>,
                                <|translate|>, <|transcribe|>, <|startoflm|>, <|startofprev|>, <|nocaptions|>,
                                <|notimestamps|>, then the 1501 timestamp tokens <|0.00|> ... <|30.00|> (not special)
    onnx/encoder_model.onnx     input_features float32 [batch_size, 80, 3000] -> last_hidden_state
                                float32 [batch_size, 1500, 64]
    onnx/decoder_model.onnx     input_ids int64 [batch_size, decoder_sequence_length], encoder_hidden_states
                                -> logits, present.N.decoder.key|value, present.N.encoder.key|value
    onnx/decoder_with_past_model.onnx  input_ids, encoder_hidden_states (unused), past_key_values.N.decoder.key|value
                                [batch_size, 4, past_decoder_sequence_length, 16], past_key_values.N.encoder.key|value
                                [batch_size, 4, 1500, 16] -> logits, present.N.decoder.key|value (no encoder presents)
    onnx/decoder_model_merged.onnx  optimum's merge: the with-past inputs + bool use_cache_branch [1]; outputs
                                logits, present.N.decoder.key|value, present.N.encoder.key|value. As in optimum, the
                                with-past branch returns EMPTY constants for present.N.encoder.*: reuse the cross-
                                attention past of the first step. The first step feeds past tensors of length 0.
    audio/speech.wav            an espeak-ng sentence, 16 kHz mono pcm16 (SENTENCE)
    audio/long.wav              75 s of several espeak-ng sentences with pauses, 16 kHz mono pcm16 (windows 0-30,
                                20-50, 40-70 and a short last one 60-75 s)
    goldens.json                see below
OUTDIR/manifest.json            {"script_sha256", "fixtures": ["whisper"], "built_at"}

goldens.json:
    {"torch", "transformers", "onnxruntime", "vocab": {"base": BASE, "endoftext", "startoftranscript",
     "translate", "transcribe", "startoflm", "startofprev", "nocaptions", "notimestamps", "timestamp_begin",
     "vocab_size"}, "max_new_tokens": int,
     "cases": [{"id": "transcribe_en" | "timestamps_en" | "detect_language" | "translate_en",
                "audio": "audio/speech.wav", "language": "en" | null, "task": "transcribe" | "translate",
                "return_timestamps": bool,
                "prompt_ids": [int]      the decoder prompt transformers built (<|startoftranscript|> ...),
                "new_ids": [int]         the ids Whisper's generate() returns after the prompt, as the pipeline
                                         decodes a window: in passes (a pass that ends inside a segment, after a
                                         closed timestamp pair, is cut there and the window decoded again from that
                                         pair's first timestamp); the EOS appended when its last pass stopped on it,
                "one_pass_ids": [int]    one pass of the decoder over the clip (transformers' GenerationMixin.generate
                                         with Whisper's processors; the EOS included if it stopped): what an engine
                                         without the re-decode (transformers.js) gives,
                "text": str              tokenizer.decode(new_ids, skip_special_tokens=True),
                "detected_language": "xx" | null   (detect_language: the language token it picked),
                "offsets": [{"text", "timestamp": [start, end]}] | null  (timestamps: the tokenizer's offsets),
                "pipeline": {"text", "chunks": [{"text", "timestamp": [start, end]}] | null}  the chunked pipeline
                                         (chunk_length_s 30) on the clip: what gpux's text and segments equal,
                "stats": {"avg_logprob", "no_speech_prob", "compression_ratio"} | null  (no timestamps: what
                                         OpenAI's verbose_json reports, computed as openai-whisper does)
               }],
     "long": {"audio": "audio/long.wav", "seconds": float, "chunk_length_s": 30, "stride_length_s": [l, r],
              "language": "en", "task": "transcribe", "max_new_tokens": int, "num_beams": 1 (greedy: transformers 5's
              speech pipeline defaults to 5 beams; gpux and the cases here decode greedily),
              "plain": {"text", "chunk_tokens": [[int]], "strides": [[chunk, left, right]] (seconds),
                        "windows_one_pass": bool  (each window's ids equal one pass of the decoder over that window;
                                                   false when Whisper's generate() decoded a window again after a
                                                   closed timestamp pair, as the 75 s recording's short last window),
                        "one_pass_tokens": [[int]]  (those one-pass ids: what transformers.js merges)},
              "timestamps": {"text", "chunks": [{"text", "timestamp": [s, e]}], "chunk_tokens", "strides", ...},
              "prefixes": [{"seconds": 30.5 | 50.1, "plain": {...}, "timestamps": {...}}]  the same runs on the
                        recording's first seconds (a last window that reaches just past the previous one)},
     "window_cuts": [{"seconds": float, "samples": int, "windows": [[start, end, left, right]] (samples)}]
                        the windows transformers' chunk_iter (chunk_length_s 30, stride_length_s 5 at 16 kHz) cuts a
                        recording of that many seconds into, for 29.9 ... 121.3 s
    }
    chunk_tokens are each window's generated ids as the pipeline passes them to the tokenizer's merge
    (`_decode_asr`): the merge can be tested on them without the model.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np
import torch

torch.set_num_threads(1)

BASE = 1000  # the most base BPE ids trained (real Whisper: 50257); goldens.json's vocab.base is the count
LANGS = [  # Whisper's 99 languages, in token order (whisper-tiny .. large-v2)
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id", "hi", "fi",
    "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml",
    "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs",
    "kk", "sq", "sw", "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am",
    "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln",
    "ha", "ba", "jw", "su",
]
assert len(LANGS) == 99
SPECIALS = ["<|endoftext|>", "<|startoftranscript|>", *[f"<|{l}|>" for l in LANGS], "<|translate|>", "<|transcribe|>",
            "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
TIMESTAMPS = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]

CORPUS = """\
The quick brown fox jumps over the lazy dog. Speech recognition turns spoken words into written text.
Whisper listens to thirty seconds of audio at a time and writes what it hears, with timestamps when asked.
Once upon a time, in a small village by the sea, there lived an old fisherman who told stories to the children.
Every morning he walked to the harbour, checked his nets and looked at the sky to guess the weather of the day.
Numbers like 3.14159 and dates such as 2026-12-07 appear in text. Café, naïve and déjà vu carry accents.
Questions end with a question mark? Exclamations end with a bang! Lists use commas, semicolons; and colons:
"""
SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs into the forest."
LONG_SENTENCES = [
    "Once upon a time, in a small village by the sea, there lived an old fisherman.",
    "Every morning he walked to the harbour and checked his nets.",
    "He looked at the sky to guess the weather of the day.",
    "The children asked him about storms, whales and faraway islands.",
    "He answered with long and winding tales that lasted until the evening.",
    "Speech recognition turns spoken words into written text.",
    "The model listens to thirty seconds of audio at a time.",
    "Long recordings are cut into windows that overlap a little.",
    "The pieces are merged so that no word is lost or repeated at the seams.",
    "Numbers like three point one four and dates such as December the seventh appear in speech too.",
]
MAX_NEW = 24
# long form: new tokens per decoder pass (short: the build and the tests stay quick)
LONG_MAX_NEW = 10
# 75 s: windows 0-30, 20-50, 40-70 s and a short last one 60-75 s, which the random model ends on a closed timestamp
# pair, so that Whisper's generate() decodes it a second time from that pair (the pipeline's re-decode)
LONG_SECONDS = 75
# recording lengths whose windows (transformers' chunk_iter) are goldens: inside one window, exactly one, a short last
# window, a last window that starts where the previous one's right stride does, full last windows, a fraction
CUT_SECONDS = [29.9, 30, 30.01, 45, 50, 55, 65, 70, 70.01, 75, 80, 90.5, 100, 121.3]
# chunked pipeline runs on the long recording's start too: a last window that reaches just past the previous one
PREFIX_SECONDS = [30.5, 50.1]
SEED = 21
TS_SCALE = 0.8  # the timestamp tokens' embedding rows are scaled by this (tied output projection)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path: str, value) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


# ---------------------------------------------------------------------------------------------------------------- audio


def read_wav(path: str) -> tuple[np.ndarray, int]:
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
        return data, w.getframerate()


def write_wav16k(path: str, x: np.ndarray) -> np.ndarray:
    """Writes pcm16 at 16 kHz; returns the samples exactly as a reader of that file sees them (int16 / 32768)."""
    q = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(q.tobytes())
    return q.astype(np.float32) / 32768.0


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Windowed-sinc resampling (Hann, 32 zero crossings): good enough for a fixture; the golden reads the output."""
    if src == dst:
        return x
    n = int(np.floor(len(x) * dst / src))
    t = np.arange(n) * src / dst
    cutoff = min(1.0, dst / src)
    half = 32
    out = np.zeros(n)
    base = np.floor(t).astype(np.int64)
    for k in range(-half, half + 1):
        idx = base + k
        valid = (idx >= 0) & (idx < len(x))
        d = t - idx
        w = cutoff * np.sinc(cutoff * d) * (0.5 + 0.5 * np.cos(np.pi * np.clip(d / (half + 1), -1, 1)))
        out[valid] += x[idx[valid]] * w[valid]
    return out


def espeak(text: str, tmp: str) -> np.ndarray:
    path = os.path.join(tmp, f"s{abs(hash(text))}.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", path, text], check=True)
    x, rate = read_wav(path)
    return resample(x, rate, 16000)


# ------------------------------------------------------------------------------------------------------------ tokenizer


def make_tokenizer(repo: str) -> dict:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BASE, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    text = CORPUS + SENTENCE + "\n" + "\n".join(LONG_SENTENCES)
    tok.train_from_iterator((text + text.lower() + text.upper()).splitlines(keepends=True) * 4, trainer)
    base = tok.get_vocab_size()  # at most BASE: the corpus is small
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TIMESTAMPS])
    ids = {s: tok.token_to_id(s) for s in SPECIALS}
    assert ids["<|endoftext|>"] == base and ids["<|notimestamps|>"] == base + len(SPECIALS) - 1
    assert tok.token_to_id("<|0.00|>") == base + len(SPECIALS) and tok.token_to_id("<|30.00|>") == tok.get_vocab_size() - 1
    sot, nots, eot = ids["<|startoftranscript|>"], ids["<|notimestamps|>"], ids["<|endoftext|>"]
    tok.post_processor = processors.TemplateProcessing(
        single="<|startoftranscript|> <|notimestamps|> $A:0 <|endoftext|>",
        pair="<|startoftranscript|> <|notimestamps|> $A:0 $B:1 <|endoftext|>",
        special_tokens=[("<|startoftranscript|>", sot), ("<|notimestamps|>", nots), ("<|endoftext|>", eot)],
    )
    tok.save(os.path.join(repo, "tokenizer.json"))
    tok.model.save(repo)  # vocab.json + merges.txt, as the Hub repos carry them
    added = {t: tok.token_to_id(t) for t in [*SPECIALS, *TIMESTAMPS]}
    write_json(os.path.join(repo, "added_tokens.json"), added)
    write_json(os.path.join(repo, "special_tokens_map.json"), {
        "additional_special_tokens": SPECIALS[1:],
        "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
    })
    write_json(os.path.join(repo, "tokenizer_config.json"), {
        "tokenizer_class": "WhisperTokenizer",
        "add_prefix_space": False,
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "clean_up_tokenization_spaces": True,
        "errors": "replace",
        "model_max_length": 1024,
        "processor_class": "WhisperProcessor",
        "return_attention_mask": False,
        "additional_special_tokens": SPECIALS[1:],
    })
    return {
        "base": base,
        "endoftext": eot,
        "startoftranscript": sot,
        "translate": ids["<|translate|>"],
        "transcribe": ids["<|transcribe|>"],
        "startoflm": ids["<|startoflm|>"],
        "startofprev": ids["<|startofprev|>"],
        "nocaptions": ids["<|nocaptions|>"],
        "notimestamps": nots,
        "timestamp_begin": nots + 1,
        "vocab_size": tok.get_vocab_size(),
        "lang_to_id": {f"<|{l}|>": ids[f"<|{l}|>"] for l in LANGS},
    }


# ---------------------------------------------------------------------------------------------------------------- model


def make_model(vocab: dict):
    import transformers

    torch.manual_seed(SEED)
    cfg = transformers.WhisperConfig(
        vocab_size=vocab["vocab_size"],
        num_mel_bins=80,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_source_positions=1500,
        max_target_positions=448,
        init_std=0.5,
        pad_token_id=vocab["endoftext"],
        bos_token_id=vocab["endoftext"],
        eos_token_id=vocab["endoftext"],
        decoder_start_token_id=vocab["startoftranscript"],
        begin_suppress_tokens=None,
        suppress_tokens=None,
    )
    cfg._attn_implementation = "eager"
    cfg.architectures = ["WhisperForConditionalGeneration"]
    model = transformers.WhisperForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # smaller timestamp logits: the random model then writes text with a few timestamps
        model.model.decoder.embed_tokens.weight[vocab["notimestamps"] + 1:] *= TS_SCALE
    return model


class Encoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.encoder = model.get_encoder()

    def forward(self, input_features):
        return self.encoder(input_features=input_features).last_hidden_state


class Decoder(torch.nn.Module):
    """no past: (input_ids, encoder_hidden_states) -> logits, present.N.decoder.*, present.N.encoder.*;
    with past: (input_ids, encoder_hidden_states, past...) -> logits, present.N.decoder.*"""

    def __init__(self, model, layers: int, with_past: bool):
        super().__init__()
        self.model = model
        self.layers = layers
        self.with_past = with_past

    def forward(self, input_ids, encoder_hidden_states, *past):
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        if self.with_past:
            self_data = [(past[4 * i], past[4 * i + 1]) for i in range(self.layers)]
            cross_data = [(past[4 * i + 2], past[4 * i + 3]) for i in range(self.layers)]
            cache = EncoderDecoderCache(DynamicCache(self_data), DynamicCache(cross_data))
            for i in range(self.layers):
                cache.is_updated[i] = True
        else:
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        out = self.model.model.decoder(input_ids=input_ids, encoder_hidden_states=encoder_hidden_states,
                                       past_key_values=cache, use_cache=True)
        logits = self.model.proj_out(out.last_hidden_state)
        pkv = out.past_key_values
        presents = []
        for i in range(self.layers):
            sl = pkv.self_attention_cache.layers[i]
            presents += [sl.keys, sl.values]
            if not self.with_past:
                cl = pkv.cross_attention_cache.layers[i]
                presents += [cl.keys, cl.values]
        return (logits, *presents)


def past_names(layers: int) -> list[str]:
    return [f"past_key_values.{i}.{part}.{kv}" for i in range(layers) for part in ("decoder", "encoder")
            for kv in ("key", "value")]


def export_all(model, onnx_dir: str) -> None:
    from torch.export import Dim

    layers = model.config.decoder_layers
    heads = model.config.decoder_attention_heads
    head_dim = model.config.d_model // heads
    b = Dim("batch_size", min=1, max=64)
    with torch.no_grad():
        torch.onnx.export(
            Encoder(model).eval(), (torch.randn(2, 80, 3000),), os.path.join(onnx_dir, "encoder_model.onnx"),
            input_names=["input_features"], output_names=["last_hidden_state"],
            dynamic_shapes=({0: b},), dynamo=True, opset_version=18, verbose=False,
        )
        hidden = torch.randn(2, 1500, model.config.d_model)
        s = Dim("decoder_sequence_length", min=1, max=448)
        no_past_out = ["logits"] + [f"present.{i}.{part}.{kv}" for i in range(layers) for part in ("decoder", "encoder")
                                    for kv in ("key", "value")]
        torch.onnx.export(
            Decoder(model, layers, False).eval(), (torch.randint(5, 50, (2, 4)), hidden),
            os.path.join(onnx_dir, "decoder_model.onnx"),
            input_names=["input_ids", "encoder_hidden_states"], output_names=no_past_out,
            dynamic_shapes=({0: b, 1: s}, {0: b}), dynamo=True, opset_version=18, verbose=False,
        )
        p = Dim("past_decoder_sequence_length", min=1, max=448)
        past = []
        shapes = []
        for i in range(layers):
            past += [torch.randn(2, heads, 3, head_dim), torch.randn(2, heads, 3, head_dim),
                     torch.randn(2, heads, 1500, head_dim), torch.randn(2, heads, 1500, head_dim)]
            shapes += [{0: b, 2: p}, {0: b, 2: p}, {0: b}, {0: b}]
        with_past_out = ["logits"] + [f"present.{i}.decoder.{kv}" for i in range(layers) for kv in ("key", "value")]
        torch.onnx.export(
            Decoder(model, layers, True).eval(), (torch.randint(5, 50, (2, 1)), hidden, *past),
            os.path.join(onnx_dir, "decoder_with_past_model.onnx"),
            input_names=["input_ids", "encoder_hidden_states", *past_names(layers)], output_names=with_past_out,
            dynamic_shapes=({0: b, 1: Dim("decoder_sequence_length_wp", min=1, max=448)}, {0: b}, tuple(shapes)),
            dynamo=True, opset_version=18, verbose=False,
        )
    fix_dims(os.path.join(onnx_dir, "encoder_model.onnx"))
    fix_dims(os.path.join(onnx_dir, "decoder_model.onnx"))
    fix_dims(os.path.join(onnx_dir, "decoder_with_past_model.onnx"))
    merge(os.path.join(onnx_dir, "decoder_with_past_model.onnx"), os.path.join(onnx_dir, "decoder_model.onnx"),
          os.path.join(onnx_dir, "decoder_model_merged.onnx"), layers)


def dims_for(name: str) -> list[str | None]:
    if name == "input_features":
        return ["batch_size", None, None]
    if name == "last_hidden_state":
        return ["batch_size", None, None]
    if name == "input_ids":
        return ["batch_size", "decoder_sequence_length"]
    if name == "encoder_hidden_states":
        return ["batch_size", "encoder_sequence_length", None]
    if name == "logits":
        return ["batch_size", "decoder_sequence_length", None]
    if name.startswith("past_key_values.") and ".decoder." in name:
        return ["batch_size", None, "past_decoder_sequence_length", None]
    if name.startswith("past_key_values.") and ".encoder." in name:
        return ["batch_size", None, "encoder_sequence_length_out", None]
    if name.startswith("present.") and ".decoder." in name:
        return ["batch_size", None, "past_decoder_sequence_length + 1", None]
    if name.startswith("present.") and ".encoder." in name:
        return ["batch_size", None, "encoder_sequence_length_out", None]
    raise ValueError(name)


def fix_dims(path: str) -> None:
    import onnx

    model = onnx.load(path)
    for value in [*model.graph.input, *model.graph.output]:
        for dim, want in zip(value.type.tensor_type.shape.dim, dims_for(value.name)):
            if want is not None:
                dim.Clear()
                dim.dim_param = want
    del model.graph.value_info[:]
    onnx.save(model, path)


def merge(with_past_path: str, no_past_path: str, out_path: str, layers: int) -> None:
    """optimum's decoder_model_merged.onnx (see the module docstring)."""
    import onnx
    from onnx import helper, numpy_helper

    with_past = onnx.load(with_past_path)
    no_past = onnx.load(no_past_path)
    outer_inits: list = []
    by_content: dict = {}
    outputs = ["logits"] + [f"present.{i}.{part}.{kv}" for i in range(layers) for part in ("decoder", "encoder")
                            for kv in ("key", "value")]

    def branch(graph, prefix: str, fill_encoder: bool):
        rename = {}
        for init in graph.initializer:
            data = numpy_helper.to_array(init)
            key = (init.data_type, tuple(init.dims), hashlib.sha256(data.tobytes()).hexdigest())
            if key not in by_content:
                by_content[key] = f"{prefix}{init.name}"
                outer_inits.append(numpy_helper.from_array(data, by_content[key]))
            rename[init.name] = by_content[key]
        for node in graph.node:
            assert not any(a.type in (5, 10) for a in node.attribute), "nested subgraphs are not handled"
            for out in node.output:
                if out:
                    rename[out] = prefix + out
        nodes = []
        for node in graph.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.name = prefix + node.name
            del copy.input[:]
            copy.input.extend(rename.get(x, x) if x else x for x in node.input)
            del copy.output[:]
            copy.output.extend(rename.get(x, x) if x else x for x in node.output)
            nodes.append(copy)
        produced = {o.name: rename.get(o.name, o.name) for o in graph.output}
        outs = []
        for name in outputs:
            if name in produced:
                outs.append(helper.make_tensor_value_info(produced[name], onnx.TensorProto.FLOAT, None))
            else:
                assert fill_encoder, name
                const = f"{prefix}{name}_empty"
                nodes.append(helper.make_node("Constant", [], [const], value=numpy_helper.from_array(
                    np.zeros((0,), dtype=np.float32), const + "_value")))
                outs.append(helper.make_tensor_value_info(const, onnx.TensorProto.FLOAT, None))
        return helper.make_graph(nodes, prefix + "graph", [], outs)

    then_graph = branch(with_past.graph, "with_past_", True)
    else_graph = branch(no_past.graph, "no_past_", False)
    if_node = helper.make_node("If", ["use_cache_branch"], outputs, name="optimum::if", then_branch=then_graph,
                               else_branch=else_graph)
    inputs = list(with_past.graph.input) + [helper.make_tensor_value_info("use_cache_branch", onnx.TensorProto.BOOL, [1])]
    out_info = {o.name: o for o in [*no_past.graph.output, *with_past.graph.output]}
    graph = helper.make_graph([if_node], "decoder_model_merged", inputs, [out_info[n] for n in outputs], outer_inits)
    merged = helper.make_model(graph, opset_imports=list(with_past.opset_import), ir_version=with_past.ir_version)
    onnx.checker.check_model(merged)
    onnx.save(merged, out_path)


# ------------------------------------------------------------------------------------------------------- ort reference


def ort_greedy(onnx_dir: str, features: np.ndarray, prompt: list[int], max_new: int, suppress: list[int],
               begin_suppress: list[int], eos: int, layers: int) -> list[int]:
    """A plain greedy loop over encoder_model + decoder_model_merged (no timestamp rules): checks the export."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    enc = ort.InferenceSession(os.path.join(onnx_dir, "encoder_model.onnx"), opts)
    dec = ort.InferenceSession(os.path.join(onnx_dir, "decoder_model_merged.onnx"), opts)
    hidden = enc.run(None, {"input_features": features})[0]
    heads = 4
    past = {}
    for i in range(layers):
        for part in ("decoder", "encoder"):
            for kv in ("key", "value"):
                past[f"past_key_values.{i}.{part}.{kv}"] = np.zeros((1, heads, 0, 16), np.float32)
    ids = list(prompt)
    feed_ids = list(prompt)
    new: list[int] = []
    first = True
    names = [o.name for o in dec.get_outputs()]
    while len(new) < max_new:
        outs = dict(zip(names, dec.run(None, {"input_ids": np.array([feed_ids], np.int64),
                                              "encoder_hidden_states": hidden,
                                              "use_cache_branch": np.array([not first]), **past})))
        logits = outs["logits"][0, -1].astype(np.float64)
        logits[suppress] = -np.inf
        if not new:
            logits[begin_suppress] = -np.inf
        tok = int(np.argmax(logits))
        new.append(tok)
        ids.append(tok)
        for i in range(layers):
            for kv in ("key", "value"):
                past[f"past_key_values.{i}.decoder.{kv}"] = outs[f"present.{i}.decoder.{kv}"]
                if first:
                    past[f"past_key_values.{i}.encoder.{kv}"] = outs[f"present.{i}.encoder.{kv}"]
        first = False
        feed_ids = [tok]
        if tok == eos:
            break
    return new


# -------------------------------------------------------------------------------------------------------------- goldens


def build(out: str) -> None:
    import onnxruntime
    import transformers

    started = time.time()
    repo = os.path.join(out, "whisper")
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(os.path.join(repo, "onnx"))
    os.makedirs(os.path.join(repo, "audio"))
    vocab = make_tokenizer(repo)
    model = make_model(vocab)
    model.config.save_pretrained(repo)
    fe = transformers.WhisperFeatureExtractor(feature_size=80)
    fe.save_pretrained(repo)
    tokenizer = transformers.AutoTokenizer.from_pretrained(repo)
    assert tokenizer.convert_tokens_to_ids("<|notimestamps|>") == vocab["notimestamps"], type(tokenizer)

    tmp = tempfile.mkdtemp(prefix="whisper-audio-")
    try:
        speech = write_wav16k(os.path.join(repo, "audio", "speech.wav"), espeak(SENTENCE, tmp) * 0.9)
        pause = np.zeros(8000)
        parts: list[np.ndarray] = []
        total = 0
        k = 0
        while total < LONG_SECONDS * 16000:
            clip = espeak(LONG_SENTENCES[k % len(LONG_SENTENCES)], tmp)
            parts += [clip, pause]
            total += len(clip) + len(pause)
            k += 1
        long_audio = write_wav16k(os.path.join(repo, "audio", "long.wav"), np.concatenate(parts)[: LONG_SECONDS * 16000] * 0.9)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    features = fe(speech, sampling_rate=16000, return_tensors="pt").input_features

    # suppress_tokens as the real lists are built (non-speech symbols + the task/control tokens), plus the token the
    # unconstrained random model likes most, so that a decoder ignoring suppress_tokens gives other ids
    symbols = [c for c in '"#()*+/:;<=>@[\\]^_`{|}~' if tokenizer.convert_tokens_to_ids(c) is not None]
    sym_ids = sorted({tokenizer.convert_tokens_to_ids(c) for c in symbols})
    with torch.no_grad():
        free = model.generate(features, decoder_input_ids=torch.tensor([[vocab["startoftranscript"],
                                                                         vocab["lang_to_id"]["<|en|>"],
                                                                         vocab["transcribe"],
                                                                         vocab["notimestamps"]]]),
                              max_new_tokens=MAX_NEW, suppress_tokens=None, begin_suppress_tokens=None)
    counts: dict[int, int] = {}
    for t in free[0, 4:].tolist():
        if t < vocab["base"] and t not in sym_ids:
            counts[t] = counts.get(t, 0) + 1
    liked = max(counts, key=lambda t: counts[t]) if counts else None
    space = tokenizer.convert_tokens_to_ids("Ġ")
    suppress = sorted({*sym_ids, *([liked] if liked is not None else []), vocab["startoftranscript"],
                       vocab["translate"], vocab["transcribe"], vocab["startoflm"], vocab["startofprev"],
                       vocab["nocaptions"]})
    gen = {
        "alignment_heads": [[1, 0], [1, 2]],
        "begin_suppress_tokens": [space, vocab["endoftext"]],
        "bos_token_id": vocab["endoftext"],
        "decoder_start_token_id": vocab["startoftranscript"],
        "eos_token_id": vocab["endoftext"],
        "forced_decoder_ids": None,
        "is_multilingual": True,
        "lang_to_id": vocab["lang_to_id"],
        "max_initial_timestamp_index": 50,
        "max_length": 448,
        "no_timestamps_token_id": vocab["notimestamps"],
        "pad_token_id": vocab["endoftext"],
        "prev_sot_token_id": vocab["startofprev"],
        "return_timestamps": False,
        "suppress_tokens": suppress,
        "task_to_id": {"transcribe": vocab["transcribe"], "translate": vocab["translate"]},
        "transformers_version": transformers.__version__,
    }
    write_json(os.path.join(repo, "generation_config.json"), gen)
    model.generation_config = transformers.GenerationConfig.from_pretrained(repo)

    export_all(model, os.path.join(repo, "onnx"))

    def one_window(prompt: list[int], timestamps: bool, max_new: int = MAX_NEW) -> list[int]:
        """One 30-second window decoded once: transformers' GenerationMixin.generate with the processors Whisper's
        generate() installs (suppress_tokens, begin_suppress_tokens at the prompt's end, and with timestamps
        WhisperTimeStampLogitsProcessor). Whisper's own generate() (whisper_generate) decodes again from the last
        closed timestamp pair when a pass ends inside a segment; this is its first pass alone."""
        from transformers import GenerationMixin, LogitsProcessorList
        from transformers.generation.logits_process import (SuppressTokensAtBeginLogitsProcessor,
                                                            SuppressTokensLogitsProcessor,
                                                            WhisperTimeStampLogitsProcessor)

        cfg = transformers.GenerationConfig.from_pretrained(repo)
        cfg.return_timestamps = timestamps
        procs = [SuppressTokensAtBeginLogitsProcessor(gen["begin_suppress_tokens"], begin_index=len(prompt)),
                 SuppressTokensLogitsProcessor(gen["suppress_tokens"])]
        if timestamps:
            procs.append(WhisperTimeStampLogitsProcessor(cfg, begin_index=len(prompt)))
        with torch.no_grad():
            out = GenerationMixin.generate(
                model, inputs=features, decoder_input_ids=torch.tensor([prompt]), max_new_tokens=max_new,
                logits_processor=LogitsProcessorList(procs), do_sample=False, num_beams=1,
                eos_token_id=vocab["endoftext"], pad_token_id=vocab["endoftext"], suppress_tokens=None,
                begin_suppress_tokens=None, forced_decoder_ids=None)
        seq = out[0].tolist()
        assert seq[: len(prompt)] == prompt, seq
        return seq[len(prompt):]

    def whisper_generate(language: str | None, task: str, timestamps: bool, max_new: int) -> list[int]:
        """Whisper's own generate() on the clip, as the pipeline calls it (its seek loop: a pass ending inside a
        segment is decoded again from its last closed timestamp pair); the EOS appended when the last pass stopped."""
        kwargs = {"language": language} if language is not None else {}
        with torch.no_grad():
            out = model.generate(features, max_new_tokens=max_new, task=task, return_timestamps=timestamps,
                                 return_segments=True, **kwargs)
        ids = out["sequences"][0].tolist()
        while ids and ids[-1] == vocab["endoftext"]:
            ids.pop()
        segments = out["segments"][0]
        if segments:
            last = segments[-1]["result"]
            last = (last if isinstance(last, torch.Tensor) else last["sequences"]).reshape(-1).tolist()
            if last[-1] == vocab["endoftext"]:
                ids.append(vocab["endoftext"])
        return ids

    def clip_pipeline(language: str | None, task: str, timestamps: bool) -> dict:
        """The chunked pipeline on the clip (one window): its text, and with timestamps its chunks."""
        kwargs = {"task": task, "max_new_tokens": MAX_NEW, "num_beams": 1,
                  **({"language": language} if language is not None else {})}
        result = asr({"raw": speech.copy(), "sampling_rate": 16000}, return_timestamps=timestamps,
                     generate_kwargs=kwargs)
        chunks = [{"text": c["text"], "timestamp": list(c["timestamp"])} for c in result["chunks"]] if timestamps \
            else None
        return {"text": result["text"], "chunks": chunks}

    def window_stats(prompt: list[int], new: list[int]) -> dict:
        """What OpenAI's verbose_json reports for a window decoded in one pass, as openai-whisper computes it: the
        chosen tokens' log-probabilities under the processed scores (summed, EOS included, over the text tokens + 1),
        the <|nocaptions|> probability at <|startoftranscript|> (the raw logits there), and the text's length over
        its zlib-compressed length."""
        from transformers import GenerationMixin, LogitsProcessorList
        from transformers.generation.logits_process import (SuppressTokensAtBeginLogitsProcessor,
                                                            SuppressTokensLogitsProcessor)
        procs = [SuppressTokensAtBeginLogitsProcessor(gen["begin_suppress_tokens"], begin_index=len(prompt)),
                 SuppressTokensLogitsProcessor(gen["suppress_tokens"])]
        with torch.no_grad():
            out = GenerationMixin.generate(
                model, inputs=features, decoder_input_ids=torch.tensor([prompt]), max_new_tokens=MAX_NEW,
                logits_processor=LogitsProcessorList(procs), do_sample=False, num_beams=1,
                eos_token_id=vocab["endoftext"], pad_token_id=vocab["endoftext"], suppress_tokens=None,
                begin_suppress_tokens=None, forced_decoder_ids=None, return_dict_in_generate=True,
                output_scores=True)
            chosen = out.sequences[0, len(prompt):].tolist()
            assert chosen == new, (chosen, new)
            total = 0.0
            for step, token in enumerate(chosen):
                total += float(torch.log_softmax(out.scores[step][0].double(), dim=-1)[token])
            text_tokens = [t for t in chosen if t != vocab["endoftext"]]
            sot = model(input_features=features, decoder_input_ids=torch.tensor([[vocab["startoftranscript"]]]))
            no_speech = float(torch.softmax(sot.logits[0, 0].double(), dim=-1)[vocab["nocaptions"]])
        text = tokenizer.decode(new, skip_special_tokens=True).encode("utf-8")
        import zlib
        return {"avg_logprob": total / (len(text_tokens) + 1), "no_speech_prob": no_speech,
                "compression_ratio": len(text) / len(zlib.compress(text)) if text else 0.0}

    def split(seq: list[int]) -> tuple[list[int], list[int]]:
        # the prompt: <|startoftranscript|> then language/task/notimestamps control tokens
        n = 1
        while n < len(seq) and vocab["endoftext"] < seq[n] <= vocab["notimestamps"]:
            n += 1
        return seq[:n], seq[n:]

    asr = transformers.pipeline("automatic-speech-recognition", model=model, tokenizer=tokenizer,
                                feature_extractor=fe, chunk_length_s=30, stride_length_s=5, device="cpu")
    cases = []
    for cid, language, task, timestamps in [("transcribe_en", "en", "transcribe", False),
                                            ("timestamps_en", "en", "transcribe", True),
                                            ("detect_language", None, "transcribe", False),
                                            ("translate_en", "en", "translate", False)]:
        detected = None
        if language is None:
            with torch.no_grad():
                lang_id = int(model.detect_language(features)[0])
            detected = next(k[2:-2] for k, v in vocab["lang_to_id"].items() if v == lang_id)
        else:
            lang_id = vocab["lang_to_id"][f"<|{language}|>"]
        prompt = [vocab["startoftranscript"], lang_id, vocab[task]] + ([] if timestamps else [vocab["notimestamps"]])
        one_pass = one_window(prompt, timestamps)
        new = whisper_generate(language, task, timestamps, MAX_NEW)
        if not timestamps and new != one_pass:
            raise SystemExit(f"{cid}: Whisper generate {new} != one window {one_pass}")
        seq = prompt + new
        stats = None
        if not timestamps:
            stats = window_stats(prompt, new)
        offsets = None
        if timestamps:
            decoded = tokenizer.decode(seq, skip_special_tokens=True, output_offsets=True)
            offsets = [{"text": o["text"], "timestamp": list(o["timestamp"])} for o in decoded["offsets"]]
        cases.append({
            "id": cid, "audio": "audio/speech.wav", "language": language, "task": task,
            "return_timestamps": timestamps, "prompt_ids": prompt, "new_ids": new, "one_pass_ids": one_pass,
            "text": tokenizer.decode(new, skip_special_tokens=True), "detected_language": detected,
            "offsets": offsets, "pipeline": clip_pipeline(language, task, timestamps), "stats": stats,
        })
        print(f"{cid}: prompt {prompt} new {new}", file=sys.stderr)

    # the export reproduces torch for the plain case (suppress + begin-suppress only: no timestamp rules there)
    plain = cases[0]
    ort_new = ort_greedy(os.path.join(repo, "onnx"), features.numpy(), plain["prompt_ids"], MAX_NEW, suppress,
                         gen["begin_suppress_tokens"], vocab["endoftext"], 2)
    if ort_new != plain["new_ids"]:
        raise SystemExit(f"onnxruntime greedy {ort_new} != torch {plain['new_ids']}")

    # long form through transformers' chunked pipeline; the merge's inputs are captured
    long = {"audio": "audio/long.wav", "seconds": len(long_audio) / 16000, "chunk_length_s": 30,
            "stride_length_s": [5, 5], "language": "en", "task": "transcribe", "max_new_tokens": LONG_MAX_NEW,
            "num_beams": 1}
    original = tokenizer._decode_asr

    def chunked(audio: np.ndarray, timestamps: bool) -> dict:
        """The chunked pipeline on `audio`, with each window's ids as handed to the merge and one pass a window."""
        nonlocal features
        seen = {}

        def capture(model_outputs, **kw):
            seen["tokens"] = [o["tokens"].reshape(-1).tolist() for o in model_outputs]
            seen["strides"] = [list(o["stride"]) for o in model_outputs]
            return original(model_outputs, **kw)

        windows: list = []
        plain_generate = model.generate

        def spy(*args, **kw):
            windows.append(kw.get("input_features", args[0] if args else None))
            return plain_generate(*args, **kw)

        tokenizer._decode_asr = capture
        model.generate = spy
        try:
            result = asr({"raw": audio.copy(), "sampling_rate": 16000}, return_timestamps=timestamps,
                         generate_kwargs={"language": "en", "task": "transcribe", "max_new_tokens": LONG_MAX_NEW,
                                          "num_beams": 1})
        finally:
            tokenizer._decode_asr = original
            del model.generate
        prompt = [vocab["startoftranscript"], vocab["lang_to_id"]["<|en|>"], vocab["transcribe"]] + \
            ([] if timestamps else [vocab["notimestamps"]])
        saved = features
        one_pass = []
        for window in windows:
            features = window
            one_pass.append(one_window(prompt, timestamps, LONG_MAX_NEW))
        features = saved
        entry = {"text": result["text"], "chunk_tokens": seen["tokens"], "strides": seen["strides"],
                 "windows_one_pass": one_pass == seen["tokens"], "one_pass_tokens": one_pass}
        if timestamps:
            entry["chunks"] = [{"text": c["text"], "timestamp": list(c["timestamp"])} for c in result["chunks"]]
        return entry

    for key, timestamps in (("plain", False), ("timestamps", True)):
        long[key] = chunked(long_audio, timestamps)
        print(f"long {key}: {len(long[key]['chunk_tokens'])} windows, text {long[key]['text'][:80]!r}", file=sys.stderr)
    # the recording's first 30.5 and 50.1 s: a last window that reaches only 0.5 / 0.1 s past the previous one
    long["prefixes"] = []
    for seconds in PREFIX_SECONDS:
        part = long_audio[: int(round(seconds * 16000))]
        long["prefixes"].append({"seconds": seconds, "plain": chunked(part, False), "timestamps": chunked(part, True)})

    # the windows transformers' chunk_iter cuts (the real function; a stand-in feature extractor reports each chunk's
    # first and last sample, read from a recording whose samples are their own indices)
    from transformers.pipelines.automatic_speech_recognition import chunk_iter

    class Span:
        sampling_rate = 16000

        def __call__(self, chunk, **_):
            return {"span": (int(chunk[0]), int(chunk[-1]) + 1)}

    window_cuts = []
    for seconds in CUT_SECONDS:
        n = int(round(seconds * 16000))
        cuts = [[*item["span"], item["stride"][1], item["stride"][2]]
                for item in chunk_iter(np.arange(n, dtype=np.float64), Span(), 30 * 16000, 5 * 16000, 5 * 16000)]
        window_cuts.append({"seconds": seconds, "samples": n, "windows": cuts})

    vocab_out = {k: v for k, v in vocab.items() if k != "lang_to_id"}
    write_json(os.path.join(repo, "goldens.json"), {
        "torch": torch.__version__, "transformers": transformers.__version__,
        "onnxruntime": onnxruntime.__version__, "vocab": vocab_out, "max_new_tokens": MAX_NEW,
        "cases": cases, "long": long, "window_cuts": window_cuts,
    })
    print(f"whisper: built in {time.time() - started:.1f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir")
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    build(args.outdir)
    write_json(os.path.join(args.outdir, "manifest.json"), {
        "script_sha256": sha256_file(__file__), "fixtures": ["whisper"],
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })


if __name__ == "__main__":
    main()
