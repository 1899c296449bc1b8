/**
 * `gpux ls`: every model in the Hub cache, including those Python downloaded.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { type CachedModel, type CacheScan, scanCache } from "../cache/scan.ts";
import type { CliContext } from "./context.ts";
import { formatBytes, formatDate, type Output } from "./output.ts";
import { printTable } from "./table_output.ts";

/** `gpux ls [--cache-dir D] [--json]`. */
export function lsCommand(ctx: CliContext) {
  return new Command("ls")
    .alias("list")
    .description("List the models in the Hugging Face cache (also those downloaded by Python)")
    .option(
      "--cache-dir <dir>",
      "the Hub cache (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)",
    )
    .option("--json", "print one JSON document")
    .action(async (options) => {
      const out = ctx.output({ json: options.json });
      const scan = await scanCache({ cacheDir: options.cacheDir, env: ctx.env });
      if (out.json) {
        out.printJson(lsJson(scan));
        return;
      }
      printModels(out, scan);
    });
}

function printModels(out: Output, scan: CacheScan): void {
  if (scan.models.length === 0) {
    out.info(scan.exists ? `no models in ${scan.cacheDir}` : `no cache at ${scan.cacheDir} (nothing downloaded yet)`);
    return;
  }
  const rows: string[][] = [];
  // on a terminal a model's own columns show on its first row only; piped, every row is complete
  const repeat = !out.stdoutIsTTY;
  for (const model of scan.models) {
    const revisions = model.revisions.length ? model.revisions : [undefined];
    revisions.forEach((revision, i) => {
      const first = i === 0 || repeat;
      const refs = revision ? (revision.refs.length ? revision.refs.join(", ") : out.dim("(detached)")) : "";
      rows.push([
        first ? model.id : "",
        revision ? revision.commit.slice(0, 12) : out.dim("(none)"),
        refs,
        first ? formatBytes(model.sizeOnDisk) : "",
        first ? String(model.fileCount) : "",
        first ? (model.formats.join(",") || "-") : "",
        formatDate((revision?.lastModified ?? model.lastModified).toISOString()),
      ]);
    });
  }
  printTable(
    out,
    ["MODEL", "REVISION", "REFS", "SIZE", "FILES", "FORMATS", "MODIFIED"],
    rows,
    ["left", "left", "left", "right", "right", "left", "left"],
  );
  // the summary and the notes follow the table on a terminal; piped, stdout stays a clean table
  const say = out.stdoutIsTTY ? (line: string) => out.print(line) : (line: string) => out.info(line);
  const total = scan.models.length === 1 ? "1 model" : `${scan.models.length} models`;
  if (out.stdoutIsTTY) out.print();
  say(`${total}, ${formatBytes(scan.sizeOnDisk)} on disk in ${scan.cacheDir}`);
  for (const note of scan.models.flatMap(problems)) say(out.yellow(note));
}

/** One line per problem worth a user's attention, with what to do about it. */
function problems(model: CachedModel): string[] {
  const notes: string[] = [];
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (model.danglingLinks.length) {
    notes.push(
      `${model.id}: ${
        plural(model.danglingLinks.length, "file")
      } missing from the cache; run \`gpux cache verify ${model.id}\``,
    );
  }
  const reclaimable = model.unreferencedBlobs.length + model.incomplete.length;
  if (reclaimable) {
    const bytes = model.unreferencedBlobs.reduce((s, b) => s + b.size, 0) +
      model.incomplete.reduce((s, i) => s + i.size, 0);
    notes.push(
      `${model.id}: ${plural(reclaimable, "unused or partial file")} (${
        formatBytes(bytes)
      }); \`gpux cache prune\` frees them`,
    );
  }
  return notes;
}

/** The `--json` document: the scan without per-file paths on disk. */
function lsJson(scan: CacheScan) {
  return {
    cacheDir: scan.cacheDir,
    exists: scan.exists,
    sizeOnDisk: scan.sizeOnDisk,
    models: scan.models.map((m) => ({
      id: m.id,
      path: m.path,
      sizeOnDisk: m.sizeOnDisk,
      fileCount: m.fileCount,
      formats: m.formats,
      lastModified: m.lastModified.toISOString(),
      lastAccessed: m.lastAccessed.toISOString(),
      refs: m.refs,
      revisions: m.revisions.map((r) => ({
        commit: r.commit,
        refs: r.refs,
        detached: r.detached,
        path: r.path,
        size: r.size,
        fileCount: r.files.length,
        formats: r.formats,
        lastModified: r.lastModified.toISOString(),
        files: r.files.map((f) => ({
          path: f.path,
          size: f.size,
          kind: f.kind,
          ...(f.etag ? { etag: f.etag } : {}),
          ...(f.dangling ? { missing: true } : {}),
        })),
      })),
      unreferencedBlobs: m.unreferencedBlobs.map((b) => ({ etag: b.etag, size: b.size })),
      incomplete: m.incomplete.map((i) => ({ etag: i.etag, size: i.size, lastModified: i.lastModified.toISOString() })),
      missingFiles: m.revisions.flatMap((r) =>
        r.files.filter((f) => f.dangling).map((f) => ({ revision: r.commit, path: f.path, etag: f.etag }))
      ),
      danglingRefs: m.danglingRefs,
      warnings: m.warnings,
    })),
    skipped: scan.skipped,
  };
}
