/**
 * `gpux serve` with raw inputs: models with a pre-processing pipeline (a text classifier with a real BERT
 * tokenizer, an image classifier) served by a `deno task gpux serve` subprocess; `{"text": …}` and
 * `{"image": "<base64>"}` bodies answer the same `result` as `gpux run --text/--image --json`, and tensors
 * still work on the same model.
 */
import { assertEquals, assertMatch } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { classifierRepo } from "./support/text_models.ts";
import { tinyImageClassifier, writeRepo } from "./support/media_models.ts";
import { rgbPng } from "./support/image_fixtures.ts";
import { running, startServe } from "./support/serve_process.ts";

const bert = await bertTokenizer();
const skip = "skip" in bert ? bert.skip : undefined;
if (skip) console.warn(`skipping the serve pipeline test: ${skip}`);

function solid(width: number, height: number, rgb: [number, number, number]) {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, data };
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

Deno.test({
  name: "gpux serve: {text} and {image: base64} run the model's pipeline and answer what gpux run --json prints",
  ignore: skip !== undefined,
  fn: async () => {
    if ("skip" in bert) return;
    const dir = await Deno.makeTempDir({ prefix: "gpux-serve-pipe-" });
    const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
    try {
      await writeRepo(`${dir}/sentiment`, classifierRepo(bert.tokenizer, bert.config));
      await writeRepo(`${dir}/colours`, tinyImageClassifier());
      const png = await rgbPng(solid(12, 12, [10, 240, 30]));
      await Deno.writeFile(`${dir}/green.png`, png);
      const server = running(
        await startServe([`${dir}/sentiment`, `${dir}/colours`, "--provider", "cpu", "--port", "0", "--quiet"], {
          env,
        }),
      );
      try {
        assertMatch(server.ready, /sentiment \(cpu, 1 worker, [^)]*text-classification\)/);
        const info = await (await fetch(`${server.url}/info`)).json();
        assertEquals(
          info.models.map((m: { name: string; task: string; accepts: string[] }) => [m.name, m.task, m.accepts]),
          [["sentiment", "text-classification", ["text"]], ["colours", "image-classification", ["image"]]],
        );

        const text = await fetch(`${server.url}/models/sentiment/predict`, {
          method: "POST",
          body: JSON.stringify({ text: ["i love this", "this is bad"], top_k: 2 }),
        });
        const textDoc = await text.json();
        assertEquals(text.status, 200, JSON.stringify(textDoc));
        const run = await runCli(
          [
            "run",
            `${dir}/sentiment`,
            "--text",
            "i love this",
            "--text",
            "this is bad",
            "--top-k",
            "2",
            "-p",
            "cpu",
            "--json",
          ],
          { env },
        );
        assertEquals(run.code, 0, run.stderr);
        const runDoc = JSON.parse(run.stdout);
        assertEquals(textDoc.result, runDoc.result);
        assertEquals(textDoc.task, "text-classification");

        const image = await fetch(`${server.url}/models/colours/predict`, {
          method: "POST",
          body: JSON.stringify({ image: base64(png), top_k: 1 }),
        });
        const imageDoc = await image.json();
        assertEquals(image.status, 200, JSON.stringify(imageDoc));
        const runImage = await runCli(
          ["run", `${dir}/colours`, "--image", "green.png", "--top-k", "1", "-p", "cpu", "--json"],
          { env },
        );
        assertEquals(runImage.code, 0, runImage.stderr);
        const expected = JSON.parse(runImage.stdout).result;
        assertEquals(imageDoc.result[0].labels, expected[0].labels);
        assertEquals(imageDoc.result[0].labels[0].label, "green");

        // the wrong kind of input, a broken image: 400 with the pipeline's message; tensors still work
        const wrong = await fetch(`${server.url}/models/colours/predict`, {
          method: "POST",
          body: JSON.stringify({ text: "green" }),
        });
        assertEquals([wrong.status, (await wrong.json()).error], [
          400,
          'model "colours" takes image, not text; its inputs are "pixel_values"',
        ]);
        const broken = await fetch(`${server.url}/models/colours/predict`, {
          method: "POST",
          body: JSON.stringify({ image: base64(new Uint8Array([1, 2, 3])) }),
        });
        assertEquals(broken.status, 400, await broken.text());
        const tensors = await fetch(`${server.url}/models/sentiment/predict`, {
          method: "POST",
          body: JSON.stringify({ input_ids: [[101, 102]], attention_mask: [[1, 1]] }),
        });
        assertEquals(tensors.status, 200, await tensors.text());
      } finally {
        assertEquals(await server.stop("SIGTERM"), 0);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
