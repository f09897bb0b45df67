// The boot agent in real VMs: a rendered config with the agent, built by
// linuxkit from the offline cache and booted in QEMU, against a local IMDSv2
// (test/e2e/imds.ts) and moto as Secrets Manager, CloudWatch Logs and EC2,
// both reached by the guest at 10.0.2.2 through QEMU's user networking.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CloudWatchLogsClient, CreateLogGroupCommand, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateVolumeCommand, DescribeImagesCommand, DescribeVolumesCommand, DetachVolumeCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentOptions } from "../../components/linuxkit/agent";
import { runService, type RunResult } from "../../cli/run/run";
import { startMoto, type LocalAws } from "../aws/local-aws";
import { buildAgentImage, buildAppImage, offlineLinuxKit, type AgentImage, type OfflineLinuxKit } from "./harness";
import { QEMU_HOST_ADDRESS, startImds, type Imds } from "./imds";

const REGION = "us-east-1";
const SECRET_VALUE = "s3cr3t-from-local-secrets-manager";

const compose = (imdsPort: number) => `name: e2e
services:
  web:
    image: i2kit-test/agent-web:1
    user: "1000:1000"
    # Read-only, as least privilege asks: the secret's mount point must be in the image tree (the renderer adds it).
    read_only: true
    environment:
      IMDS: "${QEMU_HOST_ADDRESS}:${imdsPort}"
    entrypoint: ["/bin/sh", "-c", "echo e2e-log-line: web started; echo e2e-log-line: on stderr too >&2; exec httpd -f -p 8080 -h /www"]
    ports: ["8080:8080"]
    secrets: [api_token]
    x-i2kit: {protocol: http}

  missing:
    image: i2kit-test/agent-web:1
    secrets: [nowhere]
    entrypoint: ["httpd", "-f", "-p", "8082", "-h", "/www"]

  data:
    image: i2kit-test/agent-web:1
    volumes: [data:/data]
    # Synced as a database would: the VM is stopped by a kill, not a shutdown.
    entrypoint: ["/bin/sh", "-c", "echo boot >> /data/boots && sync; exec httpd -f -p 8083 -h /data"]
    ports: ["8083:8083"]
    x-i2kit: {protocol: http, stateful: true}

secrets:
  api_token:
    environment: API_TOKEN
  nowhere:
    environment: NOWHERE

volumes:
  data:
`;

