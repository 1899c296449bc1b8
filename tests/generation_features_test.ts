/**
 * Generation features the OpenAI and Ollama APIs need, on the real fixtures (tests/support/generation_fixtures.ts):
 * presence/frequency penalties and logprobs checked against the logits of a bare Python onnxruntime run, JSON mode
 * (and JSON schemas) by masking, tool-call parsing (whole and streamed), and the real Qwen3 chat template
 * rendering tools and tool messages as Python transformers does.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { generationFixture, generationPython } from "./support/generation_fixtures.ts";
import { loadTextGeneration } from "../src/generation/load_pipeline.ts";
import type { GenerationDelta, TextGenerationPipeline } from "../src/generation/text_generation.ts";
import { InputError } from "../src/errors.ts";
import { runCli } from "./support/cli.ts";
import { JsonMachine, MAX_WHITESPACE_RUN } from "../src/generation/json_machine.ts";
import { compileJsonSchema, type SchemaNode } from "../src/generation/json_schema_subset.ts";
import {
  type ParsedToolCalls,
  parseToolCalls,
  type ToolCallEvent,
  type ToolCallFormat,
  toolCallFormatOf,
  ToolCallStreamParser,
} from "../src/generation/tool_calls.ts";

/** Log-softmax rows of the logits a bare onnxruntime run gives for `ids` (one row per position from `from`). */
const REFERENCE_SCRIPT = `
import json, sys
import numpy as np
import onnxruntime as ort
path, ids, start = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
feeds = {}
n = len(ids)
for i in s.get_inputs():
    if i.name == "input_ids": feeds[i.name] = np.array([ids], dtype=np.int64)
    elif i.name == "attention_mask": feeds[i.name] = np.ones((1, n), dtype=np.int64)
    elif i.name == "position_ids": feeds[i.name] = np.arange(n, dtype=np.int64)[None]
    elif i.name.startswith("past_key_values"):
        shape = [1 if d == "batch_size" or not isinstance(d, int) and "batch" in str(d) else (0 if not isinstance(d, int) else d) for d in i.shape]
        feeds[i.name] = np.zeros(shape, dtype=np.float32)
logits = s.run(["logits"], feeds)[0][0].astype(np.float64)
rows = logits[start - 1 : n - 0]
out = []
for r in rows:
    m = r.max()
    lse = m + np.log(np.exp(r - m).sum())
    out.append((r - lse).tolist())
np.save(sys.argv[4], np.array(out, dtype=np.float64))
`;

