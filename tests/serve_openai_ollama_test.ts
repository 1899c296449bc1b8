/**
 * `gpux serve` speaks OpenAI and Ollama: the real `openai` (7.x) and `ollama` (0.6.x) npm clients, as users run
 * them, against `deno task gpux serve` (its exact sandbox) on the Qwen3 generation fixture (a real chat template and
 * the real Qwen3 tokenizer) and a sentence-transformers embedder. Every text is checked against the fixture's
 * PyTorch goldens (greedy ids decoded), streamed deltas concatenated against the non-streamed text, embeddings
 * against `gpux run`; a client that leaves mid-stream cancels its generation (metrics), and three concurrent
 * streams each get their own answer.
 */
import OpenAI from "openai";
import { Ollama } from "ollama";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { generationFixture, readGoldens } from "./support/generation_fixtures.ts";
import { writeRepo } from "./support/media_models.ts";
import { running, type ServeProcess, startServe } from "./support/serve_process.ts";
import { CacheFixture, commitSha } from "./support/hf_cache.ts";
import { withCliHub } from "./support/cli_hub.ts";
import { embedderRepo } from "./support/text_models.ts";
import { bertTokenizer } from "./support/tokenizer_files.ts";
import { pythonVenv } from "./support/python_venv.ts";
import { parsePrometheusText } from "../src/serve/metrics.ts";
import { toolCallDeltas } from "../src/serve/routes_openai.ts";
import { ToolCallStreamParser } from "../src/generation/tool_calls.ts";
import { loadTextGeneration } from "../src/generation/load_pipeline.ts";
import { loadTokenizer } from "../src/processing/tokenizer.ts";

const QWEN = await generationFixture("qwen3");
const goldens = await readGoldens("qwen3");
const golden = (id: string) => {
  const c = goldens.cases.find((c) => c.id === id);
  if (!c) throw new Error(`no golden ${id}`);
  return c;
};
const chat = golden("chat");
const plain = golden("plain");
const stopCase = golden("stop_string");
const got = await bertTokenizer();
if ("skip" in got) throw new Error(got.skip);
const bert = got;

let server: ServeProcess | undefined;
let tmp = "";
let embedderVectors: number[][] = [];
/** Tokens of each of TEXTS as the embedder's own tokenizer encodes it ([CLS] and [SEP] included). */
let embedderTokens: number[] = [];
const TEXTS = ["hello world", "the sea is calm"];

async function serve(): Promise<ServeProcess> {
  if (server) return server;
  tmp = await Deno.makeTempDir({ prefix: "gpux_compat_" });
  await writeRepo(`${tmp}/embedder`, embedderRepo(bert.tokenizer, bert.config));
  // what `gpux run` gives for the same texts: the reference for both embedding endpoints
  const run = await runCli(["run", `${tmp}/embedder`, "--text", TEXTS[0], "--text", TEXTS[1], "--json"], {
    env: { INIT_CWD: tmp },
  });
  assertEquals(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  embedderVectors = doc.result.embeddings.map((e: { embedding: number[] }) => e.embedding);
  const tokenizer = await loadTokenizer(`${tmp}/embedder`);
  embedderTokens = TEXTS.map((t) => tokenizer.encode(t).inputIds.length);
  server = running(
    await startServe(
      [
        `qwen3=${QWEN}`,
        `embedder=${tmp}/embedder`,
        "--provider",
        "cpu",
        "--variant",
        "fp32",
        "--port",
        "0",
        "--parallel",
        "3",
        "--quiet",
      ],
      { sandbox: "exact", cwd: tmp },
    ),
  );
  return server;
}

async function stop(): Promise<void> {
  if (server) assertEquals(await server.stop(), 0, server.stderr());
  server = undefined;
  if (tmp) await Deno.remove(tmp, { recursive: true });
}

/** The Qwen3 fixture's files with only the fp32 graph, as a Hub repository holds them. */
async function qwenFiles(): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const path of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) {
    files[path] = await Deno.readFile(`${QWEN}/${path}`);
  }
  files["onnx/model.onnx"] = await Deno.readFile(`${QWEN}/onnx/model.onnx`);
  return files;
}

function openai(s: ServeProcess): OpenAI {
  return new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "unused", maxRetries: 0 });
}

function messages(c: typeof chat) {
  return c.messages!.map((m) => ({ role: m.role as "system" | "user", content: m.content }));
}

