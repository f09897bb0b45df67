// An architecture diagram of a plan: the internet, load balancers, VM
// groups, the AMI pipeline of each service and the links between services.
// Mermaid source for docs and reviews, and a self-contained SVG.
import type { Plan, PlannedService } from "./plan";

const id = (name: string, suffix: string) => `${name.replace(/[^A-Za-z0-9]/g, "_")}_${suffix}`;
const text = (s: string) => s.replace(/"/g, "#quot;");

function loadBalancerLabel(s: PlannedService): string {
  const kind = s.loadBalancer === "application" ? "ALB" : "NLB";
  return `${s.public ? "" : "internal "}${kind} ${s.name}`;
}

function groupLabel(s: PlannedService): string {
  return `${s.name}: ${s.replicas} × ${s.instanceType}${s.stateful ? ", stateful" : ""}`;
}

export function renderMermaid(plan: Plan): string {
  const lines = ["flowchart LR", '  internet(("Internet"))', `  subgraph vpc["VPC of ${text(plan.app)}"]`];
  for (const s of plan.services) {
    if (s.loadBalancer) lines.push(`    ${id(s.name, "lb")}["${text(loadBalancerLabel(s))}<br/>${text(s.listeners.join("<br/>"))}"]`);
    lines.push(s.stateful ? `    ${id(s.name, "vms")}[("${text(groupLabel(s))}")]` : `    ${id(s.name, "vms")}["${text(groupLabel(s))}"]`);
  }
  lines.push("  end", '  subgraph pipeline["AMI pipeline: linuxkit build → EBS snapshot (direct) → AMI"]');
  for (const s of plan.services) lines.push(`    ${id(s.name, "ami")}["${text(`${s.name} image`)}"]`);
  lines.push("  end");
  for (const s of plan.services) {
    if (s.loadBalancer && s.public) lines.push(`  internet --> ${id(s.name, "lb")}`);
    if (s.loadBalancer) lines.push(`  ${id(s.name, "lb")} --> ${id(s.name, "vms")}`);
    lines.push(`  ${id(s.name, "ami")} -.-> ${id(s.name, "vms")}`);
    for (const d of s.dependsOn) {
      const target = plan.services.find((t) => t.name === d);
      if (target) lines.push(`  ${id(s.name, "vms")} -->|depends on| ${id(d, target.loadBalancer ? "lb" : "vms")}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  label: string[];
  style: string;
}

/** A plain layered SVG: one row per service; columns for the internet, load balancers, VM groups and images. */
export function renderSvg(plan: Plan): string {
  const column = (i: number) => 20 + i * 250;
  const rowHeight = 90;
  const boxes: Box[] = [];
  const edges: { from: Box; to: Box; dashed: boolean; label?: string }[] = [];
  const height = Math.max(1, plan.services.length) * rowHeight + 60;
  const internet: Box = { x: column(0), y: height / 2 - 25, w: 150, h: 50, label: ["Internet"], style: "internet" };
  boxes.push(internet);
  const byName = new Map<string, { lb?: Box; vms: Box }>();
  plan.services.forEach((s, row) => {
    const y = 40 + row * rowHeight;
    const vms: Box = { x: column(2), y, w: 210, h: 60, label: [s.name, `${s.replicas} × ${s.instanceType}${s.stateful ? ", stateful" : ""}`], style: "vms" };
    const ami: Box = { x: column(3), y, w: 210, h: 60, label: [`${s.name} image`, "linuxkit → EBS snapshot → AMI"], style: "ami" };
    boxes.push(vms, ami);
    edges.push({ from: ami, to: vms, dashed: true });
    let lb: Box | undefined;
    if (s.loadBalancer) {
      lb = { x: column(1), y, w: 210, h: 60, label: [loadBalancerLabel(s), s.listeners.join(", ")], style: "lb" };
      boxes.push(lb);
      edges.push({ from: lb, to: vms, dashed: false });
      if (s.public) edges.push({ from: internet, to: lb, dashed: false });
    }
    byName.set(s.name, { ...(lb ? { lb } : {}), vms });
  });
  for (const s of plan.services) {
    for (const d of s.dependsOn) {
      const from = byName.get(s.name)?.vms;
      const target = byName.get(d);
      const to = target?.lb ?? target?.vms;
      if (from && to) edges.push({ from, to, dashed: true, label: "depends on" });
    }
  }
  const width = column(4);
  const fill: Record<string, string> = { internet: "#eef", lb: "#fde9c9", vms: "#d7ecd9", ami: "#e8e8e8" };
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(`${plan.app}: ${plan.services.length} service${plan.services.length === 1 ? "" : "s"}`)}</text>`,
  ];
  for (const e of edges) {
    const x1 = e.from.x + e.from.w;
    const y1 = e.from.y + e.from.h / 2;
    const backwards = e.to.x <= e.from.x;
    const x2 = backwards ? e.to.x + e.to.w : e.to.x;
    const y2 = e.to.y + e.to.h / 2;
    const dash = e.dashed ? ' stroke-dasharray="5,4"' : "";
    const path = backwards ? `M${e.from.x},${y1} C${e.from.x - 40},${y1} ${x2 + 40},${y2} ${x2},${y2}` : `M${x1},${y1} L${x2},${y2}`;
    out.push(`<path d="${path}" fill="none" stroke="#555"${dash} marker-end="url(#arrow)"/>`);
    if (e.label) out.push(`<text x="${(e.from.x + x2) / 2}" y="${(y1 + y2) / 2 - 4}" fill="#555">${escapeXml(e.label)}</text>`);
  }
  for (const b of boxes) {
    const rx = b.style === "internet" ? 25 : 6;
    out.push(`<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="${rx}" fill="${fill[b.style] ?? "#fff"}" stroke="#333"/>`);
    b.label.forEach((line, i) => {
      out.push(`<text x="${b.x + b.w / 2}" y="${b.y + b.h / 2 + (i - (b.label.length - 1) / 2) * 16 + 4}" text-anchor="middle">${escapeXml(line)}</text>`);
    });
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
