import * as fs from "node:fs";
import * as path from "node:path";
import Ajv from "ajv-draft-04";

/** LinuxKit's own config schema (../shared/schemas), compiled once. */
const schemaPath = path.resolve(__dirname, "../../shared/schemas/linuxkit.schema.json");
const ajv = new Ajv({ allErrors: true });
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, "utf8")));

/** The LinuxKit schema's errors for a config, empty when it validates. */
export function linuxkitSchemaErrors(config: unknown): string[] {
  if (validate(config)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""}`);
}
