// Compose variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`,
// `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
// `${VAR+alt}` and `$$` for a literal dollar. Defaults nest
// (`${A:-${B:-x}}`) and are only evaluated when used, as in compose-go.
import type { DocPath } from "./diagnostics";
import { isPlainObject } from "./values";

export type Environment = Readonly<Record<string, string | undefined>>;

export interface InterpolationIssue {
  severity: "error" | "warning";
  message: string;
}

export interface InterpolationResult {
  value: string;
  issues: InterpolationIssue[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const OPERATORS = [":-", ":?", ":+", "-", "?", "+"] as const;
type Operator = (typeof OPERATORS)[number];

/** Interpolates one string. Never throws: problems come back as issues. */
export function interpolateString(input: string, env: Environment): InterpolationResult {
  const issues: InterpolationIssue[] = [];
  const value = expand(input, env, issues);
  return { value, issues };
}

function expand(input: string, env: Environment, issues: InterpolationIssue[]): string {
  let out = "";
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (ch !== "$") {
      out += ch;
      i += 1;
      continue;
    }
    const next = input[i + 1];
    if (next === "$") {
      out += "$";
      i += 2;
      continue;
    }
    if (next === "{") {
      const close = matchingBrace(input, i + 1);
      if (close === -1) {
        issues.push({ severity: "error", message: `invalid interpolation format in "${input}": missing "}"` });
        return out + input.slice(i);
      }
      out += expandBraced(input.slice(i + 2, close), input, env, issues);
      i = close + 1;
      continue;
    }
    const name = NAME.exec(input.slice(i + 1));
    if (name) {
      out += lookup(name[0], env, issues);
      i += 1 + name[0].length;
      continue;
    }
    // A lone `$` not followed by a name is kept, as Compose does.
    out += "$";
    i += 1;
  }
  return out;
}

function expandBraced(body: string, whole: string, env: Environment, issues: InterpolationIssue[]): string {
  const name = NAME.exec(body);
  if (!name) {
    issues.push({ severity: "error", message: `invalid interpolation format in "${whole}": "\${${body}}"` });
    return "";
  }
  const rest = body.slice(name[0].length);
  if (rest === "") return lookup(name[0], env, issues);
  const operator = OPERATORS.find((op) => rest.startsWith(op)) as Operator | undefined;
  if (!operator) {
    issues.push({ severity: "error", message: `invalid interpolation format in "${whole}": "\${${body}}"` });
    return "";
  }
  const argument = rest.slice(operator.length);
  const raw = env[name[0]];
  const isSet = raw !== undefined;
  const isNonEmpty = isSet && raw !== "";
  switch (operator) {
    case ":-":
      return isNonEmpty ? raw : expand(argument, env, issues);
    case "-":
      return isSet ? raw : expand(argument, env, issues);
    case ":+":
      return isNonEmpty ? expand(argument, env, issues) : "";
    case "+":
      return isSet ? expand(argument, env, issues) : "";
    case ":?":
    case "?": {
      const ok = operator === ":?" ? isNonEmpty : isSet;
      if (ok) return raw as string;
      const reason = expand(argument, env, issues);
      const what = operator === ":?" ? "missing a value" : "not set";
      issues.push({
        severity: "error",
        message: `required variable ${name[0]} is ${what}${reason === "" ? "" : `: ${reason}`}`,
      });
      return "";
    }
  }
}

function lookup(name: string, env: Environment, issues: InterpolationIssue[]): string {
  const value = env[name];
  if (value === undefined) {
    issues.push({ severity: "warning", message: `variable ${name} is not set; substituting an empty string` });
    return "";
  }
  return value;
}

/** Index of the `}` closing the `{` at `open`, counting nested `${…}`. */
function matchingBrace(input: string, open: number): number {
  let depth = 0;
  for (let i = open; i < input.length; i++) {
    const ch = input[i];
    if (ch === "{") depth += 1;
    else if (ch === "}") {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}

export interface TreeIssue extends InterpolationIssue {
  path: DocPath;
}

/**
 * Interpolates every string value of a parsed document (keys are left as
 * they are, as in Compose). `skip` leaves a subtree alone.
 */
export function interpolateTree(
  value: unknown,
  env: Environment,
  skip: (path: DocPath) => boolean = () => false,
): { value: unknown; issues: TreeIssue[] } {
  const issues: TreeIssue[] = [];
  const walk = (node: unknown, path: DocPath): unknown => {
    if (skip(path)) return node;
    if (typeof node === "string") {
      const result = interpolateString(node, env);
      for (const issue of result.issues) issues.push({ ...issue, path });
      return result.value;
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (isPlainObject(node)) {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) out[key] = walk(child, [...path, key]);
      return out;
    }
    return node;
  };
  return { value: walk(value, []), issues };
}

