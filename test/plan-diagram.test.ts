// @vitest-environment jsdom
import { beforeAll, describe, expect, it } from "vitest";
import { renderMermaid, renderSvg } from "../cli/plan/diagram";
import { planFile, type Plan } from "../cli/plan/plan";

describe("the plan's architecture diagram", () => {
  let plan: Plan;
  beforeAll(async () => {
    process.env.DB_PASSWORD = "x";
    plan = await planFile("examples/voting-app/compose.yaml");
  });

  it("is Mermaid that Mermaid's own parser accepts, with every service and link", async () => {
    const { default: mermaid } = await import("mermaid");
    const source = renderMermaid(plan);
    await expect(mermaid.parse(source)).resolves.toBeTruthy();
    for (const s of ["vote", "result", "worker", "redis", "db"]) expect(source).toContain(`${s}_vms`);
    expect(source).toContain("internet --> vote_lb");
    expect(source).toContain("worker_vms -->|depends on| db_lb");
    expect(source).toContain("db_ami -.-> db_vms");
    // The parser does reject what is not Mermaid, so the check above means something.
    await expect(mermaid.parse("flowchart LR\n  a -->> [b")).rejects.toThrow();
  });

  it("is an SVG document with a box per load balancer, VM group and image", () => {
    const svg = renderSvg(plan);
    // jsdom's DOMParser, from the test environment.
    const { DOMParser } = globalThis as unknown as { DOMParser: new () => { parseFromString(s: string, type: string): { getElementsByTagName(n: string): { length: number } } } };
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    expect(doc.getElementsByTagName("parsererror")).toHaveLength(0);
    // Internet + 5 VM groups + 5 images + 4 load balancers.
    expect(doc.getElementsByTagName("rect")).toHaveLength(15);
    expect(svg).toContain(">internal NLB db<");
  });
});
