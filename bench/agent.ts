// The boot agent: its image size, its time from boot to secrets written in a
// VM under QEMU (median of 3, against moto and the IMDSv2 stand-in through
// QEMU's user networking), and the log shipper's memory under a burst of
// log lines, run on this host, with CloudWatch Logs reachable and not.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CloudWatchLogsClient, CreateLogGroupCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { runService } from "../cli/run/run";
import { startMoto, type LocalAws } from "../test/aws/local-aws";
import { buildAgentImage, buildAppImage, offlineLinuxKit } from "../test/e2e/harness";
import { QEMU_HOST_ADDRESS, startImds } from "../test/e2e/imds";

const REGION = "us-east-1";
const credentials = { accessKeyId: "bench", secretAccessKey: "bench" };

const COMPOSE = `name: bench
services:
  web:
    image: i2kit-bench/web:1
    ports: ["8080:8080"]
    read_only: true
    secrets: [api_token]
    x-i2kit: {protocol: http}
secrets:
  api_token:
    environment: API_TOKEN
`;

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

async function waitForLine(file: string, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = pattern.exec(fs.readFileSync(file, "latin1"));
    if (m) return m;
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
}

async function benchAgentVm(moto: LocalAws): Promise<void> {
  const lk = offlineLinuxKit();
  const agent = buildAgentImage(lk, "i2kit-bench/agent:1");
  buildAppImage(lk, { name: "i2kit-bench/web:1", files: { "www/index.html": { contents: "bench\n" } }, entrypoint: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"] });
  console.log("\nThe boot agent (agent/, Go, static; image = agent/build.sh's tree on scratch)");
  console.log(`  image: ${mb(agent.bytes)} uncompressed (binary ${mb(agent.binary.bytes)}), ${mb(agent.compressedBytes)} gzipped as a registry stores it`);

  const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: REGION, credentials });
  await secrets.send(new CreateSecretCommand({ Name: "i2kit/bench/web/api_token", SecretString: "bench-secret" }));
  const imds = await startImds({ region: REGION, instanceId: "i-0bench0agent00000" });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-bench-agent-"));
  fs.writeFileSync(path.join(dir, "compose.yaml"), COMPOSE);
  const written: number[] = [];
  let initrd = 0;
  let memory = "not reported";
  try {
    for (let i = 0; i < 3; i++) {
      const r = await runService(path.join(dir, "compose.yaml"), {
        linuxkit: lk.linuxkit,
        linuxkitCache: lk.cache,
        accelerator: "tcg",
        memoryMb: 256,
        load: { env: { API_TOKEN: "unused by the VM" } },
        // Set by this harness only: production configs use AWS's own endpoints.
        render: { agent: { image: agent.ref, env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.guestEndpoint, AWS_ENDPOINT_URL: moto.endpoint.replace("127.0.0.1", QEMU_HOST_ADDRESS) } } },
      });
      initrd = r.image.initrdBytes;
      const m = await waitForLine(r.vm.serialLog, /i2kit-agent: 1 secret\(s\) written at ([\d.]+) s after boot/, 30_000);
      if (m) written.push(Number(m[1]));
      if (i === 0) memory = (await waitForLine(r.vm.serialLog, /mem after services settled[^:]*: used=(\d+)MiB/, 30_000))?.[1] ?? memory;
      await r.vm.stop();
    }
  } finally {
    await imds.close();
  }
  const median = [...written].sort((a, b) => a - b)[Math.floor(written.length / 2)];
  console.log(
    `  boot to secrets written (guest uptime, QEMU TCG), median of ${written.length}: ${median === undefined ? "not reported" : `${median.toFixed(1)} s`} (${written.map((t) => t.toFixed(1)).join(", ")})`,
  );
  console.log(`  the VM with the agent (onboot step + log shipper): initrd ${mb(initrd)}; guest memory in use after boot: ${memory} MiB`);
}

interface ShipStatus {
  shipped: number;
  buffered: number;
  dropped: number;
}

