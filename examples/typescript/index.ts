// A Pulumi program (see ../../Pulumi.yaml): loads the example Compose file and
// exports each service's LinuxKit config hash as a stack output. The AWS
// components build on exactly this: same spec, same hash, no new AMI.
import * as path from "node:path";
import { renderApp } from "../../components/linuxkit/render";
import { loadFile } from "../../schema/load";

const { app } = loadFile(path.join(__dirname, "../compose/compose.yaml"));

export const services = renderApp(app).map((r) => ({ name: r.service, contentHash: r.contentHash }));
