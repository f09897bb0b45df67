// `build`: a context path or the long syntax. The image is built and pushed
// at deploy time; only what the build needs is kept.
import * as path from "node:path";
import type { BuildSpec } from "../spec";
import { describe, isStringList, type ServiceContext } from "./context";

const IGNORED_BUILD_KEYS = ["cache_from", "cache_to", "labels", "no_cache", "pull", "network", "shm_size", "tags", "extra_hosts", "isolation", "privileged", "ulimits", "provenance", "sbom", "entitlements"];

export function transformBuild(value: unknown, platform: unknown, ctx: ServiceContext): BuildSpec | undefined {
  if (value === undefined) return undefined;
  const at = [...ctx.path, "build"];
  const long = typeof value === "string" ? { context: value } : value;
  if (typeof long !== "object" || long === null || Array.isArray(long)) {
    ctx.report.error(at, `must be a context path or a mapping, not ${describe(value)}`);
    return undefined;
  }
  const b = long as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (IGNORED_BUILD_KEYS.includes(key)) ctx.report.warn([...at, key], `build.${key} is ignored`);
    else if (["ssh", "secrets", "additional_contexts", "dockerfile_inline"].includes(key)) ctx.report.error([...at, key], `build.${key} is not supported yet`);
    else if (!["context", "dockerfile", "target", "args", "platforms"].includes(key) && !key.startsWith("x-")) ctx.report.error([...at, key], `unknown key "${key}" in build`);
  }
  const context = b.context ?? ".";
  if (typeof context !== "string") {
    ctx.report.error([...at, "context"], `${describe(context)} is not a path`);
    return undefined;
  }
  if (/^[a-z]+:\/\//.test(context) || context.startsWith("git@")) {
    ctx.report.error([...at, "context"], `remote build context ${context} is not supported: check it out beside the Compose file`);
    return undefined;
  }
  const args: Record<string, string> = {};
  if (Array.isArray(b.args)) {
    for (const entry of b.args) {
      if (typeof entry !== "string") continue;
      const eq = entry.indexOf("=");
      if (eq === -1) {
        const inherited = ctx.env[entry];
        if (inherited !== undefined) args[entry] = inherited;
      } else args[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
  } else if (typeof b.args === "object" && b.args !== null) {
    for (const [k, v] of Object.entries(b.args)) if (v !== null && v !== undefined) args[k] = String(v);
  }
  const spec: BuildSpec = { context: path.posix.normalize(context.split(path.sep).join("/")), args };
  if (typeof b.dockerfile === "string") spec.dockerfile = b.dockerfile;
  if (typeof b.target === "string") spec.target = b.target;
  const platforms = isStringList(b.platforms) ? b.platforms : [];
  const chosen = typeof platform === "string" ? platform : platforms[0];
  if (chosen !== undefined) spec.platform = chosen;
  return spec;
}
