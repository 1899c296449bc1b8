/**
 * Turns what a user types as `<model>` into one `.onnx` file:
 * a path to an `.onnx` file; a directory holding `gpux.yml` (or a single `.onnx`); or a Hub id
 * `org/name[@rev]` already in the Hugging Face cache (its default ONNX variant, or `variant`).
 *
 * Pulling a missing Hub id is the caller's business: pass `pull` (the CLI passes the registry's
 * `pullModel`), so this module never touches the network.
 *
 * @module
 */
import { InputError, ModelNotFoundError, NotFoundError } from "../errors.ts";
import { denoEnv, type EnvReader, hubCacheDir } from "../environment.ts";
import { findCachedSnapshot, RepoCachePaths } from "../vocabulary/cache_layout.ts";
import { fileErrorReason, isAccessDenied } from "../file_errors.ts";
import { parseModelId, validateRepoId, validateRevision } from "../vocabulary/model_id.ts";
import { onnxVariants } from "../vocabulary/formats.ts";
import { CONFIG_FILE_NAMES, type GpuxConfig, readGpuxConfig } from "../config/gpux_config.ts";

/** Pulls a Hub model into the cache (the CLI passes `HuggingFaceManager.pullModel`). */
export type PullFunction = (
  id: string,
  options: { revision?: string; variant?: string; signal?: AbortSignal },
) => Promise<unknown>;

/** Options of {@linkcode resolveModel}. */
export interface ResolveOptions {
  /** ONNX variant (`fp32`, `fp16`, `quantized`, …) for Hub ids and directories with several `.onnx` files. */
  variant?: string;
  /** Hub cache directory (default `HF_HUB_CACHE` / `$HF_HOME/hub`). */
  cacheDir?: string;
  /** Where environment variables are read from (default `Deno.env`). */
  env?: EnvReader;
  /** Called for a Hub id that is not cached; without it, a missing id is a {@linkcode ModelNotFoundError}. */
  pull?: PullFunction;
  /** Cancels a pull. */
  signal?: AbortSignal;
}

/** Where a model came from and which file runs. */
export interface ResolvedModel {
  /** The `.onnx` file to load. */
  path: string;
  /** How `<model>` was understood. */
  kind: "file" | "directory" | "hub";
  /** The parsed `gpux.yml`, when the model directory has one. */
  config?: GpuxConfig;
  /** Path of that `gpux.yml`. */
  configPath?: string;
  /** Hub models: repository id, revision asked for, commit sha of the snapshot. */
  repoId?: string;
  /** Revision asked for (default `main`). */
  revision?: string;
  /** Commit sha of the cached snapshot. */
  sha?: string;
  /** The ONNX variant chosen, and why when it was the default. */
  variant?: string;
  /** Why the default variant was chosen. */
  variantReason?: string;
  /** True when the model was pulled during resolution. */
  pulled?: boolean;
}

interface FileEntry {
  path: string;
  size: number;
}

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return undefined;
    // a name too long to be a path (ENAMETOOLONG) or a link loop (ELOOP) is no file: maybe a Hub id
    if (/\(os error (36|40)\)/.test(e instanceof Error ? e.message : "")) return undefined;
    if (isAccessDenied(e)) {
      throw new InputError(`cannot read ${path}: ${fileErrorReason(e)}`, {
        hint: "check the path and its permissions",
      });
    }
    throw e;
  }
}

/** How deep and how many files a model directory is searched for `.onnx` files (a Hub snapshot is shallow). */
const LIST_MAX_DEPTH = 4;
const LIST_MAX_FILES = 10_000;

/**
 * Every file under `dir` (following symlinks, as the cache's snapshot links are), with `/` paths, at most
 * {@linkcode LIST_MAX_DEPTH} folders deep: `gpux run ~` or `gpux run /` is refused, not a walk of the disk.
 *
 * @throws {InputError} when the folder holds more than {@linkcode LIST_MAX_FILES} files.
 */
async function listFiles(dir: string, prefix = "", depth = 0, seen = { count: 0, root: dir }): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    const full = `${dir.replace(/\/+$/, "")}/${entry.name}`;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    const stat = await statOrUndefined(full).catch(() => undefined); // a dangling link (blob removed) is skipped
    if (!stat) continue;
    if (++seen.count > LIST_MAX_FILES) {
      throw new InputError(
        `${seen.root} holds more than ${LIST_MAX_FILES} files: it does not look like a model folder`,
        {
          hint: "point gpux at the .onnx file, or at the folder that holds it",
        },
      );
    }
    if (stat.isDirectory) {
      if (depth < LIST_MAX_DEPTH) { for (const f of await listFiles(full, rel, depth + 1, seen)) out.push(f); }
    } else out.push({ path: rel, size: stat.size });
  }
  return out.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

