#!/usr/bin/env python3
"""A tiny ViT + GPT-2 captioner in the Hub's real VisionEncoderDecoder layout, with PyTorch goldens.

Run (the builders' venv, tests/.fixtures/venv-torch):
    VENV/bin/python scripts/build_vit_gpt2_hub_fixture.py OUTDIR

The model's shapes, tokenizer, images and preprocessor are those of build_seq2seq_fixtures.py's "vit-gpt2" (imported
from it, so that script's fixtures keep their hash), with other random weights (seed 3, std 0.2: captions that vary by
image); the decoder's ONNX contract differs. optimum's VisionEncoderDecoder
export with a GPT-2 decoder (e.g. Xenova/vit-gpt2-image-captioning) keeps no cross-attention cache: GPT-2's
cross-attention recomputes its keys and values from `encoder_hidden_states`, fed at every step.

ONNX contract (OUTDIR/vit-gpt2-hub/onnx):
    encoder_model.onnx          pixel_values float32 [batch_size, 3, 32, 32] -> last_hidden_state
    decoder_model_merged.onnx   input_ids [batch_size, decoder_sequence_length], encoder_hidden_states,
                                past_key_values.N.key/value [batch_size, 4, past_sequence_length, 8], use_cache_branch
                                bool [1] -> logits, present.N.key/value (self-attention only)

goldens.json: as build_seq2seq_fixtures.py's (cases greedy, greedy_batch, beam4, beam4_batch: torch `generate`).
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_seq2seq_fixtures as base  # noqa: E402


def presents(cache, layers: int) -> list:
    out = []
    for i in range(layers):
        s = cache.self_attention_cache.layers[i]
        out += [s.keys, s.values]
    return out


class Decoder(torch.nn.Module):
    """One decoder step: the self-attention past in, GPT-2's cross-attention recomputed from the hidden states."""

    def __init__(self, model, with_past: bool):
        super().__init__()
        self.model = model
        self.layers = base.layer_count(model)
        self.with_past = with_past

    def forward(self, *args):
        ids, hidden, *past = args
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        data = [(past[2 * i], past[2 * i + 1]) for i in range(self.layers)] if self.with_past else None
        cache = EncoderDecoderCache(DynamicCache(ddp_cache_data=data) if data else DynamicCache(), DynamicCache())
        out = base.run_decoder(self.model, ids, None, hidden, cache)
        return (out.logits, *presents(out.past_key_values, self.layers))


def export_all(model, onnx_dir: str) -> None:
    from torch.export import Dim

    os.makedirs(onnx_dir, exist_ok=True)
    layers = base.layer_count(model)
    b = Dim("batch_size", min=1, max=64)
    d = Dim("decoder_sequence_length", min=1, max=1024)
    p = Dim("past_sequence_length", min=1, max=1024)
    batch = 2
    base.export(base.Encoder(model), (torch.randn(batch, 3, 32, 32),), ["pixel_values"], ["last_hidden_state"],
                ({0: b},), f"{onnx_dir}/encoder_model.onnx")
    hidden = torch.randn(batch, 17, 32)
    kv = [f"{i}.{x}" for i in range(layers) for x in ("key", "value")]
    outs = ["logits", *[f"present.{n}" for n in kv]]
    base.export(Decoder(model, False), (torch.randint(3, 50, (batch, 3)), hidden), ["input_ids", "encoder_hidden_states"],
                outs, ({0: b, 1: d}, {0: b}), f"{onnx_dir}/decoder_model.onnx")
    past = tuple(torch.randn(batch, 4, 4, 8) for _ in kv)
    base.export(Decoder(model, True), (torch.randint(3, 50, (batch, 1)), hidden, *past),
                ["input_ids", "encoder_hidden_states", *[f"past_key_values.{n}" for n in kv]], outs,
                ({0: b, 1: d}, {0: b}, *[{0: b, 2: p}] * len(kv)), f"{onnx_dir}/decoder_with_past_model.onnx")


