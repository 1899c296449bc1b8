"""Python baselines for scripts/bench_processing.ts, timed in the same run: Python `tokenizers` on the
same texts and tokenizer.json, and Pillow + transformers' ViTImageProcessor (Pillow backend) on the same
JPEG. Arguments: the benchmark's temp folder and the number of runs. Prints one JSON object (ms)."""
import json, os, statistics, sys, time

folder, runs = sys.argv[1], int(sys.argv[2])

def timed(fn, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)

out = {}
texts_path = os.path.join(folder, "texts.json")
if os.path.exists(texts_path):
    from tokenizers import Tokenizer
    texts = json.load(open(texts_path))
    tok = Tokenizer.from_file(os.path.join(folder, "qwen3", "tokenizer.json"))
    sentence = texts["sentence"]
    out["tokenize_sentence_ms"] = timed(lambda: [tok.encode(sentence) for _ in range(100)]) / 100
    tok.enable_truncation(128)
    tok.enable_padding()
    out["tokenize_batch_ms"] = timed(lambda: tok.encode_batch(texts["long"]))

try:
    from PIL import Image, ImageOps
    import logging
    logging.disable(logging.WARNING)
    from transformers import ViTImageProcessor
except Exception as e:  # a venv with tokenizers only still gives the tokenization baseline
    out["image_error"] = f"{type(e).__name__}: {e}".splitlines()[0]
    json.dump(out, sys.stdout)
    sys.exit(0)

processor = ViTImageProcessor(size={"height": 224, "width": 224}, resample=2, image_mean=[0.5] * 3, image_std=[0.5] * 3)
jpeg = os.path.join(folder, "photo.jpg")

def image():
    img = ImageOps.exif_transpose(Image.open(jpeg)).convert("RGB")
    return processor(images=img, return_tensors="np")["pixel_values"]

out["image_ms"] = timed(image)

import numpy as np
from transformers import WhisperFeatureExtractor

whisper = WhisperFeatureExtractor()
clip = np.fromfile(os.path.join(folder, "clip16k.f32"), dtype="<f4")
out["log_mel_ms"] = timed(lambda: whisper(clip, sampling_rate=16000, return_tensors="np"), warmup=1)
json.dump(out, sys.stdout)
