// Conformance over real Compose files (docker/awesome-compose) and the
// original i2kit samples: each converts and renders a config that LinuxKit's
// own schema accepts, or fails only with errors that name an unsupported
// feature. The tally is printed.
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderApp } from "../components/linuxkit/render";
import { ConversionError, type Diagnostic } from "../schema/diagnostics";
import type { LoadResult } from "../schema/load";
import { asProject, composeFiles, loadCorpusFile, manifestFiles } from "./corpus";
import { linuxkitSchemaErrors } from "./linuxkit-schema";

/** An error that names a feature a VM cannot honour (as opposed to a mistake in the file). */
const UNSUPPORTED = /cannot be honoured|cannot run on an i2kit VM|not supported/;

const tally = { converted: [] as string[], unsupported: new Map<string, string[]>() };

afterAll(() => {
  const lines = [
    `conformance: ${tally.converted.length} converted, ${tally.unsupported.size} unsupported, of ${composeFiles.length + manifestFiles.length} files`,
    ...[...tally.unsupported].map(([file, features]) => `  unsupported ${file}: ${features.join("; ")}`),
  ];
  console.log(lines.join("\n"));
});

describe.each([...composeFiles, ...manifestFiles])("%s", (file) => {
  it("converts to configs LinuxKit's schema accepts, or names what it cannot honour", () => {
    let result: LoadResult;
    try {
      result = loadCorpusFile(asProject(file));
    } catch (e) {
      if (!(e instanceof ConversionError)) throw e;
      const errors: Diagnostic[] = e.errors;
      for (const error of errors) {
        expect(error.message, `${error.path}: ${error.message}`).toMatch(UNSUPPORTED);
        expect(error.line).toBeGreaterThan(0);
        expect(error.path).not.toBe("");
      }
      tally.unsupported.set(path.basename(file), errors.map((d) => `${d.path} (${d.message.split(":")[0]})`));
      return;
    }
    expect(result.app.services.length).toBeGreaterThan(0);
    for (const rendered of renderApp(result.app)) {
      expect(linuxkitSchemaErrors(parse(rendered.yaml)), rendered.service).toEqual([]);
      expect(rendered.config.services?.every((s) => s.net === "host" && !s.capabilities?.includes("all"))).toBe(true);
    }
    tally.converted.push(path.basename(file));
  });
});
