/**
 * The layer check: reads every import under src/ and fails, naming the file and the import, on any
 * arrow docs/architecture.md forbids ("one-way arrows"). Runs in `deno task check` and `deno task test`.
 *
 * The rooms of src/ and the rooms each may import (anything not listed is forbidden) are the table
 * {@linkcode ALLOWED} below, which is the table of docs/architecture.md ("Layers"): a test reads that page and
 * fails when the two differ. The files at the top of src/ (errors.ts, environment.ts, file_errors.ts, sleep.ts,
 * write_failure.ts, …) are the floor: every room may import them, and they import no room.
 *
 * Files import each other without cycles too (an `import type` counts, and so does the URL a Worker is
 * started from): no file under src/ reaches itself through its imports, directly or through a chain.
 * Where two files need each other, what both need goes in a third (as `processing/task_types.ts` holds
 * the types the task handlers and `pipeline.ts` share, and `serve/codec_calls.ts` what the codec Worker
 * and its host share).
 *
 * Imports read: static `import … from "…"`, `import "…"`, `export … from "…"`, dynamic
 * `import("…")` with a literal string, and `new URL("….ts", import.meta.url)` (how Workers are started).
 * Lines of comments (JSDoc examples) are skipped.
 *
 * @module
 */
import { assert, assertEquals } from "./support/assert.ts";

/** The floor: files at the top of src/ every room may import. */
const FLOOR = "(floor)";

/** Allowed arrows between rooms of src/ (the table of docs/architecture.md, checked below). */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  vocabulary: [],
  download: ["vocabulary"],
  cache: ["vocabulary"],
  registry: ["cache", "download", "vocabulary"],
  config: ["vocabulary"],
  runtime: ["config", "vocabulary"],
  runtime_install: ["download", "runtime", "vocabulary"],
  processing: ["runtime", "config", "vocabulary"],
  generation: ["processing", "runtime", "config", "vocabulary"],
  serve: ["generation", "processing", "runtime", "config", "vocabulary"],
  cli: [
    "serve",
    "generation",
    "processing",
    "runtime",
    "runtime_install",
    "config",
    "registry",
    "cache",
    "download",
    "vocabulary",
  ],
};

/** Arrows the design names as forbidden; the table above must never grow one of them. */
const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  download: ["registry", "runtime", "runtime_install", "config", "processing", "serve", "cli"],
  cache: ["download", "registry", "runtime", "runtime_install", "config", "processing", "serve", "cli"],
  runtime: ["registry", "cache", "download", "processing", "serve", "cli", "runtime_install"],
  processing: ["generation", "serve", "cli", "registry", "download", "cache"],
  generation: ["serve", "cli", "registry", "download", "cache"],
  serve: ["cli"],
  config: ["cli"],
  registry: ["cli"],
  runtime_install: ["cli"],
  vocabulary: ["cli"],
};

/** One import: who imports what, and the room each lives in. */
export interface ImportArrow {
  /** Importing file, relative to the repository root. */
  file: string;
  /** The specifier as written. */
  specifier: string;
  /** Room of the importing file (`(floor)` for a file at the top of src/). */
  from: string;
  /** Room of the imported file. */
  to: string;
  /** Imported file, relative to the repository root. */
  target: string;
}

const SRC = new URL("../src/", import.meta.url);
const ARCHITECTURE = new URL("../docs/architecture.md", import.meta.url);

/**
 * The layer table of a Markdown page: the table after the `<!-- layer-table -->` marker, one row a room
 * (`` `room/` ``), its second column the rooms it may import (`` `a/`, `b/` ``, or none).
 */
export function layerTableOf(markdown: string): Record<string, string[]> {
  const start = markdown.indexOf("<!-- layer-table");
  assert(start !== -1, "no <!-- layer-table --> marker before the layer table");
  const lines = markdown.slice(start).split("\n").slice(1);
  const first = lines.findIndex((line) => line.startsWith("|"));
  assert(first !== -1, "no table after the <!-- layer-table --> marker");
  const rows = lines.slice(first);
  const end = rows.findIndex((line) => !line.startsWith("|"));
  const table: Record<string, string[]> = {};
  for (const row of rows.slice(2, end === -1 ? undefined : end)) {
    const [room, imports] = row.split("|").slice(1, 3).map((cell) => cell.trim());
    const name = /^`([a-z_]+)\/`$/.exec(room)?.[1];
    assert(name, `a row of the layer table names no room: ${row}`);
    table[name] = [...imports.matchAll(/`([a-z_]+)\/`/g)].map((m) => m[1]);
  }
  return table;
}

/** The room of a path relative to src/: its first folder, or the floor for a top-level file. */
function roomOf(relative: string): string {
  const slash = relative.indexOf("/");
  return slash === -1 ? FLOOR : relative.slice(0, slash);
}

