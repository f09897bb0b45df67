// `i2kit run`: the exact VM a service deploys as, built with the real
// linuxkit CLI as kernel+initrd and booted locally with QEMU, its published
// ports forwarded to loopback.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export type Accelerator = "kvm" | "tcg";

export interface PortForward {
  /** Port on 127.0.0.1. */
  host: number;
  /** Port in the guest (the container's, as containers use the VM's network). */
  guest: number;
  protocol: "tcp" | "udp";
  /** HTTP services are ready when they answer a request; others when they accept and hold a connection. */
  http: boolean;
}

export interface QemuOptions {
  kernel: string;
  initrd: string;
  cmdline: string;
  memoryMb: number;
  accelerator: Accelerator;
  forwards: readonly PortForward[];
  serialLog: string;
  /** Extra disks (raw images), e.g. a data volume, in the order the guest sees them (vda, vdb, …). */
  disks?: readonly ExtraDisk[];
}

export interface ExtraDisk {
  /** A raw disk image. */
  file: string;
  /**
   * The virtio-blk serial the guest reads in /sys/block/vdX/serial (at most
   * 20 characters), as an EBS volume's id without its dash on Nitro.
   */
  serial?: string;
}

/** The qemu-system-x86_64 command line for a LinuxKit kernel+initrd. */
export function qemuArgs(o: QemuOptions): string[] {
  const forwards = o.forwards.map((f) => `,hostfwd=${f.protocol}:127.0.0.1:${f.host}-:${f.guest}`).join("");
  return [
    ...(o.accelerator === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg"]),
    "-m",
    String(o.memoryMb),
    "-smp",
    "1",
    "-nographic",
    "-monitor",
    "none",
    "-no-reboot",
    "-serial",
    `file:${o.serialLog}`,
    "-kernel",
    o.kernel,
    "-initrd",
    o.initrd,
    "-append",
    o.cmdline,
    "-netdev",
    `user,id=net0${forwards}`,
    "-device",
    // No option ROM: the guest boots from -kernel, and Debian's QEMU may not ship the ROM file.
    "virtio-net-pci,netdev=net0,romfile=",
    "-device",
    "virtio-rng-pci",
    ...(o.disks ?? []).flatMap((d, i) => [
      "-drive",
      `file=${qemuOptionValue(d.file)},format=raw,if=none,id=disk${i}`,
      "-device",
      `virtio-blk-pci,drive=disk${i}${d.serial !== undefined ? `,serial=${checkSerial(d.serial)}` : ""}`,
    ]),
  ];
}

/** QEMU's option syntax: a comma inside a value is written twice. */
function qemuOptionValue(value: string): string {
  return value.replace(/,/g, ",,");
}

/** virtio-blk serials are at most 20 bytes (VIRTIO_BLK_ID_BYTES); QEMU cuts longer ones silently. */
function checkSerial(serial: string): string {
  if (!/^[A-Za-z0-9_.-]{1,20}$/.test(serial)) throw new Error(`disk serial ${JSON.stringify(serial)}: 1 to 20 letters, digits, '-', '_' or '.'`);
  return serial;
}

/** KVM when /dev/kvm can be opened; the caller still falls back to TCG when a KVM guest shows no sign of life. */
export function kvmUsable(): boolean {
  try {
    fs.accessSync("/dev/kvm", fs.constants.R_OK | fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export interface BuiltImage {
  kernel: string;
  initrd: string;
  cmdline: string;
  initrdBytes: number;
}

/** Runs `linuxkit build --format kernel+initrd`; says what to install when linuxkit is missing. */
export function buildKernelInitrd(linuxkit: string, configFile: string, outDir: string, name: string, extraArgs: readonly string[] = []): BuiltImage {
  fs.mkdirSync(outDir, { recursive: true });
  const result = spawnSync(linuxkit, ["build", ...extraArgs, "--format", "kernel+initrd", "--name", name, "--dir", outDir, configFile], {
    encoding: "utf8",
    cwd: path.dirname(configFile),
  });
  if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error(`linuxkit is not installed: go install github.com/linuxkit/linuxkit/src/cmd/linuxkit@v0.0.0-20250915124940-43200ea63425 (v1.8.2), or set I2KIT_LINUXKIT`);
  }
  if (result.status !== 0) throw new Error(`linuxkit build failed (exit ${String(result.status)}):\n${(result.stderr ?? "").trim().split("\n").slice(-15).join("\n")}`);
  const kernel = path.join(outDir, `${name}-kernel`);
  const initrd = path.join(outDir, `${name}-initrd.img`);
  const cmdline = fs.readFileSync(path.join(outDir, `${name}-cmdline`), "utf8").trim();
  return { kernel, initrd, cmdline, initrdBytes: fs.statSync(initrd).size };
}

/** A free port on 127.0.0.1, preferring `wanted`. */
export async function freeLoopbackPort(wanted?: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(undefined));
      server.listen(port, "127.0.0.1", () => {
        const got = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(got));
      });
    });
  if (wanted !== undefined && wanted >= 1024) {
    const got = await tryListen(wanted);
    if (got !== undefined) return got;
  }
  return (await tryListen(0)) as number;
}

