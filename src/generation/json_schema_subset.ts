/**
 * The part of JSON Schema that JSON mode can enforce while decoding, compiled to a small tree the
 * {@linkcode JsonMachine} walks: `type` (object, array, string, number, integer, boolean, null, or a list of
 * them), `properties`, `required`, `additionalProperties`, `enum`, `const`, `items`, `minItems`, `maxItems`,
 * and `anyOf` when its alternatives begin with different characters (a string or an object, not two objects).
 * Annotations (`title`, `description`, `default`, `examples`, `$schema`, `$id`, `$comment`) are ignored. Any
 * other keyword (`pattern`, `minLength`, `$ref`, `oneOf`, …) is refused with an {@linkcode InputError} naming
 * it, rather than silently not enforced.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** A compiled schema node. */
export type SchemaNode =
  | { kind: "any" }
  | {
    kind: "object";
    properties: Map<string, SchemaNode>;
    required: string[];
    /** The schema of keys not in `properties`, or false when they are not allowed. */
    additional: SchemaNode | false;
  }
  | { kind: "array"; items: SchemaNode; minItems: number; maxItems: number }
  | { kind: "string" }
  | { kind: "number"; integer: boolean }
  | { kind: "boolean" }
  | { kind: "null" }
  | { kind: "literal"; texts: string[] }
  | { kind: "union"; options: SchemaNode[] };

const ANNOTATIONS = new Set(["title", "description", "default", "examples", "$schema", "$id", "$comment"]);
const SUPPORTED = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "enum",
  "const",
  "items",
  "minItems",
  "maxItems",
  "anyOf",
]);
/** The deepest schema accepted (a guard against hostile input). */
const MAX_DEPTH = 32;

/** Any JSON value. */
export const ANY: SchemaNode = { kind: "any" };

function fail(path: string, message: string): never {
  throw new InputError(`JSON schema ${path || "(root)"}: ${message}`, {
    hint:
      "JSON mode enforces type, properties, required, additionalProperties, enum, const, items, minItems, maxItems and anyOf",
  });
}

/** The first characters a node's values can start with (for telling anyOf alternatives apart). */
export function startClasses(node: SchemaNode): Set<string> {
  switch (node.kind) {
    case "any":
      return new Set(["{", "[", '"', "n", "t", "f", "0"]);
    case "object":
      return new Set(["{"]);
    case "array":
      return new Set(["["]);
    case "string":
      return new Set(['"']);
    case "number":
      return new Set(["0"]);
    case "boolean":
      return new Set(["t", "f"]);
    case "null":
      return new Set(["n"]);
    case "literal":
      return new Set(node.texts.map((t) => /[-0-9]/.test(t[0]) ? "0" : t[0]));
    case "union":
      return new Set(node.options.flatMap((o) => [...startClasses(o)]));
  }
}

function union(options: SchemaNode[], path: string): SchemaNode {
  if (options.length === 1) return options[0];
  const seen = new Set<string>();
  for (const o of options) {
    for (const c of startClasses(o)) {
      if (seen.has(c)) {
        fail(path, `its alternatives overlap (two of them start with ${JSON.stringify(c === "0" ? "a digit" : c)})`);
      }
      seen.add(c);
    }
  }
  return { kind: "union", options };
}

function count(value: unknown, path: string, key: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) fail(path, `${key} must be an integer ≥ 0`);
  return value;
}

