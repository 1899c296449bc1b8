/**
 * Headless Chromium driven through the DevTools protocol over Deno's built-in WebSocket (no puppeteer): starts
 * Debian's `chromium` with a throw-away profile, attaches to its page, and gives the few calls the browser tests
 * need (navigate, evaluate, wait for a condition, set a file input, screenshot), each bounded by a timeout so a test
 * never hangs. Console errors, uncaught exceptions and failed loads are collected for the test to check.
 *
 * @module
 */

/** Where Chromium is, or why the browser tests skip. */
export async function findChromium(): Promise<{ path: string } | { skip: string }> {
  for (const path of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      const out = await new Deno.Command(path, { args: ["--version"], stdout: "piped", stderr: "null" }).output();
      if (out.success) return { path };
    } catch { /* not installed under this name */ }
  }
  return { skip: "chromium is not installed (apt-get install -y chromium; .ci/run installs it)" };
}

/** A protocol event. */
interface CdpEvent {
  method: string;
  params: Record<string, unknown>;
}

/** Rejects after `ms` with `what` in the message. */
function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)),
  ]).finally(() => clearTimeout(timer));
}

/** A running headless Chromium with one page attached. */
export class Browser {
  #child: Deno.ChildProcess;
  #profile: string;
  #ws: WebSocket;
  #next = 1;
  #pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #listeners: ((e: CdpEvent) => void)[] = [];
  /** Console errors, uncaught exceptions and failed loads, as text. */
  readonly errors: string[] = [];

