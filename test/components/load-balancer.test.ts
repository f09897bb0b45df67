import { describe, expect, it } from "vitest";
import { AutoScalingGroup } from "../../components/auto-scaling-group";
import { ContainerImage } from "../../components/container-image";
import { LoadBalancer } from "../../components/load-balancer";
import { MODERN_TLS_POLICY, planLoadBalancer } from "../../components/load-balancer-plan";
import { mockPulumi, valueOf } from "./harness";

const CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abc";
const base = { app: "shop", service: "web", vpcId: "vpc-1", subnetIds: ["s1", "s2"] };

describe("load balancer plan", () => {
  it("chooses an ALB for HTTP(S) and an NLB otherwise, one target group per instance port", () => {
    const alb = planLoadBalancer(
      [
        { protocol: "HTTP", port: 80, targetProtocol: "HTTP", targetPort: 8080 },
        { protocol: "HTTPS", port: 443, targetProtocol: "HTTP", targetPort: 8080, certificateArn: CERT },
      ],
      { path: "/healthz", intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 3 },
      "web",
    );
    expect(alb.type).toBe("application");
    expect(alb.targetGroups).toEqual([
      { key: "http-8080", port: 8080, protocol: "HTTP", healthCheck: { protocol: "HTTP", path: "/healthz", port: "traffic-port", interval: 10, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 3 } },
    ]);
    expect(alb.listeners.map((l) => `${l.protocol}:${l.port}->${l.targetGroup}`)).toEqual(["HTTP:80->http-8080", "HTTPS:443->http-8080"]);
    const nlb = planLoadBalancer(
      [
        { protocol: "TCP", port: 53, targetProtocol: "TCP", targetPort: 53 },
        { protocol: "UDP", port: 53, targetProtocol: "UDP", targetPort: 53 },
        { protocol: "TLS", port: 993, targetProtocol: "TCP", targetPort: 143, certificateArn: CERT },
      ],
      undefined,
      "mail",
    );
    expect(nlb.type).toBe("network");
    expect(nlb.listeners.map((l) => `${l.protocol}:${l.port}->${l.targetGroup}`)).toEqual(["TCP_UDP:53->tcpudp-53", "TLS:993->tcp-143"]);
    expect(nlb.ingress).toEqual([{ port: 53, protocol: "tcp" }, { port: 53, protocol: "udp" }, { port: 993, protocol: "tcp" }]);
    expect(nlb.targetGroups.map((t) => t.healthCheck.protocol)).toEqual(["TCP", "TCP"]);
  });
});

describe("LoadBalancer", () => {
  it("terminates HTTPS with the certificate and a modern TLS policy, and can redirect HTTP to HTTPS", async () => {
    const h = mockPulumi();
    new LoadBalancer("web", { ...base, public: true, listeners: [{ protocol: "HTTPS", port: 443, targetProtocol: "HTTP", targetPort: 8080, certificateArn: CERT }], redirectHttpToHttps: true });
    await h.settle();
    expect(h.find("aws:lb/listener:Listener", "web-https-443").inputs).toMatchObject({ protocol: "HTTPS", port: 443, certificateArn: CERT, sslPolicy: MODERN_TLS_POLICY });
    expect(h.find("aws:lb/listener:Listener", "web-http-redirect").inputs).toMatchObject({
      port: 80,
      protocol: "HTTP",
      defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
    });
    expect((h.find("aws:ec2/securityGroup:SecurityGroup").inputs.ingress as { fromPort: number }[]).map((i) => i.fromPort)).toEqual([443, 80]);
  });

  it("is internal and open to the VPC only for a service that is not public", async () => {
    const h = mockPulumi();
    new LoadBalancer("db", { ...base, service: "db", public: false, listeners: [{ protocol: "TCP", port: 5432, targetProtocol: "TCP", targetPort: 5432 }] });
    await h.settle();
    expect(h.find("aws:lb/loadBalancer:LoadBalancer").inputs).toMatchObject({ internal: true, loadBalancerType: "network" });
    expect(h.find("aws:ec2/securityGroup:SecurityGroup").inputs.ingress).toEqual([
      { protocol: "tcp", fromPort: 5432, toPort: 5432, cidrBlocks: ["10.20.0.0/16"], description: "listener 5432/tcp" },
    ]);
  });

  it("refuses a redirect without an HTTPS:443 listener", () => {
    mockPulumi();
    expect(() => new LoadBalancer("x", { ...base, public: true, listeners: [{ protocol: "HTTP", port: 8080, targetProtocol: "HTTP", targetPort: 8080 }], redirectHttpToHttps: true })).toThrow(
      "LoadBalancer x: redirectHttpToHttps needs an HTTPS listener on port 443",
    );
  });
});

describe("AutoScalingGroup", () => {
  const group = { ...base, imageId: "ami-1", architecture: "arm64" as const, instanceType: "t4g.small", instancePorts: [{ port: 80, protocol: "tcp" as const }], stateful: false };

  it("scales on CPU between replicas and maxReplicas, and boots arm64 images with their root device", async () => {
    const h = mockPulumi();
    new AutoScalingGroup("web", { ...group, replicas: 2, maxReplicas: 6, keyName: "ops" });
    await h.settle();
    expect(h.find("aws:autoscaling/group:Group").inputs).toMatchObject({ minSize: 2, maxSize: 6, desiredCapacity: 2, healthCheckType: "EC2" });
    expect(h.find("aws:autoscaling/policy:Policy").inputs).toMatchObject({
      policyType: "TargetTrackingScaling",
      targetTrackingConfiguration: { predefinedMetricSpecification: { predefinedMetricType: "ASGAverageCPUUtilization" }, targetValue: 60 },
    });
    expect(h.find("aws:ec2/launchTemplate:LaunchTemplate").inputs).toMatchObject({ keyName: "ops", instanceType: "t4g.small" });
  });

  it("refuses what cannot be: more than one stateful replica, maxReplicas below replicas", () => {
    mockPulumi();
    expect(() => new AutoScalingGroup("a", { ...group, replicas: 2, stateful: true })).toThrow("AutoScalingGroup a: a stateful service runs exactly one replica");
    expect(() => new AutoScalingGroup("b", { ...group, replicas: 3, maxReplicas: 2 })).toThrow("AutoScalingGroup b: maxReplicas (2) is below replicas (3)");
  });
});

describe("ContainerImage", () => {
  it("keeps a reference already pinned by digest without a registry lookup", async () => {
    const h = mockPulumi();
    const pinned = `ghcr.io/acme/api@sha256:${"a".repeat(64)}`;
    const image = new ContainerImage("api", { app: "shop", service: "api", container: "api", image: `ghcr.io/acme/api:2@sha256:${"a".repeat(64)}` });
    expect(await valueOf(image.imageRef)).toBe(pinned);
    await h.settle();
    expect(h.all("aws:ecr/repository:Repository")).toEqual([]);
  });

  it("pins a tag to the digest its registry reports", async () => {
    const h = mockPulumi();
    const image = new ContainerImage("web", { app: "shop", service: "web", container: "web", image: "registry.example.com:5000/team/web:1.2" });
    expect(await valueOf(image.imageRef)).toMatch(/^registry\.example\.com:5000\/team\/web@sha256:[0-9a-f]{64}$/);
    await h.settle();
  });
});
