import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GetSnapshotBlockCommand, ListSnapshotBlocksCommand, type EBSClient } from "@aws-sdk/client-ebs";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { DescribeImagesCommand, DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BLOCK_SIZE, checkImage, findParent, linearChecksum, registerImage, saveRecord, uploadSnapshot, type BlockRecord } from "../../components/ebs-direct";
import { clients, startMoto, startProxy, type LocalAws } from "./local-aws";

/** A disk image whose blocks hold a known byte where `data` says, zeros elsewhere, and a 4 KiB tail. */
function diskImage(dir: string, name: string, blocks: number, data: Record<number, number>, tail = 0): string {
  const file = path.join(dir, name);
  const buffer = Buffer.alloc(blocks * BLOCK_SIZE + 4096);
  for (const [index, byte] of Object.entries(data)) buffer.fill(byte, Number(index) * BLOCK_SIZE, (Number(index) + 1) * BLOCK_SIZE);
  if (tail) buffer.fill(tail, blocks * BLOCK_SIZE);
  fs.writeFileSync(file, buffer);
  return file;
}

/** Every block the snapshot holds, read back through the EBS direct APIs. */
async function readBack(ebs: EBSClient, snapshotId: string): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  let token: string | undefined;
  do {
    const page = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, NextToken: token }));
    for (const b of page.Blocks ?? []) {
      const got = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: b.BlockIndex, BlockToken: b.BlockToken }));
      out.set(b.BlockIndex as number, Buffer.from(await (got.BlockData as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()));
    }
    token = page.NextToken;
  } while (token);
  return out;
}

/** The source image cut in padded 512 KiB blocks. */
function blocksOf(file: string): Buffer[] {
  const data = fs.readFileSync(file);
  const out: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += BLOCK_SIZE) {
    const block = Buffer.alloc(BLOCK_SIZE);
    data.copy(block, 0, offset, Math.min(offset + BLOCK_SIZE, data.length));
    out.push(block);
  }
  return out;
}

function expectSame(snapshot: Map<number, Buffer>, file: string): void {
  const source = blocksOf(file);
  source.forEach((block, index) => {
    const stored = snapshot.get(index) ?? Buffer.alloc(BLOCK_SIZE);
    expect(stored.equals(block), `block ${index}`).toBe(true);
  });
}

