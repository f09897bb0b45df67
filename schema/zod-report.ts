// Zod issues become diagnostics at the path they name in the document.
import type { z } from "zod";
import type { DocPath, Reporter } from "./diagnostics";

export function reportZodIssues(report: Reporter, base: DocPath, error: z.ZodError): void {
  for (const issue of error.issues) {
    const path = [...base, ...issue.path.filter((p): p is string | number => typeof p !== "symbol")];
    if (issue.code === "unrecognized_keys") {
      // Point at each unknown key rather than at the mapping that holds it.
      for (const key of issue.keys) report.error([...path, key], `unknown key "${key}"`);
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      report.error(path, `is required (${issue.expected})`);
    } else {
      report.error(path, issue.message);
    }
  }
}
