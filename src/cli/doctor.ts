/**
 * `gpux doctor`: what this machine can run on, and what to do about what is missing.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";
import { formatBytes, renderTable } from "./output.ts";
import { hubCacheDir } from "../environment.ts";
import { resolveToken } from "../registry/auth.ts";
import { parseRepoFolderName } from "../vocabulary/cache_layout.ts";
import { setOrtLogLevel } from "../runtime/session.ts";
import { currentPlatform, type ProviderName } from "../runtime/providers.ts";
import { probeGpuLibraries, probeProviders, type ProviderProbe, runtimeInstall } from "../runtime/diagnostics.ts";
import { VERSION } from "../version.ts";
import { INT_FLAGS, intFlag } from "./int_flag.ts";
import { detectGpu, type GpuPresence } from "../runtime/gpu_presence.ts";
import { installedRuntimesJson } from "./runtime.ts";

async function cacheSummary(dir: string): Promise<{ dir: string; exists: boolean; repos: number; size: number }> {
  let repos = 0;
  let size = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isDirectory || !parseRepoFolderName(entry.name)) continue;
      repos++;
      try {
        for await (const blob of Deno.readDir(`${dir}/${entry.name}/blobs`)) {
          if (blob.isFile) size += (await Deno.stat(`${dir}/${entry.name}/blobs/${blob.name}`)).size;
        }
      } catch {
        // a repository folder without blobs
      }
    }
    return { dir, exists: true, repos, size };
  } catch {
    return { dir, exists: false, repos: 0, size: 0 };
  }
}

/** Where the token comes from (never the token itself), or why the one found is unusable. */
async function tokenStatus(ctx: CliContext): Promise<{ present: boolean; source?: string; problem?: string }> {
  try {
    const found = await resolveToken({ env: ctx.env });
    if (!found) return { present: false };
    return { present: true, source: found.path ? `${found.source}: ${found.path}` : found.source };
  } catch (error) {
    return { present: false, problem: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The to-do lines about providers: with a GPU present, one per GPU provider of the `auto` order that does not load
 * (its reason and fix, e.g. `gpux runtime install cuda`); without a GPU none (cpu is the only choice there).
 */
export function providerActions(
  autoOrder: readonly ProviderName[],
  providers: readonly ProviderProbe[],
  gpu: GpuPresence,
): string[] {
  if (!gpu.present) return [];
  const actions: string[] = [];
  for (const p of autoOrder) {
    const probe = providers.find((r) => r.provider === p);
    if (probe && !probe.available && p !== "cpu") actions.push(`${p}: ${probe.reason} → ${probe.hint}`);
  }
  return actions;
}

/** `gpux doctor`. */
export function doctorCommand(ctx: CliContext) {
  return new Command("doctor")
    .description("Check which execution providers load here, GPU libraries, cache and token")
    .option("--device-id <n>", "GPU index to try", intFlag("--device-id", INT_FLAGS.deviceId))
    .option("--json", "print one JSON document")
    .action(async (flags) => {
      const out = ctx.output({ json: flags.json });
      await setOrtLogLevel("fatal");
      const platform = currentPlatform();
      const install = await runtimeInstall(platform);
      const providers = await probeProviders({ platform, deviceId: flags.deviceId });
      const libraries = probeGpuLibraries(platform);
      let cacheDir: string | undefined;
      try {
        cacheDir = hubCacheDir(ctx.env);
      } catch {
        cacheDir = undefined;
      }
      const cache = cacheDir ? await cacheSummary(cacheDir) : undefined;
      const token = await tokenStatus(ctx);
      const selected = install.autoOrder.find((p) => providers.find((r) => r.provider === p)?.available) ?? "cpu";
      const gpu = detectGpu({ platform });
      const actions: string[] = [];
      if (install.runtimeFolderProblem) actions.push(`runtime: ${install.runtimeFolderProblem}`);
      // without any GPU, cpu is the only choice: providers that cannot load are no to-do (the table still says why)
      actions.push(...providerActions(install.autoOrder, providers, gpu));
      if (!cache?.exists) {
        actions.push(`cache: ${cacheDir ?? "HF_HUB_CACHE"} does not exist yet → \`gpux pull <org/name>\` creates it`);
      }
      if (token.problem) actions.push(`token: ${token.problem}`);
      else if (!token.present) {
        actions.push("token: none → set HF_TOKEN (or `gpux login`) to pull private or gated models");
      }
      const report = {
        gpux: VERSION,
        platform,
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        onnxruntime: {
          version: install.onnxruntimeVersion,
          binaryDir: install.binaryDir,
          loadedLibrary: install.loadedLibrary ?? null,
          runtimeFolder: install.runtimeFolder ?? null,
          libraries: install.providerLibraries,
        },
        gpu,
        installedRuntimes: installedRuntimesJson(ctx),
        autoOrder: install.autoOrder,
        selected,
        providers: providers.map((p) => ({
          name: p.provider,
          available: p.available,
          ms: Math.round(p.ms * 10) / 10,
          ...(p.reason ? { reason: p.reason, hint: p.hint } : {}),
          ...(p.ortMessage ? { ortMessage: p.ortMessage } : {}),
        })),
        gpuLibraries: libraries.map((l) => ({ name: l.name, role: l.role, found: l.found })),
        cache: cache ?? { dir: null, exists: false, repos: 0, size: 0 },
        token,
        actions,
      };
      if (out.json) {
        out.printJson(report);
        return;
      }
      const ok = (b: boolean) => b ? out.green("ok") : out.red("no");
      out.print(`${out.bold("gpux")}         ${VERSION} · Deno ${Deno.version.deno} · ${platform.os} ${platform.arch}`);
      out.print(
        `${out.bold("onnxruntime")}  ${install.onnxruntimeVersion} (${install.binaryDir ?? "location unknown"})`,
      );
      out.print(
        `${out.bold("gpu")}          ${gpu.present ? gpu.evidence.join(", ") : "none found (cpu is the only choice)"}`,
      );
      out.print(`${out.bold("auto order")}   ${install.autoOrder.join(" → ")} · gpux would use ${out.bold(selected)}`);
      out.print("");
      out.print(renderTable(
        ["PROVIDER", "LOADS", "WHY NOT"],
        providers.map((p) => [p.provider, ok(p.available), p.reason ?? ""]),
      ));
      if (libraries.length) {
        out.print("");
        out.print(renderTable(
          ["LIBRARY", "FOUND", "FOR"],
          libraries.map((l) => [l.name, ok(l.found), l.role]),
        ));
      }
      out.print("");
      out.print(
        `${out.bold("cache")}        ${cache?.dir ?? "?"} ${
          cache?.exists ? `(${cache.repos} models, ${formatBytes(cache.size)})` : "(does not exist yet)"
        }`,
      );
      out.print(
        `${out.bold("token")}        ${
          token.present ? `present (${token.source})` : token.problem ? "unusable" : "none"
        }`,
      );
      if (actions.length) {
        out.print("");
        out.print(out.bold("to do"));
        for (const a of actions) out.print(`  - ${a}`);
      }
    });
}