function looksLikePath(spec: string): boolean {
  return /^(\.{1,2}[\\/]|[\\/]|~|[A-Za-z]:[\\/])/.test(spec) || /\.(onnx|ya?ml)$/i.test(spec) || spec === "." ||
    spec === "..";
}

/**
 * CLIP/SigLIP's two towers (`text_model` + `vision_model`, with or without the merged `model` beside them, as
 * Xenova / onnx-community repositories ship them): the vision tower's file, which the zero-shot image
 * classification pipeline runs per image (it loads the text tower beside it itself); otherwise undefined.
 */
function visionTower(variant: { components: string[]; files: string[] }): string | undefined {
  const names = new Set(variant.components);
  if (!names.has("text_model") || !names.has("vision_model")) return undefined;
  if ([...names].some((n) => n !== "text_model" && n !== "vision_model" && n !== "model")) return undefined;
  return variant.files.find((f) => /(^|\/)vision_model[^/]*\.onnx$/i.test(f));
}

/**
 * Picks the `.onnx` file of a folder's files: the only one; else the `variant` asked for (or, when
 * `useDefault`, the default variant) — which must have a single component, or be CLIP/SigLIP's two towers
 * (then the vision tower).
 */
function pickOnnx(
  files: FileEntry[],
  where: string,
  options: { variant?: string; useDefault: boolean },
): { file: string; variant?: string; reason?: string } {
  const onnx = files.filter((f) => f.path.toLowerCase().endsWith(".onnx"));
  if (onnx.length === 0) {
    throw new NotFoundError(`no .onnx file in ${where}`, {
      hint: "point gpux at an .onnx file, or at a directory that holds one (or a gpux.yml naming it)",
    });
  }
  if (onnx.length === 1 && !options.variant) return { file: onnx[0].path };
  const info = onnxVariants(files);
  const list = info.variants.map((v) => `${v.name} (${v.files.filter((f) => f.endsWith(".onnx")).join(", ")})`);
  let name = options.variant;
  let reason: string | undefined;
  if (!name) {
    const towers = info.variants.length === 1 ? visionTower(info.variants[0]) : undefined;
    if (towers) return { file: towers, ...(options.useDefault ? { variant: info.variants[0].name } : {}) };
    if (!options.useDefault || !info.defaultVariant) {
      throw new InputError(
        `${where} holds several .onnx files: ${
          onnx.slice(0, 10).map((f) => f.path).join(", ") + (onnx.length > 10 ? ` and ${onnx.length - 10} more` : "")
        }; gpux will not guess which to run`,
        {
          hint: `pass the file path (e.g. ${where}/${onnx[0].path})${
            info.variants.length > 1 ? `, or --variant with one of: ${info.variants.map((v) => v.name).join(", ")}` : ""
          }`,
        },
      );
    }
    name = info.defaultVariant;
    reason = info.defaultReason;
  }
  const variant = info.variants.find((v) => v.name === name);
  if (!variant) {
    throw new InputError(`${where} has no ONNX variant '${name}'; it has: ${list.join("; ")}`, {
      hint: `pass --variant with one of: ${info.variants.map((v) => v.name).join(", ")}`,
    });
  }
  const onnxFiles = variant.files.filter((f) => f.toLowerCase().endsWith(".onnx"));
  const towers = onnxFiles.length === 1 ? undefined : visionTower(variant);
  if (towers) return { file: towers, variant: variant.name, ...(reason ? { reason } : {}) };
  if (onnxFiles.length !== 1) {
    throw new InputError(
      `variant ${variant.name} of ${where} has ${onnxFiles.length} components (${
        variant.components.join(", ")
      }); gpux runs one graph at a time`,
      { hint: `pass one file's path: ${onnxFiles.map((f) => `${where}/${f}`).join(" or ")}` },
    );
  }
  return { file: onnxFiles[0], variant: variant.name, ...(reason ? { reason } : {}) };
}

