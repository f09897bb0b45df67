import { describe, expect, it } from "vitest";
import { defineApp } from "../schema/load";
import { errorsOf, loadCompose, warningsOf } from "./helpers";

const only = (text: string, extra: Record<string, string> = {}, env: Record<string, string> = {}) => {
  const result = loadCompose(text, extra, { env });
  const service = result.app.services[0];
  if (!service) throw new Error("no service");
  const container = service.containers[0];
  if (!container) throw new Error("no container");
  return { result, service, container };
};

describe("Compose: image, build, command and entrypoint", () => {
  it("takes image, string and list commands, working_dir and user", () => {
    const { container } = only(`
services:
  web:
    image: nginx:1.27
    command: nginx -g "daemon off;"
    entrypoint: ["/docker-entrypoint.sh"]
    working_dir: /srv
    user: "101:101"
`);
    expect(container).toMatchObject({
      name: "web",
      image: "nginx:1.27",
      command: ["nginx", "-g", "daemon off;"],
      entrypoint: ["/docker-entrypoint.sh"],
      workingDir: "/srv",
      user: "101:101",
    });
  });

  it("reads build as a context path and as the long syntax", () => {
    const short = only("services:\n  app:\n    build: ./app\n").container;
    expect(short.build).toEqual({ context: "app", args: {} });
    const long = only(`
services:
  app:
    platform: linux/arm64
    build:
      context: backend
      dockerfile: Dockerfile.prod
      target: builder
      args: [VERSION=1.2, FROM_ENV]
`, {}, { FROM_ENV: "yes" }).container;
    expect(long.build).toEqual({
      context: "backend",
      dockerfile: "Dockerfile.prod",
      target: "builder",
      args: { VERSION: "1.2", FROM_ENV: "yes" },
      platform: "linux/arm64",
    });
  });

  it("refuses a service with neither image nor build, and shell operators in a string command", () => {
    expect(errorsOf(() => loadCompose("services:\n  app:\n    command: a && b\n"))).toEqual([
      'compose.yaml:3:5: services.app: a service needs an image or a build',
      'compose.yaml:3:14: services.app.command: "a && b" holds shell operators or unbalanced syntax; write it as a list, e.g. ["sh", "-c", "…"]',
    ]);
  });
});

describe("Compose: ports and expose", () => {
  it("turns short and long ports into listeners and container ports", () => {
    const { service, container } = only(`
services:
  web:
    image: nginx
    ports:
      - "8080:80"
      - 443
      - "127.0.0.1:9000:9000"
      - "53:53/udp"
      - "9090-9091:8080-8081"
      - target: 3000
        published: "3001"
        protocol: tcp
        app_protocol: http
    expose: ["7000", 7001/udp]
`);
    expect(service.listeners).toEqual([
      { protocol: "TCP", port: 8080, targetProtocol: "TCP", targetPort: 80 },
      { protocol: "TCP", port: 443, targetProtocol: "TCP", targetPort: 443 },
      { protocol: "UDP", port: 53, targetProtocol: "UDP", targetPort: 53 },
      { protocol: "TCP", port: 9090, targetProtocol: "TCP", targetPort: 8080 },
      { protocol: "TCP", port: 9091, targetProtocol: "TCP", targetPort: 8081 },
      { protocol: "HTTP", port: 3001, targetProtocol: "HTTP", targetPort: 3000 },
    ]);
    expect(container.ports.map((p) => `${p.port}/${p.protocol}`)).toEqual([
      "53/udp", "80/tcp", "443/tcp", "3000/tcp", "7000/tcp", "7001/udp", "8080/tcp", "8081/tcp", "9000/tcp",
    ]);
  });

  it("says that a loopback-only port gets no listener", () => {
    const { result } = only('services:\n  web:\n    image: nginx\n    ports: ["127.0.0.1:9000:9000"]\n');
    expect(warningsOf(result)).toEqual([
      "compose.yaml:4:13: warning: services.web.ports[0]: published on 127.0.0.1 only: no load balancer listener is made for it",
    ]);
  });

  it("reports every bad port at its line and column", () => {
    const text = `services:
  web:
    image: nginx
    ports:
      - "80:80"
      - "80:abc"
      - "70000:80"
      - "80:80/sctp"
      - target: 80
        published: x
`;
    expect(errorsOf(() => loadCompose(text))).toEqual([
      'compose.yaml:6:9: services.web.ports[1]: "80:abc" is not a valid port mapping ([HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL])',
      'compose.yaml:7:9: services.web.ports[2]: "70000:80" is not a valid port mapping ([HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL])',
      'compose.yaml:8:9: services.web.ports[3]: protocol "sctp" is not supported (tcp or udp)',
      'compose.yaml:10:20: services.web.ports[4].published: "x" is not a valid published port',
    ]);
  });

  it("makes HTTP or HTTPS listeners when x-i2kit asks for http and a certificate", () => {
    const cert = "arn:aws:acm:eu-west-1:123456789012:certificate/abc";
    const { service } = only(`
x-i2kit:
  protocol: http
services:
  web:
    image: nginx
    ports: ["80:8080"]
  api:
    image: api
    ports: ["443:8443"]
    x-i2kit:
      certificate: ${cert}
`);
    expect(service.listeners).toEqual([{ protocol: "HTTP", port: 80, targetProtocol: "HTTP", targetPort: 8080 }]);
    const api = loadCompose(`x-i2kit: {protocol: http}\nservices:\n  api:\n    image: api\n    ports: ["443:8443"]\n    x-i2kit: {certificate: "${cert}"}\n`).app.services[0];
    expect(api?.listeners).toEqual([{ protocol: "HTTPS", port: 443, targetProtocol: "HTTP", targetPort: 8443, certificateArn: cert }]);
  });

  it("takes listeners in the i2kit port syntax from x-i2kit.ports and checks them", () => {
    const { service } = only('services:\n  web:\n    image: nginx\n    x-i2kit:\n      ports: ["http:80:http:8080"]\n');
    expect(service.listeners).toEqual([{ protocol: "HTTP", port: 80, targetProtocol: "HTTP", targetPort: 8080 }]);
    expect(errorsOf(() => loadCompose('services:\n  web:\n    image: nginx\n    x-i2kit:\n      ports: ["https:443:http:80"]\n'))).toEqual([
      "compose.yaml:5:15: services.web.x-i2kit.ports[0]: a HTTPS listener needs a certificate ARN as its fifth field",
    ]);
  });
});