/** Specifiers of every import in `text`, comment lines skipped. */
export function importSpecifiers(text: string): string[] {
  const code = text
    .split("\n")
    .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
    .join("\n");
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm, // import … from "x"; export … from "x"
    /^\s*import\s*["']([^"']+)["']/gm, // import "x"
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g, // import("x")
    /\bnew\s+URL\(\s*["']([^"']+\.[jt]s)["']\s*,\s*import\.meta\.url\s*\)/g, // new URL("x.ts", import.meta.url)
  ];
  for (const pattern of patterns) {
    for (const m of code.matchAll(pattern)) found.push(m[1]);
  }
  return found;
}

async function* sourceFiles(dir: URL, prefix = ""): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) yield* sourceFiles(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
    else if (entry.name.endsWith(".ts")) yield `${prefix}${entry.name}`;
  }
}

/** Every import under src/ that points at another file under src/. */
export async function srcArrows(): Promise<ImportArrow[]> {
  const arrows: ImportArrow[] = [];
  for await (const relative of sourceFiles(SRC)) {
    const fileUrl = new URL(relative, SRC);
    for (const specifier of importSpecifiers(await Deno.readTextFile(fileUrl))) {
      if (!specifier.startsWith(".")) continue; // npm:, jsr:, node:, bare import-map names
      const target = new URL(specifier, fileUrl).href;
      assert(target.startsWith(SRC.href), `src/${relative} imports ${specifier}, outside src/`);
      arrows.push({
        file: `src/${relative}`,
        specifier,
        from: roomOf(relative),
        to: roomOf(target.slice(SRC.href.length)),
        target: `src/${target.slice(SRC.href.length)}`,
      });
    }
  }
  return arrows;
}

/** The arrows the table forbids, one readable line each. */
export function forbiddenArrows(arrows: readonly ImportArrow[]): string[] {
  return arrows
    .filter((a) => a.from !== a.to && a.to !== FLOOR)
    .filter((a) => a.from === FLOOR || !(ALLOWED[a.from] ?? []).includes(a.to))
    .map((a) => `${a.file} imports "${a.specifier}": ${a.from}/ -> ${a.to}/ is not an allowed arrow`);
}

/** A cycle in the room graph, as `a -> b -> a`, or undefined when there is none. */
export function roomCycle(arrows: readonly ImportArrow[]): string | undefined {
  return cycleOf(arrows.filter((a) => a.from !== a.to).map((a) => [a.from, a.to]));
}

/** A cycle among the files, as `src/a.ts -> src/b.ts -> src/a.ts`, or undefined when there is none. */
export function fileCycle(arrows: readonly ImportArrow[]): string | undefined {
  return cycleOf(arrows.map((a) => [a.file, a.target]));
}

