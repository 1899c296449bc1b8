/**
 * `gpux inspect <model>`: file, size, opset, producer, inputs and outputs, metadata props, and the
 * execution provider that would be used.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";
import { formatBytes, renderTable } from "./output.ts";
import { loadModel } from "../runtime/load_model.ts";
import { setOrtLogLevel } from "../runtime/session.ts";
import { readOnnxFileInfo } from "../runtime/model_file.ts";
import { formatShape, quoteName, type TensorInfo } from "../runtime/tensors.ts";
import {
  fallbacksJson,
  loadOptions,
  modelJson,
  pullOption,
  warnFallbacks,
  withRuntimeOptions,
} from "./runtime_flags.ts";
import { generationFacts } from "../generation/generation_facts.ts";

/** `gpux inspect`. */
export function inspectCommand(ctx: CliContext) {
  const command = new Command("inspect")
    .description("Show a model's inputs, outputs, opset, producer, metadata and the provider it would run on")
    .argument("<model>", "an .onnx file, a directory with gpux.yml (or one .onnx), or a cached Hub id org/name[@rev]");
  return withRuntimeOptions(command)
    .addOption(pullOption())
    .option("--json", "print one JSON document")
    .option("-q, --quiet", "no warnings about provider fallbacks")
    .action(async (model, flags) => {
      const out = ctx.output({ json: flags.json, quiet: flags.quiet });
      await setOrtLogLevel("fatal");
      const session = await loadModel(model, loadOptions(ctx, flags, out));
      try {
        const file = await readOnnxFileInfo(session.path);
        const externalBytes = file.externalData.reduce((s, e) => s + (e.size ?? 0), 0);
        const config = session.model?.config;
        const tensor = (t: TensorInfo, kind: "inputs" | "outputs") => {
          const spec = config?.[kind].find((s) => s.name === t.name);
          return {
            name: t.name,
            dtype: t.dtype,
            shape: t.shape,
            ...(spec?.description ? { description: spec.description } : {}),
            ...(spec?.labels ? { labels: spec.labels.length } : {}),
          };
        };
        const generation = await generationFacts(session);
        if (out.json) {
          out.printJson({
            model: modelJson(model, session),
            file: {
              path: file.path,
              size: file.size,
              externalData: file.externalData,
              totalSize: file.size + externalBytes,
            },
            irVersion: file.irVersion,
            opsets: file.opsets,
            producer: { name: file.producerName ?? "", version: file.producerVersion ?? "" },
            domain: file.domain ?? "",
            modelVersion: file.modelVersion,
            graphName: file.graphName ?? "",
            docString: file.docString ?? "",
            metadata: file.metadata,
            inputs: session.inputs.map((t) => tensor(t, "inputs")),
            outputs: session.outputs.map((t) => tensor(t, "outputs")),
            provider: session.provider,
            ...(session.fallbacks.length ? { fallbacks: fallbacksJson(session) } : {}),
            ...(config
              ? { config: { path: session.model?.configPath, name: config.name, version: config.version } }
              : {}),
            ...(generation ? { generation } : {}),
          });
          return;
        }
        warnFallbacks(out, session);
        const m = session.model;
        const rows: [string, string][] = [
          ["file", file.path],
          [
            "size",
            `${formatBytes(file.size)}${
              file.externalData.length
                ? ` + ${formatBytes(externalBytes)} external data (${
                  file.externalData.map((e) => e.location).join(", ")
                })`
                : ""
            }`,
          ],
        ];
        if (m?.repoId) {
          rows.push([
            "hub",
            `${m.repoId}@${m.revision} (${m.sha?.slice(0, 12)})${m.variant ? ` variant ${m.variant}` : ""}`,
          ]);
        }
        if (config) {
          rows.push(["config", `${m?.configPath} (${config.name}${config.version ? ` ${config.version}` : ""})`]);
        }
        rows.push(["ir version", String(file.irVersion ?? "?")]);
        rows.push(["opset", file.opsets.map((o) => `${o.domain || "ai.onnx"} ${o.version}`).join(", ")]);
        rows.push(["producer", [file.producerName, file.producerVersion].filter((s) => s).join(" ") || "-"]);
        if (file.graphName) rows.push(["graph", file.graphName]);
        if (file.docString) rows.push(["doc", file.docString.split("\n")[0]]);
        for (const [k, v] of Object.entries(file.metadata)) rows.push([`meta ${k}`, v]);
        rows.push(["provider", session.provider]);
        if (generation && "error" in generation) rows.push(["generates", `no: ${generation.error}`]);
        else if (generation) {
          rows.push([
            "generates",
            `text (gpux run --prompt, gpux chat): ${generation.layers} layers, ${generation.kvHeads} KV heads × ${generation.headDim} (${generation.cacheDtype} cache)${
              generation.merged ? ", merged decoder" : ""
            }`,
          ]);
          rows.push(["context", generation.contextLength ? `${generation.contextLength} tokens` : "unknown"]);
          rows.push(["chat template", generation.chatTemplate ?? "none (plain completion)"]);
          rows.push(["eos ids", generation.eosTokenIds.join(", ") || "none"]);
          if (generation.variants.length) rows.push(["variants", generation.variants.join(", ")]);
        }
        const width = Math.max(...rows.map(([k]) => k.length));
        for (const [k, v] of rows) out.print(`${out.bold(k.padEnd(width))}  ${v}`);
        for (const kind of ["inputs", "outputs"] as const) {
          out.print("");
          const list = kind === "inputs" ? session.inputs : session.outputs;
          out.print(renderTable(
            [kind.toUpperCase(), "TYPE", "SHAPE", ...(config ? ["DESCRIPTION"] : [])],
            list.map((t) => {
              const spec = tensor(t, kind);
              return [
                quoteName(t.name),
                t.dtype,
                formatShape(t.shape),
                ...(config ? [`${spec.description ?? ""}${spec.labels ? ` (${spec.labels} labels)` : ""}`] : []),
              ];
            }),
          ));
        }
      } finally {
        await session.dispose();
      }
    });
}
