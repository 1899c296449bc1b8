// The gpux playground: lists the served models (GET /info) and builds, per task, the form tasks.js names; every
// answer is shown with textContent or canvas drawing only (never as HTML), and the API key lives in this module's
// memory only.
import { taskEntry } from "./tasks.js";

const state = { apiKey: "", models: [], chat: [], abort: null };

/** @param {string} id */
const $ = (id) => document.getElementById(id);

/**
 * An element with properties and children; strings become text nodes (never parsed as HTML).
 * @param {string} tag
 * @param {Record<string, unknown>} props
 * @param {...(Node|string|null|undefined)} children
 */
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = String(v);
    else if (k === "text") e.textContent = String(v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (k in e && typeof v !== "string") /** @type {any} */ (e)[k] = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function headers() {
  return {
    "content-type": "application/json",
    ...(state.apiKey ? { authorization: `Bearer ${state.apiKey}` } : {}),
  };
}

/** The message of an error answer in any of the server's shapes. */
async function errorOf(response) {
  let text = "";
  try {
    text = await response.text();
    const doc = JSON.parse(text);
    const e = doc.error;
    const message = typeof e === "string" ? e : e?.message ?? text;
    return `${response.status}: ${message}${doc.hint ? ` (${doc.hint})` : ""}`;
  } catch {
    return `${response.status}: ${text || response.statusText}`;
  }
}

function setStatus(text, error = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", error);
}

const ms = (x) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
const pct = (x) => `${(x * 100).toFixed(1)}%`;

// ---------- models ----------

function askForKey(text) {
  $("server-facts").textContent = text;
  $("key-box").open = true;
  $("api-key").focus();
}

async function loadModels() {
  const facts = $("server-facts");
  if (!state.apiKey && state.settings?.apiKey) return askForKey("This server needs an API key: enter it below.");
  const r = await fetch("/info", { headers: headers() });
  if (r.status === 401) return askForKey(`The API key was refused (${await errorOf(r)}): enter it again below.`);
  if (!r.ok) {
    facts.textContent = `Could not list the models: ${await errorOf(r)}`;
    return;
  }
  const info = await r.json();
  state.models = info.models;
  // models a server started without a model list loads on first use: /v1/models names them too
  try {
    const listed = await fetch("/v1/models", { headers: headers() });
    if (listed.ok) {
      const known = new Set(state.models.map((m) => m.name));
      for (const m of (await listed.json()).data ?? []) {
        if (!known.has(m.id)) state.models.push({ name: m.id, task: null, onDemand: true });
      }
    }
  } catch { /* the list above is enough */ }
  if (state.apiKey) $("key-box").open = false;
  facts.textContent = `gpux ${info.version} · ${state.models.length} model${state.models.length === 1 ? "" : "s"}`;
  const select = $("model");
  select.replaceChildren(
    ...state.models.map((m, i) =>
      el("option", {
        value: String(i),
        text: `${m.name} — ${taskEntry(m).form === "chat" ? "chat" : m.task ?? "tensors"}`,
      })
    ),
  );
  select.disabled = state.models.length === 0;
  const wanted = new URLSearchParams(location.search).get("model");
  const index = Math.max(0, state.models.findIndex((m) => m.name === wanted));
  select.value = String(index);
  if (state.models.length) showModel(state.models[index]);
}

function showModel(model) {
  state.abort?.abort();
  state.chat = [];
  const facts = $("model-facts");
  const rows = [
    ["task", model.task ?? (model.onDemand ? "loaded on first use" : "none (tensors)")],
    ["provider", model.provider],
    ["variant", model.variant],
    ["context length", model.contextLength],
    ["takes", model.accepts?.length ? model.accepts.join(", ") : undefined],
    ["model", model.repoId ?? model.spec],
  ].filter(([, v]) => v !== undefined && v !== null);
  facts.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
  $("result").replaceChildren();
  setStatus("");
  buildForm(model, taskEntry(model));
}

// ---------- forms ----------

/** A labelled field; `id` names it for labels and tests. */
function field(id, label, control, inline = false) {
  control.id = id;
  return el("div", { class: inline ? "row inline" : "row" }, el("label", { for: id, text: label }), control);
}

function lines(text) {
  return text.split("\n").map((s) => s.trim()).filter((s) => s.length);
}

function list(text) {
  return text.split(",").map((s) => s.trim()).filter((s) => s.length);
}

/** Reads a file as base64 (no data: prefix). */
function base64Of(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** An image picker with a drop zone: `get()` gives the chosen file. */
function imagePicker() {
  let chosen = null;
  const input = el("input", { type: "file", accept: "image/png,image/jpeg,image/webp" });
  const name = el("span", { class: "muted", text: "No image chosen." });
  const zone = el(
    "div",
    { class: "drop" },
    el("p", { text: "Drop an image here, or choose one:" }),
    input,
    el("p", {}, name),
  );
  const preview = el("img", { class: "preview", alt: "the chosen image", hidden: true });
  zone.append(preview);
  const set = (file) => {
    chosen = file;
    name.textContent = file ? `${file.name} (${Math.max(1, Math.round(file.size / 1024))} KiB)` : "No image chosen.";
    if (preview.src) URL.revokeObjectURL(preview.src);
    if (file) preview.src = URL.createObjectURL(file);
    preview.hidden = !file;
  };
  input.addEventListener("change", () => set(input.files?.[0] ?? null));
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const file = e.dataTransfer?.files?.[0];
    if (file) set(file);
  });
  input.id = "field-image";
  const label = el("label", { for: "field-image", text: "Image (PNG, JPEG or WebP)" });
  return { element: el("div", { class: "row" }, label, zone), get: () => chosen };
}

