/**
 * `gpux serve --max-memory-mb`: one budget for the whole server. A request whose estimate could never fit is
 * refused with 413 before its body is read; one that does not fit beside a request in flight gets 503 with
 * `Retry-After`, and fits once that request is gone; a budget below what the loaded models already use exits 2.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";
import { running, startServe } from "./support/serve_process.ts";
import { parsePrometheusText } from "../src/serve/metrics.ts";

const MB = 1024 * 1024;

/** A valid body of exactly `bytes` bytes for the identity model: one small row and spaces (cheap to run). */
function paddedBody(bytes: number): string {
  const json = JSON.stringify({ x: [[1, 2, 3]] });
  return json + " ".repeat(bytes - json.length);
}

Deno.test("gpux serve --max-memory-mb: 413 for a request that could never fit, 503 + Retry-After while the budget is taken, 200 after", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-budget-" });
  const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, INIT_CWD: dir };
  try {
    await writeModel(`${dir}/any.onnx`, identityModel("float32", ["batch", null]));
    const args = [`${dir}/any.onnx`, "--provider", "cpu", "--port", "0", "--quiet", "--workers", "1"];

    // too small for the loaded server itself: exit 2 with a hint
    const tiny = await runCli(["serve", ...args, "--max-memory-mb", "64"], { env });
    assertEquals(tiny.code, 2, tiny.stderr);
    assertMatch(tiny.stderr, /error: the memory budget of 64 MB leaves \d+ MB for requests/);
    assertMatch(tiny.stderr, /hint: start the server with a larger --max-memory-mb/);

    // what the server uses once loaded, to give it a budget of that plus 150 MB
    let server = running(await startServe(args, { env }));
    const measured = (await (await fetch(`${server.url}/info`)).json()).memory;
    assert(measured.budgetBytes > 0 && measured.baselineBytes > 0, JSON.stringify(measured));
    await server.stop();
    const budgetMb = Math.ceil(measured.baselineBytes / MB) + 150;

    server = running(await startServe([...args, "--max-memory-mb", String(budgetMb)], { env }));
    const { hostname, port } = new URL(server.url);
    const held = await Deno.connect({ hostname, port: Number(port) });
    try {
      // 12 MB of body is reserved as ~192 MB: more than the 150 MB requests may hold, refused before it is read
      const huge = await fetch(`${server.url}/predict`, { method: "POST", body: paddedBody(12 * MB) });
      const hugeDoc = await huge.json();
      assertEquals(huge.status, 413, JSON.stringify(hugeDoc));
      assertMatch(hugeDoc.error, /this request needs about \d+ MB of memory; the server's budget leaves \d+ MB/);
      assertMatch(hugeDoc.hint, /--max-memory-mb/);

      // a 7 MB body (~112 MB reserved) whose sender stalls holds its share…
      await held.write(
        new TextEncoder().encode(
          `POST /predict HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: ${
            7 * MB
          }\r\n\r\n{"x": [[1, 2`,
        ),
      );
      let info = { reservedBytes: 0 };
      for (let i = 0; i < 200 && info.reservedBytes === 0; i++) {
        info = (await (await fetch(`${server.url}/info`)).json()).memory;
        if (info.reservedBytes === 0) await new Promise((r) => setTimeout(r, 25));
      }
      assert(info.reservedBytes >= 7 * MB * 16, JSON.stringify(info));
      const metrics = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
      const gauge = (name: string) => metrics.find((m) => m.name === name)?.value;
      assertEquals(gauge("gpux_memory_budget_bytes"), budgetMb * MB);
      assert((gauge("gpux_memory_reserved_bytes") ?? 0) >= 7 * MB * 16, "the reservation shows in /metrics");
      // …so a second one does not fit beside it: 503 with Retry-After
      const busy = await fetch(`${server.url}/predict`, { method: "POST", body: paddedBody(7 * MB) });
      const busyDoc = await busy.json();
      assertEquals([busy.status, busy.headers.get("retry-after")], [503, "1"], JSON.stringify(busyDoc));
      assertMatch(busyDoc.error, /memory budget is taken by requests in flight/);
      // small requests still fit
      const small = await fetch(`${server.url}/predict`, { method: "POST", body: JSON.stringify({ x: [[4, 5, 6]] }) });
      assertEquals([small.status, (await small.json()).outputs.y.data], [200, [[4, 5, 6]]]);

      // the stalled sender leaves: its share comes back, and the same request now runs
      held.close();
      let after = { reservedBytes: 1 };
      for (let i = 0; i < 200 && after.reservedBytes !== 0; i++) {
        after = (await (await fetch(`${server.url}/info`)).json()).memory;
        if (after.reservedBytes !== 0) await new Promise((r) => setTimeout(r, 25));
      }
      assertEquals(after.reservedBytes, 0);
      const retried = await fetch(`${server.url}/predict`, { method: "POST", body: paddedBody(7 * MB) });
      assertEquals([retried.status, (await retried.json()).outputs.y.data], [200, [[1, 2, 3]]]);
      assertEquals(await server.stop("SIGTERM"), 0);
    } finally {
      try {
        held.close();
      } catch { /* already closed */ }
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
