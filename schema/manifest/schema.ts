// The i2kit service.yml, exactly as the original tool read it, and the
// `x-i2kit` extension of Compose files. The JSON Schema files in schema/
// are generated from these (npm run generate).
import { z } from "zod";
import { containerName, serviceName } from "../spec";

export const ManifestContainerSchema = z
  .object({
    image: z.string().min(1).describe("Container image reference, e.g. nginx:alpine"),
    command: z.union([z.string(), z.array(z.string())]).optional().describe("Command run in the container, as a string or a list"),
    environment: z.array(z.string().regex(/^[^=\s]+=/, "must be KEY=VALUE")).optional().describe("Variables as KEY=VALUE"),
    ports: z
      .array(z.string())
      .optional()
      .describe("Load balancer listeners: LBPROTO:LBPORT:INSTPROTO:INSTPORT[:CERT_ARN], e.g. http:80:http:8080"),
  })
  .strict();

export const ManifestSchema = z
  .object({
    name: serviceName.describe("Service name; also its host name in the app"),
    replicas: z.number().int().min(0).default(1).describe("Number of VMs (a stateful service has one)"),
    stateful: z.boolean().default(false).describe("Keep the service's data on its own volume across instance replacement"),
    public: z.boolean().default(false).describe("Internet-facing load balancer when true, internal otherwise"),
    instance_type: z.string().optional().describe("EC2 instance type, e.g. t3.micro"),
    containers: z.record(containerName, ManifestContainerSchema).describe("The containers of the service, by name; they share the VM"),
  })
  .strict()
  .describe("An i2kit service manifest (service.yml)");
export type Manifest = z.infer<typeof ManifestSchema>;

const HealthCheckSettings = z
  .object({
    path: z.string().regex(/^\//).optional().describe("HTTP path the load balancer checks; a TCP check when absent"),
    port: z.number().int().min(1).max(65535).optional().describe("Instance port to check; the first listener's when absent"),
    interval: z.number().int().min(5).max(300).optional().describe("Seconds between checks"),
    timeout: z.number().int().min(2).max(120).optional().describe("Seconds before a check fails"),
    healthy_threshold: z.number().int().min(2).max(10).optional(),
    unhealthy_threshold: z.number().int().min(2).max(10).optional(),
  })
  .strict();

/** Settings that may stand at the top level of a Compose file (defaults for every service) or on one service. */
const SharedSettings = {
  instance_type: z.string().optional().describe("EC2 instance type, e.g. t3.micro"),
  public: z.boolean().optional().describe("Internet-facing load balancer when true"),
  protocol: z.enum(["http", "tcp"]).optional().describe("Load balancer protocol for published ports: http (ALB) or tcp (NLB, the default)"),
  certificate: z.string().startsWith("arn:").optional().describe("ACM certificate ARN: listeners terminate TLS (HTTPS or TLS)"),
};

export const XI2kitServiceSchema = z
  .object({
    ...SharedSettings,
    replicas: z.number().int().min(0).optional().describe("Number of VMs; overrides deploy.replicas"),
    stateful: z.boolean().optional().describe("Keep named volumes on the service's own EBS volume; one replica"),
    health_check: HealthCheckSettings.optional(),
    ports: z.array(z.string()).optional().describe("Listeners in i2kit syntax, replacing those derived from ports"),
  })
  .strict()
  .describe("i2kit settings of one Compose service");
export type XI2kitService = z.infer<typeof XI2kitServiceSchema>;

export const XI2kitTopSchema = z
  .object({
    ...SharedSettings,
    name: z.string().optional().describe("App name; the Compose project name when absent"),
  })
  .strict()
  .describe("i2kit settings for every service of a Compose file");
export type XI2kitTop = z.infer<typeof XI2kitTopSchema>;
