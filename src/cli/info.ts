/**
 * `gpux info <model>[@rev]`: what a model is, what it holds and what gpux would run.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import type { ModelMetadata } from "../registry/manager.ts";
import type { CliContext } from "./context.ts";
import { hubClient, modelArg } from "./hub_client.ts";
import { formatBytes, formatCount, formatDate, type Output } from "./output.ts";
import { printTable } from "./table_output.ts";
import { taskFromArchitectures } from "../processing/task_detection.ts";
import { chooseGenerationVariant } from "../generation/variant_choice.ts";

/** For a language model: that it generates, and the variant `run --prompt`/`chat` picks on cpu and on cuda. */
function generationInfo(info: ModelMetadata): { cpuVariant?: string; cudaVariant?: string } | undefined {
  const generates = info.pipelineTag === "text-generation" ||
    taskFromArchitectures(info.architectures) === "text-generation";
  if (!generates) return undefined;
  const paths = info.onnx.variants.flatMap((v) => v.files);
  const pick = (provider: string) => chooseGenerationVariant(paths, provider)?.variant ?? info.onnx.defaultVariant;
  return { cpuVariant: pick("cpu"), cudaVariant: pick("cuda") };
}

/** The `info` command. */
export function infoCommand(ctx: CliContext) {
  return new Command("info")
    .description("Show a model's metadata, formats, ONNX variants and files (e.g. gpux info org/name@main)")
    .argument("<model>", "model id, org/name or org/name@revision")
    .option("--revision <rev>", "branch, tag, commit sha or refs/pr/N (default main)")
    .option("--files", "list every file with its size")
    .option("--token <token>", "Hugging Face token (default: HF_TOKEN or the saved login)")
    .option("--json", "print one JSON document")
    .option("-q, --quiet", "print no progress or retries")
    .action(async (model, options) => {
      const out = ctx.output({ json: options.json, quiet: options.quiet });
      const ref = modelArg(model, options.revision);
      const info = await hubClient(ctx, options, out).getModelInfo(ref.id, {
        revision: ref.revision,
        signal: ctx.signal,
      });
      const generation = generationInfo(info);
      if (out.json) return out.printJson(generation ? { ...info, generation } : info);
      printInfo(out, info, options.files === true);
      if (generation && info.onnx.variants.length) {
        out.print();
        out.print(
          `${out.bold("Generates text")}: gpux run ${info.id} --prompt "…", gpux chat ${info.id} ` +
            `(variant on cpu: ${generation.cpuVariant ?? "-"}, on cuda: ${generation.cudaVariant ?? "-"})`,
        );
      }
    });
}

function printInfo(out: Output, info: ModelMetadata, withFiles: boolean): void {
  const short = info.sha.slice(0, 12);
  out.print(`${out.bold(info.id)} ${out.dim("@")} ${info.revision}${info.revision === info.sha ? "" : ` (${short})`}`);
  if (info.description) out.print(`  ${info.description}`);
  out.print();
  const access = info.private ? "private" : "public";
  const rows: [string, string][] = [
    ["task", info.pipelineTag ? `${info.pipelineTag} (${info.modality})` : `- (${info.modality})`],
    ["library", info.libraryName ?? "-"],
    [
      "architecture",
      [info.architectures?.join(", "), info.modelType && `(${info.modelType})`].filter(Boolean).join(" ") || "-",
    ],
    ["license", info.license ?? "-"],
    ["access", info.gated ? `${access}, gated (${info.gated} approval)` : access],
    ["downloads", `${formatCount(info.downloads)}   likes ${formatCount(info.likes)}`],
    ["updated", formatDate(info.lastModified)],
    ["commit", info.sha],
    ["formats", info.formats.length ? info.formats.join(", ") : "none recognised"],
    ["size", `${formatBytes(info.totalSize)} in ${info.files.length} file${info.files.length === 1 ? "" : "s"}`],
  ];
  if (info.tags.length) rows.push(["tags", info.tags.join(", ")]);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [key, value] of rows) out.print(`  ${out.dim(key.padEnd(width))}  ${value}`);
  out.print();

  if (info.onnx.variants.length) {
    out.print(out.bold("ONNX variants"));
    printTable(
      out,
      ["DEFAULT", "VARIANT", "SIZE", "FILES", "COMPONENTS"],
      info.onnx.variants.map((v) => [
        v.name === info.onnx.defaultVariant ? "*" : "",
        v.name,
        formatBytes(v.size),
        String(v.files.length),
        v.components.join(", "),
      ]),
      ["left", "left", "right", "right", "left"],
      "  ",
    );
    out.print(`  default: ${out.bold(info.onnx.defaultVariant ?? "-")} (${info.onnx.defaultReason ?? ""})`);
  } else if (info.conversion) {
    out.print(out.yellow("No ONNX files in this repository.") + " Export one with Optimum:");
    out.print(`  ${info.conversion.command}`);
  }

  if (withFiles) {
    out.print();
    out.print(out.bold("Files"));
    printTable(
      out,
      ["PATH", "SIZE", "SHA256 / OID"],
      info.files.map((f) => [f.path, formatBytes(f.size), f.lfs ? f.lfs.sha256 : (f.oid ?? "-")]),
      ["left", "right", "left"],
      "  ",
    );
  }
}
