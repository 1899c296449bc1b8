#!/usr/bin/env bash
# GPU check (issues 3 and 12): one prepared run on the lent GPU machine.
#
#   1. gpux runtime install cuda --from <the staged CUDA 13 provider>   into GPUX_HOME (not node_modules: the
#      staged copies there are removed first, so only the runtime folder can provide CUDA)
#   2. gpux doctor --json                      cuda must load, from the runtime folder's libonnxruntime
#   3. models: generated MatMul chains; the real models of shared/MODELS.md (carried in tests/.fixtures/npm);
#      ResNet-50 and BERT-base exported here with torch (random weights; BERT traced with batch 2)
#   4. gpux run --provider cuda vs cpu         same outputs within tolerance (TF32 is on by default on cuda)
#   5. gpux bench --provider cuda, batch 1 and 32 (and cpu for reference)
#   6. bench_runtime.ts --provider cuda        gpux's GpuxSession.run vs plain onnxruntime-node CUDA, same process
#   7. PyTorch eager CUDA fp32                 same models and batches, host copies included
#   8. summary table (markdown) for docs/performance.md
#
# Prerequisites on the GPU machine: staged with ../shared/gpu/stage.sh (deno, node_modules, ~/gpux-stage with
# cuda.so.xz + libonnxruntime_providers_shared.so, env.sh), and this tree with tests/.fixtures/npm carried along
# (run `deno task bench:runtime --cases npm` once here to fetch it). From the repository root on the device:
#   source ~/gpux-stage/env.sh && bash scripts/gpu_check.sh
# Dry run on a CPU machine (the "cuda" side runs on cpu, no install unless a provider is staged, no torch steps
# without torch):  bash scripts/gpu_check.sh --dry-run
# Everything goes to stdout and to $OUT (default /tmp/gpux-gpu); exit status 0 only if every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
DRY=0; [ "${1:-}" = "--dry-run" ] && DRY=1
OUT=${OUT:-/tmp/gpux-gpu}
mkdir -p "$OUT"
# models (BERT's weights are 440 MB) and the outputs compared stay out of $OUT, which comes back from the device
MODELS=${MODELS:-/tmp/gpux-gpu-models}; mkdir -p "$MODELS"
export GPUX_HOME=${GPUX_HOME:-/tmp/gpux-gpu-home} # the runtime folder holds 270 MB of libraries: not under $OUT
export NO_COLOR=1 DENO_NO_UPDATE_CHECK=1
PERMS="--allow-net --allow-env --allow-read --allow-write --allow-ffi --allow-sys --allow-run"
DENO="deno run --cached-only"
command -v deno >/dev/null || DENO="npx --no-install deno run --cached-only"
GPUX="$DENO $PERMS cli.ts"
CUDA=cuda; [ $DRY = 1 ] && CUDA=cpu
RUNS_GPU=${RUNS_GPU:-200}; [ $DRY = 1 ] && RUNS_GPU=5
fail=0
step() { printf '\n== %s\n' "$*"; }
bad() { echo "  FAILED: $*"; fail=1; }
HAVE_TORCH=0; python3 -c "import torch, transformers" 2>/dev/null && HAVE_TORCH=1