  private constructor(child: Deno.ChildProcess, profile: string, ws: WebSocket) {
    this.#child = child;
    this.#profile = profile;
    this.#ws = ws;
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data));
      if (msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${msg.error.message} (${JSON.stringify(msg.error.data ?? "")})`));
        else p?.resolve(msg.result ?? {});
      } else {
        for (const l of this.#listeners) l(msg as CdpEvent);
      }
    };
    this.#listeners.push((e) => {
      if (e.method === "Runtime.consoleAPICalled" && e.params.type === "error") {
        const args = e.params.args as { value?: unknown; description?: string }[];
        this.errors.push(`console.error: ${args.map((a) => a.description ?? String(a.value)).join(" ")}`);
      } else if (e.method === "Runtime.exceptionThrown") {
        const d = e.params.exceptionDetails as { text: string; exception?: { description?: string } };
        this.errors.push(`exception: ${d.exception?.description ?? d.text}`);
      } else if (e.method === "Log.entryAdded") {
        const entry = e.params.entry as { level: string; text: string; url?: string };
        if (entry.level === "error") this.errors.push(`log: ${entry.text} ${entry.url ?? ""}`);
      }
    });
  }

  /** Starts Chromium (`path` from {@linkcode findChromium}, with extra `args`) and attaches to its first page. */
  static async launch(
    path: string,
    options: { width?: number; height?: number; args?: string[] } = {},
  ): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "gpux-chromium-" });
    const child = new Deno.Command(path, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--mute-audio",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        `--window-size=${options.width ?? 900},${options.height ?? 900}`,
        ...(options.args ?? []),
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      let port = "";
      for (let i = 0; i < 200 && !port; i++) {
        try {
          port = (await Deno.readTextFile(`${profile}/DevToolsActivePort`)).split("\n")[0].trim();
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      if (!port) throw new Error("chromium did not open its DevTools port within 20 s");
      let pageUrl = "";
      for (let i = 0; i < 50 && !pageUrl; i++) {
        const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
          type: string;
          webSocketDebuggerUrl: string;
        }[];
        pageUrl = list.find((t) => t.type === "page")?.webSocketDebuggerUrl ?? "";
        if (!pageUrl) await new Promise((r) => setTimeout(r, 100));
      }
      if (!pageUrl) throw new Error("chromium shows no page target");
      const ws = new WebSocket(pageUrl);
      await timeout(
        new Promise<void>((resolve, reject) => {
          ws.onopen = () => resolve();
          ws.onerror = () => reject(new Error("could not connect to chromium's page"));
        }),
        10_000,
        "connecting to chromium",
      );
      const browser = new Browser(child, profile, ws);
      await browser.send("Runtime.enable");
      await browser.send("Log.enable");
      await browser.send("Page.enable");
      await browser.send("DOM.enable");
      return browser;
    } catch (error) {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /** Sends one protocol command (at most `ms` for the answer). */
  send(method: string, params: Record<string, unknown> = {}, ms = 15_000): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    this.#ws.send(JSON.stringify({ id, method, params }));
    return timeout(answer, ms, method);
  }

  /** Resolves with the first event named `method` (at most `ms`); call before the action that causes it. */
  event(method: string, ms = 15_000): Promise<CdpEvent> {
    let listener: ((e: CdpEvent) => void) | undefined;
    const seen = new Promise<CdpEvent>((resolve) => {
      listener = (e) => {
        if (e.method === method) resolve(e);
      };
      this.#listeners.push(listener);
    });
    return timeout(seen, ms, `waiting for ${method}`).finally(() => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    });
  }

  /** Loads `url` and waits for its load event. */
  async goto(url: string): Promise<void> {
    const loaded = this.event("Page.loadEventFired", 20_000);
    await this.send("Page.navigate", { url });
    await loaded;
  }

  /** Evaluates `expression` in the page (promises awaited) and gives its value. */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) {
      const d = r.exceptionDetails as { text: string; exception?: { description?: string } };
      throw new Error(`in the page: ${d.exception?.description ?? d.text}`);
    }
    return (r.result as { value: T }).value;
  }

  /** Polls `expression` until it is truthy (at most `ms`), and gives its value. */
  async waitFor<T = unknown>(expression: string, what: string, ms = 20_000): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      const v = await this.evaluate<T>(expression);
      if (v) return v;
      if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what} (${expression})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Types `text` into the element `selector` as a keyboard would (focus, then insert). */
  async type(selector: string, text: string): Promise<void> {
    await this.evaluate(
      `(() => { const e = document.querySelector(${JSON.stringify(selector)}); e.focus(); e.select?.(); })()`,
    );
    await this.send("Input.insertText", { text });
  }

  /** Presses Enter in the focused element, as the keyboard does. */
  async pressEnter(): Promise<void> {
    const key = { key: "Enter", code: "Enter", windowsVirtualKeyCode: 13, nativeVirtualKeyCode: 13 };
    await this.send("Input.dispatchKeyEvent", { type: "keyDown", ...key, text: "\r" });
    await this.send("Input.dispatchKeyEvent", { type: "keyUp", ...key });
  }

  /** Sets the value of the field `selector` (number fields, where typing over a selection is unreliable). */
  async fill(selector: string, value: string): Promise<void> {
    await this.evaluate(
      `(() => { const e = document.querySelector(${JSON.stringify(selector)}); e.value = ${
        JSON.stringify(value)
      }; e.dispatchEvent(new Event("input", { bubbles: true })); })()`,
    );
  }

  /** Clicks the element `selector` (by the DOM, after scrolling it into view). */
  async click(selector: string): Promise<void> {
    await this.evaluate(
      `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) throw new Error("no ${
        selector.replaceAll('"', "'")
      }"); e.scrollIntoView(); e.click(); })()`,
    );
  }

  /** Chooses `files` in the file input `selector`. */
  async setFiles(selector: string, files: string[]): Promise<void> {
    const doc = await this.send("DOM.getDocument", { depth: 0 });
    const root = (doc.root as { nodeId: number }).nodeId;
    const { nodeId } = await this.send("DOM.querySelector", { nodeId: root, selector }) as { nodeId: number };
    if (!nodeId) throw new Error(`no ${selector}`);
    await this.send("DOM.setFileInputFiles", { nodeId, files });
  }

  /** A screenshot of the viewport, PNG, or JPEG when the PNG is over `maxBytes`. */
  async screenshot(maxBytes = 150 * 1024): Promise<{ bytes: Uint8Array; format: "png" | "jpeg" }> {
    const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const png = decode((await this.send("Page.captureScreenshot", { format: "png" })).data as string);
    if (png.length <= maxBytes) return { bytes: png, format: "png" };
    for (const quality of [80, 60, 40]) {
      const jpeg = decode((await this.send("Page.captureScreenshot", { format: "jpeg", quality })).data as string);
      if (jpeg.length <= maxBytes || quality === 40) return { bytes: jpeg, format: "jpeg" };
    }
    throw new Error("unreachable");
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    try {
      this.#ws.close();
    } catch { /* already closed */ }
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already exited */ }
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
    ]);
    if (!exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
      await this.#child.status;
    }
    for (const p of this.#pending.values()) p.reject(new Error("the browser closed"));
    this.#pending.clear();
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}
