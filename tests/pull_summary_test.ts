/**
 * What `gpux pull` prints is rounded: sizes, rates and durations never show a long fraction such
 * as `11.88118292400278 B/s` (a small or slow pull used to).
 */
import { assert, assertEquals } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { startHubServer } from "./support/hub_server.ts";
import { formatBytes } from "../src/cli/output.ts";

Deno.test("formatBytes rounds to whole bytes below 1 kB and to one decimal above", () => {
  assertEquals(formatBytes(11.88118292400278), "12 B");
  assertEquals(formatBytes(214.65239995534137), "215 B");
  assertEquals(formatBytes(0.4), "0 B");
  assertEquals(formatBytes(1234.5678), "1.2 kB");
  assertEquals(formatBytes(123_456_789), "123 MB");
});

Deno.test("gpux pull of a tiny model over a slow link: every figure in the summary and the progress lines is rounded", async () => {
  const hub = await startHubServer();
  const dir = await Deno.makeTempDir({ prefix: "gpux-summary-" });
  try {
    hub.addRepo("acme/tiny").commit({ "config.json": '{"model_type":"bert"}', "tokenizer.json": "{}" });
    hub.setShaping({ firstByteDelayMs: 150 });
    const result = await runCli(["pull", "acme/tiny"], {
      env: { HF_ENDPOINT: hub.url, HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/home`, HOME: dir },
    });
    assertEquals(result.code, 0, result.stderr);
    assert(/ B\/s/.test(result.stdout), `the rate is in B/s: ${result.stdout}`);
    for (const text of [result.stdout, result.stderr]) {
      assert(!/\d\.\d{2,}/.test(text), `a figure is not rounded: ${text}`);
    }
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});
