// Writes a raw VM disk image straight into an EBS snapshot with the EBS
// direct APIs, block by block: all-zero blocks are never sent, and with a
// parent snapshot only the blocks whose content changed are. Then registers
// an AMI from it. Minutes of VM Import become seconds.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import {
  CompleteSnapshotCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
  type EBSClient,
} from "@aws-sdk/client-ebs";
import { DeleteSnapshotCommand, DeregisterImageCommand, DescribeSnapshotsCommand, RegisterImageCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ARCHITECTURES, type Architecture } from "./architecture";

/** EBS snapshots are made of 512 KiB blocks. */
export const BLOCK_SIZE = 512 * 1024;
const GIB = 1024 ** 3;
const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

/** Per-block SHA-256 (base64) of a snapshot's non-zero blocks, kept next to it to make the next upload incremental. */
export interface BlockRecord {
  version: 1;
  snapshotId: string;
  volumeSizeGib: number;
  contentHash?: string;
  hashes: Record<string, string>;
}

export interface UploadProgress {
  blocksTotal: number;
  blocksRead: number;
  blocksSent: number;
  blocksSkippedZero: number;
  blocksSkippedUnchanged: number;
  bytesSent: number;
}

export interface UploadOptions {
  file: string;
  /** Service name: tags, and how the parent snapshot is found. */
  service: string;
  contentHash?: string;
  kmsKeyArn?: string;
  /** The snapshot this one builds on, with its block record. */
  parent?: BlockRecord;
  /** Concurrent PutSnapshotBlock calls (default 64). */
  parallelism?: number;
  tags?: Record<string, string>;
  onProgress?: (p: UploadProgress) => void;
  /** How long to wait for the snapshot to complete (default 10 minutes). */
  completionTimeoutMs?: number;
}

export interface UploadResult extends UploadProgress {
  snapshotId: string;
  volumeSizeGib: number;
  record: BlockRecord;
  seconds: number;
}

/** Every failure names the API call or file it came from. */
export class UploadError extends Error {
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    const e = cause as { name?: string; message?: string };
    super(`${operation}: ${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${e.message ?? String(cause)}`);
    this.name = "UploadError";
  }
}

async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw e instanceof UploadError ? e : new UploadError(operation, e);
  }
}

/** The size checks a disk image must pass before anything is created. */
export function checkImage(file: string, parent?: BlockRecord): { size: number; volumeSizeGib: number; blocks: number } {
  let size: number;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new Error("not a regular file");
    size = stat.size;
  } catch (e) {
    throw new UploadError(file, (e as NodeJS.ErrnoException).code === "ENOENT" ? new Error("no such file") : e);
  }
  if (size === 0) throw new UploadError(file, new Error("the disk image is empty"));
  if (size % 512 !== 0) throw new UploadError(file, new Error(`size ${size} is not a multiple of 512 bytes: not a raw disk image`));
  const own = Math.max(1, Math.ceil(size / GIB));
  // A child snapshot cannot be smaller than its parent.
  const volumeSizeGib = Math.max(own, parent?.volumeSizeGib ?? 0);
  if (volumeSizeGib > 64 * 1024) throw new UploadError(file, new Error(`size ${size} is larger than an EBS volume (64 TiB)`));
  return { size, volumeSizeGib, blocks: Math.ceil(size / BLOCK_SIZE) };
}

/** SHA-256 over the concatenated block checksums, in block order: the LINEAR aggregation EBS checks. */
export function linearChecksum(blockChecksums: readonly { index: number; checksum: string }[]): string {
  const hash = createHash("sha256");
  for (const b of [...blockChecksums].sort((x, y) => x.index - y.index)) hash.update(Buffer.from(b.checksum, "base64"));
  return hash.digest("base64");
}

/** A token that makes a retried StartSnapshot return the same snapshot. */
export function clientToken(service: string, contentHash: string | undefined, size: number, parentId: string | undefined): string {
  return createHash("sha256").update(`${service}\n${contentHash ?? ""}\n${size}\n${parentId ?? ""}`).digest("hex").slice(0, 64);
}

