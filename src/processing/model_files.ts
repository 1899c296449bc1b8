/**
 * The files beside a model that pipelines read: config.json, tokenizer.json, tokenizer_config.json,
 * preprocessor_config.json, modules.json, README.md. For a Hub model that is the snapshot folder; for
 * a model directory its folder (and the repository root when the `.onnx` sits in `onnx/`); gpux.yml's
 * folder comes first, so a `preprocessing.tokenizer` path resolves against it.
 *
 * Files are untrusted: JSON that does not parse is an {@linkcode InputError} naming the file.
 *
 * @module
 */
import { InputError, NotFoundError } from "../errors.ts";
import { readBounded } from "../bounded_read.ts";
import type { ResolvedModel } from "../runtime/model_source.ts";

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
  }
}

/**
 * Largest companion file read (256 MiB): the biggest real tokenizer.json files are a few tens of MB, and a JSON
 * text this size already takes gigabytes to parse.
 */
export const MAX_MODEL_FILE_BYTES = 256 * 1024 * 1024;

function readModelFile(path: string): Promise<Uint8Array> {
  return readBounded(path, {
    maxBytes: MAX_MODEL_FILE_BYTES,
    tooBigHint: "this is not a tokenizer or processor file; re-download the model (gpux pull --force)",
  });
}

/** Looks up a model's companion files. */
export class ModelFiles {
  /** Folders searched, in order. */
  readonly dirs: readonly string[];
  /** How the model was found (for hints). */
  readonly model?: ResolvedModel;
  #json = new Map<string, unknown>();

  /** `dirs` are searched in order. */
  constructor(dirs: string[], model?: ResolvedModel) {
    this.dirs = [...new Set(dirs)];
    this.model = model;
  }

  /** The folders for a resolved model (or a bare `.onnx` path). */
  static forModel(model: ResolvedModel | undefined, onnxPath: string): Promise<ModelFiles> {
    const dirs: string[] = [];
    if (model?.configPath) dirs.push(dirname(model.configPath));
    const path = model?.path ?? onnxPath;
    if (model?.kind === "hub" && model.sha) {
      const marker = `/snapshots/${model.sha}`;
      const i = path.indexOf(marker);
      if (i >= 0) dirs.push(path.slice(0, i + marker.length));
    }
    const dir = dirname(path);
    dirs.push(dir);
    if (/\/onnx$/.test(dir)) dirs.push(dirname(dir));
    return Promise.resolve(new ModelFiles(dirs, model));
  }

  /** Path of `name` (relative, e.g. `1_Pooling/config.json`, or absolute), or undefined when absent. */
  async find(name: string): Promise<string | undefined> {
    if (name.startsWith("/")) return await isFile(name) ? name : undefined;
    for (const dir of this.dirs) {
      const path = `${dir}/${name.replace(/^\.\//, "")}`;
      if (await isFile(path)) return path;
    }
    return undefined;
  }

  /** Path of `name`; a {@linkcode NotFoundError} naming it and how to get it when absent. */
  async require(name: string, why: string): Promise<string> {
    const path = await this.find(name);
    if (!path) throw this.missing(name, why);
    return path;
  }

  /** The error for a missing file: which file, why it is needed, and the command that fetches it. */
  missing(name: string, why: string): NotFoundError {
    const m = this.model;
    const where = this.dirs[0] ?? ".";
    if (m?.kind === "hub" && m.repoId) {
      const spec = `${m.repoId}${m.revision && m.revision !== "main" ? `@${m.revision}` : ""}`;
      return new NotFoundError(`${name} is missing for ${spec} (${why}); looked in ${this.dirs.join(", ")}`, {
        hint:
          `fetch it with \`gpux pull ${spec}\`; if the repository has no ${name}, name one in gpux.yml (preprocessing) or run on tensors with --raw --input`,
      });
    }
    return new NotFoundError(`${name} is missing (${why}); looked in ${this.dirs.join(", ")}`, {
      hint:
        `put ${name} in ${where} (\`gpux pull org/name\` fetches it with a Hub model), or set it in gpux.yml preprocessing`,
    });
  }

  /** Reads a text file, or undefined when absent. */
  async readTextIfPresent(name: string): Promise<string | undefined> {
    const path = await this.find(name);
    return path === undefined ? undefined : new TextDecoder().decode(await readModelFile(path));
  }

  /** The bytes of a binary file (a sentencepiece model), or undefined when absent. */
  async readBytesIfPresent(name: string): Promise<Uint8Array | undefined> {
    const path = await this.find(name);
    return path === undefined ? undefined : await readModelFile(path);
  }

  /** Parsed JSON of `name` (cached), or undefined when absent. */
  async readJsonIfPresent(name: string): Promise<unknown> {
    if (this.#json.has(name)) return this.#json.get(name);
    const path = await this.find(name);
    if (path === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(await readModelFile(path)));
    } catch (error) {
      if (error instanceof InputError) throw error;
      throw new InputError(`${path} is not valid JSON: ${(error as Error).message}`, {
        cause: error,
        hint: "re-download it (gpux pull --force) or fix the file",
      });
    }
    this.#json.set(name, value);
    return value;
  }

  /** Parsed JSON of `name`; a NotFoundError with the fix when absent. */
  async readJson(name: string, why: string): Promise<unknown> {
    const value = await this.readJsonIfPresent(name);
    if (value === undefined) throw this.missing(name, why);
    return value;
  }
}
