/**
 * One table of bounds (src/vocabulary/limits.ts) for flags and gpux.yml: every bounded gpux.yml field and every
 * bounded flag, out of range, is refused by `deno task gpux` with exit 2, a message naming the field (or flag) and the
 * range, and a hint — the lists come from the table, so a new entry is tested without touching this file.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { type CliResult, runCli } from "./support/cli.ts";
import { identityModel, writeModel } from "./support/onnx_builder.ts";
import { describeLimit, type Limit, LIMITS } from "../src/vocabulary/limits.ts";
import { parseGpuxConfig } from "../src/config/gpux_config.ts";

const limits: [string, Limit][] = Object.entries(LIMITS);

/** `serving.max_workers` and a value → the YAML that sets it. */
function yamlSetting(field: string, value: number): string {
  const parts = field.split(".");
  return parts.map((p, i) => `${"  ".repeat(i)}${p}:${i === parts.length - 1 ? ` ${value}` : ""}`).join("\n") + "\n";
}

function assertRefused(r: CliResult, what: string, limit: Limit): void {
  const shown = `exit ${r.code}\nstderr: ${r.stderr}`;
  assertEquals(r.code, 2, shown);
  assert(r.stderr.includes(what), `${what} not named: ${shown}`);
  assert(r.stderr.includes(describeLimit(limit)), `range not given: ${shown}`);
  assertMatch(r.stderr, /\nhint: [^\n]+\n$/, `no hint: ${shown}`);
  assert(!/^\s+at /m.test(r.stderr), `stack trace: ${shown}`);
}

/** Runs `jobs` two at a time (the machine is shared). */
async function inPairs(jobs: (() => Promise<void>)[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += 2) await Promise.all(jobs.slice(i, i + 2).map((job) => job()));
}

Deno.test("limits: every bounded gpux.yml field accepts its range's ends and refuses beyond them (parser)", () => {
  for (const [, limit] of limits) {
    for (const field of limit.fields ?? []) {
      const base = "name: m\nmodel:\n  source: ./model.onnx\n";
      for (const ok of [limit.min, limit.max]) parseGpuxConfig(base + yamlSetting(field, ok));
      const beyond = [limit.max + 1, limit.min - 1];
      for (const bad of beyond) {
        let message = "";
        try {
          parseGpuxConfig(base + yamlSetting(field, bad));
        } catch (e) {
          message = (e as Error).message;
        }
        assert(
          message.includes(`${field}: expected ${describeLimit(limit)}, got ${bad}`),
          `${field}=${bad}: ${message}`,
        );
      }
    }
  }
});

Deno.test("limits: every bounded gpux.yml field out of range → exit 2 under deno task gpux, naming the field and range", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux_limits_" });
  try {
    const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, GPUX_HOME: `${dir}/gpux`, INIT_CWD: dir };
    const jobs: (() => Promise<void>)[] = [];
    let n = 0;
    for (const [, limit] of limits) {
      for (const field of limit.fields ?? []) {
        const folder = `${dir}/m${n++}`;
        jobs.push(async () => {
          await Deno.mkdir(folder);
          await writeModel(`${folder}/model.onnx`, identityModel("float32", ["batch", 3]));
          await Deno.writeTextFile(
            `${folder}/gpux.yml`,
            "name: m\nmodel:\n  source: ./model.onnx\n" + yamlSetting(field, limit.max + 1),
          );
          assertRefused(await runCli(["inspect", folder], { env }), field, limit);
        });
      }
    }
    // serving.max_workers is the field whose 100000 crashed `gpux serve` at start: refused before any worker starts
    const folder = `${dir}/serve`;
    jobs.push(async () => {
      await Deno.mkdir(folder);
      await writeModel(`${folder}/model.onnx`, identityModel("float32", ["batch", 3]));
      await Deno.writeTextFile(
        `${folder}/gpux.yml`,
        "name: m\nmodel:\n  source: ./model.onnx\nserving:\n  max_workers: 100000\n",
      );
      assertRefused(await runCli(["serve", folder, "--port", "0"], { env }), "serving.max_workers", LIMITS.workers);
    });
    assert(n >= 15, `only ${n} fields in the table`);
    await inPairs(jobs);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("limits: every bounded flag and variable out of range → exit 2 under deno task gpux, naming it and the range", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux_limits_" });
  try {
    await writeModel(`${dir}/id.onnx`, identityModel("float32", ["batch", 3]));
    const env = { HF_HUB_CACHE: `${dir}/hub`, HF_HOME: `${dir}/hf`, GPUX_HOME: `${dir}/gpux`, INIT_CWD: dir };
    const jobs: (() => Promise<void>)[] = [];
    for (const [, limit] of limits) {
      for (const usage of limit.flags ?? []) {
        // "serve --port" names its command; a bare "--device-id" is shared by the runtime commands: bench has it
        const [command, flag] = usage.startsWith("-") ? ["bench", usage] : usage.split(" ");
        const args = command === "search"
          ? ["search", "x"]
          : command === "pull"
          ? ["pull", "acme/x"]
          : [command, "id.onnx"];
        for (const bad of [String(limit.max + 1), "1e3"]) {
          jobs.push(async () => {
            const r = await runCli([...args, flag, bad], { env, cwd: dir });
            assertRefused(r, `invalid ${flag} '${bad}'`, limit);
          });
        }
      }
    }
    // the environment variables in the table (the pull's transfer tuning) are refused the same way
    for (const [, limit] of limits) {
      for (const name of limit.env ?? []) {
        jobs.push(async () => {
          const r = await runCli(["pull", "acme/x"], { env: { ...env, [name]: String(limit.max + 1) }, cwd: dir });
          assertRefused(r, `invalid ${name} '${limit.max + 1}'`, limit);
        });
      }
    }
    await inPairs(jobs);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
