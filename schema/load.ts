// Entry points of the input model: a file (Compose or i2kit service.yml,
// detected from its content), text, or typed arguments all become a
// validated AppSpec plus the warnings met on the way.
import * as fs from "node:fs";
import * as path from "node:path";
import { nodeProjectFiles, type ProjectFiles } from "./compose/context";
import { readCompose } from "./compose/load";
import { ConversionError, Reporter, sortDiagnostics, type Diagnostic, type DocPath } from "./diagnostics";
import { parseDotenv } from "./dotenv";
import { interpolateTree, type Environment } from "./interpolate";
import { isPlainObject } from "./values";
import { readManifest } from "./manifest/load";
import { AppSchema, type AppSpec, type AppSpecInput } from "./spec";
import { parseYaml } from "./yaml";

export type InputFormat = "compose" | "manifest";

export interface LoadOptions {
  /** Variables for Compose interpolation; the process environment when absent. */
  env?: Environment;
  profiles?: readonly string[];
  projectName?: string;
  /** App name when the file names none, instead of its directory's name (for YAML given as text). */
  fallbackName?: string;
  files?: ProjectFiles;
}

export interface LoadResult {
  app: AppSpec;
  format: InputFormat;
  warnings: Diagnostic[];
}

/** Loads a Compose file or an i2kit service.yml from disk. */
export function loadFile(file: string, options: LoadOptions = {}): LoadResult {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message;
    throw new ConversionError([{ severity: "error", file, line: 1, col: 1, path: "", message: `cannot read the file: ${reason}` }]);
  }
  return loadText(text, file, options);
}

/** Loads YAML text; `file` names it in diagnostics and anchors relative paths. */
export function loadText(text: string, file: string, options: LoadOptions = {}): LoadResult {
  const files = options.files ?? nodeProjectFiles;
  const projectDir = path.dirname(path.resolve(file));
  const displayName = path.relative(process.cwd(), path.resolve(file)) || file;
  const source = parseYaml(text, displayName);
  const format = detectFormat(source.value);
  const report = new Reporter(source);

  if (format === "manifest") {
    const service = readManifest(source.value, report);
    report.throwIfErrors();
    const name = service?.name ?? "app";
    return finish({ name, projectDir, services: service ? [service] : [] }, report, format, (i) => (i.length <= 2 ? [] : manifestPath(i)));
  }

  const env = composeEnvironment(projectDir, options.env ?? process.env, files, report);
  const interpolated = interpolateTree(source.value, env);
  for (const issue of interpolated.issues) report.add(issue.severity, issue.path, issue.message);
  const app = readCompose(interpolated.value, report, {
    env,
    projectDir,
    files,
    ...(options.profiles ? { profiles: options.profiles } : {}),
    ...(options.projectName ? { projectName: options.projectName } : {}),
    ...(options.fallbackName ? { fallbackName: options.fallbackName } : {}),
  });
  report.throwIfErrors();
  const names = (app?.services ?? []).map((s) => s.name);
  return finish({ name: app?.name ?? "app", projectDir, services: app?.services ?? [] }, report, format, (issuePath) => {
    const index = issuePath[1];
    return typeof index === "number" && names[index] !== undefined ? ["services", names[index] as string] : [];
  });
}

/** Validates typed arguments (from a Pulumi program) into an AppSpec. */
export function defineApp(input: AppSpecInput, where = "<arguments>"): AppSpec {
  const parsed = AppSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const diagnostics: Diagnostic[] = parsed.error.issues.map((issue) => ({
    severity: "error",
    file: where,
    line: 0,
    col: 0,
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
  throw new ConversionError(diagnostics);
}

function detectFormat(document: unknown): InputFormat {
  if (isPlainObject(document) && "containers" in document && !("services" in document)) return "manifest";
  return "compose";
}

/** `.env` beside the Compose file fills in what the process environment does not set. */
function composeEnvironment(projectDir: string, processEnv: Environment, files: ProjectFiles, report: Reporter): Environment {
  const dotenvPath = path.join(projectDir, ".env");
  if (files.kind(dotenvPath) !== "file") return processEnv;
  const parsed = parseDotenv(files.readText(dotenvPath), path.relative(process.cwd(), dotenvPath) || ".env", processEnv);
  report.addAll(parsed.diagnostics);
  return { ...parsed.values, ...definedOnly(processEnv) };
}

function definedOnly(env: Environment): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** Paths of the AppSpec (`services.0.containers.1.name`) back to the manifest (`containers`). */
function manifestPath(issuePath: DocPath): DocPath {
  return issuePath[2] === "containers" ? ["containers"] : [];
}

function finish(input: AppSpecInput, report: Reporter, format: InputFormat, toDocPath: (issuePath: DocPath) => DocPath): LoadResult {
  const parsed = AppSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const issuePath = issue.path.filter((p): p is string | number => typeof p !== "symbol");
      const field = issuePath.slice(issuePath[0] === "services" ? 2 : 0).join(".");
      report.error(toDocPath(issuePath), `${field === "" ? "" : `${field}: `}${issue.message}`);
    }
  }
  report.throwIfErrors();
  return { app: parsed.data as AppSpec, format, warnings: sortDiagnostics(report.diagnostics) };
}

