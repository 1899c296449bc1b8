/**
 * `gpux pull <model>[@rev]`: downloads a model into the Hugging Face cache (verified, resumable,
 * parallel), draws progress on stderr and prints a summary (or the {@linkcode PullResult} with `--json`).
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { gpuxHome, homeDir, hubCacheDir } from "../environment.ts";
import type { ProtectedDir } from "../cache/local_dir.ts";
import { HuggingFaceManager } from "../registry/huggingface.ts";
import type { PullResult } from "../registry/manager.ts";
import type { CliContext } from "./context.ts";
import { modelArg } from "./hub_client.ts";
import { formatBytes, formatDuration, type Output } from "./output.ts";
import { PullProgressRenderer } from "./pull_progress.ts";
import { INT_FLAGS, intFlag, parseIntFlag } from "./int_flag.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The `pull` command. */
export function pullCommand(ctx: CliContext) {
  return new Command("pull")
    .description("Download a model into the Hugging Face cache (resumable, verified, parallel)")
    .argument("<model>", "model id, org/name or org/name@revision")
    .option("--revision <rev>", "branch, tag, commit sha or refs/pr/N (default main)")
    .option("--include <glob>", "only files matching this glob (repeatable; `*` also matches `/`)", collect)
    .option("--exclude <glob>", "no files matching this glob (repeatable)", collect)
    .option("--variant <name>", "ONNX variant: fp32, fp16, quantized, q4, int8, uint8, … (default: the repo's default)")
    .option("--force", "download and verify again even what is cached")
    .option("--dry-run", "show what would be downloaded and its size, download nothing")
    .addOption(
      new Option("--concurrency <n>", "connection budget: files and byte ranges in flight together (default 32)")
        .argParser(
          intFlag("--concurrency", INT_FLAGS.concurrency),
        ),
    )
    .option("--token <token>", "Hugging Face token (default: HF_TOKEN or the saved login)")
    .option("--cache-dir <dir>", "cache directory (default: HF_HUB_CACHE, else $HF_HOME/hub)")
    .option("--offline", "use only the cache, no network (also HF_HUB_OFFLINE=1)")
    .option(
      "--local-dir <dir>",
      "download into DIR as plain files (with Python's DIR/.cache/huggingface metadata), not into the cache",
    )
    .option("--json", "print one JSON document (the pull result) on stdout")
    .option("-q, --quiet", "print nothing but errors")
    .action(async (model, options) => {
      const out = ctx.output({ json: options.json, quiet: options.quiet });
      const ref = modelArg(model, options.revision);
      const cacheDir = hubCacheDir(ctx.env, options.cacheDir);
      const manager = new HuggingFaceManager({
        env: ctx.env,
        token: options.token,
        cacheDir,
        ...(options.offline ? { offline: true } : {}),
      });
      const renderer = new PullProgressRenderer(out, ctx.env);
      let result: PullResult;
      try {
        result = await manager.pullModel(ref.id, {
          revision: ref.revision,
          include: options.include,
          exclude: options.exclude,
          variant: options.variant,
          force: options.force,
          dryRun: options.dryRun,
          concurrency: options.concurrency,
          offline: options.offline ? true : undefined,
          signal: ctx.signal,
          onProgress: (event) => renderer.handle(event),
          transfer: transferTuning(ctx),
          // `--local-dir ""` too is checked (and refused), never dropped as if it were not given
          ...(options.localDir !== undefined
            ? { localDir: localDirArg(ctx, options.localDir), protectedDirs: protectedDirs(ctx) }
            : {}),
        });
      } finally {
        renderer.stop();
      }
      if (out.json) return out.printJson(result);
      if (!out.quiet) printSummary(out, result);
    });
}

/**
 * `--local-dir` as an absolute path: a relative one is taken from the directory the command was started in
 * (`INIT_CWD` under `deno task`, whose own working directory is the project's).
 */
function localDirArg(ctx: CliContext, dir: string): string {
  if (dir.trim() === "") return dir; // refused by the pull, as given
  if (dir.startsWith("/")) return dir.replace(/\/+$/, "") || "/";
  const base = ctx.env("INIT_CWD") || Deno.cwd();
  return `${base.replace(/\/+$/, "")}/${dir}`.replace(/\/+$/, "").replace(/\/\.(?=\/|$)/g, "");
}

/** The folders `--local-dir` must not be: the home folder and gpux's state folder, where they can be worked out. */
function protectedDirs(ctx: CliContext): ProtectedDir[] {
  const dirs: ProtectedDir[] = [];
  for (const [what, find] of [["your home folder", homeDir], ["gpux's state folder (GPUX_HOME)", gpuxHome]] as const) {
    try {
      dirs.push({ path: find(ctx.env), what });
    } catch { /* no HOME: nothing to protect there */ }
  }
  return dirs;
}

/** Range tuning from `GPUX_PULL_CHUNK_BYTES` / `GPUX_PULL_RANGE_THRESHOLD` (benchmarks, unusual networks). */
function transferTuning(ctx: CliContext): { chunkSize?: number; rangeThreshold?: number } | undefined {
  const read = (name: string, range: { min: number; max: number }) => {
    const value = ctx.env(name);
    if (value === undefined || value === "") return undefined;
    return parseIntFlag(name, value, range);
  };
  // a 1-byte range would split a 1 GB file into a billion requests
  const chunkSize = read("GPUX_PULL_CHUNK_BYTES", INT_FLAGS.pullChunkBytes);
  const rangeThreshold = read("GPUX_PULL_RANGE_THRESHOLD", INT_FLAGS.pullRangeThreshold);
  return chunkSize || rangeThreshold ? { chunkSize, rangeThreshold } : undefined;
}

function printSummary(out: Output, r: PullResult): void {
  const total = r.files.reduce((sum, f) => sum + f.size, 0);
  const rev = r.revision === r.sha ? r.sha : `${r.revision} → ${r.sha}`;
  if (r.dryRun) {
    const missing = r.files.filter((f) => !f.cached);
    out.print(`${out.bold(r.id)} ${rev}${r.variant ? `  (variant ${r.variant})` : ""}`);
    for (const f of r.files) {
      out.print(`  ${f.cached ? out.dim("cached  ") : "download"}  ${formatBytes(f.size).padStart(9)}  ${f.path}`);
    }
    out.print(
      `would download ${missing.length} file(s), ${formatBytes(missing.reduce((s, f) => s + f.size, 0))}` +
        ` (${formatBytes(r.bytesCached)} already cached) into ${r.snapshotPath}`,
    );
    return;
  }
  const speed = r.bytesDownloaded > 0 && r.seconds > 0
    ? `, ${formatBytes(Math.round(r.bytesDownloaded / r.seconds))}/s`
    : "";
  out.print(`${out.green("pulled")} ${out.bold(r.id)}  ${rev}${r.variant ? `  (variant ${r.variant})` : ""}`);
  out.print(
    `  ${r.files.length} file(s), ${formatBytes(total)}: ${formatBytes(r.bytesDownloaded)} downloaded, ` +
      `${formatBytes(r.bytesCached)} already cached, in ${formatDuration(r.seconds)}${speed}`,
  );
  out.print(`  ${r.snapshotPath}`);
  if (r.conversion) {
    out.print(`  ${out.yellow("no ONNX files")}: convert with`);
    out.print(`    ${r.conversion.command}`);
  }
}
