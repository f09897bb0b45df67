// A real local AWS API for tests: moto's server on a loopback port, and a
// fault-injecting proxy in front of it that counts and throttles requests.
import * as fs from "node:fs";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { EBSClient } from "@aws-sdk/client-ebs";
import { EC2Client } from "@aws-sdk/client-ec2";
import { S3Client } from "@aws-sdk/client-s3";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export interface LocalAws {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts moto's server (installed by scripts/ensure-moto.sh) on 127.0.0.1 and waits until it answers. */
export async function startMoto(): Promise<LocalAws> {
  const binary = execFileSync("bash", [path.resolve(__dirname, "../../scripts/ensure-moto.sh")], { encoding: "utf8" }).trim();
  const port = await freePort();
  // I2KIT_MOTO_LOG=FILE keeps moto's request log and tracebacks, to see why it answered as it did.
  const logFile = process.env.I2KIT_MOTO_LOG;
  const log = logFile ? fs.openSync(logFile, "a") : "ignore";
  const child: ChildProcess = spawn(binary, ["-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", log, log] });
  if (typeof log === "number") fs.closeSync(log);
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      http.get(`${endpoint}/moto-api/`, (res) => {
        res.resume();
        resolve(true);
      }).on("error", () => resolve(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

export interface Proxy {
  endpoint: string;
  /** PutSnapshotBlock requests that reached moto, by block index. */
  blocksPut: number[];
  requests: number;
  throttled: number;
  stop(): Promise<void>;
}

/** A proxy to `target` that answers every `throttleEvery`-th request with 503 SlowDown (0: never). */
export async function startProxy(target: string, throttleEvery = 0): Promise<Proxy> {
  const targetUrl = new URL(target);
  const state: Proxy = { endpoint: "", blocksPut: [], requests: 0, throttled: 0, stop: async () => undefined };
  const server = http.createServer((req, res) => {
    state.requests += 1;
    if (throttleEvery > 0 && state.requests % throttleEvery === 0) {
      state.throttled += 1;
      req.resume();
      res.writeHead(503, { "content-type": "application/json", "x-amzn-ErrorType": "ThrottlingException" });
      res.end(JSON.stringify({ __type: "ThrottlingException", message: "Rate exceeded (injected by the test proxy)" }));
      return;
    }
    const block = /^\/snapshots\/[^/]+\/blocks\/(\d+)$/.exec(req.url ?? "");
    const upstream = http.request({ host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      if (block && req.method === "PUT" && (up.statusCode ?? 500) < 300) state.blocksPut.push(Number(block[1]));
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  state.endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  state.stop = () => new Promise((resolve) => server.close(() => resolve()));
  return state;
}

export function clients(endpoint: string) {
  const config = { region: "us-east-1", endpoint, credentials: { accessKeyId: "testing", secretAccessKey: "testing" }, maxAttempts: 10 };
  // Plain request bodies: moto decodes the SDK's aws-chunked streaming bodies very slowly.
  return { ebs: new EBSClient(config), ec2: new EC2Client(config), s3: new S3Client({ ...config, forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED" }) };
}
