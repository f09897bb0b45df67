// The offline LinuxKit setup the end-to-end tests boot from (built by
// e2e/offline-cache.sh), and the small application images the tests build
// themselves: busybox, a few files, an entrypoint.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface OfflineLinuxKit {
  linuxkit: string;
  cache: string;
  /** The cache directory of e2e/offline-cache.sh (its .debs and the mkoci.py it writes). */
  dir: string;
}

const root = path.resolve(__dirname, "../..");

/** Builds or reuses the offline cache and reads the settings it writes. */
export function offlineLinuxKit(): OfflineLinuxKit {
  const cacheDir = process.env.I2KIT_CACHE ?? path.join(os.homedir(), ".cache", "i2kit");
  execFileSync("bash", [path.join(root, "e2e/offline-cache.sh")], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, I2KIT_CACHE: cacheDir } });
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(path.join(cacheDir, "env.sh"), "utf8").split("\n")) {
    const m = /^export ([A-Z0-9_]+)="(.*)"$/.exec(line);
    if (m) env[m[1] as string] = m[2] as string;
  }
  if (!env.LINUXKIT || !env.LINUXKIT_CACHE) throw new Error(`${cacheDir}/env.sh names no LINUXKIT or LINUXKIT_CACHE`);
  return { linuxkit: env.LINUXKIT, cache: env.LINUXKIT_CACHE, dir: cacheDir };
}

export interface AppImage {
  name: string;
  files: Record<string, { contents: string; mode?: number }>;
  entrypoint: string[];
}

/** Builds a busybox-based OCI image and imports it into the linuxkit cache under `name`. */
export function buildAppImage(lk: OfflineLinuxKit, image: AppImage): void {
  const mkoci = path.join(lk.dir, "work/src/mkoci.py");
  const deb = fs.readdirSync(path.join(lk.dir, "debs")).find((f) => f.startsWith("busybox-static_"));
  if (!fs.existsSync(mkoci) || !deb) throw new Error(`${lk.dir} holds no mkoci.py or busybox-static .deb: run bash e2e/offline-cache.sh`);
  // busybox from the same Debian package the stand-ins are made of.
  const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-busybox-"));
  execFileSync("dpkg-deb", ["-x", path.join(lk.dir, "debs", deb), unpacked]);
  const busybox = path.join(unpacked, "bin/busybox");
  const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-app-"));
  for (const d of ["bin", "etc", "tmp", "proc", "sys", "dev", "run", "www"]) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync(busybox, path.join(rootfs, "bin/busybox"));
  fs.chmodSync(path.join(rootfs, "bin/busybox"), 0o755);
  for (const applet of ["sh", "httpd", "nc", "cat", "echo", "touch", "env"]) fs.symlinkSync("busybox", path.join(rootfs, "bin", applet));
  fs.writeFileSync(path.join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  fs.writeFileSync(path.join(rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  for (const [file, { contents, mode }] of Object.entries(image.files)) {
    const target = path.join(rootfs, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, contents, { mode: mode ?? 0o644 });
  }
  const tar = path.join(rootfs, "..", `${path.basename(rootfs)}.tar`);
  const fullName = image.name.includes("/") && image.name.split("/")[0]?.includes(".") ? image.name : `docker.io/${image.name}`;
  execFileSync("python3", [mkoci, "--rootfs", rootfs, "--name", fullName, "--out", tar, "--entrypoint", JSON.stringify(image.entrypoint)], { stdio: "pipe" });
  execFileSync(lk.linuxkit, ["-q", "cache", "import", "--cache", lk.cache, tar], { stdio: "pipe" });
}
