/**
 * Model ids as users type them: `org/name`, `name`, `org/name@revision`.
 * Validated with the Hub's own rules before any request is made.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** A parsed model reference. */
export interface ModelRef {
  /** Repository id, `org/name` or `name`. */
  id: string;
  /** Revision given after `@` (branch, tag, commit sha or `refs/pr/N`), if any. */
  revision?: string;
}

const NAME_PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const MAX_NAME = 96;

/**
 * Parses and validates `org/name[@revision]`.
 *
 * @throws {InputError} naming what is wrong and what a valid id looks like.
 * @example
 * ```ts
 * parseModelId("onnx-community/bert-base@refs/pr/3"); // { id: "onnx-community/bert-base", revision: "refs/pr/3" }
 * ```
 */
export function parseModelId(input: string): ModelRef {
  const raw = input.trim();
  if (!raw) throw invalid(input, "it is empty");
  const at = raw.indexOf("@");
  const id = at === -1 ? raw : raw.slice(0, at);
  const revision = at === -1 ? undefined : raw.slice(at + 1);
  validateRepoId(id, input);
  if (revision !== undefined) validateRevision(revision);
  return revision === undefined ? { id } : { id, revision };
}

/**
 * Throws an {@linkcode InputError} unless `id` is a valid Hub repository id
 * (letters, digits, `-_.`; no `--` or `..`; not starting or ending with `-` or `.`; at most 96 chars per part).
 */
export function validateRepoId(id: string, shown: string = id): void {
  const parts = id.split("/");
  if (parts.length > 2) throw invalid(shown, "it has more than one '/'");
  for (const part of parts) {
    if (!part) throw invalid(shown, "a part before or after '/' is empty");
    if (part.length > MAX_NAME) {
      throw invalid(shown, `'${shorten(part)}' is longer than ${MAX_NAME} characters`);
    }
    if (!NAME_PART.test(part)) {
      throw invalid(
        shown,
        `'${part}' may only contain letters, digits, '-', '_' and '.', and must start with a letter, digit or '_'`,
      );
    }
    if (part.includes("--") || part.includes("..")) throw invalid(shown, `'${part}' contains '--' or '..'`);
    if (part.endsWith("-") || part.endsWith(".")) throw invalid(shown, `'${part}' ends with '-' or '.'`);
  }
}

/** Longest revision accepted: a ref is a file under `refs/`, and file names stop at 255 bytes. */
const MAX_REVISION = 255;

/**
 * Throws an {@linkcode InputError} unless `revision` is a valid git ref name or commit sha, by git's own
 * rules (`git check-ref-format`), which the Hub applies: no control characters, spaces or `~^:?*[\`, no
 * empty, `.`-leading or `.lock`-ending component (so no `.`, `..` or `//`), no `@{`, not `@`, at most 255
 * bytes. Checked before it is used as a path under `refs/` or `snapshots/` or sent to the Hub.
 */
export function validateRevision(revision: string): void {
  const why = revisionProblem(revision);
  if (why) {
    throw new InputError(`invalid revision '${shorten(revision)}': ${why}`, {
      hint: "use a branch or tag name, a 40-character commit sha, or refs/pr/N, e.g. org/name@main",
    });
  }
}

function revisionProblem(revision: string): string | undefined {
  if (!revision) return "it is empty";
  if (new TextEncoder().encode(revision).length > MAX_REVISION) {
    return `it is longer than ${MAX_REVISION} bytes (${revision.length} characters)`;
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x20\x7f]/.test(revision)) return "it contains a space or a control character";
  if (/[~^:?*[\\]/.test(revision)) return "it contains one of ~ ^ : ? * [ \\";
  if (revision === "@" || revision.includes("@{")) return "it is '@' or contains '@{'";
  if (revision.includes("..")) return "it contains '..'";
  for (const part of revision.split("/")) {
    if (!part) return "it starts or ends with '/' or contains '//'";
    if (part.startsWith(".")) return "a part between '/' starts with '.' (such as '.')";
    if (part.endsWith(".lock")) return "a part between '/' ends with '.lock'";
  }
  if (revision.endsWith(".")) return "it ends with '.'";
  return undefined;
}

/** `text`, cut to 64 characters for a message (a 10,000-character argument is not echoed whole). */
function shorten(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}… (${text.length} characters)` : text;
}

/** True for a full 40-hex-digit commit sha. */
export function isCommitSha(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

function invalid(input: string, why: string): InputError {
  return new InputError(`invalid model id '${shorten(input)}': ${why}`, {
    hint:
      "model ids look like 'org/name' or 'name', optionally followed by '@revision' (e.g. onnx-community/bert-base@main)",
  });
}
