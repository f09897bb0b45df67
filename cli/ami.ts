// `i2kit ami upload` and `i2kit ami delete`: the EBS direct pipeline as a
// command, for people and for the Ami component, which runs it at deploy time.
import type { Command } from "commander";
import type { Architecture } from "../components/architecture";
import type { UploadProgress } from "../components/ebs-direct";

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Rewrites the current terminal line (progress bars); absent when stderr is not a terminal. */
  status?: (line: string) => void;
}

/**
 * Clients from the standard AWS configuration: region, credentials and
 * AWS_ENDPOINT_URL* from the environment. Loaded on use: the SDK is large and
 * only these commands need it.
 */
async function awsClients() {
  // This package pins its SDK; its notice about future Node versions is noise on every run.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const [{ EBSClient }, { EC2Client }, { S3Client }] = await Promise.all([import("@aws-sdk/client-ebs"), import("@aws-sdk/client-ec2"), import("@aws-sdk/client-s3")]);
  // The SDK's own retry strategy backs off on throttling and 5xx answers; give it room.
  const config = { maxAttempts: 10 };
  return { ebs: new EBSClient(config), ec2: new EC2Client(config), s3: new S3Client(config) };
}

export function formatProgress(p: UploadProgress, seconds: number): string {
  const done = p.blocksRead / Math.max(1, p.blocksTotal);
  const width = 24;
  const bar = "#".repeat(Math.round(done * width)).padEnd(width, " ");
  const rate = seconds > 0 ? p.bytesSent / 1024 / 1024 / seconds : 0;
  return `[${bar}] ${(done * 100).toFixed(0).padStart(3)}%  ${(p.bytesSent / 1024 / 1024).toFixed(1)} MB sent in ${p.blocksSent} blocks, ${p.blocksSkippedZero} zero and ${p.blocksSkippedUnchanged} unchanged skipped, ${rate.toFixed(1)} MB/s`;
}

interface UploadFlags {
  name: string;
  contentHash?: string;
  bucket?: string;
  incremental?: boolean;
  kmsKey?: string;
  parallelism?: string;
  register?: boolean;
  arch?: string;
  imageName?: string;
  json?: boolean;
}

