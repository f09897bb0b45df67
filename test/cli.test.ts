import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../cli/main";
import { project } from "./helpers";

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const example = path.resolve(__dirname, "../examples/compose/compose.yaml");

describe("i2kit validate", () => {
  it("exits 0 for valid files and prints warnings on stderr", async () => {
    const dir = project({ "compose.yaml": "services:\n  web:\n    image: nginx\n    container_name: x\n" });
    const r = await cli("validate", path.join(dir, "compose.yaml"), path.resolve(__dirname, "../../shared/corpus/i2kit-samples/nginx-service.yml"));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/compose\.yaml: valid Compose file, 1 service\n.*nginx-service\.yml: valid i2kit manifest, 1 service$/);
    expect(r.err).toMatch(/compose\.yaml:4:21: warning: services\.web\.container_name: container_name is ignored/);
  });

  it("exits 1 with every error, one per line", async () => {
    const dir = project({ "compose.yaml": "services:\n  web:\n    image: nginx\n    ports: [\"80:abc\", \"x\"]\n" });
    const r = await cli("validate", path.join(dir, "compose.yaml"));
    expect(r.code).toBe(1);
    expect(r.err.split("\n")).toEqual([
      expect.stringMatching(/compose\.yaml:4:13: services\.web\.ports\[0\]: "80:abc" is not a valid port mapping/),
      expect.stringMatching(/compose\.yaml:4:23: services\.web\.ports\[1\]: "x" is not a valid port mapping/),
      expect.stringMatching(/compose\.yaml: 2 errors$/),
    ]);
  });

  it("says in one line that a file is missing", async () => {
    const r = await cli("validate", "does-not-exist.yaml");
    expect(r).toEqual({ code: 1, out: "", err: "i2kit: does-not-exist.yaml: no such file" });
  });

  it("exits 2 for an unknown flag or command, and 0 for --help", async () => {
    expect((await cli("validate", "--bogus", "x.yaml")).code).toBe(2);
    expect((await cli("frobnicate")).code).toBe(2);
    const help = await cli("--help");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/validate \[options\] <file\.\.\.>/);
    expect(help.out).toMatch(/render \[options\] <file>/);
  });
});

describe("i2kit render", () => {
  it("writes one LinuxKit config per service and prints what it wrote", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-render-"));
    const r = await cli("render", example, "--out", out);
    expect(r.code).toBe(0);
    const written = fs.readdirSync(out).sort();
    expect(written).toEqual(["db.linuxkit.yml", "web.linuxkit.yml"]);
    expect(r.out.split("\n")).toEqual(["web", "db"].map((s) => expect.stringMatching(new RegExp(`^wrote .*${s}\\.linuxkit\\.yml \\(sha256:[0-9a-f]{64}\\)$`))));
    expect(fs.readFileSync(path.join(out, "web.linuxkit.yml"), "utf8")).toMatch(/^# i2kit: LinuxKit config of service "web"/);
  });

  it("renders the same bytes twice", async () => {
    const a = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-a-"));
    const b = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-b-"));
    await cli("render", example, "--out", a);
    await cli("render", example, "--out", b);
    for (const f of fs.readdirSync(a)) expect(fs.readFileSync(path.join(b, f), "utf8")).toBe(fs.readFileSync(path.join(a, f), "utf8"));
  });

  it("detects an i2kit manifest and renders it", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-render-"));
    const r = await cli("render", path.resolve(__dirname, "../../shared/corpus/i2kit-samples/voting-demo-vote.yml"), "-o", out);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(out)).toEqual(["vote.linuxkit.yml"]);
  });

  it("writes nothing when the input has errors", async () => {
    const dir = project({ "compose.yaml": "services:\n  web:\n    image: nginx\n  bad:\n    image: x\n    devices: [/dev/kvm]\n" });
    const out = path.join(dir, "out");
    const r = await cli("render", path.join(dir, "compose.yaml"), "--out", out);
    expect(r.code).toBe(1);
    expect(fs.existsSync(out)).toBe(false);
  });

  it("renders only the services asked for, and refuses unknown ones", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-render-"));
    expect((await cli("render", example, "--out", out, "--service", "db")).code).toBe(0);
    expect(fs.readdirSync(out)).toEqual(["db.linuxkit.yml"]);
    const r = await cli("render", example, "--out", out, "--service", "nope");
    expect(r.code).toBe(2);
    expect(r.err.split("\n").at(-1)).toBe(`i2kit: ${example} has no service nope (it has web, db)`);
  });
});
