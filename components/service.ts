// Service: one ServiceSpec, wired end to end: pinned container images → the
// LinuxKit disk image → an AMI → a load balancer and an Auto Scaling group,
// plus its secrets in Secrets Manager.
import * as fs from "node:fs";
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { defineApp, loadFile, loadText } from "../schema/load";
import type { AppSpec, SecretSpec, ServiceSpec, ServiceSpecInput } from "../schema/spec";
import { Ami, type AmiUpload } from "./ami";
import { architectureOf, type Architecture } from "./architecture";
import { AutoScalingGroup } from "./auto-scaling-group";
import { ContainerImage, type RegistryAuth } from "./container-image";
import { AGENT_BOOT_NAME, logGroupName } from "./linuxkit/agent";
import type { BaseImages } from "./linuxkit/images";
import type { ResolvedImage } from "./linuxkit/render";
import { LinuxKitImage } from "./linuxkit-image";
import { LoadBalancer } from "./load-balancer";
import { planLoadBalancer } from "./load-balancer-plan";
import type { NetworkRefs } from "./network";
import { effectiveListeners, instancePorts, needsDataDisk, serviceUrl } from "./service-plan";
import { i2kitTags } from "./tags";

export interface ServiceSource {
  /** A Compose file or i2kit service.yml. */
  file?: string;
  /** The same, as YAML text. */
  yaml?: string;
  /** Typed arguments. */
  spec?: ServiceSpecInput;
  /** Which service of a multi-service file (default: the only one). */
  serviceName?: string;
  /** Where a typed spec's relative paths (bind sources, build contexts, secret files) start. */
  projectDir?: string;
}

export interface ServiceOptions {
  /** Scale out on CPU up to this many instances (default: replicas, no scaling). */
  maxReplicas?: number;
  /** Data disk size for named volumes, GiB (default 20). */
  dataVolumeSizeGb?: number;
  keyName?: pulumi.Input<string>;
  redirectHttpToHttps?: boolean;
  sslPolicy?: string;
  ingressCidrs?: pulumi.Input<pulumi.Input<string>[]>;
  imageBucket?: pulumi.Input<string>;
  vmImportRoleName?: pulumi.Input<string>;
  kmsKeyId?: pulumi.Input<string>;
  baseImages?: Partial<BaseImages>;
  linuxkitPath?: string;
  buildDir?: string;
  /** How the disk image becomes a snapshot: "ebs-direct" (default, seconds) or "vm-import" (minutes). */
  upload?: AmiUpload;
  /** Secret values by secret name, instead of reading their file or variable. */
  secretValues?: Record<string, pulumi.Input<string>>;
  /** How long CloudWatch Logs keeps the containers' output, in days (default 30). */
  logRetentionDays?: number;
  /** A KMS key ARN to encrypt the log group with (its key policy must admit CloudWatch Logs). */
  logKmsKeyArn?: pulumi.Input<string>;
}

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
export const DEFAULT_LOG_RETENTION_DAYS = 30;

/** The boot agent's sources (Go, with its Dockerfile): beside the sources, or beside dist/ once built. */
export function agentBuildContext(): string {
  const candidates = [path.resolve(__dirname, "../agent"), path.resolve(__dirname, "../../agent")];
  return candidates.find((dir) => fs.existsSync(path.join(dir, "Dockerfile"))) ?? (candidates[0] as string);
}

export interface ServiceArgs extends ServiceSource, ServiceOptions {
  app?: string;
  /** The VPC and subnets to use. Required: i2kit never falls back to the account's default VPC. */
  network: NetworkRefs;
  /** The boot agent's image when an App shares one among its services (for the service's architecture); by default the Service builds its own. */
  agent?: ContainerImage;
}

/**
 * The boot agent's image, built from agent/Dockerfile for one architecture
 * and pushed to the app's ECR. An App builds one per architecture for all
 * its services; a Service on its own builds its own.
 */
