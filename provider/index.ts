// The multi-language face of i2kit: `pulumi package add <this directory>`
// generates Python, Go, .NET and YAML SDKs for these components. Their
// arguments are plain (strings, numbers, lists, maps) so that every language
// can pass them; they wire the same resources as the TypeScript components.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { componentProviderHost } from "@pulumi/pulumi/provider/experimental";
import { prepareApp, wireApp } from "../components/app";
import type { NetworkRefs } from "../components/network";
import { prepareService, wireService, type ServiceOptions } from "../components/service";

/** Options every service takes, whatever language declares it. */
export interface DeployOptions {
  /** Scale out on CPU up to this many instances (default: replicas, no scaling). */
  maxReplicas?: number;
  /** Size in GiB of the data disk for named volumes (default 20). */
  dataVolumeSizeGb?: number;
  /** An EC2 key pair for the instances; none by default, as there is nothing to log in to. */
  keyName?: pulumi.Input<string>;
  /** Add an HTTP:80 listener that redirects to HTTPS:443. */
  redirectHttpToHttps?: boolean;
  /** TLS policy of HTTPS and TLS listeners (default ELBSecurityPolicy-TLS13-1-2-2021-06). */
  sslPolicy?: string;
  /** An existing S3 bucket for disk images; a private, encrypted one is created otherwise. */
  imageBucket?: pulumi.Input<string>;
  /** An existing VM Import service role; a least-privilege vmimport role is created otherwise. */
  vmImportRoleName?: pulumi.Input<string>;
  /** KMS key for snapshots, volumes and secrets; the account's default keys otherwise. */
  kmsKeyId?: pulumi.Input<string>;
  /** Path of the linuxkit executable (default: linuxkit on PATH). */
  linuxkitPath?: string;
  /** Directory for rendered configs and disk images (default .i2kit/build). */
  buildDir?: string;
  /** How disk images become snapshots: "ebs-direct" (default, seconds) or "vm-import" (minutes). */
  upload?: string;
  /** How long CloudWatch Logs keeps the containers' output, in days (default 30). */
  logRetentionDays?: number;
  /** KMS key ARN to encrypt the service's log group with (its key policy must admit CloudWatch Logs). */
  logKmsKeyArn?: pulumi.Input<string>;
}

export interface ServiceArgs extends DeployOptions {
  /** Path of a Compose file or i2kit service.yml. Give this or yaml. */
  file?: string;
  /** A Compose file or i2kit service.yml as YAML text. Give this or file. */
  yaml?: string;
  /** Which service of a multi-service Compose file (default: the only one). */
  serviceName?: string;
  /** App name, used in resource names and tags (default: the file's). */
  app?: string;
  /** The VPC to run in. i2kit never falls back to the account's default VPC. */
  vpcId: pulumi.Input<string>;
  /** Public subnets, for an internet-facing load balancer. */
  publicSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Private subnets, for the instances and internal load balancers. */
  privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The VPC's CIDR block (looked up when absent). */
  vpcCidrBlock?: pulumi.Input<string>;
}

function deployOptions(args: DeployOptions): ServiceOptions {
  const { maxReplicas, dataVolumeSizeGb, keyName, redirectHttpToHttps, sslPolicy, imageBucket, vmImportRoleName, kmsKeyId, linuxkitPath, buildDir, upload, logRetentionDays, logKmsKeyArn } = args;
  if (upload !== undefined && upload !== "ebs-direct" && upload !== "vm-import") throw new Error(`upload is "ebs-direct" or "vm-import", not "${upload}"`);
  const options: ServiceOptions = { maxReplicas, dataVolumeSizeGb, keyName, redirectHttpToHttps, sslPolicy, imageBucket, vmImportRoleName, kmsKeyId, linuxkitPath, buildDir, upload, logRetentionDays, logKmsKeyArn };
  for (const key of Object.keys(options) as (keyof ServiceOptions)[]) if (options[key] === undefined) delete options[key];
  return options;
}

/** One service of a Compose file or i2kit manifest, as an AMI-backed, load-balanced, autoscaled VM group. */
export class Service extends pulumi.ComponentResource {
  /** The load balancer's URL with scheme and port; empty when the service has no load balancer. */
  public readonly url: pulumi.Output<string>;
  /** The AMI the instances run. */
  public readonly imageId: pulumi.Output<string>;
  /** Name of the Auto Scaling group. */
  public readonly autoScalingGroupName: pulumi.Output<string>;
  /** The rendered LinuxKit config. */
  public readonly linuxkitConfig: pulumi.Output<string>;
  /** sha256 of the LinuxKit config: the same hash, the same AMI. */
  public readonly contentHash: pulumi.Output<string>;

