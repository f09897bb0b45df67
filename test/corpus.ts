// The reference corpus (../shared/corpus) as projects: real Compose files of
// docker/awesome-compose and the original i2kit samples.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConversionError } from "../schema/diagnostics";
import { loadFile, type LoadResult } from "../schema/load";

const corpus = path.resolve(__dirname, "../../shared/corpus");

export const composeFiles = listYaml(path.join(corpus, "awesome-compose"));
export const manifestFiles = listYaml(path.join(corpus, "i2kit-samples"));

function listYaml(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** What the samples' .env files would set; their READMEs ask users to set these. */
export const SAMPLE_ENV: Readonly<Record<string, string>> = {
  TIMEZONE: "UTC",
  PLEX_MEDIA_PATH: "/srv/media",
  VPN_SERVER_URL: "vpn.example.com",
  PIHOLE_PW: "x",
  PIHOLE_ROUTER_IP: "10.0.0.1",
  PIHOLE_NETWORK_DOMAIN: "lan",
  PIHOLE_REVERSE_DNS: "10.0.0.0/24",
  PIHOLE_HOST_IP: "10.0.0.2",
  PIHOLE_HOST_IPV6: "::1",
  PGADMIN_MAIL: "admin@example.com",
  PGADMIN_PW: "x",
  POSTGRES_DB: "db",
  POSTGRES_PW: "x",
  POSTGRES_USER: "user",
};

const MISSING_BIND = /bind source (\S+) does not exist/;

/**
 * The corpus holds only the Compose files; the samples' repositories also
 * hold the files they bind-mount. This copies the file into a fresh project
 * directory and creates the files the loader asks for, as the repository has
 * them. Returns the path of the copy.
 */
export function asProject(file: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-corpus-"));
  const copy = path.join(dir, path.basename(file));
  fs.copyFileSync(file, copy);
  for (let attempt = 0; attempt < 20; attempt++) {
    const missing = missingBindSources(copy);
    if (missing.length === 0) return copy;
    for (const source of missing) {
      const target = path.join(dir, source);
      if (path.extname(source)) {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, `# ${source}\n`);
      } else {
        fs.mkdirSync(target, { recursive: true });
        fs.writeFileSync(path.join(target, "README"), `${source}\n`);
      }
    }
  }
  throw new Error(`${file}: bind sources kept missing`);
}

function missingBindSources(file: string): string[] {
  try {
    loadCorpusFile(file);
    return [];
  } catch (e) {
    if (!(e instanceof ConversionError)) throw e;
    return e.errors.map((d) => MISSING_BIND.exec(d.message)?.[1]).filter((m): m is string => m !== undefined);
  }
}

export function loadCorpusFile(file: string): LoadResult {
  return loadFile(file, { env: SAMPLE_ENV });
}
