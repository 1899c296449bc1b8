"""Python onnxruntime's side of scripts/bench_runtime.ts: one model and its feeds (.npy files), timed in blocks
that the Deno side asks for on stdin, between its own blocks, so that both sides see the same machine load.

usage: python3 bench_runtime_python.py MODEL.onnx name=file.npy ...
then, per line on stdin:  "default N" (onnxruntime's defaults) or "threads T N" (intra_op_num_threads = T)
answers one JSON line per request: {"samples": [ms, ...]} (a fresh session, 3 untimed runs, N timed runs);
the first line it prints is {"version": "<onnxruntime version>"}.
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort

model = sys.argv[1]
feeds = {}
for spec in sys.argv[2:]:
    name, path = spec.rsplit("=", 1)
    feeds[name] = np.load(path)

print(json.dumps({"version": ort.__version__}), flush=True)
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    options = ort.SessionOptions()
    if words[0] == "threads":
        options.intra_op_num_threads = int(words[1])
    runs = int(words[-1])
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    for _ in range(3):
        session.run(None, feeds)
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        session.run(None, feeds)
        samples.append((time.perf_counter() - t) * 1000)
    del session
    print(json.dumps({"samples": samples}), flush=True)