/** Audio as 16-bit mono WAV (what the server decodes): WAV files as they are, anything else decoded and re-encoded. */
async function wavOf(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const riff = bytes.length > 12 && String.fromCharCode(...bytes.subarray(0, 4)) === "RIFF" &&
    String.fromCharCode(...bytes.subarray(8, 12)) === "WAVE";
  if (riff) return blob;
  const context = new AudioContext();
  try {
    const audio = await context.decodeAudioData(bytes.buffer);
    const mono = new Float32Array(audio.length);
    for (let c = 0; c < audio.numberOfChannels; c++) {
      const data = audio.getChannelData(c);
      for (let i = 0; i < data.length; i++) mono[i] += data[i] / audio.numberOfChannels;
    }
    const out = new DataView(new ArrayBuffer(44 + mono.length * 2));
    const text = (offset, s) => [...s].forEach((ch, i) => out.setUint8(offset + i, ch.charCodeAt(0)));
    text(0, "RIFF");
    out.setUint32(4, 36 + mono.length * 2, true);
    text(8, "WAVEfmt ");
    out.setUint32(16, 16, true);
    out.setUint16(20, 1, true);
    out.setUint16(22, 1, true);
    out.setUint32(24, audio.sampleRate, true);
    out.setUint32(28, audio.sampleRate * 2, true);
    out.setUint16(32, 2, true);
    out.setUint16(34, 16, true);
    text(36, "data");
    out.setUint32(40, mono.length * 2, true);
    mono.forEach((x, i) => out.setInt16(44 + i * 2, Math.max(-1, Math.min(1, x)) * 0x7fff, true));
    return new Blob([out.buffer], { type: "audio/wav" });
  } finally {
    await context.close();
  }
}