async function metric(s: ServeProcess, name: string, labels: Record<string, string>): Promise<number> {
  const samples = parsePrometheusText(await (await fetch(`${s.url}/metrics`)).text());
  const hit = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return hit?.value ?? 0;
}

function close(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < 1e-6);
}

Deno.test({
  name: "openai SDK: chat completions (streamed and not), completions, stop strings, models, embeddings, errors",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await serve();
    const client = openai(s);
    // chat, not streamed: the golden's greedy text, with usage
    const done = await client.chat.completions.create({
      model: "qwen3",
      messages: messages(chat),
      max_tokens: chat.max_new_tokens,
      temperature: 0,
    });
    assertEquals(done.choices[0].message.content, chat.text);
    assertEquals(done.choices[0].finish_reason, chat.finish_reason);
    assertEquals(done.usage?.prompt_tokens, (chat.prompt_ids as number[]).length);
    assertEquals(done.usage?.completion_tokens, (chat.new_ids as number[]).length);
    // the same, streamed: deltas concatenated are the same text; include_usage adds a usage chunk
    const stream = await client.chat.completions.create({
      model: "qwen3",
      messages: messages(chat),
      max_completion_tokens: chat.max_new_tokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "", finish: string | null = null, usage: OpenAI.CompletionUsage | undefined | null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assertEquals(text, chat.text);
    assert(chunks > 3, `only ${chunks} chunks: not streamed`);
    assertEquals(finish, "length");
    assertEquals(usage?.completion_tokens, chat.max_new_tokens);
    // completions: the plain golden (the tokenizer's special tokens, no template)
    const completion = await client.completions.create({
      model: "qwen3",
      prompt: plain.prompt!,
      max_tokens: plain.max_new_tokens,
      temperature: 0,
    });
    assertEquals(completion.choices[0].text, plain.text);
    // a stop string ends the text before it, streamed or not, and never appears
    const stopped = await client.completions.create({
      model: "qwen3",
      prompt: stopCase.prompt!,
      max_tokens: stopCase.max_new_tokens,
      stop: stopCase.stop!,
      temperature: 0,
    });
    assertEquals(stopped.choices[0].text, stopCase.text);
    assertEquals(stopped.choices[0].finish_reason, "stop");
    let streamedStop = "";
    for await (
      const c of await client.completions.create({
        model: "qwen3",
        prompt: stopCase.prompt!,
        max_tokens: stopCase.max_new_tokens,
        stop: stopCase.stop![0],
        temperature: 0,
        stream: true,
      })
    ) streamedStop += c.choices[0]?.text ?? "";
    assertEquals(streamedStop, stopCase.text);
    assert(!streamedStop.includes(stopCase.stop![0]));
    // models
    const listed = [];
    for await (const m of client.models.list()) listed.push(m.id);
    assertEquals(listed.sort(), ["embedder", "qwen3"]);
    assertEquals((await client.models.retrieve("qwen3")).id, "qwen3");
    // embeddings: the SDK asks for base64 and decodes it; the vectors are gpux run's
    const emb = await client.embeddings.create({ model: "embedder", input: TEXTS });
    assertEquals(emb.data.length, 2);
    emb.data.forEach((d, i) =>
      assert(close(d.embedding, embedderVectors[i]), `${d.embedding} vs ${embedderVectors[i]}`)
    );
    // usage counts the tokens the model ran on (it said 0 before)
    const allTokens = embedderTokens[0] + embedderTokens[1];
    assert(embedderTokens[0] > 2 && embedderTokens[1] > embedderTokens[0], JSON.stringify(embedderTokens));
    assertEquals(emb.usage, { prompt_tokens: allTokens, total_tokens: allTokens });
    const floats = await client.embeddings.create({ model: "embedder", input: TEXTS[0], encoding_format: "float" });
    assert(close(floats.data[0].embedding, embedderVectors[0]));
    assertEquals(floats.usage, { prompt_tokens: embedderTokens[0], total_tokens: embedderTokens[0] });
    const cut = await client.embeddings.create({ model: "embedder", input: TEXTS[0], dimensions: 2 });
    assertEquals(cut.data[0].embedding.length, 2);
    assert(Math.abs(Math.hypot(...cut.data[0].embedding) - 1) < 1e-6, "truncated embeddings are renormalised");
    // errors in OpenAI's shape, with the field named
    const refused = async (body: Record<string, unknown>, status: number, param: string | null, message: RegExp) => {
      const r = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(body) });
      const doc = await r.json();
      assertEquals(r.status, status, JSON.stringify(doc));
      assertEquals(Object.keys(doc.error).sort(), ["code", "message", "param", "type"]);
      assertEquals(doc.error.param, param);
      assertMatch(doc.error.message, message);
      return doc.error;
    };
    const base = { model: "qwen3", messages: messages(chat) };
    await refused({ ...base, n: 2 }, 400, "n", /n must be 1/);
    await refused({ ...base, presence_penalty: 2.5 }, 400, "presence_penalty", /from -2 to 2/);
    await refused({ ...base, response_format: { type: "xml" } }, 400, "response_format.type", /json_schema/);
    await refused(
      { ...base, tools: [{ type: "function", function: { name: "f" } }], tool_choice: "required" },
      400,
      "tool_choice",
      /not supported yet/,
    );
    await refused({ ...base, top_logprobs: 2 }, 400, "top_logprobs", /needs logprobs/);
    await refused({ ...base, max_tokens: 0 }, 400, "max_tokens", /positive integer/);
    await refused({ ...base, max_tokens: 5000 }, 400, "max_tokens", /limit of 4096/);
    await refused({ ...base, model: "nope" }, 404, "model", /"nope" is not served/);
    await refused({ ...base, model: "embedder" }, 400, "model", /does not generate text/);
    const long = await refused({ ...base, max_tokens: 500 }, 400, "messages", /27 tokens.*500.*context of 512/);
    assertEquals(long.code, "context_length_exceeded");
    // the SDK raises its typed error for them
    try {
      await client.chat.completions.create({ ...base, messages: messages(chat), n: 3 });
      throw new Error("n=3 was accepted");
    } catch (error) {
      assert(error instanceof OpenAI.BadRequestError, String(error));
      assertEquals(error.status, 400);
    }
  },
});

