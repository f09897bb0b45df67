// The boot agent (agent/README.md is its contract) run as a process on this
// host, with no VM: moto as the AWS API and the IMDSv2 stand-in as the
// instance metadata, reached through the variables the AWS SDKs read.
// Secrets go to a directory on /dev/shm (tmpfs), as /run is in the VM.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildAgentBinary } from "../e2e/harness";
import { MAX_TOKEN_TTL_SECONDS, startImds, type Imds } from "../e2e/imds";
import { startMoto, startProxy, type LocalAws, type Proxy } from "./local-aws";

const TOKEN_PATH = "/latest/api/token";

async function put(url: string, headers: Record<string, string>): Promise<{ status: number; body: string; ttl: string | null }> {
  const r = await fetch(url, { method: "PUT", headers });
  return { status: r.status, body: await r.text(), ttl: r.headers.get("x-aws-ec2-metadata-token-ttl-seconds") };
}

async function get(url: string, token?: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url, token === undefined ? {} : { headers: { "X-aws-ec2-metadata-token": token } });
  return { status: r.status, body: await r.text() };
}

describe("the IMDSv2 stand-in", () => {
  let imds: Imds;
  let clock = Date.parse("2030-01-01T00:00:00Z");

  beforeAll(async () => {
    imds = await startImds({ instanceId: "i-0aaaaaaaaaaaaaaa1", region: "eu-west-3", now: () => clock });
  });
  afterAll(() => imds.close());

  const token = async (ttl = 60) => (await put(`${imds.endpoint}${TOKEN_PATH}`, { "X-aws-ec2-metadata-token-ttl-seconds": String(ttl) })).body;

  it("listens on loopback, which a QEMU guest reaches as 10.0.2.2", () => {
    expect(imds.endpoint).toBe(`http://127.0.0.1:${imds.port}`);
    expect(imds.guestEndpoint).toBe(`http://10.0.2.2:${imds.port}`);
  });

  it("hands out a token only for a TTL from 1 s to 6 h, and says the TTL back", async () => {
    const url = `${imds.endpoint}${TOKEN_PATH}`;
    for (const bad of [undefined, "0", "21601", "abc", "-5", "1.5", ""]) {
      expect((await put(url, bad === undefined ? {} : { "X-aws-ec2-metadata-token-ttl-seconds": bad })).status, `TTL ${String(bad)}`).toBe(400);
    }
    for (const ttl of [1, MAX_TOKEN_TTL_SECONDS]) {
      const r = await put(url, { "X-aws-ec2-metadata-token-ttl-seconds": String(ttl) });
      expect(r.status).toBe(200);
      expect(r.body.length).toBeGreaterThanOrEqual(32);
      expect(r.ttl).toBe(String(ttl));
    }
    expect((await get(url)).status).toBe(405);
  });

  it("refuses every GET without a live token with 401: none, a made-up one, an expired one, a revoked one", async () => {
    const region = `${imds.endpoint}/latest/meta-data/placement/region`;
    expect(await get(region)).toEqual({ status: 401, body: "" });
    expect((await get(region, "not-a-token-it-issued")).status).toBe(401);
    const t = await token(10);
    expect(await get(region, t)).toEqual({ status: 200, body: "eu-west-3" });
    clock += 10_000;
    expect((await get(region, t)).status).toBe(401);
    const t2 = await token(60);
    expect((await get(region, t2)).status).toBe(200);
    imds.revokeTokens();
    expect((await get(region, t2)).status).toBe(401);
    // Even a path that does not exist: 401 first.
    expect((await get(`${imds.endpoint}/latest/meta-data/no-such-thing`)).status).toBe(401);
  });

  it("serves the instance's metadata and role credentials, all settable between boots", async () => {
    const t = await token();
    const md = `${imds.endpoint}/latest/meta-data`;
    expect(await get(`${md}/instance-id`, t)).toEqual({ status: 200, body: "i-0aaaaaaaaaaaaaaa1" });
    expect(await get(`${md}/placement/availability-zone`, t)).toEqual({ status: 200, body: "eu-west-3a" });
    expect(await get(`${md}/iam/security-credentials/`, t)).toEqual({ status: 200, body: "i2kit-test-instance-role" });
    const creds = await get(`${md}/iam/security-credentials/i2kit-test-instance-role`, t);
    expect(creds.status).toBe(200);
    const parsed = JSON.parse(creds.body) as Record<string, string>;
    expect(parsed).toEqual({
      Code: "Success",
      Type: "AWS-HMAC",
      AccessKeyId: imds.credentials.accessKeyId,
      SecretAccessKey: imds.credentials.secretAccessKey,
      Token: imds.credentials.token,
      Expiration: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      LastUpdated: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    expect(Date.parse(parsed.Expiration as string)).toBeGreaterThan(clock);
    expect((await get(`${md}/iam/security-credentials/some-other-role`, t)).status).toBe(404);
    expect((await get(`${md}/no-such-thing`, t)).status).toBe(404);

    // No user data: 404, as AWS answers.
    expect((await get(`${imds.endpoint}/latest/user-data`, t)).status).toBe(404);
    imds.userData = JSON.stringify({ i2kit: { volumeId: "vol-0123456789abcdef0" } });
    imds.instanceId = "i-0bbbbbbbbbbbbbbb2";
    expect(await get(`${imds.endpoint}/latest/user-data`, t)).toEqual({ status: 200, body: '{"i2kit":{"volumeId":"vol-0123456789abcdef0"}}' });
    expect((await get(`${md}/instance-id`, t)).body).toBe("i-0bbbbbbbbbbbbbbb2");
    const doc = JSON.parse((await get(`${imds.endpoint}/latest/dynamic/instance-identity/document`, t)).body) as Record<string, string>;
    expect(doc).toMatchObject({ instanceId: "i-0bbbbbbbbbbbbbbb2", region: "eu-west-3", availabilityZone: "eu-west-3a" });
    imds.role = null;
    expect((await get(`${md}/iam/security-credentials/`, t)).status).toBe(404);
    imds.role = "i2kit-test-instance-role";
  });

  it("records every request with its token state and answer, and can fail the next ones on purpose", async () => {
    imds.requests.length = 0;
    const t = await token();
    await get(`${imds.endpoint}/latest/meta-data/instance-id`);
    await get(`${imds.endpoint}/latest/meta-data/instance-id`, t);
    imds.failNext(500, 2, "/latest/meta-data/instance-id");
    expect((await get(`${imds.endpoint}/latest/meta-data/placement/region`, t)).status).toBe(200);
    expect((await get(`${imds.endpoint}/latest/meta-data/instance-id`, t)).status).toBe(500);
    expect((await get(`${imds.endpoint}/latest/meta-data/instance-id`, t)).status).toBe(500);
    expect((await get(`${imds.endpoint}/latest/meta-data/instance-id`, t)).status).toBe(200);
    expect(imds.requests.map((r) => [r.method, r.path, r.hadToken, r.validToken, r.status])).toEqual([
      ["PUT", TOKEN_PATH, false, false, 200],
      ["GET", "/latest/meta-data/instance-id", false, false, 401],
      ["GET", "/latest/meta-data/instance-id", true, true, 200],
      ["GET", "/latest/meta-data/placement/region", true, true, 200],
      ["GET", "/latest/meta-data/instance-id", true, true, 500],
      ["GET", "/latest/meta-data/instance-id", true, true, 500],
      ["GET", "/latest/meta-data/instance-id", true, true, 200],
    ]);
    expect(imds.requests[0]?.ttlHeader).toBe("60");
    expect(imds.requests.every((r) => r.from.endsWith("127.0.0.1"))).toBe(true);
    expect(imds.unauthenticated()).toHaveLength(1);
  });
});

// ---------------------------------------------------------------- the agent itself

interface Exit {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the agent without blocking this process: the IMDS stand-in answers from the same event loop. */
function runAgent(binary: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** Files (not directories) under dir, relative, sorted; [] when dir does not exist. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => !fs.statSync(path.join(dir, f)).isDirectory()).sort();
}

const agentReady = fs.existsSync(path.resolve(__dirname, "../../agent/cmd/i2kit-agent/main.go"));

describe.skipIf(!agentReady)("the boot agent on this host, against moto and the IMDSv2 stand-in", () => {
  const INSTANCE = "i-0agent0host00test";
  let agent: string;
  let moto: LocalAws;
  let imds: Imds;
  let proxy: Proxy | undefined;
  let secrets: SecretsManagerClient;
  let logs: CloudWatchLogsClient;
  let work: string;
  let shm: string;
  let env: NodeJS.ProcessEnv;
  const children: { kill(signal: NodeJS.Signals): boolean }[] = [];

  beforeAll(async () => {
    agent = buildAgentBinary().path;
    moto = await startMoto();
    imds = await startImds({ instanceId: INSTANCE, region: "us-east-1" });
    const config = { region: "us-east-1", endpoint: moto.endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } };
    secrets = new SecretsManagerClient(config);
    logs = new CloudWatchLogsClient(config);
    await secrets.send(new CreateSecretCommand({ Name: "i2kit/shop/api/db_password", SecretString: "correct horse battery staple" }));
    await secrets.send(new CreateSecretCommand({ Name: "external/tls-key", SecretBinary: Buffer.from("-----BEGIN KEY-----\nbinary\u0000bytes\n") }));
    work = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-agent-host-"));
    shm = fs.mkdtempSync("/dev/shm/i2kit-agent-host-");
    // Only what the contract names: no AWS credentials or region in the environment, so they must come from IMDS.
    env = { PATH: process.env.PATH, HOME: work, AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint, AWS_ENDPOINT_URL: moto.endpoint };
  }, 300_000);

  afterEach(() => {
    for (const c of children.splice(0)) c.kill("SIGKILL");
  });

  afterAll(async () => {
    await proxy?.stop();
    await imds?.close();
    await moto?.stop();
    if (shm) fs.rmSync(shm, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** A config as components/linuxkit/agent.ts writes it, secrets under `dir`. */
  const writeConfig = (name: string, dir: string, secretList: { name: string; secretId: string }[], extra: Record<string, unknown> = {}) => {
    const file = path.join(work, `${name}.json`);
    const config = {
      app: "shop",
      service: "api",
      secrets: secretList.map((s) => ({ name: s.name, secretId: s.secretId, container: "api", path: path.join(dir, "api", s.name), uid: 1000, gid: 1000, mode: 0o400 })),
      logGroup: "/i2kit/shop/api",
      logDir: path.join(work, "log"),
      containers: ["api"],
      ...extra,
    };
    fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
    return file;
  };

  it("boot: writes every secret (string and binary) on tmpfs, mode 0400, owned by the container's uid:gid, over IMDSv2 only", async () => {
    const dir = path.join(shm, "ok");
    fs.mkdirSync(dir);
    const config = writeConfig("ok", dir, [
      { name: "db_password", secretId: "i2kit/shop/api/db_password" },
      { name: "tls_key", secretId: "external/tls-key" },
    ]);
    imds.requests.length = 0;
    const r = await runAgent(agent, ["boot", "-config", config], env);
    expect(r.stderr).toMatch(/^i2kit-agent: 2 secret\(s\) written at \d+\.\d\d s after boot$/m);
    expect(r.stderr).not.toContain("FATAL");
    expect(r.status).toBe(0);

    const password = path.join(dir, "api/db_password");
    const key = path.join(dir, "api/tls_key");
    expect(fs.readFileSync(password, "utf8")).toBe("correct horse battery staple");
    expect(fs.readFileSync(key)).toEqual(Buffer.from("-----BEGIN KEY-----\nbinary\u0000bytes\n"));
    for (const f of [password, key]) {
      const st = fs.statSync(f);
      expect((st.mode & 0o777).toString(8), f).toBe("400");
      if (process.getuid?.() === 0) expect([st.uid, st.gid], f).toEqual([1000, 1000]);
    }
    // Nothing else: no temporary file left beside them.
    expect(filesUnder(dir)).toEqual(["api/db_password", "api/tls_key"]);

    // IMDSv2 only: a token first, and every other request carried a live one.
    expect(imds.requests[0]).toMatchObject({ method: "PUT", path: "/latest/api/token", status: 200 });
    expect(Number(imds.requests[0]?.ttlHeader)).toBeGreaterThanOrEqual(1);
    expect(imds.unauthenticated()).toEqual([]);
    const paths = imds.requests.map((r) => r.path);
    expect(paths).toContain("/latest/meta-data/placement/region");
    expect(paths).toContain(`/latest/meta-data/iam/security-credentials/${imds.role as string}`);
  }, 120_000);

  it("boot: a stale token (IMDS answers 401) is renewed once and the request repeated", async () => {
    const dir = path.join(shm, "renew");
    fs.mkdirSync(dir);
    const config = writeConfig("renew", dir, [{ name: "db_password", secretId: "i2kit/shop/api/db_password" }]);
    imds.requests.length = 0;
    imds.failNext(401, 1, "/latest/meta-data/placement/region");
    const r = await runAgent(agent, ["boot", "-config", config], env);
    expect(r.stderr).not.toContain("FATAL");
    expect(r.status).toBe(0);
    expect(fs.readFileSync(path.join(dir, "api/db_password"), "utf8")).toBe("correct horse battery staple");
    const tokenRequests = imds.requests.filter((q) => q.method === "PUT");
    expect(tokenRequests.length).toBe(2);
    const region = imds.requests.filter((q) => q.path === "/latest/meta-data/placement/region").map((q) => q.status);
    expect(region).toEqual([401, 200]);
  }, 120_000);

  it("boot: a missing secret is fatal, names the secret, and writes nothing at all (all-or-nothing)", async () => {
    const dir = path.join(shm, "missing");
    fs.mkdirSync(dir);
    const config = writeConfig("missing", dir, [
      { name: "db_password", secretId: "i2kit/shop/api/db_password" },
      { name: "api_key", secretId: "i2kit/shop/api/api_key" },
    ]);
    const r = await runAgent(agent, ["boot", "-config", config], env);
    expect(r.status).toBe(1);
    const fatal = r.stderr.split("\n").filter((l) => l.includes("FATAL"));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatch(/^i2kit-agent: FATAL: secret "api_key" \(i2kit\/shop\/api\/api_key\): .+; the service's containers will not start$/);
    expect(filesUnder(dir)).toEqual([]);
  }, 120_000);

  it("boot: refuses to write a secret to a directory that is not on tmpfs", async () => {
    const dir = fs.mkdtempSync(path.join(work, "disk-"));
    expect(fs.statfsSync(dir).type).not.toBe(0x01021994);
    const config = writeConfig("disk", dir, [{ name: "db_password", secretId: "i2kit/shop/api/db_password" }]);
    const r = await runAgent(agent, ["boot", "-config", config], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^i2kit-agent: FATAL: .*the service's containers will not start$/m);
    expect(filesUnder(dir)).toEqual([]);
  }, 120_000);

  it("boot: retries Secrets Manager throttling and still writes the secret", async () => {
    proxy = await startProxy(moto.endpoint, 2);
    const dir = path.join(shm, "throttled");
    fs.mkdirSync(dir);
    const config = writeConfig("throttled", dir, [
      { name: "db_password", secretId: "i2kit/shop/api/db_password" },
      { name: "tls_key", secretId: "external/tls-key" },
    ]);
    const r = await runAgent(agent, ["boot", "-config", config], { ...env, AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.endpoint });
    expect(r.stderr).not.toContain("FATAL");
    expect(r.status).toBe(0);
    expect(proxy.throttled).toBeGreaterThanOrEqual(1);
    expect(filesUnder(dir)).toEqual(["api/db_password", "api/tls_key"]);
  }, 120_000);

  it("ship: every line of <logDir>/<container>.log reaches CloudWatch Logs in stream <instance-id>/<container>, files that appear later too", async () => {
    const logDir = path.join(work, "ship-log");
    fs.mkdirSync(logDir);
    const group = "/i2kit/shop/api";
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    // An existing stream is fine.
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: `${INSTANCE}/worker` }));
    fs.writeFileSync(path.join(logDir, "api.log"), "api line 1\napi line 2\n");
    const config = writeConfig("ship", path.join(shm, "unused"), [], { logDir, containers: ["api", "worker"] });

    const child = spawn(agent, ["ship", "-config", config], { env, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let exited: number | null | undefined;
    child.on("exit", (code) => (exited = code));

    const events = async (stream: string): Promise<string[]> => {
      try {
        const r = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true }));
        return (r.events ?? []).map((e) => e.message ?? "");
      } catch (e) {
        if ((e as { name?: string }).name === "ResourceNotFoundException") return [];
        throw e;
      }
    };
    const waitFor = async (stream: string, want: string[], ms = 45_000) => {
      const until = Date.now() + ms;
      let got: string[] = [];
      while (Date.now() < until) {
        got = await events(stream);
        if (got.length >= want.length) break;
        if (exited !== undefined) throw new Error(`ship exited (${String(exited)}): ${stderr}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      return got;
    };

    expect(await waitFor(`${INSTANCE}/api`, ["api line 1", "api line 2"])).toEqual(["api line 1", "api line 2"]);
    // Lines appended later, and a container whose log appears only now.
    fs.appendFileSync(path.join(logDir, "api.log"), "api line 3\n");
    fs.writeFileSync(path.join(logDir, "worker.log"), "worker started\nworker line 2\n");
    expect(await waitFor(`${INSTANCE}/api`, ["api line 1", "api line 2", "api line 3"])).toEqual(["api line 1", "api line 2", "api line 3"]);
    expect(await waitFor(`${INSTANCE}/worker`, ["worker started", "worker line 2"])).toEqual(["worker started", "worker line 2"]);
    expect(exited).toBeUndefined();
    expect(imds.unauthenticated()).toEqual([]);
  }, 180_000);

  it("ship: batches refused by CloudWatch Logs (throttled) are sent again, each line once and in order", async () => {
    const logDir = path.join(work, "ship-throttled");
    fs.mkdirSync(logDir);
    const group = "/i2kit/shop/throttled";
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i + 1} of 40`);
    fs.writeFileSync(path.join(logDir, "api.log"), `${lines.slice(0, 20).join("\n")}\n`);
    const config = writeConfig("ship-throttled", path.join(shm, "unused"), [], { logDir, logGroup: group, containers: ["api"] });
    const throttling = await startProxy(moto.endpoint, 2);
    try {
      const child = spawn(agent, ["ship", "-config", config], { env: { ...env, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: throttling.endpoint }, stdio: ["ignore", "ignore", "pipe"] });
      children.push(child);
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      setTimeout(() => fs.appendFileSync(path.join(logDir, "api.log"), `${lines.slice(20).join("\n")}\n`), 2000);
      const until = Date.now() + 60_000;
      let got: string[] = [];
      while (Date.now() < until && got.length < lines.length) {
        await new Promise((r) => setTimeout(r, 500));
        try {
          const r = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: `${INSTANCE}/api`, startFromHead: true }));
          got = (r.events ?? []).map((e) => e.message ?? "");
        } catch (e) {
          if ((e as { name?: string }).name !== "ResourceNotFoundException") throw e;
        }
      }
      expect(got, stderr).toEqual(lines);
      expect(throttling.throttled).toBeGreaterThanOrEqual(1);
    } finally {
      await throttling.stop();
    }
  }, 120_000);
});
