// ServiceSpec → LinuxKit config → YAML, as a pure function. The same spec
// always gives byte-identical YAML, whose sha256 is the content hash that
// decides whether a new VM image (and AMI) is needed.
import { createHash } from "node:crypto";
import * as path from "node:path";
import { stringify } from "yaml";
import type { ContainerSpec, Mount, ServiceSpec } from "../../schema/spec";
import { agentConfig, agentParts, AGENT_IMAGE_PLACEHOLDER, secretPath, SERVICES_ROOT, type AgentOptions } from "./agent";
import { effectiveCapabilities } from "./capabilities";
import { AWS_KERNEL_CMDLINE, DEFAULT_BASE_IMAGES, type BaseImages } from "./images";
import type { LinuxKitConfig, LinuxKitFile, LinuxKitImage } from "./model";

/** Where named volumes live on the VM: the data disk, mounted at boot. */
export const VOLUME_ROOT = "/var/lib/i2kit";
/** Where files baked from the project live on the VM. */
export const FILES_ROOT = "/etc/i2kit/files";

/** What is known about a container's image once it is pinned (ContainerImage fills this in). */
export interface ResolvedImage {
  /** `repo@sha256:…` */
  ref: string;
  entrypoint?: string[];
  cmd?: string[];
  /** The image config's Env, `KEY=value`; LinuxKit's `env` replaces it, so the renderer carries it over. */
  env?: string[];
}

/** What Docker gives a container whose image sets no PATH (moby's oci.DefaultPathEnv). */
export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface RenderOptions {
  /** Overrides of the pinned base images. */
  baseImages?: Partial<BaseImages>;
  /** Pinned images by container name. */
  images?: Readonly<Record<string, ResolvedImage>>;
  kernelCmdline?: string;
  /** The app the service belongs to: it names the log group and the managed secrets (default "app"). */
  app?: string;
  /**
   * The boot agent (secrets, stateful volume, logs). By default it is there,
   * with a placeholder image until the components pin the one they build;
   * `false` leaves it out (a local run without AWS).
   */
  agent?: AgentOptions | false;
}

export interface RenderedConfig {
  service: string;
  config: LinuxKitConfig;
  yaml: string;
  /** `sha256:<hex>` of `yaml`. */
  contentHash: string;
  /** What the renderer had to guess or leave out, by container. */
  warnings: string[];
}

export function renderLinuxKitConfig(service: ServiceSpec, options: RenderOptions = {}): RenderedConfig {
  const base = { ...DEFAULT_BASE_IMAGES, ...options.baseImages };
  const warnings: string[] = [];
  const files: LinuxKitFile[] = [];
  const services = service.containers.map((c) => renderContainer(service, c, options.images?.[c.name], files, warnings));
  const agent = options.agent === false ? undefined : agentParts(agentConfig(options.app ?? "app", service), options.agent ?? { image: AGENT_IMAGE_PLACEHOLDER });

  const onboot: LinuxKitImage[] = [
    { name: "sysctl", image: base.sysctl },
    { name: "dhcpcd", image: base.dhcpcd, command: ["/sbin/dhcpcd", "--nobackground", "-f", "/dhcpcd.conf", "-1"] },
  ];
  // With the network up and before any disk is formatted: secrets, and a stateful service's own volume attached.
  if (agent) onboot.push(agent.onboot);
  if (service.stateful || service.containers.some((c) => c.mounts.some((m) => m.type === "volume"))) {
    // Named volumes need a real disk: format the blank data disk once, then mount it.
    onboot.push({ name: "format", image: base.format }, { name: "mount", image: base.mount, command: ["/usr/bin/mountie", VOLUME_ROOT] });
  }

  const config: LinuxKitConfig = {
    kernel: { image: base.kernel, cmdline: options.kernelCmdline ?? AWS_KERNEL_CMDLINE },
    init: [base.init, base.runc, base.containerd, base.caCertificates],
    onboot,
    services: agent ? [...services, agent.service] : services,
  };
  if (agent) files.unshift(agent.file);
  if (files.length > 0) config.files = files;
  const yaml = `# i2kit: LinuxKit config of service "${service.name}". Generated; edit the service instead.\n${stringify(config, { lineWidth: 0 })}`;
  return { service: service.name, config, yaml, contentHash: contentHash(yaml), warnings };
}

export function contentHash(yaml: string): string {
  return `sha256:${createHash("sha256").update(yaml).digest("hex")}`;
}

