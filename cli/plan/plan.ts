// `i2kit plan`: what `pulumi up` would create for a Compose file or i2kit
// manifest, found by running the App component in-process under the mock
// monitor in preview mode. No Pulumi CLI, no cloud calls, no credentials:
// whatever only AWS or a registry could tell stays unknown.
import * as pulumi from "@pulumi/pulumi";
import { App } from "../../components/app";
import { instancePolicyStatements, type PolicyStatement } from "../../components/auto-scaling-group";
import { isPinned } from "../../components/image-reference";
import { logGroupName, secretId } from "../../components/linuxkit/agent";
import { renderApp, type RenderedConfig } from "../../components/linuxkit/render";
import { DEFAULT_LOG_RETENTION_DAYS, secretValue } from "../../components/service";
import { effectiveListeners } from "../../components/service-plan";
import type { Diagnostic } from "../../schema/diagnostics";
import { loadFile, type LoadOptions } from "../../schema/load";
import type { AppSpec, Listener, ServiceSpec } from "../../schema/spec";
import { settle, startRecording, UNKNOWN_RESULT, type Registration } from "./record";

export interface PlannedResource {
  type: string;
  name: string;
  parent: string | null;
  inputs: Record<string, unknown>;
}

export interface PlannedService {
  name: string;
  replicas: number;
  instanceType: string;
  public: boolean;
  stateful: boolean;
  loadBalancer: "application" | "network" | null;
  listeners: string[];
  containers: { name: string; image: string }[];
  dependsOn: string[];
  /** Hash of the config rendered with the images as written (pinning happens at deploy). */
  contentHash: string;
  /** The boot agent of the service's VMs: its secrets and where it ships the containers' output. */
  agent: { secrets: string[]; logGroup: string; retentionDays: number; attachesVolume: boolean };
  /** The instance role's statements, exactly; what only AWS knows is in [brackets]. */
  iam: PolicyStatement[];
}

export interface Finding {
  severity: "warning";
  resource?: string;
  message: string;
}

export interface Plan {
  file: string;
  app: string;
  resources: PlannedResource[];
  services: PlannedService[];
  warnings: string[];
  findings: Finding[];
  configs: RenderedConfig[];
}

/** Shown for values a preview cannot know yet, as Pulumi shows `output<string>`. */
export const UNKNOWN = "[unknown]";
export const SECRET = "[secret]";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Registered inputs as plain JSON: secrets masked, unknowns named, assets by path. */
export function presentInputs(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value === UNKNOWN_RESULT ? UNKNOWN : value;
  if (Array.isArray(value)) return value.map(presentInputs);
  const record = value as Record<string, unknown>;
  if (SECRET_SIG in record) return SECRET;
  if ("__pulumiUnknown" in record || pulumi.Output.isInstance(record)) return UNKNOWN;
  if (record.__pulumiAsset === true) return { asset: typeof record.path === "string" ? record.path : UNKNOWN };
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, presentInputs(v)]));
}

/** Data sources answer "unknown" offline: no region, zones, digests or VPC lookups. */
function offlineInvoke(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case "docker:index/getRegistryImage:getRegistryImage":
      return { name: inputs.name, sha256Digest: UNKNOWN_RESULT };
    case "aws:index/getAvailabilityZones:getAvailabilityZones":
      return { names: UNKNOWN_RESULT };
    case "aws:index/getRegion:getRegion":
      return { name: UNKNOWN_RESULT, region: UNKNOWN_RESULT };
    case "aws:ec2/getVpc:getVpc":
      return { cidrBlock: UNKNOWN_RESULT };
    case "aws:ec2/getSubnet:getSubnet":
      return { availabilityZone: UNKNOWN_RESULT };
    case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
      return { userName: UNKNOWN_RESULT, password: UNKNOWN_RESULT };
    case "aws:kms/getKey:getKey":
      return { arn: String(inputs.keyId).startsWith("arn:aws:kms:") ? inputs.keyId : UNKNOWN_RESULT };
    case "aws:secretsmanager/getSecret:getSecret":
      return { arn: UNKNOWN_RESULT };
    default:
      return {};
  }
}

export interface PlanOptions {
  load?: LoadOptions;
}

