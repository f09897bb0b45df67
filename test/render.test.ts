import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DOCKER_DEFAULT_CAPABILITIES, effectiveCapabilities } from "../components/linuxkit/capabilities";
import { DEFAULT_BASE_IMAGES } from "../components/linuxkit/images";
import type { AgentConfig } from "../components/linuxkit/agent";
import { DEFAULT_PATH, renderLinuxKitConfig } from "../components/linuxkit/render";
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
  it("renders the pinned base VM: kernel, init, onboot sysctl, dhcpcd and the boot agent, no metadata, sshd or getty", () => {
    const r = renderLinuxKitConfig(service({ containers: [{ name: "web", image: "nginx@sha256:" + "a".repeat(64) }] }));
    expect(r.config.kernel).toEqual({ image: DEFAULT_BASE_IMAGES.kernel, cmdline: "console=ttyS0" });
    expect(r.config.init).toEqual([DEFAULT_BASE_IMAGES.init, DEFAULT_BASE_IMAGES.runc, DEFAULT_BASE_IMAGES.containerd, DEFAULT_BASE_IMAGES.caCertificates]);
    expect(r.config.onboot?.map((o) => o.name)).toEqual(["sysctl", "dhcpcd", "i2kit-agent"]);
    expect(r.config.services?.map((o) => o.name)).toEqual(["web", "i2kit-logs"]);
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
      // LinuxKit's env replaces the image's: Docker's default PATH stands in for it until the image is known.
      env: [DEFAULT_PATH, "A=first", "Z=last"],
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

  it("starts a container's environment from the image's own, as Compose does, since LinuxKit's env replaces it", () => {
    const spec = service({ containers: [{ name: "app", image: "eclipse-temurin", environment: { JAVA_HOME: "/opt/jdk", LANG: "C.UTF-8" } }] });
    const imageEnv = ["PATH=/opt/java/openjdk/bin:/usr/bin:/bin", "JAVA_HOME=/opt/java/openjdk", "JAVA_VERSION=21"];
    const pinned = renderLinuxKitConfig(spec, { images: { app: { ref: "eclipse-temurin@sha256:" + "c".repeat(64), env: imageEnv } } });
    // The image's variables in its order, the service's overriding a key the image sets.
    expect(pinned.config.services?.[0]?.env).toEqual(["PATH=/opt/java/openjdk/bin:/usr/bin:/bin", "JAVA_VERSION=21", "JAVA_HOME=/opt/jdk", "LANG=C.UTF-8"]);
    expect(pinned.warnings).toEqual([]);
    const unpinned = renderLinuxKitConfig(spec);
    expect(unpinned.config.services?.[0]?.env).toEqual([DEFAULT_PATH, "JAVA_HOME=/opt/jdk", "LANG=C.UTF-8"]);
    expect(unpinned.warnings).toEqual([
      "app: environment is rendered with Docker's default PATH in place of the image's own variables, which are only known once the image is pinned",
    ]);
    // A service that sets PATH itself gets its own; no environment leaves the image's untouched.
    const ownPath = renderLinuxKitConfig(service({ containers: [{ name: "app", image: "x", environment: { PATH: "/app/bin" } }] }));
    expect(ownPath.config.services?.[0]?.env).toEqual(["PATH=/app/bin"]);
    expect(renderLinuxKitConfig(service({ containers: [{ name: "app", image: "x" }] })).config.services?.[0]?.env).toBeUndefined();
  });

  it("adds a read-only container's mount points to its image tree, which runc cannot create on LinuxKit's read-only root", () => {
    const { app } = loadCompose(
      `services:
  api:
    image: api:1
    read_only: true
    volumes: [cache:/var/cache/api, ./conf/app.ini:/etc/api/app.ini:ro]
    tmpfs: [/tmp]
    secrets: [token, {source: token, target: /etc/api/token}]
  worker:
    image: worker:1
    secrets: [token]
secrets:
  token: {environment: TOKEN}
volumes:
  cache:
`,
      { "conf/app.ini": "[api]\n" },
      { env: { TOKEN: "t" } },
    );
    const [api, worker] = app.services as [(typeof app.services)[0], (typeof app.services)[0]];
    const files = renderLinuxKitConfig(api).config.files?.filter((f) => f.path.startsWith("containers/")) ?? [];
    expect(files).toEqual([
      { path: "containers/services/api/rootfs/etc/api/app.ini", contents: "", mode: "0644" },
      { path: "containers/services/api/rootfs/etc/api/token", contents: "", mode: "0644" },
      { path: "containers/services/api/rootfs/run/secrets/token", contents: "", mode: "0644" },
      { path: "containers/services/api/rootfs/tmp", directory: true, mode: "0755" },
      { path: "containers/services/api/rootfs/var/cache/api", directory: true, mode: "0755" },
    ]);
    // A writable container gets an overlay on which runc makes its own mount points.
    expect(renderLinuxKitConfig(worker).config.files?.filter((f) => f.path.startsWith("containers/"))).toEqual([]);
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
    expect(r.config.files?.slice(1)).toEqual([{ path: "etc/i2kit/files/db/1-init.sql", contents: "select 1;\n", mode: "0444" }]);
    // The agent attaches the stateful volume before format and mount see the disks.
    expect(r.config.onboot?.map((o) => o.name)).toEqual(["sysctl", "dhcpcd", "i2kit-agent", "format", "mount"]);
    expect(r.config.onboot?.[4]?.command).toEqual(["/usr/bin/mountie", "/var/lib/i2kit"]);
    expect(linuxkitSchemaErrors(parse(r.yaml))).toEqual([]);
  });

  it("binds secrets from the boot-time location and never renders their values", () => {
    const { app } = loadCompose(
      "services:\n  app:\n    image: app\n    secrets: [db_password]\nsecrets:\n  db_password:\n    file: ./pw.txt\n",
      { "pw.txt": "correct-horse-battery-staple" },
    );
    const r = renderLinuxKitConfig(app.services[0] as (typeof app.services)[0]);
    expect(r.config.services?.[0]?.binds).toEqual(["/run/i2kit/secrets/app/db_password:/run/secrets/db_password:ro"]);
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

describe("the boot agent in the rendered config", () => {
  const compose = `services:
  api:
    image: api
    user: "1000:1000"
    secrets: [db_password, {source: api_key, target: /etc/api/key, mode: 0440, uid: "70"}]
    x-i2kit: {stateful: true}
secrets:
  db_password:
    file: ./pw.txt
  api_key:
    external: true
    name: shared/api-key
`;
  const render = (options: Parameters<typeof renderLinuxKitConfig>[1] = {}) => {
    const { app } = loadCompose(compose, { "pw.txt": "s3cret" });
    return renderLinuxKitConfig(app.services[0] as (typeof app.services)[0], { app: "shop", ...options });
  };
  const agentConfig = (r: ReturnType<typeof render>) => JSON.parse(r.config.files?.find((f) => f.path === "etc/i2kit/agent.json")?.contents ?? "null") as AgentConfig;

  it("tells the agent each container's secrets, their Secrets Manager ids, owners and modes, and no value", () => {
    const r = render();
    const config = agentConfig(r);
    expect(config.secrets).toEqual([
      // Without uid, the container's own user, as linuxkit build resolved it into the container's config.
      { name: "db_password", secretId: "i2kit/shop/api/db_password", container: "api", path: "/run/i2kit/secrets/api/db_password", ownerFrom: "/containers/services/api/config.json", mode: 0o400 },
      { name: "api_key", secretId: "shared/api-key", container: "api", path: "/run/i2kit/secrets/api/api_key", uid: 70, gid: 70, mode: 0o440 },
    ]);
    // The agent reads that config, read-only.
    expect(r.config.onboot?.find((o) => o.name === "i2kit-agent")?.binds).toContain("/containers/services:/containers/services:ro");
    expect(config).toMatchObject({ app: "shop", service: "api", logGroup: "/i2kit/shop/api", logDir: "/var/log", containers: ["api"], volume: { device: "/dev/sdf" } });
    expect(r.config.services?.find((s) => s.name === "api")?.binds).toEqual(["/run/i2kit/secrets/api/db_password:/run/secrets/db_password:ro", "/run/i2kit/secrets/api/api_key:/etc/api/key:ro"]);
    expect(r.yaml).not.toContain("s3cret");
  });

  it("runs the agent once at boot with CAP_CHOWN only, and ships logs with no capability from a read-only root", () => {
    const r = render({ agent: { image: "registry/agent@sha256:" + "b".repeat(64) } });
    const boot = r.config.onboot?.find((o) => o.name === "i2kit-agent");
    expect(boot).toMatchObject({
      image: "registry/agent@sha256:" + "b".repeat(64),
      command: ["/usr/bin/i2kit-agent", "boot", "-config", "/etc/i2kit/agent.json"],
      capabilities: ["CAP_CHOWN"],
      binds: ["/etc/i2kit/agent.json:/etc/i2kit/agent.json:ro", "/etc/ssl/certs:/etc/ssl/certs:ro", "/run/i2kit:/run/i2kit", "/containers/services:/containers/services:ro"],
      runtime: { mkdir: ["/run/i2kit/secrets"] },
    });
    const logs = r.config.services?.find((s) => s.name === "i2kit-logs");
    expect(logs).toMatchObject({ capabilities: [], readonly: true, noNewPrivileges: true, command: ["/usr/bin/i2kit-agent", "ship", "-config", "/etc/i2kit/agent.json"] });
    expect(logs?.binds).toContain("/var/log:/var/log:ro");
    // No endpoint override in a production config.
    expect(r.yaml).not.toMatch(/AWS_ENDPOINT_URL|AWS_EC2_METADATA_SERVICE_ENDPOINT/);
    expect(linuxkitSchemaErrors(parse(r.yaml))).toEqual([]);
  });

  it("passes a test harness's endpoint overrides to both agent entries only", () => {
    const r = render({ agent: { image: "agent:1", env: { AWS_ENDPOINT_URL: "http://10.0.2.2:5000" } } });
    expect(r.config.onboot?.find((o) => o.name === "i2kit-agent")?.env).toEqual(["AWS_ENDPOINT_URL=http://10.0.2.2:5000"]);
    expect(r.config.services?.find((s) => s.name === "i2kit-logs")?.env).toEqual(["AWS_ENDPOINT_URL=http://10.0.2.2:5000"]);
    expect(r.config.services?.find((s) => s.name === "api")?.env).toBeUndefined();
  });

  it("pins the agent image into the content hash, and can be left out for a local run", () => {
    expect(render({ agent: { image: "agent@sha256:" + "1".repeat(64) } }).contentHash).not.toBe(render({ agent: { image: "agent@sha256:" + "2".repeat(64) } }).contentHash);
    const without = render({ agent: false });
    expect(without.config.onboot?.map((o) => o.name)).toEqual(["sysctl", "dhcpcd", "format", "mount"]);
    expect(without.config.services?.map((s) => s.name)).toEqual(["api"]);
  });

  it("refuses a container named like the agent, at its line", () => {
    expect(() => loadCompose("services:\n  i2kit-logs:\n    image: x\n")).toThrow(/compose\.yaml:3:5: services\.i2kit-logs: .*boot agent; rename the container/);
  });
});
