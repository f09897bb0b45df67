// Pure decisions a Service makes from its spec: which listeners it serves,
// which instance ports the load balancer reaches, the URL it is found at.
import type { Listener, ServiceSpec } from "../schema/spec";

/**
 * A service with no published ports but ports it exposes is still reached
 * by the app's other services: through an internal TCP/UDP load balancer.
 */
export function effectiveListeners(spec: ServiceSpec): Listener[] {
  if (spec.listeners.length > 0) return spec.listeners;
  const seen = new Set<string>();
  const out: Listener[] = [];
  for (const c of spec.containers) {
    for (const p of c.ports) {
      const key = `${p.port}/${p.protocol}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const protocol = p.protocol === "udp" ? "UDP" : "TCP";
      out.push({ protocol, port: p.port, targetProtocol: protocol, targetPort: p.port });
    }
  }
  return out;
}

/** Instance ports the load balancer forwards to, with their IP protocol. */
export function instancePorts(listeners: readonly Listener[]): { port: number; protocol: "tcp" | "udp" }[] {
  const seen = new Map<string, { port: number; protocol: "tcp" | "udp" }>();
  for (const l of listeners) {
    const protocol = l.targetProtocol === "UDP" ? "udp" : "tcp";
    seen.set(`${l.targetPort}/${protocol}`, { port: l.targetPort, protocol });
  }
  return [...seen.values()].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

const SCHEMES: Record<Listener["protocol"], string> = { HTTP: "http", HTTPS: "https", TCP: "tcp", TLS: "tls", UDP: "udp" };

/** `http://dns` for port 80, `https://dns` for 443, `scheme://dns:port` otherwise. */
export function serviceUrl(listener: Listener, host: string): string {
  const scheme = SCHEMES[listener.protocol];
  const defaultPort = (scheme === "http" && listener.port === 80) || (scheme === "https" && listener.port === 443);
  return `${scheme}://${host}${defaultPort ? "" : `:${listener.port}`}`;
}

/** Named volumes need a data disk; a stateful service keeps its own EBS volume instead. */
export function needsDataDisk(spec: ServiceSpec): boolean {
  return spec.containers.some((c) => c.mounts.some((m) => m.type === "volume"));
}
