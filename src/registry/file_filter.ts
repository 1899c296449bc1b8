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

/** One element of a compiled pattern: a character, `?`, a `[set]` or `*`. */
type GlobToken =
  | { kind: "char"; char: string }
  | { kind: "any" }
  | { kind: "set"; negate: boolean; ranges: [string, string][] }
  | { kind: "star" };

/** Parses an fnmatch pattern as Python's `fnmatch.translate` reads it (an unclosed `[` is a literal). */
function parseGlob(pattern: string): GlobToken[] {
  const chars = Array.from(pattern.endsWith("/") ? pattern + "*" : pattern);
  const tokens: GlobToken[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === "*") {
      if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" }); // `**` = `*`
    } else if (c === "?") tokens.push({ kind: "any" });
    else if (c === "[") {
      let j = i + 1;
      if (chars[j] === "!") j++;
      if (chars[j] === "]") j++; // a `]` first in the set is a member
      while (j < chars.length && chars[j] !== "]") j++;
      if (j >= chars.length) {
        tokens.push({ kind: "char", char: c });
        continue;
      }
      let body = chars.slice(i + 1, j);
      const negate = body[0] === "!";
      if (negate) body = body.slice(1);
      const ranges: [string, string][] = [];
      for (let k = 0; k < body.length; k++) {
        if (body[k + 1] === "-" && k + 2 < body.length) {
          ranges.push([body[k], body[k + 2]]);
          k += 2;
        } else ranges.push([body[k], body[k]]);
      }
      tokens.push({ kind: "set", negate, ranges });
      i = j;
    } else tokens.push({ kind: "char", char: c });
  }
  return tokens;
}

function tokenMatches(token: GlobToken, char: string): boolean {
  switch (token.kind) {
    case "char":
      return token.char === char;
    case "any":
      return true;
    case "set": {
      const inSet = token.ranges.some(([lo, hi]) => lo <= char && char <= hi);
      return inSet !== token.negate;
    }
    default:
      return false;
  }
}

/**
 * Compiles one fnmatch pattern to a matcher that runs in O(pattern × path) time whatever the pattern
 * (the two-pointer wildcard match: on a mismatch only the last `*` is moved forward), so `--include`
 * with thousands of `*` cannot hang a pull the way a backtracking regular expression would.
 *
 * @example
 * ```ts
 * globMatcher("*.onnx")("onnx/model.onnx"); // true: `*` matches `/` too, as in `hf download`
 * ```
 */
export function globMatcher(pattern: string): (path: string) => boolean {
  const tokens = parseGlob(pattern);
  return (path: string) => {
    const text = Array.from(path);
    let p = 0, t = 0, star = -1, resume = 0;
    while (t < text.length) {
      const token = tokens[p];
      if (token && token.kind !== "star" && tokenMatches(token, text[t])) {
        p++;
        t++;
      } else if (token?.kind === "star") {
        star = p++;
        resume = t;
      } else if (star >= 0) {
        p = star + 1;
        t = ++resume;
      } else return false;
    }
    while (tokens[p]?.kind === "star") p++;
    return p === tokens.length;
  };
}

/**
 * Compiles one fnmatch pattern to an anchored regular expression (runs of `*` collapsed). A regular
 * expression backtracks: for patterns from untrusted input prefer {@linkcode globMatcher}.
 */
export function globToRegExp(pattern: string): RegExp {
  let out = "";
  for (const token of parseGlob(pattern)) {
    if (token.kind === "star") out += ".*";
    else if (token.kind === "any") out += ".";
    else if (token.kind === "char") out += token.char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    else {
      const esc = (c: string) => c.replace(/[\]\\^-]/g, "\\$&");
      out += `[${token.negate ? "^" : ""}${
        token.ranges.map(([a, b]) => a === b ? esc(a) : `${esc(a)}-${esc(b)}`).join("")
      }]`;
    }
  }
  try {
    return new RegExp(`^${out}$`, "su");
  } catch (e) {
    throw new InputError(`invalid glob '${pattern}': ${(e as Error).message}`, {
      hint: "globs take * (any characters, / included), ? (one character) and [abc]; quote them for the shell",
    });
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
  const inc = (include ?? []).map(globMatcher);
  const exc = (exclude ?? []).map(globMatcher);
  return items.filter((item) =>
    (inc.length === 0 || inc.some((matches) => matches(item.path))) && !exc.some((matches) => matches(item.path))
  );
}
