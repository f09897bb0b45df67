// Diagnostics name the file, line, column and the path in the document of
// every problem, so a user can jump straight to it from a terminal or CI log.

export type PathSegment = string | number;
export type DocPath = readonly PathSegment[];

export type Severity = "error" | "warning";

export interface Position {
  line: number;
  col: number;
}

export interface Diagnostic {
  severity: Severity;
  file: string;
  line: number;
  col: number;
  /** Dotted path in the document, e.g. `services.web.ports[1]`. */
  path: string;
  message: string;
}

/** `["services", "web", "ports", 1]` → `services.web.ports[1]`. */
export function formatPath(path: DocPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? segment : `.${segment}`;
  }
  return out;
}

/** `compose.yaml:14:9: services.web.ports[1]: "80:abc" is not a valid port mapping` */
export function formatDiagnostic(d: Diagnostic): string {
  // Typed arguments have no lines: line 0 means "not from a file".
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  const tag = d.severity === "warning" ? " warning:" : "";
  const path = d.path === "" ? "" : ` ${d.path}:`;
  return `${where}:${tag}${path} ${d.message}`;
}

/** The one error type the loaders throw: it carries every error found, and the warnings seen before. */
export class ConversionError extends Error {
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === "error");
    super(errors.map(formatDiagnostic).join("\n"));
    this.name = "ConversionError";
    this.diagnostics = diagnostics;
  }

  get errors(): Diagnostic[] {
    return this.diagnostics.filter((d) => d.severity === "error");
  }

  get warnings(): Diagnostic[] {
    return this.diagnostics.filter((d) => d.severity === "warning");
  }
}

/** Something that can tell where a path of the document stands in its file. */
export interface Locator {
  readonly file: string;
  locate(path: DocPath): Position;
}

/**
 * Collects diagnostics for one file while a loader walks it, so that every
 * error is reported at once instead of the first one only.
 */
export class Reporter {
  private readonly items: Diagnostic[] = [];

  constructor(private readonly locator: Locator) {}

  get file(): string {
    return this.locator.file;
  }

  error(path: DocPath, message: string): void {
    this.add("error", path, message);
  }

  warn(path: DocPath, message: string): void {
    this.add("warning", path, message);
  }

  add(severity: Severity, path: DocPath, message: string): void {
    const { line, col } = this.locator.locate(path);
    this.items.push({ severity, file: this.locator.file, line, col, path: formatPath(path), message });
  }

  /** Adds diagnostics already located elsewhere (for example in an env_file). */
  addAll(diagnostics: readonly Diagnostic[]): void {
    this.items.push(...diagnostics);
  }

  get diagnostics(): readonly Diagnostic[] {
    return this.items;
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }

  /** Throws every diagnostic collected so far when any of them is an error. */
  throwIfErrors(): void {
    if (this.hasErrors) throw new ConversionError(sortDiagnostics(this.items));
  }
}

export function sortDiagnostics(items: readonly Diagnostic[]): Diagnostic[] {
  return [...items].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}
