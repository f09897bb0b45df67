import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { pickService } from "../cli/run/run";
import { freeLoopbackPort, probe, qemuArgs } from "../cli/run/vm";
import { defineApp } from "../schema/load";

describe("the QEMU command line of i2kit run", () => {
  it("boots the kernel and initrd with the serial log, forwards each port to loopback, and picks the accelerator", () => {
    const args = qemuArgs({
      kernel: "/b/web-kernel",
      initrd: "/b/web-initrd.img",
      cmdline: "console=ttyS0",
      memoryMb: 256,
      accelerator: "tcg",
      forwards: [
        { host: 18080, guest: 8080, protocol: "tcp", http: true },
        { host: 15353, guest: 53, protocol: "udp", http: false },
      ],
      serialLog: "/b/serial.log",
    });
    expect(args.slice(0, 2)).toEqual(["-accel", "tcg"]);
    expect(args).toEqual(expect.arrayContaining(["-kernel", "/b/web-kernel", "-initrd", "/b/web-initrd.img", "-append", "console=ttyS0", "-serial", "file:/b/serial.log", "-m", "256", "-no-reboot"]));
    expect(args[args.indexOf("-netdev") + 1]).toBe("user,id=net0,hostfwd=tcp:127.0.0.1:18080-:8080,hostfwd=udp:127.0.0.1:15353-:53");
    expect(qemuArgs({ kernel: "k", initrd: "i", cmdline: "", memoryMb: 64, accelerator: "kvm", forwards: [], serialLog: "s" }).slice(0, 4)).toEqual(["-accel", "kvm", "-cpu", "host"]);
  });

  it("attaches extra raw disks as virtio-blk devices in order, with the serial the guest reads in /sys/block/vdX/serial", () => {
    const base = { kernel: "k", initrd: "i", cmdline: "", memoryMb: 64, accelerator: "tcg" as const, forwards: [], serialLog: "s" };
    const args = qemuArgs({ ...base, disks: [{ file: "/d/data.img", serial: "vol0123456789abcdef0" }, { file: "/d/a,b.img" }] });
    const tail = args.slice(args.indexOf("-drive"));
    expect(tail).toEqual([
      "-drive",
      "file=/d/data.img,format=raw,if=none,id=disk0",
      "-device",
      "virtio-blk-pci,drive=disk0,serial=vol0123456789abcdef0",
      "-drive",
      "file=/d/a,,b.img,format=raw,if=none,id=disk1",
      "-device",
      "virtio-blk-pci,drive=disk1",
    ]);
    expect(qemuArgs(base)).not.toContain("-drive");
    // virtio-blk keeps 20 bytes of a serial: a longer one would be cut, so it is refused.
    expect(() => qemuArgs({ ...base, disks: [{ file: "x", serial: "vol-0123456789abcdef01" }] })).toThrow("1 to 20 letters");
    expect(() => qemuArgs({ ...base, disks: [{ file: "x", serial: "a,b" }] })).toThrow("disk serial");
  });
});

describe("readiness probes", () => {
  it("count a port as up only when it answers: an HTTP status line, or a connection held open", async () => {
    const port = await freeLoopbackPort();
    expect(await probe(port, false)).toBe(false);
    // What QEMU's user network does for a guest port nobody listens on: accept, then close.
    const slirpLike = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => slirpLike.listen(port, "127.0.0.1", () => r()));
    expect(await probe(port, false)).toBe(false);
    expect(await probe(port, true)).toBe(false);
    await new Promise<void>((r) => slirpLike.close(() => r()));
    const http = net.createServer((s) => s.once("data", () => s.end("HTTP/1.0 200 OK\r\n\r\nhello")));
    await new Promise<void>((r) => http.listen(port, "127.0.0.1", () => r()));
    expect(await probe(port, true)).toBe(true);
    await new Promise<void>((r) => http.close(() => r()));
    const holding = net.createServer(() => undefined);
    await new Promise<void>((r) => holding.listen(port, "127.0.0.1", () => r()));
    expect(await probe(port, false, 200)).toBe(true);
    await new Promise<void>((r) => {
      holding.close(() => r());
      // Drop the held connection so close() can finish.
      setTimeout(() => r(), 100);
    });
  });
});

describe("i2kit run picks one service", () => {
  const app = defineApp({ name: "x", services: [{ name: "web", containers: [{ name: "web", image: "w" }] }, { name: "db", containers: [{ name: "db", image: "d" }] }] });
  it("by name, or refuses when the file has several and none is named", () => {
    expect(pickService(app.services, "db", "compose.yaml").name).toBe("db");
    expect(() => pickService(app.services, undefined, "compose.yaml")).toThrow("compose.yaml has 2 services (web, db): pick one with --service");
    expect(() => pickService(app.services, "cache", "compose.yaml")).toThrow("compose.yaml has no service cache (it has web, db)");
  });
});
