// `deploy` and the older resource keys (`mem_limit`, `cpus`, …): replicas
// and the container's resource limits. What a VM group cannot honour is
// reported by name.
import type { z } from "zod";
import type { ResourcesSchema } from "../spec";
import { describe, type ServiceContext } from "./context";
import { parseBytes } from "./units";

type Resources = z.infer<typeof ResourcesSchema>;

export interface DeployResult {
  replicas?: number;
  resources?: Resources;
}

const IGNORED_DEPLOY_KEYS: Record<string, string> = {
  update_config: "updates roll out through the Auto Scaling group's instance refresh",
  rollback_config: "a failed instance refresh rolls back through the Auto Scaling group",
  placement: "each service runs in its own Auto Scaling group",
  endpoint_mode: "services are reached through their load balancer",
  labels: "service labels have no VM counterpart",
  restart_policy: "the Auto Scaling group replaces an instance whose health check fails",
};

export function transformDeploy(service: Record<string, unknown>, ctx: ServiceContext): DeployResult {
  const result: DeployResult = {};
  const resources: Resources = {};
  const deploy = service.deploy;
  const at = [...ctx.path, "deploy"];
  if (deploy !== undefined && deploy !== null) {
    if (typeof deploy !== "object" || Array.isArray(deploy)) ctx.report.error(at, `must be a mapping, not ${describe(deploy)}`);
    else {
      const d = deploy as Record<string, unknown>;
      for (const key of Object.keys(d)) {
        if (key in IGNORED_DEPLOY_KEYS) ctx.report.warn([...at, key], `deploy.${key} is ignored: ${IGNORED_DEPLOY_KEYS[key]}`);
        else if (!["replicas", "resources", "mode"].includes(key) && !key.startsWith("x-")) ctx.report.error([...at, key], `unknown key "${key}" in deploy`);
      }
      if (d.mode !== undefined && d.mode !== "replicated") {
        ctx.report.error([...at, "mode"], `deploy.mode ${describe(d.mode)} cannot be honoured: a service is a replicated VM group`);
      }
      if (d.replicas !== undefined) result.replicas = wholeNumber(d.replicas, [...at, "replicas"], ctx);
      readResources(d.resources, [...at, "resources"], resources, ctx);
    }
  }
  if (service.scale !== undefined) result.replicas = wholeNumber(service.scale, [...ctx.path, "scale"], ctx);
  const legacy: [string, keyof Resources, (v: unknown) => number | undefined][] = [
    ["mem_limit", "memoryLimitBytes", parseBytes],
    ["mem_reservation", "memoryReservationBytes", parseBytes],
    ["cpus", "cpuLimit", parseCpus],
    ["pids_limit", "pidsLimit", (v) => (Number.isInteger(Number(v)) && Number(v) > 0 ? Number(v) : undefined)],
  ];
  for (const [key, field, parse] of legacy) {
    if (service[key] === undefined) continue;
    const value = parse(service[key]);
    if (value === undefined) ctx.report.error([...ctx.path, key], `${describe(service[key])} is not a valid ${key}`);
    else resources[field] = value;
  }
  if (Object.keys(resources).length > 0) result.resources = resources;
  return result;
}

function wholeNumber(value: unknown, at: (string | number)[], ctx: ServiceContext): number | undefined {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n === "number" && Number.isInteger(n) && n >= 0) return n;
  ctx.report.error(at, `${describe(value)} is not a whole number`);
  return undefined;
}

function parseCpus(value: unknown): number | undefined {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined;
}

function readResources(value: unknown, at: (string | number)[], into: Resources, ctx: ServiceContext): void {
  if (value === undefined || value === null) return;
  if (typeof value !== "object" || Array.isArray(value)) {
    ctx.report.error(at, `must be a mapping, not ${describe(value)}`);
    return;
  }
  const r = value as Record<string, unknown>;
  for (const [section, limits] of Object.entries(r)) {
    if (section !== "limits" && section !== "reservations") {
      ctx.report.error([...at, section], `unknown key "${section}" in deploy.resources`);
      continue;
    }
    const l = (limits ?? {}) as Record<string, unknown>;
    for (const [key, v] of Object.entries(l)) {
      const where = [...at, section, key];
      if (key === "memory") {
        const bytes = parseBytes(v);
        if (bytes === undefined) ctx.report.error(where, `${describe(v)} is not a size`);
        else into[section === "limits" ? "memoryLimitBytes" : "memoryReservationBytes"] = bytes;
      } else if (key === "cpus") {
        const cpus = parseCpus(v);
        if (cpus === undefined) ctx.report.error(where, `${describe(v)} is not a number of CPUs`);
        else into[section === "limits" ? "cpuLimit" : "cpuReservation"] = cpus;
      } else if (key === "pids" && section === "limits") {
        const n = Number(v);
        if (Number.isInteger(n) && n > 0) into.pidsLimit = n;
        else ctx.report.error(where, `${describe(v)} is not a positive whole number`);
      } else if (key === "devices" || key === "generic_resources") {
        ctx.report.error(where, `deploy.resources.${section}.${key} (GPUs and devices) cannot be honoured yet: pick an instance type with the device through x-i2kit.instance_type`);
      } else {
        ctx.report.error(where, `unknown key "${key}" in deploy.resources.${section}`);
      }
    }
  }
}
