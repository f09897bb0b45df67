// `.env` and `env_file` parsing, as Compose reads them: `KEY=VALUE` lines,
// an optional `export ` prefix, `#` comments, single quotes taken literally,
// double quotes with escapes and line breaks, and `${VAR}` interpolation in
// unquoted and double-quoted values (from earlier lines, then `lookup`).
import type { Diagnostic } from "./diagnostics";
import { interpolateString, type Environment } from "./interpolate";

export interface DotenvResult {
  values: Record<string, string>;
  diagnostics: Diagnostic[];
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseDotenv(text: string, file: string, lookup: Environment = {}): DotenvResult {
  const values: Record<string, string> = {};
  const diagnostics: Diagnostic[] = [];
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const scope = (): Environment => ({ ...lookup, ...values });

  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    const raw = lines[index] ?? "";
    const line = raw.trimStart();
    if (line === "" || line.startsWith("#")) continue;
    const body = line.startsWith("export ") ? line.slice("export ".length).trimStart() : line;
    const eq = body.indexOf("=");
    const key = (eq === -1 ? body : body.slice(0, eq)).trim();
    const col = raw.length - line.length + 1;
    const fail = (message: string) =>
      diagnostics.push({ severity: "error", file, line: lineNo, col, path: key, message });
    if (!KEY.test(key)) {
      fail(`"${key}" is not a valid variable name`);
      continue;
    }
    if (eq === -1) {
      // A bare name takes its value from the environment, if any.
      const inherited = lookup[key];
      if (inherited !== undefined) values[key] = inherited;
      continue;
    }
    let rest = body.slice(eq + 1).trimStart();
    const quote = rest[0];
    if (quote === "'" || quote === '"') {
      // A quoted value may span lines until its closing quote.
      let collected = rest.slice(1);
      let end = closingQuote(collected, quote);
      while (end === -1 && index + 1 < lines.length) {
        index += 1;
        collected += "\n" + (lines[index] ?? "");
        end = closingQuote(collected, quote);
      }
      if (end === -1) {
        fail(`unterminated ${quote === "'" ? "single" : "double"}-quoted value`);
        continue;
      }
      const inner = collected.slice(0, end);
      if (quote === "'") values[key] = inner;
      else values[key] = expand(unescapeDouble(inner), scope(), file, lineNo, col, key, diagnostics);
      continue;
    }
    // Unquoted: an inline comment starts at ` #`.
    const comment = rest.search(/\s#/);
    if (comment !== -1) rest = rest.slice(0, comment);
    values[key] = expand(rest.trim(), scope(), file, lineNo, col, key, diagnostics);
  }
  return { values, diagnostics };
}

function closingQuote(text: string, quote: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\" && quote === '"') {
      i += 1;
      continue;
    }
    if (text[i] === quote) return i;
  }
  return -1;
}

function unescapeDouble(text: string): string {
  return text.replace(/\\([nrt"\\$])/g, (_, ch: string) => {
    switch (ch) {
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "$":
        return "$$";
      default:
        return ch;
    }
  });
}

function expand(
  value: string,
  env: Environment,
  file: string,
  line: number,
  col: number,
  key: string,
  diagnostics: Diagnostic[],
): string {
  const result = interpolateString(value, env);
  for (const issue of result.issues) {
    diagnostics.push({ severity: issue.severity, file, line, col, path: key, message: issue.message });
  }
  return result.value;
}
