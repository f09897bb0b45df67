// AutoScalingGroup: the service's VMs. IMDSv2 only, encrypted disks, no SSH
// key unless given, an instance role with only what the VM needs, and
// rolling instance refreshes that keep full capacity and roll back on failure.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { STATEFUL_DEVICE } from "./linuxkit/agent";
import { ARCHITECTURES, type Architecture } from "./architecture";
import { i2kitTags } from "./tags";

export interface AutoScalingGroupArgs {
  app: string;
  service: string;
  imageId: pulumi.Input<string>;
  architecture: Architecture;
  instanceType: string;
  vpcId: pulumi.Input<string>;
  /** Private subnets the instances run in; a stateful service uses the first one only. */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The load balancer's security group: the only source admitted on the instance ports. */
  loadBalancerSecurityGroupId?: pulumi.Input<string>;
  instancePorts: { port: number; protocol: "tcp" | "udp" }[];
  targetGroupArns?: pulumi.Input<pulumi.Input<string>[]>;
  replicas: number;
  /** Scale out up to this many instances on CPU (default: no scaling, `replicas` always). */
  maxReplicas?: number;
  cpuTargetPercent?: number;
  stateful: boolean;
  /** Size of the data disk for named volumes (GiB); none when absent. */
  dataVolumeSizeGb?: number;
  /** Secrets Manager secrets the instance may read. */
  secretArns?: pulumi.Input<pulumi.Input<string>[]>;
  /** The log group the instance may write to. */
  logGroupArn?: pulumi.Input<string>;
  /** An EC2 key pair; none by default: there is nothing to log in to. */
  keyName?: pulumi.Input<string>;
  rootVolumeSizeGb?: number;
  healthCheckGracePeriodSeconds?: number;
  kmsKeyId?: pulumi.Input<string>;
}

export const EC2_TRUST = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