/** An audio file picker and a record button: `get()` gives the clip. */
function audioPicker() {
  let chosen = null;
  const input = el("input", { type: "file", accept: "audio/*" });
  const name = el("span", { class: "muted", text: "No clip chosen." });
  const player = el("audio", { controls: true, hidden: true });
  const record = el("button", { type: "button", class: "secondary", id: "record", text: "Record" });
  let recorder = null;
  const set = (blob, label) => {
    chosen = blob;
    name.textContent = label;
    if (player.src) URL.revokeObjectURL(player.src);
    player.src = URL.createObjectURL(blob);
    player.hidden = false;
  };
  input.addEventListener("change", () => {
    const f = input.files?.[0];
    if (f) set(f, `${f.name} (${Math.round(f.size / 1024)} KiB)`);
  });
  record.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const parts = [];
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = (e) => parts.push(e.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        recorder = null;
        record.textContent = "Record";
        input.value = ""; // the recording replaces a chosen file
        set(new Blob(parts, { type: parts[0]?.type ?? "audio/webm" }), "recording");
      };
      recorder.start();
      record.textContent = "Stop recording";
    } catch (error) {
      setStatus(`Cannot record: ${error?.message ?? error}`, true);
    }
  });
  input.id = "field-audio";
  return {
    element: el(
      "div",
      { class: "row" },
      el("label", { for: "field-audio", text: "Audio clip (WAV, or anything this browser plays)" }),
      input,
      record,
      name,
      player,
    ),
    get: () => chosen,
  };
}

/**
 * Form builders: each adds its fields to `form` and returns `collect()`, which gives the request body's input part
 * (the task's `options` are added to it).
 */
const FORMS = {
  text(form, entry) {
    const text = el("textarea", { name: "text", rows: 4, placeholder: "Type a text…" });
    form.append(field("field-text", entry.hint ? `Text — ${entry.hint}` : "Text", text));
    return () => ({ text: text.value });
  },
  lines(form, entry) {
    const text = el("textarea", { name: "text", rows: 4 });
    form.append(field("field-text", `Texts — ${entry.hint ?? "one per line"}`, text));
    return () => ({ text: lines(text.value) });
  },
  textLabels(form) {
    const text = el("textarea", { name: "text", rows: 3 });
    const labels = el("input", { type: "text", name: "labels", placeholder: "sports, politics, cooking" });
    form.append(field("field-text", "Text", text), field("field-labels", "Candidate labels (comma-separated)", labels));
    return () => ({ text: text.value, candidate_labels: list(labels.value) });
  },
  question(form) {
    const question = el("input", { type: "text", name: "question" });
    const context = el("textarea", { name: "context", rows: 5 });
    form.append(field("field-question", "Question", question), field("field-context", "Context", context));
    return () => ({ question: question.value, context: context.value });
  },
  similarity(form) {
    const source = el("textarea", { name: "source", rows: 2 });
    const others = el("textarea", { name: "others", rows: 4 });
    form.append(
      field("field-source", "Source sentence", source),
      field("field-others", "Sentences to compare (one per line)", others),
    );
    return () => ({ text: [source.value, ...lines(others.value)] });
  },
  image(form, entry) {
    const picker = imagePicker();
    form.append(picker.element);
    let threshold = null;
    if (entry.threshold !== undefined) {
      threshold = el("input", { type: "number", name: "threshold", min: "0", max: "1", step: "0.05" });
      threshold.value = String(entry.threshold);
      form.append(field("field-threshold", "Score threshold (0 to 1)", threshold, true));
    }
    return async () => {
      const file = picker.get();
      if (!file) throw new Error("choose an image first");
      state.lastImage = file;
      return { image: await base64Of(file), ...(threshold ? { threshold: Number(threshold.value) } : {}) };
    };
  },
  imageLabels(form, entry) {
    const collect = FORMS.image(form, entry);
    const labels = el("input", { type: "text", name: "labels", placeholder: "a cat, a dog" });
    form.append(field("field-labels", "Candidate labels (comma-separated)", labels));
    return async () => ({ ...(await collect()), candidate_labels: list(labels.value) });
  },
  audio(form) {
    const picker = audioPicker();
    form.append(picker.element);
    return async () => {
      const clip = picker.get();
      if (!clip) throw new Error("choose or record a clip first");
      return { audio: await base64Of(await wavOf(clip)) };
    };
  },
  tensors(form, _entry, model) {
    const example = {};
    for (const i of model.inputs ?? []) {
      const shape = (i.shape ?? []).map((d) => (typeof d === "number" && d > 0 ? d : 1));
      const count = shape.reduce((a, b) => a * b, 1);
      if (count <= 64) {
        const zero = i.dtype === "string" ? "" : i.dtype === "bool" ? false : 0;
        const build = (dims) => dims.length ? Array.from({ length: dims[0] }, () => build(dims.slice(1))) : zero;
        example[i.name] = build(shape);
      } else example[i.name] = [];
    }
    const text = el("textarea", { name: "tensors", rows: 8, spellcheck: "false" });
    text.value = JSON.stringify(example, null, 1);
    const inputs = (model.inputs ?? []).map((i) =>
      `${i.name}: ${i.dtype} [${(i.shape ?? []).map((d) => d ?? "?").join(", ")}]`
    ).join("; ");
    form.append(field("field-tensors", `Input tensors as JSON (${inputs || "see /info"})`, text));
    return () => {
      try {
        return JSON.parse(text.value);
      } catch (error) {
        throw new Error(`the tensors are not JSON: ${error.message}`);
      }
    };
  },
};

