// The one input model every source is normalised into. Plain data, no
// Pulumi: a Compose file, an i2kit service.yml and typed TypeScript arguments
// all become an AppSpec, and only an AppSpec reaches the renderer.
import { z } from "zod";

const portNumber = z.number().int().min(1).max(65535);

/** DNS label: services become host names in the app's private zone. */
export const serviceName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a DNS label: lower-case letters, digits and '-'");

export const containerName = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "must start with a letter or digit and hold only letters, digits, '_', '.', '-'");

export const ListenerProtocolSchema = z.enum(["HTTP", "HTTPS", "TCP", "TLS", "UDP"]);
export type ListenerProtocol = z.infer<typeof ListenerProtocolSchema>;

/** A load balancer listener and where it forwards to on the instance. */
export const ListenerSchema = z.object({
  protocol: ListenerProtocolSchema,
  port: portNumber,
  targetProtocol: ListenerProtocolSchema,
  targetPort: portNumber,
  certificateArn: z.string().optional(),
});
export type Listener = z.infer<typeof ListenerSchema>;

export const ContainerPortSchema = z.object({
  port: portNumber,
  protocol: z.enum(["tcp", "udp"]).default("tcp"),
});
export type ContainerPort = z.infer<typeof ContainerPortSchema>;

export const BuildSchema = z.object({
  context: z.string(),
  dockerfile: z.string().optional(),
  target: z.string().optional(),
  args: z.record(z.string(), z.string()).default({}),
  platform: z.string().optional(),
});
export type BuildSpec = z.infer<typeof BuildSchema>;

const absolutePath = z.string().regex(/^\//, "must be an absolute path");

/** A directory on the VM's data disk, shared by the containers that name it. */
export const VolumeMountSchema = z.object({
  type: z.literal("volume"),
  source: z.string(),
  target: absolutePath,
  readOnly: z.boolean().default(false),
});

/** A file or directory of the project, baked into the image. */
export const BindMountSchema = z.object({
  type: z.literal("bind"),
  /** Path relative to the project directory, with `/` separators. */
  source: z.string(),
  target: absolutePath,
  readOnly: z.boolean().default(false),
  kind: z.enum(["file", "directory"]),
  /** sha256 of the content, so a changed file changes the content hash. */
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  /** Inline content for small text files, so the config stands alone. */
  contents: z.string().optional(),
});

export const TmpfsMountSchema = z.object({
  type: z.literal("tmpfs"),
  target: absolutePath,
  sizeBytes: z.number().int().positive().optional(),
  mode: z.number().int().min(0).max(0o7777).optional(),
});

export const MountSchema = z.discriminatedUnion("type", [VolumeMountSchema, BindMountSchema, TmpfsMountSchema]);
export type Mount = z.infer<typeof MountSchema>;
export type BindMount = z.infer<typeof BindMountSchema>;

/** Where a secret's value comes from at deploy time. The value itself is never part of the spec. */
export const SecretSourceSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("file"), path: z.string() }),
  z.object({ kind: z.literal("environment"), variable: z.string() }),
  z.object({ kind: z.literal("external"), name: z.string() }),
]);

export const SecretSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must hold only letters, digits, '_', '.', '-'"),
  source: SecretSourceSchema,
});
export type SecretSpec = z.infer<typeof SecretSchema>;

export const SecretMountSchema = z.object({
  source: z.string(),
  /** File name under /run/secrets (or an absolute path). */
  target: z.string(),
  /** Owner of the file; absent: the container's own user (its user, or its image's USER), which linuxkit resolves at build time. */
  uid: z.number().int().nonnegative().optional(),
  /** Absent: uid when it is given, else the container's own group. */
  gid: z.number().int().nonnegative().optional(),
  mode: z.number().int().min(0).max(0o777).default(0o400),
});
export type SecretMount = z.infer<typeof SecretMountSchema>;

export const HealthcheckSchema = z.object({
  test: z.array(z.string()),
  intervalSeconds: z.number().positive().default(30),
  timeoutSeconds: z.number().positive().default(30),
  retries: z.number().int().positive().default(3),
  startPeriodSeconds: z.number().nonnegative().default(0),
});

export const UlimitSchema = z.object({ soft: z.number().int(), hard: z.number().int() });

export const ResourcesSchema = z.object({
  memoryLimitBytes: z.number().int().positive().optional(),
  cpuLimit: z.number().positive().optional(),
  memoryReservationBytes: z.number().int().positive().optional(),
  cpuReservation: z.number().positive().optional(),
  pidsLimit: z.number().int().positive().optional(),
});

