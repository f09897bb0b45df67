// Writes the generated JSON Schema files into schema/.
import * as fs from "node:fs";
import * as path from "node:path";
import { generatedSchemas } from "./json-schema";

for (const { file, contents } of generatedSchemas()) {
  const target = path.join(__dirname, file);
  fs.writeFileSync(target, contents);
  process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}
