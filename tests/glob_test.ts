/**
 * `--include`/`--exclude` globs: fnmatch semantics as `hf download` has them, matched in
 * O(pattern × path) time, so that thousands of `*` finish at once instead of backtracking forever.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { filterPaths, globMatcher, globToRegExp } from "../src/registry/file_filter.ts";

const PATHS = [
  "config.json",
  "onnx/model.onnx",
  "onnx/model_q4.onnx",
  "onnx/model.onnx_data",
  "tokenizer/vocab.txt",
  "a]b.txt",
  "[x].txt",
  "x-y.bin",
  "ü/ß.json",
];

Deno.test("globs: fnmatch semantics (`*` crosses `/`, ?, sets, negation, ranges, a trailing `/`), the same with globMatcher and globToRegExp", () => {
  const cases: [string, string[]][] = [
    ["*.json", ["config.json", "ü/ß.json"]],
    ["onnx/", ["onnx/model.onnx", "onnx/model_q4.onnx", "onnx/model.onnx_data"]],
    ["onnx/model?q4.onnx", ["onnx/model_q4.onnx"]],
    ["*.onnx", ["onnx/model.onnx", "onnx/model_q4.onnx"]],
    ["*[!a-z].onnx", ["onnx/model_q4.onnx"]],
    ["[]]*", []],
    ["a[]]b.txt", ["a]b.txt"]],
    ["[[]x].txt", ["[x].txt"]],
    ["x[-]y.bin", ["x-y.bin"]],
    ["[ü]/*", ["ü/ß.json"]],
    ["[unclosed", []],
    ["**", PATHS],
    ["*/*", PATHS.filter((p) => p.includes("/"))],
  ];
  for (const [pattern, expected] of cases) {
    assertEquals(PATHS.filter(globMatcher(pattern)), expected, `globMatcher(${pattern})`);
    const re = globToRegExp(pattern);
    assertEquals(PATHS.filter((p) => re.test(p)), expected, `globToRegExp(${pattern})`);
  }
  assertEquals(filterPaths(PATHS.map((path) => ({ path })), ["*.onnx*"], ["*_data"]).map((f) => f.path), [
    "onnx/model.onnx",
    "onnx/model_q4.onnx",
  ]);
});

Deno.test("globs: 5000 stars, and stars between letters, match in linear time (this hung before)", () => {
  const paths = [{ path: "a".repeat(60) }, { path: `${"a".repeat(59)}b` }, { path: "onnx/model.onnx" }];
  assertEquals(filterPaths(paths, ["*".repeat(5000) + "b"]).map((f) => f.path), [`${"a".repeat(59)}b`]);
  assertEquals(filterPaths(paths, ["*a".repeat(2500) + "*b"]).map((f) => f.path), []);
  assertEquals(filterPaths(paths, ["*a".repeat(30) + "*b"]).map((f) => f.path), [`${"a".repeat(59)}b`]);
  assertEquals(filterPaths(paths, undefined, ["*".repeat(5000)]), []);
  assert(globMatcher(`${"*?".repeat(5000)}`)("x".repeat(5000)));
});
