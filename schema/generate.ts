// Writes the generated schema files into schema/: JSON Schemas for editors,
// and the Pulumi package schema of the multi-language components.
import * as fs from "node:fs";
import * as path from "node:path";
import { generatedSchemas, pulumiPackageSchema } from "./json-schema";

async function main(): Promise<void> {
  for (const { file, contents } of [...generatedSchemas(), await pulumiPackageSchema()]) {
    const target = path.join(__dirname, file);
    fs.writeFileSync(target, contents);
    process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
