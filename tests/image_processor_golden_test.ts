/**
 * Image pre-processing against Python transformers' image processors (Pillow backend) on one
 * generated photo-like JPEG: tests/goldens/image_processors.json, written by scripts/image_golden.ts.
 *
 * Tolerance: every sampled value within 1e-6 of Python's and the mean within 1e-6 (so any pixel one
 * 8-bit level off, ≈ 0.008 after normalization, fails), and then the SHA-256 of the whole float32
 * tensor equal to Python's: the arithmetic is the same (Pillow's fixed-point resampling, float32 rescale
 * and normalize), so the tensors are bit-identical.
 */
import assert from "node:assert/strict";
import { decodeImage } from "../src/processing/image_decode.ts";
import { imageSpecFromProcessorConfig, imagesToTensor, resizeAndCrop } from "../src/processing/image_preprocess.ts";
import { GOLDEN_CASES, goldenJpeg } from "./support/image_golden.ts";

interface GoldenCase {
  shape: number[];
  mean: number;
  sha256: string;
  step: number;
  samples: number[];
}
const golden = JSON.parse(await Deno.readTextFile(new URL("./goldens/image_processors.json", import.meta.url))) as {
  jpegSha256: string;
  image: [number, number];
  cases: Record<string, GoldenCase>;
};

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

const jpeg = await goldenJpeg();

Deno.test("the golden JPEG is the one the golden data was computed from", async () => {
  assert.equal(
    await sha256(jpeg),
    golden.jpegSha256,
    "the JPEG encoder's output changed (sharp upgraded?): rerun `deno run -A scripts/image_golden.ts`",
  );
});

for (const decoder of ["native", "wasm"] as const) {
  for (const [name, expected] of Object.entries(golden.cases)) {
    Deno.test(`${decoder} decoder + ${name} preprocessing equals transformers' image processor`, async () => {
      const image = await decodeImage(jpeg, "golden.jpg", { decoder });
      assert.deepEqual([image.width, image.height], golden.image, "EXIF orientation 6 gives a portrait image");
      const spec = imageSpecFromProcessorConfig(GOLDEN_CASES[name].config);
      const tensor = imagesToTensor([resizeAndCrop(image, spec)], spec, "nchw");
      assert.deepEqual(tensor.shape, expected.shape);
      const values = tensor.data as Float32Array;
      let worst = 0, worstAt = -1;
      expected.samples.forEach((v, i) => {
        const d = Math.abs(values[i * expected.step] - v);
        if (d > worst) (worst = d, worstAt = i * expected.step);
      });
      assert.ok(worst <= 1e-6, `largest difference ${worst} at flat index ${worstAt}`);
      let sum = 0;
      for (const v of values) sum += v;
      assert.ok(
        Math.abs(sum / values.length - expected.mean) <= 1e-6,
        `mean ${sum / values.length} vs ${expected.mean}`,
      );
    });
  }
}