async function get(url: string): Promise<string> {
  const r = await fetch(url);
  return `${r.status} ${await r.text()}`;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe("the boot agent in a VM, against a local IMDSv2 and a local AWS API", () => {
  let lk: OfflineLinuxKit;
  let agent: AgentImage;
  let moto: LocalAws;
  let imds: Imds;
  let dir: string;
  let ec2: EC2Client;
  let logs: CloudWatchLogsClient;
  const running: RunResult[] = [];
  const keepLogs = path.join(os.tmpdir(), "i2kit-e2e-serial-logs");

  beforeAll(async () => {
    lk = offlineLinuxKit();
    // agent/Dockerfile's image: build.sh's tree, with the mount points a read-only root needs.
    agent = buildAgentImage(lk, "i2kit-test/agent:1");
    buildAppImage(lk, {
      name: "i2kit-test/agent-web:1",
      files: {
        // The secret as the container reads it; user 1000 can only if the file is its own (mode 0400).
        "www/cgi-bin/secret": { contents: '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nif v=$(cat /run/secrets/api_token); then echo "secret=$v"; else echo "unreadable"; fi\n', mode: 0o755 },
        // A metadata request from inside the guest without a token: IMDSv2 must refuse it.
        "www/cgi-bin/imds": {
          contents: '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nprintf "GET /latest/meta-data/instance-id HTTP/1.0\\r\\n\\r\\n" | nc ${IMDS%:*} ${IMDS#*:} | { read -r status; echo "$status"; }\n',
          mode: 0o755,
        },
        "www/index.html": { contents: "agent test\n" },
      },
      entrypoint: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"],
    });
    moto = await startMoto();
    const credentials = { accessKeyId: "test", secretAccessKey: "test" };
    ec2 = new EC2Client({ endpoint: moto.endpoint, region: REGION, credentials });
    logs = new CloudWatchLogsClient({ endpoint: moto.endpoint, region: REGION, credentials });
    const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: REGION, credentials });
    await secrets.send(new CreateSecretCommand({ Name: "i2kit/e2e/web/api_token", SecretString: SECRET_VALUE }));
    // What the Service component creates at deploy time.
    for (const s of ["web", "missing", "data"]) await logs.send(new CreateLogGroupCommand({ logGroupName: `/i2kit/e2e/${s}` }));
    imds = await startImds({ region: REGION, instanceId: await launchInstance() });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-e2e-agent-"));
    fs.writeFileSync(path.join(dir, "compose.yaml"), compose(imds.port));
  }, 1_800_000);

  afterAll(async () => {
    for (const r of running) await r.vm.stop();
    await imds?.close();
    await moto?.stop();
  });

  /** An instance in moto: the agent attaches volumes to the instance id IMDS names. */
  async function launchInstance(): Promise<string> {
    const image = (await ec2.send(new DescribeImagesCommand({}))).Images?.[0]?.ImageId;
    const run = await ec2.send(new RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1, InstanceType: "t3.micro", Placement: { AvailabilityZone: `${REGION}a` } }));
    return run.Instances?.[0]?.InstanceId as string;
  }

  const agentOptions = (): AgentOptions => ({
    image: agent.ref,
    // Set by the test harness only: production configs use AWS's own endpoints.
    env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.guestEndpoint, AWS_ENDPOINT_URL: moto.endpoint.replace("127.0.0.1", QEMU_HOST_ADDRESS) },
  });

  const boot = async (service: string, extra: { disks?: { file: string; serial: string }[] } = {}) => {
    try {
      const r = await runService(path.join(dir, "compose.yaml"), {
        service,
        linuxkit: lk.linuxkit,
        linuxkitCache: lk.cache,
        accelerator: "tcg",
        memoryMb: 256,
        timeoutMs: 240_000,
        load: { env: { API_TOKEN: "deploy-time value, not used by the VM", NOWHERE: "x" } },
        render: { agent: agentOptions() },
        ...extra,
      });
      running.push(r);
      return r;
    } catch (e) {
      fs.mkdirSync(keepLogs, { recursive: true });
      const log = /serial log: (\S+)\)/.exec(String(e))?.[1];
      if (log && fs.existsSync(log)) fs.copyFileSync(log, path.join(keepLogs, `agent-${service}.log`));
      throw e;
    }
  };

  const logLines = async (group: string, stream: string): Promise<string[]> => {
    try {
      const out = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true }));
      return (out.events ?? []).map((e) => e.message ?? "");
    } catch {
      return [];
    }
  };

  it("fetches the secret over IMDSv2 and hands it to the container, owned by its uid, and ships its output", async () => {
    const web = await boot("web");
    const url = web.urls[0]?.url as string;
    expect(await get(`${url}/cgi-bin/secret`)).toBe(`200 secret=${SECRET_VALUE}\n`);
    // The container's stdout and stderr in CloudWatch Logs, stream <instance-id>/<container>.
    const lines = await waitFor("the container's log lines in CloudWatch Logs", 90_000, async () => {
      const got = await logLines("/i2kit/e2e/web", `${imds.instanceId}/web`);
      return got.some((l) => l.includes("on stderr too")) ? got : undefined;
    });
    expect(lines).toContain("e2e-log-line: web started");
    expect(lines).toContain("e2e-log-line: on stderr too");
    // The agent spoke IMDSv2 only: every metadata read it made carried a valid token.
    const agentReads = imds.requests.filter((r) => r.method === "GET" && r.validToken);
    expect(agentReads.map((r) => r.path)).toEqual(expect.arrayContaining(["/latest/meta-data/placement/region", "/latest/meta-data/instance-id"]));
    expect(imds.requests.filter((r) => r.method === "PUT").every((r) => r.status === 200)).toBe(true);
    expect(fs.readFileSync(web.vm.serialLog, "utf8")).not.toContain(SECRET_VALUE);
  }, 400_000);

  it("refuses a metadata request from the guest without a token", async () => {
    const web = running[0];
    if (!web) throw new Error("the web VM did not boot");
    const before = imds.requests.length;
    expect(await get(`${web.urls[0]?.url as string}/cgi-bin/imds`)).toMatch(/^200 HTTP\/1\.[01] 401/);
    const refused = imds.requests.slice(before).filter((r) => !r.hadToken);
    expect(refused.map((r) => [r.path, r.status])).toEqual([["/latest/meta-data/instance-id", 401]]);
  }, 60_000);

  it("keeps a service whose secret is missing from starting, and says which secret on the serial console", async () => {
    const r = await boot("missing");
    const serial = await waitFor("the agent's verdict on the serial console", 180_000, async () => {
      const text = fs.readFileSync(r.vm.serialLog, "utf8");
      return /service missing: (started|start failed|.*exit)/.test(text) ? text : undefined;
    });
    expect(serial).toMatch(/i2kit-agent: FATAL: secret "nowhere" \(i2kit\/e2e\/missing\/nowhere\): .*ResourceNotFoundException/);
    expect(serial).not.toMatch(/service missing: started/);
    await r.vm.stop();
  }, 400_000);

  it("attaches the stateful service's own volume, and its data outlives the VM", async () => {
    const created = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 1 }));
    const volumeId = created.VolumeId as string;
    // The second virtual disk stands in for the EBS volume: Nitro shows the volume id without its dash as the serial.
    const disk = path.join(dir, "data.img");
    fs.writeFileSync(disk, Buffer.alloc(0));
    fs.truncateSync(disk, 64 * 1024 * 1024);
    const disks = [{ file: disk, serial: volumeId.replace("-", "") }];
    imds.userData = JSON.stringify({ i2kit: { volumeId } });

    const first = await boot("data", { disks });
    expect(await get(`${first.urls[0]?.url as string}/boots`)).toBe("200 boot\n");
    const attachedTo = async () => (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).Volumes?.[0]?.Attachments?.[0]?.InstanceId;
    expect(await attachedTo()).toBe(imds.instanceId);
    await first.vm.stop();

    // The instance is replaced: AWS detaches the volume from the terminated one, and a new instance boots.
    await ec2.send(new DetachVolumeCommand({ VolumeId: volumeId, InstanceId: imds.instanceId }));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [imds.instanceId] }));
    imds.instanceId = await launchInstance();
    const second = await boot("data", { disks });
    expect(await get(`${second.urls[0]?.url as string}/boots`)).toBe("200 boot\nboot\n");
    expect(await attachedTo()).toBe(imds.instanceId);
  }, 800_000);
});