describe("Compose: environment and env_file", () => {
  it("reads list and map forms, inherits bare names, and lets environment win over env_file", () => {
    const list = only(`
services:
  app:
    image: app
    env_file: [common.env]
    environment:
      - MODE=prod
      - FROM_SHELL
      - NOT_IN_SHELL
`, { "common.env": "MODE=dev\nSHARED=1\n" }, { FROM_SHELL: "shell" }).container;
    expect(list.environment).toEqual({ MODE: "prod", SHARED: "1", FROM_SHELL: "shell" });
    const map = only("services:\n  app:\n    image: app\n    environment:\n      DEBUG: false\n      PORT: 8080\n      EMPTY:\n").container;
    expect(map.environment).toEqual({ DEBUG: "false", PORT: "8080" });
  });

  it("fails for a missing env_file unless it is optional", () => {
    expect(errorsOf(() => loadCompose("services:\n  app:\n    image: app\n    env_file: missing.env\n"))).toEqual([
      "compose.yaml:4:15: services.app.env_file: env_file missing.env does not exist",
    ]);
    const ok = only("services:\n  app:\n    image: app\n    env_file:\n      - path: missing.env\n        required: false\n");
    expect(ok.container.environment).toEqual({});
  });

  it("warns when a variable that looks like a secret would be baked in", () => {
    const { result } = only("services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: hunter2\n");
    expect(warningsOf(result)).toEqual([
      "compose.yaml:5:26: warning: services.db.environment.POSTGRES_PASSWORD: POSTGRES_PASSWORD looks like a secret and would be baked into the VM image in clear; use a Compose secret",
    ]);
  });
});

describe("Compose: interpolation from the environment and .env", () => {
  it("interpolates values from the process environment first, then .env", () => {
    const { container } = only(
      'services:\n  app:\n    image: "app:${TAG:-latest}"\n    environment: ["A=${FROM_DOTENV}", "B=${BOTH}", "C=$$LITERAL"]\n',
      { ".env": "FROM_DOTENV=dotenv\nBOTH=dotenv\n" },
      { BOTH: "shell" },
    );
    expect(container.image).toBe("app:latest");
    expect(container.environment).toEqual({ A: "dotenv", B: "shell", C: "$LITERAL" });
  });

  it("reports a required variable at the value that needs it", () => {
    expect(errorsOf(() => loadCompose('services:\n  app:\n    image: "app:${TAG:?set TAG to the release}"\n'))).toEqual([
      "compose.yaml:3:12: services.app.image: required variable TAG is missing a value: set TAG to the release",
    ]);
  });
});