function compileAt(schema: unknown, path: string, depth: number): SchemaNode {
  if (depth > MAX_DEPTH) fail(path, `nested deeper than ${MAX_DEPTH} levels`);
  if (schema === true || (typeof schema === "object" && schema !== null && Object.keys(schema).length === 0)) {
    return ANY;
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) fail(path, "must be an object");
  const s = schema as Record<string, unknown>;
  const unsupported = Object.keys(s).filter((k) => !SUPPORTED.has(k) && !ANNOTATIONS.has(k));
  if (unsupported.length) {
    fail(path, `unsupported keyword${unsupported.length > 1 ? "s" : ""} ${unsupported.join(", ")}`);
  }
  if ("const" in s) return { kind: "literal", texts: [JSON.stringify(s.const)] };
  if ("enum" in s) {
    if (!Array.isArray(s.enum) || s.enum.length === 0) fail(path, "enum must be a non-empty list");
    return { kind: "literal", texts: [...new Set(s.enum.map((v) => JSON.stringify(v)))] };
  }
  if ("anyOf" in s) {
    if (!Array.isArray(s.anyOf) || s.anyOf.length === 0) fail(path, "anyOf must be a non-empty list");
    if ("type" in s) fail(path, "anyOf beside type is not supported: put the type in each alternative");
    return union(s.anyOf.map((o, i) => compileAt(o, `${path}/anyOf/${i}`, depth + 1)), path);
  }
  const types = s.type === undefined ? undefined : Array.isArray(s.type) ? s.type : [s.type];
  if (types === undefined) {
    if ("properties" in s || "required" in s || "additionalProperties" in s) return object(s, path, depth);
    if ("items" in s) return array(s, path, depth);
    return ANY;
  }
  const nodes: SchemaNode[] = [];
  for (const t of types) {
    if (t === "object") nodes.push(object(s, path, depth));
    else if (t === "array") nodes.push(array(s, path, depth));
    else if (t === "string") nodes.push({ kind: "string" });
    else if (t === "number" || t === "integer") {
      // number and integer together: number covers both
      const other = nodes.findIndex((n) => n.kind === "number");
      if (other >= 0) nodes[other] = { kind: "number", integer: false };
      else nodes.push({ kind: "number", integer: t === "integer" });
    } else if (t === "boolean") nodes.push({ kind: "boolean" });
    else if (t === "null") nodes.push({ kind: "null" });
    else fail(path, `unknown type ${JSON.stringify(t)}`);
  }
  if (nodes.length === 0) fail(path, "type must name at least one type");
  return union(nodes, path);
}

function object(s: Record<string, unknown>, path: string, depth: number): SchemaNode {
  const properties = new Map<string, SchemaNode>();
  const props = s.properties ?? {};
  if (typeof props !== "object" || props === null || Array.isArray(props)) fail(path, "properties must be an object");
  for (const [k, v] of Object.entries(props)) properties.set(k, compileAt(v, `${path}/properties/${k}`, depth + 1));
  const required = s.required ?? [];
  if (!Array.isArray(required) || !required.every((r) => typeof r === "string")) {
    fail(path, "required must be a list of names");
  }
  const extra = s.additionalProperties;
  const additional = extra === false
    ? false
    : extra === undefined || extra === true
    ? ANY
    : compileAt(extra, `${path}/additionalProperties`, depth + 1);
  if (additional === false) {
    const missing = required.filter((r) => !properties.has(r));
    if (missing.length) {
      fail(path, `required ${missing.join(", ")} not in properties while additionalProperties is false`);
    }
  }
  return { kind: "object", properties, required: [...new Set(required as string[])], additional };
}

function array(s: Record<string, unknown>, path: string, depth: number): SchemaNode {
  const items = s.items === undefined ? ANY : compileAt(s.items, `${path}/items`, depth + 1);
  const minItems = s.minItems === undefined ? 0 : count(s.minItems, path, "minItems");
  const maxItems = s.maxItems === undefined ? Infinity : count(s.maxItems, path, "maxItems");
  if (maxItems < minItems) fail(path, `maxItems ${maxItems} is below minItems ${minItems}`);
  return { kind: "array", items, minItems, maxItems };
}

/**
 * Compiles a JSON schema (the subset above) for JSON mode.
 *
 * @throws {InputError} a keyword JSON mode cannot enforce, or a malformed schema (the message names where).
 */
export function compileJsonSchema(schema: unknown): SchemaNode {
  return compileAt(schema, "", 0);
}

/** A node for "any JSON object" (OpenAI's `json_object`, Ollama's `format: "json"`). */
export function anyObject(): SchemaNode {
  return { kind: "object", properties: new Map(), required: [], additional: ANY };
}
