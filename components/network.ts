// Network: the app's own VPC when none is given. Two zones, public subnets
// for internet-facing load balancers, private subnets for instances and
// internal load balancers, and no NAT gateway: the VMs pull nothing at boot,
// their images are baked in. VPC endpoints reach the AWS APIs they use.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { i2kitTags } from "./tags";

export interface NetworkArgs {
  app: string;
  cidrBlock?: string;
  /** Domain the VMs search, so services resolve each other by bare name. */
  searchDomain?: pulumi.Input<string>;
  /** Interface endpoints to create (default: secretsmanager, ec2, logs). */
  interfaceEndpoints?: string[];
}

export interface NetworkRefs {
  vpcId: pulumi.Input<string>;
  publicSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The VPC's CIDR block; looked up from the VPC when absent. */
  cidrBlock?: pulumi.Input<string>;
}

/** The /20 subnets of a /16: public ones from the bottom, private ones from the middle. */
export function subnetCidrs(cidrBlock: string, zones: number): { public: string[]; private: string[] } {
  const match = /^(\d+)\.(\d+)\.0\.0\/16$/.exec(cidrBlock);
  if (!match) throw new Error(`Network: cidrBlock must be a /16 such as 10.0.0.0/16, not ${cidrBlock}`);
  const prefix = `${match[1]}.${match[2]}`;
  const block = (i: number) => `${prefix}.${i * 16}.0/20`;
  return {
    public: Array.from({ length: zones }, (_, i) => block(i)),
    private: Array.from({ length: zones }, (_, i) => block(8 + i)),
  };
}

export class Network extends pulumi.ComponentResource implements NetworkRefs {
  readonly vpcId: pulumi.Output<string>;
  readonly publicSubnetIds: pulumi.Output<string[]>;
  readonly privateSubnetIds: pulumi.Output<string[]>;
  readonly cidrBlock: string;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("i2kit:index:Network", name, {}, opts);
    this.cidrBlock = args.cidrBlock ?? "10.0.0.0/16";
    const cidrs = subnetCidrs(this.cidrBlock, 2);
    const tags = i2kitTags(args.app);
    const vpc = new aws.ec2.Vpc(`${name}-vpc`, { cidrBlock: this.cidrBlock, enableDnsHostnames: true, enableDnsSupport: true, tags }, { parent: this });
    const zones = aws.getAvailabilityZonesOutput({ state: "available" }, { parent: this }).names;
    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags }, { parent: this });
    const publicRoutes = new aws.ec2.RouteTable(`${name}-public`, { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }], tags }, { parent: this });
    const privateRoutes = new aws.ec2.RouteTable(`${name}-private`, { vpcId: vpc.id, tags }, { parent: this });
    const subnet = (kind: "public" | "private", i: number, routes: aws.ec2.RouteTable) => {
      const s = new aws.ec2.Subnet(
        `${name}-${kind}-${i}`,
        {
          vpcId: vpc.id,
          cidrBlock: cidrs[kind][i] as string,
          availabilityZone: zones.apply((z) => z[i] as string),
          mapPublicIpOnLaunch: false,
          tags: { ...tags, "i2kit:subnet": kind },
        },
        { parent: this },
      );
      new aws.ec2.RouteTableAssociation(`${name}-${kind}-${i}`, { subnetId: s.id, routeTableId: routes.id }, { parent: this });
      return s;
    };
    const publicSubnets = [0, 1].map((i) => subnet("public", i, publicRoutes));
    const privateSubnets = [0, 1].map((i) => subnet("private", i, privateRoutes));

    if (args.searchDomain) {
      const options = new aws.ec2.VpcDhcpOptions(
        `${name}-dhcp`,
        { domainName: args.searchDomain, domainNameServers: ["AmazonProvidedDNS"], tags },
        { parent: this },
      );
      new aws.ec2.VpcDhcpOptionsAssociation(`${name}-dhcp`, { vpcId: vpc.id, dhcpOptionsId: options.id }, { parent: this });
    }

    const region = aws.getRegionOutput({}, { parent: this }).region;
    new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      { vpcId: vpc.id, serviceName: pulumi.interpolate`com.amazonaws.${region}.s3`, vpcEndpointType: "Gateway", routeTableIds: [privateRoutes.id], tags },
      { parent: this },
    );
    const endpoints = args.interfaceEndpoints ?? ["secretsmanager", "ec2", "logs"];
    if (endpoints.length > 0) {
      const endpointGroup = new aws.ec2.SecurityGroup(
        `${name}-endpoints`,
        {
          vpcId: vpc.id,
          description: "i2kit VPC endpoints: HTTPS from the VPC",
          ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: [this.cidrBlock] }],
          tags,
        },
        { parent: this },
      );
      for (const service of endpoints) {
        new aws.ec2.VpcEndpoint(
          `${name}-${service}`,
          {
            vpcId: vpc.id,
            serviceName: pulumi.interpolate`com.amazonaws.${region}.${service}`,
            vpcEndpointType: "Interface",
            privateDnsEnabled: true,
            subnetIds: privateSubnets.map((s) => s.id),
            securityGroupIds: [endpointGroup.id],
            tags,
          },
          { parent: this },
        );
      }
    }
    this.vpcId = vpc.id;
    this.publicSubnetIds = pulumi.all(publicSubnets.map((s) => s.id));
    this.privateSubnetIds = pulumi.all(privateSubnets.map((s) => s.id));
    this.registerOutputs({ vpcId: this.vpcId, publicSubnetIds: this.publicSubnetIds, privateSubnetIds: this.privateSubnetIds });
  }
}
