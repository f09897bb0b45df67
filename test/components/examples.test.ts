// The examples are real Pulumi programs: they type-check (npm test runs tsc
// over examples/) and run here under the mocks.
import { describe, expect, it } from "vitest";
import { mockPulumi, valueOf } from "./harness";

describe("examples", () => {
  it("examples/nginx deploys the nginx sample as one Service in its own network", async () => {
    const h = mockPulumi();
    const program = await import("../../examples/nginx/index.js");
    await h.settle();
    expect(h.find("i2kit:index:Service", "nginx")).toBeDefined();
    expect(h.find("aws:autoscaling/group:Group").inputs.desiredCapacity).toBe(2);
    expect(await valueOf(program.url)).toBe("http://nginx-lb-lb.elb.eu-west-1.amazonaws.com");
  });

  it("examples/voting-app deploys five services through App", async () => {
    process.env.DB_PASSWORD = "example-only";
    const h = mockPulumi();
    const program = await import("../../examples/voting-app/index.js");
    await h.settle();
    expect(h.all("i2kit:index:Service")).toHaveLength(5);
    expect(Object.keys((await valueOf(program.urls)) as Record<string, string>).sort()).toEqual(["db", "redis", "result", "vote"]);
  });
});
