/**
 * The Python virtual environments the tests need (huggingface_hub for interop, torch/transformers/onnx for the
 * fixture builders), created once under `tests/.fixtures/<name>` from the local pip mirror and reused: the
 * mirror (`pip config get global.extra-index-url`) becomes `PIP_INDEX_URL` unless one is set, and pip runs with
 * `--retries 0`, so an unreachable default index fails at once instead of after minutes of retries.
 *
 * When the environment cannot be made, {@linkcode pythonVenv} throws one clear line: the tests that need it fail,
 * they never skip silently.
 *
 * @module
 */
import { commandOutput, lastLines } from "./command_output.ts";

const FIXTURES = new URL("../.fixtures/", import.meta.url).pathname;

/** What one environment holds. */
export interface PythonVenvSpec {
  /** Folder name under `tests/.fixtures/` (e.g. `venv-torch`). */
  name: string;
  /** One `pip install` a list: its package specs and flags, run in order. */
  installs: string[][];
  /** Python code that exits 0 when everything is installed (checked before and after pip). */
  check: string;
  /** Who needs it, leading the error line. */
  who: string;
}

/** The folder of the environment `name`. */
export function venvDir(name: string): string {
  return `${FIXTURES}${name}`;
}

/** The interpreter of the environment `name` (call {@linkcode pythonVenv} first to create it). */
export function venvPython(name: string): string {
  return `${venvDir(name)}/bin/python`;
}

async function pipIndex(): Promise<Record<string, string>> {
  if (Deno.env.get("PIP_INDEX_URL")) return {};
  const got = await commandOutput("pip", ["config", "get", "global.extra-index-url"]);
  const url = got.ok ? got.out.trim().split(/\s+/)[0] : "";
  return url ? { PIP_INDEX_URL: url } : {};
}

async function create(spec: PythonVenvSpec): Promise<string> {
  const dir = venvDir(spec.name);
  const python = venvPython(spec.name);
  const ready = async () => (await commandOutput(python, ["-c", spec.check])).ok;
  if (await ready()) return python;
  const venv = await commandOutput("python3", ["-m", "venv", dir]);
  if (!venv.ok) throw new Error(`${spec.who}: cannot create ${dir}: ${lastLines(venv.err)}`);
  const env = await pipIndex();
  let why = "";
  for (const args of spec.installs) {
    const pip = await commandOutput(
      `${dir}/bin/pip`,
      ["install", "--quiet", "--retries", "0", "--disable-pip-version-check", ...args],
      { env },
    );
    if (!pip.ok) {
      why = lastLines(pip.err);
      break;
    }
  }
  if (!(await ready())) {
    const packages = spec.installs.flat().filter((a) => !a.startsWith("-") && !a.startsWith("/")).join(" ");
    throw new Error(`${spec.who}: pip could not install ${packages} into ${dir} (${why || "no output"})`);
  }
  return python;
}

const made = new Map<string, Promise<string>>();

/** The environment's interpreter, creating the environment on first use (once per process and name). */
export function pythonVenv(spec: PythonVenvSpec): Promise<string> {
  let python = made.get(spec.name);
  if (!python) made.set(spec.name, python = create(spec));
  return python;
}

/** Folder name of the environment every fixture builder shares (one torch install, not one a builder). */
export const TORCH_VENV = "venv-torch";

/**
 * The fixture builders' environment (generation, text tasks, vision), created when needed (about a minute cold):
 * torch as the CPU wheel (the default one pulls ~2.3 GB of CUDA wheels), transformers 5.18, onnx, onnxruntime,
 * onnxscript, pillow, requests, scipy (OWLv2's processor resizes with scipy.ndimage), sentencepiece (Marian's
 * `.spm` tokenizer files and MarianTokenizer); and transformers 4.57.6 with tokenizers 0.22.2 under `tf4/` (not on the path) for
 * question answering, a pipeline transformers 5 dropped (tokenizers 0.23.2 cuts a long context's windows short).
 */
export function torchPython(): Promise<string> {
  return pythonVenv({
    name: TORCH_VENV,
    installs: [
      [
        "torch==2.13.0+cpu",
        "transformers==5.18.0",
        "onnx",
        "onnxruntime",
        "onnxscript",
        "pillow",
        "requests",
        "scipy",
        "sentencepiece",
      ],
      ["--no-deps", "--target", `${venvDir(TORCH_VENV)}/tf4`, "transformers==4.57.6", "tokenizers==0.22.2"],
    ],
    check: "import os, sys, torch, transformers, onnx, onnxruntime, onnxscript, PIL, requests, scipy, sentencepiece\n" +
      "sys.exit(0 if os.path.isdir(sys.prefix + '/tf4/tokenizers') else 1)",
    who: "fixture builders' python",
  });
}
