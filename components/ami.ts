// Ami: the VM disk image becomes an encrypted EBS snapshot, written block by
// block with the EBS direct APIs (default) or through VM Import, and is
// registered as an AMI. Names derive from the content hash, so the same
// config never makes a second AMI.
import * as fs from "node:fs";
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ARCHITECTURES, type Architecture } from "./architecture";
import { i2kitTags, resourceName } from "./tags";

export type AmiUpload = "ebs-direct" | "vm-import";

export interface AmiArgs {
  /**
   * How the disk image becomes a snapshot: "ebs-direct" (default) writes its
   * non-zero, changed blocks with the EBS direct APIs in seconds; "vm-import"
   * uploads it to S3 and imports it, which takes many minutes.
   */
  upload?: AmiUpload;
  /** The `i2kit` command the ebs-direct upload runs (default: this package's). */
  cliCommand?: string;
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

    if ((args.upload ?? "ebs-direct") === "ebs-direct") {
      const upload = ebsDirectUpload(this, name, args, bucketName, hash, shortHash);
      this.imageId = upload.imageId;
      this.snapshotId = upload.snapshotId;
      this.bucket = bucketName;
      this.registerOutputs({ imageId: this.imageId, snapshotId: this.snapshotId });
      return;
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

/** `node <this package>/dist/cli/main.js`, or the `i2kit` on PATH when running from sources. */
export function defaultCliCommand(): string {
  const built = path.resolve(__dirname, "../cli/main.js");
  return fs.existsSync(built) ? `"${process.execPath}" "${built}"` : "i2kit";
}

/** The shell command that uploads a disk image and registers its AMI; it prints the ids as JSON. */
export function uploadCommand(cli: string, o: { imagePath: string; service: string; contentHash: string; bucket: string; architecture: Architecture; imageName: string; kmsKeyId?: string }): string {
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  return [
    cli,
    "ami upload",
    quote(o.imagePath),
    `--name ${quote(o.service)}`,
    `--content-hash ${quote(o.contentHash)}`,
    `--bucket ${quote(o.bucket)}`,
    "--incremental --register",
    `--arch ${o.architecture}`,
    `--image-name ${quote(o.imageName)}`,
    ...(o.kmsKeyId ? [`--kms-key ${quote(o.kmsKeyId)}`] : []),
    "--json",
  ].join(" ");
}

function ebsDirectUpload(
  parent: Ami,
  name: string,
  args: AmiArgs,
  bucket: pulumi.Output<string>,
  hash: pulumi.Output<string>,
  shortHash: pulumi.Output<string>,
): { imageId: pulumi.Output<string>; snapshotId: pulumi.Output<string> } {
  const cli = args.cliCommand ?? defaultCliCommand();
  const region = aws.getRegionOutput({}, { parent }).region;
  const upload = new command.local.Command(
    `${name}-upload`,
    {
      create: pulumi
        .all([args.imagePath, hash, bucket, shortHash, args.kmsKeyId])
        .apply(([imagePath, contentHash, b, short, kmsKeyId]) =>
          uploadCommand(cli, {
            imagePath,
            service: args.service,
            contentHash,
            bucket: b,
            architecture: args.architecture,
            imageName: `${resourceName([args.app, args.service], 100)}-${short}`,
            ...(kmsKeyId ? { kmsKeyId } : {}),
          }),
        ),
      // ami delete reads the ids from what ami upload printed.
      delete: `${cli} ami delete`,
      environment: { AWS_REGION: region },
      triggers: [hash],
      logging: "stderr",
    },
    { parent },
  );
  const result = upload.stdout.apply((out) => JSON.parse(out) as { imageId: string; snapshotId: string });
  return { imageId: result.imageId, snapshotId: result.snapshotId };
}
