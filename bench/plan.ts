// How long `i2kit plan` takes for 1, 10 and 100 services, and how it grows:
// in-process (planFile) and as a whole command (node startup included).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { planFile } from "../cli/plan/plan";

/** A Compose file of `n` services: web front ends, internal APIs, and a stateful database every tenth. */
export function syntheticCompose(n: number): string {
  const lines = ["services:"];
  for (let i = 0; i < n; i++) {
    if (i % 10 === 9) {
      lines.push(`  db${i}:`, "    image: postgres:16-alpine", '    expose: ["5432"]', `    volumes: ["data${i}:/var/lib/postgresql/data"]`, "    x-i2kit: {stateful: true}");
    } else if (i % 2 === 0) {
      lines.push(`  web${i}:`, "    image: nginx:1.27-alpine", `    ports: ["${8000 + i}:8080"]`, "    deploy: {replicas: 2}", "    x-i2kit: {public: true, protocol: http, health_check: {path: /healthz}}");
    } else {
      lines.push(`  api${i}:`, "    image: ghcr.io/acme/api:1.4", '    expose: ["9000"]');
    }
  }
  const volumes = Array.from({ length: n }, (_, i) => i).filter((i) => i % 10 === 9);
  if (volumes.length > 0) lines.push("volumes:", ...volumes.map((i) => `  data${i}: {}`));
  return `${lines.join("\n")}\n`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export async function benchPlan(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i2kit-bench-plan-"));
  console.log("\ni2kit plan, synthetic apps (web/api/stateful db mix)");
  console.log("  services  resources  in-process (median of 3)  per service  whole command");
  const cli = path.resolve(__dirname, "../dist/cli/main.js");
  for (const n of [1, 10, 100]) {
    const file = path.join(dir, `app${n}`, "compose.yaml");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, syntheticCompose(n));
    const times: number[] = [];
    let resources = 0;
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      resources = (await planFile(file)).resources.length;
      times.push(performance.now() - start);
    }
    let whole = "(run npm run build)";
    if (fs.existsSync(cli)) {
      const start = performance.now();
      const r = spawnSync(process.execPath, [cli, "plan", file, "--json"], { stdio: ["ignore", "ignore", "pipe"] });
      whole = r.status === 0 ? `${((performance.now() - start) / 1000).toFixed(2)} s` : `failed: ${String(r.stderr).slice(0, 200)}`;
    }
    const ms = median(times);
    console.log(`  ${String(n).padStart(8)}  ${String(resources).padStart(9)}  ${`${(ms / 1000).toFixed(2)} s`.padStart(24)}  ${`${(ms / n).toFixed(1)} ms`.padStart(11)}  ${whole.padStart(13)}`);
  }
}