export async function planFile(file: string, options: PlanOptions = {}): Promise<Plan> {
  // Errors in the file surface here as a ConversionError, before anything runs.
  const loaded = loadFile(file, options.load);
  const app = loaded.app;
  const warnings = loaded.warnings.map((d: Diagnostic) => `${d.file}:${d.line}:${d.col}: ${d.path}: ${d.message}`);

  // Secret values are not needed to plan; say which ones `pulumi up` will not find.
  const secretValues: Record<string, pulumi.Input<string>> = {};
  for (const s of app.services.flatMap((x) => x.secrets)) {
    try {
      secretValue(s, app.projectDir, process.env);
    } catch (e) {
      warnings.push(`${(e as Error).message}: pulumi up will need it`);
    }
    secretValues[s.name] = pulumi.secret("planned");
  }

  const registrations = startRecording({ preview: true, invoke: offlineInvoke });
  await withoutStackTraces(async () => {
    new App(app.name, { spec: app, secretValues });
    await settle(registrations);
  });

  const configs = renderApp(app);
  return {
    file,
    app: app.name,
    resources: orderAsTree(registrations).map((r) => ({ type: r.type, name: r.name, parent: r.parent ?? null, inputs: presentInputs(r.inputs) as Record<string, unknown> })),
    services: plannedServices(app, configs),
    warnings: [...warnings, ...configs.flatMap((c) => c.warnings.map((w) => `${c.service}: ${w}`))],
    findings: findings(app, registrations, configs),
    configs,
  };
}

/**
 * The SDK captures a stack trace for every resource (its source position) and
 * every promise (to report leaks); offline, that is most of the time a plan
 * takes, and a plan needs neither. Capture none while the program runs.
 */
async function withoutStackTraces<T>(run: () => Promise<T>): Promise<T> {
  // A private static of the SDK: the one place it gathers a resource's stack.
  const resource = pulumi.Resource as unknown as { stackTrace: (skip: number) => unknown[] };
  // The SDK's promise wrapper, which records a stack and tracks every promise for leak reports.
  const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T> };
  const stackTraceLimit = Error.stackTraceLimit;
  const stackTrace = resource.stackTrace;
  const debuggablePromise = debuggable.debuggablePromise;
  Error.stackTraceLimit = 0;
  resource.stackTrace = () => [];
  debuggable.debuggablePromise = (p) => p;
  try {
    return await run();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    resource.stackTrace = stackTrace;
    debuggable.debuggablePromise = debuggablePromise;
  }
}

function plannedServices(app: AppSpec, configs: RenderedConfig[]): PlannedService[] {
  return app.services.map((s) => {
    const listeners = effectiveListeners(s);
    const http = listeners.length > 0 && listeners.every((l) => l.protocol === "HTTP" || l.protocol === "HTTPS");
    return {
      name: s.name,
      replicas: s.replicas,
      instanceType: s.instanceType,
      public: s.public,
      stateful: s.stateful,
      loadBalancer: listeners.length === 0 ? null : http ? "application" : "network",
      listeners: listeners.map(describeListener),
      containers: s.containers.map((c) => ({ name: c.name, image: c.image ?? `build:${c.build?.context ?? "."}` })),
      dependsOn: s.dependsOn.map((d) => d.service),
      contentHash: configs.find((c) => c.service === s.name)?.contentHash ?? "",
      agent: { secrets: s.secrets.map((x) => secretId(app.name, s.name, x)), logGroup: logGroupName(app.name, s.name), retentionDays: DEFAULT_LOG_RETENTION_DAYS, attachesVolume: s.stateful },
      iam: plannedStatements(app.name, s),
    };
  });
}

/** The statements AutoScalingGroup gives the instance role, with the ARNs AWS assigns written as patterns. */
function plannedStatements(app: string, s: ServiceSpec): PolicyStatement[] {
  const arn = (service: string, resource: string) => `arn:aws:${service}:[region]:[account]:${resource}`;
  return instancePolicyStatements({
    app,
    service: s.name,
    secretArns: s.secrets.map((x) => arn("secretsmanager", `secret:${secretId(app, s.name, x)}-[suffix]`)),
    logGroupArn: arn("logs", `log-group:${logGroupName(app, s.name)}`),
    ...(s.stateful ? { dataVolumeArn: arn("ec2", "volume/[volume id]") } : {}),
  });
}

