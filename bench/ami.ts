// The fast AMI pipeline against the slow one, on the same local AWS API
// (moto): bytes sent and wall time for a 1 GiB disk image holding 60 MB of
// data, written with the EBS direct APIs or uploaded whole to S3 as VM Import
// needs; then the incremental re-upload after a one-file change.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { BLOCK_SIZE, uploadSnapshot } from "../components/ebs-direct";
import { clients, startMoto } from "../test/aws/local-aws";

const MIB = 1024 * 1024;

/** A sparse 1 GiB image with 60 "files" of 1 MiB of pseudo-random bytes, at distinct scattered offsets. */
function makeImage(file: string): number[] {
  const fd = fs.openSync(file, "w");
  fs.ftruncateSync(fd, 1024 * MIB);
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const offsets: number[] = [];
  for (let i = 0; i < 60; i++) {
    const offset = ((i * 17) % 1000) * MIB;
    const data = Buffer.alloc(MIB);
    for (let j = 0; j < data.length; j += 4) data.writeUInt32LE(next(), j);
    fs.writeSync(fd, data, 0, data.length, offset);
    offsets.push(offset);
  }
  fs.closeSync(fd);
  return offsets;
}

const mb = (bytes: number) => `${(bytes / MIB).toFixed(1)} MB`;

export async function benchAmi(): Promise<void> {
  const aws = await startMoto();
  try {
    const { ebs, ec2, s3 } = clients(aws.endpoint);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-bench-ami-"));
    const image = path.join(dir, "disk.raw");
    const offsets = makeImage(image);
    console.log("\nAMI pipeline, 1 GiB raw disk image with 60 MB of data, against moto on loopback");

    let start = performance.now();
    const full = await uploadSnapshot(ebs, ec2, { file: image, service: "bench" });
    const directSeconds = (performance.now() - start) / 1000;
    console.log(`  EBS direct upload:        ${mb(full.bytesSent).padStart(9)} sent in ${full.blocksSent} blocks, ${full.blocksSkippedZero} zero blocks skipped, ${directSeconds.toFixed(1)} s`);

    await s3.send(new CreateBucketCommand({ Bucket: "bench-images" }));
    start = performance.now();
    const size = fs.statSync(image).size;
    await s3.send(new PutObjectCommand({ Bucket: "bench-images", Key: "disk.raw", Body: fs.createReadStream(image), ContentLength: size }));
    const s3Seconds = (performance.now() - start) / 1000;
    console.log(`  S3 upload for VM Import:  ${mb(size).padStart(9)} sent, ${s3Seconds.toFixed(1)} s, then ImportSnapshot`);
    console.log("  VM Import itself: not measured (it cannot run locally); reported to take minutes to over half an hour per image");

    // One "file" of the image changes: 200 KiB rewritten.
    const fd = fs.openSync(image, "r+");
    fs.writeSync(fd, Buffer.alloc(200 * 1024, 0xab), 0, 200 * 1024, (offsets[7] ?? 0) + 100 * 1024);
    fs.closeSync(fd);
    start = performance.now();
    const incremental = await uploadSnapshot(ebs, ec2, { file: image, service: "bench", parent: full.record });
    const incrementalSeconds = (performance.now() - start) / 1000;
    console.log(
      `  incremental re-upload:    ${mb(incremental.bytesSent).padStart(9)} sent in ${incremental.blocksSent} blocks (${BLOCK_SIZE / 1024} KiB each), ${incremental.blocksSkippedUnchanged} unchanged skipped, ${incrementalSeconds.toFixed(1)} s`,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    await aws.stop();
  }
}
