// `healthcheck`: the container's own check. A VM has no Docker engine to run
// it; its timing feeds the load balancer's health check instead.
import type { z } from "zod";
import type { HealthcheckSchema } from "../spec";
import { describe, isStringList, type ServiceContext } from "./context";
import { parseDuration } from "./units";

type Healthcheck = z.infer<typeof HealthcheckSchema>;

export function transformHealthcheck(value: unknown, ctx: ServiceContext): Healthcheck | undefined {
  if (value === undefined) return undefined;
  const at = [...ctx.path, "healthcheck"];
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    ctx.report.error(at, `must be a mapping, not ${describe(value)}`);
    return undefined;
  }
  const h = value as Record<string, unknown>;
  const known = ["test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"];
  for (const key of Object.keys(h)) {
    if (!known.includes(key) && !key.startsWith("x-")) ctx.report.error([...at, key], `unknown key "${key}" in healthcheck`);
  }
  if (h.disable === true || (isStringList(h.test) && h.test[0] === "NONE")) return undefined;
  let test: string[] | undefined;
  if (typeof h.test === "string") test = ["CMD-SHELL", h.test];
  else if (isStringList(h.test) && ["CMD", "CMD-SHELL"].includes(h.test[0] ?? "")) test = h.test;
  else if (h.test !== undefined) ctx.report.error([...at, "test"], `${describe(h.test)} is not a healthcheck test (a string, or a list starting with CMD or CMD-SHELL)`);
  const seconds = (key: string, fallback: number): number => {
    if (h[key] === undefined) return fallback;
    const s = parseDuration(h[key]);
    if (s === undefined) ctx.report.error([...at, key], `${describe(h[key])} is not a duration (e.g. 30s, 1m30s)`);
    return s ?? fallback;
  };
  const retries = h.retries === undefined ? 3 : Number(h.retries);
  if (!Number.isInteger(retries) || retries < 1) ctx.report.error([...at, "retries"], `${describe(h.retries)} is not a positive whole number`);
  if (!test) return undefined;
  ctx.report.warn(
    [...at, "test"],
    "the container's healthcheck command is not run on the VM; the load balancer health check decides instance health, with this interval, timeout and retries",
  );
  return {
    test,
    intervalSeconds: seconds("interval", 30),
    timeoutSeconds: seconds("timeout", 30),
    retries: Number.isInteger(retries) && retries > 0 ? retries : 3,
    startPeriodSeconds: seconds("start_period", 0),
  };
}