function buildForm(model, entry) {
  const old = $("task-form");
  const form = old.cloneNode(false); // drops the previous form's listeners
  old.replaceWith(form);
  if (entry.form === "chat") return buildChat(form, model);
  const collect = FORMS[entry.form](form, entry, model);
  const run = el("button", { type: "submit", id: "run", text: "Run" });
  form.append(el("div", { class: "row" }, run));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    run.disabled = true;
    setStatus("running…");
    try {
      const input = await collect();
      const { path, body } = entry.request
        ? entry.request(model, input)
        : { path: `/models/${encodeURIComponent(model.name)}/predict`, body: { ...input, ...(entry.options ?? {}) } };
      const started = performance.now();
      const r = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body) });
      if (!r.ok) throw new Error(await errorOf(r));
      const doc = await r.json();
      const took = performance.now() - started;
      const view = VIEWS[entry.view] ?? VIEWS.json;
      let shown;
      try {
        shown = view(doc.result !== undefined ? doc.result : doc, doc);
      } catch {
        shown = VIEWS.json(undefined, doc); // an answer of a shape this page does not know: shown as it came
      }
      $("result").replaceChildren(...shown);
      const server = doc.timings?.totalMs;
      // generated text: tokens per second over the whole answer
      const tokens = Array.isArray(doc.results)
        ? doc.results.reduce((n, r) => n + (Array.isArray(r.generatedIds) ? r.generatedIds.length : 0), 0)
        : 0;
      setStatus(
        `answered in ${ms(took)}${server !== undefined ? ` (server ${ms(server)})` : ""}${
          tokens ? ` · ${tokens} tokens · ${(tokens / (took / 1000)).toFixed(1)} tokens/s` : ""
        }`,
      );
    } catch (error) {
      setStatus(error?.message ?? String(error), true);
    } finally {
      run.disabled = false;
    }
  });
}

// ---------- views (answers) ----------

function labelList(labels) {
  return el(
    "ol",
    { class: "label-list" },
    ...labels.map((l) => {
      const bar = el("span", { class: "bar" });
      bar.style.width = pct(Math.max(0, Math.min(1, l.score)));
      return el(
        "li",
        { "aria-label": `${l.label} ${pct(l.score)}` },
        bar,
        el("span", { class: "name", text: l.label }),
        el("span", { class: "score", text: pct(l.score) }),
      );
    }),
  );
}

function inputName(text) {
  return el("p", { class: "input-name", text });
}

/**
 * Draws the chosen image (a small one enlarged, pixels kept sharp, so labels stay legible), then `draw(context, k,
 * unit)` over it: `k` maps the image's pixels to the canvas's, `unit` is one screen pixel on the canvas.
 */
