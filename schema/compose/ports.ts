// `ports` and `expose`: every accepted spelling becomes a list of published
// ports (published → target), each of which becomes a load balancer listener.
import type { ServiceContext } from "./context";
import { describe } from "./context";

export interface PublishedPort {
  /** Port the load balancer listens on. */
  published: number;
  /** Port the container listens on (the VM's port: containers use the host network). */
  target: number;
  protocol: "tcp" | "udp";
  /** `app_protocol` of the long syntax, lower-cased (e.g. `http`). */
  appProtocol?: string;
}

export interface PortsResult {
  published: PublishedPort[];
  /** Ports the container listens on that are only reachable inside the VPC. */
  exposed: { port: number; protocol: "tcp" | "udp" }[];
}

const SHORT = /^(?:(?<ip>\[[0-9a-fA-F:.]+\]|[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+):)?(?:(?<published>\d+(?:-\d+)?)?:)?(?<target>\d+(?:-\d+)?)(?:\/(?<protocol>[a-zA-Z]+))?$/;

interface Range {
  start: number;
  end: number;
}

function parseRange(text: string): Range | undefined {
  const [a, b] = text.split("-");
  const start = Number(a);
  const end = b === undefined ? start : Number(b);
  if (!isPort(start) || !isPort(end) || end < start) return undefined;
  return { start, end };
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function isLoopback(ip: string | undefined): boolean {
  if (!ip) return false;
  const bare = ip.replace(/^\[|\]$/g, "");
  return bare.startsWith("127.") || bare === "::1" || bare === "localhost";
}

/** Parses the short syntax `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`; undefined when invalid. */
export function parsePortMapping(text: string): { hostIp?: string; published?: Range; target: Range; protocol: string } | undefined {
  const match = SHORT.exec(text.trim());
  if (!match?.groups) return undefined;
  const { ip, published, target, protocol } = match.groups;
  const targetRange = parseRange(target as string);
  if (!targetRange) return undefined;
  const publishedRange = published === undefined ? undefined : parseRange(published);
  if (published !== undefined && !publishedRange) return undefined;
  return {
    ...(ip ? { hostIp: ip.replace(/^\[|\]$/g, "") } : {}),
    ...(publishedRange ? { published: publishedRange } : {}),
    target: targetRange,
    protocol: (protocol ?? "tcp").toLowerCase(),
  };
}

export function transformPorts(ports: unknown, expose: unknown, ctx: ServiceContext): PortsResult {
  const result: PortsResult = { published: [], exposed: [] };
  if (ports !== undefined) {
    const path = [...ctx.path, "ports"];
    if (!Array.isArray(ports)) ctx.report.error(path, `must be a list, not ${describe(ports)}`);
    else ports.forEach((entry, i) => addPort(entry, [...path, i], ctx, result));
  }
  if (expose !== undefined) {
    const path = [...ctx.path, "expose"];
    if (!Array.isArray(expose)) ctx.report.error(path, `must be a list, not ${describe(expose)}`);
    else
      expose.forEach((entry, i) => {
        const parsed = typeof entry === "number" || typeof entry === "string" ? parsePortMapping(String(entry)) : undefined;
        if (!parsed || parsed.published || parsed.hostIp !== undefined || !isProtocol(parsed.protocol)) {
          ctx.report.error([...path, i], `${describe(entry)} is not a valid exposed port (PORT[-PORT][/tcp|udp])`);
          return;
        }
        for (let p = parsed.target.start; p <= parsed.target.end; p++) result.exposed.push({ port: p, protocol: parsed.protocol });
      });
  }
  return result;
}

function isProtocol(p: string): p is "tcp" | "udp" {
  return p === "tcp" || p === "udp";
}

function addPort(entry: unknown, path: (string | number)[], ctx: ServiceContext, out: PortsResult): void {
  if (typeof entry === "number") entry = String(entry);
  if (typeof entry === "string") {
    const parsed = parsePortMapping(entry);
    if (!parsed) {
      ctx.report.error(path, `${JSON.stringify(entry)} is not a valid port mapping ([HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL])`);
      return;
    }
    if (!isProtocol(parsed.protocol)) {
      ctx.report.error(path, `protocol "${parsed.protocol}" is not supported (tcp or udp)`);
      return;
    }
    addRange(parsed.hostIp, parsed.published, parsed.target, parsed.protocol, undefined, path, ctx, out);
    return;
  }
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    ctx.report.error(path, `${describe(entry)} is not a valid port mapping`);
    return;
  }
  const long = entry as Record<string, unknown>;
  for (const key of Object.keys(long)) {
    if (!["target", "published", "host_ip", "protocol", "mode", "app_protocol", "name"].includes(key) && !key.startsWith("x-")) {
      ctx.report.error([...path, key], `unknown key "${key}" in a port mapping`);
    }
  }
  const target = typeof long.target === "number" || typeof long.target === "string" ? parseRange(String(long.target)) : undefined;
  if (!target || target.start !== target.end) {
    ctx.report.error([...path, "target"], `${describe(long.target)} is not a valid container port`);
    return;
  }
  let published: Range | undefined;
  if (long.published !== undefined) {
    published = typeof long.published === "number" || typeof long.published === "string" ? parseRange(String(long.published)) : undefined;
    if (!published) {
      ctx.report.error([...path, "published"], `${describe(long.published)} is not a valid published port`);
      return;
    }
  }
  const protocol = String(long.protocol ?? "tcp").toLowerCase();
  if (!isProtocol(protocol)) {
    ctx.report.error([...path, "protocol"], `protocol "${protocol}" is not supported (tcp or udp)`);
    return;
  }
  if (long.mode !== undefined && long.mode !== "ingress" && long.mode !== "host") {
    ctx.report.error([...path, "mode"], `${describe(long.mode)} is not a port mode (ingress or host)`);
  }
  const appProtocol = typeof long.app_protocol === "string" ? long.app_protocol.toLowerCase() : undefined;
  const hostIp = typeof long.host_ip === "string" ? long.host_ip : undefined;
  addRange(hostIp, published, target, protocol, appProtocol, path, ctx, out);
}

function addRange(
  hostIp: string | undefined,
  published: Range | undefined,
  target: Range,
  protocol: "tcp" | "udp",
  appProtocol: string | undefined,
  path: (string | number)[],
  ctx: ServiceContext,
  out: PortsResult,
): void {
  const targetCount = target.end - target.start + 1;
  const publishedCount = published ? published.end - published.start + 1 : targetCount;
  if (published && publishedCount !== targetCount && targetCount !== 1) {
    ctx.report.error(path, `the published range has ${publishedCount} ports but the container range has ${targetCount}`);
    return;
  }
  if (published && targetCount === 1 && publishedCount > 1) {
    ctx.report.warn(path, `a published range for one container port: the load balancer listens on ${published.start} only`);
  }
  for (let i = 0; i < targetCount; i++) {
    const port = target.start + i;
    if (isLoopback(hostIp)) {
      // Published on loopback only: reachable on the VM itself, never from the load balancer.
      out.exposed.push({ port, protocol });
      continue;
    }
    out.published.push({
      published: published ? published.start + (targetCount === 1 ? 0 : i) : port,
      target: port,
      protocol,
      ...(appProtocol ? { appProtocol } : {}),
    });
  }
  if (isLoopback(hostIp)) {
    ctx.report.warn(path, `published on ${hostIp} only: no load balancer listener is made for it`);
  } else if (hostIp && hostIp !== "0.0.0.0" && hostIp !== "::") {
    ctx.report.warn(path, `host IP ${hostIp} is ignored: the load balancer decides who can reach the port`);
  }
}
