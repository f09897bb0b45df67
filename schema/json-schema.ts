// JSON Schema files for editors, generated from the zod schemas so the two
// can never disagree. `npm run generate` writes them; a test fails when the
// committed files are stale.
import { z } from "zod";
import { ManifestSchema, XI2kitServiceSchema, XI2kitTopSchema } from "./manifest/schema";

export interface GeneratedSchema {
  file: string;
  contents: string;
}

function render(id: string, schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12" });
  return `${JSON.stringify({ $id: id, ...json }, null, 2)}\n`;
}

/** The Pulumi package schema of the multi-language components, as `ComponentProvider.getSchema()` makes it. */
export async function pulumiPackageSchema(): Promise<GeneratedSchema> {
  // Loaded here: it runs the TypeScript analyzer over provider/, which takes seconds.
  const { ComponentProvider } = await import("@pulumi/pulumi/provider/experimental/index.js");
  const { PROVIDER_OPTIONS } = await import("../provider/index.js");
  const schema = JSON.parse(await new ComponentProvider(PROVIDER_OPTIONS).getSchema()) as unknown;
  return { file: "schema.json", contents: `${JSON.stringify(schema, null, 2)}\n` };
}

export function generatedSchemas(): GeneratedSchema[] {
  return [
    { file: "i2kit-manifest.schema.json", contents: render("i2kit-manifest.schema.json", ManifestSchema) },
    { file: "x-i2kit-service.schema.json", contents: render("x-i2kit-service.schema.json", XI2kitServiceSchema) },
    { file: "x-i2kit.schema.json", contents: render("x-i2kit.schema.json", XI2kitTopSchema) },
  ];
}
