/**
 * Writes tests/goldens/image_processors.json: what Python transformers' image processors (ViT, CLIP,
 * ConvNeXT; Pillow backend) give for one generated photo-like JPEG, for tests/image_processor_golden_test.ts.
 *
 * Needs Python with transformers, pillow and numpy (no torch). `--python PATH` picks the interpreter
 * (default /tmp/venv/bin/python, made by `python3 -m venv /tmp/venv && /tmp/venv/bin/pip install
 * transformers pillow numpy`). Run: `deno run -A scripts/image_golden.ts`.
 *
 * @module
 */
import { GOLDEN_CASES, goldenJpeg } from "../tests/support/image_golden.ts";

const pythonFlag = Deno.args.indexOf("--python");
const python = pythonFlag >= 0 ? Deno.args[pythonFlag + 1] : "/tmp/venv/bin/python";
const dir = await Deno.makeTempDir({ prefix: "gpux-golden-" });
try {
  const jpeg = await goldenJpeg();
  await Deno.writeFile(`${dir}/photo.jpg`, jpeg);
  await Deno.writeTextFile(`${dir}/cases.json`, JSON.stringify(GOLDEN_CASES));
  const script = new URL("./image_golden.py", import.meta.url).pathname;
  const run = await new Deno.Command(python, {
    args: [script, `${dir}/photo.jpg`, `${dir}/cases.json`],
    stderr: "inherit",
  })
    .output();
  if (!run.success) throw new Error(`${python} ${script} failed`);
  const golden = JSON.parse(new TextDecoder().decode(run.stdout));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", jpeg as BufferSource));
  golden.jpegSha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  const out = new URL("../tests/goldens/image_processors.json", import.meta.url);
  await Deno.writeTextFile(out, JSON.stringify(golden, null, 1) + "\n");
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", out.pathname] }).output();
  console.log(`wrote ${out.pathname}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