export function agentImage(name: string, app: string, architecture: Architecture, service: string | undefined, parent: pulumi.Resource): ContainerImage {
  return new ContainerImage(
    name,
    {
      app,
      ...(service ? { service } : {}),
      container: service ? AGENT_BOOT_NAME : `${AGENT_BOOT_NAME}-${architecture}`,
      build: { context: agentBuildContext(), dockerfile: "Dockerfile", args: {} },
      platform: `linux/${architecture}`,
    },
    { parent },
  );
}

/** Resolves a Service's source to one validated spec, with the directory its relative paths start from. */
export function resolveServiceSpec(source: ServiceSource, app?: string): { app: AppSpec; service: ServiceSpec } {
  const given = [source.file, source.yaml, source.spec].filter((s) => s !== undefined).length;
  if (given !== 1) throw new Error("Service: give exactly one of file, yaml or spec");
  const loaded: AppSpec = source.file
    ? loadFile(source.file).app
    : source.yaml !== undefined
      ? loadText(source.yaml, path.resolve(source.projectDir ?? ".", "compose.yaml"), { fallbackName: app ?? "app" }).app
      : defineApp({
          name: app ?? (source.spec as ServiceSpecInput).name,
          projectDir: source.projectDir ?? ".",
          services: [source.spec as ServiceSpecInput],
        });
  const names = loaded.services.map((s) => s.name);
  const wanted = source.serviceName ?? (names.length === 1 ? names[0] : undefined);
  const service = loaded.services.find((s) => s.name === wanted);
  if (!service) {
    throw new Error(
      source.serviceName ? `Service: no service "${source.serviceName}" (there are ${names.join(", ")})` : `Service: the file has ${names.length} services (${names.join(", ")}); pick one with serviceName`,
    );
  }
  return { app: { ...loaded, name: app ?? loaded.name }, service };
}

/** A secret's value at deploy time: from its file or variable, or given. External secrets have none here. */
export function secretValue(secret: SecretSpec, projectDir: string, env: NodeJS.ProcessEnv, given?: Record<string, pulumi.Input<string>>): pulumi.Input<string> | undefined {
  const override = given?.[secret.name];
  if (override !== undefined) return override;
  switch (secret.source.kind) {
    case "file": {
      const file = path.resolve(projectDir, secret.source.path);
      if (!fs.existsSync(file)) throw new Error(`secret ${secret.name}: file ${secret.source.path} does not exist`);
      return fs.readFileSync(file, "utf8");
    }
    case "environment": {
      const value = env[secret.source.variable];
      if (value === undefined) throw new Error(`secret ${secret.name}: environment variable ${secret.source.variable} is not set`);
      return value;
    }
    case "external":
      return undefined;
  }
}

/** A service checked and ready to wire: everything that can be wrong with the arguments is found here. */
export interface PreparedService {
  app: AppSpec;
  service: ServiceSpec;
  architecture: ReturnType<typeof architectureOf>;
  listeners: ReturnType<typeof effectiveListeners>;
  secrets: { spec: SecretSpec; value: pulumi.Input<string> | undefined }[];
}

export function prepareService(name: string, args: ServiceArgs): PreparedService {
  if (!args.network) throw new Error(`Service ${name}: give a network (vpcId, publicSubnetIds, privateSubnetIds), for example from a Network component; i2kit never uses the default VPC`);
  const { app, service } = resolveServiceSpec(args, args.app);
  const listeners = effectiveListeners(service);
  // Listener combinations no load balancer can serve, and secrets that cannot be read, fail here.
  if (listeners.length > 0) planLoadBalancer(listeners, service.healthCheck, service.name);
  const secrets = service.secrets.map((s) => ({ spec: s, value: secretValue(s, app.projectDir, process.env, args.secretValues) }));
  if (args.logRetentionDays !== undefined && !(LOG_RETENTION_DAYS as readonly number[]).includes(args.logRetentionDays)) {
    throw new Error(`Service ${name}: logRetentionDays must be one of CloudWatch Logs' periods (${LOG_RETENTION_DAYS.join(", ")}), not ${args.logRetentionDays}`);
  }
  return { app, service, architecture: architectureOf(service.instanceType), listeners, secrets };
}

