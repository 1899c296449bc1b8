/**
 * Writes the models and input `scripts/gpu_check.sh` uses (generated, so nothing has to be carried):
 *   small.onnx   4×(MatMul 512² + Tanh), x f32[batch, 512]  — cuda vs cpu output comparison
 *   heavy.onnx   4×(MatMul 4096² + Tanh), x f32[batch, 4096] (256 MB of weights) — cuda vs cpu speed
 *   small_input.json  {"x": 8×512 deterministic values in [-1, 1)}
 *
 * Usage: deno run --allow-write scripts/gpu_models.ts <dir>
 *
 * @module
 */
import { matmulChainModel, writeModel } from "../tests/support/onnx_builder.ts";

const dir = Deno.args[0];
if (!dir) {
  console.error("usage: deno run --allow-write scripts/gpu_models.ts <dir>");
  Deno.exit(2);
}
await Deno.mkdir(dir, { recursive: true });
await writeModel(`${dir}/small.onnx`, matmulChainModel(512, 4));
await writeModel(`${dir}/heavy.onnx`, matmulChainModel(4096, 4));
let seed = 7;
const row = () =>
  Array.from({ length: 512 }, () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return Math.round(((seed / 0xffffffff) * 2 - 1) * 1e4) / 1e4;
  });
await Deno.writeTextFile(`${dir}/small_input.json`, JSON.stringify({ x: Array.from({ length: 8 }, row) }));
console.log(`wrote ${dir}/small.onnx, ${dir}/heavy.onnx, ${dir}/small_input.json`);
