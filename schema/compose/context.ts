// What every per-key transform of a Compose service gets: where it stands in
// the document, where to report, and how to reach the project's files.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DocPath, Reporter } from "../diagnostics";
import type { Environment } from "../interpolate";

/** The few file-system questions the Compose loader asks; tests may answer them from memory. */
export interface ProjectFiles {
  /** `file`, `directory` or undefined when the path does not exist. */
  kind(absolutePath: string): "file" | "directory" | undefined;
  readText(absolutePath: string): string;
  /** `sha256:<hex>` of a file, or of a directory's sorted tree of names and contents. */
  digest(absolutePath: string): string;
  readBytes(absolutePath: string): Uint8Array;
}

export interface ServiceContext {
  report: Reporter;
  /** Path of the service in the document, e.g. `["services", "web"]`. */
  path: DocPath;
  serviceName: string;
  projectDir: string;
  env: Environment;
  files: ProjectFiles;
}

export const nodeProjectFiles: ProjectFiles = {
  kind(p) {
    try {
      const stat = fs.statSync(p);
      return stat.isDirectory() ? "directory" : "file";
    } catch {
      return undefined;
    }
  },
  readText: (p) => fs.readFileSync(p, "utf8"),
  readBytes: (p) => fs.readFileSync(p),
  digest: (p) => `sha256:${digestTree(p)}`,
};

function digestTree(p: string): string {
  const hash = createHash("sha256");
  const visit = (current: string, rel: string): void => {
    const stat = fs.lstatSync(current);
    if (stat.isDirectory()) {
      hash.update(`d ${rel}\n`);
      for (const entry of fs.readdirSync(current).sort()) visit(path.join(current, entry), `${rel}/${entry}`);
    } else if (stat.isSymbolicLink()) {
      hash.update(`l ${rel} ${fs.readlinkSync(current)}\n`);
    } else {
      hash.update(`f ${rel} ${stat.mode & 0o777}\n`);
      hash.update(fs.readFileSync(current));
    }
  };
  visit(p, ".");
  return hash.digest("hex");
}

export { describe, isStringList } from "../values";
