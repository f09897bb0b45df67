// The Compose loader: parse with positions → interpolate → read each key
// through its transform → validate the result with zod. Every problem of
// the file is collected and reported at once.
import * as path from "node:path";
import type { DocPath, Reporter } from "../diagnostics";
import { normaliseCapability } from "../capabilities";
import type { Environment } from "../interpolate";
import { isPlainObject } from "../values";
import { parseListener } from "../manifest/ports";
import { XI2kitServiceSchema, XI2kitTopSchema, type XI2kitService, type XI2kitTop } from "../manifest/schema";
import type { ContainerSpec, Listener, LoadBalancerHealthCheck, SecretSpec, ServiceSpecInput } from "../spec";
import { reportZodIssues } from "../zod-report";
import { transformBuild } from "./build";
import { transformCommand } from "./command";
import { describe, isStringList, type ProjectFiles, type ServiceContext } from "./context";
import { transformDependsOn } from "./depends-on";
import { transformDeploy } from "./deploy";
import { transformEnvironment } from "./environment";
import { transformHealthcheck } from "./healthcheck";
import { transformSysctls, transformUlimits } from "./kernel";
import { SERVICE_KEYS, TOP_LEVEL_KEYS } from "./keys";
import { transformPorts, type PublishedPort } from "./ports";
import { transformServiceSecrets, transformTopLevelSecrets } from "./secrets";
import { transformVolumes } from "./volumes";

export interface ComposeOptions {
  /** Variables for interpolation; the `.env` file beside the Compose file fills in what is missing. */
  env: Environment;
  /** Active profiles; `COMPOSE_PROFILES` of `env` when absent. */
  profiles?: readonly string[];
  projectName?: string;
  /** Used instead of the directory's name when the file names no app. */
  fallbackName?: string;
  projectDir: string;
  files: ProjectFiles;
}

export interface ComposeApp {
  name: string;
  services: ServiceSpecInput[];
}