/** The log-softmax of the reference run at positions `start-1 … ids.length-1` (row t predicts ids[start+t]). */
async function referenceLogprobs(model: string, ids: number[], start: number): Promise<Float64Array[]> {
  const tmp = await Deno.makeTempFile({ suffix: ".npy" });
  try {
    const out = await new Deno.Command(await generationPython(), {
      args: ["-c", REFERENCE_SCRIPT, model, JSON.stringify(ids), String(start), tmp],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const bytes = await Deno.readFile(tmp);
    const headerLength = new DataView(bytes.buffer).getUint16(8, true);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
    const shape = /'shape': \((\d+), (\d+)\)/.exec(header)!;
    const [rows, cols] = [Number(shape[1]), Number(shape[2])];
    const data = new Float64Array(bytes.slice(10 + headerLength).buffer);
    return Array.from({ length: rows }, (_, r) => data.subarray(r * cols, (r + 1) * cols));
  } finally {
    await Deno.remove(tmp);
  }
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function topOrder(row: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: row.length }, (_, i) => i);
  return idx.sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
}

async function withQwen3<T>(fn: (p: TextGenerationPipeline, dir: string) => Promise<T>): Promise<T> {
  const dir = await generationFixture("qwen3");
  const p = await loadTextGeneration(dir, { variant: "fp32" });
  try {
    return await fn(p, dir);
  } finally {
    await p.dispose();
  }
}

Deno.test("features: presence and frequency penalties pick the argmax of logits − presence·[seen] − frequency·count (reference onnxruntime logits)", async () => {
  await withQwen3(async (p, dir) => {
    const prompt = "Once upon a time";
    const plain = await p.run(prompt, { maxNewTokens: 24, eosTokenId: [] });
    // the random fixture repeats itself: a penalty must change what greedy picks
    assert(new Set(plain.generatedIds).size < plain.generatedIds.length, `no repeats: ${plain.generatedIds}`);
    for (const [presence, frequency] of [[1.5, 0], [0, 0.7], [0.5, 1.2], [-1, 0]]) {
      const r = await p.run(prompt, {
        maxNewTokens: 24,
        eosTokenId: [],
        presencePenalty: presence,
        frequencyPenalty: frequency,
      });
      const ref = await referenceLogprobs(
        `${dir}/onnx/model.onnx`,
        [...r.promptIds, ...r.generatedIds.slice(0, -1)],
        r.promptIds.length,
      );
      assertEquals(ref.length, r.generatedIds.length);
      let penalised = 0;
      for (let t = 0; t < r.generatedIds.length; t++) {
        const counts = new Map<number, number>();
        for (const id of r.generatedIds.slice(0, t)) counts.set(id, (counts.get(id) ?? 0) + 1);
        const row = Float64Array.from(ref[t]);
        for (const [id, c] of counts) row[id] -= presence + frequency * c;
        const expected = argmax(row);
        assertEquals(r.generatedIds[t], expected, `presence ${presence} frequency ${frequency}, step ${t}`);
        if (expected !== argmax(ref[t])) penalised++;
      }
      if (presence > 0 || frequency > 0) {
        assert(penalised > 0, `presence ${presence} frequency ${frequency} changed no step`);
        assert(r.generatedIds.join() !== plain.generatedIds.join(), "the penalised output differs");
      }
    }
    await assertRejects(() => p.run(prompt, { presencePenalty: 3 }), InputError, "presence_penalty");
    await assertRejects(() => p.run(prompt, { frequencyPenalty: -2.5 }), InputError, "frequency_penalty");
  });
});

Deno.test("features: logprobs equal the log-softmax of a bare onnxruntime run's logits, top ids in argmax order, streamed per delta", async () => {
  await withQwen3(async (p, dir) => {
    const messages = [{ role: "user", content: "Name three colours." }];
    for (const sampling of [{}, { temperature: 1.3, topP: 0.9, seed: 5 }]) {
      const stream = p.generate(messages, { maxNewTokens: 16, logprobs: true, topLogprobs: 5, ...sampling });
      const deltas: GenerationDelta[] = [];
      for await (const d of stream.deltas()) deltas.push(d);
      const r = await stream.result;
      const lp = r.logprobs!;
      assertEquals(lp.map((t) => t.id), r.generatedIds);
      assertEquals(deltas.filter((d) => d.logprobs).map((d) => d.logprobs!.id), r.generatedIds, "one delta per token");
      assertEquals(deltas.map((d) => d.text).join(""), r.text, "delta texts concatenate to the text");
      const ref = await referenceLogprobs(
        `${dir}/onnx/model.onnx`,
        [...r.promptIds, ...r.generatedIds.slice(0, -1)],
        r.promptIds.length,
      );
      for (let t = 0; t < lp.length; t++) {
        assert(Math.abs(lp[t].logprob - ref[t][lp[t].id]) < 1e-4, `step ${t}: ${lp[t].logprob} vs ${ref[t][lp[t].id]}`);
        assertEquals(lp[t].top.map((x) => x.id), topOrder(ref[t], 5), `step ${t}: top ids`);
        for (const x of lp[t].top) assert(Math.abs(x.logprob - ref[t][x.id]) < 1e-4, `step ${t} top ${x.id}`);
      }
      const all = lp.filter((t) => !p.tokenizer.addedTokens.get(t.id)?.special).flatMap((t) => t.bytes);
      assertEquals(new TextDecoder().decode(new Uint8Array(all)), r.text, "token bytes spell the text");
    }
    const none = await p.run(messages, { maxNewTokens: 3 });
    assertEquals(none.logprobs, undefined, "no logprobs unless asked");
    await assertRejects(() => p.run(messages, { logprobs: true, topLogprobs: 21 }), InputError, "top_logprobs");
  });
});

function fixedIds(): () => string {
  let n = 0;
  return () => `call_${++n}`;
}

/** Feeds `text` in chunks of `size` and rebuilds content and calls from the events alone. */
function streamed(text: string, size: number, formats?: ToolCallFormat[]): ParsedToolCalls {
  const parser = new ToolCallStreamParser({ makeId: fixedIds(), ...(formats ? { formats } : {}) });
  const events: ToolCallEvent[] = [];
  for (let i = 0; i < text.length; i += size) events.push(...parser.push(text.slice(i, i + size)));
  events.push(...parser.end());
  let content = "";
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const e of events) {
    if (e.type === "content") content += e.text;
    else if (e.type === "tool_call") {
      assertEquals(e.index, calls.length, "calls start in order");
      calls.push({ id: e.id, name: e.name, arguments: "" });
    } else calls[e.index].arguments += e.text;
  }
  return { content: content.trim(), toolCalls: calls };
}