export interface PolicyStatement {
  Sid: string;
  Effect: "Allow";
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface InstanceAccess {
  app: string;
  service: string;
  /** The service's own Secrets Manager secrets. */
  secretArns: readonly string[];
  /** The service's own log group (the boot agent ships container output there). */
  logGroupArn?: string;
  /** The stateful service's own EBS volume. */
  dataVolumeArn?: string;
  /** The customer managed KMS key its secrets and volume are encrypted with, when there is one. */
  kmsKeyArn?: string;
}

/**
 * The instance role's permissions, and nothing else: read its own secrets,
 * write to its own log group, attach its own volume to its own instances.
 * No statement has a `*` resource: the agent gets the volume id from the
 * user data instead of searching with ec2:DescribeVolumes, which cannot be
 * scoped to one volume.
 */
export function instancePolicyStatements(a: InstanceAccess): PolicyStatement[] {
  const statements: PolicyStatement[] = [];
  if (a.secretArns.length > 0) statements.push({ Sid: "ReadOwnSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [...a.secretArns] });
  if (a.logGroupArn) {
    statements.push({ Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [a.logGroupArn, `${a.logGroupArn}:log-stream:*`] });
  }
  if (a.dataVolumeArn) {
    // Instance ids are not known before launch: the instance side is scoped by the region, account and tags.
    const [, partition = "aws", , region = "*", account = "*"] = a.dataVolumeArn.split(":");
    statements.push(
      { Sid: "AttachOwnVolume", Effect: "Allow", Action: ["ec2:AttachVolume"], Resource: [a.dataVolumeArn] },
      {
        Sid: "AttachToOwnInstances",
        Effect: "Allow",
        Action: ["ec2:AttachVolume"],
        Resource: [`arn:${partition}:ec2:${region}:${account}:instance/*`],
        Condition: { StringEquals: { "aws:ResourceTag/i2kit:app": a.app, "aws:ResourceTag/i2kit:service": a.service } },
      },
    );
  }
  if (a.kmsKeyArn) {
    const region = a.kmsKeyArn.split(":")[3] ?? "";
    // Secrets Manager decrypts with the caller's rights, and names the secret in the encryption context.
    if (a.secretArns.length > 0) {
      statements.push({
        Sid: "DecryptOwnSecrets",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: [a.kmsKeyArn],
        Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${region}.amazonaws.com`, "kms:EncryptionContext:SecretARN": [...a.secretArns] } },
      });
    }
    // Attaching a volume encrypted with a customer managed key lets EC2 create a grant on it for the instance.
    if (a.dataVolumeArn) {
      statements.push({ Sid: "GrantOwnVolumeKeyToEC2", Effect: "Allow", Action: ["kms:CreateGrant"], Resource: [a.kmsKeyArn], Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } } });
    }
  }
  return statements;
}

export function instancePolicy(a: InstanceAccess): string | undefined {
  const statements = instancePolicyStatements(a);
  return statements.length === 0 ? undefined : JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/** The user data the boot agent reads over IMDSv2: what is only known once deployed (agent/README.md). */
export function agentUserData(volumeId: string | undefined): string | undefined {
  return volumeId ? Buffer.from(JSON.stringify({ i2kit: { volumeId } })).toString("base64") : undefined;
}

const NOTHING_ALLOWED = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Deny", Action: "*", Resource: "*" }] });

/** Device name of the data disk, stateful or not; LinuxKit's `format` picks the first blank disk. */
export const DATA_DEVICE = STATEFUL_DEVICE;

export class AutoScalingGroup extends pulumi.ComponentResource {
  readonly name: pulumi.Output<string>;
  readonly launchTemplateId: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;
  readonly roleName: pulumi.Output<string>;
  /** The stateful service's own EBS volume. */
  readonly dataVolumeId: pulumi.Output<string | undefined>;

  constructor(name: string, args: AutoScalingGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    // Arguments are checked before the component registers: a bad one leaves nothing behind.
    if (!Number.isInteger(args.replicas) || args.replicas < 0) throw new Error(`AutoScalingGroup ${name}: replicas must be a whole number >= 0`);
    if (args.stateful && args.replicas > 1) throw new Error(`AutoScalingGroup ${name}: a stateful service runs exactly one replica`);
    if (args.stateful && args.maxReplicas !== undefined && args.maxReplicas > 1) throw new Error(`AutoScalingGroup ${name}: a stateful service cannot scale out`);
    const maxReplicas = args.maxReplicas ?? args.replicas;
    if (maxReplicas < args.replicas) throw new Error(`AutoScalingGroup ${name}: maxReplicas (${maxReplicas}) is below replicas (${args.replicas})`);
    super("i2kit:index:AutoScalingGroup", name, {}, opts);
    const facts = ARCHITECTURES[args.architecture];
    const tags = i2kitTags(args.app, args.service);

    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: `i2kit ${args.app}/${args.service} instances: instance ports from the load balancer only`,
        ingress: args.loadBalancerSecurityGroupId
          ? args.instancePorts.map((p) => ({
              protocol: p.protocol,
              fromPort: p.port,
              toPort: p.port,
              securityGroups: [args.loadBalancerSecurityGroupId as pulumi.Input<string>],
              description: `from the load balancer to ${p.port}/${p.protocol}`,
            }))
          : [],
        egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], description: "AWS APIs and other services" }],
        tags,
      },
      { parent: this },
    );

    const subnets = pulumi.output(args.subnetIds);
    const subnetsUsed = args.stateful ? subnets.apply((s) => s.slice(0, 1)) : subnets;
    let dataVolume: aws.ebs.Volume | undefined;
    if (args.stateful) {
      const zone = aws.ec2.getSubnetOutput({ id: subnets.apply((s) => s[0] as string) }, { parent: this }).availabilityZone;
      dataVolume = new aws.ebs.Volume(
        `${name}-data`,
        {
          availabilityZone: zone,
          size: args.dataVolumeSizeGb ?? 20,
          type: "gp3",
          encrypted: true,
          ...(args.kmsKeyId ? { kmsKeyId: args.kmsKeyId } : {}),
          tags: { ...tags, "i2kit:volume": "data" },
        },
        // The data outlives every instance and every deploy; deleting it takes an explicit step.
        { parent: this, protect: true },
      );
    }

    const role = new aws.iam.Role(`${name}-role`, { assumeRolePolicy: EC2_TRUST, tags }, { parent: this });
    if (args.secretArns !== undefined || args.logGroupArn !== undefined || dataVolume) {
      // The key may be given as an id or alias: the policy names its ARN.
      const kmsKeyArn = args.kmsKeyId ? aws.kms.getKeyOutput({ keyId: args.kmsKeyId }, { parent: this }).arn : pulumi.output(undefined);
      const policy = pulumi
        .all([pulumi.output(args.secretArns ?? []), pulumi.output(args.logGroupArn), dataVolume ? dataVolume.arn : pulumi.output(undefined), kmsKeyArn])
        .apply(
          ([secretArns, logGroupArn, dataVolumeArn, keyArn]) =>
            instancePolicy({
              app: args.app,
              service: args.service,
              secretArns,
              ...(logGroupArn ? { logGroupArn } : {}),
              ...(dataVolumeArn ? { dataVolumeArn } : {}),
              ...(keyArn ? { kmsKeyArn: keyArn } : {}),
            }) ?? NOTHING_ALLOWED,
        );
      new aws.iam.RolePolicy(`${name}-policy`, { role: role.id, policy }, { parent: this });
    }
    const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags }, { parent: this });

    const blockDevices: aws.types.input.ec2.LaunchTemplateBlockDeviceMapping[] = [
      {
        deviceName: facts.rootDeviceName,
        ebs: {
          volumeType: "gp3",
          encrypted: "true",
          deleteOnTermination: "true",
          ...(args.rootVolumeSizeGb ? { volumeSize: args.rootVolumeSizeGb } : {}),
          ...(args.kmsKeyId ? { kmsKeyId: args.kmsKeyId } : {}),
        },
      },
    ];
    if (!args.stateful && args.dataVolumeSizeGb) {
      blockDevices.push({
        deviceName: DATA_DEVICE,
        ebs: { volumeType: "gp3", volumeSize: args.dataVolumeSizeGb, encrypted: "true", deleteOnTermination: "true" },
      });
    }
    const launchTemplate = new aws.ec2.LaunchTemplate(
      `${name}-lt`,
      {
        imageId: args.imageId,
        instanceType: args.instanceType,
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
        blockDeviceMappings: blockDevices,
        iamInstanceProfile: { arn: profile.arn },
        vpcSecurityGroupIds: [securityGroup.id],
        ...(args.keyName ? { keyName: args.keyName } : {}),
        ...(dataVolume ? { userData: dataVolume.id.apply((id) => agentUserData(id) as string) } : {}),
        monitoring: { enabled: true },
        updateDefaultVersion: true,
        tagSpecifications: [
          { resourceType: "instance", tags },
          { resourceType: "volume", tags },
        ],
        tags,
      },
      { parent: this },
    );

    const hasLoadBalancer = args.targetGroupArns !== undefined;
    const group = new aws.autoscaling.Group(
      `${name}-asg`,
      {
        vpcZoneIdentifiers: subnetsUsed,
        minSize: args.replicas,
        maxSize: maxReplicas,
        desiredCapacity: args.replicas,
        // The version number, not $Latest: a new version is a change, and a change starts the refresh.
        launchTemplate: { id: launchTemplate.id, version: launchTemplate.latestVersion.apply((v) => String(v)) },
        healthCheckType: hasLoadBalancer ? "ELB" : "EC2",
        healthCheckGracePeriod: args.healthCheckGracePeriodSeconds ?? 180,
        ...(args.targetGroupArns ? { targetGroupArns: args.targetGroupArns } : {}),
        instanceRefresh: {
          strategy: "Rolling",
          preferences: args.stateful
            ? // One volume, one instance: the old instance must let go of it before the new one starts.
              { minHealthyPercentage: 0, maxHealthyPercentage: 100, autoRollback: true, instanceWarmup: "60" }
            : { minHealthyPercentage: 100, maxHealthyPercentage: 200, autoRollback: true, instanceWarmup: "60" },
        },
        protectFromScaleIn: args.stateful,
        waitForCapacityTimeout: "15m",
        tags: Object.entries(tags).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
      },
      { parent: this },
    );
    if (maxReplicas > args.replicas) {
      new aws.autoscaling.Policy(
        `${name}-cpu`,
        {
          autoscalingGroupName: group.name,
          policyType: "TargetTrackingScaling",
          targetTrackingConfiguration: {
            predefinedMetricSpecification: { predefinedMetricType: "ASGAverageCPUUtilization" },
            targetValue: args.cpuTargetPercent ?? 60,
          },
        },
        { parent: this },
      );
    }
    this.name = group.name;
    this.launchTemplateId = launchTemplate.id;
    this.securityGroupId = securityGroup.id;
    this.roleName = role.name;
    this.dataVolumeId = dataVolume ? dataVolume.id : pulumi.output(undefined);
    this.registerOutputs({ name: this.name, launchTemplateId: this.launchTemplateId, dataVolumeId: this.dataVolumeId });
  }
}
