/**
 * Writes a tiny ONNX model (float32 identity, input `x` of shape [batch, 3]) to the path given: the model the
 * release workflow runs each compiled binary on. `deno run --allow-write scripts/write_tiny_model.ts out.onnx`
 *
 * @module
 */
import { identityModel, writeModel } from "../tests/support/onnx_builder.ts";

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) {
    console.error("usage: write_tiny_model.ts <out.onnx>");
    Deno.exit(2);
  }
  await writeModel(path, identityModel("float32", ["batch", 3]));
  console.log(`wrote ${path}`);
}
