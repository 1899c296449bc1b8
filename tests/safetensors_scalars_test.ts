/**
 * readSafetensorsScalars (src/processing/safetensors_scalars.ts): one-element tensors read from a safetensors
 * header and its bytes, in the float dtypes checkpoints use; hostile files (a header longer than the file or the
 * limit, a header that is not JSON, a "scalar" of many values) are an InputError naming the file, never a crash or
 * a huge allocation.
 */
import { assertEquals, assertRejects } from "./support/assert.ts";
import { InputError } from "../src/errors.ts";
import { ModelFiles } from "../src/processing/model_files.ts";
import { readSafetensorsScalars, readSafetensorsScalarsFile } from "../src/processing/safetensors_scalars.ts";

function safetensors(header: unknown, data: Uint8Array, declared?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("safetensors scalars: F32, F16, BF16 and F64 one-element tensors are read; absent names left out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-safetensors-" });
  try {
    const data = new Uint8Array(32);
    const view = new DataView(data.buffer);
    view.setFloat32(0, 4.605170249938965, true); // logit_scale (F32)
    view.setUint16(4, 0xbc00, true); // -1 as F16
    view.setUint16(6, 0x4049, true); // 3.140625 as BF16
    view.setFloat64(8, -12.5, true);
    const header = {
      __metadata__: { format: "pt" },
      logit_scale: { dtype: "F32", shape: [], data_offsets: [0, 4] },
      half: { dtype: "F16", shape: [1], data_offsets: [4, 6] },
      brain: { dtype: "BF16", shape: [], data_offsets: [6, 8] },
      logit_bias: { dtype: "F64", shape: [1], data_offsets: [8, 16] },
      weight: { dtype: "F32", shape: [4], data_offsets: [16, 32] },
    };
    await Deno.writeFile(`${dir}/model.safetensors`, safetensors(header, data));
    const got = await readSafetensorsScalars(new ModelFiles([dir]), [
      "logit_scale",
      "half",
      "brain",
      "logit_bias",
      "nope",
    ]);
    assertEquals(got, { logit_scale: Math.fround(4.605170249938965), half: -1, brain: 3.140625, logit_bias: -12.5 });
    assertEquals(await readSafetensorsScalars(new ModelFiles([`${dir}/none`]), ["logit_scale"]), undefined);

    const path = `${dir}/bad.safetensors`;
    await Deno.writeFile(path, safetensors(header, data, 1e12));
    await assertRejects(() => readSafetensorsScalarsFile(path, ["logit_scale"]), InputError, "safetensors header of");
    await Deno.writeFile(path, Uint8Array.of(5, 0, 0, 0, 0, 0, 0, 0, 123, 34, 120, 34, 58));
    await assertRejects(() => readSafetensorsScalarsFile(path, ["logit_scale"]), InputError, "not JSON");
    await Deno.writeFile(path, safetensors(header, data));
    await assertRejects(() => readSafetensorsScalarsFile(path, ["weight"]), InputError, "is not one float");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
