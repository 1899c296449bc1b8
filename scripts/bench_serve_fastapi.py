"""The FastAPI + uvicorn + onnxruntime baseline of `deno task bench:serve`: the same model behind the
plainest Python server a team would write. POST /predict takes {input_name: nested list} and answers
{"outputs": {name: {"shape": [...], "data": nested list}}}; GET /health answers {"status": "ok"}.

Run: MODEL=path.onnx python bench_serve_fastapi.py PORT
"""
import os
import sys

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI

session = ort.InferenceSession(os.environ["MODEL"], providers=["CPUExecutionProvider"])
inputs = {i.name: i for i in session.get_inputs()}
TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(double)": np.float64}
app = FastAPI()


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/predict")
def predict(body: dict):
    feeds = {name: np.asarray(value, dtype=TYPES[inputs[name].type]) for name, value in body.items()}
    results = session.run(None, feeds)
    return {
        "outputs": {
            o.name: {"shape": list(r.shape), "data": r.tolist()} for o, r in zip(session.get_outputs(), results)
        }
    }


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", workers=1)
