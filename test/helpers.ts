import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConversionError, formatDiagnostic } from "../schema/diagnostics";
import { loadFile, type LoadOptions, type LoadResult } from "../schema/load";

/** Writes `files` into a fresh project directory and returns its path. */
export function project(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-test-"));
  for (const [name, contents] of Object.entries(files)) {
    const target = path.join(dir, name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, contents);
  }
  return dir;
}

/** Loads `compose.yaml` text from a fresh project holding `extra` files too. */
export function loadCompose(text: string, extra: Record<string, string> = {}, options: LoadOptions = {}): LoadResult {
  const dir = project({ "compose.yaml": text, ...extra });
  return loadFile(path.join(dir, "compose.yaml"), { env: {}, ...options });
}

/** The formatted diagnostics a load fails with, with the temp directory cut to the file name. */
export function errorsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (e) {
    if (e instanceof ConversionError) return e.errors.map((d) => formatDiagnostic({ ...d, file: path.basename(d.file) }));
    throw e;
  }
  throw new Error("expected the load to fail");
}

export function warningsOf(result: LoadResult): string[] {
  return result.warnings.map((d) => formatDiagnostic({ ...d, file: path.basename(d.file) }));
}
