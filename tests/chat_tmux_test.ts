/**
 * `gpux chat` the way a person uses it: `deno task gpux chat` in a real terminal (tmux), typed into with
 * `send-keys` and read with `capture-pane`: a streamed answer, `/set`, Ctrl-C stopping an answer while the
 * session goes on (with the conversation's KV cache reused), `/clear`, Ctrl-C at the prompt, and Ctrl-D leaving.
 * Skipped, saying so, only where tmux is not installed.
 *
 * @module
 */
import { assert, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { generationFixtures } from "./support/generation_fixtures.ts";

const ROOT = new URL("../", import.meta.url).pathname;

function tmuxPresent(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

async function tmux(...args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!success) throw new Error(`tmux ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

async function waitForPane(session: string, what: string, check: (pane: string) => boolean, ms = 60_000) {
  const end = Date.now() + ms;
  let pane = "";
  while (Date.now() < end) {
    pane = await tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session);
    if (check(pane)) return pane;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; the pane shows:\n${pane}`);
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

Deno.test({
  name: "gpux chat in a terminal: streamed answers, /set, Ctrl-C stops an answer and keeps the session, Ctrl-D leaves",
  ignore: !tmuxPresent() && (console.warn("skipped: tmux is not installed (apt-get install -y tmux)"), true),
  async fn() {
    const root = await generationFixtures();
    const session = `gpux-chat-${Deno.pid}`;
    const deno = Deno.execPath();
    const command = `cd ${ROOT} && NO_COLOR=1 ${deno} task --quiet gpux chat ${root}/qwen3 --max-new-tokens 400 ` +
      `--system 'You are terse.'; echo "EXITED $?"; sleep 60`;
    await tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", command);
    await tmux("set-option", "-t", session, "remain-on-exit", "on");
    try {
      let pane = await waitForPane(session, "the first prompt", (p) => p.includes(">>> "));
      assertStringIncludes(pane, "chat template · context 512");
      // a first answer, short, to the end
      await tmux("send-keys", "-t", session, "/set max_new_tokens 6", "Enter");
      await waitForPane(session, "the /set reply", (p) => p.includes("Set parameter 'max_new_tokens' to '6'"));
      await tmux("send-keys", "-t", session, "Hello there", "Enter");
      pane = await waitForPane(session, "the first answer's stats", (p) => p.includes(" · 6 new · "));
      assertMatch(pane, /\d+ prompt tokens · 6 new · first token \d+ ms .* · length/);
      // a long answer, stopped with Ctrl-C while it streams
      await tmux("send-keys", "-t", session, "/set max_new_tokens 400", "Enter");
      await waitForPane(session, "the second /set", (p) => p.includes("to '400'"));
      await tmux("send-keys", "-t", session, "Tell me a long story", "Enter");
      // Ctrl-C as soon as the answer has started streaming
      await waitForPane(session, "the long answer to start", (p) => /Tell me a long story\n[^\n]*\S/.test(p), 30_000);
      await tmux("send-keys", "-t", session, "C-c");
      pane = await waitForPane(session, "the stopped answer", (p) => p.includes("(stopped)"));
      assertMatch(pane, /prompt tokens \(\d+ cached\) · \d+ new · .* · cancelled/);
      const stopped = /(\d+) new · [^\n]* · cancelled/.exec(pane)!;
      assert(Number(stopped[1]) < 400, `stopped after ${stopped[1]} tokens`);
      // the session goes on
      await waitForPane(session, "the prompt after Ctrl-C", (p) => p.trimEnd().endsWith(">>>"));
      await tmux("send-keys", "-t", session, "C-c");
      await waitForPane(session, "the exit hint", (p) => p.includes("Use Ctrl + d or /bye to exit."));
      await tmux("send-keys", "-t", session, "/clear", "Enter");
      await waitForPane(session, "the /clear reply", (p) => p.includes("Cleared session context."));
      await tmux("send-keys", "-t", session, "/set max_new_tokens 3", "Enter");
      await waitForPane(session, "the third /set", (p) => p.includes("to '3'"));
      const before = count(await tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session), " new · ");
      await tmux("send-keys", "-t", session, "Again", "Enter");
      pane = await waitForPane(session, "an answer after /clear", (p) => count(p, " new · ") > before);
      assertMatch(pane, /\n\d+ prompt tokens · 3 new · /, "after /clear nothing is cached");
      await tmux("send-keys", "-t", session, "C-d");
      pane = await waitForPane(session, "the exit", (p) => p.includes("EXITED"));
      assertStringIncludes(pane, "EXITED 0");
    } finally {
      await tmux("kill-session", "-t", session).catch(() => "");
    }
  },
});
