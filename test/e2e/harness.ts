// The offline LinuxKit setup the end-to-end tests boot from (built by
// e2e/offline-cache.sh), and the small application images the tests build
// themselves: busybox, a few files, an entrypoint.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
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
  for (const applet of ["sh", "httpd", "nc", "cat", "echo", "touch", "env", "sync"]) fs.symlinkSync("busybox", path.join(rootfs, "bin", applet));
  fs.writeFileSync(path.join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  fs.writeFileSync(path.join(rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  for (const [file, { contents, mode }] of Object.entries(image.files)) {
    const target = path.join(rootfs, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, contents, { mode: mode ?? 0o644 });
  }
  const tar = path.join(rootfs, "..", `${path.basename(rootfs)}.tar`);
  execFileSync("python3", [mkoci, "--rootfs", rootfs, "--name", fullImageName(image.name), "--out", tar, "--entrypoint", JSON.stringify(image.entrypoint)], { stdio: "pipe" });
  execFileSync(lk.linuxkit, ["-q", "cache", "import", "--cache", lk.cache, tar], { stdio: "pipe" });
}

/** The docker.io-expanded name linuxkit files an image under (`repo:tag` → `docker.io/repo:tag`). */
function fullImageName(name: string): string {
  return name.includes("/") && name.split("/")[0]?.includes(".") ? name : `docker.io/${name}`;
}

export interface AgentBinary {
  path: string;
  /** The image's whole tree (agent/build.sh's ROOTFS): the binary and its mount points. */
  rootfs: string;
  /** sha256 of agent/'s Go sources, go.mod/go.sum and build.sh: the cache key. */
  sourceHash: string;
  bytes: number;
  /** False when this call compiled it, true when it came from the cache. */
  cached: boolean;
}

const agentDir = path.join(root, "agent");

/** Every file the agent image is built from (test files excepted), relative to agent/, sorted. */
function agentSources(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(agentDir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if ((e.name.endsWith(".go") && !e.name.endsWith("_test.go")) || ["go.mod", "go.sum", "build.sh"].includes(r)) out.push(r);
    }
  };
  walk("");
  return out.sort();
}

/**
 * The agent image's tree, as agent/Dockerfile builds it: `sh agent/build.sh
 * ROOTFS` (the static binary and the mount points). Cached under
 * $I2KIT_CACHE/agent-bin/<source hash>/, so only a change to the agent's
 * sources rebuilds it.
 */
export function buildAgentBinary(): AgentBinary {
  const hash = createHash("sha256");
  for (const f of agentSources()) hash.update(`${f}\0`).update(fs.readFileSync(path.join(agentDir, f))).update("\0");
  const sourceHash = hash.digest("hex");
  const cacheDir = path.join(process.env.I2KIT_CACHE ?? path.join(os.homedir(), ".cache", "i2kit"), "agent-bin", sourceHash.slice(0, 16));
  const rootfs = path.join(cacheDir, "rootfs");
  const binary = path.join(rootfs, "usr/bin/i2kit-agent");
  const result = (cached: boolean): AgentBinary => ({ path: binary, rootfs, sourceHash, bytes: fs.statSync(binary).size, cached });
  if (fs.existsSync(binary)) return result(true);
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${rootfs}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const env = { ...process.env, GOARCH: "amd64", GOFLAGS: "" };
  try {
    execFileSync("sh", [path.join(agentDir, "build.sh"), tmp], { cwd: root, env, stdio: "pipe" });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? "";
    throw new Error(`building the agent failed: ${stderr || String(e)}`);
  }
  if (!fs.existsSync(path.join(tmp, "usr/bin/i2kit-agent"))) throw new Error(`agent/build.sh wrote no ${tmp}/usr/bin/i2kit-agent`);
  fs.rmSync(rootfs, { recursive: true, force: true });
  fs.renameSync(tmp, rootfs);
  return result(false);
}

export interface AgentImage {
  /** `docker.io/<name without tag>@sha256:<manifest digest>`: how i2kit pins it, and how the cache holds it too. */
  ref: string;
  /** The tagged name it was also imported under. */
  name: string;
  digest: string;
  /** Uncompressed size of the image's only layer: what it adds to the initrd. */
  bytes: number;
  /** The same layer gzipped, as a registry would store it. */
  compressedBytes: number;
  binary: AgentBinary;
}

/**
 * The agent image (agent/Dockerfile's: build.sh's tree on scratch, entrypoint
 * /usr/bin/i2kit-agent), packed with mkoci.py and imported into the linuxkit
 * cache under `name` and under its digest.
 */
export function buildAgentImage(lk: OfflineLinuxKit, name: string): AgentImage {
  const mkoci = path.join(lk.dir, "work/src/mkoci.py");
  if (!fs.existsSync(mkoci)) throw new Error(`${lk.dir} holds no mkoci.py: run bash e2e/offline-cache.sh`);
  const binary = buildAgentBinary();
  const fullName = fullImageName(name);
  const tar = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-agent-image-")), "agent.tar");
  try {
    const printed = execFileSync("python3", [mkoci, "--rootfs", binary.rootfs, "--name", fullName, "--out", tar, "--entrypoint", JSON.stringify(["/usr/bin/i2kit-agent"])], { encoding: "utf8" });
    // mkoci.py prints: <repo>:<tag> <manifest digest> layer=<gzipped bytes> uncompressed=<bytes>
    const m = /^(\S+) (sha256:[0-9a-f]{64}) layer=(\d+) uncompressed=(\d+)$/m.exec(printed);
    if (!m) throw new Error(`unexpected mkoci.py output: ${printed}`);
    execFileSync(lk.linuxkit, ["-q", "cache", "import", "--cache", lk.cache, tar], { stdio: "pipe" });
    const repo = fullName.replace(/:[^:/]+$/, "");
    return { ref: `${repo}@${m[2] as string}`, name: fullName, digest: m[2] as string, bytes: Number(m[4]), compressedBytes: Number(m[3]), binary };
  } finally {
    fs.rmSync(path.dirname(tar), { recursive: true, force: true });
  }
}
