import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { run } from "../cli/main";
import { planFile, type Plan, type PlannedResource } from "../cli/plan/plan";
import { renderText } from "../cli/plan/present";
import { ConversionError } from "../schema/diagnostics";
import { asProject, composeFiles, loadCorpusFile, manifestFiles, SAMPLE_ENV } from "./corpus";

const byType = (plan: Plan, type: string) => plan.resources.filter((r) => r.type === type);
const input = (r: PlannedResource | undefined, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], r?.inputs);

/** Corpus files that convert; the rest fail in validate with unsupported-feature errors (see conformance). */
function converting(files: string[]): string[] {
  return files.filter((f) => {
    try {
      loadCorpusFile(asProject(f));
      return true;
    } catch (e) {
      if (e instanceof ConversionError) return false;
      throw e;
    }
  });
}

describe("i2kit plan over the corpus", () => {
  const files = converting([...composeFiles, ...manifestFiles]);

  it("covers every converting file of the corpus", () => {
    expect(files.length).toBe(37);
  });

  it.each(files.map((f) => [path.basename(f), f]))("%s: one VM group, load balancer and pinned AMI per service", async (_name, file) => {
    const plan = await planFile(asProject(file), { load: { env: SAMPLE_ENV } });
    expect(plan.resources[0]).toMatchObject({ type: "i2kit:index:App", parent: null });
    const groups = byType(plan, "aws:autoscaling/group:Group");
    expect(groups).toHaveLength(plan.services.length);
    for (const s of plan.services) {
      const group = plan.resources.find((r) => r.type === "aws:autoscaling/group:Group" && r.parent?.endsWith(`-${s.name}-group`));
      expect(input(group, "desiredCapacity"), s.name).toBe(s.replicas);
      const template = plan.resources.find((r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate" && r.parent?.endsWith(`-${s.name}-group`));
      expect(input(template, "instanceType")).toBe(s.instanceType);
      expect(input(template, "metadataOptions", "httpTokens")).toBe("required");
      const lb = plan.resources.find((r) => r.type === "aws:lb/loadBalancer:LoadBalancer" && r.parent?.endsWith(`-${s.name}-lb`));
      if (s.loadBalancer) {
        expect(input(lb, "loadBalancerType")).toBe(s.loadBalancer);
        expect(input(lb, "internal")).toBe(!s.public);
        const ports = plan.resources.filter((r) => r.type === "aws:lb/listener:Listener" && r.parent?.endsWith(`-${s.name}-lb`)).map((l) => input(l, "port"));
        expect(new Set(ports)).toEqual(new Set(s.listeners.map((l) => Number(/:(\d+) →/.exec(l)?.[1]))));
      } else {
        expect(lb).toBeUndefined();
      }
    }
    expect(byType(plan, "aws:ec2/ami:Ami").every((a) => input(a, "imdsSupport") === "v2.0")).toBe(true);
    expect(byType(plan, "aws:ec2/natGateway:NatGateway")).toEqual([]);
    for (const v of byType(plan, "aws:secretsmanager/secretVersion:SecretVersion")) expect(input(v, "secretString")).toBe("[secret]");
  });
});

describe("i2kit plan of the README example", () => {
  let plan: Plan;
  beforeAll(async () => {
    delete process.env.DB_PASSWORD;
    plan = await planFile("examples/compose/compose.yaml");
  });

  it("prints the same tree as the golden file", () => {
    const golden = path.join(__dirname, "fixtures/plan-shop.txt");
    const text = `${renderText(plan)}\n`;
    if (process.env.UPDATE_GOLDEN === "1") fs.writeFileSync(golden, text);
    expect(text).toBe(fs.readFileSync(golden, "utf8"));
  });

  it("shows the boot agent, its log group and the instance role's exact statements, none on a wildcard resource", () => {
    const db = plan.services.find((s) => s.name === "db");
    expect(db?.agent).toEqual({ secrets: ["i2kit/shop/db/db_password"], logGroup: "/i2kit/shop/db", retentionDays: 30, attachesVolume: true });
    expect(db?.iam.map((st) => st.Action.join(","))).toEqual(["secretsmanager:GetSecretValue", "logs:CreateLogStream,logs:PutLogEvents", "ec2:AttachVolume", "ec2:AttachVolume"]);
    for (const s of plan.services) for (const st of s.iam) for (const r of st.Resource) expect(r).toMatch(/^arn:aws:[a-z0-9]+:\[region\]:\[account\]:(secret:i2kit\/shop\/|log-group:\/i2kit\/shop\/|volume\/|instance\/\*$)/);
    // One agent image for the app's architecture, shared by its services.
    const agentImages = plan.resources.filter((r) => r.type === "i2kit:index:ContainerImage" && /-agent(-|$)/.test(r.name));
    expect(agentImages.map((r) => [r.name, r.parent])).toEqual([["shop-agent-amd64", "shop"]]);
    expect(plan.resources.filter((r) => r.type === "aws:cloudwatch/logGroup:LogGroup").map((r) => r.inputs.name)).toEqual(["/i2kit/shop/db", "/i2kit/shop/web"]);
    expect(renderText(plan)).toContain("Allow ec2:AttachVolume on arn:aws:ec2:[region]:[account]:instance/* if aws:ResourceTag/i2kit:app=shop and aws:ResourceTag/i2kit:service=db");
  });

  it("flags what a reviewer would: unpinned images; and says which secret pulumi up will need", () => {
    expect(plan.findings.map((f) => f.message)).toEqual([
      "image nginx:1.27-alpine of container web is not pinned by digest: it is pinned to whatever the registry serves at deploy time",
      "image postgres:16-alpine of container db is not pinned by digest: it is pinned to whatever the registry serves at deploy time",
    ]);
    expect(plan.warnings).toContain("secret db_password: environment variable DB_PASSWORD is not set: pulumi up will need it");
  });

  it("finds SSH, IMDSv1, open ports and privileged containers when they are there", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-plan-"));
    fs.writeFileSync(path.join(dir, "compose.yaml"), "services:\n  admin:\n    image: admin@sha256:" + "a".repeat(64) + "\n    privileged: true\n    ports: [\"22:22\"]\n    x-i2kit: {public: true}\n");
    const risky = await planFile(path.join(dir, "compose.yaml"));
    const messages = risky.findings.map((f) => f.message);
    expect(messages).toContain("container admin runs with all capabilities (privileged)");
    expect(messages).toContain("SSH (port 22) is reachable");
    expect(messages.some((m) => m.includes("not pinned"))).toBe(false);
  });
});

describe("the plan command", () => {
  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  }

  it("prints JSON with resources, services and warnings, secrets masked", async () => {
    process.env.DB_PASSWORD = "never-in-the-plan";
    const r = await cli("plan", "examples/compose/compose.yaml", "--json");
    delete process.env.DB_PASSWORD;
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as { resources: PlannedResource[]; services: { name: string }[]; warnings: string[] };
    expect(Object.keys(json)).toEqual(["resources", "services", "warnings"]);
    expect(json.resources.find((x) => x.type === "aws:autoscaling/group:Group" && x.name === "shop-web-group-asg")).toMatchObject({ parent: "shop-web-group", inputs: { desiredCapacity: 2 } });
    expect(json.services.map((s) => s.name)).toEqual(["web", "db"]);
    expect(r.out).not.toContain("never-in-the-plan");
  });

  it("writes the rendered configs and a diagram when asked", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-plan-"));
    const r = await cli("plan", "examples/compose/compose.yaml", "--out", path.join(dir, "configs"), "--diagram", path.join(dir, "app.mmd"));
    expect(r.code).toBe(0);
    expect(fs.readdirSync(path.join(dir, "configs")).sort()).toEqual(["db.linuxkit.yml", "web.linuxkit.yml"]);
    expect(fs.readFileSync(path.join(dir, "app.mmd"), "utf8")).toMatch(/^flowchart LR\n/);
  });

  it("exits 1 with the file:line errors of validate for bad input", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-plan-"));
    fs.writeFileSync(path.join(dir, "compose.yaml"), "services:\n  web:\n    image: nginx\n    ports: [\"80:abc\"]\n");
    const r = await cli("plan", path.join(dir, "compose.yaml"));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/compose\.yaml:4:13: services\.web\.ports\[0\]: "80:abc" is not a valid port mapping/);
    expect(r.out).toBe("");
  });
});