export const ContainerSchema = z
  .object({
    name: containerName,
    image: z.string().min(1).optional(),
    build: BuildSchema.optional(),
    command: z.array(z.string()).optional(),
    entrypoint: z.array(z.string()).optional(),
    environment: z.record(z.string(), z.string()).default({}),
    workingDir: z.string().optional(),
    /** `uid[:gid]` or a user name known to the image. */
    user: z.string().optional(),
    ports: z.array(ContainerPortSchema).default([]),
    mounts: z.array(MountSchema).default([]),
    secrets: z.array(SecretMountSchema).default([]),
    capAdd: z.array(z.string()).default([]),
    capDrop: z.array(z.string()).default([]),
    privileged: z.boolean().default(false),
    /** Least privilege by default: no setuid gains after the container starts. */
    noNewPrivileges: z.boolean().default(true),
    readOnly: z.boolean().default(false),
    oomScoreAdj: z.number().int().min(-1000).max(1000).optional(),
    annotations: z.record(z.string(), z.string()).default({}),
    sysctls: z.record(z.string(), z.string()).default({}),
    ulimits: z.record(z.string(), UlimitSchema).default({}),
    healthcheck: HealthcheckSchema.optional(),
    resources: ResourcesSchema.optional(),
  })
  .refine((c) => c.image !== undefined || c.build !== undefined, {
    message: "a container needs an image or a build",
    path: ["image"],
  });
export type ContainerSpec = z.infer<typeof ContainerSchema>;

export const LoadBalancerHealthCheckSchema = z.object({
  /** HTTP path; absent means a TCP connect check. */
  path: z.string().regex(/^\//, "must start with '/'").optional(),
  port: portNumber.optional(),
  intervalSeconds: z.number().int().min(5).max(300).default(30),
  timeoutSeconds: z.number().int().min(2).max(120).default(5),
  healthyThreshold: z.number().int().min(2).max(10).default(3),
  unhealthyThreshold: z.number().int().min(2).max(10).default(3),
});
export type LoadBalancerHealthCheck = z.infer<typeof LoadBalancerHealthCheckSchema>;

export const DependencySchema = z.object({
  service: z.string(),
  condition: z.enum(["service_started", "service_healthy", "service_completed_successfully"]).default("service_started"),
});

/** Names the renderer gives the boot agent's entries (components/linuxkit/agent.ts). */
export const RESERVED_CONTAINER_NAMES: readonly string[] = ["i2kit-agent", "i2kit-logs"];

export const DEFAULT_INSTANCE_TYPE = "t3.micro";

export const ServiceSchema = z
  .object({
    name: serviceName,
    containers: z.array(ContainerSchema).min(1),
    replicas: z.number().int().min(0).default(1),
    instanceType: z.string().regex(/^[a-z0-9-]+\.[a-z0-9]+$/, "must be an EC2 instance type such as t3.micro").default(DEFAULT_INSTANCE_TYPE),
    public: z.boolean().default(false),
    stateful: z.boolean().default(false),
    listeners: z.array(ListenerSchema).default([]),
    healthCheck: LoadBalancerHealthCheckSchema.optional(),
    secrets: z.array(SecretSchema).default([]),
    dependsOn: z.array(DependencySchema).default([]),
  })
  .superRefine((service, ctx) => {
    if (service.stateful && service.replicas > 1) {
      ctx.addIssue({ code: "custom", path: ["replicas"], message: "a stateful service runs exactly one replica" });
    }
    const names = new Set<string>();
    service.containers.forEach((c, i) => {
      if (names.has(c.name)) ctx.addIssue({ code: "custom", path: ["containers", i, "name"], message: `duplicate container name "${c.name}"` });
      // The boot agent's onboot step and log shipper run beside the containers under these names.
      if (RESERVED_CONTAINER_NAMES.includes(c.name)) ctx.addIssue({ code: "custom", path: ["containers", i, "name"], message: `"${c.name}" is the name of i2kit's boot agent; rename the container` });
      names.add(c.name);
    });
    for (const [i, l] of service.listeners.entries()) {
      const needsCert = l.protocol === "HTTPS" || l.protocol === "TLS";
      if (needsCert && !l.certificateArn) {
        ctx.addIssue({ code: "custom", path: ["listeners", i], message: `a ${l.protocol} listener needs a certificate ARN` });
      }
    }
  });
export type ServiceSpec = z.infer<typeof ServiceSchema>;
export type ServiceSpecInput = z.input<typeof ServiceSchema>;

export const AppSchema = z
  .object({
    name: serviceName,
    /** Directory that relative bind sources and build contexts are relative to. */
    projectDir: z.string().default("."),
    services: z.array(ServiceSchema),
  })
  .superRefine((app, ctx) => {
    const names = new Set<string>();
    app.services.forEach((s, i) => {
      if (names.has(s.name)) ctx.addIssue({ code: "custom", path: ["services", i, "name"], message: `duplicate service name "${s.name}"` });
      names.add(s.name);
    });
  });
export type AppSpec = z.infer<typeof AppSchema>;
export type AppSpecInput = z.input<typeof AppSchema>;
