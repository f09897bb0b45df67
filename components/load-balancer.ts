// LoadBalancer: an ALB for HTTP(S) listeners or an NLB for TCP/UDP/TLS,
// internet-facing only for public services, with a security group that opens
// the listener ports and nothing else.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Listener, LoadBalancerHealthCheck } from "../schema/spec";
import { MODERN_TLS_POLICY, planLoadBalancer } from "./load-balancer-plan";
import { i2kitTags, resourceName } from "./tags";

export interface LoadBalancerArgs {
  app: string;
  service: string;
  listeners: Listener[];
  healthCheck?: LoadBalancerHealthCheck;
  public: boolean;
  vpcId: pulumi.Input<string>;
  /** The VPC's CIDR block; looked up from the VPC when absent. */
  vpcCidrBlock?: pulumi.Input<string>;
  /** Public subnets for an internet-facing load balancer, private ones otherwise. */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Who may connect: 0.0.0.0/0 for a public service, the VPC's CIDR otherwise. */
  ingressCidrs?: pulumi.Input<pulumi.Input<string>[]>;
  /** Add an HTTP:80 listener that redirects to HTTPS:443 (ALB with an HTTPS:443 listener only). */
  redirectHttpToHttps?: boolean;
  sslPolicy?: string;
}

export class LoadBalancer extends pulumi.ComponentResource {
  readonly dnsName: pulumi.Output<string>;
  readonly zoneId: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;
  /** Target group ARNs by instance port key (e.g. `http-8080`). */
  readonly targetGroupArns: pulumi.Output<Record<string, string>>;
  readonly type: "application" | "network";

  constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    // Arguments are checked before the component registers: a bad one leaves nothing behind.
    const plan = planLoadBalancer(args.listeners, args.healthCheck, args.service);
    if (args.redirectHttpToHttps && !plan.listeners.some((l) => l.protocol === "HTTPS" && l.port === 443)) {
      throw new Error(`LoadBalancer ${name}: redirectHttpToHttps needs an HTTPS listener on port 443`);
    }
    if (args.redirectHttpToHttps && plan.listeners.some((l) => l.port === 80)) {
      throw new Error(`LoadBalancer ${name}: redirectHttpToHttps adds a listener on port 80, which the service already uses`);
    }
    super("i2kit:index:LoadBalancer", name, {}, opts);
    this.type = plan.type;
    const tags = i2kitTags(args.app, args.service);
    const vpcCidr = args.vpcCidrBlock ?? aws.ec2.getVpcOutput({ id: args.vpcId }, { parent: this }).cidrBlock;
    const cidrs = args.ingressCidrs ?? (args.public ? ["0.0.0.0/0"] : [vpcCidr]);

    const ingress = [...plan.ingress];
    if (args.redirectHttpToHttps) ingress.push({ port: 80, protocol: "tcp" });
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId: args.vpcId,
        description: `i2kit ${args.app}/${args.service} load balancer: listener ports only`,
        ingress: ingress.map((i) => ({ protocol: i.protocol, fromPort: i.port, toPort: i.port, cidrBlocks: cidrs, description: `listener ${i.port}/${i.protocol}` })),
        egress: plan.targetGroups.map((t) => ({
          protocol: t.protocol === "UDP" ? "udp" : t.protocol === "TCP_UDP" ? "-1" : "tcp",
          fromPort: t.protocol === "TCP_UDP" ? 0 : t.port,
          toPort: t.protocol === "TCP_UDP" ? 0 : t.port,
          cidrBlocks: [vpcCidr],
          description: `to instances on ${t.port}`,
        })),
        tags,
      },
      { parent: this },
    );
    const lb = new aws.lb.LoadBalancer(
      `${name}-lb`,
      {
        name: resourceName([args.app, args.service], 32),
        loadBalancerType: plan.type,
        internal: !args.public,
        subnets: args.subnetIds,
        securityGroups: [securityGroup.id],
        dropInvalidHeaderFields: plan.type === "application" ? true : undefined,
        enableCrossZoneLoadBalancing: true,
        tags,
      },
      { parent: this },
    );
    const groups: Record<string, aws.lb.TargetGroup> = {};
    for (const t of plan.targetGroups) {
      groups[t.key] = new aws.lb.TargetGroup(
        `${name}-${t.key}`,
        {
          port: t.port,
          protocol: t.protocol,
          vpcId: args.vpcId,
          targetType: "instance",
          deregistrationDelay: 30,
          healthCheck: {
            enabled: true,
            protocol: t.healthCheck.protocol,
            port: t.healthCheck.port,
            ...(t.healthCheck.path ? { path: t.healthCheck.path } : {}),
            interval: t.healthCheck.interval,
            timeout: t.healthCheck.timeout,
            healthyThreshold: t.healthCheck.healthyThreshold,
            unhealthyThreshold: t.healthCheck.unhealthyThreshold,
          },
          tags,
        },
        { parent: this },
      );
    }
    for (const l of plan.listeners) {
      const group = groups[l.targetGroup] as aws.lb.TargetGroup;
      const tls = l.protocol === "HTTPS" || l.protocol === "TLS";
      new aws.lb.Listener(
        `${name}-${l.protocol.toLowerCase()}-${l.port}`,
        {
          loadBalancerArn: lb.arn,
          port: l.port,
          protocol: l.protocol,
          ...(tls ? { certificateArn: l.certificateArn, sslPolicy: args.sslPolicy ?? MODERN_TLS_POLICY } : {}),
          defaultActions: [{ type: "forward", targetGroupArn: group.arn }],
          tags,
        },
        { parent: this },
      );
    }
    if (args.redirectHttpToHttps) {
      new aws.lb.Listener(
        `${name}-http-redirect`,
        {
          loadBalancerArn: lb.arn,
          port: 80,
          protocol: "HTTP",
          defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
          tags,
        },
        { parent: this },
      );
    }
    this.dnsName = lb.dnsName;
    this.zoneId = lb.zoneId;
    this.arn = lb.arn;
    this.securityGroupId = securityGroup.id;
    this.targetGroupArns = pulumi.all(Object.fromEntries(Object.entries(groups).map(([k, g]) => [k, g.arn])));
    this.registerOutputs({ dnsName: this.dnsName, securityGroupId: this.securityGroupId, targetGroupArns: this.targetGroupArns });
  }
}
