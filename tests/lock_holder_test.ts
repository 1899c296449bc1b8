/**
 * The repository lock when its holder dies, under the sandbox of `deno task gpux` (no `/proc`):
 * after `kill -9` of a pull the next pull sees at once that the holder is gone (no 60 s wait for the
 * heartbeat), and SIGTERM makes a pull release its lock like Ctrl-C does.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { spawnCli, waitFor, withCliHub } from "./support/cli_hub.ts";
import { acquireRepoLock, repoLockPath } from "../src/cache/lock.ts";

const MB = 1_000_000;

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("gpux pull after kill -9 of another pull: the dead holder is seen at once under the sandbox, the pull completes", async () => {
  await withCliHub("gpux-lock-", async (f) => {
    f.hub.addRepo("acme/slow").commit({ "config.json": "{}", "weights.onnx": { size: 12 * MB, seed: 5 } });
    const lock = repoLockPath(f.cache, "acme/slow");
    f.hub.setShaping({ bytesPerSecond: 2 * MB });
    const child = spawnCli(["pull", "acme/slow"], f.env);
    await waitFor("the lock", async () => (await Deno.readTextFile(lock).catch(() => "")).includes("token"));
    child.kill("SIGKILL");
    await child.output();
    assert(await exists(lock), "kill -9 leaves the lock file behind");

    f.hub.setShaping({});
    const second = await runCli(["pull", "acme/slow"], { env: f.env });
    assertEquals(second.code, 0, second.stderr);
    assertStringIncludes(second.stderr, "is gone");
    assert(!second.stderr.includes("no heartbeat"), second.stderr);
    assert(!second.stderr.includes("waiting for another process"), second.stderr);
    assertEquals(await exists(lock), false, "the lock is released");
  });
});

Deno.test("gpux pull: SIGTERM releases the lock (exit 130)", async () => {
  await withCliHub("gpux-lock-", async (f) => {
    f.hub.addRepo("acme/slow").commit({ "config.json": "{}", "weights.onnx": { size: 12 * MB, seed: 5 } });
    const lock = repoLockPath(f.cache, "acme/slow");
    f.hub.setShaping({ bytesPerSecond: 2 * MB });
    const child = spawnCli(["pull", "acme/slow"], f.env);
    await waitFor("the lock", () => exists(lock));
    child.kill("SIGTERM");
    const first = await child.output();
    assertEquals(first.code, 130, new TextDecoder().decode(first.stderr));
    assertEquals(await exists(lock), false, "SIGTERM released the lock");
  });
});

Deno.test("a live holder in this very process is not mistaken for a dead one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-lock-" });
  try {
    const held = await acquireRepoLock(dir, "acme/x");
    const controller = new AbortController();
    let waited = false;
    const contender = acquireRepoLock(dir, "acme/x", {
      signal: controller.signal,
      pollMs: 20,
      onWait: () => {
        waited = true;
        controller.abort();
      },
      onStale: () => assert(false, "a live lock is not stale"),
    });
    await contender.then(() => assert(false, "the lock is held"), () => {});
    assert(waited);
    await held.release();
    const next = await acquireRepoLock(dir, "acme/x");
    await next.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an empty lock file left by a process that died while taking it is taken over after a short grace, not 60 s", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-lock-" });
  try {
    const path = repoLockPath(dir, "acme/x");
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, new Uint8Array());
    const past = new Date(Date.now() - 5_000);
    await Deno.utime(path, past, past);
    const reasons: string[] = [];
    const lock = await acquireRepoLock(dir, "acme/x", { onStale: (_, reason) => reasons.push(reason) });
    await lock.release();
    assertEquals(reasons, ["an empty lock file left by a process that died while taking it"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
