/**
 * `gpux rm`: removes a cached revision, or a whole model, after showing what it frees.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { executeRemoval, planRemoval, type RemovalPlan } from "../cache/remove.ts";
import { InputError, InterruptedError } from "../errors.ts";
import { cacheWriteError } from "../file_errors.ts";
import { hubCacheDir } from "../environment.ts";
import type { CliContext } from "./context.ts";
import { formatBytes, type Output } from "./output.ts";

/** `gpux rm <model>[@rev] [--yes] [--dry-run] [--cache-dir D] [--json]`. */
export function rmCommand(ctx: CliContext) {
  return new Command("rm")
    .alias("remove")
    .description("Remove a model, or one revision of it (org/name@rev), from the cache")
    .argument(
      "<model>",
      "org/name for every revision, org/name@rev for one (a branch, tag, refs/pr/N, sha or sha prefix)",
    )
    .option("-y, --yes", "do not ask for confirmation")
    .option("--dry-run", "show what would be removed and freed; remove nothing")
    .option(
      "--cache-dir <dir>",
      "the Hub cache (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)",
    )
    .option("--json", "print one JSON document")
    .action(async (model, options) => {
      const out = ctx.output({ json: options.json });
      const plan = await planRemoval(model, { cacheDir: options.cacheDir, env: ctx.env });
      if (options.dryRun) {
        if (out.json) out.printJson({ ...plan, removed: false, dryRun: true });
        else describePlan(out, plan, true);
        return;
      }
      if (!options.yes) {
        if (!Deno.stdin.isTerminal()) {
          throw new InputError(`not removing ${describeTarget(plan)} without confirmation`, {
            hint: "pass --yes to remove without asking (or --dry-run to see what would go)",
          });
        }
        describePlan(out, plan, false);
        const answer = await prompt(out, "Remove? [y/N] ", ctx.signal);
        if (!/^y(es)?$/i.test(answer.trim())) {
          out.info("Nothing removed.");
          return;
        }
      }
      const result = await executeRemoval(plan, {
        signal: ctx.signal,
        onLockWait: (holder) =>
          out.info(
            `waiting for another gpux process${
              holder ? ` (pid ${holder.pid} on ${holder.host})` : ""
            } using ${plan.model}…`,
          ),
      }).catch((error) => {
        throw cacheWriteError(error, hubCacheDir(ctx.env, options.cacheDir)) ?? error;
      });
      if (out.json) {
        out.printJson({ ...result, dryRun: false });
        return;
      }
      out.print(`Removed ${describeTarget(plan)}: freed ${formatBytes(result.freedBytes)}`);
    });
}

function describeTarget(plan: RemovalPlan): string {
  if (plan.wholeModel) return plan.model;
  return plan.revisions.length === 1
    ? `${plan.model}@${plan.revisions[0].commit.slice(0, 12)}`
    : `${plan.model}@${plan.revision}`;
}

function describePlan(out: Output, plan: RemovalPlan, dryRun: boolean): void {
  const lines = [
    `${dryRun ? "Would remove" : "Will remove"} ${plan.wholeModel ? `all of ${plan.model}` : plan.model}:`,
  ];
  for (const r of plan.revisions) {
    const refs = r.refs.length ? ` (${r.refs.join(", ")})` : " (detached)";
    lines.push(`  revision ${r.commit.slice(0, 12)}${refs}: ${r.fileCount} files, ${formatBytes(r.size)}`);
  }
  if (plan.revisions.length === 0 && plan.refs.length) lines.push(`  ref ${plan.refs.join(", ")} (no snapshot cached)`);
  if (plan.refs.length) lines.push(`  refs: ${plan.refs.join(", ")}`);
  lines.push(`  ${plan.blobs.length} blob${plan.blobs.length === 1 ? "" : "s"} no remaining revision uses`);
  if (plan.keptRevisions.length) {
    lines.push(`  kept: ${plan.keptRevisions.map((r) => r.commit.slice(0, 12)).join(", ")}`);
  }
  lines.push(`${dryRun ? "Would free" : "Frees"} ${formatBytes(plan.freedBytes)} in ${plan.modelPath}`);
  // the plan is the answer of a dry run (stdout), and context for a question (stderr)
  for (const line of lines) dryRun ? out.print(line) : out.info(line);
}

/** Asks on stderr and reads one line from stdin. */
async function prompt(out: Output, question: string, signal: AbortSignal): Promise<string> {
  out.progress(question);
  const reader = Deno.stdin.readable.getReader();
  const decoder = new TextDecoder();
  let line = "";
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      line += decoder.decode(value, { stream: true });
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
  if (signal.aborted) throw new InterruptedError("interrupted: nothing removed");
  return line.split("\n")[0];
}
