// `command` and `entrypoint`: a list is taken as it is; a string is split
// into words like a shell would, without expanding anything.
import { parse as parseShellWords } from "shell-quote";
import type { DocPath } from "../diagnostics";
import { describe, isStringList, type ServiceContext } from "./context";

/** Splits `echo "a b" c` into `["echo", "a b", "c"]`; undefined when it holds shell operators or bad syntax. */
export function splitCommand(text: string): string[] | undefined {
  let words: ReturnType<typeof parseShellWords>;
  try {
    // Keep `$VAR` literal: the container's shell, if any, expands it.
    words = parseShellWords(text, (name) => `$${name}`);
  } catch {
    // shell-quote throws on a malformed `${…}`.
    return undefined;
  }
  const out: string[] = [];
  for (const word of words) {
    if (typeof word === "string") out.push(word);
    else if ("comment" in word) break;
    else return undefined;
  }
  return out;
}

export function transformCommand(value: unknown, key: "command" | "entrypoint", ctx: ServiceContext): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const at: DocPath = [...ctx.path, key];
  if (isStringList(value)) return value;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (typeof item !== "string") ctx.report.error([...at, i], `${describe(item)} is not a string`);
    });
    return undefined;
  }
  if (typeof value !== "string") {
    ctx.report.error(at, `must be a string or a list of strings, not ${describe(value)}`);
    return undefined;
  }
  const words = splitCommand(value);
  if (!words) {
    ctx.report.error(at, `${JSON.stringify(value)} holds shell operators or unbalanced syntax; write it as a list, e.g. ["sh", "-c", "…"]`);
    return undefined;
  }
  return words;
}
