/**
 * A local hub with a temporary cache and home for CLI tests that run `gpux` as a subprocess, and the helpers such
 * tests share: start a command without waiting for it, wait for a condition.
 *
 * @module
 */
import { cliCommand } from "./cli.ts";
import { type HubServer, startHubServer } from "./hub_server.ts";

/** A running hub and the environment that points `gpux` at it, with its own cache and home. */
export interface CliHubFixture {
  hub: HubServer;
  /** The temporary folder holding the cache (`hub/`) and `HF_HOME` (`home/`); also `HOME`. */
  dir: string;
  /** `HF_HUB_CACHE`. */
  cache: string;
  /** `HF_ENDPOINT`, `HF_HUB_CACHE`, `HF_HOME` and `HOME` for the child. */
  env: Record<string, string>;
}

/** Runs `fn` with a fresh hub and temporary folders (named after `prefix`), then closes and removes them. */
export async function withCliHub(prefix: string, fn: (f: CliHubFixture) => Promise<void>): Promise<void> {
  const hub = await startHubServer();
  const dir = await Deno.makeTempDir({ prefix });
  const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/home`, HOME: dir };
  try {
    await fn({ hub, dir, cache: `${dir}/hub`, env });
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Starts `gpux …args` under the sandbox `deno task gpux` gives that command line, without waiting. */
export function spawnCli(args: string[], env: Record<string, string>): Deno.ChildProcess {
  return cliCommand(args, { env }).spawn();
}

/** Polls `check` every 50 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
