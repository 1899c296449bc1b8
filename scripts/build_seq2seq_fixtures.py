#!/usr/bin/env python3
"""Tiny random encoder-decoder models as Hub-like folders in optimum's ONNX layout, with PyTorch goldens.

Run (offline; the venv of scripts/generation_venv.sh):
    scripts/generation_venv.sh VENV && VENV/bin/python scripts/build_seq2seq_fixtures.py OUTDIR [--only marian,t5]

Weights are random (seeded, normal std 0.5 so greedy and beam outputs vary); the fixtures only check that a decoding
loop reproduces PyTorch `generate` exactly.

Fixtures (one folder each):
    marian        MarianMTModel, 2+2 layers, d_model 32. Tokenizer: a Unigram trained here with `tokenizers`, Metaspace
                  (`▁`) like Marian's sentencepiece, `</s>`=0 `<unk>`=1 and `<pad>` LAST (as in OPUS-MT vocabularies),
                  `$A </s>` post-processor. NOT Marian's source.spm/target.spm + vocab.json: one shared tokenizer.json,
                  as transformers.js-converted OPUS-MT repos ship. decoder_start = pad; bad_words_ids [[pad]];
                  final_logits_bias[eos] raised so EOS happens. Files: onnx/encoder_model.onnx,
                  onnx/decoder_model_merged.onnx, the int8 onnx/encoder_model_quantized.onnx +
                  onnx/decoder_model_merged_quantized.onnx (quantize_dynamic), and float16 throughout (cache, logits)
                  onnx/encoder_model_fp16.onnx + onnx/decoder_model_merged_fp16.onnx (convert_float_to_float16).
    marian-split  the same weights in the split layout: onnx/encoder_model.onnx, onnx/decoder_model.onnx,
                  onnx/decoder_with_past_model.onnx (no merged file).
    t5            T5ForConditionalGeneration (relative attention, 8 buckets), split layout; Unigram tokenizer with
                  `<pad>`=0 `</s>`=1 `<unk>`=2, decoder_start = pad.
    bart          BartForConditionalGeneration, merged layout; byte-level BPE (`<s>`=0 `<pad>`=1 `</s>`=2), generation
                  config as bart-large-cnn: forced_bos_token_id 0, forced_eos_token_id 2, no_repeat_ngram_size 3,
                  length_penalty 2.0, early_stopping true, decoder_start = 2.
    vit-gpt2      VisionEncoderDecoderModel (ViTModel 32x32, patch 8 + GPT2LMHeadModel with cross-attention), merged
                  layout; byte-level BPE with <|endoftext|> = bos = eos = pad = decoder_start; preprocessor_config.json
                  (ViTImageProcessor 32x32, mean/std 0.5); images/*.png (32x32 RGB, so no resize is involved).

ONNX contract (optimum names):
    encoder_model.onnx    input_ids int64 [batch_size, encoder_sequence_length], attention_mask int64 (same)
                          (vit-gpt2: pixel_values float32 [batch_size, 3, 32, 32]) -> last_hidden_state
    decoder_model.onnx    input_ids [batch_size, decoder_sequence_length], encoder_attention_mask (not vit-gpt2),
                          encoder_hidden_states -> logits, present.N.decoder.key/value, present.N.encoder.key/value
    decoder_with_past_model.onnx  input_ids, encoder_attention_mask, past_key_values.N.decoder.key/value,
                          past_key_values.N.encoder.key/value -> logits, present.N.decoder.key/value
    decoder_model_merged.onnx  the union of both inputs + use_cache_branch bool [1]; outputs those of decoder_model;
                          with use_cache_branch true present.N.encoder.* are EMPTY (as optimum's merge pads them):
                          the encoder past comes from the first step only.

goldens.json: {"model", "torch", "transformers", "decoder_start_token_id", "eos_token_id": [..], "pad_token_id",
    "cases": [{"id", "inputs": [str] (texts) | null, "images": [file] | null, "input_ids": [[int]] (texts, with the
    special tokens), "options": {"max_new_tokens", "num_beams", "length_penalty"?, "early_stopping"?,
    "num_return_sequences"?}, "sequences": [[int]] (generated ids after the decoder start, per input ×
    num_return_sequences, cut after the first EOS), "texts": [str] (decode(skip_special_tokens)),
    "file": null | "quantized" | "fp16" (an onnxruntime greedy loop on the _quantized / _fp16 files, not torch)}]}
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import sys
import time
import zlib

import numpy as np
import torch

torch.set_num_threads(1)

CORPUS = """\
The quick brown fox jumps over the lazy dog. A translation model reads a sentence and writes it in another language.
Summaries are short; the article before them is long and full of details about the weather, the sea and the town.
Once upon a time, in a small village by the sea, there lived an old fisherman who told stories to the children.
Every morning he walked to the harbour, checked his nets and looked at the sky to guess the weather of the day.
translate English to German: The house is wonderful. summarize: The children asked him about storms and whales.
Numbers like 3.14 and 1,000 appear in text; so do dates such as 2026-12-07. Café, naïve and déjà vu carry accents.
"""

TEXTS = ["The quick brown fox", "Once upon a time, in a small village by the sea", "Summaries are short."]


def write_json(path: str, value) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


# ---------------------------------------------------------------------------------------------------------- tokenizers


def unigram_tokenizer(specials: list[str], pad_last: bool, vocab_size: int):
    """A Unigram (sentencepiece-style, Metaspace) tokenizer trained on CORPUS; `</s>` appended by the post-processor."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(CORPUS.splitlines() * 4, trainer)
    if pad_last:
        data = json.loads(tok.to_str())
        vocab = data["model"]["vocab"]
        pad = [v for v in vocab if v[0] == "<pad>"]
        vocab = [v for v in vocab if v[0] != "<pad>"] + pad
        data["model"]["vocab"] = vocab
        data["model"]["unk_id"] = [v[0] for v in vocab].index("<unk>")
        data["added_tokens"] = [
            {**a, "id": [v[0] for v in vocab].index(a["content"])} for a in data["added_tokens"]
        ]
        tok = Tokenizer.from_str(json.dumps(data))
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A $B </s>",
                                                       special_tokens=[("</s>", eos)])
    return tok


