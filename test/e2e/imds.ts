// A local stand-in for the EC2 instance metadata service as i2kit's
// instances run it: IMDSv2 only (HttpTokens=required), so every GET needs a
// session token from PUT /latest/api/token. It listens on 127.0.0.1; a QEMU
// guest on user networking reaches the host's loopback as 10.0.2.2, so a VM
// uses `guestEndpoint` and a process on the host `endpoint`.
//
// What it serves can be changed between boots (instance id, user data,
// credentials), and it records every request, so a test can check that the
// guest never asked without a token and that a tokenless request was refused.
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import type * as net from "node:net";

/** AWS accepts token lifetimes from 1 second to 6 hours. */
export const MAX_TOKEN_TTL_SECONDS = 21_600;
const TOKEN_PATH = "/latest/api/token";
const TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER = "x-aws-ec2-metadata-token";
/** The address of the host's loopback from a QEMU guest on user networking (slirp). */
export const QEMU_HOST_ADDRESS = "10.0.2.2";

export interface ImdsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  token: string;
  expiration: Date;
  lastUpdated: Date;
}

export interface ImdsRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  /** Whether the request carried an X-aws-ec2-metadata-token header at all. */
  hadToken: boolean;
  /** Whether that token was one this server issued and had not expired or been revoked. */
  validToken: boolean;
  /** For PUT /latest/api/token: the TTL header as sent. */
  ttlHeader?: string;
  status: number;
  /** The peer's address: 127.0.0.1 for the host and for a QEMU guest (slirp connects from loopback). */
  from: string;
  /** Milliseconds since the epoch, on the server's clock. */
  at: number;
}

export interface ImdsOptions {
  instanceId?: string;
  region?: string;
  /** Default: the region followed by "a". */
  availabilityZone?: string;
  /** The instance profile's role; null: no role (iam/security-credentials/ answers 404). */
  role?: string | null;
  credentials?: Partial<ImdsCredentials>;
  /** Raw user data; undefined: none (GET /latest/user-data answers 404, as AWS does). */
  userData?: string;
  accountId?: string;
  /** Default: a free port. */
  port?: number;
  /** The clock tokens expire by (milliseconds since the epoch); replaceable in tests. */
  now?: () => number;
}

/** A running IMDSv2 stand-in. Every public field can be changed while it runs, e.g. between two boots. */
export class Imds {
  instanceId: string;
  region: string;
  availabilityZone: string;
  role: string | null;
  credentials: ImdsCredentials;
  userData: string | undefined;
  accountId: string;
  now: () => number;
  /** Every request, in order of arrival. */
  readonly requests: ImdsRequest[] = [];
  private readonly tokens = new Map<string, number>();
  private readonly faults: { status: number; remaining: number; path: string | undefined }[] = [];

  constructor(
    private readonly server: http.Server,
    readonly port: number,
    options: ImdsOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.instanceId = options.instanceId ?? "i-0123456789abcdef0";
    this.region = options.region ?? "us-east-1";
    this.availabilityZone = options.availabilityZone ?? `${this.region}a`;
    this.role = options.role === undefined ? "i2kit-test-instance-role" : options.role;
    this.userData = options.userData;
    this.accountId = options.accountId ?? "123456789012";
    const now = this.now();
    this.credentials = {
      accessKeyId: "ASIAIMDSSTANDIN00001",
      secretAccessKey: "imds-stand-in-secret-access-key",
      token: "imds-stand-in-session-token",
      expiration: new Date(now + 6 * 3600_000),
      lastUpdated: new Date(now),
      ...options.credentials,
    };
  }

  /** For a process on the host: http://127.0.0.1:PORT. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** For a QEMU guest on user networking: http://10.0.2.2:PORT. */
  get guestEndpoint(): string {
    return `http://${QEMU_HOST_ADDRESS}:${this.port}`;
  }

  /** Invalidates every token issued so far: the next GET with one is answered 401 (a client must get a new token). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  /** Answers the next `times` requests (to `path` only, when given) with `status`, whatever they carry. Recorded as such. */
  failNext(status: number, times = 1, path?: string): void {
    this.faults.push({ status, remaining: times, path });
  }