/** Reads an interpolated Compose document into service specs, reporting through `report`. */
export function readCompose(document: unknown, report: Reporter, options: ComposeOptions): ComposeApp | undefined {
  if (!isPlainObject(document)) {
    report.error([], `a Compose file is a mapping with a "services" key, not ${describe(document)}`);
    return undefined;
  }
  for (const [key, value] of Object.entries(document)) {
    if (key.startsWith("x-")) continue;
    const handling = TOP_LEVEL_KEYS[key];
    if (!handling) report.error([key], `unknown top-level key "${key}"`);
    else if (handling.kind === "ignored" && value !== undefined) report.warn([key], `${key} is ignored: ${handling.why}`);
    else if (handling.kind === "unsupported") report.error([key], `${key} cannot be honoured: ${handling.why}`);
  }
  const top = readTopSettings(document["x-i2kit"], report);
  const rawServices = document.services;
  if (!isPlainObject(rawServices)) {
    report.error(["services"], rawServices === undefined ? "a Compose file needs services" : `must be a mapping, not ${describe(rawServices)}`);
    return undefined;
  }
  const declaredVolumes = readTopVolumes(document.volumes, report);
  const secrets = transformTopLevelSecrets(document.secrets, report);
  const profiles = options.profiles ?? (options.env.COMPOSE_PROFILES ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  const active = new Set<string>();
  for (const [name, service] of Object.entries(rawServices)) {
    const serviceProfiles = isPlainObject(service) ? service.profiles : undefined;
    if (serviceProfiles !== undefined && !isStringList(serviceProfiles)) {
      report.error(["services", name, "profiles"], `must be a list of profile names, not ${describe(serviceProfiles)}`);
      continue;
    }
    if (!serviceProfiles || serviceProfiles.length === 0 || serviceProfiles.some((p) => profiles.includes(p) || profiles.includes("*"))) {
      active.add(name);
    } else {
      report.warn(["services", name, "profiles"], `service "${name}" is skipped: none of its profiles (${serviceProfiles.join(", ")}) is active`);
    }
  }
  const services: ServiceSpecInput[] = [];
  for (const name of active) {
    const ctx: ServiceContext = {
      report,
      path: ["services", name],
      serviceName: name,
      projectDir: options.projectDir,
      env: options.env,
      files: options.files,
    };
    const service = readService(rawServices[name], ctx, { active, declaredVolumes, secrets, top });
    if (service) services.push(service);
  }
  const name = appName(document.name, top.name, options);
  return { name, services };
}

function appName(topName: unknown, xName: string | undefined, options: ComposeOptions): string {
  const chosen = options.projectName ?? xName ?? (typeof topName === "string" ? topName : undefined) ?? options.fallbackName ?? path.basename(path.resolve(options.projectDir));
  // Compose's own normalisation, then '_' → '-' so the name is a DNS label.
  return chosen.toLowerCase().replace(/[^a-z0-9_-]/g, "").replace(/_/g, "-").replace(/^-+|-+$/g, "") || "app";
}

function readTopSettings(value: unknown, report: Reporter): XI2kitTop {
  if (value === undefined) return {};
  const parsed = XI2kitTopSchema.safeParse(value);
  if (!parsed.success) {
    reportZodIssues(report, ["x-i2kit"], parsed.error, value);
    return {};
  }
  return parsed.data;
}

function readTopVolumes(value: unknown, report: Reporter): Set<string> {
  const names = new Set<string>();
  if (value === undefined || value === null) return names;
  if (!isPlainObject(value)) {
    report.error(["volumes"], `must be a mapping, not ${describe(value)}`);
    return names;
  }
  for (const [name, definition] of Object.entries(value)) {
    names.add(name);
    if (!isPlainObject(definition)) continue;
    if (definition.external === true || definition.external === "true") {
      report.error(["volumes", name, "external"], `external volume "${name}" cannot be attached: i2kit keeps a stateful service's data on its own volume`);
    }
    for (const key of ["driver", "driver_opts"]) {
      if (definition[key] !== undefined) report.warn(["volumes", name, key], `volume ${key} is ignored: named volumes live on the VM's data disk`);
    }
  }
  return names;
}

interface AppScope {
  active: ReadonlySet<string>;
  declaredVolumes: ReadonlySet<string>;
  secrets: ReadonlyMap<string, SecretSpec>;
  top: XI2kitTop;
}

function readService(raw: unknown, ctx: ServiceContext, scope: AppScope): ServiceSpecInput | undefined {
  if (!isPlainObject(raw)) {
    ctx.report.error(ctx.path, `a service is a mapping, not ${describe(raw)}`);
    return undefined;
  }
  const at = (key: string): DocPath => [...ctx.path, key];
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith("x-")) continue;
    const handling = SERVICE_KEYS[key];
    if (!handling) ctx.report.error(at(key), `unknown key "${key}" in a service`);
    else if (handling.kind === "ignored" && value !== undefined && value !== null) ctx.report.warn(at(key), `${key} is ignored: ${handling.why}`);
    else if (handling.kind === "unsupported") ctx.report.error(at(key), `${key} cannot be honoured on a VM: ${handling.why}`);
  }
  const x = readServiceSettings(raw["x-i2kit"], ctx);
  checkNetworkMode(raw.network_mode, ctx);

  const user = typeof raw.user === "string" || typeof raw.user === "number" ? String(raw.user) : undefined;
  if (raw.user !== undefined && user === undefined) ctx.report.error(at("user"), `${describe(raw.user)} is not a user`);
  const secretMounts = transformServiceSecrets(raw.secrets, scope.secrets, ctx);
  const ports = transformPorts(raw.ports, raw.expose, ctx);
  const deploy = transformDeploy(raw, ctx);
  const healthcheck = transformHealthcheck(raw.healthcheck, ctx);
  const environment = transformEnvironment(raw.environment, raw.env_file, ctx);
  warnAboutSecretsInEnvironment(environment, ctx);
  if (raw.image !== undefined && (typeof raw.image !== "string" || raw.image === "")) ctx.report.error(at("image"), `${describe(raw.image)} is not an image reference`);
  if (typeof raw.platform === "string" && !/^linux\/(amd64|arm64)/.test(raw.platform)) {
    ctx.report.error(at("platform"), `platform "${raw.platform}" cannot run on an i2kit VM (linux/amd64 or linux/arm64)`);
  }
  if (raw.restart !== undefined) {
    ctx.report.warn(at("restart"), `restart: ${String(raw.restart)} is carried out by replacing the VM when its health check fails, not by restarting the container in place`);
  }

  const container: Partial<ContainerSpec> & { name: string } = {
    name: ctx.serviceName,
    environment,
    ports: uniquePorts([...ports.published.map((p) => ({ port: p.target, protocol: p.protocol })), ...ports.exposed]),
    mounts: transformVolumes(raw.volumes, raw.tmpfs, { ...ctx, declaredVolumes: scope.declaredVolumes, containerName: ctx.serviceName }),
    secrets: secretMounts,
    capAdd: capabilities(raw.cap_add, "cap_add", ctx),
    capDrop: capabilities(raw.cap_drop, "cap_drop", ctx),
    privileged: raw.privileged === true,
    readOnly: raw.read_only === true,
    noNewPrivileges: noNewPrivileges(raw.security_opt, ctx),
    sysctls: transformSysctls(raw.sysctls, ctx),
    ulimits: transformUlimits(raw.ulimits, ctx),
    annotations: { ...stringMap(raw.labels, "labels", ctx), ...stringMap(raw.annotations, "annotations", ctx) },
  };
  if (typeof raw.image === "string" && raw.image !== "") container.image = raw.image;
  const build = transformBuild(raw.build, raw.platform, ctx);
  if (build) container.build = build;
  if (!container.image && !build) ctx.report.error(ctx.path, "a service needs an image or a build");
  const command = transformCommand(raw.command, "command", ctx);
  if (command) container.command = command;
  const entrypoint = transformCommand(raw.entrypoint, "entrypoint", ctx);
  if (entrypoint) container.entrypoint = entrypoint;
  if (typeof raw.working_dir === "string") container.workingDir = raw.working_dir;
  if (user !== undefined) container.user = user;
  if (healthcheck) container.healthcheck = healthcheck;
  if (deploy.resources) container.resources = deploy.resources;
  if (typeof raw.oom_score_adj === "number") container.oomScoreAdj = raw.oom_score_adj;
  if (raw.privileged === true) ctx.report.warn(at("privileged"), "privileged: the container gets every capability and the VM's devices");

  const stateful = x.stateful ?? false;
  const replicas = x.replicas ?? deploy.replicas ?? 1;
  if (stateful && replicas > 1) {
    const where = x.replicas !== undefined ? ["x-i2kit", "replicas"] : raw.scale !== undefined ? ["scale"] : ["deploy", "replicas"];
    ctx.report.error([...ctx.path, ...where], "a stateful service runs exactly one replica");
  }
  const hasVolumes = (container.mounts ?? []).some((m) => m.type === "volume");
  if (hasVolumes && !stateful) {
    ctx.report.warn(at("volumes"), "named volumes live on each VM's own disk and are lost when it is replaced; set x-i2kit.stateful: true to keep them");
  }
  const service: ServiceSpecInput = {
    name: ctx.serviceName,
    containers: [container as ContainerSpec],
    replicas,
    public: x.public ?? scope.top.public ?? false,
    stateful,
    listeners: listeners(ports.published, x, scope.top, ctx),
    secrets: secretMounts.map((m) => scope.secrets.get(m.source)).filter((s): s is SecretSpec => s !== undefined),
    dependsOn: transformDependsOn(raw.depends_on, scope.active, ctx),
  };
  const instanceType = x.instance_type ?? scope.top.instance_type;
  if (instanceType) service.instanceType = instanceType;
  const healthCheck = loadBalancerHealthCheck(x, healthcheck);
  if (healthCheck) service.healthCheck = healthCheck;
  return service;
}

