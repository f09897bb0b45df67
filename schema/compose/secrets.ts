// `secrets`, top level and per service. A secret's value never enters the
// spec: only where it comes from (a file, a variable, or a secret that
// already exists in AWS) and where the container reads it.
import type { DocPath, Reporter } from "../diagnostics";
import type { SecretMount, SecretSpec } from "../spec";
import { describe, type ServiceContext } from "./context";

export function transformTopLevelSecrets(value: unknown, report: Reporter): Map<string, SecretSpec> {
  const secrets = new Map<string, SecretSpec>();
  if (value === undefined || value === null) return secrets;
  if (typeof value !== "object" || Array.isArray(value)) {
    report.error(["secrets"], `must be a mapping, not ${describe(value)}`);
    return secrets;
  }
  for (const [name, definition] of Object.entries(value)) {
    const at: DocPath = ["secrets", name];
    const d = (definition ?? {}) as Record<string, unknown>;
    const external = d.external === true || d.external === "true";
    if (typeof d.file === "string") secrets.set(name, { name, source: { kind: "file", path: d.file } });
    else if (typeof d.environment === "string") secrets.set(name, { name, source: { kind: "environment", variable: d.environment } });
    else if (external) secrets.set(name, { name, source: { kind: "external", name: typeof d.name === "string" ? d.name : name } });
    else if (d.content !== undefined) report.error(at, "inline secret content would be baked into the image; use file, environment or external");
    else report.error(at, "a secret needs file, environment or external");
  }
  return secrets;
}

export function transformServiceSecrets(value: unknown, declared: ReadonlyMap<string, SecretSpec>, ctx: ServiceContext): SecretMount[] {
  if (value === undefined) return [];
  const at = [...ctx.path, "secrets"];
  if (!Array.isArray(value)) {
    ctx.report.error(at, `must be a list, not ${describe(value)}`);
    return [];
  }
  const mounts: SecretMount[] = [];
  value.forEach((entry, i) => {
    const where = [...at, i];
    const long = typeof entry === "string" ? { source: entry } : (entry as Record<string, unknown>);
    if (typeof long !== "object" || long === null || typeof long.source !== "string") {
      ctx.report.error(where, `${describe(entry)} is not a secret reference`);
      return;
    }
    const source = long.source;
    if (!declared.has(source)) {
      ctx.report.error(where, `secret "${source}" is not declared in the top-level secrets`);
      return;
    }
    const target = typeof long.target === "string" ? long.target : source;
    if (target.includes("..")) {
      ctx.report.error([...where, "target"], `secret target ${JSON.stringify(target)} may not contain ".."`);
      return;
    }
    const int = <T extends number | undefined>(key: string, fallback: T, octal = false): number | T => {
      const raw = long[key];
      if (raw === undefined) return fallback;
      const n = octal ? parseFileMode(raw) : typeof raw === "number" ? raw : Number(raw);
      if (!Number.isInteger(n) || n < 0) {
        ctx.report.error([...where, key], `${describe(raw)} is not a valid ${key}`);
        return fallback;
      }
      return n;
    };
    // Without uid, the file goes to the container's own user, whatever makes it so (user, or the image's USER).
    const uid = int("uid", undefined);
    const gid = int("gid", uid);
    mounts.push({ source, target, ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}), mode: int("mode", 0o400, true) });
  });
  return mounts;
}

/**
 * A file mode written `0440` in YAML arrives as the number 440 (YAML 1.2) or
 * 288 (YAML 1.1); a mode is always meant in octal, so digits 0-7 are read so.
 */
export function parseFileMode(raw: unknown): number {
  const text = String(raw).replace(/^0o/, "");
  if (/^[0-7]{1,4}$/.test(text)) return parseInt(text, 8);
  return typeof raw === "number" && Number.isInteger(raw) && raw <= 0o7777 ? raw : NaN;
}
