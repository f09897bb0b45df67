import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { App, deploymentOrder } from "../../components/app";
import { defineApp } from "../../schema/load";
import { mockPulumi, valueOf, type Harness } from "./harness";

const votingApp = path.resolve(__dirname, "../../examples/voting-app/compose.yaml");

describe("App, from the voting app's Compose file", () => {
  let h: Harness;
  let app: App;
  beforeEach(async () => {
    process.env.DB_PASSWORD = "example-only";
    h = mockPulumi();
    app = new App("voting", { file: votingApp });
    await h.settle();
  });

  it("makes one Service per Compose service, after the services each depends on", () => {
    // Depending on a Service means waiting for all of it, down to its Auto Scaling group's healthy capacity.
    const services = Object.fromEntries(
      h.all("i2kit:index:Service").map((r) => [r.name, { parent: r.parent, waitsFor: [...new Set(r.dependsOn.filter((d) => d.endsWith("-group-asg")))].sort() }]),
    );
    expect(services).toEqual({
      "voting-redis": { parent: "voting", waitsFor: [] },
      "voting-db": { parent: "voting", waitsFor: [] },
      "voting-vote": { parent: "voting", waitsFor: ["voting-redis-group-asg"] },
      "voting-result": { parent: "voting", waitsFor: ["voting-db-group-asg"] },
      "voting-worker": { parent: "voting", waitsFor: ["voting-db-group-asg", "voting-redis-group-asg"] },
    });
  });

  it("creates its own VPC with public and private subnets and no NAT gateway", () => {
    expect(h.find("aws:ec2/vpc:Vpc").inputs).toMatchObject({ cidrBlock: "10.0.0.0/16", enableDnsHostnames: true });
    expect(h.all("aws:ec2/subnet:Subnet").map((s) => [s.inputs.cidrBlock, s.inputs.availabilityZone, s.inputs.mapPublicIpOnLaunch])).toEqual([
      ["10.0.0.0/20", "eu-west-1a", false],
      ["10.0.16.0/20", "eu-west-1b", false],
      ["10.0.128.0/20", "eu-west-1a", false],
      ["10.0.144.0/20", "eu-west-1b", false],
    ]);
    expect(h.all("aws:ec2/natGateway:NatGateway")).toEqual([]);
    expect(h.find("aws:ec2/routeTable:RouteTable", "voting-network-private").inputs.routes).toBeUndefined();
    expect(h.all("aws:ec2/vpcEndpoint:VpcEndpoint").map((e) => e.inputs.serviceName)).toEqual([
      "com.amazonaws.eu-west-1.s3",
      "com.amazonaws.eu-west-1.secretsmanager",
      "com.amazonaws.eu-west-1.ec2",
      "com.amazonaws.eu-west-1.logs",
    ]);
  });

  it("names every service with a load balancer in a private zone the VMs search", () => {
    expect(h.find("aws:route53/zone:Zone").inputs).toMatchObject({ name: "voting.internal", vpcs: [{ vpcId: "voting-network-vpc-id" }] });
    expect(h.find("aws:ec2/vpcDhcpOptions:VpcDhcpOptions").inputs).toMatchObject({ domainName: "voting.internal", domainNameServers: ["AmazonProvidedDNS"] });
    expect(h.all("aws:route53/record:Record").map((r) => r.inputs.name).sort()).toEqual(["db.voting.internal", "redis.voting.internal", "result.voting.internal", "vote.voting.internal"]);
  });

  it("puts public services behind internet-facing ALBs and the rest behind internal NLBs", () => {
    const lbs = Object.fromEntries(h.all("aws:lb/loadBalancer:LoadBalancer").map((l) => [l.inputs.name, [l.inputs.loadBalancerType, l.inputs.internal]]));
    expect(lbs).toEqual({
      "voting-vote": ["application", false],
      "voting-result": ["application", false],
      "voting-redis": ["network", true],
      "voting-db": ["network", true],
    });
    expect(h.all("aws:autoscaling/group:Group").find((g) => g.name === "voting-vote-group-asg")?.inputs.desiredCapacity).toBe(3);
  });

  it("reports the URLs of its services", async () => {
    expect(await valueOf(app.urls)).toEqual({
      vote: "http://voting-vote-lb-lb.elb.eu-west-1.amazonaws.com",
      result: "http://voting-result-lb-lb.elb.eu-west-1.amazonaws.com",
      redis: "tcp://voting-redis-lb-lb.elb.eu-west-1.amazonaws.com:6379",
      db: "tcp://voting-db-lb-lb.elb.eu-west-1.amazonaws.com:5432",
    });
  });
});