Deno.test({
  name: "ollama SDK: chat and generate (streamed and not), embed, list, show, ps, version",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await serve();
    const ollama = new Ollama({ host: s.url });
    const options = { temperature: 0, num_predict: chat.max_new_tokens };
    const done = await ollama.chat({ model: "qwen3", messages: chat.messages!, stream: false, options });
    assertEquals(done.message.content, chat.text);
    assertEquals(done.done_reason, "length");
    assertEquals(done.prompt_eval_count, (chat.prompt_ids as number[]).length);
    assertEquals(done.eval_count, chat.max_new_tokens);
    assert(done.total_duration > 0 && done.eval_duration > 0 && done.prompt_eval_duration > 0);
    let streamed = "", last;
    for await (
      const part of await ollama.chat({ model: "qwen3:latest", messages: chat.messages!, stream: true, options })
    ) {
      streamed += part.message.content;
      last = part;
    }
    assertEquals(streamed, chat.text);
    assertEquals(last?.done, true);
    // generate, raw: the plain golden; streamed the same
    const gen = await ollama.generate({
      model: "qwen3",
      prompt: plain.prompt!,
      raw: true,
      stream: false,
      options: { temperature: 0, num_predict: plain.max_new_tokens },
    });
    assertEquals(gen.response, plain.text);
    let genStreamed = "";
    for await (
      const part of await ollama.generate({
        model: "qwen3",
        prompt: stopCase.prompt!,
        raw: true,
        stream: true,
        options: { temperature: 0, num_predict: stopCase.max_new_tokens, stop: stopCase.stop! },
      })
    ) genStreamed += part.response;
    assertEquals(genStreamed, stopCase.text);
    // generate without raw goes through the chat template, as chat with one user message does
    const templated = await ollama.generate({
      model: "qwen3",
      prompt: "Tell me a story about the sea.",
      system: "You are a helpful assistant.",
      stream: false,
      options,
    });
    assertEquals(templated.response, chat.text);
    // embed: gpux run's vectors
    const emb = await ollama.embed({ model: "embedder", input: TEXTS });
    emb.embeddings.forEach((v, i) => assert(close(v, embedderVectors[i])));
    assertEquals(emb.prompt_eval_count, embedderTokens[0] + embedderTokens[1], "prompt_eval_count counts the tokens");
    assertEquals((await ollama.embed({ model: "embedder", input: TEXTS[1] })).prompt_eval_count, embedderTokens[1]);
    // list, show, ps, version
    assertEquals((await ollama.list()).models.map((m) => m.name).sort(), ["embedder", "qwen3"]);
    const shown = await ollama.show({ model: "qwen3" });
    assertMatch(shown.template, /im_start/);
    assertEquals(shown.capabilities, ["completion"]);
    assertEquals((await ollama.ps()).models.length, 2);
    assertMatch((await ollama.version()).version, /^\d+\.\d+\.\d+/);
    // an unknown model: Ollama's error shape, which the SDK raises
    try {
      await ollama.chat({ model: "nope", messages: chat.messages!, stream: false });
      throw new Error("an unknown model was accepted");
    } catch (error) {
      assertMatch((error as Error).message, /"nope" is not served/);
    }
    // images are refused by a text model, never dropped
    const withImage = await fetch(`${s.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({
        model: "qwen3",
        stream: false,
        messages: [{ role: "user", content: "?", images: ["aGk="] }],
      }),
    });
    assertEquals(withImage.status, 400);
    assertMatch((await withImage.json()).error, /messages\[0\]\.images: .*no images/);
    // a prompt over num_ctx is refused, never truncated
    const r = await fetch(`${s.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ model: "qwen3", messages: chat.messages, stream: false, options: { num_ctx: 16 } }),
    });
    assertEquals(r.status, 400);
    assertMatch((await r.json()).error, /27 tokens.*context is 16 tokens/);
  },
});

