// The i2kit port syntax, kept from the original tool:
// `LBPROTO:LBPORT:INSTPROTO:INSTPORT[:CERT_ARN]`, e.g. `https:443:http:80:arn:aws:acm:…`.
import type { Listener, ListenerProtocol } from "../spec";

/**
 * Which instance protocols each load balancer protocol may forward to
 * (the original i2kit's rules; SSL is spelled TLS in today's load balancers).
 */
export const ALLOWED_TARGET_PROTOCOLS: Record<ListenerProtocol, readonly ListenerProtocol[]> = {
  HTTP: ["HTTP"],
  HTTPS: ["HTTP", "HTTPS"],
  TCP: ["TCP"],
  TLS: ["TLS", "TCP"],
  UDP: ["UDP"],
};

function protocolOf(text: string): ListenerProtocol | undefined {
  const upper = text.toUpperCase();
  if (upper === "SSL") return "TLS";
  return upper in ALLOWED_TARGET_PROTOCOLS ? (upper as ListenerProtocol) : undefined;
}

function portOf(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** Parses one listener; a string result is the reason it is invalid. */
export function parseListener(text: string): Listener | string {
  const parts = text.trim().split(":");
  if (parts.length < 4) return `"${text}" is not a port (LBPROTO:LBPORT:INSTPROTO:INSTPORT[:CERT_ARN])`;
  const [lbProto, lbPort, instProto, instPort] = parts as [string, string, string, string];
  // An ACM ARN has colons of its own: everything after the fourth field is the certificate.
  const certificate = parts.slice(4).join(":");
  const protocol = protocolOf(lbProto);
  const targetProtocol = protocolOf(instProto);
  const port = portOf(lbPort);
  const targetPort = portOf(instPort);
  if (!protocol) return `"${lbProto}" is not a load balancer protocol (HTTP, HTTPS, TCP, SSL, UDP)`;
  if (!targetProtocol) return `"${instProto}" is not an instance protocol (HTTP, HTTPS, TCP, SSL, UDP)`;
  if (port === undefined) return `"${lbPort}" is not a port number`;
  if (targetPort === undefined) return `"${instPort}" is not a port number`;
  if (!ALLOWED_TARGET_PROTOCOLS[protocol].includes(targetProtocol)) {
    return `a ${lbProto.toUpperCase()} listener forwards to ${ALLOWED_TARGET_PROTOCOLS[protocol].join(" or ")}, not ${instProto.toUpperCase()}`;
  }
  const needsCertificate = protocol === "HTTPS" || protocol === "TLS";
  if (needsCertificate && certificate === "") return `a ${lbProto.toUpperCase()} listener needs a certificate ARN as its fifth field`;
  if (!needsCertificate && certificate !== "") return `a ${lbProto.toUpperCase()} listener takes no certificate`;
  if (certificate !== "" && !certificate.startsWith("arn:")) return `"${certificate}" is not a certificate ARN`;
  return { protocol, port, targetProtocol, targetPort, ...(certificate ? { certificateArn: certificate } : {}) };
}