describe("Compose: volumes, tmpfs and secrets", () => {
  it("maps named, anonymous, bind and tmpfs mounts", () => {
    const { container, result } = only(`
services:
  db:
    image: postgres
    volumes:
      - data:/var/lib/postgresql/data
      - ./init.sql:/docker-entrypoint-initdb.d/init.sql:ro
      - type: bind
        source: ./conf
        target: /etc/conf
        read_only: true
      - /scratch
      - type: tmpfs
        target: /cache
        tmpfs: {size: 64m}
    tmpfs: ["/run:size=16m,mode=1777"]
    x-i2kit: {stateful: true}
volumes:
  data: {}
`, { "init.sql": "create table t (id int);\n", "conf/a.conf": "a=1\n" });
    expect(container.mounts).toEqual([
      { type: "volume", source: "data", target: "/var/lib/postgresql/data", readOnly: false },
      {
        type: "bind", source: "init.sql", target: "/docker-entrypoint-initdb.d/init.sql", readOnly: true, kind: "file",
        digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), contents: "create table t (id int);\n",
      },
      { type: "bind", source: "conf", target: "/etc/conf", readOnly: true, kind: "directory", digest: expect.stringMatching(/^sha256:/) },
      { type: "volume", source: "db-db-anonymous-3", target: "/scratch", readOnly: false },
      { type: "tmpfs", target: "/cache", sizeBytes: 64 * 1024 * 1024 },
      { type: "tmpfs", target: "/run", sizeBytes: 16 * 1024 * 1024, mode: 0o1777 },
    ]);
    expect(warningsOf(result)).toContain(
      "compose.yaml:12:9: warning: services.db.volumes[3]: anonymous volume at /scratch starts empty on the VM: the image's files at that path are not copied into it",
    );
  });

  it("refuses the Docker socket, host paths, undeclared volumes and missing bind sources", () => {
    const text = `services:
  app:
    image: app
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - /etc/app:/etc/app
      - ~/data:/data
      - undeclared:/x
      - ./missing.conf:/etc/missing.conf
`;
    expect(errorsOf(() => loadCompose(text))).toEqual([
      "compose.yaml:5:9: services.app.volumes[0]: bind mount of the Docker socket /var/run/docker.sock cannot be honoured: an i2kit VM runs no Docker engine",
      "compose.yaml:6:9: services.app.volumes[1]: bind mount of host path /etc/app cannot be honoured on a VM: use a path relative to the project to bake files into the image, or a named volume for data",
      "compose.yaml:7:9: services.app.volumes[2]: bind mount of host path ~/data cannot be honoured on a VM: use a path relative to the project to bake files into the image, or a named volume for data",
      'compose.yaml:8:9: services.app.volumes[3]: named volume "undeclared" is not declared in the top-level volumes',
      "compose.yaml:9:9: services.app.volumes[4]: bind source ./missing.conf does not exist (it is baked into the VM image, so it must exist when rendering)",
    ]);
  });

  it("changes the bind digest when the baked file changes", () => {
    const text = "services:\n  app:\n    image: app\n    volumes: [./big.bin:/big.bin:ro]\n";
    const a = only(text, { "big.bin": "x".repeat(70_000) }).container.mounts[0];
    const b = only(text, { "big.bin": "y".repeat(70_000) }).container.mounts[0];
    expect(a).toMatchObject({ type: "bind", kind: "file" });
    expect(a && "contents" in a ? a.contents : undefined).toBeUndefined();
    expect(a && a.type === "bind" ? a.digest : "").not.toBe(b && b.type === "bind" ? b.digest : "");
  });

  it("keeps only where a secret comes from, never its value", () => {
    const { service, container } = only(`
services:
  app:
    image: app
    user: "1000"
    secrets:
      - db_password
      - source: api_key
        target: /etc/app/key
        mode: 0440
secrets:
  db_password:
    file: ./db_password.txt
  api_key:
    environment: API_KEY
`, { "db_password.txt": "s3cr3t-value" }, { API_KEY: "k3y-value" });
    expect(service.secrets).toEqual([
      { name: "db_password", source: { kind: "file", path: "./db_password.txt" } },
      { name: "api_key", source: { kind: "environment", variable: "API_KEY" } },
    ]);
    expect(container.secrets).toEqual([
      // No uid: the container's own user owns them (the agent reads it from what linuxkit built).
      { source: "db_password", target: "db_password", mode: 0o400 },
      { source: "api_key", target: "/etc/app/key", mode: 0o440 },
    ]);
    expect(JSON.stringify(service)).not.toMatch(/s3cr3t-value|k3y-value/);
  });

  it("refuses undeclared secrets and inline secret content", () => {
    const text = "services:\n  app:\n    image: app\n    secrets: [nope]\nsecrets:\n  inline:\n    content: hunter2\n";
    expect(errorsOf(() => loadCompose(text))).toEqual([
      'compose.yaml:4:15: services.app.secrets[0]: secret "nope" is not declared in the top-level secrets',
      "compose.yaml:7:5: secrets.inline: inline secret content would be baked into the image; use file, environment or external",
    ]);
  });
});

