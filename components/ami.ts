// Ami: the VM disk image becomes an encrypted EBS snapshot through VM Import
// and is registered as an AMI. Keys and names derive from the content hash,
// so the same config never makes a second AMI.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ARCHITECTURES, type Architecture } from "./architecture";
import { i2kitTags, resourceName } from "./tags";

export interface AmiArgs {
  app: string;
  service: string;
  architecture: Architecture;
  imagePath: pulumi.Input<string>;
  contentHash: pulumi.Input<string>;
  /** Container image digests, recorded as tags. */
  imageRefs?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** An existing bucket for disk images; a private, encrypted one is created otherwise. */
  bucket?: pulumi.Input<string>;
  /** An existing VM Import service role name; a least-privilege `vmimport` role is created otherwise. */
  vmImportRoleName?: pulumi.Input<string>;
  /** KMS key for the snapshot; the account's default EBS key otherwise. */
  kmsKeyId?: pulumi.Input<string>;
}

/** The policy VM Import needs: read the one bucket, register the snapshot. */
export function vmImportPolicy(bucketArn: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: [bucketArn] },
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: [`${bucketArn}/*`] },
      {
        Effect: "Allow",
        Action: ["ec2:ModifySnapshotAttribute", "ec2:CopySnapshot", "ec2:RegisterImage", "ec2:Describe*"],
        Resource: "*",
      },
    ],
  });
}

export const VM_IMPORT_TRUST = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Principal: { Service: "vmie.amazonaws.com" },
      Action: "sts:AssumeRole",
      Condition: { StringEquals: { "sts:Externalid": "vmimport" } },
    },
  ],
});

export class Ami extends pulumi.ComponentResource {
  readonly imageId: pulumi.Output<string>;
  readonly snapshotId: pulumi.Output<string>;
  readonly bucket: pulumi.Output<string>;

  constructor(name: string, args: AmiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("i2kit:index:Ami", name, {}, opts);
    const facts = ARCHITECTURES[args.architecture];
    const tags = i2kitTags(args.app, args.service);
    const hash = pulumi.output(args.contentHash);
    const shortHash = hash.apply((h) => h.replace(/^sha256:/, "").slice(0, 16));

    let bucketName: pulumi.Output<string>;
    let bucketArn: pulumi.Output<string>;
    if (args.bucket) {
      bucketName = pulumi.output(args.bucket);
      bucketArn = bucketName.apply((b) => `arn:aws:s3:::${b}`);
    } else {
      const bucket = new aws.s3.Bucket(`${name}-images`, { forceDestroy: true, tags }, { parent: this });
      new aws.s3.BucketPublicAccessBlock(
        `${name}-images-private`,
        { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
        { parent: this },
      );
      new aws.s3.BucketServerSideEncryptionConfiguration(
        `${name}-images-encryption`,
        { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }] },
        { parent: this },
      );
      bucketName = bucket.id;
      bucketArn = bucket.arn;
    }

    let roleName: pulumi.Output<string>;
    if (args.vmImportRoleName) {
      roleName = pulumi.output(args.vmImportRoleName);
    } else {
      const role = new aws.iam.Role(`${name}-vmimport`, { assumeRolePolicy: VM_IMPORT_TRUST, tags }, { parent: this });
      new aws.iam.RolePolicy(`${name}-vmimport`, { role: role.id, policy: bucketArn.apply(vmImportPolicy) }, { parent: this });
      roleName = role.name;
    }

    const key = pulumi.interpolate`${args.service}/${shortHash}${facts.imageSuffix}`;
    const object = new aws.s3.BucketObjectv2(
      `${name}-disk`,
      {
        bucket: bucketName,
        key,
        source: pulumi.output(args.imagePath).apply((p) => new pulumi.asset.FileAsset(p)),
        serverSideEncryption: "aws:kms",
        tags: hash.apply((h) => ({ ...tags, "i2kit:content-hash": h })),
      },
      { parent: this },
    );
    const snapshot = new aws.ebs.SnapshotImport(
      `${name}-snapshot`,
      {
        diskContainer: { format: "RAW", userBucket: { s3Bucket: bucketName, s3Key: object.key } },
        roleName,
        encrypted: true,
        ...(args.kmsKeyId ? { kmsKeyId: args.kmsKeyId } : {}),
        description: pulumi.interpolate`i2kit ${args.app}/${args.service} ${hash}`,
        tags: hash.apply((h) => ({ ...tags, "i2kit:content-hash": h })),
      },
      { parent: this },
    );
    const imageTags = pulumi.all([hash, pulumi.output(args.imageRefs ?? {})]).apply(([h, refs]) => ({
      ...tags,
      "i2kit:content-hash": h,
      // One tag per container: tag values hold up to 256 characters, enough for a pinned reference.
      ...Object.fromEntries(Object.entries(refs).map(([container, ref]) => [`i2kit:image:${container}`, String(ref)])),
    }));
    const ami = new aws.ec2.Ami(
      `${name}-ami`,
      {
        name: pulumi.interpolate`${resourceName([args.app, args.service], 100)}-${shortHash}`,
        description: pulumi.interpolate`i2kit ${args.app}/${args.service} (${hash})`,
        virtualizationType: "hvm",
        architecture: facts.amiArchitecture,
        bootMode: facts.bootMode,
        enaSupport: true,
        imdsSupport: "v2.0",
        rootDeviceName: facts.rootDeviceName,
        ebsBlockDevices: [
          { deviceName: facts.rootDeviceName, snapshotId: snapshot.id, volumeType: "gp3", deleteOnTermination: true },
        ],
        tags: imageTags,
      },
      { parent: this },
    );
    this.imageId = ami.id;
    this.snapshotId = snapshot.id;
    this.bucket = bucketName;
    this.registerOutputs({ imageId: this.imageId, snapshotId: this.snapshotId });
  }
}