def ort_greedy(onnx_dir: str, pixels: np.ndarray, start: int, eos: int, max_new: int) -> list[list[int]]:
    enc = base.ort_session(f"{onnx_dir}/encoder_model.onnx")
    dec = base.ort_session(f"{onnx_dir}/decoder_model_merged.onnx")
    hidden = enc.run(None, {"pixel_values": pixels})[0]
    n = hidden.shape[0]
    names = [i.name for i in dec.get_inputs() if i.name.startswith("past_key_values.")]
    past = {k: np.zeros((n, 4, 0, 8), np.float32) for k in names}
    ids = np.full((n, 1), start, np.int64)
    rows: list[list[int]] = [[] for _ in range(n)]
    done = [False] * n
    for step in range(max_new):
        outs = dec.run(None, {"input_ids": ids, "encoder_hidden_states": hidden, **past,
                              "use_cache_branch": np.array([step > 0])})
        nxt = outs[0][:, -1].argmax(-1)
        past = {k: v for k, v in zip(names, outs[1:])}
        for r in range(n):
            if not done[r]:
                rows[r].append(int(nxt[r]))
                done[r] = int(nxt[r]) == eos
        if all(done):
            break
        ids = np.where(np.array(done), eos, nxt)[:, None].astype(np.int64)
    return rows


def main() -> None:
    import transformers
    from transformers import GenerationConfig

    out = sys.argv[1]
    repo = os.path.join(out, "vit-gpt2-hub")
    os.makedirs(os.path.join(repo, "images"), exist_ok=True)
    model, tok, gen, extra = base.make("vit-gpt2")
    # other weights than "vit-gpt2"'s (std 0.5 saturates into two tokens): std 0.2 gives captions that vary by image
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    model.config.save_pretrained(repo)
    base.write_json(os.path.join(repo, "generation_config.json"), gen)
    base.save_tokenizer(tok, repo, extra)
    onnx_dir = os.path.join(repo, "onnx")
    export_all(model, onnx_dir)
    base.merge(onnx_dir)
    for f in ("decoder_model.onnx", "decoder_with_past_model.onnx"):
        os.remove(os.path.join(onnx_dir, f))
    rng = np.random.default_rng(5)
    images = []
    for i in range(3):
        im = rng.integers(0, 256, (32, 32, 3))
        images.append(im)
        base.png(os.path.join(repo, "images", f"image{i}.png"), im)
    base.write_json(os.path.join(repo, "preprocessor_config.json"), {
        "image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 32, "width": 32},
        "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})
    eos, start = gen["eos_token_id"], gen["decoder_start_token_id"]
    model.generation_config = GenerationConfig(**gen)
    cases = []

    def case(cid: str, indices: list[int], **options) -> None:
        opts = {"num_beams": 1, **options}
        seqs = base.torch_generate(model, {"pixel_values": base.pixel_values([images[i] for i in indices])}, opts, eos)
        cases.append({"id": cid, "inputs": None, "images": [f"images/image{i}.png" for i in indices], "input_ids": [],
                      "options": opts, "sequences": seqs,
                      "texts": [tok.decode(s, skip_special_tokens=True) for s in seqs], "file": None})

    case("greedy", [0], max_new_tokens=12)
    case("greedy_batch", [0, 1, 2], max_new_tokens=12)
    case("beam4", [1], max_new_tokens=12, num_beams=4)
    case("beam4_batch", [0, 1, 2], max_new_tokens=10, num_beams=4)
    want = next(c for c in cases if c["id"] == "greedy_batch")["sequences"]
    got = ort_greedy(onnx_dir, base.pixel_values(images).numpy(), start, eos, 12)
    assert got == want, f"onnxruntime greedy {got} != torch {want}"
    base.write_json(os.path.join(repo, "goldens.json"), {
        "model": "vit-gpt2-hub", "torch": torch.__version__, "transformers": transformers.__version__,
        "decoder_start_token_id": start, "eos_token_id": [eos], "pad_token_id": gen["pad_token_id"], "cases": cases,
    })


if __name__ == "__main__":
    main()