step "machine"
{ date -u +%Y-%m-%dT%H:%MZ; uname -srm; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found"; echo "cores $(nproc) · load $(cut -d' ' -f1-3 /proc/loadavg)"; $DENO --version 2>/dev/null | head -1 || deno --version | head -1; [ $DRY = 1 ] && echo "DRY RUN: the cuda side runs on cpu"; } | tee "$OUT/machine.txt"

step "1. gpux runtime install cuda --from the staged provider (GPUX_HOME=$GPUX_HOME)"
SRC=${PROVIDER_SRC:-$HOME/gpux-stage/cuda13}
if [ ! -f "$SRC/libonnxruntime_providers_cuda.so" ] && [ -f "$HOME/gpux-stage/cuda.so.xz" ]; then
  mkdir -p "$SRC" && xz -dc "$HOME/gpux-stage/cuda.so.xz" > "$SRC/libonnxruntime_providers_cuda.so" \
    && cp "$HOME/gpux-stage/libonnxruntime_providers_shared.so" "$SRC/"
fi
if [ -f "$SRC/libonnxruntime_providers_cuda.so" ]; then
  # unpack.sh put the provider next to node_modules' libonnxruntime: take it away, the runtime folder must do it
  for d in $(find node_modules -path '*onnxruntime-node/bin/napi-v*/linux/x64' -type d 2>/dev/null); do
    rm -f "$d"/libonnxruntime_providers_*.so; done
  $GPUX runtime install cuda --cuda 13 --from "$SRC" --force --json > "$OUT/install.json" 2> "$OUT/install.stderr" || bad "runtime install (see $OUT/install.stderr)"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('  installed', d['folder'], [f['name'] for f in d['manifest']['files']])" "$OUT/install.json" 2>/dev/null
  $GPUX runtime ls > "$OUT/runtime_ls.txt" 2>&1; sed 's/^/  /' "$OUT/runtime_ls.txt"
elif [ $DRY = 1 ]; then echo "  (dry run: no staged provider in $SRC; skipped)"
else bad "no staged provider: $SRC/libonnxruntime_providers_cuda.so (or ~/gpux-stage/cuda.so.xz)"; fi

step "2. gpux doctor --json"
$GPUX doctor --json > "$OUT/doctor.json" 2> "$OUT/doctor.stderr"
python3 - "$OUT/doctor.json" "$DRY" "$GPUX_HOME" <<'PY' || bad "cuda does not load (or not from the runtime folder)"
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["providers"]:
    print(f'  {p["name"]:9} {"loads" if p["available"] else "no   "}  {p.get("reason", "")}')
print("  onnxruntime loaded from:", d["onnxruntime"].get("loadedLibrary"))
print("  gpu:", d.get("gpu"), "· auto would use:", d["selected"])
print("  gpu libraries found:", ", ".join(l["name"] for l in d["gpuLibraries"] if l["found"]) or "none")
if sys.argv[2] == "1": sys.exit(0)
from_folder = (d["onnxruntime"].get("loadedLibrary") or "").startswith(sys.argv[3] + "/runtime/")
print("  loaded from the runtime folder:", from_folder)
sys.exit(0 if next(p for p in d["providers"] if p["name"] == "cuda")["available"] and from_folder else 1)
PY

step "3. models"
$DENO --allow-write scripts/gpu_models.ts "$MODELS" || bad "generated models"
FIX=tests/.fixtures/npm
for f in "$FIX/@ricky0123__vad-web@0.0.31/package/dist/silero_vad_v5.onnx" "$FIX/@gutenye__ocr-models@1.4.2/package/assets/ch_PP-OCRv4_rec_infer.onnx" "$FIX/@gutenye__ocr-models@1.4.2/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx"; do
  [ -f "$f" ] && cp "$f" "$MODELS/" || bad "missing $f (carry tests/.fixtures/npm)"
done
python3 - "$MODELS" <<'PY' || bad "inputs for the real models"
import json, sys
import numpy as np
d = sys.argv[1]; rng = np.random.default_rng(1)
np.save(f"{d}/ocr_rec_x.npy", rng.standard_normal((1, 3, 48, 320), dtype=np.float32))
np.save(f"{d}/ocr_cls_x.npy", rng.standard_normal((1, 3, 48, 192), dtype=np.float32))
json.dump({"input": [np.sin(np.arange(576) / 9).astype(float).tolist()], "state": np.zeros((2, 1, 128)).tolist(), "sr": 16000}, open(f"{d}/vad_input.json", "w"))
PY
if [ $HAVE_TORCH = 1 ]; then python3 scripts/gpu_torch.py export "$MODELS" || bad "torch export"
else echo "  torch/transformers not importable: ResNet-50 and BERT skipped"; fi

step "4. gpux run --provider $CUDA vs cpu (outputs compared)"
run_pair() { # name model input-args...
  local name=$1 model=$2; shift 2
  [ -f "$model" ] || { echo "  $name: skipped (no model)"; return; }
  for p in cpu $CUDA; do
    $GPUX run "$model" "$@" --provider "$p" --output "$MODELS/run_${name}_$p.json" -q > /dev/null 2> "$OUT/run_${name}_$p.stderr" || bad "run $name on $p (see $OUT/run_${name}_$p.stderr)"
  done
  python3 - "$MODELS/run_${name}_cpu.json" "$MODELS/run_${name}_$CUDA.json" "$name" <<'PY' | tee -a "$OUT/compare.txt" || bad "$name differs"
import json, sys
import numpy as np
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ok = True
for name in a:
    x, y = np.array(a[name]["data"], dtype=np.float64), np.array(b[name]["data"], dtype=np.float64)
    assert x.shape == y.shape, (name, x.shape, y.shape)
    scale = max(1.0, float(np.abs(x).max()))
    diff = float(np.abs(x - y).max())
    good = diff <= 1e-2 * scale  # TF32 matmuls on cuda: ~1e-3 relative
    ok &= good
    print(f"  {sys.argv[3]:10} {name[:24]:24} shape {list(x.shape)} max|cuda-cpu| {diff:.3g} (scale {scale:.3g}) {'SAME' if good else 'DIFFERENT'}")
sys.exit(0 if ok else 1)
PY
}
run_pair small "$MODELS/small.onnx" --file "$MODELS/small_input.json"
run_pair vad "$MODELS/silero_vad_v5.onnx" --file "$MODELS/vad_input.json"
run_pair ocr_rec "$MODELS/ch_PP-OCRv4_rec_infer.onnx" --input-npy "x=$MODELS/ocr_rec_x.npy"
run_pair ocr_cls "$MODELS/ch_ppocr_mobile_v2.0_cls_infer.onnx" --input-npy "x=$MODELS/ocr_cls_x.npy"
run_pair resnet50 "$MODELS/resnet50.onnx" --input-npy "x=$MODELS/resnet_x.npy"
run_pair bert "$MODELS/bert.onnx" --input-npy "input_ids=$MODELS/bert_input_ids.npy" --input-npy "attention_mask=$MODELS/bert_attention_mask.npy"

step "5. gpux bench --provider $CUDA (batch 1 and 32) and cpu"
bench() { # name model provider batch runs shapes...
  local name=$1 model=$2 p=$3 b=$4 runs=$5; shift 5
  [ -f "$model" ] || return
  $GPUX bench "$model" --provider "$p" --batch "$b" --runs "$runs" --warmup 10 "$@" --json > "$OUT/bench_${name}_b${b}_$p.json" 2> "$OUT/bench_${name}_b${b}_$p.stderr" || bad "bench $name b$b $p"
}
HEAVY_RUNS=30; [ $DRY = 1 ] && HEAVY_RUNS=2
bench heavy "$MODELS/heavy.onnx" "$CUDA" 256 $HEAVY_RUNS
bench heavy "$MODELS/heavy.onnx" cpu 256 2
BATCHES="1 32"; [ $DRY = 1 ] && BATCHES=1
for b in $BATCHES; do
  bench resnet50 "$MODELS/resnet50.onnx" "$CUDA" $b "$RUNS_GPU"
  bench resnet50 "$MODELS/resnet50.onnx" cpu $b 5
  bench bert "$MODELS/bert.onnx" "$CUDA" $b "$RUNS_GPU" --shape "input_ids=${b}x128" --shape "attention_mask=${b}x128"
  bench bert "$MODELS/bert.onnx" cpu $b 5 --shape "input_ids=${b}x128" --shape "attention_mask=${b}x128"
done
bench ocr_rec "$MODELS/ch_PP-OCRv4_rec_infer.onnx" "$CUDA" 1 "$RUNS_GPU" --shape x=1x3x48x320

step "6. bench_runtime: GpuxSession.run vs plain onnxruntime-node, both on $CUDA, same process"
BR="$DENO $PERMS scripts/bench_runtime.ts --provider $CUDA --python none --pairs 4 --json --cases"
for b in $BATCHES; do
  [ -f "$MODELS/resnet50.onnx" ] && { $BR none --runs "$RUNS_GPU" --model "$MODELS/resnet50.onnx" --shape "x=${b}x3x224x224" > "$OUT/plain_resnet50_b$b.json" 2> "$OUT/plain_resnet50_b$b.stderr" || bad "bench_runtime resnet50 b$b"; }
  [ -f "$MODELS/bert.onnx" ] && { $BR none --runs "$RUNS_GPU" --model "$MODELS/bert.onnx" --shape "input_ids=${b}x128" --shape "attention_mask=${b}x128" > "$OUT/plain_bert_b$b.json" 2> "$OUT/plain_bert_b$b.stderr" || bad "bench_runtime bert b$b"; }
done
GENERATED=tiny,mid,heavy; [ $DRY = 1 ] && GENERATED=tiny,mid
$BR $GENERATED --runs "$RUNS_GPU" > "$OUT/plain_generated.json" 2> "$OUT/plain_generated.stderr" || bad "bench_runtime generated"

step "7. PyTorch eager CUDA fp32"
if [ $HAVE_TORCH = 1 ] && [ $DRY = 0 ]; then python3 scripts/gpu_torch.py eager > "$OUT/torch_eager.json" || bad "torch eager"; cat "$OUT/torch_eager.json"
else echo "  skipped (dry run or no torch)"; fi

step "8. summary (paste into docs/performance.md)"
python3 - "$OUT" "$CUDA" <<'PY' | tee "$OUT/summary.md"
import json, os, sys
out, cuda = sys.argv[1], sys.argv[2]
def load(n):
    try: return json.load(open(os.path.join(out, n)))
    except Exception: return None
print(open(os.path.join(out, "machine.txt")).read().strip().replace("\n", " · "))
print()
eager = (load("torch_eager.json") or {}).get("ms", {})
ref = {("resnet50", 1): (2.30, 6.05), ("resnet50", 32): (9.21, 9.75), ("bert", 1): (2.83, 5.64), ("bert", 32): (13.34, 21.27)}
print(f"| model | batch | gpux bench {cuda} p50 ms | plain onnxruntime-node {cuda} p50 ms (same process) | gpux/plain | PyTorch eager ms | eager/gpux | gpux bench cpu p50 ms | H100 reference plain / eager |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for m in ("resnet50", "bert"):
    for b in (1, 32):
        g = load(f"bench_{m}_b{b}_{cuda}.json"); c = load(f"bench_{m}_b{b}_cpu.json"); p = load(f"plain_{m}_b{b}.json")
        gp = g["latencyMs"]["p50"] if g and "latencyMs" in g else None
        pp = p["results"][0]["plainMs"] if p and p.get("results") else None
        e = eager.get(f"{m} b{b}")
        f = lambda v, d=3: "-" if v is None else f"{v:.{d}f}"
        ratio = f"{gp / pp:.3f}" if gp and pp else "-"
        er = f"{e / gp:.2f}×" if gp and e else "-"
        cp = c["latencyMs"]["p50"] if c and "latencyMs" in c else None
        print(f"| {m} | {b} | {f(gp)} | {f(pp)} | {ratio} | {f(e, 2)} | {er} | {f(cp, 1)} | {ref[(m, b)][0]} / {ref[(m, b)][1]} |")
for n in ("heavy_b256", "ocr_rec_b1"):
    g = load(f"bench_{n}_{cuda}.json"); c = load(f"bench_{n}_cpu.json")
    if g and "latencyMs" in g:
        print(f"\n{n}: gpux bench {cuda} p50 {g['latencyMs']['p50']:.3f} ms" + (f", cpu p50 {c['latencyMs']['p50']:.1f} ms" if c and "latencyMs" in c else ""), end="")
print()
PY
echo
[ $fail = 0 ] && echo "GPU CHECK: all steps passed" || echo "GPU CHECK: some step failed (see $OUT)"
exit $fail