  constructor(name: string, args: ServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    const network: NetworkRefs = {
      vpcId: args.vpcId,
      publicSubnetIds: args.publicSubnetIds,
      privateSubnetIds: args.privateSubnetIds,
      ...(args.vpcCidrBlock ? { cidrBlock: args.vpcCidrBlock } : {}),
    };
    const source = { ...(args.file ? { file: args.file } : {}), ...(args.yaml !== undefined ? { yaml: args.yaml } : {}), ...(args.serviceName ? { serviceName: args.serviceName } : {}) };
    const prepared = prepareService(name, { ...source, ...(args.app ? { app: args.app } : {}), network });
    super("i2kit:index:Service", name, {}, opts);
    const r = wireService(this, name, prepared, { ...deployOptions(args), network });
    this.url = r.url.apply((u) => u ?? "");
    this.imageId = r.imageId;
    this.autoScalingGroupName = r.autoScalingGroupName;
    this.linuxkitConfig = r.linuxkitConfig;
    this.contentHash = r.contentHash;
    this.registerOutputs({ url: this.url, imageId: this.imageId, autoScalingGroupName: this.autoScalingGroupName, linuxkitConfig: this.linuxkitConfig, contentHash: this.contentHash });
  }
}

export interface AppArgs extends DeployOptions {
  /** Path of a Compose file. Give this or yaml. */
  file?: string;
  /** A Compose file as YAML text. Give this or file. */
  yaml?: string;
  /** An existing VPC; the app creates its own (two zones, no NAT gateway) when absent. */
  vpcId?: pulumi.Input<string>;
  /** Public subnets of the given VPC. */
  publicSubnetIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** Private subnets of the given VPC. */
  privateSubnetIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** Private DNS zone the services are named in (default <app>.internal). */
  privateZoneName?: string;
  /** A public hosted zone for <service>.<zone> records of public services. */
  publicZoneId?: pulumi.Input<string>;
  /** The public hosted zone's domain name. */
  publicZoneName?: string;
}

/** A whole Compose file: one Service per Compose service, a private DNS zone, and its own VPC unless given one. */
export class App extends pulumi.ComponentResource {
  /** URL of each service that has a load balancer, by service name. */
  public readonly urls: pulumi.Output<Record<string, string>>;
  /** The private Route 53 zone the services are named in. */
  public readonly privateZoneId: pulumi.Output<string>;
  /** The VPC the app runs in. */
  public readonly vpcId: pulumi.Output<string>;

  constructor(name: string, args: AppArgs, opts?: pulumi.ComponentResourceOptions) {
    if ((args.vpcId === undefined) !== (args.privateSubnetIds === undefined) || (args.vpcId === undefined) !== (args.publicSubnetIds === undefined)) {
      throw new Error(`App ${name}: give vpcId, publicSubnetIds and privateSubnetIds together, or none of them`);
    }
    if ((args.publicZoneId === undefined) !== (args.publicZoneName === undefined)) throw new Error(`App ${name}: give publicZoneId and publicZoneName together`);
    const appArgs = {
      ...(args.file ? { file: args.file } : {}),
      ...(args.yaml !== undefined ? { yaml: args.yaml } : {}),
      ...(args.vpcId && args.publicSubnetIds && args.privateSubnetIds ? { network: { vpcId: args.vpcId, publicSubnetIds: args.publicSubnetIds, privateSubnetIds: args.privateSubnetIds } } : {}),
      ...(args.privateZoneName ? { privateZoneName: args.privateZoneName } : {}),
      ...(args.publicZoneId && args.publicZoneName ? { publicZone: { zoneId: args.publicZoneId, name: args.publicZoneName } } : {}),
      ...deployOptions(args),
    };
    const prepared = prepareApp(name, appArgs);
    super("i2kit:index:App", name, {}, opts);
    const r = wireApp(this, name, prepared, appArgs);
    this.urls = r.urls;
    this.privateZoneId = r.privateZoneId;
    this.vpcId = r.vpcId;
    this.registerOutputs({ urls: this.urls, privateZoneId: this.privateZoneId, vpcId: this.vpcId });
  }
}

/** The directory with PulumiPlugin.yaml, whether this runs from provider/ or from a build in dist/provider/. */
const pluginDir = fs.existsSync(path.join(__dirname, "PulumiPlugin.yaml")) ? __dirname : path.resolve(__dirname, "../../provider");

export const PROVIDER_OPTIONS = { components: [Service, App], name: "i2kit", namespace: "i2kit", dirname: pluginDir };

if (require.main === module) {
  void componentProviderHost(PROVIDER_OPTIONS);
}