def bpe_tokenizer(specials: list[str], vocab_size: int, template: tuple[str, str] | None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS.splitlines(keepends=True) * 4, trainer)
    if template:
        bos, eos = template
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
            special_tokens=[(bos, tok.token_to_id(bos)), (eos, tok.token_to_id(eos))])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def save_tokenizer(tok, repo: str, extra: dict) -> None:
    tok.save(os.path.join(repo, "tokenizer.json"))
    write_json(os.path.join(repo, "tokenizer_config.json"), {"model_max_length": 64, **extra})


# -------------------------------------------------------------------------------------------------------------- models


def widen(model, seed: int) -> None:
    # eager attention: sdpa's is_causal cannot be traced with a dynamic query length
    model.set_attn_implementation("eager")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def make(name: str):
    """(model, tokenizer, facts, generation_config, extra files) for a fixture."""
    from transformers import (BartConfig, BartForConditionalGeneration, GPT2Config, GPT2LMHeadModel, MarianConfig,
                              MarianMTModel, T5Config, T5ForConditionalGeneration, ViTConfig, ViTModel,
                              VisionEncoderDecoderConfig, VisionEncoderDecoderModel)

    torch.manual_seed(7)
    if name == "marian":
        tok = unigram_tokenizer(["</s>", "<unk>", "<pad>"], pad_last=True, vocab_size=300)
        v = tok.get_vocab_size()
        pad, eos = tok.token_to_id("<pad>"), tok.token_to_id("</s>")
        cfg = MarianConfig(vocab_size=v, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                           decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
                           max_position_embeddings=64, pad_token_id=pad, eos_token_id=eos,
                           decoder_start_token_id=pad, forced_eos_token_id=eos, scale_embedding=True,
                           architectures=["MarianMTModel"])
        model = MarianMTModel(cfg).eval()
        widen(model, 11)
        model.final_logits_bias[0, eos] = 1.0
        gen = {"decoder_start_token_id": pad, "eos_token_id": eos, "pad_token_id": pad, "bad_words_ids": [[pad]],
               "forced_eos_token_id": eos, "max_length": 64, "num_beams": 1}
        extra = {"tokenizer_class": "MarianTokenizer", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
        return model, tok, gen, extra
    if name == "t5":
        tok = unigram_tokenizer(["<pad>", "</s>", "<unk>"], pad_last=False, vocab_size=300)
        v = tok.get_vocab_size()
        cfg = T5Config(vocab_size=v, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
                       relative_attention_num_buckets=8, relative_attention_max_distance=20,
                       feed_forward_proj="relu", pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
                       tie_word_embeddings=False, architectures=["T5ForConditionalGeneration"])
        model = T5ForConditionalGeneration(cfg).eval()
        widen(model, 12)
        gen = {"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0}
        extra = {"tokenizer_class": "T5Tokenizer", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
        return model, tok, gen, extra
    if name == "bart":
        tok = bpe_tokenizer(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], 400, ("<s>", "</s>"))
        v = tok.get_vocab_size()
        cfg = BartConfig(vocab_size=v, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                         decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
                         max_position_embeddings=64, bos_token_id=0, pad_token_id=1, eos_token_id=2,
                         decoder_start_token_id=2, forced_bos_token_id=0, forced_eos_token_id=2,
                         architectures=["BartForConditionalGeneration"])
        model = BartForConditionalGeneration(cfg).eval()
        widen(model, 13)
        model.final_logits_bias[0, 2] = 1.0
        gen = {"bos_token_id": 0, "decoder_start_token_id": 2, "eos_token_id": 2, "pad_token_id": 1,
               "forced_bos_token_id": 0, "forced_eos_token_id": 2, "no_repeat_ngram_size": 3, "length_penalty": 2.0,
               "early_stopping": True, "num_beams": 1, "max_length": 64}
        extra = {"tokenizer_class": "BartTokenizer", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
        return model, tok, gen, extra
    if name == "vit-gpt2":
        tok = bpe_tokenizer(["<|endoftext|>"], 300, None)
        v = tok.get_vocab_size()
        eot = tok.token_to_id("<|endoftext|>")
        enc = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, num_channels=3)
        dec = GPT2Config(vocab_size=v, n_embd=32, n_layer=2, n_head=4, n_positions=64, add_cross_attention=True,
                         is_decoder=True, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot)
        cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
        cfg.decoder_start_token_id = eot
        cfg.pad_token_id = eot
        cfg.eos_token_id = eot
        cfg.architectures = ["VisionEncoderDecoderModel"]
        model = VisionEncoderDecoderModel(config=cfg, encoder=ViTModel(enc, add_pooling_layer=False),
                                          decoder=GPT2LMHeadModel(dec)).eval()
        widen(model, 14)
        gen = {"decoder_start_token_id": eot, "bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot}
        extra = {"tokenizer_class": "GPT2Tokenizer", "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}
        return model, tok, gen, extra
    raise ValueError(name)


# ------------------------------------------------------------------------------------------------------------- export


def layer_count(model) -> int:
    cfg = model.config
    if getattr(cfg, "is_encoder_decoder", False) and hasattr(cfg, "decoder_layers"):
        return cfg.decoder_layers
    if hasattr(cfg, "num_decoder_layers"):
        return cfg.num_decoder_layers
    return cfg.decoder.n_layer


def is_vision(model) -> bool:
    return model.config.architectures == ["VisionEncoderDecoderModel"]


class Encoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *args):
        if is_vision(self.model):
            return self.model.encoder(pixel_values=args[0]).last_hidden_state
        return self.model.get_encoder()(input_ids=args[0], attention_mask=args[1]).last_hidden_state


def presents(cache, layers: int, encoder: bool) -> list:
    out = []
    for i in range(layers):
        s = cache.self_attention_cache.layers[i]
        out += [s.keys, s.values]
        if encoder:
            c = cache.cross_attention_cache.layers[i]
            out += [c.keys, c.values]
    return out


def run_decoder(model, input_ids, mask, hidden, cache):
    from transformers.modeling_outputs import BaseModelOutput

    kwargs = {"decoder_input_ids": input_ids, "encoder_outputs": BaseModelOutput(last_hidden_state=hidden),
              "past_key_values": cache, "use_cache": True}
    if mask is not None:
        kwargs["attention_mask"] = mask
    return model(**kwargs)


class DecoderFirst(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.layers = layer_count(model)

    def forward(self, *args):
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        if is_vision(self.model):
            ids, hidden = args
            mask = None
        else:
            ids, mask, hidden = args
        out = run_decoder(self.model, ids, mask, hidden, EncoderDecoderCache(DynamicCache(), DynamicCache()))
        return (out.logits, *presents(out.past_key_values, self.layers, True))


class DecoderWithPast(torch.nn.Module):
    def __init__(self, model, d_model: int):
        super().__init__()
        self.model = model
        self.layers = layer_count(model)
        self.d_model = d_model

    def forward(self, *args):
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        if is_vision(self.model):
            ids, *past = args
            mask = None
        else:
            ids, mask, *past = args
        self_data = [(past[4 * i], past[4 * i + 1]) for i in range(self.layers)]
        cross_data = [(past[4 * i + 2], past[4 * i + 3]) for i in range(self.layers)]
        cache = EncoderDecoderCache(DynamicCache(ddp_cache_data=self_data), DynamicCache(ddp_cache_data=cross_data))
        k = past[2]
        # the cross-attention keys come from the cache: the hidden states only need to be there (optimum drops them)
        hidden = torch.zeros(k.shape[0], k.shape[2], self.d_model, dtype=k.dtype)
        out = run_decoder(self.model, ids, mask, hidden, cache)
        return (out.logits, *presents(out.past_key_values, self.layers, False))


def past_names(layers: int, kind: str) -> list[str]:
    return [f"{kind}.{i}.{side}.{kv}" for i in range(layers) for side in ("decoder", "encoder") for kv in ("key", "value")]


def export(module, example: tuple, names: list[str], outputs: list[str], shapes: tuple, path: str) -> None:
    with torch.no_grad():
        torch.onnx.export(module.eval(), example, path, input_names=names, output_names=outputs,
                          dynamic_shapes=(shapes,), dynamo=True, external_data=False, opset_version=18,
                          verbose=False)
    import onnx

    m = onnx.load(path)
    del m.graph.value_info[:]
    onnx.save(m, path)


def export_all(model, onnx_dir: str) -> None:
    from torch.export import Dim

    os.makedirs(onnx_dir, exist_ok=True)
    layers = layer_count(model)
    vision = is_vision(model)
    d_model = 32
    b = Dim("batch_size", min=1, max=64)
    e = Dim("encoder_sequence_length", min=1, max=1024)
    d = Dim("decoder_sequence_length", min=1, max=1024)
    p = Dim("past_decoder_sequence_length", min=1, max=1024)
    batch, enc_len = 2, 5
    if vision:
        enc_ex = (torch.randn(batch, 3, 32, 32),)
        export(Encoder(model), enc_ex, ["pixel_values"], ["last_hidden_state"], ({0: b},),
               f"{onnx_dir}/encoder_model.onnx")
        enc_len = 17
        hidden = torch.randn(batch, enc_len, d_model)
        export(DecoderFirst(model), (torch.randint(3, 50, (batch, 3)), hidden), ["input_ids", "encoder_hidden_states"],
               ["logits", *past_names(layers, "present")], ({0: b, 1: d}, {0: b}),
               f"{onnx_dir}/decoder_model.onnx")
    else:
        ids = torch.randint(3, 50, (batch, enc_len))
        mask = torch.tensor([[1] * enc_len, [1] * (enc_len - 2) + [0, 0]])
        export(Encoder(model), (ids, mask), ["input_ids", "attention_mask"], ["last_hidden_state"],
               ({0: b, 1: e}, {0: b, 1: e}), f"{onnx_dir}/encoder_model.onnx")
        hidden = torch.randn(batch, enc_len, d_model)
        export(DecoderFirst(model), (torch.randint(3, 50, (batch, 3)), mask, hidden),
               ["input_ids", "encoder_attention_mask", "encoder_hidden_states"],
               ["logits", *past_names(layers, "present")], ({0: b, 1: d}, {0: b, 1: e}, {0: b, 1: e}),
               f"{onnx_dir}/decoder_model.onnx")
    heads, head_dim = 4, 8
    past = []
    shapes = []
    for _ in range(layers):
        # distinct tensors: the exporter would alias one tensor given twice (key and value) into a single input
        past += [torch.randn(batch, heads, 4, head_dim) for _ in range(2)]
        past += [torch.randn(batch, heads, enc_len, head_dim) for _ in range(2)]
        shapes += [{0: b, 2: p}] * 2 + [{0: b, 2: Dim.AUTO if vision else e}] * 2
    names = ["input_ids"] + ([] if vision else ["encoder_attention_mask"]) + past_names(layers, "past_key_values")
    example = (torch.randint(3, 50, (batch, 2)),) + (() if vision else (torch.ones(batch, enc_len, dtype=torch.long),))
    dyn = ({0: b, 1: d},) + (() if vision else ({0: b, 1: e},)) + tuple(shapes)
    outs = ["logits"] + [f"present.{i}.decoder.{kv}" for i in range(layers) for kv in ("key", "value")]
    export(DecoderWithPast(model, d_model), example + tuple(past), names, outs, dyn,
           f"{onnx_dir}/decoder_with_past_model.onnx")


def merge(onnx_dir: str) -> None:
    """decoder_model_merged.onnx as optimum writes it: both graphs under an If on `use_cache_branch`, inputs the union,
    outputs those of decoder_model; the with-past branch gives empty present.N.encoder.* (optimum pads them)."""
    import onnx
    from onnx import helper, numpy_helper

    first = onnx.load(f"{onnx_dir}/decoder_model.onnx")
    with_past = onnx.load(f"{onnx_dir}/decoder_with_past_model.onnx")
    outer_inits: list = []
    by_content: dict = {}

    def branch(graph, prefix: str, outputs: list):
        rename = {}
        for init in graph.initializer:
            data = numpy_helper.to_array(init)
            key = (init.data_type, tuple(init.dims), hashlib.sha256(data.tobytes()).hexdigest())
            if key not in by_content:
                by_content[key] = f"{prefix}{init.name}"
                outer_inits.append(numpy_helper.from_array(data, by_content[key]))
            rename[init.name] = by_content[key]
        for node in graph.node:
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
        have = {o.name for o in graph.output}
        outs = []
        for o in outputs:
            if o.name in have:
                name = rename.get(o.name, o.name)
                if name == o.name:  # an output that is a graph input: give the branch its own name
                    name = prefix + o.name
                    nodes.append(helper.make_node("Identity", [o.name], [name]))
            else:
                name = prefix + o.name + "_empty"
                empty = numpy_helper.from_array(np.zeros((1, 1, 0, 1), dtype=np.float32), name + "_value")
                nodes.append(helper.make_node("Constant", [], [name], value=empty))
            outs.append(helper.make_tensor_value_info(name, o.type.tensor_type.elem_type, None))
        return helper.make_graph(nodes, prefix + "graph", [], outs)

    outputs = list(first.graph.output)
    then_graph = branch(with_past.graph, "with_past_", outputs)
    else_graph = branch(first.graph, "no_past_", outputs)
    if_node = helper.make_node("If", ["use_cache_branch"], [o.name for o in outputs], name="optimum::if",
                               then_branch=then_graph, else_branch=else_graph)
    seen = set()
    inputs = []
    for i in [*first.graph.input, *with_past.graph.input]:
        if i.name not in seen:
            seen.add(i.name)
            inputs.append(i)
    inputs.append(helper.make_tensor_value_info("use_cache_branch", onnx.TensorProto.BOOL, [1]))
    graph = helper.make_graph([if_node], "decoder_model_merged", inputs, outputs, outer_inits)
    merged = helper.make_model(graph, opset_imports=list(first.opset_import), ir_version=first.ir_version)
    onnx.checker.check_model(merged)
    onnx.save(merged, f"{onnx_dir}/decoder_model_merged.onnx")


# -------------------------------------------------------------------------------------------------------- decoding


def cut(row: list[int], eos: int) -> list[int]:
    return row[: row.index(eos) + 1] if eos in row else row


def torch_generate(model, feed: dict, options: dict, eos: int) -> list[list[int]]:
    with torch.no_grad():
        out = model.generate(**feed, **options, do_sample=False, use_cache=True)
    # out[:, 0] is the decoder start
    return [cut(r[1:], eos) for r in out.tolist()]


def ort_session(path: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def ort_greedy(onnx_dir: str, suffix: str, feed: dict, start: int, eos: int, max_new: int, suppress: list[int],
               forced_eos: int | None) -> list[list[int]]:
    """Greedy over encoder_model{suffix} + decoder_model_merged{suffix}: the loop a JS engine must reproduce."""
    enc = ort_session(f"{onnx_dir}/encoder_model{suffix}.onnx")
    dec = ort_session(f"{onnx_dir}/decoder_model_merged{suffix}.onnx")
    hidden = enc.run(None, feed)[0]
    batch = hidden.shape[0]
    dec_inputs = {i.name for i in dec.get_inputs()}
    out_names = [o.name for o in dec.get_outputs()]
    ids = np.full((batch, 1), start, dtype=np.int64)
    past: dict = {}
    encoder_past: dict = {}
    new = [[] for _ in range(batch)]
    done = np.zeros(batch, dtype=bool)
    for step in range(max_new):
        f = {"input_ids": ids, "encoder_hidden_states": hidden, "use_cache_branch": np.array([step > 0])}
        if "encoder_attention_mask" in dec_inputs:
            f["encoder_attention_mask"] = feed["attention_mask"]
        for meta in dec.get_inputs():
            name = meta.name
            if name.startswith("past_key_values."):
                dtype = np.float16 if meta.type == "tensor(float16)" else np.float32
                f[name] = past.get(name, encoder_past.get(name, np.zeros((batch, 4, 0, 8), dtype=dtype)))
        res = dict(zip(out_names, dec.run(out_names, f)))
        logits = res["logits"][:, -1, :].copy()
        logits[:, suppress] = -np.inf
        if forced_eos is not None and step + 1 == max_new:
            logits[:] = -np.inf
            logits[:, forced_eos] = 0
        nxt = logits.argmax(-1)
        nxt = np.where(done, eos, nxt)
        for i in range(batch):
            if not done[i]:
                new[i].append(int(nxt[i]))
        done |= nxt == eos
        if done.all():
            break
        ids = nxt[:, None].astype(np.int64)
        for name, value in res.items():
            if name.startswith("present."):
                key = "past_key_values." + name[len("present."):]
                if ".encoder." in name:
                    if step == 0:
                        encoder_past[key] = value
                else:
                    past[key] = value
    return new


# ------------------------------------------------------------------------------------------------------------- images


def png(path: str, pixels: np.ndarray) -> None:
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pixel_values(images: list[np.ndarray]) -> torch.Tensor:
    arr = np.stack([((im.astype(np.float32) * np.float32(1 / 255)) - 0.5) / 0.5 for im in images])
    return torch.from_numpy(arr.transpose(0, 3, 1, 2).copy())


# ---------------------------------------------------------------------------------------------------------- fixtures


def build(name: str, out: str) -> None:
    import transformers

    repo = os.path.join(out, name)
    os.makedirs(repo, exist_ok=True)
    model, tok, gen, extra = make(name)
    model.config.save_pretrained(repo)
    write_json(os.path.join(repo, "generation_config.json"), gen)
    save_tokenizer(tok, repo, extra)
    export_all(model, os.path.join(repo, "onnx"))
    merge(os.path.join(repo, "onnx"))
    eos = gen["eos_token_id"]
    start = gen["decoder_start_token_id"]
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(**gen)
    cases = []
    vision = name == "vit-gpt2"
    images: list[np.ndarray] = []
    if vision:
        os.makedirs(os.path.join(repo, "images"), exist_ok=True)
        rng = np.random.default_rng(5)
        for i in range(3):
            im = rng.integers(0, 256, (32, 32, 3))
            images.append(im)
            png(os.path.join(repo, "images", f"image{i}.png"), im)
        write_json(os.path.join(repo, "preprocessor_config.json"), {
            "image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 32, "width": 32},
            "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})

    def feed_for(indices: list[int]) -> tuple[dict, list]:
        if vision:
            return {"pixel_values": pixel_values([images[i] for i in indices])}, []
        rows = [tok.encode(TEXTS[i]).ids for i in indices]
        width = max(len(r) for r in rows)
        pad = gen["pad_token_id"]
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        return {"input_ids": ids, "attention_mask": mask}, rows

    def case(cid: str, indices: list[int], **options) -> None:
        feed, rows = feed_for(indices)
        opts = {"num_beams": 1, **options}
        seqs = torch_generate(model, feed, opts, eos)
        cases.append({
            "id": cid,
            "inputs": None if vision else [TEXTS[i] for i in indices],
            "images": [f"images/image{i}.png" for i in indices] if vision else None,
            "input_ids": rows,
            "options": opts,
            "sequences": seqs,
            "texts": [tok.decode(s, skip_special_tokens=True) for s in seqs],
            "file": None,
        })

    case("greedy", [0], max_new_tokens=12)
    case("greedy_long", [1], max_new_tokens=20)
    case("greedy_batch", [0, 1, 2], max_new_tokens=12)
    case("beam4", [1], max_new_tokens=12, num_beams=4)
    case("beam4_batch", [0, 1, 2], max_new_tokens=10, num_beams=4)
    if name == "marian":
        case("beam4_return2", [0], max_new_tokens=10, num_beams=4, num_return_sequences=2)
        case("beam4_early_false_lp05", [2], max_new_tokens=12, num_beams=4, early_stopping=False, length_penalty=0.5)
    if name == "t5":
        case("beam4_never_lp05", [1], max_new_tokens=12, num_beams=4, early_stopping="never", length_penalty=0.5)
        case("beam3_true_lp2", [0, 2], max_new_tokens=12, num_beams=3, early_stopping=True, length_penalty=2.0)
    # the exported graphs against torch (greedy, no bad words / forced tokens involved in the check's processors)
    if name in ("marian", "t5", "vit-gpt2"):  # (bart's forced BOS and 3-gram ban are not in this reference loop)
        feed, _ = feed_for([0, 1, 2])
        suppress = [gen["pad_token_id"]] if name == "marian" else []
        forced = gen.get("forced_eos_token_id")
        want = next(c for c in cases if c["id"] == "greedy_batch")["sequences"]
        got = ort_greedy(os.path.join(repo, "onnx"), "", {k: v.numpy() for k, v in feed.items()}, start, eos, 12,
                         suppress, forced)
        assert got == want, f"{name}: onnxruntime greedy {got} != torch {want}"
    if name == "marian":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        d = os.path.join(repo, "onnx")
        quantize_dynamic(f"{d}/encoder_model.onnx", f"{d}/encoder_model_quantized.onnx", weight_type=QuantType.QInt8)
        quantize_dynamic(f"{d}/decoder_model_merged.onnx", f"{d}/decoder_model_merged_quantized.onnx",
                         weight_type=QuantType.QInt8)
        feed, rows = feed_for([0, 1, 2])
        seqs = ort_greedy(d, "_quantized", {k: v.numpy() for k, v in feed.items()}, start, eos, 12,
                          [gen["pad_token_id"]], gen["forced_eos_token_id"])
        cases.append({"id": "quantized_greedy_batch", "inputs": TEXTS, "images": None, "input_ids": rows,
                      "options": {"num_beams": 1, "max_new_tokens": 12}, "sequences": seqs,
                      "texts": [tok.decode(s, skip_special_tokens=True) for s in seqs], "file": "quantized"})
        from onnxruntime.transformers.float16 import convert_float_to_float16
        import onnx

        for part in ("encoder_model", "decoder_model_merged"):
            onnx.save(convert_float_to_float16(onnx.load(f"{d}/{part}.onnx"), keep_io_types=False),
                      f"{d}/{part}_fp16.onnx")
        seqs = ort_greedy(d, "_fp16", {k: v.numpy() for k, v in feed.items()}, start, eos, 12,
                          [gen["pad_token_id"]], gen["forced_eos_token_id"])
        cases.append({"id": "fp16_greedy_batch", "inputs": TEXTS, "images": None, "input_ids": rows,
                      "options": {"num_beams": 1, "max_new_tokens": 12}, "sequences": seqs,
                      "texts": [tok.decode(s, skip_special_tokens=True) for s in seqs], "file": "fp16"})
        split = os.path.join(out, "marian-split")
        os.makedirs(os.path.join(split, "onnx"), exist_ok=True)
        for f in os.listdir(repo):
            if f != "onnx":
                shutil.copy(os.path.join(repo, f), split)
        for f in ("encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"):
            shutil.copy(os.path.join(d, f), os.path.join(split, "onnx", f))
    if name == "t5":
        os.remove(os.path.join(repo, "onnx", "decoder_model_merged.onnx"))
    else:
        for f in ("decoder_model.onnx", "decoder_with_past_model.onnx"):
            os.remove(os.path.join(repo, "onnx", f))
    write_json(os.path.join(repo, "goldens.json"), {
        "model": name, "torch": torch.__version__, "transformers": transformers.__version__,
        "decoder_start_token_id": start, "eos_token_id": [eos], "pad_token_id": gen["pad_token_id"], "cases": cases,
    })
    if name == "marian":
        shutil.copy(os.path.join(repo, "goldens.json"), os.path.join(out, "marian-split", "goldens.json"))


FIXTURES = ["marian", "t5", "bart", "vit-gpt2"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    only = [n for n in args.only.split(",") if n] or FIXTURES
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    for name in only:
        t = time.time()
        build(name, args.out)
        print(f"{name}: {time.time() - t:.1f}s", file=sys.stderr)
    with open(__file__, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    names = only + (["marian-split"] if "marian" in only else [])
    write_json(os.path.join(args.out, "manifest.json"), {"script_sha256": sha, "fixtures": names,
                                                         "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                                         "seconds": round(time.time() - started, 1)})


if __name__ == "__main__":
    main()
