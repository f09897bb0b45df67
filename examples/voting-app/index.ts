// The voting app through App: one Service per Compose service, in its own
// VPC, with a private zone in which services find each other by name.
// DB_PASSWORD must be set: it becomes a Secrets Manager secret, never baked.
import * as path from "node:path";
import { App } from "../../index";

const voting = new App("voting", { file: path.join(__dirname, "compose.yaml") });

export const urls = voting.urls;
export const vpcId = voting.vpcId;