export interface ServiceResources {
  url: pulumi.Output<string | undefined>;
  imageId: pulumi.Output<string>;
  autoScalingGroupName: pulumi.Output<string>;
  linuxkitConfig: pulumi.Output<string>;
  contentHash: pulumi.Output<string>;
  loadBalancer: LoadBalancer | undefined;
  logGroupName: pulumi.Output<string>;
  agentImage: pulumi.Output<string>;
}

/**
 * Creates a service's resources under `parent`. Shared by the Service
 * component and the multi-language provider's Service, which differ only in
 * the arguments they accept.
 */
export function wireService(parent: pulumi.ComponentResource, name: string, prepared: PreparedService, args: ServiceOptions & { network: NetworkRefs; agent?: ContainerImage }): ServiceResources {
  const { app, service, architecture, listeners, secrets: secretInputs } = prepared;
  const appName = app.name;
  const tags = i2kitTags(appName, service.name);

  const images: Record<string, pulumi.Output<ResolvedImage>> = {};
  const auths: pulumi.Output<RegistryAuth | undefined>[] = [];
  for (const c of service.containers) {
    const image = new ContainerImage(
      `${name}-${c.name}`,
      {
        app: appName,
        service: service.name,
        container: c.name,
        ...(c.image ? { image: c.image } : {}),
        ...(c.build ? { build: c.build } : {}),
        projectDir: app.projectDir,
        platform: `linux/${architecture}`,
      },
      { parent },
    );
    images[c.name] = image.imageRef.apply((ref) => ({ ref }));
    auths.push(image.registryAuth);
  }
  // The boot agent: secrets at boot, the stateful volume attached, container output to CloudWatch Logs.
  const agent = args.agent ?? agentImage(`${name}-agent`, appName, architecture, service.name, parent);
  auths.push(agent.registryAuth);
  const logGroup = new aws.cloudwatch.LogGroup(
    `${name}-logs`,
    {
      name: logGroupName(appName, service.name),
      retentionInDays: args.logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS,
      ...(args.logKmsKeyArn ? { kmsKeyId: args.logKmsKeyArn } : {}),
      tags,
    },
    { parent },
  );
  const linuxkit = new LinuxKitImage(
    `${name}-vm`,
    {
      app: appName,
      service,
      images,
      agentImage: agent.imageRef,
      architecture,
      projectDir: app.projectDir,
      registryAuth: auths,
      ...(args.baseImages ? { baseImages: args.baseImages } : {}),
      ...(args.linuxkitPath ? { linuxkitPath: args.linuxkitPath } : {}),
      ...(args.buildDir ? { outputDir: args.buildDir } : {}),
    },
    { parent },
  );
  const ami = new Ami(
    `${name}-ami`,
    {
      app: appName,
      service: service.name,
      architecture,
      imagePath: linuxkit.imagePath,
      contentHash: linuxkit.contentHash,
      imageRefs: Object.fromEntries(Object.entries(images).map(([k, v]) => [k, v.ref])),
      ...(args.imageBucket ? { bucket: args.imageBucket } : {}),
      ...(args.vmImportRoleName ? { vmImportRoleName: args.vmImportRoleName } : {}),
      ...(args.kmsKeyId ? { kmsKeyId: args.kmsKeyId } : {}),
      ...(args.upload ? { upload: args.upload } : {}),
    },
    { parent },
  );

  const secretArns: pulumi.Output<string>[] = secretInputs.map(({ spec, value }) => {
    if (value === undefined) {
      const external = spec.source.kind === "external" ? spec.source.name : spec.name;
      return aws.secretsmanager.getSecretOutput({ name: external }, { parent }).arn;
    }
    const secret = new aws.secretsmanager.Secret(
      `${name}-secret-${spec.name}`,
      {
        name: `i2kit/${appName}/${service.name}/${spec.name}`,
        description: `Compose secret ${spec.name} of ${appName}/${service.name}`,
        recoveryWindowInDays: 7,
        ...(args.kmsKeyId ? { kmsKeyId: args.kmsKeyId } : {}),
        tags: { ...tags, "i2kit:secret": spec.name },
      },
      { parent },
    );
    new aws.secretsmanager.SecretVersion(`${name}-secret-${spec.name}`, { secretId: secret.id, secretString: pulumi.secret(value) }, { parent });
    return secret.arn;
  });

  const lb =
    listeners.length > 0
      ? new LoadBalancer(
          `${name}-lb`,
          {
            app: appName,
            service: service.name,
            listeners,
            ...(service.healthCheck ? { healthCheck: service.healthCheck } : {}),
            public: service.public,
            vpcId: args.network.vpcId,
            ...(args.network.cidrBlock ? { vpcCidrBlock: args.network.cidrBlock } : {}),
            subnetIds: service.public ? args.network.publicSubnetIds : args.network.privateSubnetIds,
            ...(args.ingressCidrs ? { ingressCidrs: args.ingressCidrs } : {}),
            ...(args.redirectHttpToHttps ? { redirectHttpToHttps: true } : {}),
            ...(args.sslPolicy ? { sslPolicy: args.sslPolicy } : {}),
          },
          { parent },
        )
      : undefined;
      const group = new AutoScalingGroup(
    `${name}-group`,
    {
      app: appName,
      service: service.name,
      imageId: ami.imageId,
      architecture,
      instanceType: service.instanceType,
      vpcId: args.network.vpcId,
      subnetIds: args.network.privateSubnetIds,
      instancePorts: instancePorts(listeners),
      replicas: service.replicas,
      stateful: service.stateful,
      ...(lb ? { loadBalancerSecurityGroupId: lb.securityGroupId, targetGroupArns: lb.targetGroupArns.apply((arns) => Object.values(arns)) } : {}),
      ...(args.maxReplicas !== undefined ? { maxReplicas: args.maxReplicas } : {}),
      ...(needsDataDisk(service) || service.stateful ? { dataVolumeSizeGb: args.dataVolumeSizeGb ?? 20 } : {}),
      ...(secretArns.length > 0 ? { secretArns } : {}),
      logGroupArn: logGroup.arn,
      ...(args.keyName ? { keyName: args.keyName } : {}),
      ...(args.kmsKeyId ? { kmsKeyId: args.kmsKeyId } : {}),
    },
    { parent },
  );
  const first = listeners[0];
  return {
    url: lb && first ? lb.dnsName.apply((dns) => serviceUrl(first, dns)) : pulumi.output(undefined),
    imageId: ami.imageId,
    autoScalingGroupName: group.name,
    linuxkitConfig: linuxkit.config,
    contentHash: linuxkit.contentHash,
    loadBalancer: lb,
    logGroupName: logGroup.name,
    agentImage: agent.imageRef,
  };
}

