/**
 * Execution-provider libraries fetched and unpacked into `$GPUX_HOME/runtime/` (`gpux runtime install cuda`), from
 * the npm registry and NuGet, each file checked against its published integrity. It is a room of its own because
 * the runtime only ever loads what is there and never downloads.
 *
 * @example
 * ```ts
 * import { installProvider } from "jsr:@gpux/gpux/runtime_install";
 * const installed = await installProvider("cuda", { cuda: 13 });
 * console.log(installed.folder); // prints: /home/me/.gpux/runtime/onnxruntime-1.29.0-linux-x64-cuda13
 * ```
 *
 * @module
 */
export {
  defaultCudaVersion,
  type InstallableProvider,
  installProvider,
  type InstallProviderOptions,
  type InstallProviderResult,
  removeProvider,
  type RemoveProviderOptions,
} from "./install_provider.ts";
export {
  CUDA_PACKAGES,
  CUDA_PROVIDER_LIBRARIES,
  DEFAULT_NPM_REGISTRY,
  DEFAULT_NUGET_INDEX,
  npmRegistry,
  nugetIndex,
  packageHosts,
  parseIntegrity,
  type ProviderPackage,
} from "./provider_packages.ts";
