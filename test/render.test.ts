import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DOCKER_DEFAULT_CAPABILITIES, effectiveCapabilities } from "../components/linuxkit/capabilities";
import { DEFAULT_BASE_IMAGES } from "../components/linuxkit/images";
import { renderLinuxKitConfig } from "../components/linuxkit/render";
import { defineApp } from "../schema/load";
import type { ServiceSpecInput } from "../schema/spec";
import { loadCompose } from "./helpers";
import { linuxkitSchemaErrors } from "./linuxkit-schema";

const service = (input: Partial<ServiceSpecInput> & Pick<ServiceSpecInput, "containers">) => {
  const app = defineApp({ name: "shop", services: [{ name: "web", ...input }] });
  return app.services[0] as (typeof app.services)[0];
};

describe("capability arithmetic", () => {
  it("starts from Docker's default set", () => {
    expect(effectiveCapabilities({ capAdd: [], capDrop: [], privileged: false })).toEqual([...DOCKER_DEFAULT_CAPABILITIES].sort());
    expect(DOCKER_DEFAULT_CAPABILITIES).toHaveLength(14);
  });

  it("adds cap_add and removes cap_drop, an added capability winning", () => {
    const caps = effectiveCapabilities({ capAdd: ["CAP_NET_ADMIN", "CAP_CHOWN"], capDrop: ["CAP_CHOWN", "CAP_NET_RAW", "CAP_MKNOD"], privileged: false });
    expect(caps).toContain("CAP_NET_ADMIN");
    expect(caps).toContain("CAP_CHOWN");
    expect(caps).not.toContain("CAP_NET_RAW");
    expect(caps).not.toContain("CAP_MKNOD");
    expect(caps).toHaveLength(14 + 1 - 2);
  });

  it("drops everything for cap_drop ALL but keeps what cap_add names", () => {
    expect(effectiveCapabilities({ capAdd: ["CAP_NET_BIND_SERVICE"], capDrop: ["ALL"], privileged: false })).toEqual(["CAP_NET_BIND_SERVICE"]);
  });

  it("renders `all` only for a privileged container", () => {
    expect(effectiveCapabilities({ capAdd: [], capDrop: [], privileged: true })).toEqual(["all"]);
    expect(effectiveCapabilities({ capAdd: ["ALL"], capDrop: [], privileged: false })).not.toContain("all");
    expect(effectiveCapabilities({ capAdd: ["ALL"], capDrop: [], privileged: false })).toContain("CAP_SYS_ADMIN");
  });
});