const TOOL_TEXTS: { label: string; text: string; expected: ParsedToolCalls; formats?: ToolCallFormat[] }[] = [
  {
    label: "hermes, two calls after some text",
    text: 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}\n' +
      '</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"tz": "Europe/Paris", "q": "a \\"}\\" b"}}\n</tool_call>',
    expected: {
      content: "Let me check.",
      toolCalls: [
        { id: "call_1", name: "get_weather", arguments: '{"city": "Paris", "unit": "c"}' },
        { id: "call_2", name: "get_time", arguments: '{"tz": "Europe/Paris", "q": "a \\"}\\" b"}' },
      ],
    },
  },
  {
    label: "hermes, arguments before name",
    text: '<tool_call>{"arguments": {"x": [1, 2]}, "name": "sum"}</tool_call>',
    expected: { content: "", toolCalls: [{ id: "call_1", name: "sum", arguments: '{"x": [1, 2]}' }] },
  },
  {
    label: "hermes, not a call (broken JSON) stays content",
    text: "Hi <tool_call>not json</tool_call> bye",
    expected: { content: "Hi <tool_call>not json</tool_call> bye", toolCalls: [] },
  },
  {
    label: "llama 3.1 bare JSON",
    text: '{"name": "get_weather", "parameters": {"city": "Oslo"}}',
    expected: { content: "", toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city": "Oslo"}' }] },
  },
  {
    label: "llama 3.1 python_tag, two calls with ;",
    text: '<|python_tag|>{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"k": 1}}',
    expected: {
      content: "",
      toolCalls: [{ id: "call_1", name: "a", arguments: "{}" }, { id: "call_2", name: "b", arguments: '{"k": 1}' }],
    },
  },
  {
    label: "llama: JSON that is not a call stays content",
    text: '{"answer": 42}',
    expected: { content: '{"answer": 42}', toolCalls: [] },
  },
  {
    label: "mistral list",
    text: '[TOOL_CALLS] [{"name": "f", "arguments": {"a": "b"}, "id": "abc123XYZ"}, {"name": "g", "arguments": {}}]',
    expected: {
      content: "",
      toolCalls: [{ id: "abc123XYZ", name: "f", arguments: '{"a": "b"}' }, {
        id: "call_1",
        name: "g",
        arguments: "{}",
      }],
    },
  },
  {
    label: "mistral list without its [TOOL_CALLS] (a special token, skipped when decoding)",
    text: ' [{"name": "f", "arguments": {"a": 1}}]',
    expected: { content: "", toolCalls: [{ id: "call_1", name: "f", arguments: '{"a": 1}' }] },
  },
  {
    label: "a JSON list that is not calls stays content",
    text: "[1, 2, 3] are numbers",
    expected: { content: "[1, 2, 3] are numbers", toolCalls: [] },
  },
  {
    label: "mistral v11",
    text: 'Sure.[TOOL_CALLS]lookup[ARGS]{"q": "x"}',
    expected: { content: "Sure.", toolCalls: [{ id: "call_1", name: "lookup", arguments: '{"q": "x"}' }] },
  },
  {
    label: "plain text with a lone < and [ is content",
    text: "a < b and [x] {not at start}",
    expected: { content: "a < b and [x] {not at start}", toolCalls: [] },
  },
  {
    label: "hermes only: bare JSON stays content",
    text: '{"name": "f", "parameters": {}}',
    expected: { content: '{"name": "f", "parameters": {}}', toolCalls: [] },
    formats: ["hermes"],
  },
];