async function resolveHub(
  spec: string,
  options: ResolveOptions,
  extra: Partial<ResolvedModel> = {},
): Promise<ResolvedModel> {
  const ref = parseModelId(spec);
  const env = options.env ?? denoEnv;
  const cacheDir = hubCacheDir(env, options.cacheDir);
  const revision = ref.revision ?? "main";
  let snapshot = await findCachedSnapshot(cacheDir, ref.id, revision);
  let pulled = false;
  if (!snapshot && options.pull) {
    await options.pull(ref.id, { revision: ref.revision, variant: options.variant, signal: options.signal });
    pulled = true;
    snapshot = await findCachedSnapshot(cacheDir, ref.id, revision);
  }
  if (!snapshot) {
    const paths = new RepoCachePaths(cacheDir, ref.id);
    throw new ModelNotFoundError(
      `model ${spec} is not a local path and is not in the cache (looked for revision ${revision} in ${paths.root})`,
      { hint: `download it first with \`gpux pull ${spec}\` (or add --pull)` },
    );
  }
  const files = await listFiles(snapshot.path);
  const picked = pickOnnx(files, `${ref.id}@${snapshot.sha.slice(0, 12)}`, {
    variant: options.variant,
    useDefault: true,
  });
  return {
    ...extra,
    path: `${snapshot.path}/${picked.file}`,
    kind: "hub",
    repoId: ref.id,
    revision,
    sha: snapshot.sha,
    ...(picked.variant ? { variant: picked.variant } : {}),
    ...(picked.reason ? { variantReason: picked.reason } : {}),
    ...(pulled ? { pulled } : {}),
  };
}

/**
 * Resolves `<model>` to the `.onnx` file to run.
 *
 * @throws {NotFoundError} (exit 3) nothing there: a missing path, or a Hub id not in the cache (the
 * message says where gpux looked; the hint suggests `gpux pull`).
 * @throws {InputError} (exit 2) ambiguity: several `.onnx` files and no variant — the message lists them.
 * @example
 * ```ts
 * const resolved = await resolveModel("onnx-community/bert-tiny", { variant: "fp16" });
 * console.log(resolved.path, resolved.sha);
 * ```
 */
export async function resolveModel(spec: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
  if (!spec.trim()) {
    throw new InputError("no model given: the model argument is empty", {
      hint: "pass an .onnx file, a directory, or a Hub id like org/name",
    });
  }
  const stat = await statOrUndefined(spec);
  if (stat?.isFile) {
    if (/\.ya?ml$/i.test(spec)) return await resolveConfig(spec, options);
    return { path: spec, kind: "file" };
  }
  if (stat?.isDirectory) {
    const dir = spec.replace(/\/+$/, "") || "/";
    for (const name of CONFIG_FILE_NAMES) {
      const configPath = `${dir}/${name}`;
      if ((await statOrUndefined(configPath))?.isFile) return await resolveConfig(configPath, options);
    }
    const picked = pickOnnx(await listFiles(dir), dir, { variant: options.variant, useDefault: false });
    return { path: `${dir}/${picked.file}`, kind: "directory", ...(picked.variant ? { variant: picked.variant } : {}) };
  }
  if (stat) {
    // a FIFO, a socket or a device: it exists, but a model is read from a regular file
    throw new InputError(`${spec} is not a regular file or a directory`, { hint: "pass the .onnx file itself" });
  }
  if (looksLikePath(spec)) {
    throw new NotFoundError(`no such file or directory: ${spec}`, {
      hint: "check the path; a Hub model is named org/name[@revision]",
    });
  }
  const at = spec.indexOf("@");
  if (at > 0 && isRepoId(spec.slice(0, at))) {
    validateRevision(spec.slice(at + 1)); // a Hub id with a bad revision is bad input (exit 2), not "not found"
  }
  try {
    parseModelId(spec);
  } catch (error) {
    throw new NotFoundError(
      `${spec.length > 100 ? `${spec.slice(0, 100)}…` : spec} is neither an existing path nor a valid Hub model id (${
        (error as Error).message
      })`,
      {
        hint: "pass a path to an .onnx file or a directory, or a Hub id like org/name",
      },
    );
  }
  return await resolveHub(spec, options);
}

async function resolveConfig(configPath: string, options: ResolveOptions): Promise<ResolvedModel> {
  const config = await readGpuxConfig(configPath);
  const dir = configPath.includes("/") ? configPath.slice(0, configPath.lastIndexOf("/")) : ".";
  const source = config.model.source;
  const variant = options.variant ?? config.model.variant;
  if (source.startsWith("hf:")) {
    return await resolveHub(source.slice(3), { ...options, variant }, { config, configPath });
  }
  const target = source.startsWith("/") ? source : `${dir}/${source}`;
  const stat = await statOrUndefined(target);
  if (!stat) {
    throw new NotFoundError(`${configPath}: model.source ${source} does not exist (looked at ${target})`, {
      hint: "fix model.source: a path relative to gpux.yml, or hf:org/name",
    });
  }
  if (stat.isDirectory) {
    const picked = pickOnnx(await listFiles(target), target, { variant, useDefault: false });
    return { path: `${target}/${picked.file}`, kind: "directory", config, configPath };
  }
  return { path: target, kind: "directory", config, configPath };
}

function isRepoId(text: string): boolean {
  try {
    validateRepoId(text);
    return true;
  } catch {
    return false;
  }
}