function renderContainer(
  service: ServiceSpec,
  c: ContainerSpec,
  resolved: ResolvedImage | undefined,
  files: LinuxKitFile[],
  warnings: string[],
): LinuxKitImage {
  const image = resolved?.ref ?? c.image ?? `${service.name}-${c.name}:build`;
  if (!resolved && !c.image) warnings.push(`${c.name}: the image is built at deploy time; "${image}" stands in for it until then`);
  const out: LinuxKitImage = {
    name: c.name,
    image,
    net: "host",
    capabilities: effectiveCapabilities(c),
  };
  const command = commandLine(c, resolved, warnings);
  if (command) out.command = command;
  const env = containerEnv(c, resolved, warnings);
  if (env) out.env = env;
  if (c.workingDir) out.cwd = c.workingDir;
  if (c.user) {
    const [uid, gid] = c.user.split(":") as [string, string | undefined];
    out.uid = /^\d+$/.test(uid) ? Number(uid) : uid;
    if (gid !== undefined) out.gid = /^\d+$/.test(gid) ? Number(gid) : gid;
  }
  const binds: string[] = [];
  const tmpfs: string[] = [];
  const mkdir: string[] = [];
  c.mounts.forEach((m, index) => renderMount(c, m, index, { binds, tmpfs, mkdir, files }));
  for (const s of c.secrets) {
    const target = s.target.startsWith("/") ? s.target : `/run/secrets/${s.target}`;
    binds.push(`${secretPath(c.name, s.source)}:${target}:ro`);
  }
  if (binds.length > 0) out.binds = binds;
  if (tmpfs.length > 0) out.tmpfs = tmpfs;
  if (mkdir.length > 0) out.runtime = { mkdir };
  if (c.readOnly) {
    out.readonly = true;
    files.push(...readOnlyMountPoints(c));
  }
  if (c.noNewPrivileges && !c.privileged) out.noNewPrivileges = true;
  if (c.oomScoreAdj !== undefined) out.oomScoreAdj = c.oomScoreAdj;
  const sysctlKeys = Object.keys(c.sysctls).sort();
  if (sysctlKeys.length > 0) out.sysctl = Object.fromEntries(sysctlKeys.map((k) => [k, c.sysctls[k] as string]));
  const rlimits = Object.keys(c.ulimits)
    .sort()
    .map((name) => `${name},${c.ulimits[name]?.soft},${c.ulimits[name]?.hard}`);
  if (rlimits.length > 0) out.rlimits = rlimits;
  const resources = renderResources(c);
  if (resources) out.resources = resources;
  const annotations = { ...c.annotations, ...bindDigests(c) };
  const annotationKeys = Object.keys(annotations).sort();
  if (annotationKeys.length > 0) out.annotations = Object.fromEntries(annotationKeys.map((k) => [k, annotations[k] as string]));
  return out;
}

/**
 * Compose adds `environment` to the image's own variables, but LinuxKit's
 * `env` replaces them (linuxkit moby/config.go: the yaml's env wins over
 * the image's), so a rendered env starts from the image's: PATH above all.
 * The image's keys come first, in its order, then the service's, sorted.
 */
function containerEnv(c: ContainerSpec, resolved: ResolvedImage | undefined, warnings: string[]): string[] | undefined {
  const keys = Object.keys(c.environment).sort();
  if (keys.length === 0) return undefined;
  if (!resolved?.env) {
    warnings.push(`${c.name}: environment is rendered with Docker's default PATH in place of the image's own variables, which are only known once the image is pinned`);
  }
  const base = resolved?.env ?? [DEFAULT_PATH];
  const fromImage = base.filter((kv) => !((kv.split("=", 1)[0] ?? "") in c.environment));
  return [...fromImage, ...keys.map((k) => `${k}=${c.environment[k]}`)];
}

/**
 * LinuxKit's `command` replaces the image's entrypoint and cmd together,
 * so Compose's rules are applied here: an entrypoint drops the image's cmd;
 * a command alone keeps the image's entrypoint, which must then be known.
 */
function commandLine(c: ContainerSpec, resolved: ResolvedImage | undefined, warnings: string[]): string[] | undefined {
  if (c.entrypoint) return [...c.entrypoint, ...(c.command ?? [])];
  if (!c.command) return undefined;
  if (resolved?.entrypoint) return [...resolved.entrypoint, ...c.command];
  if (!resolved) {
    warnings.push(`${c.name}: command is rendered without the image's entrypoint, which is only known once the image is pinned`);
  }
  return c.command;
}