describe("the LinuxKit renderer", () => {
  it("renders the pinned base VM: kernel, init, onboot sysctl and dhcpcd, no metadata, sshd or getty", () => {
    const r = renderLinuxKitConfig(service({ containers: [{ name: "web", image: "nginx@sha256:" + "a".repeat(64) }] }));
    expect(r.config.kernel).toEqual({ image: DEFAULT_BASE_IMAGES.kernel, cmdline: "console=ttyS0" });
    expect(r.config.init).toEqual([DEFAULT_BASE_IMAGES.init, DEFAULT_BASE_IMAGES.runc, DEFAULT_BASE_IMAGES.containerd, DEFAULT_BASE_IMAGES.caCertificates]);
    expect(r.config.onboot?.map((o) => o.name)).toEqual(["sysctl", "dhcpcd"]);
    expect(r.yaml).not.toMatch(/metadata|sshd|getty/);
    expect(linuxkitSchemaErrors(parse(r.yaml))).toEqual([]);
  });

  it("lets every base image be overridden", () => {
    const r = renderLinuxKitConfig(service({ containers: [{ name: "web", image: "nginx" }] }), { baseImages: { kernel: "mirror/kernel:1" } });
    expect(r.config.kernel.image).toBe("mirror/kernel:1");
  });

  it("renders a container as a host-network service with its settings", () => {
    const r = renderLinuxKitConfig(
      service({
        containers: [
          {
            name: "api",
            image: "api:1",
            entrypoint: ["/bin/api"],
            command: ["--port", "8080"],
            environment: { Z: "last", A: "first" },
            workingDir: "/srv",
            user: "1000:2000",
            readOnly: true,
            capDrop: ["CAP_NET_RAW"],
            sysctls: { "net.core.somaxconn": "1024" },
            ulimits: { nofile: { soft: 1024, hard: 4096 } },
            resources: { memoryLimitBytes: 268435456, cpuLimit: 0.5, pidsLimit: 64 },
            annotations: { team: "payments" },
            oomScoreAdj: -500,
          },
        ],
      }),
    );
    expect(r.config.services?.[0]).toEqual({
      name: "api",
      image: "api:1",
      net: "host",
      capabilities: DOCKER_DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_NET_RAW").sort(),
      command: ["/bin/api", "--port", "8080"],
      env: ["A=first", "Z=last"],
      cwd: "/srv",
      uid: 1000,
      gid: 2000,
      readonly: true,
      noNewPrivileges: true,
      oomScoreAdj: -500,
      sysctl: { "net.core.somaxconn": "1024" },
      rlimits: ["nofile,1024,4096"],
      resources: { memory: { limit: 268435456 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 64 } },
      annotations: { team: "payments" },
    });
    expect(linuxkitSchemaErrors(parse(r.yaml))).toEqual([]);
  });

  it("keeps the image's entrypoint when only command is given, once the image is known", () => {
    const spec = service({ containers: [{ name: "db", image: "mariadb", command: ["--default-authentication-plugin=mysql_native_password"] }] });
    const pinned = renderLinuxKitConfig(spec, {
      images: { db: { ref: "mariadb@sha256:" + "b".repeat(64), entrypoint: ["docker-entrypoint.sh"], cmd: ["mariadbd"] } },
    });
    expect(pinned.config.services?.[0]?.command).toEqual(["docker-entrypoint.sh", "--default-authentication-plugin=mysql_native_password"]);
    expect(pinned.config.services?.[0]?.image).toBe("mariadb@sha256:" + "b".repeat(64));
    const unpinned = renderLinuxKitConfig(spec);
    expect(unpinned.warnings).toEqual(["db: command is rendered without the image's entrypoint, which is only known once the image is pinned"]);
  });

  it("binds volumes on the data disk, bakes project files, and mounts tmpfs", () => {
    const { app } = loadCompose(
      `services:
  db:
    image: postgres
    volumes:
      - pgdata:/var/lib/postgresql/data
      - ./init.sql:/docker-entrypoint-initdb.d/init.sql:ro
    tmpfs: ["/tmp:size=1m"]
    x-i2kit: {stateful: true}
volumes:
  pgdata:
`,
      { "init.sql": "select 1;\n" },
    );
    const r = renderLinuxKitConfig(app.services[0] as (typeof app.services)[0]);
    const db = r.config.services?.[0];
    expect(db?.binds).toEqual([
      "/var/lib/i2kit/volumes/pgdata:/var/lib/postgresql/data",
      "/etc/i2kit/files/db/1-init.sql:/docker-entrypoint-initdb.d/init.sql:ro",
    ]);
    expect(db?.runtime).toEqual({ mkdir: ["/var/lib/i2kit/volumes/pgdata"] });
    expect(db?.tmpfs).toEqual(["/tmp:size=1048576"]);
    expect(r.config.files).toEqual([{ path: "etc/i2kit/files/db/1-init.sql", contents: "select 1;\n", mode: "0444" }]);
    expect(r.config.onboot?.map((o) => o.name)).toEqual(["sysctl", "dhcpcd", "format", "mount"]);
    expect(r.config.onboot?.[3]?.command).toEqual(["/usr/bin/mountie", "/var/lib/i2kit"]);
    expect(linuxkitSchemaErrors(parse(r.yaml))).toEqual([]);
  });

  it("binds secrets from the boot-time location and never renders their values", () => {
    const { app } = loadCompose(
      "services:\n  app:\n    image: app\n    secrets: [db_password]\nsecrets:\n  db_password:\n    file: ./pw.txt\n",
      { "pw.txt": "correct-horse-battery-staple" },
    );
    const r = renderLinuxKitConfig(app.services[0] as (typeof app.services)[0]);
    expect(r.config.services?.[0]?.binds).toEqual(["/run/i2kit/secrets/db_password:/run/secrets/db_password:ro"]);
    expect(r.yaml).not.toContain("correct-horse-battery-staple");
  });

  it("keeps the secret out of the content hash: a new value gives the same config", () => {
    const text = "services:\n  app:\n    image: app\n    secrets: [s]\nsecrets:\n  s:\n    file: ./s.txt\n";
    const a = renderLinuxKitConfig(loadCompose(text, { "s.txt": "one" }).app.services[0] as never);
    const b = renderLinuxKitConfig(loadCompose(text, { "s.txt": "two" }).app.services[0] as never);
    expect(a.contentHash).toBe(b.contentHash);
  });

  it("is deterministic, and any change in the spec changes the hash", () => {
    const spec = service({ containers: [{ name: "web", image: "nginx", environment: { B: "2", A: "1" } }] });
    const first = renderLinuxKitConfig(spec);
    const again = renderLinuxKitConfig(structuredClone(spec));
    expect(again.yaml).toBe(first.yaml);
    expect(first.contentHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const reordered = service({ containers: [{ name: "web", image: "nginx", environment: { A: "1", B: "2" } }] });
    expect(renderLinuxKitConfig(reordered).contentHash).toBe(first.contentHash);
    const changed = service({ containers: [{ name: "web", image: "nginx", environment: { A: "1", B: "3" } }] });
    expect(renderLinuxKitConfig(changed).contentHash).not.toBe(first.contentHash);
  });

  it("renders a privileged container with all capabilities and without no-new-privileges", () => {
    const r = renderLinuxKitConfig(service({ containers: [{ name: "x", image: "x", privileged: true }] }));
    expect(r.config.services?.[0]?.capabilities).toEqual(["all"]);
    expect(r.config.services?.[0]?.noNewPrivileges).toBeUndefined();
  });
});
