"""Python onnxruntime's side of scripts/bench_runtime.ts: one model, its feeds from .npy files, timed with
Python onnxruntime's defaults and with a given intra-op thread count, in alternating blocks (a fresh session
per block, a few untimed runs first), like the Deno side. Prints one JSON object: median ms per setting.

usage: python3 bench_runtime_python.py MODEL.onnx RUNS THREADS PAIRS name=file.npy ...
"""
import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

model, runs, threads, pairs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
feeds = {}
for spec in sys.argv[5:]:
    name, path = spec.rsplit("=", 1)
    feeds[name] = np.load(path)

samples = {"default": [], "threads": []}
per_block = max(1, -(-runs // pairs))
for block in range(-1, pairs * 2):
    setting = "default" if block % 2 == 0 else "threads"
    options = ort.SessionOptions()
    if setting == "threads":
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    for _ in range(3):
        session.run(None, feeds)
    for _ in range(per_block):
        t = time.perf_counter()
        session.run(None, feeds)
        if block >= 0:
            samples[setting].append((time.perf_counter() - t) * 1000)
    del session

print(json.dumps({
    "version": ort.__version__,
    "defaultMs": statistics.median(samples["default"]),
    "threadsMs": statistics.median(samples["threads"]),
    "threads": threads,
}))