function readServiceSettings(value: unknown, ctx: ServiceContext): XI2kitService {
  if (value === undefined) return {};
  const parsed = XI2kitServiceSchema.safeParse(value);
  if (!parsed.success) {
    reportZodIssues(ctx.report, [...ctx.path, "x-i2kit"], parsed.error, value);
    return {};
  }
  return parsed.data;
}

function checkNetworkMode(value: unknown, ctx: ServiceContext): void {
  if (value === undefined || value === "host" || value === "bridge" || value === "default") return;
  ctx.report.error([...ctx.path, "network_mode"], `network_mode ${describe(value)} cannot be honoured on a VM: containers use the VM's network`);
}

function capabilities(value: unknown, key: string, ctx: ServiceContext): string[] {
  if (value === undefined) return [];
  if (!isStringList(value)) {
    ctx.report.error([...ctx.path, key], `must be a list of capability names, not ${describe(value)}`);
    return [];
  }
  const out: string[] = [];
  value.forEach((name, i) => {
    const cap = normaliseCapability(name);
    if (!cap) ctx.report.error([...ctx.path, key, i], `"${name}" is not a Linux capability`);
    else out.push(cap);
    if (cap === "ALL" && key === "cap_add") ctx.report.warn([...ctx.path, key, i], "cap_add: ALL grants every capability; list the ones the container needs");
  });
  return out;
}

