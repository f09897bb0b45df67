// The boot agent's part of a LinuxKit config (agent/README.md is its
// contract): the config file it reads, the onboot step that writes secrets
// and attaches a stateful service's volume, and the service that ships
// container output to CloudWatch Logs. Pure functions, like the renderer.
import type { SecretSpec, ServiceSpec } from "../../schema/spec";
import type { LinuxKitFile, LinuxKitImage } from "./model";

/** Where the agent's config lives in the VM. */
export const AGENT_CONFIG_PATH = "/etc/i2kit/agent.json";
/** The onboot step's name and the log-shipping service's name (RESERVED_CONTAINER_NAMES in the spec). */
export const AGENT_BOOT_NAME = "i2kit-agent";
export const AGENT_LOGS_NAME = "i2kit-logs";
/** Stands in for the agent image until the components pin the one they built. */
export const AGENT_IMAGE_PLACEHOLDER = "i2kit/agent:build";
/** LinuxKit writes each service's stdout to <dir>/<service>.out.log and its stderr to <dir>/<service>.log. */
const LOG_DIR = "/var/log";
/** Where the secrets go: a directory per container, on /run (tmpfs). */
export const SECRETS_ROOT = "/run/i2kit/secrets";
/** Device name the stateful volume is attached as (Nitro renames it; the agent finds it by serial). */
export const STATEFUL_DEVICE = "/dev/sdf";

export interface AgentOptions {
  /** The agent image, `repo@sha256:…` once built. */
  image: string;
  /**
   * Environment of both agent entries. For tests only, to point the agent at
   * a local IMDS and AWS API (AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_ENDPOINT_URL*);
   * the components never set it.
   */
  env?: Readonly<Record<string, string>>;
}

export interface AgentSecret {
  name: string;
  secretId: string;
  container: string;
  path: string;
  uid?: number;
  gid?: number;
  /** Without uid: the container's config.json, whose process.user linuxkit build resolved (agent/README.md). */
  ownerFrom?: string;
  mode: number;
}

/** The JSON the agent reads (agent/README.md, "Config"). */
export interface AgentConfig {
  app: string;
  service: string;
  secrets: AgentSecret[];
  logGroup: string;
  logDir: string;
  containers: string[];
  volume?: { device: string };
}

/** One log group per app and service. */
export function logGroupName(app: string, service: string): string {
  return `/i2kit/${app}/${service}`;
}

/** The Secrets Manager id of a secret: i2kit's own name for a managed one, the given name for an external one. */
export function secretId(app: string, service: string, secret: SecretSpec): string {
  return secret.source.kind === "external" ? secret.source.name : `i2kit/${app}/${service}/${secret.name}`;
}

/** Where linuxkit build puts a service's OCI config in the VM. */
export const SERVICES_ROOT = "/containers/services";
export function containerConfigPath(container: string): string {
  return `${SERVICES_ROOT}/${container}/config.json`;
}

/** Where a container's secret is written on the VM, and bound from. */
export function secretPath(container: string, secret: string): string {
  return `${SECRETS_ROOT}/${container}/${secret}`;
}

export function agentConfig(app: string, service: ServiceSpec): AgentConfig {
  const byName = new Map(service.secrets.map((s) => [s.name, s]));
  const secrets: AgentSecret[] = [];
  for (const c of service.containers) {
    for (const m of c.secrets) {
      const spec = byName.get(m.source);
      // The loader refuses a secret mount without a declaration; a typed spec may still have one.
      if (!spec) throw new Error(`service ${service.name}: container ${c.name} uses secret "${m.source}", which the service does not declare`);
      const owner = m.uid !== undefined ? { uid: m.uid, ...(m.gid !== undefined ? { gid: m.gid } : {}) } : { ownerFrom: containerConfigPath(c.name) };
      secrets.push({ name: m.source, secretId: secretId(app, service.name, spec), container: c.name, path: secretPath(c.name, m.source), ...owner, mode: m.mode });
    }
  }
  return {
    app,
    service: service.name,
    secrets,
    logGroup: logGroupName(app, service.name),
    logDir: LOG_DIR,
    containers: service.containers.map((c) => c.name),
    ...(service.stateful ? { volume: { device: STATEFUL_DEVICE } } : {}),
  };
}

export interface AgentParts {
  file: LinuxKitFile;
  onboot: LinuxKitImage;
  service: LinuxKitImage;
}

/** The config file and the two agent entries, each with only the binds and capabilities it needs. */
export function agentParts(config: AgentConfig, options: AgentOptions): AgentParts {
  const env = Object.keys(options.env ?? {})
    .sort()
    .map((k) => `${k}=${options.env?.[k]}`);
  const common = {
    image: options.image,
    net: "host",
    ...(env.length > 0 ? { env } : {}),
  };
  const configBind = `${AGENT_CONFIG_PATH}:${AGENT_CONFIG_PATH}:ro`;
  const certs = "/etc/ssl/certs:/etc/ssl/certs:ro";
  return {
    file: { path: AGENT_CONFIG_PATH.slice(1), contents: `${JSON.stringify(config, null, 2)}\n`, mode: "0444" },
    onboot: {
      name: AGENT_BOOT_NAME,
      ...common,
      command: ["/usr/bin/i2kit-agent", "boot", "-config", AGENT_CONFIG_PATH],
      binds: [configBind, certs, "/run/i2kit:/run/i2kit", ...(config.secrets.some((s) => s.ownerFrom) ? [`${SERVICES_ROOT}:${SERVICES_ROOT}:ro`] : [])],
      // Secrets are written by root and handed to each container's uid.
      capabilities: ["CAP_CHOWN"],
      runtime: { mkdir: [SECRETS_ROOT] },
    },
    service: {
      name: AGENT_LOGS_NAME,
      ...common,
      command: ["/usr/bin/i2kit-agent", "ship", "-config", AGENT_CONFIG_PATH],
      binds: [configBind, certs, `${LOG_DIR}:${LOG_DIR}:ro`],
      capabilities: [],
      readonly: true,
      noNewPrivileges: true,
    },
  };
}
