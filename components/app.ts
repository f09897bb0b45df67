// App: a whole Compose file. One Service per Compose service, deployed after
// the services it depends on; a private DNS zone in which each service is
// found by its Compose name; the app's own VPC unless one is given.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { defineApp, loadFile, loadText, type LoadOptions } from "../schema/load";
import type { AppSpec, AppSpecInput } from "../schema/spec";
import { Network, type NetworkRefs } from "./network";
import { architectureOf, type Architecture } from "./architecture";
import type { ContainerImage } from "./container-image";
import { agentImage, Service, type ServiceOptions } from "./service";
import { i2kitTags } from "./tags";

export interface AppArgs extends ServiceOptions {
  file?: string;
  yaml?: string;
  spec?: AppSpecInput;
  /** Compose profiles, project name and variables for interpolation. */
  load?: LoadOptions;
  /** An existing VPC; the app creates its own (two zones, no NAT) when absent. */
  network?: NetworkRefs;
  /** Private zone the services are named in (default `<app>.internal`). */
  privateZoneName?: string;
  /** A public hosted zone for `<service>.<zone>` records of public services, as the original i2kit made. */
  publicZone?: { zoneId: pulumi.Input<string>; name: string };
  /** Options for one service only, by name. */
  serviceOptions?: Record<string, ServiceOptions>;
}

/** Services in an order where each comes after what it depends on; a cycle is an error. */
export function deploymentOrder(app: AppSpec): string[] {
  const byName = new Map(app.services.map((s) => [s.name, s]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const order: string[] = [];
  const visit = (name: string, trail: string[]) => {
    if (done.has(name)) return;
    if (visiting.has(name)) throw new Error(`App: depends_on forms a cycle: ${[...trail, name].join(" → ")}`);
    visiting.add(name);
    for (const d of byName.get(name)?.dependsOn ?? []) visit(d.service, [...trail, name]);
    visiting.delete(name);
    done.add(name);
    order.push(name);
  };
  for (const s of app.services) visit(s.name, []);
  return order;
}

/** Loads and checks an app before anything registers: a bad file leaves nothing behind. */
export function prepareApp(name: string, args: AppArgs): { app: AppSpec; order: string[] } {
  const given = [args.file, args.yaml, args.spec].filter((s) => s !== undefined).length;
  if (given !== 1) throw new Error(`App ${name}: give exactly one of file, yaml or spec`);
  const app = args.file
    ? loadFile(args.file, args.load).app
    : args.yaml !== undefined
      ? loadText(args.yaml, "compose.yaml", { fallbackName: name, ...args.load }).app
      : defineApp(args.spec as AppSpecInput);
  const order = deploymentOrder(app);
  for (const unknown of Object.keys(args.serviceOptions ?? {}).filter((s) => !order.includes(s))) {
    throw new Error(`App ${name}: serviceOptions names "${unknown}", which is not a service of the app (${order.join(", ")})`);
  }
  return { app, order };
}

export interface AppResources {
  services: Record<string, Service>;
  urls: pulumi.Output<Record<string, string>>;
  privateZoneId: pulumi.Output<string>;
  vpcId: pulumi.Output<string>;
}

/** Creates an app's resources under `parent`; shared with the multi-language provider's App. */
export function wireApp(parent: pulumi.ComponentResource, name: string, prepared: { app: AppSpec; order: string[] }, args: AppArgs): AppResources {
  const { app, order } = prepared;
  const zoneName = args.privateZoneName ?? `${app.name}.internal`;
  const tags = i2kitTags(app.name);
  const network: NetworkRefs = args.network ?? new Network(`${name}-network`, { app: app.name, searchDomain: zoneName }, { parent });
  const zone = new aws.route53.Zone(`${name}-zone`, { name: zoneName, vpcs: [{ vpcId: network.vpcId }], forceDestroy: true, tags }, { parent });

  const { serviceOptions, network: _n, file: _f, yaml: _y, spec: _s, load: _l, privateZoneName: _z, publicZone, ...shared } = args;
  const services: Record<string, Service> = {};
  // One boot agent image per architecture, for every service of the app.
  const agents = new Map<Architecture, ContainerImage>();
  const agentFor = (architecture: Architecture) => {
    const found = agents.get(architecture) ?? agentImage(`${name}-agent-${architecture}`, app.name, architecture, undefined, parent);
    agents.set(architecture, found);
    return found;
  };
  for (const serviceName of order) {
    const spec = app.services.find((s) => s.name === serviceName);
    if (!spec) continue;
    const dependsOn = spec.dependsOn.map((d) => services[d.service]).filter((s): s is Service => s !== undefined);
    const service = new Service(
      `${name}-${serviceName}`,
      { ...shared, ...serviceOptions?.[serviceName], app: app.name, spec, projectDir: app.projectDir, network, agent: agentFor(architectureOf(spec.instanceType)) },
      // A dependency's group waits for healthy capacity, so depends_on: service_healthy holds at deploy time.
      { parent, dependsOn },
    );
    services[serviceName] = service;
    const lb = service.loadBalancer;
    if (!lb) continue;
    new aws.route53.Record(
      `${name}-${serviceName}-dns`,
      { zoneId: zone.zoneId, name: `${serviceName}.${zoneName}`, type: "A", aliases: [{ name: lb.dnsName, zoneId: lb.zoneId, evaluateTargetHealth: true }] },
      { parent },
    );
    if (publicZone && spec.public) {
      new aws.route53.Record(
        `${name}-${serviceName}-public-dns`,
        { zoneId: publicZone.zoneId, name: `${serviceName}.${publicZone.name}`, type: "A", aliases: [{ name: lb.dnsName, zoneId: lb.zoneId, evaluateTargetHealth: true }] },
        { parent },
      );
    }
  }
  const urls: Record<string, pulumi.Output<string | undefined>> = {};
  for (const [n, s] of Object.entries(services)) urls[n] = s.url;
  return {
    services,
    urls: pulumi.all(urls).apply((all) => Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined))),
    privateZoneId: zone.zoneId,
    vpcId: pulumi.output(network.vpcId),
  };
}

export class App extends pulumi.ComponentResource {
  readonly services: Record<string, Service>;
  /** URL of each service with a load balancer. */
  readonly urls: pulumi.Output<Record<string, string>>;
  readonly privateZoneId: pulumi.Output<string>;
  readonly vpcId: pulumi.Output<string>;

  constructor(name: string, args: AppArgs, opts?: pulumi.ComponentResourceOptions) {
    const prepared = prepareApp(name, args);
    super("i2kit:index:App", name, {}, opts);
    const r = wireApp(this, name, prepared, args);
    this.services = r.services;
    this.urls = r.urls;
    this.privateZoneId = r.privateZoneId;
    this.vpcId = r.vpcId;
    this.registerOutputs({ urls: this.urls, privateZoneId: this.privateZoneId, vpcId: this.vpcId });
  }
}
