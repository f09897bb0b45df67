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
  for (const applet of ["sh", "httpd", "nc", "cat", "echo", "touch", "env"]) fs.symlinkSync("busybox", path.join(rootfs, "bin", applet));
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
  /** sha256 of agent/'s Go sources, go.mod/go.sum and build.sh: the cache key. */
  sourceHash: string;
  bytes: number;
  /** False when this call compiled it, true when it came from the cache. */
  cached: boolean;
}

const agentDir = path.join(root, "agent");

/** Every file the agent binary is built from (test files excepted), relative to agent/, sorted. */
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
 * The agent as a static Linux binary: `bash agent/build.sh OUT` when that
 * script exists, else `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w"` of
 * ./cmd/i2kit-agent. Cached under $I2KIT_CACHE/agent-bin/<source hash>/, so
 * only a change to the agent's sources rebuilds it.
 */
export function buildAgentBinary(): AgentBinary {
  const hash = createHash("sha256");
  for (const f of agentSources()) hash.update(`${f}\0`).update(fs.readFileSync(path.join(agentDir, f))).update("\0");
  const sourceHash = hash.digest("hex");
  const cacheDir = path.join(process.env.I2KIT_CACHE ?? path.join(os.homedir(), ".cache", "i2kit"), "agent-bin", sourceHash.slice(0, 16));
  const out = path.join(cacheDir, "i2kit-agent");
  if (fs.existsSync(out)) return { path: out, sourceHash, bytes: fs.statSync(out).size, cached: true };
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const env = { ...process.env, CGO_ENABLED: "0", GOOS: "linux", GOARCH: "amd64", GOFLAGS: "" };
  try {
    if (fs.existsSync(path.join(agentDir, "build.sh"))) {
      execFileSync("bash", [path.join(agentDir, "build.sh"), tmp], { cwd: root, env, stdio: "pipe" });
    } else {
      execFileSync("go", ["build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, "./cmd/i2kit-agent"], { cwd: agentDir, env, stdio: "pipe" });
    }
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? "";
    throw new Error(`building the agent failed: ${stderr || String(e)}`);
  }
  if (!fs.existsSync(tmp)) throw new Error(`building the agent wrote no ${tmp}`);
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, out);
  return { path: out, sourceHash, bytes: fs.statSync(out).size, cached: false };
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

export interface AgentImageOptions {
  /**
   * Empty directories (ending in "/") and empty files to put in the image
   * besides the binary, e.g. mount points a read-only container needs on
   * LinuxKit's read-only root. Default: none, as `FROM scratch` + `COPY`.
   */
  mountPoints?: readonly string[];
}

/**
 * The agent image (agent/Dockerfile's shape: `FROM scratch`, /usr/bin/i2kit-agent
 * and nothing else unless `mountPoints` says so), built with mkoci.py and
 * imported into the linuxkit cache under `name` and under its digest.
 */
export function buildAgentImage(lk: OfflineLinuxKit, name: string, options: AgentImageOptions = {}): AgentImage {
  const mkoci = path.join(lk.dir, "work/src/mkoci.py");
  if (!fs.existsSync(mkoci)) throw new Error(`${lk.dir} holds no mkoci.py: run bash e2e/offline-cache.sh`);
  const binary = buildAgentBinary();
  const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-agent-image-"));
  try {
    fs.mkdirSync(path.join(rootfs, "usr/bin"), { recursive: true });
    fs.copyFileSync(binary.path, path.join(rootfs, "usr/bin/i2kit-agent"));
    fs.chmodSync(path.join(rootfs, "usr/bin/i2kit-agent"), 0o755);
    for (const p of options.mountPoints ?? []) {
      const target = path.join(rootfs, p);
      if (!target.startsWith(`${rootfs}/`)) throw new Error(`mount point ${p} leaves the image`);
      if (p.endsWith("/")) fs.mkdirSync(target, { recursive: true });
      else {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, "");
      }
    }
    const fullName = fullImageName(name);
    const tar = `${rootfs}.tar`;
    const printed = execFileSync("python3", [mkoci, "--rootfs", rootfs, "--name", fullName, "--out", tar, "--entrypoint", JSON.stringify(["/usr/bin/i2kit-agent"])], { encoding: "utf8" });
    // mkoci.py prints: <repo>:<tag> <manifest digest> layer=<gzipped bytes> uncompressed=<bytes>
    const m = /^(\S+) (sha256:[0-9a-f]{64}) layer=(\d+) uncompressed=(\d+)$/m.exec(printed);
    if (!m) throw new Error(`unexpected mkoci.py output: ${printed}`);
    execFileSync(lk.linuxkit, ["-q", "cache", "import", "--cache", lk.cache, tar], { stdio: "pipe" });
    fs.rmSync(tar, { force: true });
    const repo = fullName.replace(/:[^:/]+$/, "");
    return { ref: `${repo}@${m[2] as string}`, name: fullName, digest: m[2] as string, bytes: Number(m[4]), compressedBytes: Number(m[3]), binary };
  } finally {
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
}