Deno.test("features: tool calls parse from Hermes/Qwen, Llama 3.1 and Mistral texts; streamed deltas equal the whole parse", () => {
  for (const c of TOOL_TEXTS) {
    const whole = parseToolCalls(c.text, { makeId: fixedIds(), ...(c.formats ? { formats: c.formats } : {}) });
    assertEquals(whole, c.expected, c.label);
    for (const call of whole.toolCalls) JSON.parse(call.arguments);
    for (const size of [1, 2, 3, 5, 8, 13, 1000]) {
      assertEquals(streamed(c.text, size, c.formats), whole, `${c.label} / ${size}`);
    }
  }
  // a Hermes call's arguments stream in several chunks before the call closes
  const parser = new ToolCallStreamParser({ makeId: fixedIds() });
  const text = TOOL_TEXTS[0].text;
  const kinds: string[] = [];
  for (let i = 0; i < text.length; i += 4) for (const e of parser.push(text.slice(i, i + 4))) kinds.push(e.type);
  assert(kinds.filter((k) => k === "arguments").length > 4, `argument chunks: ${kinds}`);
  assert(kinds.indexOf("tool_call") < kinds.indexOf("arguments"), "the name comes before the arguments");
  // text that might begin a tool call is held back, then released
  const hold = new ToolCallStreamParser();
  assertEquals(hold.push("Hello <tool"), [{ type: "content", text: "Hello " }]);
  assertEquals(hold.push("s are fun"), [{ type: "content", text: "<tools are fun" }]);
  assertEquals(toolCallFormatOf("{{ '<tool_call>' }}"), "hermes");
  assertEquals(toolCallFormatOf("[TOOL_CALLS]"), "mistral");
  assertEquals(toolCallFormatOf("plain"), undefined);
});

const TEMPLATE_SCRIPT = `
import json, sys
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
case = json.loads(sys.argv[2])
print(json.dumps(tok.apply_chat_template(case["messages"], tools=case["tools"], tokenize=False, add_generation_prompt=True)))
`;

const WEATHER_TOOLS = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather in a city — accents: é, 中文",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "City name" }, unit: { type: "string", enum: ["c", "f"] } },
      required: ["city"],
    },
  },
}];

Deno.test("features: the real Qwen3 template renders tools, assistant tool_calls and tool messages as Python transformers does", async () => {
  const dir = await generationFixture("qwen3");
  const p = await loadTextGeneration(dir, { variant: "fp32" });
  try {
    const conversations = [
      [{ role: "user", content: "Weather in Paris?" }],
      [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Weather in Paris and Oslo?" },
        {
          role: "assistant",
          content: null as unknown as string, // OpenAI sends null beside tool_calls
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } },
            { id: "call_2", type: "function", function: { name: "get_weather", arguments: { city: "Oslo" } } },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: '{"temp": 21}' },
        { role: "tool", tool_call_id: "call_2", content: '{"temp": 9}' },
      ],
    ];
    for (const [i, messages] of conversations.entries()) {
      const ours = p.chatTemplate!.render(messages, { tools: WEATHER_TOOLS, addGenerationPrompt: true });
      const out = await new Deno.Command(await generationPython(), {
        // Python's Qwen3 template fails on a null content: it gets "" (what gpux renders null as)
        args: ["-c", TEMPLATE_SCRIPT, dir, JSON.stringify({ messages, tools: WEATHER_TOOLS }).replaceAll("null", '""')],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      const python = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
      assertEquals(ours, python, `conversation ${i}`);
      assert(ours.includes("<tools>") && ours.includes('"name": "get_weather"'), "the tools are listed");
      if (i === 1) assert(ours.includes("<tool_response>") && ours.includes("<tool_call>"), ours);
    }
    // the engine takes the same messages (tools through the options) and generates
    const r = await p.run(conversations[1], { tools: WEATHER_TOOLS, maxNewTokens: 3 });
    assertEquals(r.generatedIds.length > 0, true);
  } finally {
    await p.dispose();
  }
});

