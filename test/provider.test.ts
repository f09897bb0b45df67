import * as fs from "node:fs";
import * as path from "node:path";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import { describe, expect, it } from "vitest";
import { PROVIDER_OPTIONS } from "../provider/index";
import { pulumiPackageSchema } from "../schema/json-schema";
import { mockPulumi } from "./components/harness";

interface PackageSchema {
  name: string;
  resources: Record<string, { isComponent: boolean; description?: string; inputProperties: Record<string, { description?: string }>; properties: Record<string, { description?: string }>; requiredInputs?: string[] }>;
}

describe("the multi-language provider", () => {
  it("schema/schema.json is current (run npm run generate)", async () => {
    const { contents } = await pulumiPackageSchema();
    expect(fs.readFileSync(path.resolve(__dirname, "../schema/schema.json"), "utf8")).toBe(contents);
  }, 60_000);

  it("describes the Service and App components, every input and output with a description", () => {
    const schema = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../schema/schema.json"), "utf8")) as PackageSchema;
    expect(schema.name).toBe("i2kit");
    expect(Object.keys(schema.resources).sort()).toEqual(["i2kit:index:App", "i2kit:index:Service"]);
    for (const [token, resource] of Object.entries(schema.resources)) {
      expect(resource.isComponent).toBe(true);
      expect(resource.description, token).toBeTruthy();
      for (const [name, p] of [...Object.entries(resource.inputProperties), ...Object.entries(resource.properties)]) expect(p.description, `${token}.${name}`).toBeTruthy();
    }
    expect(schema.resources["i2kit:index:Service"]?.requiredInputs).toEqual(["privateSubnetIds", "publicSubnetIds", "vpcId"]);
  });

  it("constructs a Service through the provider interface", async () => {
    const h = mockPulumi();
    const provider = new ComponentProvider(PROVIDER_OPTIONS);
    const result = await provider.construct(
      "web",
      "i2kit:index:Service",
      { yaml: "name: web\npublic: true\ncontainers:\n  web:\n    image: nginx:1.27\n    ports: [\"http:80:http:8080\"]\n", vpcId: "vpc-1", publicSubnetIds: ["p1"], privateSubnetIds: ["q1"] },
      {},
    );
    await h.settle();
    expect(result.urn).toBeDefined();
    expect(h.find("i2kit:index:Service", "web").parent).toBeUndefined();
    expect(h.find("aws:lb/loadBalancer:LoadBalancer").inputs).toMatchObject({ loadBalancerType: "application", internal: false, subnets: ["p1"] });
    expect(h.find("aws:autoscaling/group:Group").inputs).toMatchObject({ vpcZoneIdentifiers: ["q1"], healthCheckType: "ELB" });
    expect(h.find("aws:autoscaling/group:Group").parent).toBe("web-group");
  });
});

describe("examples/yaml", () => {
  it("uses i2kit:index:Service with inputs the package schema declares, required ones included", async () => {
    const { parse } = await import("yaml");
    const program = parse(fs.readFileSync(path.resolve(__dirname, "../examples/yaml/Pulumi.yaml"), "utf8")) as {
      packages: Record<string, string>;
      resources: Record<string, { type: string; properties: Record<string, unknown> }>;
    };
    const schema = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../schema/schema.json"), "utf8")) as PackageSchema;
    expect(path.resolve(__dirname, "../examples/yaml", program.packages.i2kit ?? "")).toBe(path.resolve(__dirname, "../provider"));
    const nginx = program.resources.nginx;
    expect(nginx?.type).toBe("i2kit:index:Service");
    const declared = schema.resources["i2kit:index:Service"];
    for (const key of Object.keys(nginx?.properties ?? {})) expect(Object.keys(declared?.inputProperties ?? {})).toContain(key);
    for (const required of declared?.requiredInputs ?? []) expect(Object.keys(nginx?.properties ?? {})).toContain(required);
    expect(fs.existsSync(path.resolve(__dirname, "../examples/yaml", String(nginx?.properties.file)))).toBe(true);
  });
});
