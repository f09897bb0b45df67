// Runs Pulumi programs under the SDK's mock monitor and records every
// registration with its parent, in normal or preview mode.
import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { settle, startRecording, type Registration } from "../../cli/plan/record";

export type Registered = Registration;

const DIGEST = `sha256:${"e".repeat(64)}`;

/** Outputs the providers would compute, by type token, for a normal (non-preview) run. */
function computed(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const arn = `arn:aws:mock:eu-west-1:123456789012:${type.split(":").pop()}/${name}`;
  switch (type) {
    case "aws:ecr/repository:Repository":
      return { repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${String(inputs.name)}`, registryId: "123456789012", arn };
    case "docker:index/image:Image":
      return { repoDigest: `${String(inputs.imageName).split(":")[0]}@${DIGEST}` };
    case "aws:lb/loadBalancer:LoadBalancer":
      return { arn, dnsName: `${name}.elb.eu-west-1.amazonaws.com`, zoneId: "Z32O12XQLNTSW2" };
    case "aws:launchTemplate:LaunchTemplate":
    case "aws:ec2/launchTemplate:LaunchTemplate":
      return { arn, latestVersion: 1 };
    case "aws:route53/zone:Zone":
      return { zoneId: `Z-${name}`, arn };
    case "aws:s3/bucket:Bucket":
      return { arn: `arn:aws:s3:::${name}`, bucket: name };
    case "command:local:Command":
      // What `i2kit ami upload --json` prints; a build prints nothing on stdout.
      return { stdout: String(inputs.create).includes("ami upload") ? JSON.stringify({ snapshotId: `snap-${name}`, imageId: `ami-${name}` }) : "", stderr: "" };
    case "aws:autoscaling/group:Group":
      return { arn, name: `${name}-asg` };
    default:
      // Most resources get a provider-made name when none is given.
      return { arn, name: inputs.name ?? `${name}-1a2b3c` };
  }
}

/** Answers for the data-source calls the components make. */
function invoke(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case "docker:index/getRegistryImage:getRegistryImage":
      // A different reference has a different digest, as in a registry.
      return { name: inputs.name, sha256Digest: `sha256:${createHash("sha256").update(String(inputs.name)).digest("hex")}` };
    case "aws:ec2/getVpc:getVpc":
      return { id: inputs.id, cidrBlock: "10.20.0.0/16" };
    case "aws:ec2/getSubnet:getSubnet":
      return { id: inputs.id, availabilityZone: "eu-west-1a" };
    case "aws:index/getAvailabilityZones:getAvailabilityZones":
      return { names: ["eu-west-1a", "eu-west-1b", "eu-west-1c"] };
    case "aws:index/getRegion:getRegion":
      return { name: "eu-west-1", region: "eu-west-1" };
    case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
      return { userName: "AWS", password: "ecr-token-not-for-logs", proxyEndpoint: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com" };
    case "aws:kms/getKey:getKey":
      return { arn: String(inputs.keyId).startsWith("arn:") ? inputs.keyId : `arn:aws:kms:eu-west-1:123456789012:key/${String(inputs.keyId)}` };
    case "aws:secretsmanager/getSecret:getSecret":
      return { arn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${String(inputs.name)}` };
    default:
      return {};
  }
}

export interface Harness {
  resources: Registered[];
  /** Waits until every registration of the program has arrived. */
  settle(): Promise<void>;
  find(type: string, name?: string | RegExp): Registered;
  all(type: string): Registered[];
}

/** Installs the mocks; `preview` makes every computed output unknown, as in `pulumi preview`. */
export function mockPulumi(preview = false): Harness {
  const resources = startRecording({ preview, computed, invoke });
  return {
    resources,
    settle: () => settle(resources),
    find(type, name) {
      const match = resources.filter((r) => r.type === type && (name === undefined || (typeof name === "string" ? r.name === name : name.test(r.name))));
      if (match.length !== 1) throw new Error(`expected one ${type} ${String(name ?? "")}, found ${match.length}: ${resources.filter((r) => r.type === type).map((r) => r.name).join(", ")}`);
      return match[0] as Registered;
    },
    all: (type) => resources.filter((r) => r.type === type),
  };
}

/** The value of an output, or "unknown" when preview does not know it yet. */
export async function valueOf<T>(output: pulumi.Output<T>): Promise<T | "unknown"> {
  const internal = output as unknown as { isKnown: Promise<boolean>; promise(): Promise<T> };
  return (await internal.isKnown) ? internal.promise() : "unknown";
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Whether a registered input was sent as a Pulumi secret (encrypted in the state). */
export function isSecret(value: unknown): boolean {
  return typeof value === "object" && value !== null && SECRET_SIG in value;
}

/** The registered inputs with every secret value blanked: what would stand in the state in clear. */
export function inClear(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (isSecret(v) ? "[secret]" : v));
}

export const UNKNOWN = { __pulumiUnknown: true };