/**
 * Whether the guest answers on a forwarded port. QEMU's user network accepts
 * every connection on a forwarded port and closes it when the guest does not
 * listen, so "connected" means nothing: an HTTP port must answer a request,
 * another port must keep the connection open for a moment.
 */
export function probe(port: number, http: boolean, holdMs = 700): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(3000, () => done(false));
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
    socket.on("data", (data) => done(!http || /^HTTP\/1\.[01] \d{3}/.test(data.toString("latin1"))));
    socket.on("connect", () => {
      if (http) socket.write("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
      else setTimeout(() => done(true), holdMs);
    });
  });
}

export interface RunningVm {
  process: ChildProcess;
  accelerator: Accelerator;
  serialLog: string;
  /** Seconds from starting QEMU until every forwarded TCP port answered. */
  bootToReadySeconds: number;
  stop(): Promise<void>;
}

export interface BootOptions extends Omit<QemuOptions, "accelerator"> {
  accelerator?: Accelerator | "auto";
  timeoutMs: number;
  qemu?: string;
}

/** Boots the VM and waits until every forwarded TCP port answers; stops it and throws (naming the serial log) otherwise. */
export async function bootAndWait(o: BootOptions): Promise<RunningVm> {
  const wanted = o.accelerator ?? "auto";
  const first: Accelerator = wanted === "auto" ? (kvmUsable() ? "kvm" : "tcg") : wanted;
  try {
    return await bootOnce({ ...o, accelerator: first }, wanted === "auto" && first === "kvm" ? 15_000 : undefined);
  } catch (e) {
    if (!(e instanceof SilentGuest)) throw e;
    // A KVM guest that never prints is the hang this machine class is known for: emulate instead.
    return bootOnce({ ...o, accelerator: "tcg" }, undefined);
  }
}

class SilentGuest extends Error {}

async function bootOnce(o: BootOptions & { accelerator: Accelerator }, silentAfterMs: number | undefined): Promise<RunningVm> {
  fs.writeFileSync(o.serialLog, "");
  const started = Date.now();
  const child = spawn(o.qemu ?? "qemu-system-x86_64", qemuArgs(o), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.once("exit", () => (exited = true));
  const stop = async () => {
    if (exited) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill("SIGTERM");
    });
  };
  const deadline = started + o.timeoutMs;
  const pending = new Set(o.forwards.filter((f) => f.protocol === "tcp"));
  while (pending.size > 0) {
    if (exited) throw new Error(`QEMU exited before the VM was ready: ${stderr.trim() || "no message"} (serial log: ${o.serialLog})`);
    if (silentAfterMs !== undefined && Date.now() - started > silentAfterMs && fs.statSync(o.serialLog).size === 0) {
      await stop();
      throw new SilentGuest();
    }
    if (Date.now() > deadline) {
      await stop();
      const ports = [...pending].map((f) => `${f.host}→${f.guest}`).join(", ");
      throw new Error(`the VM did not answer on ${ports} within ${o.timeoutMs / 1000} s (serial log: ${o.serialLog})`);
    }
    for (const f of [...pending]) if (await probe(f.host, f.http)) pending.delete(f);
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 500));
  }
  return { process: child, accelerator: o.accelerator, serialLog: o.serialLog, bootToReadySeconds: (Date.now() - started) / 1000, stop };
}
