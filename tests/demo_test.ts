/**
 * `deno task demo`, the README's first command, run as a user runs it: every step succeeds offline against the
 * local hub, in order, each job's answer is one a person reads — a label for each sentence (the one the classifier's
 * weights give, computed here by hand), a streamed chat answer (PyTorch's greedy text for that chat), the speech
 * probability of every 32 ms window of a spoken clip (speech where espeak-ng spoke, silence around it) — and nothing
 * is left behind.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { npmModel } from "./support/npm_models.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { expectedLogits } from "./support/text_models.ts";
import { readGoldens } from "./support/generation_fixtures.ts";
import { detectGpu } from "../src/runtime/gpu_presence.ts";
import { TextTokenizer } from "../src/processing/tokenizer.ts";
import { DEMO_SENTENCES, DEMO_SILENCE_SECONDS, sentimentWeights, VAD_RATE, VAD_WINDOW } from "../scripts/demo.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const model = await npmModel("sileroVadV5");
const bert = await bertTokenizer();

/** The label and score the demo's classifier gives a sentence: softmax of its logits, by hand. */
function expectedLabel(tokenizer: TextTokenizer, text: string): string {
  const { w, b } = sentimentWeights(tokenizer, ...DEMO_SENTENCES);
  const logits = expectedLogits(tokenizer.encode(text).inputIds, w, b);
  const exp = logits.map((l) => Math.exp(l - Math.max(...logits)));
  const best = exp.indexOf(Math.max(...exp));
  return `${["NEGATIVE", "POSITIVE"][best]} ${(exp[best] / exp.reduce((a, b) => a + b)).toFixed(4)}`;
}

Deno.test({
  name: "deno task demo: pull, run (labels, a streamed chat answer), bench and serve (speech per window) offline",
  ignore: "skip" in model || "skip" in bert,
  fn: async () => {
    if ("skip" in bert) return;
    const env = Deno.env.toObject();
    delete env.INIT_CWD;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", `--config=${ROOT}deno.json`, "demo"],
      cwd: ROOT,
      clearEnv: true,
      // the user's Hub settings must not matter: the demo sets its own
      env: { ...env, NO_COLOR: "1", HF_ENDPOINT: "http://127.0.0.1:9", HF_TOKEN: "hf_not_used_by_the_demo" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, `${stdout}\n${stderr}`);
    const steps = [...stdout.matchAll(/^\$ gpux (\w+)/gm)].map((m) => m[1]);
    assertEquals(steps, ["search", "info", "pull", "pull", "pull", "ls", "inspect", "run", "run", "bench", "serve"]);
    assert(stdout.includes("onnx-community/silero-vad"), stdout);
    assert(/throughput/.test(stdout), "bench printed its figures");

    // run: each sentence, then its label and score
    const tokenizer = new TextTokenizer(bert.tokenizer, bert.config);
    const labels = DEMO_SENTENCES.flatMap((text) => [text, expectedLabel(tokenizer, text)]).join("\n");
    // the weights were set from these sentences: each gets its own label, at 0.9
    assertEquals(labels, "I love this\nPOSITIVE 0.9000\nI hate this\nNEGATIVE 0.9000");
    assert(stdout.includes(`--text 'I hate this'\n${labels}\n`), `the labels:\n${labels}\nin:\n${stdout}`);

    // run --prompt: the chat answer is PyTorch's greedy text for that chat
    const chat = (await readGoldens("llama")).cases.find((c) => c.id === "chat")!;
    // (the model and stats lines go to stderr: the answer is the only line the command prints on stdout)
    const answer = /\n\$ gpux run gpux-demo\/tiny-llama [^\n]*\n([^\n]*)\n/.exec(stdout)?.[1];
    assertEquals(answer, chat.text);

    // serve: one speech probability per 32 ms window; speech only where espeak-ng spoke
    const seconds = Number(/between \d+ s of silence on each side \(([\d.]+) s\)/.exec(stdout)?.[1]);
    const rows = [...stdout.matchAll(/^ +([\d.]+) s {2}[▁▂▃▄▅▆▇█]+ +([\d. ]+)$/gm)];
    const p = rows.flatMap((r) => r[2].trim().split(" ").map(Number));
    const windowSeconds = VAD_WINDOW / VAD_RATE;
    assert(Math.abs(p.length - seconds * VAD_RATE / VAD_WINDOW) <= 2, `${p.length} windows in ${seconds} s`);
    assert(p.length >= 3 * DEMO_SILENCE_SECONDS / windowSeconds, `${p.length} windows`);
    const start = Math.floor(DEMO_SILENCE_SECONDS / windowSeconds);
    const end = p.length - Math.floor(DEMO_SILENCE_SECONDS / windowSeconds);
    const before = p.slice(0, start), after = p.slice(end + 10), during = p.slice(start, end);
    assert(before.every((x) => x < 0.5), `silence before the speech: ${before}`);
    assert(after.every((x) => x < 0.5), `silence after the speech: ${after}`);
    assert(during.filter((x) => x > 0.5).length > 0.6 * during.length, `speech while espeak-ng speaks: ${during}`);
    assert(/^speech: \d\.\d\d–\d\.\d\d s/m.test(stdout), "the stretches of speech are named");

    if (!detectGpu().present) {
      // without a GPU, cpu is the only choice, not a fallback: no command (serve included) warns about it
      assert(!/unavailable \(/.test(stdout + stderr), `a fallback warning without a GPU:\n${stdout}\n${stderr}`);
    }
    const home = /HF_HOME=(\S+)/.exec(stdout)?.[1];
    assert(home, "the demo names its temporary HF_HOME");
    await Deno.stat(home).then(() => assert(false, `${home} was left behind`), () => {});
  },
});
