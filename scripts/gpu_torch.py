"""PyTorch side of scripts/gpu_check.sh (runs on the GPU machine, which has torch, torchvision, transformers and
numpy but no network: random weights, which cost the same to run).

  python3 scripts/gpu_torch.py export DIR     resnet50.onnx (torch.onnx.export, dynamo=False, dynamic batch) and
                                              bert.onnx (bert-base, the dynamo exporter, traced with batch 2 so the
                                              batch dimension stays dynamic; sequence 128), plus .npy inputs:
                                              resnet_x.npy [1,3,224,224], bert_input_ids.npy / bert_attention_mask.npy [2,128]
  python3 scripts/gpu_torch.py eager DIR      PyTorch eager CUDA fp32 median ms at batch 1 and 32, inputs from and
                                              outputs to host memory (as onnxruntime-node's are): prints JSON
"""
import json
import statistics
import sys
import time

import numpy as np
import torch

SEQ = 128


def resnet():
    import torchvision
    return torchvision.models.resnet50(weights=None).eval()


def bert():
    import transformers
    model = transformers.BertModel(transformers.BertConfig())
    model.eval()
    return model


def export(out):
    rng = np.random.default_rng(0)
    ok = True
    try:
        x = rng.standard_normal((1, 3, 224, 224), dtype=np.float32)
        np.save(f"{out}/resnet_x.npy", x)
        torch.onnx.export(resnet(), (torch.from_numpy(x),), f"{out}/resnet50.onnx", input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=17, dynamo=False)
        print(f"exported {out}/resnet50.onnx (torch {torch.__version__})")
    except Exception as e:  # one model failing must not hide the other
        print(f"resnet50 export failed: {type(e).__name__}: {e}", file=sys.stderr)
        ok = False
    try:
        ids = rng.integers(1000, 30000, size=(2, SEQ), dtype=np.int64)
        mask = np.ones((2, SEQ), dtype=np.int64)
        np.save(f"{out}/bert_input_ids.npy", ids)
        np.save(f"{out}/bert_attention_mask.npy", mask)
        # the dynamo exporter (torch's default); traced with batch 2 so that the batch dimension stays symbolic
        torch.onnx.export(bert(), (torch.from_numpy(ids), torch.from_numpy(mask)), f"{out}/bert.onnx",
                          input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state", "pooler_output"],
                          dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}})
        print(f"exported {out}/bert.onnx (torch {torch.__version__})")
    except Exception as e:
        print(f"bert export failed: {type(e).__name__}: {e}", file=sys.stderr)
        ok = False
    sys.exit(0 if ok else 1)


def timed(fn, runs=50, warmup=10):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def eager():
    dev = torch.device("cuda")
    results = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "ms": {}}
    with torch.inference_mode():
        r = resnet().to(dev)
        b = bert().to(dev)
        for batch in (1, 32):
            x = torch.randn(batch, 3, 224, 224)
            results["ms"][f"resnet50 b{batch}"] = timed(lambda: r(x.to(dev)).cpu())
            ids = torch.randint(1000, 30000, (batch, SEQ))
            mask = torch.ones(batch, SEQ, dtype=torch.int64)
            results["ms"][f"bert b{batch}"] = timed(lambda: b(input_ids=ids.to(dev), attention_mask=mask.to(dev)).last_hidden_state.cpu())
    print(json.dumps(results))


if __name__ == "__main__":
    {"export": lambda: export(sys.argv[2]), "eager": eager}[sys.argv[1]]()
