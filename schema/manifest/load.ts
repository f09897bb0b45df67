// The original i2kit service.yml: one service, its containers by name, and
// listeners in the `LBPROTO:LBPORT:INSTPROTO:INSTPORT[:CERT_ARN]` syntax.
import type { Reporter } from "../diagnostics";
import { splitCommand } from "../compose/command";
import type { ContainerSpec, ServiceSpecInput } from "../spec";
import { reportZodIssues } from "../zod-report";
import { parseListener } from "./ports";
import { ManifestSchema } from "./schema";

export function readManifest(document: unknown, report: Reporter): ServiceSpecInput | undefined {
  // Checked on the raw document too, so it is reported alongside any shape errors.
  const raw = (document ?? {}) as { stateful?: unknown; replicas?: unknown };
  if (raw.stateful === true && typeof raw.replicas === "number" && raw.replicas > 1) {
    report.error(["replicas"], "a stateful service runs exactly one replica");
  }
  const parsed = ManifestSchema.safeParse(document);
  if (!parsed.success) {
    reportZodIssues(report, [], parsed.error, document);
    return undefined;
  }
  const manifest = parsed.data;
  const service: ServiceSpecInput = {
    name: manifest.name,
    replicas: manifest.replicas,
    stateful: manifest.stateful,
    public: manifest.public,
    containers: [],
    listeners: [],
  };
  if (manifest.instance_type) service.instanceType = manifest.instance_type;
  const listenerPorts = new Map<number, string>();
  const instancePorts = new Map<number, string>();
  for (const [name, c] of Object.entries(manifest.containers)) {
    const at = ["containers", name];
    const container: Partial<ContainerSpec> & { name: string } = { name, image: c.image, ports: [], environment: {} };
    if (typeof c.command === "string") {
      const words = splitCommand(c.command);
      if (words) container.command = words;
      else report.error([...at, "command"], `${JSON.stringify(c.command)} holds shell operators or unbalanced syntax; write it as a list`);
    } else if (c.command) container.command = c.command;
    for (const entry of c.environment ?? []) {
      const eq = entry.indexOf("=");
      (container.environment as Record<string, string>)[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    (c.ports ?? []).forEach((text, i) => {
      const listener = parseListener(text);
      if (typeof listener === "string") {
        report.error([...at, "ports", i], listener);
        return;
      }
      const lbOwner = listenerPorts.get(listener.port);
      if (lbOwner) report.error([...at, "ports", i], `load balancer port ${listener.port} is already used by container "${lbOwner}"`);
      const instanceOwner = instancePorts.get(listener.targetPort);
      if (instanceOwner && instanceOwner !== name) {
        report.error([...at, "ports", i], `instance port ${listener.targetPort} is already used by container "${instanceOwner}" (containers share the VM's network)`);
      }
      listenerPorts.set(listener.port, name);
      instancePorts.set(listener.targetPort, name);
      service.listeners?.push(listener);
      container.ports?.push({ port: listener.targetPort, protocol: listener.protocol === "UDP" ? "udp" : "tcp" });
    });
    service.containers.push(container as ContainerSpec);
  }
  if (service.containers.length === 0) report.error(["containers"], "a service needs at least one container");
  return service;
}