/** A hand check of the schema subset JSON mode enforces (the test's own, independent of the engine). */
function validate(schema: Record<string, unknown> | boolean, value: unknown, path = "$"): string[] {
  if (schema === true || (typeof schema === "object" && Object.keys(schema).length === 0)) return [];
  const s = schema as Record<string, unknown>;
  const errors: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if ("const" in s && !same(s.const, value)) errors.push(`${path}: not the const`);
  if ("enum" in s && !(s.enum as unknown[]).some((e) => same(e, value))) errors.push(`${path}: not in enum`);
  if ("anyOf" in s) {
    const ok = (s.anyOf as Record<string, unknown>[]).some((o) => validate(o, value, path).length === 0);
    if (!ok) errors.push(`${path}: no anyOf alternative`);
  }
  if ("type" in s) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const kind = value === null
      ? "null"
      : Array.isArray(value)
      ? "array"
      : typeof value === "number"
      ? (Number.isInteger(value) ? "integer" : "number")
      : typeof value;
    if (!types.includes(kind) && !(kind === "integer" && types.includes("number"))) {
      errors.push(`${path}: ${kind} is not ${types}`);
    }
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const r of (s.required ?? []) as string[]) if (!(r in obj)) errors.push(`${path}: ${r} missing`);
    for (const [k, v] of Object.entries(obj)) {
      if (k in props) errors.push(...validate(props[k], v, `${path}.${k}`));
      else if (s.additionalProperties === false) errors.push(`${path}: extra key ${k}`);
    }
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === "number" && value.length < s.minItems) errors.push(`${path}: fewer than minItems`);
    if (typeof s.maxItems === "number" && value.length > s.maxItems) errors.push(`${path}: more than maxItems`);
    if (s.items) {
      value.forEach((v, i) => errors.push(...validate(s.items as Record<string, unknown>, v, `${path}[${i}]`)));
    }
  }
  return errors;
}

const PERSON_SCHEMA = {
  type: "object",
  properties: {
    name: { type: "string", description: "annotations are fine" },
    age: { type: "integer" },
    score: { type: ["number", "null"] },
    tags: { type: "array", items: { enum: ["red", "green", "blue"] }, minItems: 1, maxItems: 3 },
    role: { const: "admin" },
    address: {
      type: "object",
      properties: { city: { type: "string" }, zip: { anyOf: [{ type: "string" }, { type: "integer" }] } },
      required: ["city"],
      additionalProperties: false,
    },
    active: { type: "boolean" },
  },
  required: ["name", "age", "tags", "address"],
  additionalProperties: false,
};