export class Service extends pulumi.ComponentResource {
  readonly url: pulumi.Output<string | undefined>;
  readonly imageId: pulumi.Output<string>;
  readonly autoScalingGroupName: pulumi.Output<string>;
  readonly linuxkitConfig: pulumi.Output<string>;
  readonly contentHash: pulumi.Output<string>;
  readonly loadBalancer: LoadBalancer | undefined;
  /** Where the containers' stdout and stderr go. */
  readonly logGroupName: pulumi.Output<string>;
  /** The boot agent's image, pinned. */
  readonly agentImage: pulumi.Output<string>;
  readonly spec: ServiceSpec;

  constructor(name: string, args: ServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    // Everything that can be wrong with the arguments is found before the component registers.
    const prepared = prepareService(name, args);
    super("i2kit:index:Service", name, {}, opts);
    this.spec = prepared.service;
    const r = wireService(this, name, prepared, args);
    this.url = r.url;
    this.imageId = r.imageId;
    this.autoScalingGroupName = r.autoScalingGroupName;
    this.linuxkitConfig = r.linuxkitConfig;
    this.contentHash = r.contentHash;
    this.loadBalancer = r.loadBalancer;
    this.logGroupName = r.logGroupName;
    this.agentImage = r.agentImage;
    this.registerOutputs({ url: this.url, imageId: this.imageId, autoScalingGroupName: this.autoScalingGroupName, linuxkitConfig: this.linuxkitConfig, logGroupName: this.logGroupName });
  }
}
