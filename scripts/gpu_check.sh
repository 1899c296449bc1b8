#!/usr/bin/env bash
# GPU check for the runtime (issue 3): one prepared run on the lent GPU machine.
#
#   1. gpux doctor --json                      cuda must load (doctor tries it for real)
#   2. gpux run --provider cuda vs cpu         same outputs within float tolerance (TF32 is on by default)
#   3. gpux bench --provider cuda vs cpu       on a compute-heavy generated model: the speed-up
#   4. bench_runtime.ts --provider cuda        gpux's GpuxSession.run vs plain onnxruntime-node on CUDA
#
# Prerequisite: staged with ../shared/gpu/stage.sh (deno, node_modules with the CUDA 13 provider
# next to libonnxruntime.so.1, env.sh). From the repository root on the device:
#   source ~/gpux-stage/env.sh && bash scripts/gpu_check.sh
# Everything it measures goes to stdout (a markdown table at the end) and to $OUT (default /tmp/gpux-gpu).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpux-gpu}
mkdir -p "$OUT"
MODELS="$OUT/models"
PERMS="--allow-net --allow-env --allow-read --allow-write --allow-ffi --allow-sys"
DENO="deno run --cached-only"
GPUX="$DENO $PERMS cli.ts"
export NO_COLOR=1 DENO_NO_UPDATE_CHECK=1
fail=0
step() { printf '\n== %s\n' "$*"; }

step "machine"
{ date -u +%Y-%m-%dT%H:%MZ; uname -srm; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found"; nproc; deno --version | head -1; } | tee "$OUT/machine.txt"

step "1. gpux doctor --json"
$GPUX doctor --json > "$OUT/doctor.json" 2> "$OUT/doctor.stderr"
python3 - "$OUT/doctor.json" <<'PY' || fail=1
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["providers"]:
    print(f'  {p["name"]:9} {"loads" if p["available"] else "no   "}  {p.get("reason", "")}')
print("  auto would use:", d["selected"])
print("  gpu libraries found:", ", ".join(l["name"] for l in d["gpuLibraries"] if l["found"]) or "none")
sys.exit(0 if next(p for p in d["providers"] if p["name"] == "cuda")["available"] else 1)
PY

step "2. models"
$DENO --allow-write scripts/gpu_models.ts "$MODELS" || exit 1

step "3. gpux run --provider cuda vs cpu (same input, outputs compared)"
for p in cpu cuda; do
  $GPUX run "$MODELS/small.onnx" --file "$MODELS/small_input.json" --provider "$p" --json > "$OUT/run_$p.json" 2> "$OUT/run_$p.stderr"
  echo "  $p: exit $? (provider $(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('provider'))" "$OUT/run_$p.json" 2>/dev/null))"
done
python3 - "$OUT/run_cpu.json" "$OUT/run_cuda.json" <<'PY' | tee "$OUT/compare.txt" || fail=1
import json, sys
a = json.load(open(sys.argv[1]))["outputs"]["y"]; b = json.load(open(sys.argv[2]))["outputs"]["y"]
assert a["shape"] == b["shape"], (a["shape"], b["shape"])
flat = lambda v: [x for r in v for x in (flat(r) if isinstance(r, list) else [r])] if isinstance(v, list) else [v]
xa, xb = flat(a["data"]), flat(b["data"])
diff = max(abs(x - y) for x, y in zip(xa, xb))
worst_rel = max(abs(x - y) / max(abs(x), 1e-3) for x, y in zip(xa, xb))
ok = all(abs(x - y) <= 2e-3 + 1e-2 * abs(x) for x, y in zip(xa, xb))
print(f"  shape {a['shape']}: max |cuda - cpu| = {diff:.3g}, max relative = {worst_rel:.3g} -> {'SAME within atol 2e-3 + rtol 1e-2' if ok else 'DIFFERENT'}")
sys.exit(0 if ok else 1)
PY

step "4. gpux bench --provider cuda vs cpu (heavy: 4 × MatMul 4096², batch 256)"
$GPUX bench "$MODELS/heavy.onnx" --provider cpu --batch 256 --runs 5 --warmup 1 --json > "$OUT/bench_cpu.json" 2> "$OUT/bench_cpu.stderr" || fail=1
$GPUX bench "$MODELS/heavy.onnx" --provider cuda --batch 256 --runs 30 --warmup 5 --json > "$OUT/bench_cuda.json" 2> "$OUT/bench_cuda.stderr" || fail=1
$GPUX bench "$MODELS/small.onnx" --provider cpu --batch 8 --runs 200 --warmup 10 --json > "$OUT/bench_small_cpu.json" 2>/dev/null || fail=1
$GPUX bench "$MODELS/small.onnx" --provider cuda --batch 8 --runs 200 --warmup 10 --json > "$OUT/bench_small_cuda.json" 2>/dev/null || fail=1

step "5. bench_runtime: GpuxSession.run vs plain onnxruntime-node, both on cuda"
$DENO $PERMS scripts/bench_runtime.ts --provider cuda --cases tiny,mid,heavy --runs 200 --pairs 4 | tee "$OUT/bench_runtime_cuda.md" || fail=1

step "summary (paste into docs/performance.md)"
python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import json, sys, os
out = sys.argv[1]
def load(n):
    try: return json.load(open(os.path.join(out, n)))
    except Exception as e: return None
print(open(os.path.join(out, "machine.txt")).read().strip().replace("\n", " · "))
print()
print("| model | provider | create ms | first run ms | p50 ms | mean ms | p99 ms | inferences/s | items/s |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
rows = {}
for name, label in [("bench_small_cpu", "small 4×512², batch 8"), ("bench_small_cuda", "small 4×512², batch 8"),
                    ("bench_cpu", "heavy 4×4096², batch 256"), ("bench_cuda", "heavy 4×4096², batch 256")]:
    d = load(name + ".json")
    if not d or "latencyMs" not in d: print(f"| {label} | {name} failed | | | | | | | |"); continue
    l = d["latencyMs"]; rows[name] = l["p50"]
    print(f"| {label} | {d['provider']} | {d['createMs']:.1f} | {d['firstRunMs']:.2f} | {l['p50']:.3f} | {l['mean']:.3f} | {l['p99']:.3f} | {d['throughput']['inferencesPerSec']:.1f} | {d['throughput']['itemsPerSec']:.0f} |")
for cpu, gpu, label in [("bench_small_cpu", "bench_small_cuda", "small"), ("bench_cpu", "bench_cuda", "heavy")]:
    if cpu in rows and gpu in rows: print(f"\nspeed-up {label}: cpu p50 / cuda p50 = {rows[cpu] / rows[gpu]:.1f}×", end="")
print()
PY
echo
[ $fail = 0 ] && echo "GPU CHECK: all steps passed" || echo "GPU CHECK: some step failed (see $OUT)"
exit $fail
