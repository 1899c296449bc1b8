/**
 * `--include` / `--exclude` globs with the semantics of `hf download` (huggingface_hub's
 * `filter_repo_objects`, which uses Python's `fnmatch`): `*` matches any characters *including* `/`,
 * `?` one character, `[abc]` / `[!abc]` a set; a pattern ending in `/` matches everything below that
 * folder. So `*.json` matches `onnx/config.json` too, as it does for `hf download`.
 *
 * npm's picomatch and minimatch implement shell globbing instead (`*` stops at `/`), which would make
 * the same command select different files in gpux and in `hf download`; this small translation to a
 * regular expression keeps them identical.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** Compiles one fnmatch pattern to an anchored regular expression. */
export function globToRegExp(pattern: string): RegExp {
  const source = pattern.endsWith("/") ? pattern + "*" : pattern;
  let out = "";
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "*") out += ".*";
    else if (c === "?") out += ".";
    else if (c === "[") {
      const close = source.indexOf("]", i + 2);
      if (close === -1) {
        out += "\\[";
        continue;
      }
      let set = source.slice(i + 1, close);
      const negate = set.startsWith("!");
      if (negate) set = set.slice(1);
      set = set.replace(/\\/g, "\\\\").replace(/\^/g, "\\^");
      out += `[${negate ? "^" : ""}${set}]`;
      i = close;
    } else out += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  try {
    return new RegExp(`^${out}$`, "s");
  } catch (e) {
    throw new InputError(`invalid glob '${pattern}': ${(e as Error).message}`);
  }
}

/**
 * Keeps the items whose path matches one of `include` (all, when `include` is empty or absent)
 * and none of `exclude`.
 *
 * @example
 * ```ts
 * filterPaths([{ path: "onnx/model.onnx" }, { path: "config.json" }], ["*.json"], []); // [{ path: "config.json" }]
 * ```
 */
export function filterPaths<T extends { path: string }>(
  items: readonly T[],
  include?: string[],
  exclude?: string[],
): T[] {
  const inc = (include ?? []).map(globToRegExp);
  const exc = (exclude ?? []).map(globToRegExp);
  return items.filter((item) =>
    (inc.length === 0 || inc.some((re) => re.test(item.path))) && !exc.some((re) => re.test(item.path))
  );
}
