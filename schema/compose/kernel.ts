// `sysctls` (list or map) and `ulimits` (a number, or soft/hard).
import { describe, type ServiceContext } from "./context";

export function transformSysctls(value: unknown, ctx: ServiceContext): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined) return out;
  const at = [...ctx.path, "sysctls"];
  if (Array.isArray(value)) {
    value.forEach((entry, i) => {
      const eq = typeof entry === "string" ? entry.indexOf("=") : -1;
      if (typeof entry !== "string" || eq <= 0) ctx.report.error([...at, i], `${describe(entry)} is not a name=value sysctl`);
      else out[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim();
    });
  } else if (typeof value === "object" && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (["string", "number", "boolean"].includes(typeof v)) out[key] = String(v);
      else ctx.report.error([...at, key], `${describe(v)} is not a sysctl value`);
    }
  } else ctx.report.error(at, `must be a list or a mapping, not ${describe(value)}`);
  return out;
}

/** Limits LinuxKit (runc) knows, as Compose names them. */
export const ULIMIT_NAMES = ["core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", "as"];

export function transformUlimits(value: unknown, ctx: ServiceContext): Record<string, { soft: number; hard: number }> {
  const out: Record<string, { soft: number; hard: number }> = {};
  if (value === undefined) return out;
  const at = [...ctx.path, "ulimits"];
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    ctx.report.error(at, `must be a mapping, not ${describe(value)}`);
    return out;
  }
  for (const [name, limit] of Object.entries(value)) {
    const where = [...at, name];
    if (!ULIMIT_NAMES.includes(name)) {
      ctx.report.error(where, `"${name}" is not a ulimit (${ULIMIT_NAMES.join(", ")})`);
      continue;
    }
    const single = typeof limit === "number" || typeof limit === "string" ? Number(limit) : undefined;
    const l = (typeof limit === "object" && limit !== null ? limit : {}) as Record<string, unknown>;
    const soft = single ?? Number(l.soft);
    const hard = single ?? Number(l.hard);
    if (!Number.isInteger(soft) || !Number.isInteger(hard) || soft > hard) {
      ctx.report.error(where, `${describe(limit)} is not a ulimit (a number, or soft and hard with soft <= hard)`);
      continue;
    }
    out[name] = { soft, hard };
  }
  return out;
}