  /** Requests without a valid token, apart from the token requests themselves. */
  unauthenticated(): ImdsRequest[] {
    return this.requests.filter((r) => !(r.method === "PUT" && r.path === TOKEN_PATH) && !r.validToken);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.close((e) => (e ? reject(e) : resolve()));
      this.server.closeAllConnections();
    });
  }

  /** @internal the request handler */
  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0] as string;
    const method = req.method ?? "GET";
    const presented = header(req, TOKEN_HEADER);
    const expires = presented !== undefined ? this.tokens.get(presented) : undefined;
    const validToken = expires !== undefined && this.now() < expires;
    const ttlHeader = header(req, TTL_HEADER);
    const record = (status: number) =>
      this.requests.push({ method, path, hadToken: presented !== undefined, validToken, ...(ttlHeader !== undefined ? { ttlHeader } : {}), status, from: req.socket.remoteAddress ?? "", at: this.now() });
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      record(status);
      res.writeHead(status, { "content-type": "text/plain", ...headers });
      res.end(body);
    };
    req.resume();

    const fault = this.faults.find((f) => f.remaining > 0 && (f.path === undefined || f.path === path));
    if (fault) {
      fault.remaining -= 1;
      return send(fault.status, "");
    }
    if (path === TOKEN_PATH) {
      if (method !== "PUT") return send(405, "");
      const ttl = ttlHeader !== undefined && /^\d+$/.test(ttlHeader.trim()) ? Number(ttlHeader.trim()) : NaN;
      if (!(ttl >= 1 && ttl <= MAX_TOKEN_TTL_SECONDS)) return send(400, "");
      const token = randomBytes(32).toString("base64url");
      this.tokens.set(token, this.now() + ttl * 1000);
      return send(200, token, { [TTL_HEADER]: String(ttl) });
    }
    if (method !== "GET" && method !== "HEAD") return send(405, "");
    // IMDSv2 required: without a live token, nothing but 401.
    if (!validToken) return send(401, "");
    const body = this.lookup(path);
    if (body === undefined) return send(404, "");
    return send(200, body, { [TTL_HEADER]: String(Math.max(0, Math.floor(((expires as number) - this.now()) / 1000))) });
  }

  private lookup(path: string): string | undefined {
    const md = "/latest/meta-data/";
    const creds = `${md}iam/security-credentials/`;
    switch (path) {
      case "/latest/user-data":
        return this.userData;
      case `${md}instance-id`:
        return this.instanceId;
      case `${md}placement/region`:
        return this.region;
      case `${md}placement/availability-zone`:
        return this.availabilityZone;
      case `${md}placement/`:
        return "availability-zone\nregion";
      case `${md}iam/`:
        return this.role === null ? undefined : "info\nsecurity-credentials/";
      case creds:
        return this.role ?? undefined;
      case md:
        return ["instance-id", "placement/", ...(this.role === null ? [] : ["iam/"])].join("\n");
      case "/latest/dynamic/instance-identity/document":
        return JSON.stringify(
          { accountId: this.accountId, architecture: "x86_64", availabilityZone: this.availabilityZone, imageId: "ami-00000000000000000", instanceId: this.instanceId, instanceType: "t3.micro", region: this.region, version: "2017-09-30" },
          null,
          2,
        );
    }
    if (this.role !== null && path === `${creds}${this.role}`) {
      const c = this.credentials;
      return JSON.stringify(
        { Code: "Success", LastUpdated: awsTime(c.lastUpdated), Type: "AWS-HMAC", AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.token, Expiration: awsTime(c.expiration) },
        null,
        2,
      );
    }
    return undefined;
  }
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** IMDS writes times as 2024-05-17T15:09:54Z (no milliseconds). */
function awsTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Starts the stand-in on 127.0.0.1 (a free port unless `port` is given). */
export async function startImds(options: ImdsOptions = {}): Promise<Imds> {
  let imds: Imds | undefined;
  const server = http.createServer((req, res) => imds?.handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  imds = new Imds(server, (server.address() as net.AddressInfo).port, options);
  return imds;
}