/** Reads the newest status line `i2kit-agent: ship: api N shipped, M buffered (B bytes), D dropped`. */
function lastStatus(stderr: string): ShipStatus | undefined {
  const all = [...stderr.matchAll(/ship: api (\d+) shipped, (\d+) buffered \(\d+ bytes\), (\d+) dropped/g)];
  const m = all[all.length - 1];
  return m ? { shipped: Number(m[1]), buffered: Number(m[2]), dropped: Number(m[3]) } : undefined;
}

/** Peak resident set of a process so far (VmHWM), in bytes. */
function peakRss(child: ChildProcess): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * One burst of `lines` lines of 100 bytes into a container's log file, the
 * shipper already running; returns once `done` holds for its status line.
 */
async function shipBurst(agentBinary: string, endpoint: string, imdsEndpoint: string, lines: number, done: (s: ShipStatus) => boolean): Promise<{ status: ShipStatus; peak: number; seconds: number }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-bench-ship-"));
  const logDir = path.join(work, "log");
  fs.mkdirSync(logDir);
  const config = path.join(work, "agent.json");
  fs.writeFileSync(config, JSON.stringify({ app: "bench", service: "api", secrets: [], logGroup: "/i2kit/bench/api", logDir, containers: ["api"] }));
  const child = spawn(agentBinary, ["ship", "-config", config, "-flush-interval", "1s", "-status-interval", "500ms"], {
    env: { PATH: process.env.PATH, HOME: work, AWS_EC2_METADATA_SERVICE_ENDPOINT: imdsEndpoint, AWS_ENDPOINT_URL: endpoint },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    const line = `${"x".repeat(92)}`;
    const started = Date.now();
    const chunk: string[] = [];
    for (let i = 0; i < lines; i++) {
      chunk.push(`${String(i).padStart(7, "0")} ${line}`);
      if (chunk.length === 10_000) fs.appendFileSync(path.join(logDir, "api.log"), `${chunk.splice(0).join("\n")}\n`);
    }
    if (chunk.length > 0) fs.appendFileSync(path.join(logDir, "api.log"), `${chunk.join("\n")}\n`);
    let peak = 0;
    for (;;) {
      peak = Math.max(peak, peakRss(child));
      const s = lastStatus(stderr);
      if (s && done(s)) return { status: s, peak, seconds: (Date.now() - started) / 1000 };
      if (Date.now() - started > 300_000) throw new Error(`the shipper did not finish the burst in 300 s: ${stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    child.kill("SIGKILL");
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export async function benchShipper(moto: LocalAws): Promise<void> {
  const lk = offlineLinuxKit();
  const binary = buildAgentImage(lk, "i2kit-bench/agent:1").binary.path;
  const logs = new CloudWatchLogsClient({ endpoint: moto.endpoint, region: REGION, credentials });
  await logs.send(new CreateLogGroupCommand({ logGroupName: "/i2kit/bench/api" }));
  const imds = await startImds({ region: REGION, instanceId: "i-0bench0ship000000" });
  const lines = 200_000;
  try {
    const up = await shipBurst(binary, moto.endpoint, imds.endpoint, lines, (s) => s.shipped + s.dropped >= lines && s.buffered === 0);
    // Nothing listens on port 9 of loopback: every request is refused, as when the network is gone.
    const down = await shipBurst(binary, "http://127.0.0.1:9", imds.endpoint, lines, (s) => s.buffered + s.dropped >= lines);
    console.log(`\nThe log shipper under a burst of ${lines.toLocaleString("en")} lines of 100 bytes (${mb(lines * 100)}), memory ceiling 4 MiB (default)`);
    console.log(
      `  CloudWatch Logs (moto) reachable: all shipped in ${up.seconds.toFixed(1)} s, ${up.status.dropped} dropped, peak RSS ${mb(up.peak)}`,
    );
    console.log(
      `  network gone: ${down.status.buffered.toLocaleString("en")} lines buffered, ${down.status.dropped.toLocaleString("en")} dropped oldest first and counted, peak RSS ${mb(down.peak)}`,
    );
  } finally {
    await imds.close();
  }
}

export async function benchAgent(): Promise<void> {
  const moto = await startMoto();
  try {
    await benchAgentVm(moto);
    await benchShipper(moto);
  } finally {
    await moto.stop();
  }
}
