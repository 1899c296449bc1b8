"""Reference Whisper log-mel features from Python transformers' WhisperFeatureExtractor (numpy path),
for tests/audio_log_mel_test.ts. Called by scripts/audio_golden.ts with a raw float32 little-endian
file of 16 kHz samples and the number of samples to keep; prints one JSON document."""
import json, sys
import numpy as np
import transformers
from transformers import WhisperFeatureExtractor

samples = np.fromfile(sys.argv[1], dtype="<f4")
count = int(sys.argv[2])
out = {"transformers": transformers.__version__, "cases": {}}
for name, kwargs in {"whisper80": {}, "whisper128": {"feature_size": 128}}.items():
    fe = WhisperFeatureExtractor(**kwargs)
    features = fe(samples, sampling_rate=16000, return_tensors="np")["input_features"][0].astype(np.float32)
    flat = features.reshape(-1)
    step = max(1, flat.size // count)
    out["cases"][name] = {
        "shape": list(features.shape),
        "mean": float(flat.astype(np.float64).mean()),
        "min": float(flat.min()),
        "max": float(flat.max()),
        "step": step,
        "samples": [float(v) for v in flat[::step][:count]],
    }
json.dump(out, sys.stdout)