/** The first cycle of a directed graph given as edges, as `a -> b -> a`. */
function cycleOf(edges: readonly (readonly [string, string])[]): string | undefined {
  const graph = new Map<string, Set<string>>();
  for (const [from, to] of edges) {
    if (!graph.has(from)) graph.set(from, new Set());
    graph.get(from)!.add(to);
  }
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (room: string): string | undefined => {
    if (state.get(room) === "done") return undefined;
    if (state.get(room) === "open") return [...path.slice(path.indexOf(room)), room].join(" -> ");
    state.set(room, "open");
    path.push(room);
    for (const next of graph.get(room) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(room, "done");
    return undefined;
  };
  for (const room of graph.keys()) {
    const cycle = visit(room);
    if (cycle) return cycle;
  }
  return undefined;
}

Deno.test("layers: the table of allowed arrows grants none the design forbids, and is itself acyclic", () => {
  for (const [from, tos] of Object.entries(FORBIDDEN)) {
    assertEquals((ALLOWED[from] ?? []).filter((to) => tos.includes(to)), [], `${from}/ is allowed a forbidden arrow`);
  }
  for (const [from, tos] of Object.entries(ALLOWED)) {
    if (from !== "cli") assert(!tos.includes("cli"), `nothing outside src/cli may import src/cli (${from}/)`);
  }
  const tableArrows = Object.entries(ALLOWED).flatMap(([from, tos]) =>
    tos.map((to) => ({ file: "(table)", specifier: "", from, to, target: "(table)" }))
  );
  assertEquals(roomCycle(tableArrows), undefined);
});

Deno.test("layers: docs/architecture.md's layer table is the table this test enforces", async () => {
  const documented = layerTableOf(await Deno.readTextFile(ARCHITECTURE));
  const sorted = (table: Readonly<Record<string, readonly string[]>>) =>
    Object.fromEntries(Object.entries(table).map(([room, tos]) => [room, [...tos].sort()]).sort());
  assertEquals(sorted(documented), sorted(ALLOWED), "docs/architecture.md (left) and ALLOWED (right) differ");
});

Deno.test("layers: the documented table is read row by row, and a changed row shows", () => {
  const page = [
    "# x",
    "<!-- layer-table -->",
    "",
    "| room | may import |",
    "| --- | --- |",
    "| `vocabulary/` | (the floor only) |",
    "| `cache/` | `vocabulary/` |",
    "| `cli/` | `cache/`, `vocabulary/` |",
    "",
    "| `other/` | `cli/` |",
  ].join("\n");
  assertEquals(layerTableOf(page), { vocabulary: [], cache: ["vocabulary"], cli: ["cache", "vocabulary"] });
  assertEquals(layerTableOf(page.replace("| `cache/` | `vocabulary/` |", "| `cache/` | `download/` |")).cache, [
    "download",
  ]);
});

Deno.test("layers: every import under src/ follows an allowed arrow", async () => {
  const arrows = await srcArrows();
  assert(arrows.length > 100, `only ${arrows.length} imports found under src/; the reader is broken`);
  const rooms = new Set(arrows.map((a) => a.from));
  for (const room of rooms) assert(room === FLOOR || room in ALLOWED, `src/${room}/ is a room missing from the table`);
  assertEquals(forbiddenArrows(arrows), []);
});

Deno.test("layers: the folders under src/ import each other without cycles", async () => {
  assertEquals(roomCycle(await srcArrows()), undefined);
});

Deno.test("layers: no file under src/ imports itself through others (import type and Worker URLs included)", async () => {
  assertEquals(fileCycle(await srcArrows()), undefined);
});

Deno.test("layers: a file cycle is named, however long its chain, in any room", () => {
  const arrow = (file: string, target: string): ImportArrow => ({
    file,
    specifier: `./${target.split("/").pop()}`,
    from: file.split("/")[1],
    to: target.split("/")[1],
    target,
  });
  const chain = [
    arrow("src/registry/pull.ts", "src/registry/manager.ts"),
    arrow("src/registry/manager.ts", "src/registry/auth.ts"),
    arrow("src/registry/huggingface.ts", "src/registry/pull.ts"),
  ];
  assertEquals(fileCycle(chain), undefined);
  assertEquals(
    fileCycle([...chain, arrow("src/registry/auth.ts", "src/registry/pull.ts")]),
    "src/registry/pull.ts -> src/registry/manager.ts -> src/registry/auth.ts -> src/registry/pull.ts",
  );
  // a Worker and the host that starts it, pointing at each other
  const codec = [
    arrow("src/serve/codec_worker.ts", "src/serve/json_codec.ts"),
    arrow("src/serve/json_codec.ts", "src/serve/codec_worker.ts"),
  ];
  assertEquals(
    fileCycle(codec),
    "src/serve/codec_worker.ts -> src/serve/json_codec.ts -> src/serve/codec_worker.ts",
  );
  // across rooms and through the floor too
  assertEquals(
    fileCycle([
      arrow("src/processing/pipeline.ts", "src/errors.ts"),
      arrow("src/errors.ts", "src/processing/pipeline.ts"),
    ]),
    "src/processing/pipeline.ts -> src/errors.ts -> src/processing/pipeline.ts",
  );
});

Deno.test("layers: the reader sees every kind of import and skips comments", () => {
  const text = [
    `import { a } from "../cache/x.ts";`,
    `import {`,
    `  b,`,
    `} from "../download/y.ts";`,
    `import type { C } from '../registry/z.ts';`,
    `export { d } from "../cli/w.ts";`,
    `export * from "./v.ts";`,
    `import "../serve/side_effect.ts";`,
    `const m = await import("../runtime/lazy.ts");`,
    `const w = new URL("./worker.ts", import.meta.url);`,
    ` * import { loadModel } from "../runtime/load_model.ts";`,
    `// import { x } from "../cli/commented.ts";`,
    `const s = "from here"; const re = /import/;`,
  ].join("\n");
  assertEquals(importSpecifiers(text).sort(), [
    "../cache/x.ts",
    "../cli/w.ts",
    "../download/y.ts",
    "../registry/z.ts",
    "../runtime/lazy.ts",
    "../serve/side_effect.ts",
    "./v.ts",
    "./worker.ts",
  ]);
});

Deno.test("layers: a forbidden arrow and a cycle are named, file and import", () => {
  const arrows: ImportArrow[] = [
    {
      file: "src/cache/scan.ts",
      specifier: "../registry/formats.ts",
      from: "cache",
      to: "registry",
      target: "src/registry/formats.ts",
    },
    {
      file: "src/registry/pull.ts",
      specifier: "../cache/scan.ts",
      from: "registry",
      to: "cache",
      target: "src/cache/scan.ts",
    },
    { file: "src/runtime/x.ts", specifier: "../cli/y.ts", from: "runtime", to: "cli", target: "src/cli/y.ts" },
  ];
  assertEquals(forbiddenArrows(arrows), [
    `src/cache/scan.ts imports "../registry/formats.ts": cache/ -> registry/ is not an allowed arrow`,
    `src/runtime/x.ts imports "../cli/y.ts": runtime/ -> cli/ is not an allowed arrow`,
  ]);
  assertEquals(roomCycle(arrows), "cache -> registry -> cache");
});
