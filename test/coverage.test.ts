import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { SERVICE_KEYS, TOP_LEVEL_KEYS } from "../schema/compose/keys";
import { generatedSchemas } from "../schema/json-schema";

const composeSpec = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../shared/schemas/compose-spec.json"), "utf8")) as {
  properties: Record<string, unknown>;
  definitions: { service: { properties: Record<string, unknown> } };
};

describe("nothing in the Compose Specification is dropped in silence", () => {
  it("classifies every service key of the specification", () => {
    const unclassified = Object.keys(composeSpec.definitions.service.properties).filter((k) => !(k in SERVICE_KEYS));
    expect(unclassified).toEqual([]);
  });

  it("classifies every top-level key of the specification", () => {
    expect(Object.keys(composeSpec.properties).filter((k) => !(k in TOP_LEVEL_KEYS))).toEqual([]);
  });
});

describe("generated JSON Schema files", () => {
  it.each(generatedSchemas())("schema/$file is current (run npm run generate)", ({ file, contents }) => {
    const committed = fs.readFileSync(path.resolve(__dirname, "../schema", file), "utf8");
    expect(committed).toBe(contents);
  });
});
