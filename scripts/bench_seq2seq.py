"""Random-weight Whisper models of whisper-tiny's and whisper-base's shape for `deno task bench:generate --seq2seq`.

`build OUT SHAPE`: a `WhisperForConditionalGeneration` of the shape (tiny: d_model 384, 4+4 layers, 6 heads, ffn 1536;
base: d_model 512, 6+6 layers, 8 heads, ffn 2048; both 80 mel bins and the multilingual vocabulary of 51,865 ids: the
fixture tokenizer of scripts/build_whisper_fixtures.py padded with placeholder tokens to Whisper's 50,257 base ids),
saved for PyTorch (`model.safetensors`) and exported to optimum's layout (`onnx/encoder_model.onnx`,
`decoder_model_merged.onnx`, …) with that script's exporter; plus `audio/30s.wav` and `audio/300s.wav` (16 kHz mono,
the fixture's espeak-ng recording repeated).

`torch DIR WAV THREADS MAX_NEW`: transformers' chunked pipeline (`chunk_length_s=30`, `stride_length_s=5`, English,
transcribe, greedy, `max_new_tokens` per window) on the WAV; prints `{"seconds", "audio_seconds", "tokens"}`.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time
import wave

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = {
    "tiny": dict(d_model=384, layers=4, heads=6, ffn=1536),
    "base": dict(d_model=512, layers=6, heads=8, ffn=2048),
}
REAL_BASE = 50257


def fixture_module():
    spec = importlib.util.spec_from_file_location("build_whisper_fixtures", os.path.join(HERE, "build_whisper_fixtures.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_tokenizer(fx, repo: str) -> dict:
    """The fixture's tokenizer with placeholder tokens between its trained BPE ids and the specials, so that the
    special, language and timestamp ids sit where Whisper's do (50257 ...)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=fx.BASE, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    text = fx.CORPUS + fx.SENTENCE + "\n" + "\n".join(fx.LONG_SENTENCES)
    tok.train_from_iterator((text + text.lower() + text.upper()).splitlines(keepends=True) * 4, trainer)
    trained = tok.get_vocab_size()
    tok.add_tokens([AddedToken(f"<pad{i}>", special=False, normalized=False) for i in range(REAL_BASE - trained)])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in fx.SPECIALS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in fx.TIMESTAMPS])
    ids = {s: tok.token_to_id(s) for s in fx.SPECIALS}
    assert ids["<|endoftext|>"] == REAL_BASE, ids["<|endoftext|>"]
    sot, nots, eot = ids["<|startoftranscript|>"], ids["<|notimestamps|>"], ids["<|endoftext|>"]
    tok.post_processor = processors.TemplateProcessing(
        single="<|startoftranscript|> <|notimestamps|> $A:0 <|endoftext|>",
        special_tokens=[("<|startoftranscript|>", sot), ("<|notimestamps|>", nots), ("<|endoftext|>", eot)],
    )
    tok.save(os.path.join(repo, "tokenizer.json"))
    fx.write_json(os.path.join(repo, "tokenizer_config.json"), {
        "tokenizer_class": "WhisperTokenizer", "add_prefix_space": False, "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
        "model_max_length": 1024, "processor_class": "WhisperProcessor", "additional_special_tokens": fx.SPECIALS[1:],
    })
    return {"endoftext": eot, "startoftranscript": sot, "notimestamps": nots, "vocab_size": tok.get_vocab_size(),
            "translate": ids["<|translate|>"], "transcribe": ids["<|transcribe|>"],
            "lang_to_id": {f"<|{l}|>": ids[f"<|{l}|>"] for l in fx.LANGS}}


def inline_weights(path: str) -> None:
    """Moves a graph's external `.onnx.data` weights into the file (transformers.js looks for `.onnx_data` only)."""
    import onnx

    model = onnx.load(path)
    onnx.save(model, path)
    if os.path.exists(path + ".data"):
        os.remove(path + ".data")


def build(out: str, shape: str) -> None:
    import transformers

    fx = fixture_module()
    s = SHAPES[shape]
    started = time.time()
    repo = out
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(os.path.join(repo, "onnx"))
    os.makedirs(os.path.join(repo, "audio"))
    vocab = make_tokenizer(fx, repo)
    torch.manual_seed(7)
    cfg = transformers.WhisperConfig(
        vocab_size=vocab["vocab_size"], num_mel_bins=80, d_model=s["d_model"], encoder_layers=s["layers"],
        decoder_layers=s["layers"], encoder_attention_heads=s["heads"], decoder_attention_heads=s["heads"],
        encoder_ffn_dim=s["ffn"], decoder_ffn_dim=s["ffn"], max_source_positions=1500, max_target_positions=448,
        pad_token_id=vocab["endoftext"], bos_token_id=vocab["endoftext"], eos_token_id=vocab["endoftext"],
        decoder_start_token_id=vocab["startoftranscript"], begin_suppress_tokens=None, suppress_tokens=None,
    )
    cfg._attn_implementation = "eager"
    cfg.architectures = ["WhisperForConditionalGeneration"]
    model = transformers.WhisperForConditionalGeneration(cfg).eval()
    gen = {
        "begin_suppress_tokens": [vocab["endoftext"]],
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
        "return_timestamps": False,
        "suppress_tokens": [],
        "task_to_id": {"transcribe": vocab["transcribe"], "translate": vocab["translate"]},
    }
    fx.write_json(os.path.join(repo, "generation_config.json"), gen)
    model.generation_config = transformers.GenerationConfig.from_pretrained(repo)
    model.save_pretrained(repo)
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(repo)
    fx.export_all(model, os.path.join(repo, "onnx"))
    inline_weights(os.path.join(repo, "onnx", "encoder_model.onnx"))
    # the audio: the Whisper fixture's 75-second recording, repeated
    src = os.path.join(HERE, "..", "tests", ".fixtures", "whisper", "whisper", "audio", "long.wav")
    x, rate = fx.read_wav(src)
    assert rate == 16000, rate
    for seconds in (30, 300):
        reps = int(np.ceil(seconds * 16000 / len(x)))
        fx.write_wav16k(os.path.join(repo, "audio", f"{seconds}s.wav"), np.tile(x, reps)[: seconds * 16000])
    fx.write_json(os.path.join(repo, "bench.json"), {"shape": shape, **s, "vocab_size": vocab["vocab_size"],
                                                     "built_seconds": round(time.time() - started, 1)})


def run_torch(model_dir: str, wav: str, threads: int, max_new: int) -> None:
    import transformers

    torch.set_num_threads(threads)
    fx = fixture_module()
    x, rate = fx.read_wav(wav)
    pipe = transformers.pipeline("automatic-speech-recognition", model=model_dir, device="cpu")
    kwargs = dict(chunk_length_s=30, stride_length_s=5, return_timestamps=False,
                  generate_kwargs={"language": "en", "task": "transcribe", "max_new_tokens": max_new})
    pipe(x[: 16000].astype(np.float32), **kwargs)  # warm-up: one second
    started = time.perf_counter()
    out = pipe(x.astype(np.float32), **kwargs)
    seconds = time.perf_counter() - started
    tokens = len(pipe.tokenizer(out["text"], add_special_tokens=False).input_ids)
    print(json.dumps({"seconds": seconds, "audio_seconds": len(x) / rate, "tokens": tokens}))


def main() -> None:
    if sys.argv[1] == "inline":
        inline_weights(sys.argv[2])
    elif sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "torch":
        run_torch(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        raise SystemExit(f"unknown command {sys.argv[1]}")


if __name__ == "__main__":
    main()
