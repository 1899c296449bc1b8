/**
 * `gpux runtime ls | install | rm`: the onnxruntime in use, its execution providers, and the provider
 * packages gpux installs into `$GPUX_HOME/runtime` (see `runtime/runtime_folder.ts`).
 *
 * @module
 */
import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";
import { formatBytes, renderTable } from "./output.ts";
import { PullProgressRenderer } from "./pull_progress.ts";
import { setOrtLogLevel } from "../runtime/session.ts";
import { currentPlatform, providerInstalled } from "../runtime/providers.ts";
import { probeProviders, runtimeInstall } from "../runtime/diagnostics.ts";
import { listRuntimeFolders, runtimeRoot } from "../runtime/runtime_folder.ts";
import { detectGpu } from "../runtime/gpu_presence.ts";
import { type InstallableProvider, installProvider, removeProvider } from "../runtime_install/install_provider.ts";
import { INT_FLAGS, intFlag } from "./int_flag.ts";

function providerArg(value: string): InstallableProvider {
  if (value !== "cuda") throw new InvalidArgumentError("gpux can install: cuda");
  return value;
}

function cudaArg(value: string): number {
  if (value !== "12" && value !== "13") throw new InvalidArgumentError("expected 12 or 13");
  return Number(value);
}

/** The installed runtime folders, for `runtime ls` and `doctor`. */
export function installedRuntimesJson(ctx: CliContext) {
  return listRuntimeFolders(ctx.env).map((f) => ({
    path: f.path,
    onnxruntime: f.spec.version,
    platform: `${f.spec.os}-${f.spec.arch}`,
    ...(f.spec.cuda ? { cuda: f.spec.cuda } : {}),
    ...(f.manifest
      ? {
        provider: f.manifest.provider,
        source: f.manifest.source,
        files: f.manifest.files,
        installedAt: f.manifest.installedAt,
      }
      : {}),
    ...(f.problem ? { problem: f.problem } : {}),
  }));
}

function lsCommand(ctx: CliContext) {
  return new Command("ls")
    .description("The onnxruntime in use, where its libraries live, each provider and the installed provider packages")
    .option("--device-id <n>", "GPU index to try", intFlag("--device-id", INT_FLAGS.deviceId))
    .option("--json", "print one JSON document")
    .option("-q, --quiet", "nothing on stderr but errors")
    .action(async (flags) => {
      const out = ctx.output({ json: flags.json, quiet: flags.quiet });
      await setOrtLogLevel("fatal");
      const platform = currentPlatform();
      const install = await runtimeInstall(platform);
      // providers a file check rules out are not tried (WebGPU's Dawn would print its own Vulkan warning on stderr)
      const providers = await probeProviders({ platform, deviceId: flags.deviceId, skipHopeless: true });
      const installed = installedRuntimesJson(ctx);
      const gpu = detectGpu({ platform });
      if (out.json) {
        out.printJson({
          onnxruntime: install.onnxruntimeVersion,
          libraryDir: install.binaryDir ?? null,
          loadedLibrary: install.loadedLibrary ?? null,
          runtimeFolder: install.runtimeFolder ?? null,
          ...(install.runtimeFolderProblem ? { runtimeFolderProblem: install.runtimeFolderProblem } : {}),
          runtimeRoot: runtimeRoot(ctx.env),
          gpu,
          providers: providers.map((p) => ({
            name: p.provider,
            installed: providerInstalled(p.provider, platform),
            loadable: p.available,
            ...(p.reason ? { reason: p.reason, hint: p.hint } : {}),
          })),
          installed,
        });
        return;
      }
      out.print(`${out.bold("onnxruntime")}  ${install.onnxruntimeVersion}`);
      out.print(`${out.bold("libraries")}    ${install.loadedLibrary ?? install.binaryDir ?? "location unknown"}`);
      if (install.runtimeFolderProblem) out.print(`${out.bold("problem")}      ${install.runtimeFolderProblem}`);
      out.print(`${out.bold("gpu")}          ${gpu.present ? gpu.evidence.join(", ") : "none found"}`);
      out.print("");
      out.print(renderTable(
        ["PROVIDER", "INSTALLED", "LOADS", "WHY NOT"],
        providers.map((p) => [
          p.provider,
          providerInstalled(p.provider, platform) ? "yes" : "no",
          p.available ? out.green("yes") : out.red("no"),
          p.reason ?? "",
        ]),
      ));
      out.print("");
      if (!installed.length) {
        out.print(`no provider packages installed in ${runtimeRoot(ctx.env)}`);
        return;
      }
      out.print(renderTable(
        ["INSTALLED", "SOURCE", "SIZE", "FOLDER"],
        installed.map((f) => [
          `${f.provider ?? "libonnxruntime only"}${f.cuda ? ` (CUDA ${f.cuda})` : ""}${
            f.problem ? ` — ${f.problem}` : ""
          }`,
          f.source ? `${f.source.kind} ${f.source.name}${f.source.version ? `@${f.source.version}` : ""}` : "?",
          formatBytes((f.files ?? []).reduce((s, x) => s + x.size, 0)),
          f.path,
        ]),
      ));
    });
}

