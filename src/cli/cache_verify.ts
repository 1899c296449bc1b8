/**
 * `gpux cache verify`: re-hashes cached files; exit code 6 when any is corrupt or missing.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { verifyCache, type VerifyIssue } from "../cache/verify.ts";
import { ExitCode } from "../errors.ts";
import { parseModelId } from "../vocabulary/model_id.ts";
import type { CliContext } from "./context.ts";
import { formatBytes, type Output } from "./output.ts";

/** `gpux cache verify [<model>] [--cache-dir D] [--json]`. */
export function cacheVerifyCommand(ctx: CliContext) {
  return new Command("verify")
    .description("Re-hash cached files (every model, or one) and report corrupt or missing ones (exit code 6)")
    .argument("[model]", "org/name; every cached model when omitted")
    .option(
      "--cache-dir <dir>",
      "the Hub cache (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)",
    )
    .option("--json", "print one JSON document")
    .action(async (model, options) => {
      const out = ctx.output({ json: options.json });
      const models = model === undefined ? undefined : [parseModelId(model).id];
      let lastDraw = 0;
      const result = await verifyCache({
        cacheDir: options.cacheDir,
        env: ctx.env,
        models,
        signal: ctx.signal,
        onProgress: (e) => {
          if (out.json || !out.stderrIsTTY) return;
          const now = Date.now();
          if (now - lastDraw < 100 && e.bytesDone < e.bytesTotal) return;
          lastDraw = now;
          const pct = e.bytesTotal ? Math.floor((100 * e.bytesDone) / e.bytesTotal) : 100;
          out.progress(`\r\x1b[2Kverifying ${e.model} ${e.filesDone + 1}/${e.filesTotal} ${pct}%`);
        },
      });
      if (!out.json && out.stderrIsTTY) out.progress("\r\x1b[2K");
      if (result.issues.length) ctx.exitCode = ExitCode.Integrity;
      if (out.json) {
        out.printJson(result);
        return;
      }
      printReport(out, result.issues);
      for (const m of result.models) {
        const status = m.issues ? out.red(`${m.issues} problem${m.issues === 1 ? "" : "s"}`) : out.green("ok");
        const files = `${m.filesChecked} file${m.filesChecked === 1 ? "" : "s"}`;
        out.print(`${m.id}: ${files}, ${formatBytes(m.bytesChecked)} checked, ${status}`);
      }
      for (const u of result.unverified) out.info(`not checked: ${u.path} (${u.reason})`);
      if (result.models.length === 0) out.print(`No models in ${result.cacheDir}.`);
      if (result.issues.length) {
        const toPull = [...new Set(result.issues.filter((i) => i.referenced).map((i) => i.model))];
        const lines = toPull.map((id) => `gpux pull --force ${id}`);
        if (result.issues.some((i) => !i.referenced)) lines.push("gpux cache prune   (for unused corrupt blobs)");
        out.error(
          `${result.issues.length} corrupt or missing file${
            result.issues.length === 1 ? "" : "s"
          } in ${result.cacheDir}`,
          `re-download with:\n  ${lines.join("\n  ")}`,
        );
      }
    });
}

function printReport(out: Output, issues: VerifyIssue[]): void {
  for (const issue of issues) {
    const label = out.red(issue.kind === "corrupt" ? "CORRUPT" : issue.kind === "missing" ? "MISSING" : "SIZE");
    out.print(`${label} ${issue.model}: ${issue.message}`);
    out.print(`        ${issue.path}`);
  }
}