export async function uploadSnapshot(ebs: EBSClient, ec2: EC2Client, options: UploadOptions): Promise<UploadResult> {
  const started = Date.now();
  const { size, volumeSizeGib, blocks } = checkImage(options.file, options.parent);
  const parentHashes = new Map(Object.entries(options.parent?.hashes ?? {}).map(([k, v]) => [Number(k), v]));
  // Blocks past the new image's end that the parent had data in must be zeroed too.
  const lastIndex = Math.max(blocks, ...[...parentHashes.keys()].map((i) => i + 1));
  const tags = { "i2kit:service": options.service, ...(options.contentHash ? { "i2kit:content-hash": options.contentHash } : {}), ...options.tags };
  const start = await call("StartSnapshot", () =>
    ebs.send(
      new StartSnapshotCommand({
        VolumeSize: volumeSizeGib,
        ...(options.parent ? { ParentSnapshotId: options.parent.snapshotId } : {}),
        Encrypted: true,
        ...(options.kmsKeyArn ? { KmsKeyArn: options.kmsKeyArn } : {}),
        Description: `i2kit ${options.service}${options.contentHash ? ` ${options.contentHash}` : ""}`,
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        ClientToken: clientToken(options.service, options.contentHash, size, options.parent?.snapshotId),
        Timeout: 60,
      }),
    ),
  );
  const snapshotId = start.SnapshotId;
  if (!snapshotId) throw new UploadError("StartSnapshot", new Error("no snapshot id in the answer"));

  const progress: UploadProgress = { blocksTotal: lastIndex, blocksRead: 0, blocksSent: 0, blocksSkippedZero: 0, blocksSkippedUnchanged: 0, bytesSent: 0 };
  const sent: { index: number; checksum: string }[] = [];
  const hashes: Record<string, string> = {};
  try {
    const parallelism = Math.max(1, options.parallelism ?? 64);
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const fd = fs.openSync(options.file, "r");
    try {
      for (let index = 0; index < lastIndex && failure === undefined; index++) {
        const block = Buffer.alloc(BLOCK_SIZE);
        if (index < blocks) fs.readSync(fd, block, 0, BLOCK_SIZE, index * BLOCK_SIZE);
        progress.blocksRead += 1;
        const zero = block.equals(ZERO_BLOCK);
        const checksum = zero ? undefined : createHash("sha256").update(block).digest("base64");
        if (checksum) hashes[index] = checksum;
        const before = parentHashes.get(index);
        if (zero && before === undefined) {
          progress.blocksSkippedZero += 1;
        } else if (checksum !== undefined && checksum === before) {
          progress.blocksSkippedUnchanged += 1;
        } else {
          // Changed, new, or zeroed where the parent had data: send it.
          const blockChecksum = checksum ?? createHash("sha256").update(block).digest("base64");
          const upload = call(`PutSnapshotBlock ${snapshotId} block ${index}`, () =>
            ebs.send(
              new PutSnapshotBlockCommand({
                SnapshotId: snapshotId,
                BlockIndex: index,
                BlockData: block,
                DataLength: BLOCK_SIZE,
                Checksum: blockChecksum,
                ChecksumAlgorithm: "SHA256",
              }),
            ),
          ).then(
            () => {
              sent.push({ index, checksum: blockChecksum });
              progress.blocksSent += 1;
              progress.bytesSent += BLOCK_SIZE;
              options.onProgress?.({ ...progress });
            },
            (e: unknown) => {
              failure ??= e;
            },
          );
          const tracked = upload.finally(() => inFlight.delete(tracked));
          inFlight.add(tracked);
          if (inFlight.size >= parallelism) await Promise.race(inFlight);
        }
        if (index % 256 === 0) options.onProgress?.({ ...progress });
      }
      await Promise.all(inFlight);
    } finally {
      fs.closeSync(fd);
    }
    if (failure !== undefined) throw failure;

    await call(`CompleteSnapshot ${snapshotId}`, () =>
      ebs.send(
        new CompleteSnapshotCommand({
          SnapshotId: snapshotId,
          ChangedBlocksCount: sent.length,
          Checksum: linearChecksum(sent),
          ChecksumAlgorithm: "SHA256",
          ChecksumAggregationMethod: "LINEAR",
        }),
      ),
    );
    await waitUntilCompleted(ec2, snapshotId, options.completionTimeoutMs ?? 10 * 60_000);
  } catch (e) {
    // Leave no half-made snapshot behind.
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })).catch(() => undefined);
    throw e;
  }
  options.onProgress?.({ ...progress });
  return {
    ...progress,
    snapshotId,
    volumeSizeGib,
    record: { version: 1, snapshotId, volumeSizeGib, ...(options.contentHash ? { contentHash: options.contentHash } : {}), hashes },
    seconds: (Date.now() - started) / 1000,
  };
}

