// The plan as a person reads it: a tree like `pulumi preview`'s, with the
// few inputs that matter, a summary of counts per type, and the findings.
import * as path from "node:path";
import type { PolicyStatement } from "../../components/auto-scaling-group";
import type { Plan, PlannedResource } from "./plan";

type Inputs = Record<string, unknown>;

interface Rule {
  protocol?: unknown;
  fromPort?: unknown;
  toPort?: unknown;
  cidrBlocks?: unknown;
  securityGroups?: unknown;
}

function rules(list: unknown, direction: "from" | "to"): string {
  if (!Array.isArray(list) || list.length === 0) return "none";
  return (list as Rule[])
    .map((r) => {
      const ports = r.protocol === "-1" ? "all" : r.fromPort === r.toPort ? `${String(r.protocol)}/${String(r.fromPort)}` : `${String(r.protocol)}/${String(r.fromPort)}-${String(r.toPort)}`;
      const peers = Array.isArray(r.cidrBlocks) ? r.cidrBlocks.map(String) : Array.isArray(r.securityGroups) ? ["load balancer"] : [];
      return `${ports} ${direction} ${peers.join(",") || "?"}`;
    })
    .join("; ");
}

const get = (inputs: Inputs, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Inputs)[k] : undefined), inputs);

/** The inputs of a resource worth a reviewer's eye, as `key=value` pairs. */
export function keyInputs(type: string, i: Inputs, name = ""): [string, unknown][] {
  switch (type) {
    case "aws:ec2/launchTemplate:LaunchTemplate":
      return [["instanceType", i.instanceType], ["imageId", i.imageId], ["httpTokens", get(i, "metadataOptions", "httpTokens")], ["keyName", i.keyName ?? "none"]];
    case "aws:autoscaling/group:Group":
      return [["min", i.minSize], ["max", i.maxSize], ["desired", i.desiredCapacity], ["healthCheck", i.healthCheckType], ["refresh", `min ${String(get(i, "instanceRefresh", "preferences", "minHealthyPercentage"))}% max ${String(get(i, "instanceRefresh", "preferences", "maxHealthyPercentage"))}%`]];
    case "aws:lb/loadBalancer:LoadBalancer":
      return [["type", i.loadBalancerType], ["scheme", i.internal === true ? "internal" : "internet-facing"]];
    case "aws:lb/listener:Listener":
      return [["listener", `${String(i.protocol)}:${String(i.port)}`], ...(i.certificateArn ? ([["certificate", i.certificateArn]] as [string, unknown][]) : [])];
    case "aws:lb/targetGroup:TargetGroup": {
      const path = get(i, "healthCheck", "path");
      return [["target", `${String(i.protocol)}:${String(i.port)}`], ["healthCheck", `${String(get(i, "healthCheck", "protocol"))}${path ? ` ${String(path)}` : ""}`]];
    }
    case "aws:ec2/securityGroup:SecurityGroup":
      return [["ingress", rules(i.ingress, "from")]];
    case "aws:ebs/snapshotImport:SnapshotImport":
      return [["source", `s3://${String(get(i, "diskContainer", "userBucket", "s3Bucket"))}/${String(get(i, "diskContainer", "userBucket", "s3Key"))}`], ["encrypted", i.encrypted]];
    case "aws:ec2/ami:Ami":
      return [["architecture", i.architecture], ["bootMode", i.bootMode], ["imds", i.imdsSupport]];
    case "aws:ebs/volume:Volume":
      return [["size", `${String(i.size)} GiB`], ["encrypted", i.encrypted]];
    case "command:local:Command":
      // The command line itself is unknown offline: it holds the content hash. The Ami's is the upload.
      return [["runs", name.endsWith("-upload") ? "i2kit ami upload (EBS direct, incremental)" : "linuxkit build"], ["when", "content hash changes"]];
    case "aws:secretsmanager/secret:Secret":
      return [["name", i.name]];
    case "aws:cloudwatch/logGroup:LogGroup":
      return [["name", i.name], ["retention", `${String(i.retentionInDays)} days`], ["kms", i.kmsKeyId ?? "none (CloudWatch's own encryption)"]];
    case "aws:route53/record:Record":
    case "aws:route53/zone:Zone":
      return [["name", i.name]];
    case "aws:ec2/vpc:Vpc":
    case "aws:ec2/subnet:Subnet":
      return [["cidr", i.cidrBlock]];
    case "aws:ec2/vpcEndpoint:VpcEndpoint":
      return [["kind", i.vpcEndpointType]];
    case "docker:index/image:Image":
    {
      // Relative to where the plan runs: the same plan prints the same on every machine.
      const context = get(i, "build", "context");
      return [["context", typeof context === "string" && path.isAbsolute(context) ? path.relative(process.cwd(), context) || "." : context], ["platform", get(i, "build", "platform")]];
    }
    default:
      return [];
  }
}