function imageCanvas(draw) {
  const canvas = el("canvas", { class: "picture" });
  const figure = el("div", { class: "figure" }, canvas);
  const file = state.lastImage;
  if (!file) return figure;
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    const k = Math.max(1, Math.floor(480 / Math.max(img.naturalWidth, img.naturalHeight)));
    canvas.width = img.naturalWidth * k;
    canvas.height = img.naturalHeight * k;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    draw?.(ctx, k, Math.max(1, canvas.width / 480));
    URL.revokeObjectURL(url);
  };
  img.src = url;
  return figure;
}

const COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"];

const VIEWS = {
  labels: (result) =>
    result.flatMap((r) => [
      // a text is worth repeating over its labels; a file's generated name (`image[0]`) is not
      ...(/^(image|audio)\[\d+\]$/.test(r.input) ? [] : [inputName(r.input)]),
      labelList(r.labels),
    ]),
  entities: (result) =>
    result.map((r) =>
      el(
        "div",
        {},
        inputName(r.input),
        r.entities.length
          ? el(
            "ul",
            {},
            ...r.entities.map((e) =>
              el(
                "li",
                {},
                el("span", { class: "entity", text: e.word }),
                ` ${e.label} ${pct(e.score)} [${e.start}, ${e.end})`,
              )
            ),
          )
          : el("p", { class: "muted", text: "no entities" }),
      )
    ),
  fillMask: (result) =>
    result.flatMap((r) =>
      r.masks.map((candidates, i) =>
        el(
          "div",
          {},
          inputName(`mask ${i + 1}`),
          labelList(candidates.map((c) => ({ label: c.sequence, score: c.score }))),
        )
      )
    ),
  answers: (result) =>
    result.map((r) =>
      el("div", {}, inputName(r.question), labelList(r.answers.map((a) => ({ label: a.answer, score: a.score }))))
    ),
  similarity: (result) => [
    inputName(result.source),
    labelList(result.similarities.map((s) => ({ label: s.input, score: s.score }))),
  ],
  embeddings: (result) => [
    el("p", {
      text: `${result.embeddings.length} vector${
        result.embeddings.length === 1 ? "" : "s"
      } of ${result.dimension} (${result.pooling} pooling${result.normalized ? ", normalised" : ""})`,
    }),
    ...result.embeddings.map((e) =>
      el("pre", {
        text: `${e.input}\n[${e.embedding.slice(0, 8).map((x) => x.toFixed(4)).join(", ")}${
          e.embedding.length > 8 ? ", …" : ""
        }]`,
      })
    ),
    ...(result.similarityToFirst
      ? [
        el("p", {
          text: `cosine similarity to the first: ${result.similarityToFirst.map((x) => x.toFixed(4)).join(", ")}`,
        }),
      ]
      : []),
  ],
  // a list of `{input, text}` (CTC models), or one `{text, language?, segments?}` (Whisper)
  transcription: (result) =>
    (Array.isArray(result) ? result : [result]).flatMap((r) => [
      ...(r.language ? [el("p", { class: "muted", text: `language: ${r.language}` })] : []),
      el("p", { class: "transcript", text: r.text }),
      ...(Array.isArray(r.segments) && r.segments.length
        ? [
          el(
            "ol",
            { class: "segments" },
            ...r.segments.map((seg) => {
              const [start, end] = seg.timestamp ?? [seg.start, seg.end];
              const at = (t) => (typeof t === "number" ? `${t.toFixed(2)} s` : "…");
              return el("li", { text: `${at(start)} – ${at(end)}  ${seg.text}` });
            }),
          ),
        ]
        : []),
    ]),
  generated: (_result, doc) => {
    if (!Array.isArray(doc.results)) throw new Error("no results");
    return doc.results.map((r) =>
      el(
        "p",
        { class: "generated" },
        el("span", { text: r.text }),
        el("span", { class: "timing", text: r.finishReason ? ` (${r.finishReason})` : "" }),
      )
    );
  },
  detection: (result) => {
    const objects = result[0]?.objects ?? [];
    const figure = imageCanvas((ctx, k, unit) => {
      ctx.lineWidth = 2 * unit;
      ctx.font = `${Math.round(13 * unit)}px sans-serif`;
      objects.forEach((o, i) => {
        const [x0, y0, x1, y1] = [o.box.xmin, o.box.ymin, o.box.xmax, o.box.ymax].map((v) => v * k);
        ctx.strokeStyle = ctx.fillStyle = COLOURS[i % COLOURS.length];
        ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
        ctx.fillText(`${o.label} ${pct(o.score)}`, x0 + 3 * unit, y0 > 16 * unit ? y0 - 4 * unit : y0 + 14 * unit);
      });
    });
    return [
      figure,
      objects.length
        ? el(
          "ul",
          {},
          ...objects.map((o) =>
            el("li", {
              text: `${o.label} ${pct(o.score)} at (${o.box.xmin.toFixed(0)}, ${o.box.ymin.toFixed(0)})–(${
                o.box.xmax.toFixed(0)
              }, ${o.box.ymax.toFixed(0)})`,
            })
          ),
        )
        : el("p", { class: "muted", text: "nothing found above the threshold" }),
    ];
  },
  segmentation: (result) => {
    const r = result[0];
    return [
      imageCanvas(),
      el(
        "div",
        { class: "masks" },
        ...(r?.segments ?? []).map((s) =>
          el(
            "figure",
            {},
            el("img", { src: `data:image/png;base64,${s.mask}`, alt: `mask of ${s.label}` }),
            el("figcaption", { text: s.score === null ? s.label : `${s.label} ${pct(s.score)}` }),
          )
        ),
      ),
    ];
  },
  depth: (result) => [
    el(
      "div",
      { class: "masks" },
      el("figure", {}, imageCanvas(), el("figcaption", { text: "input" })),
      el(
        "figure",
        {},
        el("img", { src: `data:image/png;base64,${result[0].depth}`, alt: "depth map" }),
        el("figcaption", { text: `depth ${result[0].width}×${result[0].height}` }),
      ),
    ),
  ],
  json: (_result, doc) => [el("pre", { text: JSON.stringify(doc, null, 1) })],
};

