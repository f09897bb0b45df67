// Zod issues become diagnostics at the path they name in the document.
import type { z } from "zod";
import type { DocPath, Reporter } from "./diagnostics";
import { describe } from "./values";

/** Reports every issue of `error`, found when parsing `input` that stands at `base` in the document. */
export function reportZodIssues(report: Reporter, base: DocPath, error: z.ZodError, input: unknown): void {
  for (const issue of error.issues) {
    const relative = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    const path = [...base, ...relative];
    if (issue.code === "unrecognized_keys") {
      // Point at each unknown key rather than at the mapping that holds it.
      for (const key of issue.keys) report.error([...path, key], `unknown key "${key}"`);
    } else if (issue.code === "invalid_type") {
      const value = valueAt(input, relative);
      report.error(path, value === undefined ? `is required (${issue.expected})` : `must be ${article(issue.expected)}, not ${describe(value)}`);
    } else {
      report.error(path, issue.message);
    }
  }
}

function valueAt(input: unknown, path: readonly (string | number)[]): unknown {
  let node = input;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

function article(expected: string): string {
  const names: Record<string, string> = { object: "a mapping", array: "a list", string: "a string", number: "a number", boolean: "true or false", int: "a whole number" };
  return names[expected] ?? expected;
}