function format(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The tree of resources, one line each, indented under its parent. */
export function renderTree(plan: Plan): string {
  const children = new Map<string | null, PlannedResource[]>();
  for (const r of plan.resources) {
    const list = children.get(r.parent) ?? [];
    list.push(r);
    children.set(r.parent, list);
  }
  const lines: string[] = [];
  const visit = (parent: string | null, prefix: string) => {
    const list = children.get(parent) ?? [];
    list.forEach((r, index) => {
      const last = index === list.length - 1;
      const branch = parent === null ? "" : last ? "└─ " : "├─ ";
      const details = keyInputs(r.type, r.inputs, r.name).map(([k, v]) => `${k}=${format(v)}`);
      lines.push(`+ ${prefix}${branch}${r.type} ${r.name}${details.length > 0 ? `  ${details.join(" ")}` : ""}`);
      visit(r.name, parent === null ? "" : prefix + (last ? "   " : "│  "));
    });
  };
  visit(null, "");
  return lines.join("\n");
}

export function renderSummary(plan: Plan): string {
  const counts = new Map<string, number>();
  for (const r of plan.resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  const width = Math.max(...[...counts.values()].map((n) => String(n).length));
  const lines = [...counts.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([type, n]) => `    ${String(n).padStart(width)} ${type}`);
  return [`Resources: + ${plan.resources.length} to create`, ...lines].join("\n");
}

export function renderText(plan: Plan): string {
  const services = plan.services.flatMap((s) => [
    `  ${s.name}: ${s.replicas} × ${s.instanceType}${s.stateful ? ", stateful" : ""}, ${s.loadBalancer ? `${s.public ? "internet-facing" : "internal"} ${s.loadBalancer === "application" ? "ALB" : "NLB"} ${s.listeners.join(", ")}` : "no load balancer"}`,
    `    boot agent: ${[
      s.agent.secrets.length > 0 ? `secrets ${s.agent.secrets.join(", ")} → /run/secrets` : "no secrets",
      ...(s.agent.attachesVolume ? ["attaches its own EBS volume"] : []),
      `logs → ${s.agent.logGroup} (${s.agent.retentionDays} days)`,
    ].join("; ")}`,
  ]);
  const sections = [
    `Plan for ${plan.file} (app ${plan.app}): what pulumi up would create, offline. [unknown] is known only once AWS answers.`,
    "",
    "Services:",
    ...services,
    "",
    renderTree(plan),
    "",
    renderSummary(plan),
  ];
  sections.push("", "Instance roles (exactly; [brackets] are known once AWS answers):", ...plan.services.flatMap((s) => [`  ${s.name}:`, ...s.iam.map((st) => `    ${describeStatement(st)}`)]));
  if (plan.findings.length > 0) sections.push("", "Security findings:", ...plan.findings.map((f) => `  warning: ${f.resource ? `${f.resource}: ` : ""}${f.message}`));
  if (plan.warnings.length > 0) sections.push("", "Warnings:", ...plan.warnings.map((w) => `  ${w}`));
  return sections.join("\n");
}

function describeStatement(st: PolicyStatement): string {
  const conditions = Object.values(st.Condition ?? {}).flatMap((c) => Object.entries(c).map(([k, v]) => (Array.isArray(v) ? `${k} in [${v.join(", ")}]` : `${k}=${v}`)));
  return `${st.Effect} ${st.Action.join(", ")} on ${st.Resource.join(", ")}${conditions.length > 0 ? ` if ${conditions.join(" and ")}` : ""}`;
}

/** The machine-readable plan. */
export function renderJson(plan: Plan): string {
  return JSON.stringify(
    {
      resources: plan.resources,
      services: plan.services,
      warnings: [...plan.warnings, ...plan.findings.map((f) => `security: ${f.resource ? `${f.resource}: ` : ""}${f.message}`)],
    },
    null,
    2,
  );
}