describe("Compose: health, dependencies, deploy and limits", () => {
  it("reads healthcheck timing into the load balancer check, and warns that the command is not run", () => {
    const { service, container, result } = only(`
services:
  web:
    image: nginx
    healthcheck:
      test: curl -f http://localhost/
      interval: 10s
      timeout: 3s
      retries: 5
      start_period: 1m30s
    x-i2kit:
      health_check: {path: /healthz}
`);
    expect(container.healthcheck).toEqual({
      test: ["CMD-SHELL", "curl -f http://localhost/"],
      intervalSeconds: 10,
      timeoutSeconds: 3,
      retries: 5,
      startPeriodSeconds: 90,
    });
    expect(service.healthCheck).toEqual({ path: "/healthz", intervalSeconds: 10, timeoutSeconds: 3, healthyThreshold: 3, unhealthyThreshold: 5 });
    expect(warningsOf(result)[0]).toMatch(/healthcheck\.test: the container's healthcheck command is not run on the VM/);
  });

  it("reads depends_on lists and maps with conditions, and refuses unknown services", () => {
    const { result } = only(`
services:
  web:
    image: web
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started, required: false}
  db:
    image: postgres
`);
    expect(result.app.services[0]?.dependsOn).toEqual([{ service: "db", condition: "service_healthy" }]);
    expect(errorsOf(() => loadCompose("services:\n  web:\n    image: web\n    depends_on: [db]\n"))).toEqual([
      'compose.yaml:4:18: services.web.depends_on[0]: depends on unknown service "db"',
    ]);
  });

  it("reads replicas and resources from deploy and the older keys", () => {
    const { service, container } = only(`
services:
  web:
    image: web
    pids_limit: 100
    deploy:
      replicas: 3
      resources:
        limits: {cpus: "0.5", memory: 256M}
        reservations: {memory: 128m}
`);
    expect(service.replicas).toBe(3);
    expect(container.resources).toEqual({ cpuLimit: 0.5, memoryLimitBytes: 256 * 1024 ** 2, memoryReservationBytes: 128 * 1024 ** 2, pidsLimit: 100 });
  });

  it("lets x-i2kit override replicas, instance type and public, with top-level defaults", () => {
    const { result } = only(`
x-i2kit: {instance_type: t3.small, public: true}
services:
  web:
    image: web
    deploy: {replicas: 2}
    x-i2kit: {replicas: 4}
  worker:
    image: worker
    x-i2kit: {instance_type: c6i.large, public: false}
`);
    expect(result.app.services.map((s) => [s.name, s.replicas, s.instanceType, s.public])).toEqual([
      ["web", 4, "t3.small", true],
      ["worker", 1, "c6i.large", false],
    ]);
  });

  it("keeps a stateful service to one replica", () => {
    expect(errorsOf(() => loadCompose("services:\n  db:\n    image: pg\n    x-i2kit: {stateful: true, replicas: 2}\n"))).toEqual([
      "compose.yaml:4:41: services.db.x-i2kit.replicas: a stateful service runs exactly one replica",
    ]);
  });

  it("reads sysctls, ulimits, capabilities, read_only, privileged and security_opt", () => {
    const { container, result } = only(`
services:
  vpn:
    image: wg
    cap_add: [NET_ADMIN, cap_sys_module]
    cap_drop: [MKNOD]
    read_only: true
    security_opt: ["no-new-privileges:false", "seccomp:unconfined"]
    sysctls: [net.ipv4.ip_forward=1]
    ulimits:
      nofile: {soft: 1024, hard: 4096}
      nproc: 512
`);
    expect(container).toMatchObject({
      capAdd: ["CAP_NET_ADMIN", "CAP_SYS_MODULE"],
      capDrop: ["CAP_MKNOD"],
      readOnly: true,
      privileged: false,
      noNewPrivileges: false,
      sysctls: { "net.ipv4.ip_forward": "1" },
      ulimits: { nofile: { soft: 1024, hard: 4096 }, nproc: { soft: 512, hard: 512 } },
    });
    expect(warningsOf(result)).toEqual([
      'compose.yaml:8:47: warning: services.vpn.security_opt[1]: security option "seccomp:unconfined" is ignored: LinuxKit applies its default seccomp and no AppArmor or SELinux',
    ]);
    expect(errorsOf(() => loadCompose("services:\n  a:\n    image: a\n    cap_add: [NOT_A_CAP]\n    ulimits: {bogus: 1}\n"))).toEqual([
      'compose.yaml:4:15: services.a.cap_add[0]: "NOT_A_CAP" is not a Linux capability',
      'compose.yaml:5:22: services.a.ulimits.bogus: "bogus" is not a ulimit (core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack, as)',
    ]);
  });
});

describe("Compose: profiles, anchors and merge keys", () => {
  it("skips services of inactive profiles with a warning, and keeps them when the profile is active", () => {
    const text = "services:\n  web:\n    image: web\n  debug:\n    image: busybox\n    profiles: [debug]\n";
    const off = loadCompose(text);
    expect(off.app.services.map((s) => s.name)).toEqual(["web"]);
    expect(warningsOf(off)).toEqual(['compose.yaml:6:15: warning: services.debug.profiles: service "debug" is skipped: none of its profiles (debug) is active']);
    expect(loadCompose(text, {}, { profiles: ["debug"] }).app.services.map((s) => s.name)).toEqual(["web", "debug"]);
    expect(loadCompose(text, {}, { env: { COMPOSE_PROFILES: "debug" } }).app.services.map((s) => s.name)).toEqual(["web", "debug"]);
  });

  it("resolves anchors and << merge keys, and points errors in merged keys at the anchor", () => {
    const text = `x-base: &base
  image: app
  restart: always
  environment: {A: "1"}
services:
  one:
    <<: *base
    environment: {A: "2"}
  two:
    <<: *base
    ports: ["bad"]
`;
    expect(errorsOf(() => loadCompose(text))).toEqual([
      'compose.yaml:11:13: services.two.ports[0]: "bad" is not a valid port mapping ([HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL])',
    ]);
    const ok = loadCompose(text.replace('ports: ["bad"]', 'ports: ["80"]'));
    expect(ok.app.services.map((s) => [s.name, s.containers[0]?.image, s.containers[0]?.environment.A])).toEqual([
      ["one", "app", "2"],
      ["two", "app", "1"],
    ]);
    expect(warningsOf(ok).filter((w) => w.includes("restart"))).toEqual([
      "compose.yaml:3:12: warning: services.one.restart: restart: always is carried out by replacing the VM when its health check fails, not by restarting the container in place",
      "compose.yaml:3:12: warning: services.two.restart: restart: always is carried out by replacing the VM when its health check fails, not by restarting the container in place",
    ]);
  });
});

describe("Compose: what a VM cannot honour is named, never dropped", () => {
  it("errors for features that would change what runs", () => {
    const text = `services:
  app:
    image: app
    network_mode: "container:other"
    devices: ["/dev/fuse"]
    runtime: runsc
    volumes_from: [other]
    unknown_key: 1
`;
    expect(errorsOf(() => loadCompose(text))).toEqual([
      "compose.yaml:4:19: services.app.network_mode: network_mode \"container:other\" cannot be honoured on a VM: containers use the VM's network",
      "compose.yaml:5:14: services.app.devices: devices cannot be honoured on a VM: host devices do not exist on the VM",
      "compose.yaml:6:14: services.app.runtime: runtime cannot be honoured on a VM: containers run with runc on the VM",
      "compose.yaml:7:19: services.app.volumes_from: volumes_from cannot be honoured on a VM: containers of different services run on different VMs",
      'compose.yaml:8:18: services.app.unknown_key: unknown key "unknown_key" in a service',
    ]);
  });

  it("warns for features it accepts but ignores", () => {
    const { result } = only("services:\n  app:\n    image: app\n    container_name: my-app\n    networks: [front]\nnetworks:\n  front: {}\n");
    expect(warningsOf(result)).toEqual([
      "compose.yaml:4:21: warning: services.app.container_name: container_name is ignored: the VM group is named after the service",
      "compose.yaml:5:15: warning: services.app.networks: networks is ignored: services reach each other by name through the app's private DNS",
      "compose.yaml:7:3: warning: networks: networks is ignored: services reach each other by name through the app's private DNS",
    ]);
  });

  it("reports YAML syntax errors and duplicate keys with their position", () => {
    expect(errorsOf(() => loadCompose("services:\n  app:\n    image: [unclosed\n"))[0]).toMatch(/^compose\.yaml:\d+:\d+: YAML syntax error: /);
    expect(errorsOf(() => loadCompose("services:\n  app:\n    image: a\n    image: b\n"))).toEqual([
      "compose.yaml:4:5: YAML syntax error: Map keys must be unique",
    ]);
  });

  it("names the app after the Compose name, x-i2kit.name or the directory", () => {
    expect(loadCompose("name: My_Shop\nservices:\n  web:\n    image: web\n").app.name).toBe("my-shop");
    expect(loadCompose("x-i2kit: {name: billing}\nservices:\n  web:\n    image: web\n").app.name).toBe("billing");
  });
});

describe("Compose: bad values of the remaining keys", () => {
  it("reports bad durations, retries, replicas, resources and depends_on conditions", () => {
    const text = `services:
  web:
    image: web
    healthcheck:
      test: ["CMD", "true"]
      interval: soon
      retries: -1
    deploy:
      replicas: many
      mode: global
      resources:
        limits: {memory: lots, devices: []}
    depends_on:
      db: {condition: service_ready}
  db:
    image: db
`;
    expect(errorsOf(() => loadCompose(text))).toEqual([
      'compose.yaml:6:17: services.web.healthcheck.interval: "soon" is not a duration (e.g. 30s, 1m30s)',
      "compose.yaml:7:16: services.web.healthcheck.retries: -1 is not a positive whole number",
      'compose.yaml:9:17: services.web.deploy.replicas: "many" is not a whole number',
      'compose.yaml:10:13: services.web.deploy.mode: deploy.mode "global" cannot be honoured: a service is a replicated VM group',
      'compose.yaml:12:26: services.web.deploy.resources.limits.memory: "lots" is not a size',
      "compose.yaml:12:41: services.web.deploy.resources.limits.devices: deploy.resources.limits.devices (GPUs and devices) cannot be honoured yet: pick an instance type with the device through x-i2kit.instance_type",
      'compose.yaml:14:23: services.web.depends_on.db.condition: "service_ready" is not a condition (service_started, service_healthy, service_completed_successfully)',
    ]);
  });

  it("reports a bad x-i2kit block key by key", () => {
    const text = "services:\n  web:\n    image: web\n    x-i2kit:\n      replicas: -2\n      colour: blue\n      protocol: udp\n";
    expect(errorsOf(() => loadCompose(text))).toEqual([
      "compose.yaml:5:17: services.web.x-i2kit.replicas: Too small: expected number to be >=0",
      'compose.yaml:6:15: services.web.x-i2kit.colour: unknown key "colour"',
      'compose.yaml:7:17: services.web.x-i2kit.protocol: Invalid option: expected one of "http"|"tcp"',
    ]);
  });

  it("refuses a service name that cannot be a host name", () => {
    expect(errorsOf(() => loadCompose("services:\n  Web_1:\n    image: web\n"))).toEqual([
      "compose.yaml:3:5: services.Web_1: name: must be a DNS label: lower-case letters, digits and '-'",
    ]);
  });
});

describe("typed arguments", () => {
  it("validate into the same AppSpec with defaults, and report what is wrong by path", () => {
    const app = defineApp({ name: "shop", services: [{ name: "web", containers: [{ name: "web", image: "nginx" }] }] });
    expect(app.services[0]).toMatchObject({ replicas: 1, public: false, stateful: false, instanceType: "t3.micro", listeners: [] });
    expect(app.services[0]?.containers[0]).toMatchObject({ capAdd: [], capDrop: [], noNewPrivileges: true, environment: {} });
    expect(() => defineApp({ name: "shop", services: [{ name: "web", containers: [{ name: "web" }] }] })).toThrow(
      "<arguments>: services.0.containers.0.image: a container needs an image or a build",
    );
  });
});