export function addAmiCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const ami = program.command("ami").description("make AMIs from VM disk images with the EBS direct APIs");
  ami
    .command("upload")
    .description("write DISK into an encrypted EBS snapshot, skipping zero (and, with --incremental, unchanged) blocks; optionally register an AMI")
    .argument("<disk>", "raw disk image, as linuxkit build --format aws writes it")
    .requiredOption("--name <service>", "service name: tags, and how the previous snapshot is found")
    .option("--content-hash <hash>", "content hash of the LinuxKit config, recorded as a tag")
    .option("--bucket <bucket>", "S3 bucket that keeps each snapshot's block hashes")
    .option("--incremental", "build on the service's latest snapshot whose block hashes are in --bucket")
    .option("--kms-key <arn>", "KMS key for the snapshot (default: the account's EBS key)")
    .option("--parallelism <n>", "concurrent block uploads", "64")
    .option("--register", "register an AMI from the snapshot")
    .option("--arch <arch>", "amd64 or arm64, for --register", "amd64")
    .option("--image-name <name>", "AMI name (default: <service>-<first 16 hex of the content hash>)")
    .option("--json", "print the result as JSON")
    .action(async (disk: string, flags: UploadFlags) => {
      if (flags.incremental && !flags.bucket) {
        io.err("i2kit: --incremental needs --bucket, where the block hashes of earlier snapshots are kept");
        setExit(2);
        return;
      }
      if (flags.arch !== "amd64" && flags.arch !== "arm64") {
        io.err(`i2kit: --arch is amd64 or arm64, not ${String(flags.arch)}`);
        setExit(2);
        return;
      }
      const parallelism = Number(flags.parallelism);
      if (!Number.isInteger(parallelism) || parallelism < 1) {
        io.err(`i2kit: --parallelism takes a whole number >= 1, not ${String(flags.parallelism)}`);
        setExit(2);
        return;
      }
      const { ebs, ec2, s3 } = await awsClients();
      const { findParent, registerImage, saveRecord, uploadSnapshot, UploadError } = await import("../components/ebs-direct.js");
      const started = Date.now();
      let lastPlain = -1;
      const onProgress = (p: UploadProgress) => {
        const line = formatProgress(p, (Date.now() - started) / 1000);
        if (io.status) io.status(line);
        else {
          // Plain lines for logs: one per tenth of the image.
          const tenth = Math.floor((p.blocksRead / Math.max(1, p.blocksTotal)) * 10);
          if (tenth > lastPlain) {
            lastPlain = tenth;
            io.err(line);
          }
        }
      };
      try {
        const parent = flags.incremental && flags.bucket ? await findParent(ec2, s3, flags.bucket, flags.name) : undefined;
        const result = await uploadSnapshot(ebs, ec2, {
          file: disk,
          service: flags.name,
          ...(flags.contentHash ? { contentHash: flags.contentHash } : {}),
          ...(flags.kmsKey ? { kmsKeyArn: flags.kmsKey } : {}),
          ...(parent ? { parent } : {}),
          parallelism,
          onProgress,
        });
        if (io.status) io.status("");
        if (flags.bucket) await saveRecord(s3, flags.bucket, result.record);
        let imageId: string | undefined;
        if (flags.register) {
          const hash = (flags.contentHash ?? result.snapshotId).replace(/^sha256:/, "").slice(0, 16);
          imageId = await registerImage(ec2, { snapshotId: result.snapshotId, name: flags.imageName ?? `${flags.name}-${hash}`, architecture: flags.arch as Architecture });
        }
        const summary = {
          snapshotId: result.snapshotId,
          ...(imageId ? { imageId } : {}),
          ...(parent ? { parentSnapshotId: parent.snapshotId } : {}),
          blocksSent: result.blocksSent,
          blocksSkippedZero: result.blocksSkippedZero,
          blocksSkippedUnchanged: result.blocksSkippedUnchanged,
          bytesSent: result.bytesSent,
          seconds: result.seconds,
        };
        if (flags.json) io.out(JSON.stringify(summary));
        else {
          io.out(`snapshot ${result.snapshotId}${parent ? ` (on top of ${parent.snapshotId})` : ""}: ${result.blocksSent} blocks (${(result.bytesSent / 1024 / 1024).toFixed(1)} MB) sent, ${result.blocksSkippedZero} zero and ${result.blocksSkippedUnchanged} unchanged skipped, ${result.seconds.toFixed(1)} s`);
          if (imageId) io.out(`image ${imageId}`);
        }
      } catch (e) {
        if (!(e instanceof UploadError)) throw e;
        io.err(`i2kit: ${e.message}`);
        setExit(1);
      }
    });

  ami
    .command("delete")
    .description("deregister an AMI and delete its snapshot (or those in the JSON that ami upload printed, from PULUMI_COMMAND_STDOUT)")
    .option("--image-id <id>", "the AMI")
    .option("--snapshot-id <id>", "the snapshot")
    .action(async (flags: { imageId?: string; snapshotId?: string }) => {
      let { imageId, snapshotId } = flags;
      const previous = process.env.PULUMI_COMMAND_STDOUT;
      if (!imageId && !snapshotId && previous) {
        const parsed = JSON.parse(previous) as { imageId?: string; snapshotId?: string };
        imageId = parsed.imageId;
        snapshotId = parsed.snapshotId;
      }
      if (!imageId && !snapshotId) {
        io.err("i2kit: ami delete needs --image-id, --snapshot-id, or the output of ami upload in PULUMI_COMMAND_STDOUT");
        setExit(2);
        return;
      }
      const { deleteImage, UploadError } = await import("../components/ebs-direct.js");
      try {
        await deleteImage((await awsClients()).ec2, imageId, snapshotId);
        io.out(`deleted${imageId ? ` image ${imageId}` : ""}${snapshotId ? ` snapshot ${snapshotId}` : ""}`);
      } catch (e) {
        if (!(e instanceof UploadError)) throw e;
        io.err(`i2kit: ${e.message}`);
        setExit(1);
      }
    });
}
