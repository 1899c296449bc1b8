/**
 * `serve()`, the library's way to run `gpux serve` in-process: it loads a model folder built here, answers raw text
 * over HTTP with the label the classifier's weights give, reports loading and requests as events (printing
 * nothing), and shuts down cleanly — the test's op and resource sanitizers stay on, so a leaked listener, timer or
 * Worker fails it.
 */
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { classifierRepo, expectedLogits } from "./support/text_models.ts";
import { loadTokenizer } from "../src/processing/tokenizer.ts";
import { type GpuxServer, serve, type ServeEvent } from "../src/serve/serve.ts";
import { InputError } from "../src/errors.ts";

const bert = await bertTokenizer();

async function classifierFolder(): Promise<string> {
  if ("skip" in bert) throw new Error(bert.skip);
  const dir = await Deno.makeTempDir({ prefix: "gpux-serve-api-" });
  for (const [path, content] of Object.entries(classifierRepo(bert.tokenizer, bert.config))) {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(`${dir}/${path}`, content);
    else await Deno.writeFile(`${dir}/${path}`, content);
  }
  return dir;
}

Deno.test({
  name: "serve(): a classifier folder is served in-process, answers raw text with its label, and shuts down cleanly",
  ignore: "skip" in bert,
  fn: async () => {
    const dir = await classifierFolder();
    const events: ServeEvent[] = [];
    let server: GpuxServer | undefined;
    try {
      server = await serve({
        models: [`sentiment=${dir}`],
        port: 0,
        workers: 1,
        session: { provider: "cpu" },
        onEvent: (e) => events.push(e),
      });
      assertEquals(server.url, `http://127.0.0.1:${server.port}`);
      assert(server.port > 0);
      assertEquals(
        server.models.map(({ name, provider, workers, task }) => ({ name, provider, workers, task })),
        [{ name: "sentiment", provider: "cpu", workers: 1, task: "text-classification" }],
      );
      assertEquals(events[0], { type: "loading", name: "sentiment", spec: dir });
      const response = await fetch(`${server.url}/models/sentiment/predict`, {
        method: "POST",
        body: JSON.stringify({ text: ["I love this", "I hate this"] }),
      });
      const body = await response.json();
      assertEquals(response.status, 200, JSON.stringify(body));
      // the label and score the classifier's weights give these token ids, computed here by hand
      const tokenizer = await loadTokenizer(dir);
      const expected = ["I love this", "I hate this"].map((text) => {
        const logits = expectedLogits(tokenizer.encode(text).inputIds.map(Number));
        const exp = logits.map((l) => Math.exp(l - Math.max(...logits)));
        const best = exp.indexOf(Math.max(...exp));
        return { input: text, label: ["NEGATIVE", "POSITIVE"][best], score: exp[best] / exp.reduce((a, b) => a + b) };
      });
      const got = (body.result as { input: string; labels: { label: string; score: number }[] }[])
        .map((r) => ({ input: r.input, label: r.labels[0].label, score: r.labels[0].score }));
      assertEquals(got.map((r) => [r.input, r.label]), expected.map((r) => [r.input, r.label]));
      for (const [i, r] of got.entries()) assert(Math.abs(r.score - expected[i].score) < 1e-5, `${r.score}`);
      const request = events.find((e) => e.type === "request");
      assertEquals(request?.type === "request" ? request.entry.status : undefined, 200);
    } finally {
      await server?.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
    await server!.finished;
    assertEquals(events.slice(-2).map((e) => e.type), ["draining", "stopped"]);
    await assertRejects(() => fetch(`${server!.url}/health`), TypeError);
  },
});

Deno.test("serve(): `await using` shuts the server down at the end of its scope", async () => {
  const dir = await classifierFolder();
  let url = "";
  try {
    await using server = await serve({ models: [dir], port: 0, workers: 1, session: { provider: "cpu" } });
    url = server.url;
    assertEquals((await fetch(`${url}/health`)).status, 200);
    // one text, as the JSDoc example sends it: the answer is still a list, one entry per text
    const one = await fetch(`${url}/models/${server.models[0].name}/predict`, {
      method: "POST",
      body: JSON.stringify({ text: "I love this" }),
    });
    const body = await one.json();
    assertEquals(one.status, 200, JSON.stringify(body));
    assertEquals(body.result.length, 1);
    assertEquals(typeof body.result[0].labels[0].label, "string");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assertRejects(() => fetch(`${url}/health`), TypeError);
});

Deno.test("serve(): an empty API key is refused before anything loads", async () => {
  await assertRejects(() => serve({ models: ["/nonexistent/model.onnx"], apiKey: "" }), InputError, "API key is empty");
});

Deno.test({
  name: "serve(): a bad CORS origin or a taken port is refused before any model loads",
  ignore: "skip" in bert,
  fn: async () => {
    const dir = await classifierFolder();
    const events: ServeEvent[] = [];
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const onEvent = (e: ServeEvent) => events.push(e);
      await assertRejects(() => serve({ models: [dir], cors: "not an origin", onEvent }), InputError);
      await assertRejects(
        () => serve({ models: [dir], port: (taken.addr as Deno.NetAddr).port, onEvent }),
        InputError,
        "already in use",
      );
      assertEquals(events, [], "nothing was loaded");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
