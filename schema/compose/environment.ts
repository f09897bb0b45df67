// `environment` (list or map) and `env_file` (string, list, or long syntax
// with `required`): the container's variables, env_file first and
// `environment` winning, as in Compose.
import * as path from "node:path";
import { parseDotenv } from "../dotenv";
import { describe, type ServiceContext } from "./context";

export function transformEnvironment(environment: unknown, envFile: unknown, ctx: ServiceContext): Record<string, string> {
  const result: Record<string, string> = {};
  if (envFile !== undefined) Object.assign(result, readEnvFiles(envFile, ctx));
  if (environment === undefined) return result;
  const at = [...ctx.path, "environment"];
  if (Array.isArray(environment)) {
    environment.forEach((entry, i) => {
      if (typeof entry !== "string") {
        ctx.report.error([...at, i], `${describe(entry)} is not a KEY=VALUE entry`);
        return;
      }
      const eq = entry.indexOf("=");
      const key = eq === -1 ? entry : entry.slice(0, eq);
      if (!validKey(key)) {
        ctx.report.error([...at, i], `"${key}" is not a valid variable name`);
        return;
      }
      if (eq !== -1) result[key] = entry.slice(eq + 1);
      else inherit(key, result, ctx);
    });
  } else if (typeof environment === "object" && environment !== null) {
    for (const [key, value] of Object.entries(environment)) {
      if (!validKey(key)) ctx.report.error([...at, key], `"${key}" is not a valid variable name`);
      else if (value === null || value === undefined) inherit(key, result, ctx);
      else if (["string", "number", "boolean"].includes(typeof value)) result[key] = String(value);
      else ctx.report.error([...at, key], `${describe(value)} is not a variable value`);
    }
  } else {
    ctx.report.error(at, `must be a list or a mapping, not ${describe(environment)}`);
  }
  return result;
}

function validKey(key: string): boolean {
  return key !== "" && !/[\s=]/.test(key);
}

/** `- NAME` with no value takes NAME from the environment i2kit runs in; unset, it is left out. */
function inherit(key: string, into: Record<string, string>, ctx: ServiceContext): void {
  const value = ctx.env[key];
  if (value !== undefined) into[key] = value;
}

function readEnvFiles(envFile: unknown, ctx: ServiceContext): Record<string, string> {
  const at = [...ctx.path, "env_file"];
  const entries = typeof envFile === "string" ? [envFile] : envFile;
  const values: Record<string, string> = {};
  if (!Array.isArray(entries)) {
    ctx.report.error(at, `must be a path or a list, not ${describe(envFile)}`);
    return values;
  }
  entries.forEach((entry, i) => {
    const where = typeof envFile === "string" ? at : [...at, i];
    let file: unknown = entry;
    let required = true;
    if (typeof entry === "object" && entry !== null && !Array.isArray(entry)) {
      const long = entry as Record<string, unknown>;
      file = long.path;
      required = long.required !== false && long.required !== "false";
      if (long.format !== undefined && long.format !== "raw" && long.format !== "dotenv") {
        ctx.report.error([...where, "format"], `env_file format ${describe(long.format)} is not supported`);
      }
    }
    if (typeof file !== "string") {
      ctx.report.error(where, `${describe(entry)} is not an env_file path`);
      return;
    }
    const absolute = path.resolve(ctx.projectDir, file);
    if (ctx.files.kind(absolute) !== "file") {
      if (required) ctx.report.error(where, `env_file ${file} does not exist`);
      return;
    }
    const parsed = parseDotenv(ctx.files.readText(absolute), file, ctx.env);
    ctx.report.addAll(parsed.diagnostics);
    Object.assign(values, parsed.values);
  });
  return values;
}