function installCommand(ctx: CliContext) {
  return new Command("install")
    .description("Install an execution provider's libraries for this onnxruntime into $GPUX_HOME/runtime")
    .argument("<provider>", "cuda", providerArg)
    .option(
      "--cuda <major>",
      "CUDA major version: 12 (NuGet) or 13 (npm) (default: the CUDA runtime found here)",
      cudaArg,
    )
    .option("--from <source>", "npm, nuget, or a local folder or archive (.tgz, .nupkg, .zip)")
    .option("--force", "reinstall even when installed")
    .option("--json", "print one JSON document")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (provider, flags) => {
      const out = ctx.output({ json: flags.json, quiet: flags.quiet });
      const progress = new PullProgressRenderer(out, ctx.env);
      let result;
      try {
        result = await installProvider(provider, {
          env: ctx.env,
          signal: ctx.signal,
          ...(flags.cuda !== undefined ? { cuda: flags.cuda } : {}),
          ...(flags.from !== undefined ? { from: flags.from } : {}),
          ...(flags.force ? { force: true } : {}),
          onProgress: (event) => progress.handle(event),
        });
      } finally {
        progress.stop();
      }
      if (out.json) {
        out.printJson({
          provider,
          folder: result.folder,
          alreadyInstalled: result.alreadyInstalled,
          bytesDownloaded: result.bytesDownloaded,
          resumedFrom: result.resumedFrom,
          manifest: result.manifest,
        });
        return;
      }
      const m = result.manifest;
      const source = `${m.source.kind} ${m.source.name}${m.source.version ? `@${m.source.version}` : ""}`;
      if (result.alreadyInstalled) {
        out.print(
          `${provider} (CUDA ${m.cuda}) is already installed in ${result.folder} (from ${source}); --force reinstalls`,
        );
        return;
      }
      out.print(
        `installed ${provider} (CUDA ${m.cuda}) from ${source}${
          m.source.matches ? ` (the libraries of ${m.source.matches})` : ""
        } into ${result.folder}`,
      );
      for (const f of m.files) out.print(`  ${f.name}  ${formatBytes(f.size)}  sha256 ${f.sha256.slice(0, 16)}…`);
      out.info("check it with `gpux doctor` (the provider is tried for real)");
    });
}

function rmCommand(ctx: CliContext) {
  return new Command("rm")
    .description("Remove an installed execution provider's runtime folder")
    .argument("<provider>", "cuda", providerArg)
    .option("--cuda <major>", "only the folder for this CUDA major version", cudaArg)
    .option("--json", "print one JSON document")
    .option("-q, --quiet", "nothing on stderr but errors")
    .action(async (provider, flags) => {
      const out = ctx.output({ json: flags.json, quiet: flags.quiet });
      const removed = await removeProvider(provider, {
        env: ctx.env,
        ...(flags.cuda !== undefined ? { cuda: flags.cuda } : {}),
      });
      if (out.json) out.printJson({ provider, removed });
      else for (const path of removed) out.print(`removed ${path}`);
    });
}

/** `gpux runtime`. */
export function runtimeCommand(ctx: CliContext) {
  return new Command("runtime")
    .description("onnxruntime and its execution providers: ls, install cuda, rm cuda")
    .addCommand(lsCommand(ctx).exitOverride())
    .addCommand(installCommand(ctx).exitOverride())
    .addCommand(rmCommand(ctx).exitOverride());
}