Deno.test({
  name:
    "openai and ollama SDKs: penalties, logprobs, tools rendered through the template and JSON mode give what the engine gives in-process",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await serve();
    const client = openai(s);
    const long = golden("plain_long");
    await using local = await loadTextGeneration(QWEN, { variant: "fp32", provider: "cpu" });
    // penalties: the server's text is the engine's with the same penalties, and not the unpenalised golden
    const penalised = await client.completions.create({
      model: "qwen3",
      prompt: long.prompt!,
      max_tokens: long.max_new_tokens,
      temperature: 0,
      presence_penalty: 1.5,
      frequency_penalty: 1,
    });
    const expected = await local.run(long.prompt!, {
      maxNewTokens: long.max_new_tokens,
      temperature: 0,
      presencePenalty: 1.5,
      frequencyPenalty: 1,
    });
    assertEquals(penalised.choices[0].text, expected.text);
    assert(expected.text !== long.text, "the penalties changed nothing: the check could not fail");
    // logprobs: per token, with alternatives, the engine's values; streamed the same
    const withLogprobs = await client.chat.completions.create({
      model: "qwen3",
      messages: messages(chat),
      max_tokens: 6,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    const reference = await local.run(chat.messages!, {
      maxNewTokens: 6,
      temperature: 0,
      logprobs: true,
      topLogprobs: 2,
    });
    const content = withLogprobs.choices[0].logprobs!.content!;
    assertEquals(content.length, 6);
    content.forEach((t, i) => {
      assertEquals(t.token, reference.logprobs![i].token);
      assert(Math.abs(t.logprob - reference.logprobs![i].logprob) < 1e-5);
      assertEquals(t.top_logprobs.map((x) => x.token), reference.logprobs![i].top.map((x) => x.token));
    });
    const streamedLogprobs: number[] = [];
    for await (
      const c of await client.chat.completions.create({
        model: "qwen3",
        messages: messages(chat),
        max_tokens: 6,
        temperature: 0,
        logprobs: true,
        stream: true,
      })
    ) for (const t of c.choices[0]?.logprobs?.content ?? []) streamedLogprobs.push(t.logprob);
    assertEquals(streamedLogprobs, content.map((t) => t.logprob));
    const legacy = await client.completions.create({
      model: "qwen3",
      prompt: plain.prompt!,
      max_tokens: 3,
      temperature: 0,
      logprobs: 1,
    });
    assertEquals(legacy.choices[0].logprobs?.token_logprobs?.length, 3);
    // tools: rendered through the chat template (the prompt grows by what the template writes for them)
    const tools = [{
      type: "function" as const,
      function: {
        name: "get_weather",
        description: "The weather in a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    }];
    const withTools = await client.chat.completions.create({
      model: "qwen3",
      messages: messages(chat),
      max_tokens: 8,
      temperature: 0,
      tools,
    });
    const toolPrompt = local.encodePrompt(chat.messages!, { tools });
    assert(toolPrompt.length > (chat.prompt_ids as number[]).length + 20);
    assertEquals(withTools.usage?.prompt_tokens, toolPrompt.length);
    const toolText = await local.run({ ids: toolPrompt }, { maxNewTokens: 8, temperature: 0 });
    assertEquals(withTools.choices[0].message.content, toolText.text);
    // JSON mode: the answer parses (to the schema when one is given), it is the engine's, streamed or not
    const schema = {
      type: "object",
      properties: { name: { type: "string" }, age: { type: "integer" } },
      required: ["name", "age"],
      additionalProperties: false,
    };
    const jsonAnswer = await client.chat.completions.create({
      model: "qwen3",
      messages: messages(chat),
      max_tokens: 60,
      temperature: 0,
      response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } },
    });
    const jsonText = jsonAnswer.choices[0].message.content!;
    const person = JSON.parse(jsonText);
    assertEquals(Object.keys(person).sort(), ["age", "name"]);
    assertEquals([typeof person.name, Number.isInteger(person.age)], ["string", true]);
    const jsonLocal = await local.run(chat.messages!, {
      maxNewTokens: 60,
      temperature: 0,
      responseFormat: { type: "json_schema", schema },
    });
    assertEquals(jsonText, jsonLocal.text);
    let jsonStreamed = "";
    for await (
      const c of await client.chat.completions.create({
        model: "qwen3",
        messages: messages(chat),
        max_tokens: 60,
        temperature: 0,
        response_format: { type: "json_schema", json_schema: { name: "person", schema } },
        stream: true,
      })
    ) jsonStreamed += c.choices[0]?.delta?.content ?? "";
    assertEquals(jsonStreamed, jsonText);
    const anyObject = await client.chat.completions.create({
      model: "qwen3",
      messages: messages(chat),
      max_tokens: 60,
      temperature: 0,
      response_format: { type: "json_object" },
    });
    const parsedObject = JSON.parse(anyObject.choices[0].message.content!);
    assert(parsedObject && typeof parsedObject === "object" && !Array.isArray(parsedObject));
    // Ollama's format: a schema, and "json"
    const ollama = new Ollama({ host: s.url });
    const formatted = await ollama.chat({
      model: "qwen3",
      messages: chat.messages!,
      stream: false,
      format: schema,
      options: { temperature: 0, num_predict: 60 },
    });
    assertEquals(formatted.message.content, jsonText);
    const generated = await ollama.generate({
      model: "qwen3",
      prompt: plain.prompt!,
      raw: true,
      stream: false,
      format: "json",
      options: { temperature: 0, num_predict: 60 },
    });
    assert(typeof JSON.parse(generated.response ?? "") === "object");
  },
});

Deno.test("openai tool-call deltas: a streamed Hermes call becomes an id and name, then argument chunks", () => {
  const parser = new ToolCallStreamParser({ formats: ["hermes"], makeId: () => "call_1" });
  const text = 'Let me check.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
  const deltas = [];
  for (let i = 0; i < text.length; i += 7) deltas.push(...toolCallDeltas(parser.push(text.slice(i, i + 7))));
  deltas.push(...toolCallDeltas(parser.end()));
  const content = deltas.map((d) => (d.content as string | undefined) ?? "").join("");
  assertEquals(content.trim(), "Let me check.");
  const calls = deltas.flatMap((d) => (d.tool_calls as Record<string, unknown>[] | undefined) ?? []);
  assertEquals(calls[0], {
    index: 0,
    id: "call_1",
    type: "function",
    function: { name: "get_weather", arguments: "" },
  });
  const args = calls.slice(1).map((c) => (c.function as { arguments: string }).arguments).join("");
  assertEquals(JSON.parse(args), { city: "Paris" });
});

Deno.test({
  name: "serve generation: three concurrent streams each get their own answer, /health answers meanwhile",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await serve();
    const client = openai(s);
    const collect = async (stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk | OpenAI.Completion>) => {
      let text = "";
      for await (const c of stream) {
        const choice = c.choices[0] as { delta?: { content?: string }; text?: string } | undefined;
        text += choice?.delta?.content ?? choice?.text ?? "";
      }
      return text;
    };
    const answers = Promise.all([
      client.chat.completions.create({
        model: "qwen3",
        messages: messages(chat),
        max_tokens: chat.max_new_tokens,
        temperature: 0,
        stream: true,
      }).then(collect),
      client.completions.create({
        model: "qwen3",
        prompt: plain.prompt!,
        max_tokens: plain.max_new_tokens,
        temperature: 0,
        stream: true,
      }).then(collect),
      client.completions.create({
        model: "qwen3",
        prompt: stopCase.prompt!,
        max_tokens: stopCase.max_new_tokens,
        stop: stopCase.stop!,
        temperature: 0,
        stream: true,
      }).then(collect),
    ]);
    const health = await fetch(`${s.url}/health`);
    assertEquals(health.status, 200);
    await health.body?.cancel();
    assertEquals(await answers, [chat.text, plain.text, stopCase.text]);
  },
});

/** A venv with Python's `openai` package from the local pip mirror (`tests/.fixtures/venv-openai`, ~10 s cold). */
function pythonOpenai(): Promise<string> {
  return pythonVenv({
    name: "venv-openai",
    installs: [["openai>=1,<3"]],
    check: "import openai",
    who: "openai client",
  });
}

const PYTHON_CLIENT = `
import json, sys
from openai import OpenAI
url, messages, n, prompt, m = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
client = OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
chat = client.chat.completions.create(model="qwen3", messages=messages, max_tokens=n, temperature=0)
streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
    model="qwen3", messages=messages, max_tokens=n, temperature=0, stream=True) if c.choices)
completion = client.completions.create(model="qwen3", prompt=prompt, max_tokens=m, temperature=0)
emb = client.embeddings.create(model="embedder", input=["hello world"])
print(json.dumps({"chat": chat.choices[0].message.content, "usage": chat.usage.completion_tokens,
  "streamed": streamed, "completion": completion.choices[0].text, "embedding": emb.data[0].embedding,
  "models": sorted(m.id for m in client.models.list())}))
`;

Deno.test({
  name: "Python's openai package (from the pip mirror): chat streamed and not, completions, embeddings, models",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await serve();
    const python = await pythonOpenai();
    const out = await new Deno.Command(python, {
      args: [
        "-c",
        PYTHON_CLIENT,
        s.url,
        JSON.stringify(chat.messages),
        String(chat.max_new_tokens),
        plain.prompt!,
        String(plain.max_new_tokens),
      ],
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert(out.success, stderr);
    const got = JSON.parse(new TextDecoder().decode(out.stdout));
    assertEquals(got.chat, chat.text);
    assertEquals(got.streamed, chat.text);
    assertEquals(got.usage, chat.max_new_tokens);
    assertEquals(got.completion, plain.text);
    assert(close(got.embedding, embedderVectors[0]));
    assertEquals(got.models, ["embedder", "qwen3"]);
  },
});

Deno.test({
  name: "serve generation: a client that leaves mid-stream cancels its generation (metrics count it)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await serve();
    try {
      const before = await metric(s, "gpux_generations_total", { model: "qwen3", reason: "cancelled" });
      const tokensBefore = await metric(s, "gpux_generated_tokens_total", { model: "qwen3" });
      const r = await fetch(`${s.url}/v1/completions`, {
        method: "POST",
        body: JSON.stringify({ model: "qwen3", prompt: plain.prompt, max_tokens: 480, stream: true, temperature: 0 }),
      });
      assertEquals(r.status, 200);
      const reader = r.body!.getReader();
      await reader.read(); // the first chunk: the generation is running
      await reader.cancel();
      let cancelled = before;
      for (let i = 0; i < 100 && cancelled === before; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        cancelled = await metric(s, "gpux_generations_total", { model: "qwen3", reason: "cancelled" });
      }
      assertEquals(cancelled, before + 1);
      const tokens = await metric(s, "gpux_generated_tokens_total", { model: "qwen3" }) - tokensBefore;
      assert(tokens < 480, `${tokens} tokens generated after the client left`);
      // not streamed: the answer's headers come with the first token; a client that hangs up before the document
      // cancels the generation too
      const leaving = new AbortController();
      const whole = await fetch(`${s.url}/api/generate`, {
        method: "POST",
        signal: leaving.signal,
        body: JSON.stringify({
          model: "qwen3",
          prompt: plain.prompt,
          raw: true,
          stream: false,
          options: { num_predict: 480, temperature: 0 },
        }),
      });
      assertEquals(whole.status, 200);
      leaving.abort();
      await whole.body?.cancel().catch(() => {});
      let again = cancelled;
      for (let i = 0; i < 100 && again === cancelled; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        again = await metric(s, "gpux_generations_total", { model: "qwen3", reason: "cancelled" });
      }
      assertEquals(again, cancelled + 1);
      const all = await metric(s, "gpux_generated_tokens_total", { model: "qwen3" }) - tokensBefore;
      assert(all < 960, `${all} tokens generated after the clients left`);
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name:
    "serve generation: API key and CORS on /v1 and /api, a full queue answers 503 with Retry-After, SIGTERM lets a stream finish",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "gpux_compat_drain_" });
    const s = running(
      await startServe(
        [
          `qwen3=${QWEN}`,
          // no --variant: the folder holds four variants, and serve picks the provider's as `gpux run --prompt` does
          ...["--provider", "cpu", "--port", "0"],
          ...["--api-key", "s3cret", "--cors", "*", "--parallel", "1", "--max-queue", "1"],
        ],
        { sandbox: "exact", cwd: dir },
      ),
    );
    assertMatch(s.ready, /qwen3 \(cpu, fp32, 1 worker/);
    const auth = { authorization: "Bearer s3cret" };
    const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
      fetch(`${s.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    try {
      // the key guards every new route; errors keep each API's shape
      const noKey = await fetch(`${s.url}/v1/models`);
      assertEquals(noKey.status, 401);
      assertEquals((await noKey.json()).error.type, "authentication_error");
      const noKeyOllama = await fetch(`${s.url}/api/tags`);
      assertEquals(noKeyOllama.status, 401);
      assertEquals(typeof (await noKeyOllama.json()).error, "string");
      const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "s3cret", maxRetries: 0 });
      assertEquals((await client.models.list()).data.map((m) => m.id), ["qwen3"]);
      // CORS on a generation route, and its preflight
      const preflight = await fetch(`${s.url}/v1/chat/completions`, {
        method: "OPTIONS",
        headers: { origin: "http://app.example", "access-control-request-method": "POST" },
      });
      assertEquals(preflight.status, 204);
      assertEquals(preflight.headers.get("access-control-allow-origin"), "*");
      await preflight.body?.cancel();
      const corsAnswer = await post("/api/generate", {
        model: "qwen3",
        prompt: plain.prompt,
        raw: true,
        stream: false,
        options: { num_predict: 2 },
      }, { ...auth, origin: "http://app.example" });
      assertEquals(corsAnswer.headers.get("access-control-allow-origin"), "*");
      await corsAnswer.body?.cancel();
      // one generating, one queued: the third gets 503 + Retry-After
      const long = { model: "qwen3", prompt: plain.prompt, max_tokens: 480, stream: true, temperature: 0 };
      const first = await post("/v1/completions", long);
      const firstReader = first.body!.getReader();
      await firstReader.read();
      const queued = post("/v1/completions", { ...long, max_tokens: 4, stream: false });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const full = await post("/v1/completions", { ...long, stream: false });
      assertEquals(full.status, 503);
      assertEquals(full.headers.get("retry-after"), "1");
      assertMatch((await full.json()).error.message, /queue of model "qwen3" is full/);
      await firstReader.cancel();
      assertEquals((await queued).status, 200);
      await (await queued).body?.cancel();
      // SIGTERM while a stream runs: it finishes (usage says every token came), new requests get 503
      const draining = await post("/v1/chat/completions", {
        model: "qwen3",
        messages: chat.messages,
        max_tokens: 400,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      });
      const reader = draining.body!.pipeThrough(new TextDecoderStream()).getReader();
      let sse = (await reader.read()).value ?? "";
      const stopped = s.stop("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 150));
      const refused = await post("/v1/chat/completions", { model: "qwen3", messages: chat.messages, max_tokens: 1 });
      assertEquals(refused.status, 503);
      await refused.body?.cancel();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        sse += value;
      }
      assert(sse.trimEnd().endsWith("data: [DONE]"), sse.slice(-200));
      assertMatch(sse, /"completion_tokens":400/);
      assertEquals(await stopped, 0, s.stderr());
    } finally {
      await s.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "serve with no model argument: cached models load on first use, keep_alive unloads them, an uncached one is a 404 naming gpux pull",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "gpux_compat_cache_" });
    const cacheDir = `${dir}/hub`;
    const fixture = new CacheFixture(cacheDir, "acme/qwen3-tiny");
    const commit = commitSha("qwen3-tiny");
    await fixture.addRevision(commit, await qwenFiles());
    await fixture.setRef("main", commit);
    const s = running(
      await startServe(["--provider", "cpu", "--port", "0", "--keep-alive", "1h"], {
        sandbox: "exact",
        cwd: dir,
        env: { HF_HUB_CACHE: cacheDir, HF_HOME: `${dir}/hf`, GPUX_HOME: `${dir}/gpux`, HF_HUB_OFFLINE: "1" },
      }),
    );
    try {
      assertMatch(s.ready, /every cached model, loaded on first use/);
      const ollama = new Ollama({ host: s.url });
      assertEquals((await ollama.list()).models.map((m) => m.name), ["qwen3-tiny"]);
      assertEquals((await ollama.ps()).models, []);
      assertEquals((await openai(s).models.retrieve("qwen3-tiny")).id, "qwen3-tiny");
      // first use loads it; the answer is the golden's
      const done = await ollama.chat({
        model: "qwen3-tiny",
        messages: chat.messages!,
        stream: false,
        options: { temperature: 0, num_predict: chat.max_new_tokens },
        keep_alive: "1s",
      });
      assertEquals(done.message.content, chat.text);
      const ps = await ollama.ps();
      assertEquals(ps.models.map((m) => m.name), ["qwen3-tiny"]);
      assert(Date.parse(String(ps.models[0].expires_at)) - Date.now() < 2000, "keep_alive 1s sets the expiry");
      assertEquals(await metric(s, "gpux_model_loaded", { model: "qwen3-tiny" }), 1);
      // idle past its keep_alive: unloaded (ps and metrics say so), and the next request loads it again
      let unloaded = false;
      for (let i = 0; i < 60 && !unloaded; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        unloaded = (await ollama.ps()).models.length === 0;
      }
      assert(unloaded, "the model stayed loaded past its keep_alive");
      assertEquals(await metric(s, "gpux_model_loaded", { model: "qwen3-tiny" }), 0);
      const again = await openai(s).chat.completions.create({
        model: "acme/qwen3-tiny",
        messages: messages(chat),
        max_tokens: chat.max_new_tokens,
        temperature: 0,
      });
      assertEquals(again.choices[0].message.content, chat.text);
      // a model that is not cached: 404 with the pull to run
      const missing = await fetch(`${s.url}/api/chat`, {
        method: "POST",
        body: JSON.stringify({ model: "acme/absent", messages: chat.messages, stream: false }),
      });
      assertEquals(missing.status, 404);
      const body = await missing.json();
      assertMatch(
        `${body.error} ${body.hint}`,
        /not in the cache.*gpux pull acme\/absent \(or start the server with --allow-pull\)/,
      );
      // pulling is off without --allow-pull
      const pull = await fetch(`${s.url}/api/pull`, { method: "POST", body: JSON.stringify({ model: "acme/x" }) });
      assertEquals(pull.status, 403);
      assertMatch((await pull.json()).hint, /--allow-pull/);
    } finally {
      assertEquals(await s.stop(), 0, s.stderr());
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "ollama SDK pull with --allow-pull: Ollama's status lines from a local hub, then the pulled model serves on demand",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withCliHub("gpux_compat_pull_", async ({ hub, dir, env }) => {
      hub.addRepo("acme/embedder", { libraryName: "sentence-transformers" })
        .commit(embedderRepo(bert.tokenizer, bert.config));
      const s = running(
        await startServe(["--provider", "cpu", "--port", "0", "--allow-pull"], {
          sandbox: "exact",
          cwd: dir,
          env: { ...env, GPUX_HOME: `${dir}/gpux` },
        }),
      );
      try {
        const ollama = new Ollama({ host: s.url });
        // with --allow-pull, a chat naming an uncached org/name pulls it first, then answers
        hub.addRepo("acme/qwen3-tiny").commit(await qwenFiles());
        const pulledChat = await ollama.chat({
          model: "acme/qwen3-tiny",
          messages: chat.messages!,
          stream: false,
          options: { temperature: 0, num_predict: chat.max_new_tokens },
        });
        assertEquals(pulledChat.message.content, chat.text);
        const statuses: { status: string; completed?: number; total?: number }[] = [];
        for await (const p of await ollama.pull({ model: "acme/embedder", stream: true })) statuses.push(p);
        assertEquals(statuses[0].status, "pulling manifest");
        assertEquals(statuses.at(-1)?.status, "success");
        const onnx = statuses.filter((p) => p.status === "pulling onnx/model.onnx");
        assert(onnx.length > 0 && onnx.at(-1)!.completed === onnx.at(-1)!.total, JSON.stringify(statuses));
        // the pulled model is served on demand, with what gpux run computes from the same cache
        const run = await runCli(["run", "acme/embedder", "--text", TEXTS[0], "--json"], {
          env: { ...env, INIT_CWD: dir },
        });
        assertEquals(run.code, 0, run.stderr);
        const expected = JSON.parse(run.stdout).result.embeddings[0].embedding;
        const emb = await ollama.embed({ model: "embedder", input: TEXTS[0] });
        assert(close(emb.embeddings[0], expected), `${emb.embeddings[0]} vs ${expected}`);
      } finally {
        assertEquals(await s.stop(), 0, s.stderr());
      }
    });
  },
});