interface MountOutput {
  binds: string[];
  tmpfs: string[];
  mkdir: string[];
  files: LinuxKitFile[];
}

function renderMount(c: ContainerSpec, m: Mount, index: number, out: MountOutput): void {
  const ro = m.type !== "tmpfs" && m.readOnly ? ":ro" : "";
  switch (m.type) {
    case "volume": {
      const dir = `${VOLUME_ROOT}/volumes/${m.source}`;
      out.mkdir.push(dir);
      out.binds.push(`${dir}:${m.target}${ro}`);
      return;
    }
    case "bind": {
      const onVm = `${FILES_ROOT}/${c.name}/${index}-${path.posix.basename(m.target) || "root"}`;
      const file: LinuxKitFile = { path: onVm.slice(1) };
      if (m.contents !== undefined) {
        file.contents = m.contents;
        file.mode = m.readOnly ? "0444" : "0644";
      } else {
        file.source = m.source;
      }
      out.files.push(file);
      out.binds.push(`${onVm}:${m.target}${ro}`);
      return;
    }
    case "tmpfs": {
      const options = [
        ...(m.sizeBytes !== undefined ? [`size=${m.sizeBytes}`] : []),
        ...(m.mode !== undefined ? [`mode=${m.mode.toString(8)}`] : []),
      ];
      out.tmpfs.push(options.length > 0 ? `${m.target}:${options.join(",")}` : m.target);
      return;
    }
  }
}

/** Where linuxkit build puts a service's image tree in the VM. */
export function serviceRootfs(container: string): string {
  return `${SERVICES_ROOT.slice(1)}/${container}/rootfs`;
}

/**
 * A read-only container's root is its image tree on the VM's read-only root
 * (LinuxKit's readonly: no overlay), so runc cannot create a mount point
 * that the image lacks, as Docker would: "mkdir …/rootfs/run/secrets:
 * read-only file system". Each mount's target is added to the image tree at
 * build time instead, as an empty file for a file bind (a secret, a baked
 * file) or a directory. linuxkit also writes every leading directory, as
 * root's with mode 0755; what the image had at a target is hidden by the
 * mount anyway.
 */
function readOnlyMountPoints(c: ContainerSpec): LinuxKitFile[] {
  const points = new Map<string, boolean>(); // target → is a directory
  for (const m of c.mounts) points.set(m.target, m.type !== "bind" || m.kind === "directory");
  for (const s of c.secrets) points.set(s.target.startsWith("/") ? s.target : `/run/secrets/${s.target}`, false);
  return [...points.keys()].sort().map((target) => {
    const file = `${serviceRootfs(c.name)}${target}`;
    return points.get(target) ? { path: file, directory: true, mode: "0755" } : { path: file, contents: "", mode: "0644" };
  });
}

/** Files copied from `source` change without changing the YAML: their digests keep the hash honest. */
function bindDigests(c: ContainerSpec): Record<string, string> {
  const out: Record<string, string> = {};
  c.mounts.forEach((m, index) => {
    if (m.type === "bind" && m.contents === undefined) out[`org.i2kit.source.${index}`] = `${m.source}@${m.digest}`;
  });
  return out;
}

function renderResources(c: ContainerSpec): LinuxKitImage["resources"] | undefined {
  const r = c.resources;
  if (!r) return undefined;
  const out: NonNullable<LinuxKitImage["resources"]> = {};
  if (r.memoryLimitBytes !== undefined || r.memoryReservationBytes !== undefined) {
    out.memory = {
      ...(r.memoryLimitBytes !== undefined ? { limit: r.memoryLimitBytes } : {}),
      ...(r.memoryReservationBytes !== undefined ? { reservation: r.memoryReservationBytes } : {}),
    };
  }
  if (r.cpuLimit !== undefined) out.cpu = { quota: Math.round(r.cpuLimit * 100_000), period: 100_000 };
  if (r.pidsLimit !== undefined) out.pids = { limit: r.pidsLimit };
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Renders every service of an app, in the app's order. */
export function renderApp(app: { name?: string; services: readonly ServiceSpec[] }, options: RenderOptions = {}): RenderedConfig[] {
  const withApp = app.name !== undefined && options.app === undefined ? { ...options, app: app.name } : options;
  return app.services.map((s) => renderLinuxKitConfig(s, withApp));
}