export function describeListener(l: Listener): string {
  return `${l.protocol}:${l.port} → ${l.targetProtocol}:${l.targetPort}`;
}

/** Parents before children, siblings by type and name: the same plan always prints the same way. */
function orderAsTree(registrations: readonly Registration[]): Registration[] {
  const children = new Map<string | undefined, Registration[]>();
  for (const r of registrations) {
    const list = children.get(r.parent) ?? [];
    list.push(r);
    children.set(r.parent, list);
  }
  const out: Registration[] = [];
  const visit = (parent: string | undefined) => {
    const list = (children.get(parent) ?? []).sort((a, b) => Number(a.custom) - Number(b.custom) || a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
    for (const r of list) {
      out.push(r);
      visit(r.name);
    }
  };
  visit(undefined);
  return out;
}

interface SecurityGroupRule {
  protocol?: string;
  fromPort?: number;
  toPort?: number;
  cidrBlocks?: unknown;
}

/** What a reviewer would flag: open ports, SSH, unencrypted storage, IMDSv1, all capabilities, unpinned images. */
function findings(app: AppSpec, registrations: readonly Registration[], configs: RenderedConfig[]): Finding[] {
  const out: Finding[] = [];
  const listenerPorts = new Set(app.services.flatMap((s) => effectiveListeners(s).map((l) => l.port)));
  for (const r of registrations) {
    const i = r.inputs;
    if (r.type === "aws:ec2/securityGroup:SecurityGroup") {
      for (const rule of (i.ingress as SecurityGroupRule[] | undefined) ?? []) {
        const open = Array.isArray(rule.cidrBlocks) && rule.cidrBlocks.includes("0.0.0.0/0");
        if (open && !(rule.fromPort === rule.toPort && listenerPorts.has(rule.fromPort ?? -1))) {
          out.push({ severity: "warning", resource: r.name, message: `ingress ${rule.protocol}/${rule.fromPort}-${rule.toPort} is open to 0.0.0.0/0 beyond the listener ports` });
        }
        if (rule.fromPort !== undefined && rule.toPort !== undefined && rule.fromPort <= 22 && rule.toPort >= 22) {
          out.push({ severity: "warning", resource: r.name, message: "SSH (port 22) is reachable" });
        }
      }
    }
    if (r.type === "aws:ec2/launchTemplate:LaunchTemplate") {
      const metadata = i.metadataOptions as { httpTokens?: string } | undefined;
      if (metadata?.httpTokens !== "required") out.push({ severity: "warning", resource: r.name, message: "IMDSv1 is allowed: httpTokens is not required" });
      if (i.keyName !== undefined) out.push({ severity: "warning", resource: r.name, message: "an SSH key pair is set: instances accept SSH logins if port 22 is reachable" });
      for (const device of (i.blockDeviceMappings as { deviceName?: string; ebs?: { encrypted?: string } }[] | undefined) ?? []) {
        if (device.ebs?.encrypted !== "true") out.push({ severity: "warning", resource: r.name, message: `volume ${device.deviceName ?? "?"} is not encrypted` });
      }
    }
    if ((r.type === "aws:ebs/volume:Volume" || r.type === "aws:ebs/snapshotImport:SnapshotImport") && i.encrypted !== true) {
      out.push({ severity: "warning", resource: r.name, message: "storage is not encrypted" });
    }
    if (r.type === "aws:ec2/ami:Ami" && i.imdsSupport !== "v2.0") out.push({ severity: "warning", resource: r.name, message: "the AMI allows IMDSv1" });
  }
  for (const c of configs) {
    for (const s of c.config.services ?? []) {
      if (s.capabilities?.includes("all")) out.push({ severity: "warning", resource: c.service, message: `container ${s.name} runs with all capabilities (privileged)` });
    }
  }
  for (const s of app.services) {
    for (const c of s.containers) {
      if (c.image && !c.build && !isPinned(c.image)) {
        out.push({ severity: "warning", resource: s.name, message: `image ${c.image} of container ${c.name} is not pinned by digest: it is pinned to whatever the registry serves at deploy time` });
      }
    }
  }
  return out;
}