describe("EBS direct upload against a local AWS API (moto)", () => {
  let aws: LocalAws;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-ebs-"));
  beforeAll(async () => {
    aws = await startMoto();
  }, 120_000);
  afterAll(async () => aws?.stop());

  it("sends only non-zero blocks, and the snapshot reads back identical to the image", async () => {
    const proxy = await startProxy(aws.endpoint);
    const { ebs, ec2 } = clients(proxy.endpoint);
    const image = diskImage(dir, "full.raw", 20, { 0: 1, 1: 2, 5: 3, 10: 4, 11: 5, 12: 6 }, 7);
    const result = await uploadSnapshot(ebs, ec2, { file: image, service: "web", contentHash: "sha256:abc", parallelism: 4 });
    expect(proxy.blocksPut.sort((a, b) => a - b)).toEqual([0, 1, 5, 10, 11, 12, 20]);
    expect(result).toMatchObject({ blocksTotal: 21, blocksSent: 7, blocksSkippedZero: 14, blocksSkippedUnchanged: 0, bytesSent: 7 * BLOCK_SIZE, volumeSizeGib: 1 });
    expect(Object.keys(result.record.hashes).map(Number).sort((a, b) => a - b)).toEqual([0, 1, 5, 10, 11, 12, 20]);
    expectSame(await readBack(clients(aws.endpoint).ebs, result.snapshotId), image);
    const snapshot = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [result.snapshotId] }))).Snapshots?.[0];
    expect(snapshot?.State).toBe("completed");
    expect(snapshot?.Tags).toEqual(expect.arrayContaining([{ Key: "i2kit:service", Value: "web" }, { Key: "i2kit:content-hash", Value: "sha256:abc" }]));
    await proxy.stop();
  });

  it("sends exactly the changed blocks on top of a parent, zeroing what the new image cleared", async () => {
    const { ebs, ec2 } = clients(aws.endpoint);
    const first = diskImage(dir, "v1.raw", 16, { 0: 1, 3: 2, 4: 3, 9: 4 });
    const parent = await uploadSnapshot(ebs, ec2, { file: first, service: "api" });
    // Three differences: block 3 changes, block 9 is cleared, block 12 is new.
    const second = diskImage(dir, "v2.raw", 16, { 0: 1, 3: 9, 4: 3, 12: 5 });
    const proxy = await startProxy(aws.endpoint);
    const viaProxy = clients(proxy.endpoint);
    const child = await uploadSnapshot(viaProxy.ebs, viaProxy.ec2, { file: second, service: "api", parent: parent.record });
    await proxy.stop();
    expect(proxy.blocksPut.sort((a, b) => a - b)).toEqual([3, 9, 12]);
    expect(child).toMatchObject({ blocksSent: 3, blocksSkippedUnchanged: 2 });
    // moto does not carry a parent's blocks into its child as EBS does: overlay them to read the child whole.
    const whole = new Map([...(await readBack(ebs, parent.snapshotId)), ...(await readBack(ebs, child.snapshotId))]);
    expectSame(whole, second);
    expect(Object.keys(child.record.hashes).sort()).toEqual(["0", "12", "3", "4"]);
  });

  it("gets the identical snapshot through a proxy that throttles every third request", async () => {
    const image = diskImage(dir, "throttled.raw", 12, { 0: 1, 2: 2, 3: 3, 7: 4, 8: 5, 11: 6 }, 9);
    const proxy = await startProxy(aws.endpoint, 3);
    const { ebs, ec2 } = clients(proxy.endpoint);
    const result = await uploadSnapshot(ebs, ec2, { file: image, service: "slow", parallelism: 2 });
    await proxy.stop();
    expect(proxy.throttled).toBeGreaterThan(0);
    expectSame(await readBack(clients(aws.endpoint).ebs, result.snapshotId), image);
  }, 60_000);

  it("registers an AMI that boots the snapshot: hvm, ENA, IMDSv2 only, the boot mode of the architecture", async () => {
    const { ebs, ec2 } = clients(aws.endpoint);
    const sent: Record<string, unknown>[] = [];
    // moto keeps only part of what RegisterImage carries: record the request itself too.
    ec2.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "RegisterImageCommand") sent.push(args.input as Record<string, unknown>);
        return next(args);
      },
      { step: "initialize" },
    );
    const result = await uploadSnapshot(ebs, ec2, { file: diskImage(dir, "boot.raw", 4, { 0: 1 }), service: "boot" });
    const imageId = await registerImage(ec2, { snapshotId: result.snapshotId, name: "boot-0123456789abcdef", architecture: "arm64" });
    const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
    expect(image).toMatchObject({ Name: "boot-0123456789abcdef", RootDeviceName: "/dev/sda1" });
    expect(sent[0]).toMatchObject({
      Architecture: "arm64",
      VirtualizationType: "hvm",
      EnaSupport: true,
      ImdsSupport: "v2.0",
      BootMode: "uefi",
      RootDeviceName: "/dev/sda1",
      BlockDeviceMappings: [{ DeviceName: "/dev/sda1", Ebs: { SnapshotId: result.snapshotId, VolumeType: "gp3", DeleteOnTermination: true } }],
    });
  });

  it("keeps the block record next to the snapshot and finds it for the next upload", async () => {
    const { ebs, ec2, s3 } = clients(aws.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: "i2kit-images" }));
    const result = await uploadSnapshot(ebs, ec2, { file: diskImage(dir, "rec.raw", 3, { 1: 1 }), service: "rec" });
    await saveRecord(s3, "i2kit-images", result.record);
    const found: BlockRecord | undefined = await findParent(ec2, s3, "i2kit-images", "rec");
    expect(found).toEqual(result.record);
    expect(await findParent(ec2, s3, "i2kit-images", "nobody")).toBeUndefined();
  });

  it("deletes the incomplete snapshot and names the call when a block cannot be written", async () => {
    const { ec2 } = clients(aws.endpoint);
    const { EBSClient } = await import("@aws-sdk/client-ebs");
    // Every PutSnapshotBlock fails, and nothing is retried.
    const broken = new EBSClient({ region: "us-east-1", endpoint: aws.endpoint, credentials: { accessKeyId: "t", secretAccessKey: "t" }, maxAttempts: 1 });
    broken.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "PutSnapshotBlockCommand") throw Object.assign(new Error("Internal failure (injected)"), { name: "InternalServerException" });
        return next(args);
      },
      { step: "initialize" },
    );
    const image = diskImage(dir, "fail.raw", 2, { 0: 1 });
    await expect(uploadSnapshot(broken, ec2, { file: image, service: "broken" })).rejects.toThrow(/^PutSnapshotBlock snap-[0-9a-f]+ block 0: InternalServerException: Internal failure \(injected\)$/);
    const left = (await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: "tag:i2kit:service", Values: ["broken"] }] }))).Snapshots ?? [];
    expect(left).toEqual([]);
  });
});

describe("upload input checks", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-ebs-in-"));
  it("names the file for a missing image, a size that is not a multiple of 512, an empty one", () => {
    expect(() => checkImage(path.join(dir, "nope.raw"))).toThrow(`${path.join(dir, "nope.raw")}: no such file`);
    fs.writeFileSync(path.join(dir, "odd.raw"), Buffer.alloc(1000));
    expect(() => checkImage(path.join(dir, "odd.raw"))).toThrow("odd.raw: size 1000 is not a multiple of 512 bytes: not a raw disk image");
    fs.writeFileSync(path.join(dir, "empty.raw"), "");
    expect(() => checkImage(path.join(dir, "empty.raw"))).toThrow("empty.raw: the disk image is empty");
  });

  it("rounds the volume up to whole GiB, never below the parent's", () => {
    fs.writeFileSync(path.join(dir, "one.raw"), Buffer.alloc(BLOCK_SIZE * 3));
    expect(checkImage(path.join(dir, "one.raw")).volumeSizeGib).toBe(1);
    expect(checkImage(path.join(dir, "one.raw"), { version: 1, snapshotId: "snap-1", volumeSizeGib: 8, hashes: {} }).volumeSizeGib).toBe(8);
  });

  it("aggregates checksums linearly, in block order", () => {
    const a = Buffer.alloc(32, 1).toString("base64");
    const b = Buffer.alloc(32, 2).toString("base64");
    expect(linearChecksum([{ index: 2, checksum: b }, { index: 1, checksum: a }])).toBe(linearChecksum([{ index: 1, checksum: a }, { index: 2, checksum: b }]));
    expect(linearChecksum([{ index: 1, checksum: a }])).not.toBe(linearChecksum([{ index: 1, checksum: b }]));
  });
});
