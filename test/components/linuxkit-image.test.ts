import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { buildScript } from "../../components/linuxkit-image";
import { Service } from "../../components/service";
import { mockPulumi } from "./harness";

const network = { vpcId: "vpc-1", publicSubnetIds: ["p"], privateSubnetIds: ["q"] };

describe("the build script LinuxKitImage runs", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-build-"));
  const run = (pathDirs: string[], env: Record<string, string> = {}) =>
    spawnSync("/bin/sh", ["-c", buildScript("linuxkit", "aws", path.join(dir, "c.yml"), "svc-0123", dir)], {
      input: "kernel: {}\n",
      env: { PATH: pathDirs.join(":"), ...env },
      encoding: "utf8",
    });

  it("says what to install when linuxkit is missing", () => {
    const r = run(["/nonexistent"]);
    expect(r.status).toBe(127);
    expect(r.stderr.trim()).toBe("i2kit: linuxkit is not installed: go install github.com/linuxkit/linuxkit/src/cmd/linuxkit@v1.8.2, or set linuxkitPath");
  });

  it("writes the config and a throwaway Docker config, then runs linuxkit build with them", () => {
    // A stand-in linuxkit and docker that record what they were given.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-bin-"));
    fs.writeFileSync(path.join(bin, "docker"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "linuxkit"), `#!/bin/sh\necho "$@" > "${dir}/args"\ncat "$DOCKER_CONFIG/config.json" > "${dir}/auth"\necho "$DOCKER_CONFIG" > "${dir}/where"\n`, { mode: 0o755 });
    const shell = path.dirname(execFileSync("/bin/sh", ["-c", "command -v mktemp"], { encoding: "utf8" }).trim());
    const r = run([bin, shell, "/usr/bin", "/bin"], { I2KIT_DOCKER_AUTHS: '{"auths":{"r.example":{"auth":"eDp5"}}}' });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, "c.yml"), "utf8")).toBe("kernel: {}\n");
    expect(fs.readFileSync(path.join(dir, "args"), "utf8").trim()).toBe(`build --format aws --name svc-0123 --dir ${dir} ${path.join(dir, "c.yml")}`);
    expect(fs.readFileSync(path.join(dir, "auth"), "utf8")).toBe('{"auths":{"r.example":{"auth":"eDp5"}}}');
    // The login is gone once the build is over.
    expect(fs.existsSync(fs.readFileSync(path.join(dir, "where"), "utf8").trim())).toBe(false);
  });
});

describe("architecture", () => {
  it("builds a raw EFI image and a UEFI arm64 AMI for a Graviton instance type", async () => {
    const h = mockPulumi();
    new Service("api", { yaml: "name: api\ninstance_type: t4g.small\ncontainers:\n  api:\n    image: api\n", network });
    await h.settle();
    expect(String(h.find("command:local:Command", /-vm-build$/).inputs.create)).toContain("linuxkit build --format raw-efi");
    expect(String(h.find("command:local:Command", /-ami-upload$/).inputs.create)).toContain("--arch arm64");
    expect(String(h.find("command:local:Command", /-ami-upload$/).inputs.create)).toMatch(/ami upload '[^']*\/api-[0-9a-f]{16}-efi\.img'/);
  });
});
