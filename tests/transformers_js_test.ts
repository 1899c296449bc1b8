/**
 * transformers.js 4.3 (the peer, in its own `node` process) generates the same greedy ids as PyTorch on the
 * generation fixtures: the same files give the same answer in the JavaScript library users compare gpux with, so
 * "gpux == transformers.js" checks can rest on these fixtures and this harness.
 */
import assert from "node:assert/strict";
import {
  type GenerationFixture,
  generationFixture,
  type GoldenCase,
  readGoldens,
} from "./support/generation_fixtures.ts";
import { transformersJsGreedy, type TransformersJsOptions } from "./support/transformers_js.ts";

const DTYPE: Record<string, TransformersJsOptions> = {
  "onnx/model.onnx": { dtype: "fp32" },
  "onnx/model_quantized.onnx": { dtype: "q8" },
  "onnx/model_q4.onnx": { dtype: "q4" },
  "onnx/model_fp16.onnx": { dtype: "fp16" },
  "onnx/decoder_model_merged.onnx": { dtype: "fp32", modelFileName: "decoder_model_merged" },
};

async function check(name: GenerationFixture): Promise<void> {
  const goldens = await readGoldens(name);
  const byFile = new Map<string, GoldenCase[]>();
  for (const c of goldens.cases) byFile.set(c.file, [...(byFile.get(c.file) ?? []), c]);
  for (const [file, cases] of byFile) {
    const results = await transformersJsGreedy(
      await generationFixture(name),
      cases.map((c) => ({
        prompt_ids: (c.prompts ? c.prompt_ids : [c.prompt_ids]) as number[][],
        max_new_tokens: c.max_new_tokens,
        eos_token_id: c.eos_token_id,
        pad_token_id: goldens.pad_token_id,
      })),
      DTYPE[file],
    );
    cases.forEach((c, i) => {
      const want = (c.prompts ? c.new_ids : [c.new_ids]) as number[][];
      assert.deepEqual(results[i].new_ids, want, `${name}/${c.id} (${file})`);
    });
  }
}

for (const name of ["llama", "gpt2", "qwen3", "llama-merged"] as const) {
  Deno.test(`transformers.js greedy ids equal every ${name} golden`, () => check(name));
}