// ---------- chat ----------

function buildChat(form, model) {
  const system = el("textarea", { name: "system", rows: 2, placeholder: "You are a helpful assistant." });
  const temperature = el("input", {
    type: "number",
    name: "temperature",
    min: "0",
    max: "2",
    step: "0.1",
    value: "0.7",
  });
  const maxTokens = el("input", { type: "number", name: "max_tokens", min: "1", step: "1", value: "256" });
  const stop = el("input", { type: "text", name: "stop", placeholder: "e.g. ### | END (separate several with |)" });
  const log = el("div", { class: "chat-log", id: "chat-log", role: "log", "aria-label": "conversation" });
  const message = el("textarea", {
    name: "message",
    rows: 3,
    placeholder: "Message (Enter sends, Shift+Enter for a new line)",
  });
  const send = el("button", { type: "submit", id: "chat-send", text: "Send" });
  const stopButton = el("button", {
    type: "button",
    id: "chat-stop",
    class: "secondary",
    text: "Stop",
    disabled: true,
  });
  const clear = el("button", { type: "button", id: "chat-clear", class: "secondary", text: "Clear" });
  form.append(
    field("chat-system", "System prompt", system),
    el(
      "div",
      { class: "row" },
      field("chat-temperature", "Temperature", temperature, true),
      field("chat-max-tokens", "Max tokens", maxTokens, true),
    ),
    field("chat-stop-strings", "Stop sequences", stop),
    log,
    field("chat-input", "Message", message),
    el("div", { class: "row" }, send, stopButton, clear),
  );
  message.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  clear.addEventListener("click", () => {
    state.abort?.abort();
    state.chat = [];
    log.replaceChildren();
    setStatus("");
  });
  stopButton.addEventListener("click", () => state.abort?.abort());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = message.value;
    if (!content.trim() || state.abort) return;
    message.value = "";
    state.chat.push({ role: "user", content });
    log.append(
      el(
        "div",
        { class: "msg user" },
        el("span", { class: "who", text: "you" }),
        el("span", { class: "text", text: content }),
      ),
    );
    const answer = el("span", { class: "text" });
    const timing = el("span", { class: "timing" });
    log.append(el("div", { class: "msg assistant" }, el("span", { class: "who", text: model.name }), answer, timing));
    const messages = [
      ...(system.value.trim() ? [{ role: "system", content: system.value }] : []),
      ...state.chat,
    ];
    const stops = stop.value.split("|").map((s) => s.trim()).filter((s) => s.length);
    const body = {
      model: model.name,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      temperature: Number(temperature.value),
      max_tokens: Number(maxTokens.value),
      ...(stops.length ? { stop: stops } : {}),
    };
    const abort = new AbortController();
    state.abort = abort;
    send.disabled = true;
    stopButton.disabled = false;
    setStatus("generating…");
    const started = performance.now();
    let first = 0, deltas = 0, usage = null, finish = null, text = "";
    try {
      const r = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: headers(),
        body: JSON.stringify(body),
        signal: abort.signal,
      });
      if (!r.ok) throw new Error(await errorOf(r));
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message ?? JSON.stringify(chunk.error));
          if (chunk.usage) usage = chunk.usage;
          const choice = chunk.choices?.[0];
          const delta = choice?.delta?.content;
          if (delta) {
            if (!first) first = performance.now();
            deltas++;
            text += delta;
            answer.textContent = text;
            log.scrollTop = log.scrollHeight;
          }
          if (choice?.finish_reason) finish = choice.finish_reason;
        }
      }
      state.chat.push({ role: "assistant", content: text });
    } catch (error) {
      if (abort.signal.aborted) finish = "stopped";
      else {
        setStatus(error?.message ?? String(error), true);
        finish = "error";
      }
      if (text) state.chat.push({ role: "assistant", content: text });
    } finally {
      const end = performance.now();
      const tokens = usage?.completion_tokens ?? deltas;
      // tokens after the first, over the time they took (the first token's wait is shown apart)
      const rate = first && end > first && tokens > 1 ? (tokens - 1) / ((end - first) / 1000) : 0;
      const parts = [
        first ? `first token ${ms(first - started)}` : null,
        `${usage ? "" : "≈"}${tokens} token${tokens === 1 ? "" : "s"}`,
        rate > 0 ? `${rate.toFixed(1)} tokens/s` : null,
        `total ${ms(end - started)}`,
      ].filter(Boolean);
      timing.textContent = ` ${parts.join(" · ")}${finish ? ` (${finish})` : ""}`;
      if (finish !== "error") setStatus(finish === "stopped" ? "stopped" : "done");
      state.abort = null;
      send.disabled = false;
      stopButton.disabled = true;
      message.focus();
    }
  });
}

// ---------- start ----------

$("model").addEventListener("change", (e) => showModel(state.models[Number(e.target.value)]));
$("api-key-use").addEventListener("click", () => {
  state.apiKey = $("api-key").value;
  loadModels().catch((error) => setStatus(error?.message ?? String(error), true));
});
$("api-key").addEventListener("keydown", (e) => {
  if (e.key === "Enter") $("api-key-use").click();
});
fetch("/playground/settings.json")
  .then((r) => (r.ok ? r.json() : {}))
  .then((settings) => {
    state.settings = settings;
    return loadModels();
  })
  .catch((error) => setStatus(error?.message ?? String(error), true));