Deno.test("features: the JSON machine accepts JSON, rejects the rest, and its shortest completion closes any prefix to a valid value", () => {
  const enc = new TextEncoder();
  const feeds = (node: SchemaNode, text: string) => {
    const m = new JsonMachine(node);
    return m.feedAll(enc.encode(text)) && m.canEnd;
  };
  const anyObj = compileJsonSchema({ type: "object" });
  for (const good of ['{"a": [1, -2.5e+3, "x\\u00e9\\n", true, null, {}], "b": -0}', "{}", '{"é": "中文 🫠"}']) {
    assert(feeds(anyObj, good), good);
  }
  for (const bad of ['{"a" 1}', '{"a": 01}', "[1]", '{"a": tru}', '{"a": "\\x"}', '{"a": 1,}', '{"a":"\u0001"}']) {
    assert(!feeds(anyObj, bad), bad);
  }
  assert(!new JsonMachine(anyObj).feedAll(Uint8Array.of(0x7b, 0x22, 0xc0, 0x80)), "an overlong UTF-8 byte is refused");
  const spaces = new JsonMachine(anyObj);
  assert(!spaces.feedAll(enc.encode(" ".repeat(MAX_WHITESPACE_RUN + 1))), "whitespace runs are bounded");
  const person = compileJsonSchema(PERSON_SCHEMA);
  assert(feeds(person, '{"name": "x", "age": 3, "tags": ["red"], "address": {"city": "Oslo", "zip": 123}}'));
  assert(!feeds(person, '{"name": "x", "age": 3.5, "tags": ["red"], "address": {"city": "Oslo"}}'), "integer");
  assert(!feeds(person, '{"name": "x", "tags": ["red"], "address": {"city": "Oslo"}}'), "required age");
  assert(!feeds(person, '{"name": "x", "age": 1, "tags": [], "address": {"city": "Oslo"}}'), "minItems");
  assert(!feeds(person, '{"name": "x", "age": 1, "tags": ["red"], "address": {"city": "Oslo"}, "x": 1}'), "extra");
  assert(!feeds(person, '{"name": "x", "name": "y"'), "a key twice");
  // every prefix of a valid text, completed the shortest way, parses and validates
  const text =
    '{"address": {"zip": "0150", "city": "Os\\u00e9lo"}, "tags": ["green", "blue"], "score": -1.5e2, "age": 42';
  const bytes = enc.encode(text);
  for (let n = 0; n <= bytes.length; n++) {
    const m = new JsonMachine(person);
    assert(m.feedAll(bytes.subarray(0, n)), `prefix ${n}`);
    const done = new Uint8Array([...bytes.subarray(0, n), ...m.completion()]);
    const value = JSON.parse(new TextDecoder().decode(done));
    assertEquals(validate(PERSON_SCHEMA, value), [], `prefix ${n}: ${new TextDecoder().decode(done)}`);
  }
});

Deno.test("features: a JSON schema with keywords JSON mode cannot enforce is an InputError naming them", () => {
  for (
    const [schema, words] of [
      [{ type: "string", pattern: "^a" }, "pattern"],
      [{ type: "object", properties: { a: { type: "string", minLength: 2, format: "email" } } }, "minLength, format"],
      [{ $ref: "#/defs/a" }, "$ref"],
      [{ oneOf: [{ type: "string" }] }, "oneOf"],
      [{ anyOf: [{ type: "object" }, { type: "object" }] }, "overlap"],
      [{ type: "object", required: ["a"], additionalProperties: false }, "not in properties"],
      [{ type: "thing" }, "unknown type"],
    ] as const
  ) {
    const error = assertThrowsInput(() => compileJsonSchema(schema));
    assert(error.message.includes(words), `${error.message} names ${words}`);
  }
});

function assertThrowsInput(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    assert(e instanceof InputError, `${e}`);
    return e;
  }
  throw new Error("no error thrown");
}

