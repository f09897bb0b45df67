import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../cli/main";
import { BLOCK_SIZE } from "../../components/ebs-direct";
import { clients, startMoto, type LocalAws } from "./local-aws";

async function cli(argv: string[], tty = false) {
  const out: string[] = [];
  const err: string[] = [];
  const status: string[] = [];
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l), ...(tty ? { status: (l: string) => status.push(l) } : {}) });
  return { code, out: out.join("\n"), err, status };
}

describe("i2kit ami", () => {
  let aws: LocalAws;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-ami-cli-"));
  beforeAll(async () => {
    aws = await startMoto();
    // The standard AWS settings, as a user's shell or CI would set them.
    Object.assign(process.env, { AWS_ENDPOINT_URL: aws.endpoint, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_S3_FORCE_PATH_STYLE: "true" });
    await clients(aws.endpoint).s3.send(new CreateBucketCommand({ Bucket: "images" }));
  }, 120_000);
  afterAll(async () => aws?.stop());

  const image = (name: string, data: Record<number, number>) => {
    const buffer = Buffer.alloc(40 * BLOCK_SIZE);
    for (const [i, b] of Object.entries(data)) buffer.fill(b, Number(i) * BLOCK_SIZE, (Number(i) + 1) * BLOCK_SIZE);
    fs.writeFileSync(path.join(dir, name), buffer);
    return path.join(dir, name);
  };

  it("uploads, registers, and the next upload builds on the last one", async () => {
    const first = await cli(["ami", "upload", image("v1.raw", { 0: 1, 1: 2, 30: 3 }), "--name", "web", "--bucket", "images", "--incremental", "--register", "--content-hash", `sha256:${"1".repeat(64)}`, "--json"]);
    expect(first.code, first.err.join("\n")).toBe(0);
    const one = JSON.parse(first.out) as Record<string, unknown>;
    expect(one).toMatchObject({ snapshotId: expect.stringMatching(/^snap-/), imageId: expect.stringMatching(/^ami-/), blocksSent: 3, blocksSkippedZero: 37, blocksSkippedUnchanged: 0 });
    const second = await cli(["ami", "upload", image("v2.raw", { 0: 1, 1: 9, 30: 3 }), "--name", "web", "--bucket", "images", "--incremental", "--json"]);
    expect(JSON.parse(second.out)).toMatchObject({ parentSnapshotId: one.snapshotId, blocksSent: 1, blocksSkippedUnchanged: 2 });
  });

  it("shows a progress bar on a terminal and plain lines otherwise", async () => {
    const tty = await cli(["ami", "upload", image("p.raw", { 3: 1 }), "--name", "p"], true);
    expect(tty.code).toBe(0);
    expect(tty.status.some((l) => /^\[#+ *\] +\d+%  [\d.]+ MB sent in \d+ blocks, \d+ zero and \d+ unchanged skipped, [\d.]+ MB\/s$/.test(l))).toBe(true);
    expect(tty.err).toEqual([]);
    const plain = await cli(["ami", "upload", image("q.raw", { 3: 1 }), "--name", "q"]);
    expect(plain.err.length).toBeGreaterThan(0);
    expect(plain.err.at(-1)).toMatch(/^\[#{24}\] 100%/);
    expect(plain.out).toMatch(/^snapshot snap-[0-9a-f]+: 1 blocks \(0\.5 MB\) sent, 39 zero and 0 unchanged skipped/);
  });

  it("deletes what it made, and names the file or the call when something is wrong", async () => {
    const made = JSON.parse((await cli(["ami", "upload", image("d.raw", { 0: 1 }), "--name", "d", "--register", "--json"])).out) as { imageId: string; snapshotId: string };
    const deleted = await cli(["ami", "delete", "--image-id", made.imageId, "--snapshot-id", made.snapshotId]);
    expect(deleted).toMatchObject({ code: 0, out: `deleted image ${made.imageId} snapshot ${made.snapshotId}` });
    const missing = await cli(["ami", "upload", path.join(dir, "nope.raw"), "--name", "x"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toEqual([`i2kit: ${path.join(dir, "nope.raw")}: no such file`]);
    const again = await cli(["ami", "delete", "--snapshot-id", made.snapshotId]);
    expect(again.code).toBe(1);
    expect(again.err[0]).toMatch(new RegExp(`^i2kit: DeleteSnapshot ${made.snapshotId}: `));
    expect((await cli(["ami", "upload", "x.raw", "--name", "x", "--incremental"])).code).toBe(2);
  });
});
