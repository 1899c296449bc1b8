/**
 * `gpux init <model>`: writes a gpux.yml describing the model's actual inputs and outputs.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { dirname, relative, resolve } from "node:path";
import { InputError } from "../errors.ts";
import type { CliContext } from "./context.ts";
import { loadModel } from "../runtime/load_model.ts";
import { setOrtLogLevel } from "../runtime/session.ts";
import { renderGpuxConfig } from "../config/config_writer.ts";
import { parseGpuxConfig } from "../config/gpux_config.ts";
import { loadOptions, writeWhole } from "./runtime_flags.ts";

/** `gpux init`. */
export function initCommand(ctx: CliContext) {
  return new Command("init")
    .description("Write a gpux.yml from a model's actual inputs and outputs")
    .argument("<model>", "an .onnx file, a directory with one .onnx, or a cached Hub id org/name[@rev]")
    .option("-o, --output <path>", "where to write (default: gpux.yml beside the model; ./gpux.yml for a Hub id)")
    .option("--name <name>", "the name field (default: from the file, directory or repository)")
    .option("--variant <name>", "ONNX variant of a Hub model or directory")
    .option("--cache-dir <dir>", "Hub cache directory")
    .option("--force", "overwrite an existing file")
    .option("--json", "print {path, config} as JSON")
    .option("-q, --quiet", "print nothing but errors")
    .action(async (model, flags) => {
      const out = ctx.output({ json: flags.json, quiet: flags.quiet });
      await setOrtLogLevel("fatal");
      const session = await loadModel(model, { ...loadOptions(ctx, flags), provider: "cpu" });
      try {
        const m = session.model!;
        if (m.config) {
          throw new InputError(`${m.configPath} already describes this model`, {
            hint: "edit it, or pass the .onnx file itself to write another one",
          });
        }
        const target = flags.output ??
          (m.kind === "hub" ? "gpux.yml" : `${dirname(m.path)}/gpux.yml`);
        const existing = await Deno.lstat(target).catch(() => undefined);
        if (existing?.isDirectory) {
          throw new InputError(`${target} is a directory`, { hint: "pass --output with a file name, e.g. gpux.yml" });
        }
        if (existing && !flags.force) {
          throw new InputError(`${target} already exists`, { hint: "pass --force to overwrite it" });
        }
        const source = m.kind === "hub"
          ? `hf:${m.repoId}${m.revision && m.revision !== "main" ? `@${m.revision}` : ""}`
          : (() => {
            const rel = relative(dirname(resolve(target)), resolve(m.path));
            return rel.startsWith(".") ? rel : `./${rel}`;
          })();
        const name = flags.name ??
          (m.repoId ? m.repoId.split("/").pop()! : m.path.split("/").pop()!.replace(/\.onnx$/i, ""));
        const text = renderGpuxConfig({
          name,
          source,
          variant: m.kind === "hub" ? m.variant : undefined,
          inputs: session.inputs,
          outputs: session.outputs,
        });
        const config = parseGpuxConfig(text, target); // what we write must read back
        await writeWhole(target, new TextEncoder().encode(text), "gpux init: writing");
        if (out.json) out.printJson({ path: target, config });
        else out.info(`wrote ${target} (${session.inputs.length} inputs, ${session.outputs.length} outputs)`);
      } finally {
        await session.dispose();
      }
    });
}
