// What a service's listeners ask of a load balancer, decided as plain data:
// ALB or NLB, its target groups (one per instance port), listeners and
// health checks. The LoadBalancer component only creates what this says.
import type { Listener, LoadBalancerHealthCheck } from "../schema/spec";

export type LoadBalancerType = "application" | "network";
export type TargetProtocol = "HTTP" | "HTTPS" | "TCP" | "TLS" | "UDP" | "TCP_UDP";

export interface TargetGroupPlan {
  key: string;
  port: number;
  protocol: TargetProtocol;
  healthCheck: {
    protocol: "HTTP" | "HTTPS" | "TCP";
    path?: string;
    port: string;
    interval: number;
    timeout: number;
    healthyThreshold: number;
    unhealthyThreshold: number;
  };
}

export interface ListenerPlan {
  port: number;
  protocol: TargetProtocol;
  targetGroup: string;
  certificateArn?: string;
}

export interface LoadBalancerPlan {
  type: LoadBalancerType;
  targetGroups: TargetGroupPlan[];
  listeners: ListenerPlan[];
  /** Ports opened on the load balancer's security group, with their IP protocol. */
  ingress: { port: number; protocol: "tcp" | "udp" }[];
}

/** A TLS 1.3 policy that still admits TLS 1.2 clients. */
export const MODERN_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

const HTTP_FAMILY = new Set(["HTTP", "HTTPS"]);

export function planLoadBalancer(listeners: readonly Listener[], healthCheck: LoadBalancerHealthCheck | undefined, service: string): LoadBalancerPlan {
  if (listeners.length === 0) throw new Error(`service ${service} has no listeners: it needs no load balancer`);
  const http = listeners.filter((l) => HTTP_FAMILY.has(l.protocol));
  if (http.length > 0 && http.length < listeners.length) {
    const other = listeners.filter((l) => !HTTP_FAMILY.has(l.protocol)).map((l) => `${l.protocol}:${l.port}`);
    throw new Error(
      `service ${service} mixes HTTP(S) listeners with ${other.join(", ")}: one load balancer cannot serve both; use x-i2kit.protocol: tcp, or split the service`,
    );
  }
  const type: LoadBalancerType = http.length > 0 ? "application" : "network";
  const targetGroups = new Map<string, TargetGroupPlan>();
  const planned: ListenerPlan[] = [];
  // An NLB serves TCP and UDP on one port through a single TCP_UDP listener.
  const merged = mergeTcpUdp(listeners);
  for (const l of merged) {
    const protocol = l.targetProtocol as TargetProtocol;
    const key = `${protocol.toLowerCase().replace("_", "")}-${l.targetPort}`;
    if (!targetGroups.has(key)) targetGroups.set(key, { key, port: l.targetPort, protocol, healthCheck: healthCheckFor(protocol, healthCheck) });
    planned.push({ port: l.port, protocol: l.protocol as TargetProtocol, targetGroup: key, ...(l.certificateArn ? { certificateArn: l.certificateArn } : {}) });
  }
  const ingress = listeners.map((l) => ({ port: l.port, protocol: l.protocol === "UDP" ? ("udp" as const) : ("tcp" as const) }));
  return { type, targetGroups: [...targetGroups.values()], listeners: planned, ingress };
}

function mergeTcpUdp(listeners: readonly Listener[]): { port: number; protocol: string; targetProtocol: string; targetPort: number; certificateArn?: string }[] {
  const out: { port: number; protocol: string; targetProtocol: string; targetPort: number; certificateArn?: string }[] = [];
  for (const l of listeners) {
    const twin = out.find((o) => o.port === l.port && o.targetPort === l.targetPort && ((o.protocol === "TCP" && l.protocol === "UDP") || (o.protocol === "UDP" && l.protocol === "TCP")));
    if (twin) {
      twin.protocol = "TCP_UDP";
      twin.targetProtocol = "TCP_UDP";
    } else out.push({ ...l });
  }
  return out;
}

function healthCheckFor(protocol: TargetProtocol, hc: LoadBalancerHealthCheck | undefined): TargetGroupPlan["healthCheck"] {
  const timing = {
    interval: hc?.intervalSeconds ?? 15,
    timeout: hc?.timeoutSeconds ?? 5,
    healthyThreshold: hc?.healthyThreshold ?? 3,
    unhealthyThreshold: hc?.unhealthyThreshold ?? 3,
  };
  const port = hc?.port !== undefined ? String(hc.port) : "traffic-port";
  if (hc?.path) {
    return { protocol: protocol === "HTTPS" ? "HTTPS" : "HTTP", path: hc.path, port, ...timing };
  }
  if (protocol === "HTTP" || protocol === "HTTPS") return { protocol, path: "/", port, ...timing };
  return { protocol: "TCP", port, ...timing };
}
