// The VM itself: initrd size, boot-to-ready time under emulation (median of
// 3), and guest memory in use after boot, read from the guest's own
// /proc/meminfo on the serial console. Built by the real linuxkit CLI from
// the offline cache, whose base images are stand-ins (see e2e/).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runService } from "../cli/run/run";
import { buildAppImage, offlineLinuxKit } from "../test/e2e/harness";

const COMPOSE = `services:
  web:
    image: i2kit-bench/web:1
    ports: ["8080:8080"]
    read_only: true
    x-i2kit: {protocol: http}
`;

async function memoryAfterBoot(serialLog: string): Promise<string> {
  for (let i = 0; i < 60; i++) {
    const m = /mem after services settled[^:]*: used=(\d+)MiB/.exec(fs.readFileSync(serialLog, "latin1"));
    if (m) return `${m[1]} MiB`;
    await new Promise((r) => setTimeout(r, 500));
  }
  return "not reported";
}

export async function benchVm(): Promise<void> {
  const lk = offlineLinuxKit();
  buildAppImage(lk, { name: "i2kit-bench/web:1", files: { "www/index.html": { contents: "bench\n" } }, entrypoint: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-bench-vm-"));
  fs.writeFileSync(path.join(dir, "compose.yaml"), COMPOSE);
  const times: number[] = [];
  let initrd = 0;
  let kernel = 0;
  let memory = "";
  for (let i = 0; i < 3; i++) {
    const r = await runService(path.join(dir, "compose.yaml"), { linuxkit: lk.linuxkit, linuxkitCache: lk.cache, accelerator: "tcg", memoryMb: 256 });
    times.push(r.vm.bootToReadySeconds);
    initrd = r.image.initrdBytes;
    kernel = fs.statSync(r.image.kernel).size;
    if (i === 0) memory = await memoryAfterBoot(r.vm.serialLog);
    await r.vm.stop();
  }
  const median = [...times].sort((a, b) => a - b)[1] ?? 0;
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  console.log("\nThe VM (busybox httpd service; kernel, init and onboot images are the offline stand-ins of e2e/)");
  console.log(`  image: initrd ${mb(initrd)} + kernel ${mb(kernel)} = ${mb(initrd + kernel)}      original i2kit: ~60 MB`);
  console.log(`  boot to ready under QEMU emulation (TCG), median of 3: ${median.toFixed(1)} s (${times.map((t) => t.toFixed(1)).join(", ")})`);
  console.log(`  guest memory in use after boot (MemTotal - MemAvailable): ${memory}      original i2kit: 78 MB`);
}
