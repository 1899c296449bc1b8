/**
 * Start-up of whole processes: `deno task gpux --version|--help`, the installed `gpux` (the launcher
 * `deno task install` writes, installed here into a temporary DENO_INSTALL_ROOT) and, as baselines measured in
 * the same run, bare Deno and `deno run -A cli.ts --version` (no sandbox, no launcher). Prints a table of
 * medians; the goals are those of docs/performance.md.
 *
 * `deno task bench:startup [--runs N]`
 *
 * @module
 */
import { launcherFiles } from "./install.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const runsFlag = Deno.args.indexOf("--runs");
const RUNS = runsFlag >= 0 ? Number(Deno.args[runsFlag + 1]) : 15;
const deno = Deno.execPath();

const tmp = await Deno.makeTempDir({ prefix: "gpux-bench-startup-" });
const env = { HOME: tmp, HF_HOME: `${tmp}/hf`, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
for (const [name, text] of Object.entries(launcherFiles(deno))) {
  await Deno.mkdir(`${tmp}/bin`, { recursive: true });
  await Deno.writeTextFile(`${tmp}/bin/${name}`, text, { mode: 0o755 });
}
const installed = Deno.build.os === "windows" ? `${tmp}/bin/gpux.cmd` : `${tmp}/bin/gpux`;

interface Case {
  name: string;
  cmd: string[];
  goal?: number;
}
const cases: Case[] = [
  { name: "deno eval 0 (bare Deno, baseline)", cmd: [deno, "eval", "0"] },
  { name: "deno run -A cli.ts --version (no sandbox)", cmd: [deno, "run", "-A", `${ROOT}cli.ts`, "--version"] },
  { name: "deno task gpux --version", cmd: [deno, "task", "-q", "gpux", "--version"], goal: 0.25 },
  { name: "deno task gpux --help", cmd: [deno, "task", "-q", "gpux", "--help"], goal: 0.25 },
  { name: "gpux --version (installed)", cmd: [installed, "--version"], goal: 0.15 },
  { name: "gpux --help (installed)", cmd: [installed, "--help"], goal: 0.15 },
  { name: "gpux ls (installed, empty cache)", cmd: [installed, "ls"] },
  { name: "deno task gpux ls (empty cache)", cmd: [deno, "task", "-q", "gpux", "ls"] },
  {
    name: "npx deno task gpux --version (npm's own start-up included)",
    cmd: ["npx", "deno", "task", "-q", "gpux", "--version"],
  },
];

async function time(cmd: string[]): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), cwd: ROOT, env, stdout: "null", stderr: "piped" })
    .output();
  const seconds = (performance.now() - start) / 1000;
  if (!out.success) throw new Error(`${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return seconds;
}

// round-robin over the cases, so that a busy moment of a shared machine hits all of them alike
const samples: number[][] = cases.map(() => []);
try {
  for (const c of cases) await time(c.cmd); // warm: module and code caches
  for (let i = 0; i < RUNS; i++) {
    for (const [k, c] of cases.entries()) samples[k].push(await time(c.cmd));
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
const rows = cases.map((c, k) => {
  const sorted = [...samples[k]].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return [
    c.name,
    median.toFixed(3),
    sorted[0].toFixed(3),
    c.goal ? `< ${c.goal}` : "",
    c.goal ? (median < c.goal ? "yes" : "NO") : "",
  ];
});

const header = ["process", "median s", "min s", "goal s", "met"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
const load = (() => {
  try {
    return `, load average ${Deno.loadavg()[0].toFixed(2)}`;
  } catch {
    return "";
  }
})();
console.log(
  `start-up, ${RUNS} runs each (round-robin) after one warm-up, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores${load}`,
);
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const row of rows) console.log(line(row));