async function waitUntilCompleted(ec2: EC2Client, snapshotId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 500; ; wait = Math.min(wait * 2, 15_000)) {
    const answer = await call(`DescribeSnapshots ${snapshotId}`, () => ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })));
    const state = answer.Snapshots?.[0]?.State;
    if (state === "completed") return;
    if (state === "error") throw new UploadError(`DescribeSnapshots ${snapshotId}`, new Error(`the snapshot failed: ${answer.Snapshots?.[0]?.StateMessage ?? "no reason given"}`));
    if (Date.now() + wait > deadline) throw new UploadError(`DescribeSnapshots ${snapshotId}`, new Error(`still ${state ?? "unknown"} after ${timeoutMs / 1000} s`));
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Registers an AMI that boots the snapshot: hvm, ENA, IMDSv2 only, the boot mode LinuxKit's image needs. */
export async function registerImage(
  ec2: EC2Client,
  options: { snapshotId: string; name: string; architecture: Architecture; description?: string },
): Promise<string> {
  const facts = ARCHITECTURES[options.architecture];
  const answer = await call(`RegisterImage ${options.name}`, () =>
    ec2.send(
      new RegisterImageCommand({
        Name: options.name,
        Description: options.description,
        Architecture: facts.amiArchitecture,
        VirtualizationType: "hvm",
        EnaSupport: true,
        BootMode: facts.bootMode,
        ImdsSupport: "v2.0",
        RootDeviceName: facts.rootDeviceName,
        BlockDeviceMappings: [{ DeviceName: facts.rootDeviceName, Ebs: { SnapshotId: options.snapshotId, VolumeType: "gp3", DeleteOnTermination: true } }],
      }),
    ),
  );
  if (!answer.ImageId) throw new UploadError(`RegisterImage ${options.name}`, new Error("no image id in the answer"));
  return answer.ImageId;
}

const recordKey = (snapshotId: string) => `block-hashes/${snapshotId}.json`;

export async function saveRecord(s3: S3Client, bucket: string, record: BlockRecord): Promise<void> {
  await call(`PutObject s3://${bucket}/${recordKey(record.snapshotId)}`, () =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: recordKey(record.snapshotId), Body: JSON.stringify(record), ContentType: "application/json" })),
  );
}

/** The service's most recent completed snapshot that has a block record, if any. */
export async function findParent(ec2: EC2Client, s3: S3Client, bucket: string, service: string): Promise<BlockRecord | undefined> {
  const answer = await call("DescribeSnapshots", () =>
    ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"], Filters: [{ Name: "tag:i2kit:service", Values: [service] }, { Name: "status", Values: ["completed"] }] })),
  );
  const snapshots = (answer.Snapshots ?? []).filter((s) => s.SnapshotId).sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0));
  for (const s of snapshots) {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: recordKey(s.SnapshotId as string) }));
      const record = JSON.parse(await (object.Body as { transformToString(): Promise<string> }).transformToString()) as BlockRecord;
      if (record.version === 1 && record.snapshotId === s.SnapshotId) return record;
    } catch {
      // No record for this one: try the next older snapshot.
    }
  }
  return undefined;
}

export async function deleteImage(ec2: EC2Client, imageId: string | undefined, snapshotId: string | undefined): Promise<void> {
  if (imageId) await call(`DeregisterImage ${imageId}`, () => ec2.send(new DeregisterImageCommand({ ImageId: imageId })));
  if (snapshotId) await call(`DeleteSnapshot ${snapshotId}`, () => ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })));
}
