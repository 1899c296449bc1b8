#!/usr/bin/env python3
"""The Python side of `deno task bench:generate` (scripts/bench_generate.ts drives it; run in the generation venv).

    bench_generate.py build OUTDIR --tokenizer-from DIR [--shape smollm2-135m]
        a random-weight Llama with SmolLM2-135M's shape (hidden 576, intermediate 1536, 30 layers, 9 heads, 3 KV heads,
        vocab 49,152, tied), saved as safetensors (for PyTorch) and exported with torch.onnx (dynamo) to
        OUTDIR/onnx/model.onnx with optimum's names; tokenizer files copied from DIR (the llama fixture's: its ids
        are < 1024, valid in this vocabulary). About 3 minutes, 540 MB of ONNX + 540 MB of safetensors.
    bench_generate.py ort|torch DIR --threads N --prompt P --new N
        one greedy generation of N tokens after a P-token prompt (EOS ignored) after a short warm-up; prints one
        JSON line: prefill_ms, ttft_ms, decode_tokens_per_s, load_ms (peak RSS is measured outside, by /usr/bin/time).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

SHAPES = {
    "smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, head_dim=64, vocab_size=49152, tie_word_embeddings=True,
                         max_position_embeddings=8192, rms_norm_eps=1e-5),
    # Qwen2.5-0.5B's dimensions on the Llama architecture (no q/k/v bias): its memory traffic, not its exact graph
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, head_dim=64, vocab_size=151936, tie_word_embeddings=True,
                         max_position_embeddings=32768, rms_norm_eps=1e-6),
}


def prompt_ids(n: int) -> list[int]:
    """The same deterministic prompt as scripts/bench_generate.ts (ids 10..999)."""
    return [10 + (i * 7919) % 990 for i in range(n)]


def fixtures_module():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "build_generation_fixtures.py")
    spec = importlib.util.spec_from_file_location("build_generation_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(out: str, tokenizer_from: str, shape: str) -> None:
    import transformers

    torch.set_num_threads(1)
    fx = fixtures_module()
    started = time.time()
    dims = SHAPES[shape]
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(bos_token_id=0, eos_token_id=[1, 4], pad_token_id=1, **dims)
    cfg._attn_implementation = "eager"
    model = transformers.LlamaForCausalLM(cfg).eval()
    cfg.architectures = ["LlamaForCausalLM"]
    tmp = out + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "onnx"))
    model.save_pretrained(tmp)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tokenizer_from, f), os.path.join(tmp, f))
    spec = {"kv_heads": dims["num_key_value_heads"], "head_dim": dims["head_dim"]}
    # over ~1.5 GB of fp32 weights the protobuf limit (2 GB) is near: keep them in onnx/model.onnx.data
    large = sum(p.numel() for p in model.parameters()) * 4 > 1.5e9
    fx.export_decoder(model, spec, os.path.join(tmp, "onnx", "model.onnx"), external_data=large)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    print(json.dumps({"built_s": round(time.time() - started, 1)}))


def run_ort(path: str, threads: int, ids: list[int], new: int) -> dict:
    import onnxruntime as ort

    started = time.perf_counter()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(path, "onnx", "model.onnx"), opts, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - started) * 1000
    metas = [i for i in sess.get_inputs() if i.name.startswith("past_key_values.")]
    out_names = [o.name for o in sess.get_outputs()]

    def generate(prompt: list[int], n: int) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        feed = {
            "input_ids": np.array([prompt], dtype=np.int64),
            "attention_mask": np.ones((1, len(prompt)), dtype=np.int64),
            "position_ids": np.arange(len(prompt), dtype=np.int64)[None, :],
        }
        for m in metas:
            feed[m.name] = np.zeros((1, m.shape[1], 0, m.shape[3]), dtype=np.float32)
        total = len(prompt)
        prefill = first = 0.0
        for step in range(n):
            results = dict(zip(out_names, sess.run(out_names, feed)))
            if step == 0:
                prefill = time.perf_counter() - t0
            token = int(results["logits"][0, -1].argmax())
            if step == 0:
                first = time.perf_counter()
            total += 1
            feed = {
                "input_ids": np.array([[token]], dtype=np.int64),
                "attention_mask": np.ones((1, total), dtype=np.int64),
                "position_ids": np.array([[total - 1]], dtype=np.int64),
            }
            for name in out_names:
                if name.startswith("present."):
                    feed["past_key_values." + name[len("present."):]] = results[name]
        end = time.perf_counter()
        return prefill * 1000, (first - t0) * 1000, (n - 1) / (end - first)

    generate(ids[:8], 4)
    prefill_ms, ttft_ms, tps = generate(ids, new)
    return {"prefill_ms": prefill_ms, "ttft_ms": ttft_ms, "decode_tokens_per_s": tps, "load_ms": load_ms}


def run_torch(path: str, threads: int, ids: list[int], new: int) -> dict:
    import transformers
    from transformers.generation.streamers import BaseStreamer

    torch.set_num_threads(threads)
    started = time.perf_counter()
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    load_ms = (time.perf_counter() - started) * 1000

    class Stamps(BaseStreamer):
        def __init__(self):
            self.times = []

        def put(self, value):
            self.times.append(time.perf_counter())

        def end(self):
            pass

    def generate(prompt: list[int], n: int) -> tuple[float, float, float]:
        stamps = Stamps()
        t0 = time.perf_counter()
        with torch.no_grad():
            model.generate(
                input_ids=torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                max_new_tokens=n, min_new_tokens=n, do_sample=False, streamer=stamps, pad_token_id=1,
            )
        # times[0]: the prompt handed to the streamer; times[1]: the first new token
        first, last = stamps.times[1], stamps.times[-1]
        return (first - t0) * 1000, (first - t0) * 1000, (n - 1) / (last - first)

    generate(ids[:8], 4)
    prefill_ms, ttft_ms, tps = generate(ids, new)
    return {"prefill_ms": None, "ttft_ms": ttft_ms, "decode_tokens_per_s": tps, "load_ms": load_ms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["build", "ort", "torch"])
    parser.add_argument("dir")
    parser.add_argument("--tokenizer-from")
    parser.add_argument("--shape", default="smollm2-135m", choices=list(SHAPES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--new", type=int, default=128)
    args = parser.parse_args()
    if args.mode == "build":
        build(args.dir, args.tokenizer_from, args.shape)
        return
    run = run_ort if args.mode == "ort" else run_torch
    print(json.dumps(run(args.dir, args.threads, prompt_ids(args.prompt), args.new)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