function noNewPrivileges(value: unknown, ctx: ServiceContext): boolean {
  if (value === undefined) return true;
  if (!isStringList(value)) {
    ctx.report.error([...ctx.path, "security_opt"], `must be a list, not ${describe(value)}`);
    return true;
  }
  let result = true;
  value.forEach((option, i) => {
    const match = /^no-new-privileges(?:[:=](true|false))?$/.exec(option);
    if (match) result = match[1] !== "false";
    else ctx.report.warn([...ctx.path, "security_opt", i], `security option "${option}" is ignored: LinuxKit applies its default seccomp and no AppArmor or SELinux`);
  });
  return result;
}

function stringMap(value: unknown, key: string, ctx: ServiceContext): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined) return out;
  if (Array.isArray(value)) {
    for (const entry of value) {
      if (typeof entry !== "string") continue;
      const eq = entry.indexOf("=");
      out[eq === -1 ? entry : entry.slice(0, eq)] = eq === -1 ? "" : entry.slice(eq + 1);
    }
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) out[k] = v === null || v === undefined ? "" : String(v);
  } else ctx.report.error([...ctx.path, key], `must be a list or a mapping, not ${describe(value)}`);
  return out;
}

const SECRET_LIKE = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?)$/i;

function warnAboutSecretsInEnvironment(environment: Record<string, string>, ctx: ServiceContext): void {
  for (const [key, value] of Object.entries(environment)) {
    if (value !== "" && SECRET_LIKE.test(key)) {
      ctx.report.warn([...ctx.path, "environment", key], `${key} looks like a secret and would be baked into the VM image in clear; use a Compose secret`);
    }
  }
}

function uniquePorts(ports: { port: number; protocol: "tcp" | "udp" }[]): { port: number; protocol: "tcp" | "udp" }[] {
  const seen = new Set<string>();
  return ports
    .filter((p) => {
      const key = `${p.port}/${p.protocol}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

function listeners(published: PublishedPort[], x: XI2kitService, top: XI2kitTop, ctx: ServiceContext): Listener[] {
  if (x.ports) {
    const out: Listener[] = [];
    x.ports.forEach((text, i) => {
      const parsed = parseListener(text);
      if (typeof parsed === "string") ctx.report.error([...ctx.path, "x-i2kit", "ports", i], parsed);
      else out.push(parsed);
    });
    return out;
  }
  const protocol = x.protocol ?? top.protocol ?? "tcp";
  const certificate = x.certificate ?? top.certificate;
  const out: Listener[] = [];
  const seen = new Set<string>();
  for (const p of published) {
    const http = protocol === "http" || p.appProtocol === "http" || p.appProtocol === "https";
    let listener: Listener;
    if (p.protocol === "udp") listener = { protocol: "UDP", port: p.published, targetProtocol: "UDP", targetPort: p.target };
    else if (http) listener = { protocol: certificate ? "HTTPS" : "HTTP", port: p.published, targetProtocol: "HTTP", targetPort: p.target };
    else listener = { protocol: certificate ? "TLS" : "TCP", port: p.published, targetProtocol: "TCP", targetPort: p.target };
    if (certificate && listener.protocol !== "UDP") listener.certificateArn = certificate;
    const key = `${listener.port}/${p.protocol}`;
    if (seen.has(key)) {
      ctx.report.error([...ctx.path, "ports"], `port ${listener.port}/${p.protocol} is published twice`);
      continue;
    }
    seen.add(key);
    out.push(listener);
  }
  return out;
}

function loadBalancerHealthCheck(x: XI2kitService, healthcheck: ContainerSpec["healthcheck"]): LoadBalancerHealthCheck | undefined {
  const h = x.health_check;
  if (!h && !healthcheck) return undefined;
  const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(n)));
  const check: LoadBalancerHealthCheck = {
    intervalSeconds: h?.interval ?? clamp(healthcheck?.intervalSeconds ?? 30, 5, 300),
    timeoutSeconds: h?.timeout ?? clamp(healthcheck?.timeoutSeconds ?? 5, 2, 120),
    healthyThreshold: h?.healthy_threshold ?? 3,
    unhealthyThreshold: h?.unhealthy_threshold ?? clamp(healthcheck?.retries ?? 3, 2, 10),
  };
  if (h?.path) check.path = h.path;
  if (h?.port) check.port = h.port;
  // A load balancer check must time out before the next one starts.
  if (check.timeoutSeconds >= check.intervalSeconds) check.timeoutSeconds = Math.max(2, check.intervalSeconds - 1);
  return check;
}
