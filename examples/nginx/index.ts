// The original i2kit nginx sample, deployed as one Service in its own network.
// Run with `pulumi up` from the repository root (Pulumi.yaml points here).
import * as path from "node:path";
import { Network, Service } from "../../index";

const network = new Network("nginx", { app: "nginx", interfaceEndpoints: [] });

const nginx = new Service("nginx", {
  file: path.join(__dirname, "service.yml"),
  network,
});

export const url = nginx.url;
export const imageId = nginx.imageId;
export const contentHash = nginx.contentHash;
