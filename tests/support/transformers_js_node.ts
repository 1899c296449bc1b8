/**
 * transformers.js (`@huggingface/transformers`, pinned) installed once with npm into `tests/.fixtures/transformersjs`
 * and run in a separate `node` process: its onnxruntime-node 1.30 cannot share a process with gpux's 1.29. The
 * install skips onnxruntime-node's CUDA download (`ONNXRUNTIME_NODE_INSTALL_CUDA=skip`), which otherwise fails on an
 * unreachable host. Each oracle (generation, text tasks, vision) keeps its own Node.js script and result types and
 * runs it through {@linkcode runTransformersJsScript}.
 *
 * When npm cannot install it, {@linkcode transformersJsHome} throws one clear line.
 *
 * @module
 */
import { type CommandOutput, commandOutput, lastLines } from "./command_output.ts";
import { pathExists } from "./path_exists.ts";

const DIR = new URL("../.fixtures/transformersjs", import.meta.url).pathname;
/** The transformers.js version installed (pinned: a new release must be chosen, not picked up). */
export const TRANSFORMERS_JS_VERSION = "4.3.2";

async function install(): Promise<string> {
  const marker = `${DIR}/node_modules/@huggingface/transformers/package.json`;
  const installed = await pathExists(marker) &&
    JSON.parse(await Deno.readTextFile(marker)).version === TRANSFORMERS_JS_VERSION;
  if (installed) return DIR;
  await Deno.mkdir(DIR, { recursive: true });
  // its own package.json: without one npm would install into the repository's
  await Deno.writeTextFile(`${DIR}/package.json`, JSON.stringify({ private: true, type: "module" }) + "\n");
  const npm = await commandOutput(
    "npm",
    ["install", "--no-audit", "--no-fund", "--no-save", `@huggingface/transformers@${TRANSFORMERS_JS_VERSION}`],
    { cwd: DIR, env: { ONNXRUNTIME_NODE_INSTALL_CUDA: "skip", ONNXRUNTIME_NODE_INSTALL: "skip" } },
  );
  if (!npm.ok || !(await pathExists(marker))) {
    throw new Error(
      `transformers.js: npm install @huggingface/transformers@${TRANSFORMERS_JS_VERSION} failed: ${lastLines(npm.err)}`,
    );
  }
  return DIR;
}

let ready: Promise<string> | undefined;

/** Installs transformers.js when needed; returns its folder (scripts run from there resolve it). */
export function transformersJsHome(): Promise<string> {
  return ready ??= install();
}

/** Options of {@linkcode runTransformersJsScript}. */
export interface NodeScriptOptions {
  /** Text for the script's stdin. */
  stdin?: string;
  /** Prefix the node command (e.g. `["taskset", "-c", "0"]`). */
  wrapper?: string[];
}

/**
 * Writes `script` as `<name>.mjs` beside transformers.js' node_modules (an ES module resolves packages from where it
 * lies) and runs it with `node` and `args`, installing transformers.js first when needed.
 */
export async function runTransformersJsScript(
  name: string,
  script: string,
  args: string[],
  options: NodeScriptOptions = {},
): Promise<CommandOutput> {
  const home = await transformersJsHome();
  await Deno.writeTextFile(`${home}/${name}.mjs`, script);
  const command = [...(options.wrapper ?? []), "node", `${home}/${name}.mjs`, ...args];
  return await commandOutput(command[0], command.slice(1), { cwd: home, stdin: options.stdin });
}
