// runService: render a service's config, build it with linuxkit, boot it
// with QEMU and wait until its published ports answer on loopback.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { renderLinuxKitConfig, type RenderOptions } from "../../components/linuxkit/render";
import { effectiveListeners } from "../../components/service-plan";
import { loadFile, type LoadOptions } from "../../schema/load";
import type { ServiceSpec } from "../../schema/spec";
import { bootAndWait, buildKernelInitrd, freeLoopbackPort, type Accelerator, type BuiltImage, type ExtraDisk, type PortForward, type RunningVm } from "./vm";

export interface RunOptions {
  service?: string;
  load?: LoadOptions;
  /** The linuxkit executable (default: $I2KIT_LINUXKIT, else linuxkit on PATH). */
  linuxkit?: string;
  /** linuxkit's image cache (default: $LINUXKIT_CACHE, else linuxkit's own). */
  linuxkitCache?: string;
  accelerator?: Accelerator | "auto";
  memoryMb?: number;
  timeoutMs?: number;
  /** Where the config, kernel, initrd and serial log go (default: a new temporary directory). */
  workDir?: string;
  /** Kernel command line to use instead of the rendered one (the AWS console is ttyS0 either way). */
  cmdline?: string;
  /**
   * Passed to renderLinuxKitConfig (pinned images, base images, the agent, …).
   * A local run has no AWS behind it, so the boot agent is left out unless
   * `render.agent` asks for it (an end-to-end test with a local IMDS and API).
   */
  render?: RenderOptions;
  /** Extra raw disks, attached as virtio-blk devices in this order (the guest sees /sys/block/vdX/serial). */
  disks?: readonly ExtraDisk[];
}

export interface LocalUrl {
  service: string;
  listener: string;
  url: string;
}

export interface RunResult {
  service: ServiceSpec;
  vm: RunningVm;
  image: BuiltImage;
  urls: LocalUrl[];
  workDir: string;
}

export function pickService(services: readonly ServiceSpec[], wanted: string | undefined, file: string): ServiceSpec {
  const names = services.map((s) => s.name);
  if (wanted) {
    const found = services.find((s) => s.name === wanted);
    if (!found) throw new Error(`${file} has no service ${wanted} (it has ${names.join(", ")})`);
    return found;
  }
  if (services.length !== 1) throw new Error(`${file} has ${services.length} services (${names.join(", ")}): pick one with --service`);
  return services[0] as ServiceSpec;
}

export async function runService(file: string, options: RunOptions = {}): Promise<RunResult> {
  const { app } = loadFile(file, options.load);
  const service = pickService(app.services, options.service, file);
  const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `i2kit-run-${service.name}-`));
  fs.mkdirSync(workDir, { recursive: true });
  const rendered = renderLinuxKitConfig(service, { ...(app.name !== undefined ? { app: app.name } : {}), ...options.render, agent: options.render?.agent ?? false });
  const configFile = path.join(workDir, `${service.name}.linuxkit.yml`);
  fs.writeFileSync(configFile, rendered.yaml);
  const cache = options.linuxkitCache ?? process.env.LINUXKIT_CACHE;
  const image = buildKernelInitrd(options.linuxkit ?? process.env.I2KIT_LINUXKIT ?? "linuxkit", configFile, path.join(workDir, "build"), service.name, cache ? ["--cache", cache] : []);

  const forwards: PortForward[] = [];
  const urls: LocalUrl[] = [];
  for (const l of effectiveListeners(service)) {
    const protocol = l.targetProtocol === "UDP" ? "udp" : "tcp";
    const host = await freeLoopbackPort(l.port);
    const http = l.targetProtocol === "HTTP";
    forwards.push({ host, guest: l.targetPort, protocol, http });
    urls.push({ service: service.name, listener: `${l.protocol}:${l.port}`, url: `${http ? "http" : protocol}://127.0.0.1:${host}` });
  }
  const vm = await bootAndWait({
    kernel: image.kernel,
    initrd: image.initrd,
    cmdline: options.cmdline ?? image.cmdline,
    memoryMb: options.memoryMb ?? 512,
    forwards,
    serialLog: path.join(workDir, "serial.log"),
    timeoutMs: options.timeoutMs ?? 300_000,
    accelerator: options.accelerator ?? "auto",
    ...(options.disks ? { disks: options.disks } : {}),
  });
  return { service, vm, image, urls, workDir };
}