Deno.test("features: JSON mode on the random llama and qwen3 fixtures always yields parseable JSON (sampling, many seeds, tight budgets); schemas validate; greedy is deterministic", async () => {
  const formats = [
    { label: "json_object", format: { type: "json_object" } as const, schema: { type: "object" } },
    { label: "schema", format: { type: "json_schema", schema: PERSON_SCHEMA } as const, schema: PERSON_SCHEMA },
    {
      label: "array of integers",
      format: { type: "json_schema", schema: { type: "array", items: { type: "integer" }, maxItems: 4 } } as const,
      schema: { type: "array", items: { type: "integer" }, maxItems: 4 },
    },
  ];
  let runs = 0;
  for (const fixture of ["qwen3", "llama"] as const) {
    const p = await loadTextGeneration(await generationFixture(fixture), { variant: "fp32" });
    try {
      const prompt = fixture === "qwen3" ? [{ role: "user", content: "Describe a person as JSON." }] : "JSON:";
      for (const { label, format, schema } of formats) {
        for (let seed = 0; seed < 6; seed++) {
          // topK 0 (the whole vocabulary as the window) once: it masks the whole vocabulary every step
          const sampling = seed === 3 && label !== "schema"
            ? { temperature: 1.5, topK: 0, topP: 0.95, seed }
            : seed % 2 === 0
            ? { temperature: 1, seed }
            : { temperature: 1.5, topK: 200, topP: 0.95, seed };
          // the schema's shortest answer is ~55 bytes: its budgets leave room for it (one byte per token at worst)
          const maxNewTokens = label === "schema" ? [64, 96, 128][seed % 3] : [12, 32, 48][seed % 3];
          const r = await p.run(prompt, { maxNewTokens, responseFormat: format, ...sampling, eosTokenId: [] });
          const where = `${fixture} ${label} seed ${seed} (${r.finishReason}): ${JSON.stringify(r.text)}`;
          let value: unknown;
          try {
            value = JSON.parse(r.text);
          } catch (e) {
            throw new Error(`${where}: ${e}`);
          }
          assertEquals(validate(schema, value), [], where);
          assert(r.generatedIds.length <= maxNewTokens, where);
          runs++;
        }
        const a = await p.run(prompt, { maxNewTokens: 64, responseFormat: format });
        const stream = p.generate(prompt, { maxNewTokens: 64, responseFormat: format });
        let streamed = "";
        for await (const d of stream) streamed += d;
        const b = await stream.result;
        assertEquals(b.generatedIds, a.generatedIds, `${fixture} ${label}: greedy is deterministic`);
        assertEquals(streamed, a.text);
        assertEquals(validate(schema, JSON.parse(a.text)), [], `${fixture} ${label} greedy: ${a.text}`);
        if (a.finishReason === "stop") assert(a.text.trim().endsWith(label === "array of integers" ? "]" : "}"));
      }
      await assertRejects(
        () => p.run(prompt, { responseFormat: { type: "json_schema", schema: { type: "string", pattern: "x" } } }),
        InputError,
        "pattern",
      );
    } finally {
      await p.dispose();
    }
  }
  assertEquals(runs, 36);
});

Deno.test("features: gpux run --prompt --format json | schema.json prints JSON (valid for the schema); a bad schema exits 2 naming the keyword", async () => {
  const dir = await generationFixture("qwen3");
  const json = await runCli([
    "run",
    dir,
    "--prompt",
    "Describe a cat.",
    "--format",
    "json",
    "--max-new-tokens",
    "40",
    "--temperature",
    "1",
    "--seed",
    "4",
    "-q",
  ]);
  assertEquals(json.code, 0, json.stderr);
  assertEquals(typeof JSON.parse(json.stdout), "object");
  const tmp = await Deno.makeTempDir();
  try {
    const schemaFile = `${tmp}/schema.json`;
    await Deno.writeTextFile(schemaFile, JSON.stringify(PERSON_SCHEMA));
    const schema = await runCli([
      "run",
      dir,
      "--prompt",
      "Describe a person.",
      "--format",
      schemaFile,
      "--max-new-tokens",
      "120",
      "--json",
    ]);
    assertEquals(schema.code, 0, schema.stderr);
    const doc = JSON.parse(schema.stdout);
    assertEquals(validate(PERSON_SCHEMA, JSON.parse(doc.text)), [], doc.text);
    await Deno.writeTextFile(schemaFile, JSON.stringify({ type: "string", pattern: "^a" }));
    const bad = await runCli(["run", dir, "--prompt", "x", "--format", schemaFile]);
    assertEquals(bad.code, 2, bad.stderr);
    assert(bad.stderr.includes("pattern"), bad.stderr);
    const missing = await runCli(["run", dir, "--prompt", "x", "--format", `${tmp}/nope.json`]);
    assertEquals(missing.code, 2, missing.stderr);
    const chat = await runCli(["chat", dir, "--max-new-tokens", "30", "-q"], {
      stdin: "/set format json\nDescribe a dog.\n",
    });
    assertEquals(chat.code, 0, chat.stderr);
    const [said, ...answer] = chat.stdout.split("\n");
    assertEquals(said, "Set format to 'json'");
    assertEquals(typeof JSON.parse(answer.join("\n")), "object", chat.stdout);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
