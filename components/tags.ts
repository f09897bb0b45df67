// Tags every i2kit resource carries, so an account's resources can be traced
// back to their app and service.

export function i2kitTags(app: string, service?: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "i2kit:app": app,
    ...(service ? { "i2kit:service": service } : {}),
    "managed-by": "i2kit",
    ...extra,
  };
}

/** AWS names are short: `<app>-<service>` trimmed to `max`, keeping a readable prefix. */
export function resourceName(parts: readonly string[], max = 32): string {
  const name = parts.filter(Boolean).join("-").toLowerCase().replace(/[^a-z0-9-]/g, "-");
  return name.length <= max ? name : name.slice(0, max).replace(/-+$/, "");
}