describe("App arguments", () => {
  it("uses a given VPC and adds public DNS records for public services", async () => {
    const h = mockPulumi();
    new App("shop", {
      yaml: "services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n    x-i2kit: {public: true, protocol: http}\n  api:\n    image: api\n    expose: [\"8080\"]\n",
      network: { vpcId: "vpc-given", publicSubnetIds: ["p1", "p2"], privateSubnetIds: ["q1", "q2"] },
      publicZone: { zoneId: "Z-PUBLIC", name: "example.com" },
    });
    await h.settle();
    expect(h.all("aws:ec2/vpc:Vpc")).toEqual([]);
    expect(h.all("aws:route53/record:Record").map((r) => `${String(r.inputs.zoneId)} ${String(r.inputs.name)}`).sort()).toEqual([
      "Z-PUBLIC web.example.com",
      "Z-shop-zone api.shop.internal",
      "Z-shop-zone web.shop.internal",
    ]);
  });

  it("builds one boot agent image per architecture for all its services, in the app's ECR", async () => {
    const h = mockPulumi();
    new App("mix", {
      yaml: "services:\n  a:\n    image: a\n  b:\n    image: b\n  c:\n    image: c\n    x-i2kit: {instance_type: t4g.small}\n",
    });
    await h.settle();
    const agents = h.all("docker:index/image:Image").filter((i) => String((i.inputs.build as { context?: string }).context).endsWith("/agent"));
    expect(agents.map((i) => [i.name, (i.inputs.build as { platform?: string }).platform])).toEqual([
      ["mix-agent-amd64-image", "linux/amd64"],
      ["mix-agent-arm64-image", "linux/arm64"],
    ]);
    expect(h.all("aws:ecr/repository:Repository").map((r) => r.inputs.name).filter((n) => String(n).includes("agent")).sort()).toEqual(["mix-i2kit-agent-amd64", "mix-i2kit-agent-arm64"]);
    // Each VM pins its own architecture's agent, by digest.
    const repoOf = (service: string) => /name: i2kit-agent\n\s+image: \S+\/(mix-i2kit-agent-[a-z0-9]+)@sha256:/.exec(String(h.find("command:local:Command", `mix-${service}-vm-build`).inputs.stdin))?.[1];
    expect(["a", "b", "c"].map(repoOf)).toEqual(["mix-i2kit-agent-amd64", "mix-i2kit-agent-amd64", "mix-i2kit-agent-arm64"]);
  });

  it("refuses a dependency cycle and unknown per-service options before registering anything", async () => {
    const h = mockPulumi();
    const cyclic = "services:\n  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [a]\n";
    expect(() => new App("c", { yaml: cyclic })).toThrow("App: depends_on forms a cycle: a → b → a");
    expect(() => new App("c", { yaml: "services:\n  a:\n    image: a\n", serviceOptions: { b: {} } })).toThrow('App c: serviceOptions names "b", which is not a service of the app (a)');
    await h.settle();
    expect(h.resources.filter((r) => r.custom)).toEqual([]);
  });

  it("orders deployment by depends_on", () => {
    const app = defineApp({
      name: "x",
      services: [
        { name: "web", containers: [{ name: "web", image: "w" }], dependsOn: [{ service: "api" }] },
        { name: "api", containers: [{ name: "api", image: "a" }], dependsOn: [{ service: "db" }] },
        { name: "db", containers: [{ name: "db", image: "d" }] },
      ],
    });
    expect(deploymentOrder(app)).toEqual(["db", "api", "web"]);
  });
});
